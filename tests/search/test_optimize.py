"""Tests of minimize_binary with the in-process executor: methods, failures, validation."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from reram.search import (
    METHODS,
    AnnealOptions,
    EvalRecord,
    HammingTarget,
    SearchResult,
    minimize_binary,
)
from reram.search.bo import BOOptions


class Counting:
    """Objective wrapper that counts calls."""

    def __init__(self, fn) -> None:
        self.fn = fn
        self.calls = 0

    def __call__(self, x: np.ndarray) -> float:
        self.calls += 1
        return self.fn(x)


def _keys(res: SearchResult) -> list[tuple[int, ...]]:
    return [tuple(r.x) for r in res.history]


@pytest.mark.parametrize(
    ("method", "budget"),
    [("random", 64), ("greedy", 45), ("exhaustive", 64), ("anneal", 60), ("bo", 22)],
)
def test_each_method_finds_known_optimum(method: str, budget: int) -> None:
    problem = HammingTarget(dim=6, n_ones=2, seed=4)
    res = minimize_binary(problem, dim=6, budget=budget, method=method, seed=0)
    assert res.best_y == pytest.approx(problem.optimal_value)
    assert np.array_equal(res.best_x, problem.optimizer)
    assert len(res.history) == budget
    assert [r.index for r in res.history] == list(range(budget))
    assert len(set(_keys(res))) == budget, "a mask was evaluated twice"
    assert all(r.ok for r in res.history)
    assert res.best_y == min(r.y for r in res.history)


@pytest.mark.parametrize("kernel", ["hamming", "hamming+linear"])
def test_bo_beats_random_on_noisy_sparse_target(kernel: str) -> None:
    problem = HammingTarget(dim=12, n_ones=3, seed=1, noise_std=0.05)
    bo = minimize_binary(problem, 12, 30, method="bo", n_init=8, seed=0,
                         options=BOOptions(exhaustive_limit=16, kernel=kernel))  # local search
    rnd = minimize_binary(problem, 12, 30, method="random", seed=0)
    assert bo.best_y < rnd.best_y
    assert np.array_equal(bo.best_x, problem.optimizer)
    assert len(bo.info["fit_s"]) == 30 - 8


@pytest.mark.parametrize("method", METHODS)
def test_stops_when_space_exhausted(method: str) -> None:
    options = None
    if method == "cbo":  # the sparsest mask with a value <= 0
        from reram.search import CBOOptions

        options = CBOOptions(bound=0.0)
    res = minimize_binary(lambda x: float(x @ [1.0, -2.0, 3.0]), dim=3, budget=20,
                          method=method, n_init=2, seed=1, options=options)
    assert len(res.history) <= 8
    assert len(set(_keys(res))) == len(res.history)
    if method in ("random", "exhaustive", "bo", "cbo"):
        assert len(res.history) == 8
    assert res.best_y == -2.0


def test_exhaustive_is_sparsest_first() -> None:
    res = minimize_binary(lambda x: float(x.sum()), dim=4, budget=11, method="exhaustive")
    weights = [sum(r.x) for r in res.history]
    assert weights == sorted(weights) and weights[:5] == [0, 1, 1, 1, 1]


def test_same_seed_same_history_other_seed_differs() -> None:
    problem = HammingTarget(dim=10, seed=0)
    for method in ("random", "anneal", "greedy"):
        a = minimize_binary(problem, 10, 25, method=method, seed=3)
        b = minimize_binary(problem, 10, 25, method=method, seed=3)
        c = minimize_binary(problem, 10, 25, method=method, seed=4)
        assert _keys(a) == _keys(b)
        assert _keys(a) != _keys(c)


def test_initial_design_favours_sparse_masks() -> None:
    res = minimize_binary(lambda x: 0.0, dim=24, budget=20, method="bo", n_init=20, seed=0)
    weights = np.array([sum(r.x) for r in res.history])
    # fair coins would put ~all 20 masks at weight 12 +- 5; stratification covers 0..24
    assert (weights <= 6).sum() >= 4 and (weights >= 18).sum() >= 4


@pytest.mark.parametrize("bad", ["nan", "raise", "string", "inf"])
def test_failed_evaluations_are_recorded_and_search_goes_on(bad: str) -> None:
    problem = HammingTarget(dim=6, n_ones=2, seed=0)

    def objective(x: np.ndarray):
        if x[0] == 1:  # half of the space fails
            if bad == "raise":
                raise RuntimeError("training diverged")
            return {"nan": math.nan, "inf": math.inf, "string": "oops"}[bad]
        return problem(x)

    for method in ("bo", "random", "anneal"):
        res = minimize_binary(objective, 6, 20, method=method, n_init=6, seed=0)
        assert len(res.history) == 20
        failed = [r for r in res.history if not r.ok]
        assert failed and all(r.x[0] == 1 and r.y is None and r.error for r in failed)
        assert all(r.x[0] == 0 and r.error is None for r in res.history if r.ok)
        assert res.best_x[0] == 0 and res.best_y == min(r.y for r in res.history if r.ok)
        assert res.n_failures == len(failed)
    msg = failed[0].error
    expected = {"raise": "RuntimeError: training diverged", "nan": "ValueError: objective returned nan",
                "inf": "ValueError: objective returned inf", "string": "TypeError: objective returned str"}
    assert msg.startswith(expected[bad])


def test_all_failures_give_no_best_but_full_history() -> None:
    def objective(x: np.ndarray) -> float:
        raise ValueError("bad mask")

    res = minimize_binary(objective, 5, 12, method="bo", n_init=3, seed=0)
    assert res.best_x is None and res.best_y is None
    assert len(res.history) == 12 and res.n_failures == 12
    assert len(set(_keys(res))) == 12


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(dim=0, budget=5), "dim must be an integer >= 1"),
        (dict(dim=True, budget=5), "dim must be an integer"),
        (dict(dim=4, budget=0), "budget must be an integer >= 1"),
        (dict(dim=4, budget=5, n_init=6), "n_init must be <= budget"),
        (dict(dim=4, budget=5, n_init=0), "n_init must be an integer >= 1"),
        (dict(dim=4, budget=5, method="cmaes"), "method must be one of"),
        (dict(dim=4, budget=5, batch_size=0), "batch_size must be an integer >= 1"),
        (dict(dim=4, budget=5, seed=-1), "seed must be an integer >= 0"),
        (dict(dim=4, budget=5, executor="gpu"), "executor must be"),
        (dict(dim=21, budget=5, method="exhaustive"), "dim must be <= 20"),
        (dict(dim=4, budget=5, checkpoint="/nonexistent/dir/ck.json"), "checkpoint folder"),
        (dict(dim=4, budget=5, method="anneal", options=BOOptions()), "AnnealOptions"),
        (dict(dim=4, budget=5, method="random", options=AnnealOptions()), "takes no options"),
        (dict(dim=4, budget=5, callback=3), "callback must be callable"),
    ],
)
def test_bad_inputs_raise_before_any_evaluation(kwargs, match) -> None:
    objective = Counting(lambda x: 0.0)
    with pytest.raises(ValueError, match=match):
        minimize_binary(objective, **kwargs)
    assert objective.calls == 0


def test_bad_options_values() -> None:
    with pytest.raises(ValueError, match="n_starts must be an integer >= 1"):
        BOOptions(n_starts=0)
    with pytest.raises(ValueError, match="warm_fit_maxiter must be an integer >= 1"):
        BOOptions(warm_fit_maxiter=0)
    with pytest.raises(ValueError, match="kernel must be one of"):
        BOOptions(kernel="diffusion")
    with pytest.raises(ValueError, match="final_temperature_ratio"):
        AnnealOptions(final_temperature_ratio=2.0)
    with pytest.raises(TypeError, match="objective must be callable"):
        minimize_binary("f", dim=3, budget=3)


def test_callback_progress_and_batches() -> None:
    seen: list[EvalRecord] = []
    problem = HammingTarget(dim=8, seed=2)
    res = minimize_binary(problem, 8, 13, method="bo", n_init=4, batch_size=3, seed=0,
                          callback=seen.append, progress=True)
    assert [r.index for r in seen] == list(range(13))
    assert seen == res.history
    batches = [r.batch for r in res.history]
    # 4 initial masks in batches of 3 (3 + 1), then BO batches of 3, 3, and the last 2... 
    assert batches == [0, 0, 0, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]
    assert len(set(_keys(res))) == 13
    assert all(r.time_s >= 0 and r.finished_at >= r.started_at for r in res.history)


def test_result_json_round_trip(tmp_path) -> None:
    res = minimize_binary(lambda x: float(x.sum()) if x[1] else math.nan, 5, 10,
                          method="random", seed=0)
    text = res.to_json(str(tmp_path / "res.json"))
    json.loads(text)
    back = SearchResult.from_json((tmp_path / "res.json").read_text())
    assert back.history == res.history
    assert back.best_y == res.best_y and np.array_equal(back.best_x, res.best_x)
    assert np.array_equal(back.best_so_far(), res.best_so_far(), equal_nan=True)


def test_bo_leaves_the_callers_torch_rng_alone() -> None:
    import torch

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    minimize_binary(HammingTarget(dim=5, seed=0), 5, 6, method="bo", n_init=3, seed=0)
    assert torch.equal(torch.rand(3), expected)
