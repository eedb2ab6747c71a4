"""Checkpoint/resume: a search killed mid-way resumes to the same history, re-running nothing."""
from __future__ import annotations

import json

import numpy as np
import pytest

from reram.search import HammingTarget, minimize_binary
from reram.search.bo import BOOptions
from reram.search.checkpoint import load_checkpoint


class Crash(BaseException):
    """Stands for the process being killed (not an Exception, so it is not recorded)."""


class CrashingObjective:
    """Evaluates `problem`, but 'kills the process' at call number `crash_at` (1-based)."""

    def __init__(self, problem, crash_at: int | None) -> None:
        self.problem = problem
        self.crash_at = crash_at
        self.calls: list[tuple[int, ...]] = []

    def __call__(self, x: np.ndarray) -> float:
        if self.crash_at is not None and len(self.calls) + 1 == self.crash_at:
            raise Crash()
        self.calls.append(tuple(int(v) for v in x))
        return self.problem(x)


CASES = [
    ("random", 1, {}),
    ("greedy", 1, {}),
    ("anneal", 2, {}),
    # local-search path; short fits so that the warm-start state must survive the crash
    ("bo", 1, {"options": BOOptions(exhaustive_limit=16, fit_maxiter=2, warm_fit_maxiter=2)}),
    ("bo", 3, {}),  # crash in the middle of a batch of 3
]


@pytest.mark.parametrize(("method", "batch_size", "extra"), CASES)
def test_resume_after_crash_gives_same_history(tmp_path, method, batch_size, extra) -> None:
    problem = HammingTarget(dim=9, n_ones=2, seed=5, noise_std=0.05)
    kwargs = dict(dim=9, budget=18, method=method, n_init=5, seed=7, batch_size=batch_size,
                  **extra)
    reference = minimize_binary(CrashingObjective(problem, None), **kwargs)

    path = tmp_path / "search.json"
    first = CrashingObjective(problem, crash_at=12)
    with pytest.raises(Crash):
        minimize_binary(first, checkpoint=path, **kwargs)
    saved = load_checkpoint(path)
    assert len(saved.history) == 11  # every finished evaluation was persisted
    second = CrashingObjective(problem, None)
    resumed = minimize_binary(second, checkpoint=path, **kwargs)

    assert [(r.index, r.x, r.y) for r in resumed.history] == [
        (r.index, r.x, r.y) for r in reference.history
    ]
    assert len(second.calls) == 18 - 11, "finished evaluations were re-run"
    assert not set(second.calls) & set(first.calls)
    assert resumed.best_y == reference.best_y
    # resuming a finished search evaluates nothing
    third = CrashingObjective(problem, None)
    again = minimize_binary(third, checkpoint=path, **kwargs)
    assert third.calls == [] and again.history == resumed.history


def test_checkpoint_is_valid_after_every_evaluation(tmp_path) -> None:
    path = tmp_path / "ck.json"
    sizes: list[int] = []

    def check(record) -> None:
        doc = json.loads(path.read_text())
        sizes.append(len(doc["history"]))
        assert doc["history"][-1]["index"] == record.index

    minimize_binary(lambda x: float(x.sum()), 6, 9, method="random", checkpoint=path,
                    callback=check)
    assert sizes == list(range(1, 10))
    assert not list(tmp_path.glob(".*tmp")), "temporary files left behind"


def test_failures_survive_resume(tmp_path) -> None:
    path = tmp_path / "ck.json"

    def objective(x: np.ndarray) -> float:
        if x.sum() % 2:
            raise RuntimeError("odd")
        return float(x.sum())

    res = minimize_binary(objective, 6, 10, method="random", checkpoint=path)
    saved = load_checkpoint(path)
    assert [r.error for r in saved.history] == [r.error for r in res.history]
    assert any(r.error == "RuntimeError: odd" for r in saved.history)
    # a larger budget extends the same search
    more = minimize_binary(objective, 6, 14, method="random", checkpoint=path)
    assert more.history[:10] == res.history and len(more.history) == 14


def test_incompatible_or_corrupt_checkpoint(tmp_path) -> None:
    path = tmp_path / "ck.json"
    minimize_binary(lambda x: 0.0, 4, 3, method="random", seed=0, checkpoint=path)
    with pytest.raises(ValueError, match="seed=0"):
        minimize_binary(lambda x: 0.0, 4, 3, method="random", seed=1, checkpoint=path)
    with pytest.raises(ValueError, match="method='random'"):
        minimize_binary(lambda x: 0.0, 4, 3, method="greedy", checkpoint=path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        minimize_binary(lambda x: 0.0, 4, 3, method="random", checkpoint=path)
