"""Executors that evaluate a batch of masks: in-process, a local process pool, and Ray.

An executor never raises because an evaluation failed: an exception, a NaN/inf or a crashed
worker becomes an ``Outcome`` with ``error`` set. Ray is imported only when a ``RayExecutor``
is created (``pip install .[ray]``).
"""
from __future__ import annotations

import concurrent.futures as cf
import math
import multiprocessing
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "Outcome",
    "evaluate_mask",
    "Executor",
    "InProcessExecutor",
    "ProcessExecutor",
    "RayExecutor",
    "make_executor",
    "EXECUTOR_NAMES",
]

EXECUTOR_NAMES = ("inprocess", "process", "ray")


@dataclass
class Outcome:
    """The result of one evaluation.

    Attributes:
        y: the objective value, ``None`` on failure.
        error: ``None`` on success, else ``"<ExceptionType>: <message>"``.
        time_s: seconds the objective ran.
        started_at: wall-clock start (Unix seconds).
        finished_at: wall-clock end (Unix seconds).
    """

    y: float | None
    error: str | None
    time_s: float
    started_at: float
    finished_at: float


def evaluate_mask(objective: Callable[[np.ndarray], float], x: np.ndarray) -> Outcome:
    """Call the objective on one mask and catch what can go wrong.

    Args:
        objective: maps a `dim`-array of 0/1 ``int64`` to a float.
        x: the mask, a `dim`-array of 0/1.

    Returns:
        An ``Outcome``; an exception, a value that is not a real number, or a NaN/inf value
        is recorded as an error instead of raised. ``BaseException`` s that are not
        ``Exception`` (``KeyboardInterrupt``, ``SystemExit``) propagate.
    """
    started = time.time()
    t0 = time.perf_counter()
    y: float | None = None
    error: str | None = None
    try:
        value = objective(np.asarray(x, dtype=np.int64).copy())
        try:
            y = float(value)
        except (TypeError, ValueError):
            error = f"TypeError: objective returned {type(value).__name__}, expected a float"
        else:
            if not math.isfinite(y):
                error = f"ValueError: objective returned {y}"
                y = None
    except Exception as exc:  # noqa: BLE001 - a failed evaluation is data, not a crash
        error = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
    elapsed = time.perf_counter() - t0
    return Outcome(y=y, error=error, time_s=elapsed, started_at=started, finished_at=time.time())


def _failure(exc: BaseException, started: float) -> Outcome:
    now = time.time()
    msg = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
    return Outcome(y=None, error=msg, time_s=now - started, started_at=started, finished_at=now)


class Executor(ABC):
    """Runs a batch of evaluations, possibly in parallel, yielding results as they finish."""

    #: How many evaluations can run at once.
    max_parallel: int = 1

    @abstractmethod
    def run(
        self, objective: Callable[[np.ndarray], float], xs: Sequence[np.ndarray]
    ) -> Iterator[tuple[int, Outcome]]:
        """Evaluate every mask of the batch.

        Args:
            objective: the objective.
            xs: the `q` masks, each a `dim`-array.

        Yields:
            ``(i, outcome)`` pairs in completion order, `i` the position in `xs`.
        """

    def close(self) -> None:
        """Release workers (no-op by default)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InProcessExecutor(Executor):
    """Evaluates the batch one mask after the other in the calling process."""

    def run(
        self, objective: Callable[[np.ndarray], float], xs: Sequence[np.ndarray]
    ) -> Iterator[tuple[int, Outcome]]:
        for i, x in enumerate(xs):
            yield i, evaluate_mask(objective, x)


class ProcessExecutor(Executor):
    """Evaluates a batch in parallel on a local pool of worker processes.

    The objective must be picklable (a module-level function or an instance of a
    module-level class). Workers use the ``"spawn"`` start method by default, which is safe
    with torch; a worker that dies is recorded as a failed evaluation and the pool replaced.

    Args:
        max_workers: number of worker processes (default: the batch size, else 2).
        mp_context: multiprocessing start method, ``"spawn"``, ``"forkserver"`` or ``"fork"``.
    """

    def __init__(self, max_workers: int | None = None, mp_context: str = "spawn") -> None:
        if max_workers is not None and (not isinstance(max_workers, int) or max_workers < 1):
            raise ValueError(f"max_workers must be a positive integer, got {max_workers!r}")
        if mp_context not in ("spawn", "forkserver", "fork"):
            raise ValueError(
                f"mp_context must be 'spawn', 'forkserver' or 'fork', got {mp_context!r}"
            )
        self.max_parallel = max_workers or 2
        self._ctx = multiprocessing.get_context(mp_context)
        self._pool: cf.ProcessPoolExecutor | None = None

    def _get_pool(self) -> cf.ProcessPoolExecutor:
        if self._pool is None:
            self._pool = cf.ProcessPoolExecutor(self.max_parallel, mp_context=self._ctx)
        return self._pool

    def run(
        self, objective: Callable[[np.ndarray], float], xs: Sequence[np.ndarray]
    ) -> Iterator[tuple[int, Outcome]]:
        started = time.time()
        pool = self._get_pool()
        futures = {pool.submit(evaluate_mask, objective, np.asarray(x)): i for i, x in enumerate(xs)}
        broken = False
        for fut in cf.as_completed(futures):
            i = futures[fut]
            try:
                yield i, fut.result()
            except cf.process.BrokenProcessPool as exc:
                broken = True
                yield i, _failure(exc, started)
            except Exception as exc:  # noqa: BLE001 - e.g. a result that cannot be unpickled
                yield i, _failure(exc, started)
        if broken:
            self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class RayExecutor(Executor):
    """Evaluates a batch as Ray tasks, on a local Ray instance or a cluster.

    If Ray is not initialized, ``ray.init`` is called with `address`, `num_cpus` and
    `init_kwargs` (a local instance when `address` is ``None``) and shut down again by
    :meth:`close`; an already-initialized Ray is used as is and left running.

    Args:
        address: Ray cluster address (``"auto"``, ``"ray://host:10001"``) or ``None`` for a
            new local instance.
        num_cpus: CPUs of a new local instance.
        cpus_per_task: CPUs reserved by each evaluation.
        gpus_per_task: GPUs reserved by each evaluation.
        init_kwargs: further keyword arguments of ``ray.init``.
    """

    def __init__(
        self,
        address: str | None = None,
        num_cpus: int | None = None,
        cpus_per_task: float = 1.0,
        gpus_per_task: float = 0.0,
        init_kwargs: dict[str, Any] | None = None,
    ) -> None:
        try:
            import ray
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImportError("executor='ray' needs Ray: pip install 'reram[ray]'") from exc
        self._ray = ray
        self._owns_ray = False
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            kwargs.update(init_kwargs or {})
            ray.init(address=address, num_cpus=num_cpus, **kwargs)
            self._owns_ray = True
        self.max_parallel = max(1, int(ray.available_resources().get("CPU", 1) // cpus_per_task))
        self._remote = ray.remote(num_cpus=cpus_per_task, num_gpus=gpus_per_task, max_retries=0)(
            evaluate_mask
        )

    def run(
        self, objective: Callable[[np.ndarray], float], xs: Sequence[np.ndarray]
    ) -> Iterator[tuple[int, Outcome]]:
        ray = self._ray
        started = time.time()
        obj_ref = ray.put(objective)
        refs = {self._remote.remote(obj_ref, np.asarray(x)): i for i, x in enumerate(xs)}
        waiting = list(refs)
        while waiting:
            done, waiting = ray.wait(waiting, num_returns=1)
            for ref in done:
                try:
                    yield refs[ref], ray.get(ref)
                except Exception as exc:  # noqa: BLE001 - worker crash, lost object, ...
                    yield refs[ref], _failure(exc, started)

    def close(self) -> None:
        if self._owns_ray and self._ray.is_initialized():
            self._ray.shutdown()
        self._owns_ray = False


def make_executor(spec: str | Executor | None, batch_size: int) -> tuple[Executor, bool]:
    """Build the executor named by `spec`.

    Args:
        spec: ``None`` or ``"inprocess"``, ``"process"``, ``"ray"``, or an ``Executor``.
        batch_size: the batch size `q` (sets the process-pool size).

    Returns:
        ``(executor, owned)``; `owned` is True when the caller must close it.
    """
    if isinstance(spec, Executor):
        return spec, False
    if spec is None or spec == "inprocess":
        return InProcessExecutor(), True
    if spec == "process":
        return ProcessExecutor(max_workers=max(2, batch_size)), True
    if spec == "ray":
        return RayExecutor(), True
    raise ValueError(
        f"executor must be None, one of {EXECUTOR_NAMES} or an Executor instance, got {spec!r}"
    )
