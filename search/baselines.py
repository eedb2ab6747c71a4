"""Baseline search methods: random search, greedy one-flip local search, exhaustive
enumeration (small ``dim``) and simulated annealing.

Each is a ``Proposer`` whose proposals depend only on the seed, the history and its small
JSON state, so checkpointed runs resume exactly. Imports neither torch nor BoTorch.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .proposer import (
    Proposer,
    all_masks,
    random_masks,
    rng_for,
    successes,
    weight_stratified_design,
)
from .records import EvalRecord, mask_key

__all__ = [
    "RandomSearch",
    "GreedySearch",
    "ExhaustiveSearch",
    "SimulatedAnnealing",
    "AnnealOptions",
    "EXHAUSTIVE_MAX_DIM",
]

#: Largest ``dim`` that ``method="exhaustive"`` accepts (2**20 masks).
EXHAUSTIVE_MAX_DIM = 20

_SALT_DESIGN = 11
_SALT_ASK = 12
_SALT_ACCEPT = 13


def initial_design_batch(
    dim: int, seed: int, n_init: int, history: Sequence[EvalRecord], q: int, excluded: set[bytes]
) -> np.ndarray:
    """The next masks of the (weight-stratified) initial design.

    The whole `n_init`-point design is drawn once from the seed, so its stratification holds
    whatever the batch size; masks already excluded are replaced by fresh random ones.

    Returns:
        An `m x dim` ``int8`` array with `m <= min(q, n_init - len(history))`.
    """
    start = len(history)
    n = min(q, n_init - start)
    if n <= 0:
        return np.zeros((0, dim), dtype=np.int8)
    design = weight_stratified_design(dim, n_init, rng_for(seed, 0, _SALT_DESIGN), set())
    out: list[np.ndarray] = []
    taken = set(excluded)
    for x in design[start : start + n]:
        if mask_key(x) not in taken:
            out.append(x)
            taken.add(mask_key(x))
    if len(out) < n:
        extra = random_masks(dim, n - len(out), rng_for(seed, start, _SALT_DESIGN), taken)
        out.extend(extra)
    return np.asarray(out, dtype=np.int8).reshape(-1, dim)


def _neighbours(x: np.ndarray) -> np.ndarray:
    """The `dim` one-flip neighbours of a mask, a `dim x dim` array (row i flips bit i)."""
    flips = np.tile(x, (len(x), 1))
    idx = np.arange(len(x))
    flips[idx, idx] = 1 - flips[idx, idx]
    return flips


class RandomSearch(Proposer):
    """Uniform random search: every bit a fair coin, no mask proposed twice."""

    name = "random"

    def ask(self, history: Sequence[EvalRecord], q: int, excluded: set[bytes]) -> np.ndarray:
        return random_masks(self.dim, q, rng_for(self.seed, len(history), _SALT_ASK), excluded)


class ExhaustiveSearch(Proposer):
    """Enumerates every mask, sparsest first (by Hamming weight, then binary order).

    With a budget below ``2**dim`` it therefore evaluates all masks with few ones first.
    """

    name = "exhaustive"

    def __init__(self, dim: int, seed: int, n_init: int) -> None:
        super().__init__(dim, seed, n_init)
        masks = all_masks(dim)
        order = np.lexsort((np.arange(len(masks)), masks.sum(axis=1)))
        self._order = masks[order]

    def ask(self, history: Sequence[EvalRecord], q: int, excluded: set[bytes]) -> np.ndarray:
        out = []
        for x in self._order:
            if mask_key(x) not in excluded:
                out.append(x)
                if len(out) == q:
                    break
        return np.asarray(out, dtype=np.int8).reshape(-1, self.dim)


class GreedySearch(Proposer):
    """Greedy one-flip local search with random restarts.

    From the best mask of the current run, propose its not-yet-evaluated one-flip
    neighbours in random order; as soon as one is better, continue from it. When every
    neighbour of the run's best is evaluated (a local optimum), restart from a random mask.
    The first run starts from the best of the `n_init` initial masks.
    """

    name = "greedy"

    def __init__(self, dim: int, seed: int, n_init: int) -> None:
        super().__init__(dim, seed, n_init)
        self.run_start = 0

    def ask(self, history: Sequence[EvalRecord], q: int, excluded: set[bytes]) -> np.ndarray:
        if len(history) < self.n_init:
            return initial_design_batch(self.dim, self.seed, self.n_init, history, q, excluded)
        rng = rng_for(self.seed, len(history), _SALT_ASK)
        X, y = successes(history[self.run_start :])
        if len(y):
            current = X[int(np.argmin(y))]
            cands = [n for n in _neighbours(current) if mask_key(n) not in excluded]
            if cands:
                cands = np.asarray(cands)[rng.permutation(len(cands))]
                return cands[:q].astype(np.int8)
        # local optimum (or nothing succeeded in this run): restart from a random mask
        self.run_start = len(history)
        return random_masks(self.dim, 1, rng, excluded)

    def state_dict(self) -> dict[str, Any]:
        return {"run_start": self.run_start}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.run_start = int(state.get("run_start", 0))


@dataclass
class AnnealOptions:
    """Options of simulated annealing (``method="anneal"``).

    Attributes:
        initial_temperature: starting temperature in objective units; ``None`` uses the
            standard deviation of the initial design's values (1.0 if it is zero or unknown).
        final_temperature_ratio: final / initial temperature, reached at the last evaluation
            (geometric cooling).
    """

    initial_temperature: float | None = None
    final_temperature_ratio: float = 1e-3

    def __post_init__(self) -> None:
        if self.initial_temperature is not None and not self.initial_temperature > 0:
            raise ValueError(
                f"initial_temperature must be > 0 or None, got {self.initial_temperature}"
            )
        if not 0 < self.final_temperature_ratio <= 1:
            raise ValueError(
                "final_temperature_ratio must be in (0, 1], got "
                f"{self.final_temperature_ratio}"
            )


class SimulatedAnnealing(Proposer):
    """Simulated annealing with one-flip moves and geometric cooling.

    The chain starts at the best of the `n_init` initial masks. Each proposal flips one random
    bit of the current mask (a random unevaluated mask if all its neighbours are evaluated);
    a proposal is accepted if better, or with probability ``exp(-(y - y_current) / T)``.
    With batches, the `q` proposals are neighbours of the same current mask and are accepted
    or rejected in order. Failed evaluations are rejected. The chain is replayed from the
    history at every ask, so it needs no state of its own.

    Args:
        dim: number of bits.
        seed: seed of the search.
        n_init: size of the initial design.
        budget: total evaluations (sets the cooling schedule).
        options: temperatures, see ``AnnealOptions``.
    """

    name = "anneal"

    def __init__(
        self, dim: int, seed: int, n_init: int, budget: int, options: AnnealOptions | None = None
    ) -> None:
        super().__init__(dim, seed, n_init)
        self.budget = budget
        self.options = options or AnnealOptions()

    def _temperature(self, t0: float, step: int) -> float:
        n_steps = max(1, self.budget - self.n_init - 1)
        return t0 * self.options.final_temperature_ratio ** min(1.0, step / n_steps)

    def _replay(self, history: Sequence[EvalRecord]) -> np.ndarray | None:
        init = history[: self.n_init]
        X, y = successes(init)
        if len(y) == 0:
            return None
        cur_i = int(np.argmin(y))
        cur_x, cur_y = X[cur_i], float(y[cur_i])
        t0 = self.options.initial_temperature
        if t0 is None:
            t0 = float(np.std(y)) if len(y) > 1 and np.std(y) > 0 else 1.0
        for step, rec in enumerate(history[self.n_init :]):
            if not rec.ok:
                continue
            delta = float(rec.y) - cur_y  # type: ignore[arg-type]
            temp = self._temperature(t0, step)
            u = rng_for(self.seed, rec.index, _SALT_ACCEPT).random()
            if delta <= 0 or u < math.exp(-delta / temp):
                cur_x, cur_y = np.asarray(rec.x, dtype=np.int8), float(rec.y)  # type: ignore[arg-type]
        return cur_x

    def ask(self, history: Sequence[EvalRecord], q: int, excluded: set[bytes]) -> np.ndarray:
        if len(history) < self.n_init:
            return initial_design_batch(self.dim, self.seed, self.n_init, history, q, excluded)
        rng = rng_for(self.seed, len(history), _SALT_ASK)
        current = self._replay(history)
        if current is None:
            return random_masks(self.dim, q, rng, excluded)
        cands = [n for n in _neighbours(current) if mask_key(n) not in excluded]
        if not cands:
            return random_masks(self.dim, q, rng, excluded)
        cands = np.asarray(cands)[rng.permutation(len(cands))]
        return cands[:q].astype(np.int8)
