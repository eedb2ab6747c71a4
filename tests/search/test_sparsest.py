"""Tests of the sparsest-feasible search (``method="cbo"``) and its two-fidelity variant."""
from __future__ import annotations

import numpy as np
import pytest

from reram.search import CBOOptions, minimize_binary
from reram.search.bo import BOOptions, fit_gp
from reram.search.sparsest import (_ConstrainedEI, _posterior, sparsest_feasible, sparsest_feasible_mf,
                                   sparsest_feasible_raced)

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


# ---------------------------------------------------------------- replicates inside the loop
def _references() -> CBOOptions:
    return CBOOptions(bound=BOUND, noise_var=1e-4, prior_x=((1,) * 8, (0,) * 8),
                      prior_y=(-accuracy(np.ones(8)), -accuracy(np.zeros(8))))


def test_raced_options_are_checked_before_any_training():
    calls = []

    def f(x: np.ndarray, k: int) -> float:
        calls.append(k)
        return 0.0

    with pytest.raises(ValueError, match="p_sure"):
        sparsest_feasible_raced(f, 8, 10, _references(), p_sure=1.0)
    with pytest.raises(ValueError, match="same_count"):
        sparsest_feasible_raced(f, 8, 10, _references(), same_count="third")
    with pytest.raises(ValueError, match="race"):
        sparsest_feasible_raced(f, 8, 10, _references(), race="everything")
    assert calls == []


@pytest.mark.parametrize("same_count", ["half", "ei"])
def test_raced_search_finds_the_sparsest_feasible_mask_of_a_known_landscape(same_count: str):
    n_star, targets = _truth()
    found = 0
    for seed in range(3):
        steps = sparsest_feasible_raced(lambda x, k: -accuracy(x), 8, 16, _references(), seed=seed,
                                        same_count=same_count)
        assert len(steps) == 16
        for i, s in enumerate(steps):  # the k-th training of a mask is numbered k
            assert s.replicate == sum(t.mask == s.mask for t in steps[:i])
        X = np.array([[int(c) for c in s.mask] for s in steps])
        answer = sparsest_feasible(X, np.array([s.y for s in steps]), BOUND)
        found += answer is not None and steps[answer].mask in targets
    assert found >= 2  # random search: 16 of 256 masks hold one of the 2 targets with p ~ 0.12


@pytest.mark.parametrize("race", ["posterior", "observed"])
def test_a_lucky_sparse_training_is_replicated_and_the_search_moves_on(race: str):
    """The first training of every mask with at most two ones reads as all-BN (they are far
    below the bar: 0.1 + 0.85 * 0.55 / 0.7 = 0.77 at most); their replicates are honest. One
    training's noise is told as 0.02, so one reading 2 points above the bar is not sure.
    Believed, the first lucky mask would be the answer and no denser mask worth training. The
    search trains it again, stops believing it, and ends on masks that truly clear the bar."""
    from dataclasses import replace

    def f(x: np.ndarray, k: int) -> float:
        return -accuracy(np.ones(8)) if int(np.sum(x)) <= 2 and k == 0 else -accuracy(x)

    steps = sparsest_feasible_raced(f, 8, 32, replace(_references(), noise_var=4e-4), seed=0, n_init=1, race=race)
    lucky = {s.mask for s in steps if s.mask.count("1") <= 2}
    assert lucky  # a lucky mask was tried
    raced = {s.mask for s in steps if s.reason == "replicate" and s.mask in lucky}
    assert raced  # and trained again
    means: dict[str, list[float]] = {}
    for s in steps:
        means.setdefault(s.mask, []).append(s.y)
    ok = [m for m, v in means.items() if np.mean(v) <= BOUND]
    assert not raced & set(ok)  # a raced lucky mask is no longer an answer
    answer = min(ok, key=lambda m: (m.count("1"), np.mean(means[m])))
    assert accuracy(np.array([int(c) for c in answer])) >= -BOUND  # the answer truly clears the bar


def test_a_training_that_cannot_be_had_costs_nothing_and_is_not_raced_again():
    asked: list[tuple[str, int]] = []

    def f(x: np.ndarray, k: int) -> float | None:
        mask = "".join(map(str, x))
        asked.append((mask, k))
        return None if k >= 1 else -accuracy(x) + (0.01 if k == 0 else 0.0)  # one training each

    steps = sparsest_feasible_raced(f, 8, 12, CBOOptions(bound=BOUND, noise_var=4e-4), seed=1)
    assert len(steps) == 12 and all(s.replicate == 0 for s in steps)
    refused = [m for m, k in asked if k == 1]
    assert len(refused) == len(set(refused))  # each mask's missing replicate asked for once


def test_a_mask_as_sparse_as_the_incumbent_is_worth_its_expected_improvement():
    X = np.array([[0, 0, 0], [1, 1, 1], [1, 1, 0], [1, 0, 0]])
    y = np.array([-0.1, -0.95, -0.93, -0.5])
    model, _ = fit_gp(X, y, BOOptions(), noise_var=1e-4)
    bound, best, gap = -0.9, -0.93, 0.05
    cands = np.array([[0, 1, 1], [0, 1, 0], [1, 1, 1], [0, 0, 1]])
    acq = _ConstrainedEI(model, bound, incumbent=2, answer=(best, gap))
    got = acq(__import__("torch").as_tensor(cands, dtype=__import__("torch").double)[:, None]).numpy()
    mean, sd = _posterior(model, cands)
    from statistics import NormalDist

    n = NormalDist()
    z = (best - mean[0]) / sd[0]  # 011: as sparse as the incumbent: expected improvement / gap
    assert got[0] == pytest.approx(sd[0] * (z * n.cdf(z) + n.pdf(z)) / gap, rel=1e-6)
    for i in (1, 3):  # one one: one layer saved, times P(feasible)
        assert got[i] == pytest.approx(n.cdf((bound - mean[i]) / sd[i]), rel=1e-6)
    assert got[2] == 0.0  # denser than the incumbent
