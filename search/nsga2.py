"""An NSGA-II-style evolutionary baseline for multi-objective search over binary masks.

NSGA-II (Deb et al., IEEE TEVC 2002) ranks points by non-dominated sorting, breaks ties by
crowding distance, picks parents by binary tournament on (rank, crowding), and keeps the best
`pop_size` of parents and offspring (elitism). Here it runs steady-state on an archive: the
population before each ask is the best `pop_size` of *every* successful evaluation so far by
(rank, crowding), and each ask breeds `q` offspring from it by uniform crossover and bit-flip
mutation. The population is thus a function of the history alone (no state), which is what
lets a checkpointed search resume to the same proposals. Offspring already evaluated or
pending are re-mutated (a random new mask after 50 tries), so no mask is evaluated twice.

Imports NumPy only.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .baselines import initial_design_batch
from .pareto import nondominated_ranks
from .proposer import Proposer, random_masks, rng_for, successes, weight_stratified_design
from .records import EvalRecord, mask_key


__all__ = ["NSGA2Options", "NSGA2", "crowding_distance"]

_SALT_BREED = 31


def crowding_distance(Y: np.ndarray) -> np.ndarray:
    """NSGA-II crowding distance of the rows of one front (`n x m`); boundary rows get inf."""
    n, m = Y.shape
    dist = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for k in range(m):
        order = np.argsort(Y[:, k], kind="stable")
        span = Y[order[-1], k] - Y[order[0], k]
        dist[order[0]] = dist[order[-1]] = np.inf
        if span > 0:
            dist[order[1:-1]] += (Y[order[2:], k] - Y[order[:-2], k]) / span
    return dist


@dataclass
class NSGA2Options:
    """Options of the NSGA-II baseline (``method="nsga2"``).

    Attributes:
        pop_size: population size, also the size of the initial design when ``n_init`` is
            ``None``.
        crossover_prob: probability that a child is a uniform crossover of two parents
            (else a copy of the first).
        mutation_rate: probability of flipping each bit; ``None`` means ``1 / dim``.
    """

    pop_size: int = 20
    crossover_prob: float = 0.9
    mutation_rate: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.pop_size, bool) or not isinstance(self.pop_size, int) or self.pop_size < 2:
            raise ValueError(f"pop_size must be an integer >= 2, got {self.pop_size!r}")
        if not 0.0 <= self.crossover_prob <= 1.0:
            raise ValueError(f"crossover_prob must be in [0, 1], got {self.crossover_prob}")
        if self.mutation_rate is not None and not 0.0 < self.mutation_rate <= 1.0:
            raise ValueError(f"mutation_rate must be in (0, 1] or None, got {self.mutation_rate}")


class NSGA2(Proposer):
    """Steady-state NSGA-II over ``{0, 1}^dim`` (see the module docstring).

    Args:
        dim: number of bits.
        seed: seed of the search.
        n_init: size of the weight-stratified initial population.
        options: see ``NSGA2Options``.
    """

    name = "nsga2"

    def __init__(self, dim: int, seed: int, n_init: int, options: NSGA2Options | None = None) -> None:
        super().__init__(dim, seed, n_init)
        self.options = options or NSGA2Options()

    def population(self, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Indices of the population among the rows of `Y`, with their ranks and crowding."""
        ranks = nondominated_ranks(Y)
        crowd = np.zeros(len(Y))
        for r in np.unique(ranks):
            sel = np.flatnonzero(ranks == r)
            crowd[sel] = crowding_distance(Y[sel])
        order = np.lexsort((np.arange(len(Y)), -crowd, ranks))[: self.options.pop_size]
        return order, ranks[order], crowd[order]

    def _tournament(self, rng: np.random.Generator, ranks: np.ndarray, crowd: np.ndarray) -> int:
        a, b = rng.integers(0, len(ranks), 2)
        if ranks[a] != ranks[b]:
            return int(a if ranks[a] < ranks[b] else b)
        return int(a if crowd[a] >= crowd[b] else b)

    def _child(self, rng: np.random.Generator, X: np.ndarray, ranks: np.ndarray,
               crowd: np.ndarray) -> np.ndarray:
        p1 = X[self._tournament(rng, ranks, crowd)]
        p2 = X[self._tournament(rng, ranks, crowd)]
        child = p1.copy()
        if rng.random() < self.options.crossover_prob:
            take = rng.random(self.dim) < 0.5
            child[take] = p2[take]
        rate = self.options.mutation_rate or 1.0 / self.dim
        flip = rng.random(self.dim) < rate
        child[flip] = 1 - child[flip]
        return child.astype(np.int8)

    def ask(self, history: Sequence[EvalRecord], q: int, excluded: set[bytes]) -> np.ndarray:
        if len(history) < self.n_init:
            return initial_design_batch(self.dim, self.seed, self.n_init, history, q, excluded)
        rng = rng_for(self.seed, len(history), _SALT_BREED)
        X, Y = successes(history)
        if len(Y) < 2:
            return weight_stratified_design(self.dim, q, rng, excluded)
        idx, ranks, crowd = self.population(Y)
        pop = X[idx]
        taken = set(excluded)
        out: list[np.ndarray] = []
        for _ in range(q):
            for _ in range(50):
                child = self._child(rng, pop, ranks, crowd)
                if mask_key(child) not in taken:
                    break
            else:
                extra = random_masks(self.dim, 1, rng, taken)
                if len(extra) == 0:
                    break
                child = extra[0]
            out.append(child)
            taken.add(mask_key(child))
        return np.asarray(out, dtype=np.int8).reshape(-1, self.dim)
