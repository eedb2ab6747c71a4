"""The ``Proposer`` interface shared by every search method, and initial designs.

A proposer turns the history so far into the next batch of masks to evaluate. Proposals are
a deterministic function of ``(seed, history, state_dict())``, which is what makes a
checkpointed search resume to the same history as an uninterrupted one.

Imports neither torch nor BoTorch (``bo.py`` does).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .records import EvalRecord, mask_key

__all__ = [
    "Proposer",
    "rng_for",
    "random_masks",
    "weight_stratified_design",
    "all_masks",
    "propose_batch",
    "ENUMERATION_LIMIT",
]

#: Largest ``dim`` for which the remaining unevaluated masks are enumerated explicitly.
ENUMERATION_LIMIT = 16


def rng_for(seed: int, n_records: int, salt: int = 0) -> np.random.Generator:
    """A generator that depends only on the seed, the history length and a salt."""
    return np.random.default_rng([int(seed), int(n_records), int(salt)])


def all_masks(dim: int) -> np.ndarray:
    """Every mask of `dim` bits.

    Args:
        dim: number of bits (at most 24 to keep memory small).

    Returns:
        A `2**dim x dim` array of 0/1 ``int8``, row `i` the binary digits of `i`
        (most significant bit first).
    """
    codes = np.arange(2**dim, dtype=np.int64)[:, None]
    shifts = np.arange(dim - 1, -1, -1, dtype=np.int64)[None, :]
    return ((codes >> shifts) & 1).astype(np.int8)


def _remaining(dim: int, excluded: set[bytes]) -> np.ndarray:
    masks = all_masks(dim)
    if not excluded:
        return masks
    keep = np.fromiter((mask_key(m) not in excluded for m in masks), bool, len(masks))
    return masks[keep]


def random_masks(
    dim: int,
    n: int,
    rng: np.random.Generator,
    excluded: set[bytes],
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Draw up to `n` distinct masks that are not in `excluded`.

    Args:
        dim: number of bits.
        n: number of masks wanted.
        rng: the random generator.
        excluded: keys (see ``mask_key``) of masks that must not be drawn.
        weights: optional `n`-array of Hamming weights, one per mask; ``None`` draws each
            bit as a fair coin.

    Returns:
        An `m x dim` ``int8`` array, `m <= n` (smaller only when the space runs out).
    """
    out: list[np.ndarray] = []
    seen = set(excluded)
    if dim <= ENUMERATION_LIMIT and n > 0:
        pool = _remaining(dim, seen)
        if weights is None:
            take = rng.permutation(len(pool))[:n]
            return pool[take]
        pool_w = pool.sum(axis=1)
        used = np.zeros(len(pool), dtype=bool)
        for k in weights:
            if used.all():
                break
            dist = np.abs(pool_w - int(k)).astype(float)
            dist[used] = np.inf
            cand = np.flatnonzero(dist == dist.min())
            pick = int(rng.choice(cand))
            used[pick] = True
            out.append(pool[pick])
        return np.asarray(out, dtype=np.int8).reshape(-1, dim)
    for i in range(n):
        for _ in range(1000):
            if weights is None:
                x = rng.integers(0, 2, dim).astype(np.int8)
            else:
                x = np.zeros(dim, dtype=np.int8)
                x[rng.permutation(dim)[: int(weights[i])]] = 1
            key = mask_key(x)
            if key not in seen:
                seen.add(key)
                out.append(x)
                break
        else:  # this weight class is used up: fall back to fair coins
            for _ in range(1000):
                x = rng.integers(0, 2, dim).astype(np.int8)
                if mask_key(x) not in seen:
                    seen.add(mask_key(x))
                    out.append(x)
                    break
    return np.asarray(out, dtype=np.int8).reshape(-1, dim)


def weight_stratified_design(
    dim: int, n: int, rng: np.random.Generator, excluded: set[bytes]
) -> np.ndarray:
    """Initial design spread evenly over the Hamming weight (number of ones).

    The weights of the `n` masks are a stratified sample of ``0..dim``; the positions of the
    ones are uniform. Compared with fair coins (whose weights concentrate at ``dim/2``), sparse
    masks such as "keep two BN layers" are far more likely, while dense ones stay covered.

    Args:
        dim: number of bits.
        n: number of masks.
        rng: the random generator.
        excluded: keys of masks that must not be drawn.

    Returns:
        An `m x dim` ``int8`` array, `m <= n`.
    """
    if n <= 0:
        return np.zeros((0, dim), dtype=np.int8)
    u = (np.arange(n) + rng.random(n)) / n
    weights = np.minimum(np.floor(u * (dim + 1)), dim).astype(int)
    weights = weights[rng.permutation(n)]
    return random_masks(dim, n, rng, excluded, weights=weights)


def propose_batch(
    dim: int,
    q: int,
    excluded: set[bytes],
    rng: np.random.Generator,
    pick: Callable[[set[bytes], list[np.ndarray]], np.ndarray | None],
) -> np.ndarray:
    """A batch of up to `q` new masks chosen one at a time (the model-based proposers' batch).

    Args:
        dim: number of bits.
        q: masks wanted.
        excluded: keys of masks never to propose (evaluated or pending).
        rng: draws the stand-in when `pick` finds nothing.
        pick: ``pick(taken, chosen)`` proposes the next mask given the keys taken so far and the
            masks chosen so far in this batch (a model-based proposer conditions on them), or
            ``None`` when its acquisition search found nothing new; then a random unevaluated
            mask stands in, and the batch ends early when every mask is taken.

    Returns:
        An `m x dim` ``int8`` array of distinct masks not in `excluded`, `m <= q`.
    """
    chosen: list[np.ndarray] = []
    taken = set(excluded)
    for _ in range(q):
        x = pick(taken, chosen)
        if x is None:
            extra = random_masks(dim, 1, rng, taken)
            if len(extra) == 0:
                break
            x = extra[0]
        chosen.append(np.asarray(x, dtype=np.int8))
        taken.add(mask_key(x))
    return np.asarray(chosen, dtype=np.int8).reshape(-1, dim)


class Proposer(ABC):
    """Base class of search methods: proposes batches of masks from the history.

    Args:
        dim: number of binary variables.
        seed: seed of the search.
        n_init: number of masks of the initial design.
    """

    name: str = "proposer"

    def __init__(self, dim: int, seed: int, n_init: int) -> None:
        self.dim = dim
        self.seed = seed
        self.n_init = n_init
        self.info: dict[str, Any] = {}

    @abstractmethod
    def ask(self, history: Sequence[EvalRecord], q: int, excluded: set[bytes]) -> np.ndarray:
        """Propose the next masks.

        Args:
            history: every evaluation so far, in proposal order.
            q: number of masks wanted.
            excluded: keys of masks already evaluated or pending; never proposed again.

        Returns:
            An `m x dim` 0/1 ``int8`` array of distinct masks not in `excluded`,
            `1 <= m <= q`, or `m == 0` when the method has nothing left to propose.
        """

    def state_dict(self) -> dict[str, Any]:
        """JSON-serializable state that proposals depend on besides the history."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the state written by :meth:`state_dict`."""


def successes(history: Sequence[EvalRecord]) -> tuple[np.ndarray, np.ndarray]:
    """Masks and values of the successful evaluations.

    Returns:
        A tuple ``(X, y)``: an `n x dim` ``int8`` array and an `n`-array of floats.
    """
    ok = [r for r in history if r.ok]
    if not ok:
        return np.zeros((0, 0), dtype=np.int8), np.zeros(0)
    return (
        np.asarray([r.x for r in ok], dtype=np.int8),
        np.asarray([r.y for r in ok], dtype=float),
    )
