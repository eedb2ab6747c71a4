"""Standard binary test problems with known definitions, sharing a ``TestProblem`` base class.

- ``Contamination``: contamination control in a food supply chain (d=25), as defined by
  Hu et al. (2010) and used as a benchmark by BOCS (Baptista & Poloczek, ICML 2018) and
  COMBO (Oh et al., NeurIPS 2019).
- ``Ising``: sparsification of a zero-field Ising model on a 4x4 grid (24 edges), with the
  KL divergence computed exactly over the 2^16 spin states (BOCS, COMBO).
- ``HammingTarget``: weighted Hamming distance to a hidden sparse mask; a small problem with
  a known optimum for tests.

Two-objective problems (``MultiObjectiveProblem``: `n_objectives`, `ref_point`, values as a
vector):

- ``BiObjectiveKnapsack``: the 0/1 knapsack problem with two knapsacks of Zitzler & Thiele
  (IEEE TEVC 1999), the standard binary benchmark of evolutionary multi-objective optimization,
  with their greedy repair of overfull selections.
- ``SparseTradeoff``: error against the number of kept bits, the shape of the BN search (few
  bits carry most of the accuracy, with one interaction); its Pareto front is known.

All problems are minimized, take a 0/1 array of shape ``(dim,)`` and are picklable (they can
run in a process pool or on Ray). Imports NumPy and SciPy only.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np
from scipy.special import logsumexp

__all__ = [
    "TestProblem",
    "Contamination",
    "Ising",
    "HammingTarget",
    "MultiObjectiveProblem",
    "BiObjectiveKnapsack",
    "SparseTradeoff",
]


def _validated(x: Any, dim: int) -> np.ndarray:
    arr = np.asarray(x)
    if arr.shape != (dim,):
        raise ValueError(f"x must have shape ({dim},), got {arr.shape}")
    if not np.all((arr == 0) | (arr == 1)):
        raise ValueError("x must contain only 0 and 1")
    return arr.astype(np.float64)


class TestProblem(ABC):
    """Base class of binary test problems (minimization).

    Attributes:
        dim: number of binary variables.
        optimal_value: the known minimum, or ``None`` if unknown.
        optimizer: a minimizing mask (`dim`-array), or ``None`` if unknown.
        protocol_n_init: initial design size of the BOCS/COMBO protocol (``None`` if none).
        protocol_budget: total evaluations of the BOCS/COMBO protocol (``None`` if none).
    """

    __test__ = False  # not a pytest test class
    dim: int
    optimal_value: float | None = None
    optimizer: np.ndarray | None = None
    protocol_n_init: int | None = None
    protocol_budget: int | None = None

    @property
    def name(self) -> str:
        """The problem's class name."""
        return type(self).__name__

    def __call__(self, x: Any) -> float:
        """Evaluate the problem.

        Args:
            x: a mask, array-like of shape `(dim,)` with values in {0, 1}.

        Returns:
            The objective value (lower is better).

        Raises:
            ValueError: if `x` has the wrong shape or values other than 0 and 1.
        """
        return float(self.evaluate(_validated(x, self.dim)))

    @abstractmethod
    def evaluate(self, x: np.ndarray) -> float:
        """The objective on a validated `dim`-array of 0.0/1.0."""


class Contamination(TestProblem):
    """Contamination control (d=25 stages, 100 Monte-Carlo simulations).

    At stage `i` a fraction ``Z_i`` of the food is contaminated. Without intervention
    (``x_i = 0``) the uncontaminated part becomes contaminated at rate ``lambda_i``; with one
    (``x_i = 1``, cost 1) the contamination falls by a factor ``1 - gamma_i``::

        Z_i = lambda_i (1 - x_i) (1 - Z_{i-1}) + (1 - gamma_i x_i) Z_{i-1}

    with ``Z_0 ~ Beta(1, 30)``, ``lambda_i ~ Beta(1, 17/3)``, ``gamma_i ~ Beta(1, 3/7)`` drawn
    once per simulation from the seed. The objective is::

        f(x) = sum(x) - sum_i (mean_t[Z_i < 0.1] - 0.95) + l1_weight * ||x||_1

    (cost, minus the chance-constraint slack at upper limit 0.1 and 1 - epsilon = 0.95, plus
    the L1 term of BOCS/COMBO, their lambda). BOCS/COMBO protocol: 20 initial points, 270
    evaluations in all; COMBO-class methods reach about 21.2-21.4 at ``l1_weight=0``.

    Args:
        seed: seed of the random instance.
        l1_weight: weight of the L1 penalty (0, 1e-4 and 1e-2 in the papers).
        n_simulations: Monte-Carlo simulations (100 in the papers).
        dim: number of stages (25 in the papers).
    """

    protocol_n_init = 20
    protocol_budget = 270

    def __init__(
        self, seed: int = 0, l1_weight: float = 0.0, n_simulations: int = 100, dim: int = 25
    ) -> None:
        if dim < 1 or n_simulations < 1:
            raise ValueError(f"dim and n_simulations must be >= 1, got {dim}, {n_simulations}")
        self.dim = dim
        self.seed = seed
        self.l1_weight = float(l1_weight)
        rng = np.random.default_rng(seed)
        self.initial_fraction = rng.beta(1.0, 30.0, size=n_simulations)
        self.contamination_rate = rng.beta(1.0, 17.0 / 3.0, size=(dim, n_simulations))
        self.restoration_rate = rng.beta(1.0, 3.0 / 7.0, size=(dim, n_simulations))
        self.upper_limit = 0.1
        self.epsilon = 0.05

    def evaluate(self, x: np.ndarray) -> float:
        z = self.initial_fraction
        slack = 0.0
        for i in range(self.dim):
            lam, gam = self.contamination_rate[i], self.restoration_rate[i]
            z = lam * (1.0 - x[i]) * (1.0 - z) + (1.0 - gam * x[i]) * z
            slack += np.mean(z < self.upper_limit) - (1.0 - self.epsilon)
        return float(x.sum() - slack + self.l1_weight * x.sum())


class Ising(TestProblem):
    """Ising-model sparsification on a 4x4 grid (16 spins, 24 edges, d=24).

    The model ``P(z) ∝ exp(sum_e J_e z_a z_b)`` over spins ``z in {-1, 1}^16`` has couplings
    ``|J_e| ~ U[0.05, 5]`` with a random sign, drawn from the seed. A mask `x` keeps edge `e`
    when ``x_e = 1``, giving ``Q_x`` with couplings ``J * x``. The objective is::

        f(x) = KL(P || Q_x) + l1_weight * ||x||_1

    with the KL divergence computed exactly over all 2^16 states. At ``l1_weight=0`` the
    optimum is ``x = 1`` with value 0. BOCS/COMBO protocol: 20 initial points, 170 in all.

    Args:
        seed: seed of the random couplings.
        l1_weight: weight of the L1 penalty (0, 1e-4 and 1e-2 in the papers).
        grid: side of the square grid (4 in the papers; at most 4 here).
    """

    protocol_n_init = 20
    protocol_budget = 170

    def __init__(self, seed: int = 0, l1_weight: float = 0.0, grid: int = 4) -> None:
        if not 2 <= grid <= 4:
            raise ValueError(f"grid must be 2, 3 or 4 (2^(grid^2) states enumerated), got {grid}")
        self.seed = seed
        self.l1_weight = float(l1_weight)
        node = np.arange(grid * grid).reshape(grid, grid)
        edges = [(node[r, c], node[r, c + 1]) for r in range(grid) for c in range(grid - 1)]
        edges += [(node[r, c], node[r + 1, c]) for r in range(grid - 1) for c in range(grid)]
        self.edges = np.asarray(edges, dtype=np.int64)
        self.dim = len(edges)
        rng = np.random.default_rng(seed)
        magnitude = rng.uniform(0.05, 5.0, size=self.dim)
        sign = rng.choice([-1.0, 1.0], size=self.dim)
        self.couplings = magnitude * sign
        n_spins = grid * grid
        codes = np.arange(2**n_spins)[:, None]
        spins = 1.0 - 2.0 * ((codes >> np.arange(n_spins)[None, :]) & 1)  # 2^n x n, +-1
        self._edge_products = spins[:, self.edges[:, 0]] * spins[:, self.edges[:, 1]]
        energy_p = self._edge_products @ self.couplings
        self._log_z_p = float(logsumexp(energy_p))
        p = np.exp(energy_p - self._log_z_p)
        self._mean_products = p @ self._edge_products  # E_P[z_a z_b] per edge
        self.optimal_value = 0.0 if self.l1_weight == 0 else None
        self.optimizer = np.ones(self.dim, dtype=np.int64) if self.l1_weight == 0 else None

    def kl_divergence(self, x: np.ndarray) -> float:
        """Exact ``KL(P || Q_x)`` for a `dim`-array mask `x`."""
        removed = self.couplings * (1.0 - x)
        log_z_q = float(logsumexp(self._edge_products @ (self.couplings * x)))
        return float(self._mean_products @ removed - self._log_z_p + log_z_q)

    def evaluate(self, x: np.ndarray) -> float:
        return self.kl_divergence(x) + self.l1_weight * float(x.sum())


class HammingTarget(TestProblem):
    """Weighted Hamming distance to a hidden sparse mask (known optimum 0).

    ``f(x) = sum_i w_i |x_i - t_i| + noise``, with ``w_i ~ U[0.5, 1.5]`` and a target `t` with
    `n_ones` ones, both from the seed. The optional noise is Gaussian with standard deviation
    `noise_std`, a deterministic function of `(seed, x)` so repeated or parallel runs agree.

    Args:
        dim: number of bits.
        n_ones: number of ones of the target (default ``max(1, dim // 4)``).
        seed: seed of the instance.
        noise_std: observation noise.
    """

    def __init__(
        self, dim: int = 8, n_ones: int | None = None, seed: int = 0, noise_std: float = 0.0
    ) -> None:
        if dim < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        n_ones = max(1, dim // 4) if n_ones is None else n_ones
        if not 0 <= n_ones <= dim:
            raise ValueError(f"n_ones must be in [0, {dim}], got {n_ones}")
        if noise_std < 0:
            raise ValueError(f"noise_std must be >= 0, got {noise_std}")
        self.dim = dim
        self.seed = seed
        self.noise_std = float(noise_std)
        rng = np.random.default_rng(seed)
        self.weights = rng.uniform(0.5, 1.5, size=dim)
        target = np.zeros(dim, dtype=np.int64)
        target[rng.permutation(dim)[:n_ones]] = 1
        self.optimizer = target
        self.optimal_value = 0.0

    def evaluate(self, x: np.ndarray) -> float:
        value = float(self.weights @ np.abs(x - self.optimizer))
        if self.noise_std > 0:
            code = int("".join(str(int(v)) for v in x), 2)
            value += self.noise_std * np.random.default_rng([self.seed, code]).standard_normal()
        return value


class MultiObjectiveProblem(ABC):
    """Base class of binary test problems with several objectives (all minimized).

    Attributes:
        dim: number of binary variables.
        n_objectives: number of objectives `m`.
        ref_point: the reference point of the hypervolume (`m` floats), a point every
            sensible mask beats.
    """

    __test__ = False
    dim: int
    n_objectives: int
    ref_point: list[float]

    @property
    def name(self) -> str:
        """The problem's class name."""
        return type(self).__name__

    def __call__(self, x: Any) -> np.ndarray:
        """Evaluate the problem on a mask (array-like of shape `(dim,)`, values 0/1).

        Returns:
            An `m`-array of objective values (each lower is better).

        Raises:
            ValueError: if `x` has the wrong shape or values other than 0 and 1.
        """
        return np.asarray(self.evaluate(_validated(x, self.dim)), dtype=float)

    @abstractmethod
    def evaluate(self, x: np.ndarray) -> np.ndarray:
        """The objectives on a validated `dim`-array of 0.0/1.0."""


class BiObjectiveKnapsack(MultiObjectiveProblem):
    """0/1 knapsack with two knapsacks (Zitzler & Thiele, IEEE TEVC 1999), minimized.

    Item `j` has a profit ``p[i, j]`` and a weight ``w[i, j]`` in knapsack `i`, integers drawn
    uniformly from [10, 100]; each capacity is half the total weight of its knapsack. A mask
    selects items for both knapsacks. An overfull selection is repaired as in the paper: items
    are removed in increasing order of their best profit/weight ratio ``max_i p[i, j] /
    w[i, j]`` until both capacities hold. The objectives are minus the profits of the repaired
    selection, ``(-p[0] @ x', -p[1] @ x')``; the reference point is ``(0, 0)`` (the empty
    selection).

    Args:
        dim: number of items (the paper uses 250, 500 and 750; 20-30 suit a BO budget).
        seed: seed of the instance.
    """

    n_objectives = 2

    def __init__(self, dim: int = 25, seed: int = 0) -> None:
        if dim < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        self.dim = dim
        self.seed = seed
        rng = np.random.default_rng(seed)
        self.profits = rng.integers(10, 101, size=(2, dim)).astype(float)
        self.weights = rng.integers(10, 101, size=(2, dim)).astype(float)
        self.capacities = 0.5 * self.weights.sum(axis=1)
        ratio = (self.profits / self.weights).max(axis=0)
        self._removal_order = np.argsort(ratio, kind="stable")
        self.ref_point = [0.0, 0.0]

    def repair(self, x: np.ndarray) -> np.ndarray:
        """The selection after the greedy repair (a copy of `x` if it already fits)."""
        kept = x.copy()
        load = self.weights @ kept
        for j in self._removal_order:
            if np.all(load <= self.capacities):
                break
            if kept[j]:
                kept[j] = 0.0
                load -= self.weights[:, j]
        return kept

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        return -(self.profits @ self.repair(x))


class SparseTradeoff(MultiObjectiveProblem):
    """Error against the number of kept bits, shaped like the BN search.

    `n_important` bits (drawn from the seed) each lower the error by a weight in [0.5, 1.5];
    keeping the first two important bits together lowers it by a further `interaction`; other
    bits do nothing. Objectives: ``(error, number of ones)`` with
    ``error = (weights of the important bits not kept) + interaction * [not both kept]``, 0
    when every important bit is kept. Reference point
    ``(total weight + interaction + 1, dim + 1)``.

    Args:
        dim: number of bits.
        n_important: number of bits that matter.
        interaction: the bonus of keeping the first two important bits together, >= 0.
        seed: seed of the instance.
    """

    n_objectives = 2

    def __init__(self, dim: int = 12, n_important: int = 4, interaction: float = 0.5,
                 seed: int = 0) -> None:
        if dim < 2 or not 2 <= n_important <= dim:
            raise ValueError(f"need dim >= 2 and 2 <= n_important <= dim, got {dim}, {n_important}")
        if interaction < 0:
            raise ValueError(f"interaction must be >= 0, got {interaction}")
        self.dim = dim
        self.seed = seed
        self.interaction = float(interaction)
        rng = np.random.default_rng(seed)
        self.important = rng.permutation(dim)[:n_important]
        self.gains = rng.uniform(0.5, 1.5, size=n_important)
        self.ref_point = [float(self.gains.sum() + self.interaction + 1.0), float(dim + 1)]

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        kept = x[self.important]
        error = float(self.gains @ (1.0 - kept)) + self.interaction * (1.0 - kept[0] * kept[1])
        return np.array([error, float(x.sum())])
