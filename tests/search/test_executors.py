"""Parallel executors: a real local process pool and a real local Ray instance."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from reram.search import HammingTarget, ProcessExecutor, RayExecutor, minimize_binary
from reram.search.checkpoint import load_checkpoint


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
    """Picklable objective that kills its own worker process (SIGKILL) on masks with bits 0
    and 1 set, the first `die_times` times such a mask is tried (every time if ``None``).

    Every call leaves a file ``<mask>.<n>`` in `log_dir`, so a test can count the attempts.
    """

    def __init__(self, log_dir, die_times: int | None = None) -> None:
        self.problem = HammingTarget(dim=6, n_ones=2, seed=3)
        self.log_dir = str(log_dir)
        self.die_times = die_times

    def __call__(self, x: np.ndarray) -> float:
        key = "".join(str(int(v)) for v in x)
        attempt = len([f for f in os.listdir(self.log_dir) if f.startswith(key + ".")]) + 1
        open(os.path.join(self.log_dir, f"{key}.{attempt}"), "w").close()
        if x[0] and x[1] and (self.die_times is None or attempt <= self.die_times):
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(0.02)  # let evaluations overlap
        return self.problem(x)


def _attempts(log_dir) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name in os.listdir(log_dir):
        key = name.split(".")[0]
        counts[key] = counts.get(key, 0) + 1
    return counts


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
    assert len(pool.pids) == 2 and os.getpid() not in pool.pids


def test_process_pool_records_failures(pool) -> None:
    res = minimize_binary(FailsOnFirstBit(), dim=7, budget=12, method="random", batch_size=4,
                          executor=pool, seed=0)
    failed = [r for r in res.history if not r.ok]
    assert len(res.history) == 12 and failed
    assert all(r.error == "RuntimeError: diverged" and r.x[0] == 1 for r in failed)


def test_killed_worker_costs_that_evaluation_only(tmp_path) -> None:
    logs = tmp_path / "calls"
    logs.mkdir()
    ck = tmp_path / "ck.json"
    kwargs = dict(dim=6, budget=16, method="random", batch_size=4, seed=1)
    with ProcessExecutor(max_workers=2, mp_context="fork") as executor:
        res = minimize_binary(KillsWorker(logs), executor=executor, checkpoint=ck, **kwargs)
        assert len(executor.pids) == 2, "dead workers are replaced"
    assert len(res.history) == 16
    killer = [r for r in res.history if r.x[0] and r.x[1]]
    assert killer, "the seed must propose at least one mask that kills its worker"
    for r in res.history:
        if r in killer:
            assert r.y is None
            assert r.error == ("WorkerDied: worker process killed by SIGKILL during the "
                               "evaluation (2 attempts)")
        else:
            assert r.ok, r.error
    attempts = _attempts(logs)
    key = lambda r: "".join(map(str, r.x))  # noqa: E731
    assert all(attempts[key(r)] == 2 for r in killer), "retried exactly once"
    assert all(attempts[key(r)] == 1 for r in res.history if r not in killer), \
        "an evaluation running beside a dying worker was re-run or lost"
    # the checkpoint holds every finished evaluation, failures included
    assert sorted(load_checkpoint(ck).history, key=lambda r: r.index) == res.history
    # same proposals as an in-process search (random search ignores the values)
    serial = minimize_binary(HammingTarget(dim=6, n_ones=2, seed=3), **kwargs)
    assert [r.x for r in serial.history] == [r.x for r in res.history]


def test_worker_that_dies_once_is_retried(tmp_path) -> None:
    logs = tmp_path / "calls"
    logs.mkdir()
    problem = HammingTarget(dim=6, n_ones=2, seed=3)
    res = minimize_binary(KillsWorker(logs, die_times=1), dim=6, budget=16, method="random",
                          batch_size=4, seed=1,
                          executor=ProcessExecutor(max_workers=2, mp_context="fork"))
    assert all(r.ok and r.y == problem(np.array(r.x)) for r in res.history)
    attempts = _attempts(logs)
    assert sorted(attempts[''.join(map(str, r.x))] for r in res.history if r.x[0] and r.x[1])[0] == 2
    no_retry = ProcessExecutor(max_workers=2, mp_context="fork", max_retries=0)
    res = minimize_binary(KillsWorker(tmp_path / "calls", die_times=10), dim=6, budget=6,
                          method="random", batch_size=3, seed=2, executor=no_retry)
    no_retry.close()
    assert all(r.error.endswith("(1 attempt)") for r in res.history if not r.ok)
    with pytest.raises(ValueError, match="max_retries must be an integer >= 0"):
        ProcessExecutor(max_retries=-1)


SLOW_OBJECTIVE = """
import os, time
class Slow:
    def __init__(self, log_dir):
        self.log_dir = log_dir
    def __call__(self, x):
        open(os.path.join(self.log_dir, str(os.getpid())), "w").close()
        time.sleep(0 if x.sum() == 0 else 60)
        return float(x.sum())
"""

INTERRUPTED_SEARCH = """
import signal, sys
# Ctrl-C as a terminal delivers it: a process started from a shell script's background job (or
# a CI runner doing so) inherits SIGINT ignored, and Python then installs no handler at all
signal.signal(signal.SIGINT, signal.default_int_handler)
from slow_objective import Slow
from reram.search import minimize_binary
try:
    minimize_binary(Slow(sys.argv[1]), dim=4, budget=8, method="exhaustive", batch_size=2,
                    executor=sys.argv[3], checkpoint=sys.argv[2])
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(130)
"""


@pytest.mark.parametrize("executor", ["process", "ray"])
def test_ctrl_c_leaves_workers_quiet(tmp_path, executor: str) -> None:
    """Issue 15 item 7: Ctrl-C (SIGINT to the whole process group) prints no worker traceback."""
    if executor == "ray":
        pytest.importorskip("ray")
    (tmp_path / "slow_objective.py").write_text(SLOW_OBJECTIVE)
    logs = tmp_path / "pids"
    logs.mkdir()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), *sys.path]))
    proc = subprocess.Popen(
        [sys.executable, "-c", INTERRUPTED_SEARCH, str(logs), str(tmp_path / "ck.json"), executor],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 120
        while len(os.listdir(logs)) < 2 and time.time() < deadline:  # mask 0000 and a slow one
            time.sleep(0.2)
        assert len(os.listdir(logs)) == 2, proc.communicate(timeout=5)
        time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130 and out.strip() == "interrupted", (out, err)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    time.sleep(0.5)
    for pid in map(int, os.listdir(logs)):
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # the workers are gone
    saved = load_checkpoint(tmp_path / "ck.json")
    assert [r.x for r in saved.history] == [[0, 0, 0, 0]] and len(saved.pending) == 1


def test_process_executor_by_name_and_unpicklable_objective() -> None:
    with pytest.raises(ValueError, match="picklable"):
        minimize_binary(lambda x: 0.0, dim=3, budget=2, executor="process")
    problem = HammingTarget(dim=5, n_ones=1, seed=0)
    res = minimize_binary(problem, dim=5, budget=6, method="exhaustive", batch_size=2,
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


def test_ray_killed_worker_costs_that_evaluation_only(ray_local, tmp_path) -> None:
    log_dir = str(tmp_path)
    problem = HammingTarget(dim=5, n_ones=2, seed=3)

    def objective(x: np.ndarray) -> float:  # a closure: Ray pickles it by value
        key = "".join(str(int(v)) for v in x)
        open(os.path.join(log_dir, f"{key}.{time.time_ns()}"), "w").close()
        if x[0] and x[1] and x[2]:
            os.kill(os.getpid(), signal.SIGKILL)
        return problem(x)

    executor = RayExecutor()
    res = minimize_binary(objective, dim=5, budget=6, method="random", batch_size=3,
                          executor=executor, seed=0, checkpoint=tmp_path / "ck.json")
    executor.close()
    killer = [r for r in res.history if r.x[0] and r.x[1] and r.x[2]]
    assert len(killer) == 1 and len(res.history) == 6
    assert all(r.error.startswith("WorkerDied:") and "(2 attempts)" in r.error for r in killer)
    assert all(r.ok for r in res.history if r not in killer)
    attempts = _attempts(tmp_path)
    assert all(attempts["".join(map(str, r.x))] == (2 if r in killer else 1) for r in res.history)
    assert len(load_checkpoint(tmp_path / "ck.json").history) == 6
