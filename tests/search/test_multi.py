"""minimize_binary_multi: fronts, hypervolume, failures, batches, validation, resume."""
from __future__ import annotations

import math

import numpy as np
import pytest

from reram.search import (
    MULTI_METHODS,
    BiObjectiveKnapsack,
    MultiObjectiveProblem,
    MultiSearchResult,
    NSGA2Options,
    ProcessExecutor,
    SparseTradeoff,
    hypervolume,
    minimize_binary_multi,
    pareto_mask,
)
from reram.search.checkpoint import load_checkpoint
from reram.search.mobo import MOBOOptions
from reram.search.proposer import all_masks


class Crash(BaseException):
    """Stands for the process being killed."""


class Recording:
    """Evaluates `problem`, records the masks, 'kills the process' at call `crash_at`."""

    def __init__(self, problem, crash_at: int | None = None) -> None:
        self.problem = problem
        self.crash_at = crash_at
        self.calls: list[tuple[int, ...]] = []

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.crash_at is not None and len(self.calls) + 1 == self.crash_at:
            raise Crash()
        self.calls.append(tuple(int(v) for v in x))
        return self.problem(x)


def _true_front_hv(problem: MultiObjectiveProblem) -> float:
    Y = np.array([problem(x) for x in all_masks(problem.dim)])
    return hypervolume(Y, problem.ref_point)


def _check_front(res: MultiSearchResult, problem) -> None:
    ok = [r for r in res.history if r.ok]
    Y = np.array([r.y for r in ok])
    # the front is non-dominated, and nothing evaluated dominates a front point
    for p in res.pareto_y:
        assert not np.any(np.all(Y <= p, axis=1) & np.any(Y < p, axis=1))
    assert len(res.pareto_y) == pareto_mask(Y).sum()
    for x, y in zip(res.pareto_x, res.pareto_y):  # each front point is a real evaluation
        assert np.array_equal(problem(x), y)
    assert res.hypervolume == pytest.approx(hypervolume(Y, problem.ref_point))
    assert np.all(np.diff(res.hypervolume_history) >= 0)
    assert res.hypervolume_history[-1] == pytest.approx(res.hypervolume)
    assert len(res.hypervolume_history) == len(res.history)


@pytest.mark.parametrize("method", MULTI_METHODS)
def test_each_method_returns_a_valid_front(method: str) -> None:
    problem = SparseTradeoff(dim=8, n_important=3, seed=1)
    res = minimize_binary_multi(problem, 8, 20, problem.ref_point, method=method, seed=0,
                                n_init=8, batch_size=3)
    assert len(res.history) == 20 and len({tuple(r.x) for r in res.history}) == 20
    _check_front(res, problem)
    assert 0 < res.hypervolume <= _true_front_hv(problem) + 1e-9


def test_random_over_the_whole_space_finds_the_true_front() -> None:
    problem = BiObjectiveKnapsack(dim=6, seed=2)
    res = minimize_binary_multi(problem, 6, 100, problem.ref_point, method="random")
    assert len(res.history) == 64  # stops when the space is exhausted
    assert res.hypervolume == pytest.approx(_true_front_hv(problem))
    _check_front(res, problem)


@pytest.mark.parametrize("acquisition", ["qnehvi", "qnparego"])
def test_mobo_beats_random_and_nsga2_on_sparse_tradeoff(acquisition: str) -> None:
    problem = SparseTradeoff(dim=10, n_important=4, seed=0)
    kwargs = dict(dim=10, budget=20, ref_point=problem.ref_point, seed=0, n_init=8, batch_size=2)
    mobo = minimize_binary_multi(problem, method="mobo",
                                 options=MOBOOptions(acquisition=acquisition), **kwargs)
    rnd = minimize_binary_multi(problem, method="random", **kwargs)
    evo = minimize_binary_multi(problem, method="nsga2", **kwargs)
    best = _true_front_hv(problem)
    assert mobo.hypervolume > max(rnd.hypervolume, evo.hypervolume)
    assert mobo.hypervolume >= 0.97 * best
    assert len(mobo.info["fit_s"]) == (20 - 8) // 2


def test_failures_and_bad_values_are_recorded() -> None:
    problem = SparseTradeoff(dim=6, n_important=2, seed=0)

    def objective(x: np.ndarray):
        if x[0] and x[1]:
            raise RuntimeError("diverged")
        if x[0] and not x[1]:
            return [1.0]  # wrong length
        if x[2] and x[3] and x[4]:
            return [math.nan, 1.0]
        return problem(x)

    for method in MULTI_METHODS:
        res = minimize_binary_multi(objective, 6, 24, problem.ref_point, method=method, seed=1,
                                    n_init=8, batch_size=4)
        assert len(res.history) == 24
        errors = {r.error.split(":")[0] for r in res.history if not r.ok}
        assert errors == {"RuntimeError", "ValueError"}
        assert any("returned 1 values, expected 2" in (r.error or "") for r in res.history)
        assert all(r.y is None for r in res.history if not r.ok)
        assert all(len(r.y) == 2 for r in res.history if r.ok)
        assert res.n_failures == sum(not r.ok for r in res.history)
        assert not any(x[0] and x[1] for x in res.pareto_x)


@pytest.mark.parametrize("acquisition", ["qnehvi", "qnparego"])
def test_mobo_batches(acquisition: str) -> None:
    problem = BiObjectiveKnapsack(dim=14, seed=0)
    res = minimize_binary_multi(problem, 14, 12, problem.ref_point, method="mobo", n_init=6,
                                batch_size=3, seed=0,
                                options=MOBOOptions(acquisition=acquisition, exhaustive_limit=64,
                                                    n_starts=4, max_local_steps=6))
    assert [r.batch for r in res.history] == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert len({tuple(r.x) for r in res.history}) == 12
    assert len(res.info["fit_s"]) == 2  # one model fit per batch of 3


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(ref_point=[1.0]), "ref_point must hold at least 2"),
        (dict(ref_point=[1.0, math.nan]), "ref_point must hold at least 2 finite"),
        (dict(ref_point="ab"), "ref_point must be a sequence of numbers"),
        (dict(method="bo"), "method must be one of"),
        (dict(method="nsga2", options=MOBOOptions()), "NSGA2Options"),
        (dict(method="mobo", options=NSGA2Options()), "MOBOOptions"),
        (dict(method="random", options=NSGA2Options()), "takes no options"),
        (dict(n_init=9), "n_init must be <= budget"),
        (dict(batch_size=0), "batch_size must be an integer >= 1"),
        (dict(executor="gpu"), "executor must be"),
    ],
)
def test_bad_inputs_raise_before_any_evaluation(kwargs, match) -> None:
    objective = Recording(SparseTradeoff(dim=4, n_important=2))
    args = dict(dim=4, budget=8, ref_point=[5.0, 5.0])
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        minimize_binary_multi(objective, **args)
    assert objective.calls == []


def test_bad_option_values() -> None:
    with pytest.raises(ValueError, match="acquisition must be one of"):
        MOBOOptions(acquisition="ehvi")
    with pytest.raises(ValueError, match="pop_size must be an integer >= 2"):
        NSGA2Options(pop_size=1)
    with pytest.raises(ValueError, match="mutation_rate"):
        NSGA2Options(mutation_rate=0.0)


CASES = [
    ("nsga2", 1, {"options": NSGA2Options(pop_size=6)}),
    ("random", 2, {}),
    # local-search acquisition path, short fits: the warm-start state must survive the kill
    ("mobo", 2, {"options": MOBOOptions(exhaustive_limit=16, fit_maxiter=2, warm_fit_maxiter=2,
                                        n_starts=4, max_local_steps=4)}),
]


@pytest.mark.parametrize(("method", "batch_size", "extra"), CASES)
def test_resume_after_kill_reproduces_the_proposals(tmp_path, method, batch_size, extra) -> None:
    problem = BiObjectiveKnapsack(dim=9, seed=4)
    kwargs = dict(dim=9, budget=14, ref_point=problem.ref_point, method=method, n_init=6,
                  seed=3, batch_size=batch_size, **extra)
    reference = minimize_binary_multi(Recording(problem), **kwargs)
    path = tmp_path / "multi.json"
    first = Recording(problem, crash_at=10)
    with pytest.raises(Crash):
        minimize_binary_multi(first, checkpoint=path, **kwargs)
    assert len(load_checkpoint(path).history) == 9
    second = Recording(problem)
    resumed = minimize_binary_multi(second, checkpoint=path, **kwargs)
    assert [(r.index, r.x, r.y) for r in resumed.history] == [
        (r.index, r.x, r.y) for r in reference.history]
    assert len(second.calls) == 14 - 9 and not set(second.calls) & set(first.calls)
    assert resumed.hypervolume == reference.hypervolume
    with pytest.raises(ValueError, match="ref_point"):
        minimize_binary_multi(Recording(problem), checkpoint=path,
                              **{**kwargs, "ref_point": [1.0, 1.0]})


def test_json_round_trip_and_process_pool() -> None:
    problem = BiObjectiveKnapsack(dim=7, seed=1)
    with ProcessExecutor(max_workers=2, mp_context="fork") as pool:
        res = minimize_binary_multi(problem, 7, 12, problem.ref_point, method="nsga2",
                                    n_init=6, batch_size=3, executor=pool, seed=0)
    serial = minimize_binary_multi(problem, 7, 12, problem.ref_point, method="nsga2", n_init=6,
                                   batch_size=3, seed=0)
    assert [(r.x, r.y) for r in res.history] == [(r.x, r.y) for r in serial.history]
    back = MultiSearchResult.from_json(res.to_json())
    assert back.history == res.history and back.hypervolume == res.hypervolume
    assert np.array_equal(back.pareto_x, res.pareto_x)
    assert np.array_equal(back.hypervolume_history, res.hypervolume_history)


def test_problems_contract() -> None:
    for make in (lambda s: BiObjectiveKnapsack(dim=12, seed=s),
                 lambda s: SparseTradeoff(dim=12, seed=s)):
        problem = make(0)
        xs = np.random.default_rng(0).integers(0, 2, size=(20, problem.dim))
        values = np.array([problem(x) for x in xs])
        assert values.shape == (20, problem.n_objectives) and np.all(np.isfinite(values))
        assert np.all(values < np.asarray(problem.ref_point))  # every mask counts
        assert np.array_equal(values, [make(0)(x) for x in xs])
        assert not np.array_equal(values, [make(1)(x) for x in xs])
        with pytest.raises(ValueError, match="shape"):
            problem(np.zeros(problem.dim + 1))


def test_knapsack_repair_matches_twin() -> None:
    problem = BiObjectiveKnapsack(dim=10, seed=5)
    for x in all_masks(10)[::37].astype(float):
        kept = x.copy()
        ratio = [max(problem.profits[i, j] / problem.weights[i, j] for i in range(2))
                 for j in range(10)]
        for j in sorted(range(10), key=lambda j: (ratio[j], j)):  # lowest ratio first
            if all(problem.weights[i] @ kept <= problem.capacities[i] for i in range(2)):
                break
            kept[j] = 0.0
        assert all(problem.weights[i] @ kept <= problem.capacities[i] for i in range(2))
        assert np.array_equal(problem(x), -(problem.profits @ kept))
