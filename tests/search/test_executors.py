"""Parallel executors: a real local process pool and a real local Ray instance."""
from __future__ import annotations

import os

import numpy as np
import pytest

from reram.search import HammingTarget, ProcessExecutor, RayExecutor, minimize_binary


def _keys(res):
    return [(r.index, tuple(r.x), r.y) for r in res.history]


class FailsOnFirstBit:
    """Picklable objective: raises when bit 0 is set, else a Hamming target."""

    def __init__(self) -> None:
        self.problem = HammingTarget(dim=7, n_ones=2, seed=3)

    def __call__(self, x: np.ndarray) -> float:
        if x[0]:
            raise RuntimeError("diverged")
        return self.problem(x)


class KillsWorker:
    """Picklable objective whose worker process dies on masks with bit 0 set."""

    def __init__(self) -> None:
        self.problem = HammingTarget(dim=7, n_ones=2, seed=3)

    def __call__(self, x: np.ndarray) -> float:
        if x[0]:
            os._exit(3)
        return self.problem(x)


@pytest.fixture(scope="module")
def pool():
    # fork: the workers inherit this test module, whose objectives spawn could not import
    # (the default start method, spawn, is tested with an importable objective below)
    executor = ProcessExecutor(max_workers=2, mp_context="fork")
    yield executor
    executor.close()


def test_process_pool_matches_in_process(pool) -> None:
    problem = HammingTarget(dim=8, n_ones=2, seed=1, noise_std=0.05)
    kwargs = dict(dim=8, budget=14, method="bo", n_init=6, batch_size=2, seed=0)
    serial = minimize_binary(problem, **kwargs)
    parallel = minimize_binary(problem, executor=pool, **kwargs)
    assert _keys(parallel) == _keys(serial)
    # the pool really ran in other processes
    assert pool._pool is not None and all(p.pid != os.getpid() for p in pool._pool._processes.values())


def test_process_pool_records_failures(pool) -> None:
    res = minimize_binary(FailsOnFirstBit(), dim=7, budget=12, method="random", batch_size=4,
                          executor=pool, seed=0)
    failed = [r for r in res.history if not r.ok]
    assert len(res.history) == 12 and failed
    assert all(r.error == "RuntimeError: diverged" and r.x[0] == 1 for r in failed)


def test_dead_worker_is_a_failure_not_a_crash() -> None:
    res = minimize_binary(KillsWorker(), dim=7, budget=8, method="random", batch_size=2,
                          executor=ProcessExecutor(max_workers=2, mp_context="fork"), seed=1)
    assert len(res.history) == 8
    dead = [r for r in res.history if r.error and "BrokenProcessPool" in r.error]
    assert dead, [r.error for r in res.history]
    assert res.best_x is not None and res.best_x[0] == 0


def test_process_executor_by_name_and_unpicklable_objective() -> None:
    with pytest.raises(ValueError, match="picklable"):
        minimize_binary(lambda x: 0.0, dim=3, budget=2, executor="process")
    problem = HammingTarget(dim=5, n_ones=1, seed=0)
    res = minimize_binary(problem, dim=5, budget=6, method="exhaustive", batch_size=3,
                          executor="process")
    assert res.best_y == 0.0 and len(res.history) == 6


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_matches_in_process_and_records_failures(ray_local) -> None:
    executor = RayExecutor()  # uses the running local instance
    assert executor.max_parallel == 2
    problem = HammingTarget(dim=8, n_ones=2, seed=1, noise_std=0.05)
    kwargs = dict(dim=8, budget=12, method="bo", n_init=6, batch_size=2, seed=0)
    assert _keys(minimize_binary(problem, executor=executor, **kwargs)) == _keys(
        minimize_binary(problem, **kwargs)
    )

    def objective(x: np.ndarray) -> float:  # a closure: Ray pickles it with cloudpickle
        if x[1]:
            raise ValueError("NaN loss")
        return float(os.getpid())

    res = minimize_binary(objective, dim=6, budget=8, method="random", batch_size=4,
                          executor=executor, seed=0)
    assert len(res.history) == 8
    assert all(r.error and "NaN loss" in r.error for r in res.history if r.x[1])
    assert all(r.ok for r in res.history if not r.x[1])
    assert all(r.y != os.getpid() for r in res.history if r.ok), "ran in the driver"
    executor.close()
    assert ray_local.is_initialized(), "an executor must not shut down a Ray it did not start"
    by_name = minimize_binary(problem, dim=8, budget=4, method="random", batch_size=2,
                              executor="ray", seed=0)
    assert len(by_name.history) == 4 and all(r.ok for r in by_name.history)
    assert ray_local.is_initialized()
