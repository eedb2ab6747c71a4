"""Executors that evaluate a batch of masks: in-process, a local process pool, and Ray.

An executor never raises because an evaluation failed: an exception, a NaN/inf, a value of the
wrong shape or a crashed worker becomes an ``Outcome`` with ``error`` set. A worker process
that dies mid-evaluation (killed, out of memory, ``os._exit``) costs that evaluation only: the
other evaluations running at the same time go on, the mask is run again on a fresh worker up
to ``max_retries`` times (default once) and then recorded as failed. Workers ignore Ctrl-C
(SIGINT): the driver handles it and stops them, so an interrupt prints no worker tracebacks.

Ray is imported only when a ``RayExecutor`` is created (``pip install .[ray]``).
"""
from __future__ import annotations

import math
import multiprocessing
import multiprocessing.connection as mpc
import pickle
import signal
import time
from abc import ABC, abstractmethod
from collections import deque
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
        y: the objective value (a float, or a list of `m` floats for `m` objectives),
            ``None`` on failure.
        error: ``None`` on success, else ``"<ExceptionType>: <message>"``.
        time_s: seconds the objective ran.
        started_at: wall-clock start (Unix seconds).
        finished_at: wall-clock end (Unix seconds).
    """

    y: float | list[float] | None
    error: str | None
    time_s: float
    started_at: float
    finished_at: float


def _check_value(value: Any, n_objectives: int | None) -> tuple[Any, str | None]:
    """The objective's value as a float (or list of floats) and an error, one of them None."""
    if n_objectives is None:
        try:
            y = float(value)
        except (TypeError, ValueError):
            return None, f"TypeError: objective returned {type(value).__name__}, expected a float"
        if not math.isfinite(y):
            return None, f"ValueError: objective returned {y}"
        return y, None
    try:
        arr = np.asarray(value, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        return None, (f"TypeError: objective returned {type(value).__name__}, expected "
                      f"{n_objectives} floats")
    if arr.shape != (n_objectives,):
        return None, (f"ValueError: objective returned {arr.size} values, expected "
                      f"{n_objectives}")
    if not np.all(np.isfinite(arr)):
        return None, f"ValueError: objective returned {arr.tolist()}"
    return [float(v) for v in arr], None


def evaluate_mask(
    objective: Callable[[np.ndarray], Any], x: np.ndarray, n_objectives: int | None = None
) -> Outcome:
    """Call the objective on one mask and catch what can go wrong.

    Args:
        objective: maps a `dim`-array of 0/1 ``int64`` to a float, or to `n_objectives`
            floats.
        x: the mask, a `dim`-array of 0/1.
        n_objectives: ``None`` for a scalar objective, else the length of its value vector.

    Returns:
        An ``Outcome``; an exception, a value that is not a real number (or not
        `n_objectives` of them), or a NaN/inf value is recorded as an error instead of raised.
        ``BaseException`` s that are not ``Exception`` (``KeyboardInterrupt``, ``SystemExit``)
        propagate.
    """
    started = time.time()
    t0 = time.perf_counter()
    y: Any = None
    error: str | None = None
    try:
        value = objective(np.asarray(x, dtype=np.int64).copy())
        y, error = _check_value(value, n_objectives)
    except Exception as exc:  # noqa: BLE001 - a failed evaluation is data, not a crash
        error = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
    elapsed = time.perf_counter() - t0
    return Outcome(y=y, error=error, time_s=elapsed, started_at=started, finished_at=time.time())


def _failure(exc: BaseException | str, started: float) -> Outcome:
    now = time.time()
    text = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
    msg = text.splitlines()[0][:500] if text else "error"
    return Outcome(y=None, error=msg, time_s=now - started, started_at=started, finished_at=now)


def _ignore_sigint() -> None:
    """Leave Ctrl-C to the driver (a worker that handled it would print a traceback)."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread of the process
        pass


class Executor(ABC):
    """Runs a batch of evaluations, possibly in parallel, yielding results as they finish."""

    #: How many evaluations can run at once.
    max_parallel: int = 1

    @abstractmethod
    def run(
        self,
        objective: Callable[[np.ndarray], Any],
        xs: Sequence[np.ndarray],
        n_objectives: int | None = None,
    ) -> Iterator[tuple[int, Outcome]]:
        """Evaluate every mask of the batch.

        Args:
            objective: the objective.
            xs: the `q` masks, each a `dim`-array.
            n_objectives: ``None`` for a scalar objective, else the number of objectives.

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
        self,
        objective: Callable[[np.ndarray], Any],
        xs: Sequence[np.ndarray],
        n_objectives: int | None = None,
    ) -> Iterator[tuple[int, Outcome]]:
        for i, x in enumerate(xs):
            yield i, evaluate_mask(objective, x, n_objectives)


def _worker_loop(conn: mpc.Connection) -> None:
    """Body of a pool worker: receive tasks, evaluate, send outcomes, until told to stop.

    A task is ``(task_id, token, payload, x, n_objectives)``; `payload` is the pickled
    objective when the worker does not hold the objective named `token` yet, else ``None``.
    """
    _ignore_sigint()
    objective: Any = None
    held: int | None = None
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        task_id, token, payload, x, n_objectives = msg
        if payload is not None:
            try:
                objective, held = pickle.loads(payload), token
            except Exception as exc:  # noqa: BLE001
                conn.send((task_id, _failure(exc, time.time())))
                continue
        if held != token:
            out = _failure("RuntimeError: worker does not hold the objective", time.time())
        else:
            out = evaluate_mask(objective, x, n_objectives)
        conn.send((task_id, out))


@dataclass
class _Worker:
    process: Any
    conn: mpc.Connection
    token: int | None = None
    task: tuple[int, int, float] | None = None  # (position in batch, attempt, started_at)


def _exit_text(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


class ProcessExecutor(Executor):
    """Evaluates a batch in parallel on a local pool of worker processes.

    The objective must be picklable (a module-level function or an instance of a
    module-level class); it is pickled once (the same object is not pickled again, so do not
    mutate it between batches) and sent to each worker once. Workers use the
    ``"spawn"`` start method by default, which is safe with torch. Each worker runs one
    evaluation at a time over its own pipe, so a worker that dies is known by its task: that
    mask is retried on a fresh worker (`max_retries` times) and then recorded as a failure
    ``"WorkerDied: ..."``; the other workers and their evaluations are not disturbed. Workers
    ignore SIGINT; an interrupted batch terminates the workers still busy.

    Args:
        max_workers: number of worker processes (default 2).
        mp_context: multiprocessing start method, ``"spawn"``, ``"forkserver"`` or ``"fork"``.
        max_retries: extra attempts for a mask whose worker died, >= 0.
    """

    def __init__(
        self, max_workers: int | None = None, mp_context: str = "spawn", max_retries: int = 1
    ) -> None:
        if max_workers is not None and (not isinstance(max_workers, int) or max_workers < 1):
            raise ValueError(f"max_workers must be a positive integer, got {max_workers!r}")
        if mp_context not in ("spawn", "forkserver", "fork"):
            raise ValueError(
                f"mp_context must be 'spawn', 'forkserver' or 'fork', got {mp_context!r}"
            )
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError(f"max_retries must be an integer >= 0, got {max_retries!r}")
        self.max_parallel = max_workers or 2
        self.max_retries = max_retries
        self._ctx = multiprocessing.get_context(mp_context)
        self._workers: list[_Worker] = []
        self._token = 0
        self._objective: Any = None
        self._payload = b""

    @property
    def pids(self) -> list[int]:
        """Process ids of the live workers."""
        return [w.process.pid for w in self._workers if w.process.is_alive()]

    def _start_worker(self) -> _Worker:
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(target=_worker_loop, args=(child,), daemon=True)
        previous = signal.getsignal(signal.SIGINT)  # None: set outside Python, cannot be put back
        try:  # a spawned interpreter keeps SIGINT ignored if it starts that way
            if previous is not None:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
        except ValueError:  # not the main thread
            previous = None
        try:
            process.start()
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        child.close()
        return _Worker(process=process, conn=parent)

    def _replace(self, worker: _Worker) -> _Worker:
        self._stop(worker, kill=True)
        fresh = self._start_worker()
        self._workers[self._workers.index(worker)] = fresh
        return fresh

    @staticmethod
    def _stop(worker: _Worker, kill: bool) -> None:
        if kill and worker.process.is_alive():
            worker.process.kill()
        else:
            try:
                worker.conn.send(None)
            except (OSError, ValueError):
                pass
        worker.process.join(timeout=5)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join(timeout=5)
        worker.conn.close()

    def run(
        self,
        objective: Callable[[np.ndarray], Any],
        xs: Sequence[np.ndarray],
        n_objectives: int | None = None,
    ) -> Iterator[tuple[int, Outcome]]:
        if objective is not self._objective:  # a new objective: pickled once, sent once per worker
            self._objective, self._payload = objective, pickle.dumps(objective)
            self._token += 1
        payload, token = self._payload, self._token
        while len(self._workers) < self.max_parallel:
            self._workers.append(self._start_worker())
        for w in list(self._workers):
            if not w.process.is_alive():
                self._replace(w)
        queue: deque[tuple[int, int]] = deque((i, 0) for i in range(len(xs)))
        try:
            while queue or any(w.task is not None for w in self._workers):
                for w in self._workers:
                    if w.task is None and queue:
                        i, attempt = queue.popleft()
                        send = payload if w.token != token else None
                        w.task = (i, attempt, time.time())
                        try:
                            w.conn.send((i, token, send, np.asarray(xs[i]), n_objectives))
                            w.token = token
                        except OSError:  # died before the task reached it: _collect sees it
                            pass
                busy = [w for w in self._workers if w.task is not None]
                mpc.wait([w.conn for w in busy] + [w.process.sentinel for w in busy])
                for w in busy:
                    yield from self._collect(w, queue)
        finally:  # interrupted (Ctrl-C, consumer gone): stop the evaluations still running
            for w in list(self._workers):
                if w.task is not None:
                    w.task = None
                    self._replace(w)

    def _collect(self, w: _Worker, queue: deque[tuple[int, int]]) -> Iterator[tuple[int, Outcome]]:
        """Outcome of worker `w` if it finished or died; requeue or fail a dead worker's task."""
        assert w.task is not None
        i, attempt, started = w.task
        try:
            if w.conn.poll():
                _, out = w.conn.recv()
                w.task = None
                yield i, out
                return
        except (EOFError, OSError):
            pass
        if w.process.is_alive():
            return
        w.process.join(timeout=5)
        code = w.process.exitcode
        w.task = None
        self._replace(w)
        if attempt < self.max_retries:
            queue.appendleft((i, attempt + 1))
        else:
            tries = attempt + 1
            yield i, _failure(
                f"WorkerDied: worker process {_exit_text(code)} during the evaluation "
                f"({tries} attempt{'s' if tries > 1 else ''})", started)

    def close(self) -> None:
        for w in self._workers:
            self._stop(w, kill=w.task is not None)
        self._workers = []


def _ray_evaluate(objective: Any, x: np.ndarray, n_objectives: int | None) -> Outcome:
    """Ray task body: quiet on Ctrl-C, then ``evaluate_mask``."""
    _ignore_sigint()
    return evaluate_mask(objective, x, n_objectives)


class RayExecutor(Executor):
    """Evaluates a batch as Ray tasks, on a local Ray instance or a cluster.

    If Ray is not initialized, ``ray.init`` is called with `address`, `num_cpus` and
    `init_kwargs` (a local instance when `address` is ``None``) and shut down again by
    :meth:`close`; an already-initialized Ray is used as is and left running. A task whose
    worker process dies (``WorkerCrashedError``, a lost node) is resubmitted `max_retries`
    times and then recorded as failed; the other tasks are not affected.

    Args:
        address: Ray cluster address (``"auto"``, ``"ray://host:10001"``) or ``None`` for a
            new local instance.
        num_cpus: CPUs of a new local instance.
        cpus_per_task: CPUs reserved by each evaluation.
        gpus_per_task: GPUs reserved by each evaluation.
        init_kwargs: further keyword arguments of ``ray.init``.
        max_retries: extra attempts for a mask whose worker died, >= 0.
    """

    def __init__(
        self,
        address: str | None = None,
        num_cpus: int | None = None,
        cpus_per_task: float = 1.0,
        gpus_per_task: float = 0.0,
        init_kwargs: dict[str, Any] | None = None,
        max_retries: int = 1,
    ) -> None:
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError(f"max_retries must be an integer >= 0, got {max_retries!r}")
        try:
            import ray
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImportError("executor='ray' needs Ray: pip install 'reram[ray]'") from exc
        self._ray = ray
        self._owns_ray = False
        self.max_retries = max_retries
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            kwargs.update(init_kwargs or {})
            ray.init(address=address, num_cpus=num_cpus, **kwargs)
            self._owns_ray = True
        self.max_parallel = max(1, int(ray.available_resources().get("CPU", 1) // cpus_per_task))
        self._remote = ray.remote(num_cpus=cpus_per_task, num_gpus=gpus_per_task, max_retries=0)(
            _ray_evaluate
        )

    def _is_worker_death(self, exc: BaseException) -> bool:
        errors = self._ray.exceptions
        kinds = tuple(getattr(errors, name) for name in
                      ("WorkerCrashedError", "NodeDiedError", "LocalRayletDiedError",
                       "ObjectLostError") if hasattr(errors, name))
        return isinstance(exc, kinds)

    def run(
        self,
        objective: Callable[[np.ndarray], Any],
        xs: Sequence[np.ndarray],
        n_objectives: int | None = None,
    ) -> Iterator[tuple[int, Outcome]]:
        ray = self._ray
        obj_ref = ray.put(objective)

        def submit(i: int, attempt: int) -> Any:
            ref = self._remote.remote(obj_ref, np.asarray(xs[i]), n_objectives)
            refs[ref] = (i, attempt, time.time())
            return ref

        refs: dict[Any, tuple[int, int, float]] = {}
        waiting = [submit(i, 0) for i in range(len(xs))]
        try:
            while waiting:
                done, waiting = ray.wait(waiting, num_returns=1)
                for ref in done:
                    i, attempt, started = refs.pop(ref)
                    try:
                        out = ray.get(ref)
                    except Exception as exc:  # noqa: BLE001 - worker crash, lost object, ...
                        if self._is_worker_death(exc) and attempt < self.max_retries:
                            waiting.append(submit(i, attempt + 1))
                            continue
                        text = f"{type(exc).__name__}: {exc}"
                        if self._is_worker_death(exc):
                            text = f"WorkerDied: {text} ({attempt + 1} attempts)"
                        out = _failure(text, started)
                    yield i, out
        finally:
            for ref in waiting:  # interrupted: do not leave evaluations running
                try:
                    ray.cancel(ref, force=True)
                except Exception:  # noqa: BLE001 - already finished or gone
                    pass

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
