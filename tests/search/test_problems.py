"""Tests of the binary test problems: shared TestProblem contract plus slow twins."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp

from reram.search import Contamination, HammingTarget, Ising, TestProblem

PROBLEMS = [
    lambda seed: Contamination(seed=seed),
    lambda seed: Ising(seed=seed),
    lambda seed: HammingTarget(dim=10, seed=seed, noise_std=0.1),
]


@pytest.mark.parametrize("make", PROBLEMS)
def test_problem_contract(make) -> None:
    problem: TestProblem = make(0)
    rng = np.random.default_rng(0)
    xs = rng.integers(0, 2, size=(20, problem.dim))
    values = np.array([problem(x) for x in xs])
    assert np.all(np.isfinite(values))
    # deterministic: same seed, same instance, same values
    again = make(0)
    assert np.array_equal(values, [again(x) for x in xs])
    # another seed is another instance
    assert not np.array_equal(values, [make(1)(x) for x in xs])
    # the known optimum is a lower bound and attained
    if problem.optimal_value is not None:
        assert problem.optimizer is not None
        assert np.all(values >= problem.optimal_value - 1e-9)
    with pytest.raises(ValueError, match="shape"):
        problem(np.zeros(problem.dim + 1))
    with pytest.raises(ValueError, match="only 0 and 1"):
        problem(np.full(problem.dim, 2))


def test_contamination_matches_scalar_twin() -> None:
    problem = Contamination(seed=3, l1_weight=0.01)
    assert problem.dim == 25 and problem.initial_fraction.shape == (100,)
    x = np.random.default_rng(1).integers(0, 2, 25)
    slack = 0.0
    for i in range(25):
        below = 0
        for t in range(100):
            z = problem.initial_fraction[t]
            for j in range(i + 1):
                lam = problem.contamination_rate[j, t]
                gam = problem.restoration_rate[j, t]
                z = lam * (1 - x[j]) * (1 - z) + (1 - gam * x[j]) * z
            below += z < 0.1
        slack += below / 100 - 0.95
    expected = x.sum() - slack + 0.01 * x.sum()
    assert problem(x) == pytest.approx(expected, abs=1e-12)
    assert problem.protocol_budget == 270 and problem.protocol_n_init == 20


def _kl_twin(problem: Ising, x: np.ndarray) -> float:
    """Build P and Q over all states explicitly and sum P log(P/Q)."""
    n = int(problem.edges.max()) + 1
    states = np.array([[1 - 2 * ((s >> k) & 1) for k in range(n)] for s in range(2**n)])
    prod = states[:, problem.edges[:, 0]] * states[:, problem.edges[:, 1]]
    log_p = prod @ problem.couplings
    log_p -= logsumexp(log_p)
    log_q = prod @ (problem.couplings * x)
    log_q -= logsumexp(log_q)
    return float(np.sum(np.exp(log_p) * (log_p - log_q)))


def test_ising_kl_matches_twin_and_is_nonnegative() -> None:
    problem = Ising(seed=2, grid=3)
    assert problem.dim == 12
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = rng.integers(0, 2, problem.dim)
        kl = problem(x)
        assert kl >= 0
        assert kl == pytest.approx(_kl_twin(problem, x), rel=1e-9, abs=1e-12)


def test_ising_grid4_definition() -> None:
    problem = Ising(seed=0, l1_weight=0.0)
    assert problem.dim == 24 and len(problem.edges) == 24
    mags = np.abs(problem.couplings)
    assert np.all((mags >= 0.05) & (mags <= 5.0))
    assert problem(np.ones(24)) == pytest.approx(0.0, abs=1e-9)
    x = np.ones(24)
    x[5] = 0
    assert problem(x) > 0
    penalized = Ising(seed=0, l1_weight=0.01)
    assert penalized(np.ones(24)) == pytest.approx(0.24)
    assert penalized.optimal_value is None


def test_hamming_target_noise_is_a_function_of_x() -> None:
    problem = HammingTarget(dim=6, n_ones=2, seed=0, noise_std=0.5)
    x = np.array([1, 0, 1, 0, 0, 0])
    assert problem(x) == problem(x)
    clean = HammingTarget(dim=6, n_ones=2, seed=0)
    assert clean(clean.optimizer) == 0.0 and clean.optimizer.sum() == 2
    with pytest.raises(ValueError, match="n_ones"):
        HammingTarget(dim=4, n_ones=5)
