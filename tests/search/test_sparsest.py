"""Tests of the sparsest-feasible search (``method="cbo"``) and its two-fidelity variant."""
from __future__ import annotations

import numpy as np
import pytest

from reram.search import CBOOptions, minimize_binary
from reram.search.bo import BOOptions, fit_gp
from reram.search.sparsest import sparsest_feasible, sparsest_feasible_mf

WEIGHTS = np.array([0.30, 0.02, 0.25, 0.01, 0.20, 0.03, 0.02, 0.15])


def accuracy(x: np.ndarray) -> float:
    """An additive toy landscape: sites 0, 2 and 7 (weights 0.7) already reach the top."""
    return 0.1 + 0.85 * min(1.0, float(WEIGHTS @ np.asarray(x)) / 0.7)


BOUND = -(accuracy(np.ones(8)) - 0.02)


def _truth() -> tuple[int, set[str]]:
    masks = [format(i, "08b") for i in range(256)]
    ok = [m for m in masks if -accuracy(np.array([int(c) for c in m])) <= BOUND]
    n = min(m.count("1") for m in ok)
    return n, {m for m in ok if m.count("1") == n}


def test_options_are_checked_before_any_work():
    with pytest.raises(ValueError, match="bound"):
        CBOOptions()
    with pytest.raises(ValueError, match="noise_var"):
        CBOOptions(bound=-0.9, noise_var=0.0)
    with pytest.raises(ValueError, match="same length"):
        CBOOptions(bound=-0.9, prior_x=((1, 1),), prior_y=())
    with pytest.raises(ValueError, match="CBOOptions"):
        minimize_binary(lambda x: 0.0, dim=4, budget=2, method="cbo")
    with pytest.raises(ValueError, match="CBOOptions"):
        minimize_binary(lambda x: 0.0, dim=4, budget=2, method="cbo", options=BOOptions())


def test_the_answer_is_the_fewest_ones_that_clear_the_bar_then_the_lowest_value():
    X = np.array([[1, 1, 1], [1, 0, 0], [0, 1, 0], [1, 1, 0]])
    y = np.array([-0.95, -0.50, -0.91, -0.93])
    assert sparsest_feasible(X, y, -0.9) == 2  # one one, clears -0.9
    assert sparsest_feasible(X, y, -0.92) == 3  # then two ones
    assert sparsest_feasible(X, y, -0.99) is None


def test_cbo_finds_the_sparsest_feasible_mask_of_a_known_landscape():
    n_star, targets = _truth()
    assert n_star == 3 and targets == {"10100001", "10101000"}
    found = 0
    for seed in range(3):
        calls: list[str] = []

        def f(x: np.ndarray) -> float:
            calls.append("".join(map(str, x)))
            return -accuracy(x)

        options = CBOOptions(bound=BOUND, noise_var=1e-4, prior_x=((1,) * 8, (0,) * 8),
                             prior_y=(-accuracy(np.ones(8)), -accuracy(np.zeros(8))))
        res = minimize_binary(f, dim=8, budget=16, method="cbo", seed=seed, options=options)
        assert len(res.history) == 16 and len(set(calls)) == 16  # never the same mask twice
        X = np.array([r.x for r in res.history])
        y = np.array([r.y for r in res.history])
        answer = sparsest_feasible(X, y, BOUND)
        found += answer is not None and "".join(map(str, X[answer])) in targets
    assert found >= 2  # random search: 16 of 256 masks hold one of the 2 targets with p ~ 0.12


def test_a_given_noise_is_the_models_noise():
    X = np.array([[0, 0], [1, 0], [0, 1], [1, 1]])
    y = np.array([0.0, 1.0, 1.0, 2.0])
    model, _ = fit_gp(X, y, BOOptions(), noise_var=0.01)
    assert model.likelihood.noise.detach().numpy().ravel() == pytest.approx([0.01 / y.std(ddof=1) ** 2] * 4)


def test_two_fidelities_screen_first_promote_some_and_keep_to_the_budget():
    rng = np.random.default_rng(0)

    def evaluate(x: np.ndarray, fidelity: int) -> float:
        return -accuracy(x) * (0.9 if fidelity == 0 else 1.0) + rng.normal(0, 0.005)

    prior = [("11111111", 1, -accuracy(np.ones(8))), ("11111111", 0, -0.9 * accuracy(np.ones(8))),
             ("00000000", 1, -0.1), ("00000000", 0, -0.09)]
    steps = sparsest_feasible_mf(evaluate, 8, 60, CBOOptions(bound=BOUND), costs=(4, 4), seed=0,
                                 noise_vars=(1e-4, 2.5e-5), prior=prior)
    assert sum(s.cost for s in steps) <= 60
    screened = set()
    for s in steps:
        if s.fidelity == 0:
            assert s.mask not in screened  # each mask screened once
            screened.add(s.mask)
        else:
            assert s.mask in screened  # promoted only after its screen
    promoted = [s for s in steps if s.fidelity == 1]
    assert 0 < len(promoted) < len(screened)  # some trainings were stopped early
    assert all(accuracy(np.array([int(c) for c in s.mask])) > 0.5 for s in promoted)
