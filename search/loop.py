"""The search loop shared by ``minimize_binary`` and ``minimize_binary_multi``.

Ask the proposer for a batch of `q` new masks, run the batch on an executor, record each
evaluation as it finishes (checkpoint, callback, progress bar), repeat until the budget is
spent or the space is exhausted. Also the argument checks both entry points share.

Imports neither torch nor BoTorch.
"""
from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .checkpoint import CheckpointState, check_compatible, load_checkpoint, save_checkpoint
from .executors import EXECUTOR_NAMES, Executor, ProcessExecutor, make_executor
from .proposer import Proposer
from .records import EvalRecord, mask_key

__all__ = ["check_int", "check_common", "run_loop"]


def check_int(name: str, value: Any, low: int) -> None:
    """Raise ``ValueError`` unless `value` is an integer (not a bool) >= `low`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def check_common(
    objective: Any,
    dim: Any,
    budget: Any,
    n_init: Any,
    seed: Any,
    batch_size: Any,
    executor: Any,
    callback: Any,
    checkpoint: Any,
) -> None:
    """The argument checks shared by the search entry points (one-line errors, no work)."""
    if not callable(objective):
        raise TypeError(f"objective must be callable, got {type(objective).__name__}")
    check_int("dim", dim, 1)
    check_int("budget", budget, 1)
    if n_init is not None:
        check_int("n_init", n_init, 1)
        if n_init > budget:
            raise ValueError(f"n_init must be <= budget, got n_init={n_init} and budget={budget}")
    check_int("seed", seed, 0)
    check_int("batch_size", batch_size, 1)
    if not (executor is None or isinstance(executor, Executor) or executor in EXECUTOR_NAMES):
        raise ValueError(
            f"executor must be None, one of {EXECUTOR_NAMES} or an Executor, got {executor!r}"
        )
    if callback is not None and not callable(callback):
        raise ValueError(f"callback must be callable or None, got {type(callback).__name__}")
    if checkpoint is not None and not Path(checkpoint).parent.is_dir():
        raise ValueError(f"checkpoint folder {str(Path(checkpoint).parent)!r} does not exist")
    if executor == "process" or isinstance(executor, ProcessExecutor):
        try:
            pickle.dumps(objective)
        except Exception as exc:  # noqa: BLE001
            raise ValueError(
                "objective must be picklable for executor='process' (define it at module "
                f"level): {exc}"
            ) from exc


def _resume(
    checkpoint: str | os.PathLike[str] | None,
    meta: dict[str, Any],
    proposer: Proposer,
    budget: int,
) -> tuple[list[EvalRecord], list[dict[str, Any]]]:
    if checkpoint is None:
        return [], []
    saved = load_checkpoint(checkpoint)
    if saved is None:
        return [], []
    check_compatible(checkpoint, saved.meta, meta)
    history = sorted(saved.history, key=lambda r: r.index)
    done = {r.index for r in history}
    pending = [p for p in saved.pending if p["index"] not in done]
    pending = pending[: max(0, budget - len(history))]
    proposer.load_state_dict(saved.state)
    return history, pending


def run_loop(
    objective: Callable[[np.ndarray], Any],
    proposer: Proposer,
    meta: dict[str, Any],
    budget: int,
    batch_size: int,
    executor: str | Executor | None,
    checkpoint: str | os.PathLike[str] | None,
    callback: Callable[[EvalRecord], None] | None,
    progress: Callable[[list[EvalRecord]], dict[str, Any]] | None,
    n_objectives: int | None = None,
) -> list[EvalRecord]:
    """Run a search to its budget, resuming from `checkpoint` if it exists.

    Args:
        objective: the objective (scalar, or `n_objectives` values).
        proposer: the search method.
        meta: search settings written to the checkpoint (``method``, ``dim``, ``seed``,
            ``n_init`` must match on resume).
        budget: total evaluations.
        batch_size: masks per ask.
        executor: see ``make_executor``.
        checkpoint: JSON path or ``None``.
        callback: called with each record after it is checkpointed.
        progress: ``None`` for no bar, else a function of the history giving the bar's postfix.
        n_objectives: ``None`` for a scalar objective.

    Returns:
        Every evaluation, sorted by index.
    """
    history, pending = _resume(checkpoint, meta, proposer, budget)
    excluded = {mask_key(r.x) for r in history} | {mask_key(p["x"]) for p in pending}
    next_index = 1 + max([r.index for r in history] + [p["index"] for p in pending] + [-1])
    n_batch = 1 + max([r.batch for r in history] + [p["batch"] for p in pending] + [-1])

    def persist() -> None:
        if checkpoint is not None:
            save_checkpoint(checkpoint, CheckpointState(
                meta=meta, history=history, pending=pending, state=proposer.state_dict()))

    bar = None
    if progress is not None:
        from tqdm.auto import tqdm

        bar = tqdm(total=budget, initial=len(history), desc=f"search[{meta['method']}]",
                   unit="eval")
    runner, owned = make_executor(executor, batch_size)
    try:
        while True:
            if not pending:
                remaining = budget - len(history)
                if remaining <= 0:
                    break
                xs = proposer.ask(history, min(batch_size, remaining), excluded)
                if len(xs) == 0:
                    break  # the space is exhausted
                for x in xs:
                    x_list = [int(v) for v in x]
                    pending.append({"index": next_index, "x": x_list, "batch": n_batch})
                    excluded.add(mask_key(x_list))
                    next_index += 1
                n_batch += 1
                persist()
            batch = list(pending)
            for i, out in runner.run(objective, [np.asarray(p["x"]) for p in batch],
                                     n_objectives):
                p = batch[i]
                rec = EvalRecord(
                    index=p["index"], x=p["x"], y=out.y, error=out.error, time_s=out.time_s,
                    started_at=out.started_at, finished_at=out.finished_at, batch=p["batch"],
                )
                history.append(rec)
                pending = [q for q in pending if q["index"] != rec.index]
                persist()
                if bar is not None and progress is not None:
                    bar.update(1)
                    bar.set_postfix(**progress(history))
                if callback is not None:
                    callback(rec)
            history.sort(key=lambda r: r.index)
            pending = []
    finally:
        if owned:
            runner.close()
        if bar is not None:
            bar.close()
    return history
