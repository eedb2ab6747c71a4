"""``minimize_binary``: minimize a function of a 0/1 mask with BO or a baseline.

The loop (``reram.search.loop``) is the same for every method: ask the method for a batch of
`q` new masks, run the batch on an executor, record each evaluation as it finishes (checkpoint,
callback, progress bar), repeat until the budget is spent or the space is exhausted.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from .baselines import (
    EXHAUSTIVE_MAX_DIM,
    AnnealOptions,
    ExhaustiveSearch,
    GreedySearch,
    RandomSearch,
    SimulatedAnnealing,
)
from .executors import Executor
from .loop import check_common, run_loop
from .proposer import Proposer
from .records import EvalRecord, SearchResult

__all__ = ["minimize_binary", "METHODS", "default_n_init"]

#: The search methods ``minimize_binary`` accepts.
METHODS = ("bo", "cbo", "random", "greedy", "exhaustive", "anneal")


def default_n_init(method: str, dim: int, budget: int) -> int:
    """Size of the initial design when ``n_init=None``.

    ``bo``: ``min(20, dim)`` masks (at least 2; the BOCS/COMBO protocol uses 20 at d=24-25);
    ``cbo``: ``dim // 2`` (2 to 10: its model is also given the references);
    ``greedy``: 1 (a single start); ``anneal``: 5 (also sets the initial temperature);
    ``random`` and ``exhaustive``: 0 (they have no initial design). Never more than `budget`.
    """
    n = {"bo": max(2, min(20, dim)), "cbo": max(2, min(10, dim // 2)), "greedy": 1, "anneal": 5}.get(method, 0)
    return min(n, budget)


def _make_proposer(
    method: str, dim: int, seed: int, n_init: int, budget: int, options: Any
) -> Proposer:
    if method == "bo":
        from .bo import BayesianOptimization, BOOptions

        if options is not None and not isinstance(options, BOOptions):
            raise ValueError(f"options for method='bo' must be a BOOptions, got {type(options).__name__}")
        return BayesianOptimization(dim, seed, n_init, options)
    if method == "cbo":
        from .sparsest import CBOOptions, ConstrainedBO

        if not isinstance(options, CBOOptions):
            raise ValueError("method='cbo' needs options=CBOOptions(bound=...) (the feasibility bar)")
        return ConstrainedBO(dim, seed, n_init, options)
    if method == "anneal":
        if options is not None and not isinstance(options, AnnealOptions):
            raise ValueError(
                f"options for method='anneal' must be an AnnealOptions, got {type(options).__name__}"
            )
        return SimulatedAnnealing(dim, seed, n_init, budget, options)
    if options is not None:
        raise ValueError(f"method={method!r} takes no options, got {type(options).__name__}")
    if method == "random":
        return RandomSearch(dim, seed, n_init)
    if method == "greedy":
        return GreedySearch(dim, seed, n_init)
    return ExhaustiveSearch(dim, seed, n_init)


def _best(history: list[EvalRecord]) -> tuple[np.ndarray | None, float | None]:
    ok = [r for r in history if r.ok]
    if not ok:
        return None, None
    best = min(ok, key=lambda r: (r.y, r.index))
    return np.asarray(best.x, dtype=np.int64), float(best.y)  # type: ignore[arg-type]


def minimize_binary(
    objective: Callable[[np.ndarray], float],
    dim: int,
    budget: int,
    method: str = "bo",
    n_init: int | None = None,
    seed: int = 0,
    batch_size: int = 1,
    executor: str | Executor | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    callback: Callable[[EvalRecord], None] | None = None,
    progress: bool = False,
    options: Any = None,
) -> SearchResult:
    """Minimize `objective` over binary masks ``{0, 1}^dim``.

    Args:
        objective: maps a `dim`-array of 0/1 ``int64`` to a float (lower is better). An
            exception or a NaN/inf value is recorded as a failed evaluation (``y=None``, its
            error kept) and the search goes on; failures count against the budget and are left
            out of the BO model; their masks are never proposed again.
        dim: number of binary variables, >= 1.
        budget: total number of evaluations (initial design and failures included), >= 1.
            The search stops earlier if every mask has been evaluated.
        method: ``"bo"`` (Bayesian optimization, see ``reram.search.bo``), ``"cbo"`` (the
            sparsest mask whose value is at most a bound, ``reram.search.sparsest``), ``"random"``,
            ``"greedy"`` (one-flip local search), ``"exhaustive"`` (sparsest masks first,
            ``dim <= 20``) or ``"anneal"`` (simulated annealing).
        n_init: size of the initial design, ``1 <= n_init <= budget``; ``None`` picks a
            per-method default (see ``default_n_init``).
        seed: seed; one seed, one history (for a deterministic objective).
        batch_size: masks proposed and evaluated together (`q`), >= 1.
        executor: ``None``/``"inprocess"`` (default), ``"process"`` (local process pool,
            objective must be picklable), ``"ray"`` (needs ``pip install .[ray]``), or an
            ``Executor`` instance (not closed by this call).
        checkpoint: JSON file persisted atomically after every evaluation. If it exists, the
            search resumes from it (same method, dim, seed and n_init required): finished
            evaluations are not re-run and the history continues as if never interrupted.
        callback: called with each ``EvalRecord`` as it finishes (after it is checkpointed).
        progress: show a tqdm progress bar with the best value so far.
        options: method options, a ``BOOptions`` for ``"bo"``, a ``CBOOptions`` (required)
            for ``"cbo"`` or ``AnnealOptions`` for ``"anneal"``; ``None`` for defaults.

    Returns:
        A ``SearchResult`` with ``best_x`` (a `dim`-array), ``best_y`` and ``history`` (every
        evaluation in proposal order). ``best_x``/``best_y`` are ``None`` if all failed.

    Raises:
        ValueError: on a bad argument or an incompatible checkpoint, before any evaluation.

    Example:
        >>> res = minimize_binary(lambda x: float(abs(x.sum() - 2)), dim=6, budget=30,
        ...                       method="random", seed=0)
        >>> res.best_y
        0.0
    """
    # ---- validation, before any work
    check_common(objective, dim, budget, n_init, seed, batch_size, executor, callback,
                 checkpoint)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method == "exhaustive" and dim > EXHAUSTIVE_MAX_DIM:
        raise ValueError(
            f"dim must be <= {EXHAUSTIVE_MAX_DIM} for method='exhaustive', got dim={dim}"
        )
    dim, budget, seed, batch_size = int(dim), int(budget), int(seed), int(batch_size)
    n_init_eff = default_n_init(method, dim, budget) if n_init is None else int(n_init)
    proposer = _make_proposer(method, dim, seed, n_init_eff, budget, options)
    meta = {
        "method": method,
        "dim": dim,
        "seed": seed,
        "n_init": n_init_eff,
        "budget": budget,
        "batch_size": batch_size,
    }

    def postfix(history: list[EvalRecord]) -> dict[str, Any]:
        return {"best": _best(history)[1], "failed": sum(not r.ok for r in history)}

    t_start = time.perf_counter()
    history = run_loop(objective, proposer, meta, budget, batch_size, executor, checkpoint,
                       callback, postfix if progress else None)
    best_x, best_y = _best(history)
    return SearchResult(
        best_x=best_x,
        best_y=best_y,
        history=history,
        method=method,
        dim=dim,
        seed=seed,
        wall_time_s=time.perf_counter() - t_start,
        info=dict(proposer.info),
    )
