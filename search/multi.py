"""``minimize_binary_multi``: multi-objective search over binary masks.

The objective returns `m` values to minimize together (say, error and the number of kept BN
layers, or minus the speedup). The search returns the Pareto front of everything it evaluated
and its hypervolume below a reference point, after each evaluation too, so methods can be
compared at equal budgets. Methods: ``"mobo"`` (multi-objective BO, ``reram.search.mobo``),
``"nsga2"`` (an NSGA-II-style evolutionary baseline, ``reram.search.nsga2``) and ``"random"``.
The loop, executors, failures, batches and checkpoint/resume are those of ``minimize_binary``.

Imports torch and BoTorch only when ``method="mobo"`` runs.
"""
from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .baselines import RandomSearch
from .executors import Executor
from .loop import check_common, run_loop
from .nsga2 import NSGA2, NSGA2Options
from .pareto import hypervolume, hypervolume_trace, pareto_mask
from .proposer import Proposer, successes
from .records import EvalRecord

__all__ = ["minimize_binary_multi", "MultiSearchResult", "MULTI_METHODS", "default_n_init_multi"]

#: The methods ``minimize_binary_multi`` accepts.
MULTI_METHODS = ("mobo", "nsga2", "random")


def default_n_init_multi(method: str, dim: int, budget: int, options: Any = None) -> int:
    """Initial design size when ``n_init=None``: ``mobo`` ``min(20, dim)`` (at least 2);
    ``nsga2`` the population size; ``random`` 0. Never more than `budget`."""
    if method == "mobo":
        n = max(2, min(20, dim))
    elif method == "nsga2":
        n = options.pop_size if isinstance(options, NSGA2Options) else NSGA2Options().pop_size
    else:
        n = 0
    return min(n, budget)


@dataclass
class MultiSearchResult:
    """What ``minimize_binary_multi`` returns.

    Attributes:
        pareto_x: the non-dominated masks evaluated, a `k x dim` int64 array (sorted by the
            first objective).
        pareto_y: their objective values, `k x m`.
        hypervolume: hypervolume of the front below `ref_point` (0.0 if nothing is below it).
        hypervolume_history: `n`-array, the hypervolume after each evaluation.
        ref_point: the reference point, `m` floats.
        history: every evaluation in proposal order (``y`` a list of `m` floats or ``None``).
        method: the search method.
        dim: number of bits.
        seed: seed of the search.
        wall_time_s: seconds the call took (for a resumed search, only the last call).
        info: method diagnostics (``mobo``: ``n_obs``, ``fit_s``, ``acq_s`` per batch).
    """

    pareto_x: np.ndarray
    pareto_y: np.ndarray
    hypervolume: float
    hypervolume_history: np.ndarray
    ref_point: list[float]
    history: list[EvalRecord]
    method: str
    dim: int
    seed: int
    wall_time_s: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_history(cls, history: list[EvalRecord], ref_point: Sequence[float], method: str,
                     dim: int, seed: int, wall_time_s: float = 0.0,
                     info: dict[str, Any] | None = None) -> MultiSearchResult:
        """Front, hypervolume and its trace computed from a history."""
        X, Y = successes(history)
        m = len(ref_point)
        if len(Y):
            keep = pareto_mask(Y)
            order = np.lexsort(Y[keep].T[::-1])
            px, py = X[keep][order].astype(np.int64), Y[keep][order]
        else:
            px, py = np.zeros((0, dim), dtype=np.int64), np.zeros((0, m))
        return cls(
            pareto_x=px, pareto_y=py, hypervolume=hypervolume(py, ref_point),
            hypervolume_history=hypervolume_trace([r.y if r.ok else None for r in history],
                                                  ref_point),
            ref_point=[float(v) for v in ref_point], history=history, method=method, dim=dim,
            seed=seed, wall_time_s=wall_time_s, info=dict(info or {}),
        )

    @property
    def n_failures(self) -> int:
        """Number of failed evaluations."""
        return sum(not r.ok for r in self.history)

    def to_dict(self) -> dict[str, Any]:
        """The result as a JSON-serializable dict."""
        return {
            "pareto_x": self.pareto_x.tolist(), "pareto_y": self.pareto_y.tolist(),
            "hypervolume": self.hypervolume,
            "hypervolume_history": self.hypervolume_history.tolist(),
            "ref_point": self.ref_point, "history": [r.to_dict() for r in self.history],
            "method": self.method, "dim": self.dim, "seed": self.seed,
            "wall_time_s": self.wall_time_s, "info": self.info,
        }

    def to_json(self) -> str:
        """The result as JSON text."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> MultiSearchResult:
        """Inverse of :meth:`to_json`."""
        d = json.loads(text)
        m = len(d["ref_point"])
        return cls(
            pareto_x=np.asarray(d["pareto_x"], dtype=np.int64).reshape(-1, int(d["dim"])),
            pareto_y=np.asarray(d["pareto_y"], dtype=float).reshape(-1, m),
            hypervolume=float(d["hypervolume"]),
            hypervolume_history=np.asarray(d["hypervolume_history"], dtype=float),
            ref_point=[float(v) for v in d["ref_point"]],
            history=[EvalRecord.from_dict(r) for r in d["history"]], method=d["method"],
            dim=int(d["dim"]), seed=int(d["seed"]), wall_time_s=float(d.get("wall_time_s", 0)),
            info=dict(d.get("info", {})),
        )


def _make_multi_proposer(method: str, dim: int, seed: int, n_init: int,
                         ref_point: list[float], options: Any) -> Proposer:
    if method == "mobo":
        from .mobo import MOBOOptions, MultiObjectiveBO

        if options is not None and not isinstance(options, MOBOOptions):
            raise ValueError(
                f"options for method='mobo' must be a MOBOOptions, got {type(options).__name__}")
        return MultiObjectiveBO(dim, seed, n_init, ref_point, options)
    if method == "nsga2":
        if options is not None and not isinstance(options, NSGA2Options):
            raise ValueError(
                f"options for method='nsga2' must be an NSGA2Options, got {type(options).__name__}")
        return NSGA2(dim, seed, n_init, options)
    if options is not None:
        raise ValueError(f"method={method!r} takes no options, got {type(options).__name__}")
    return RandomSearch(dim, seed, n_init)


def _check_ref_point(ref_point: Any) -> list[float]:
    try:
        ref = [float(v) for v in ref_point]
    except (TypeError, ValueError):
        raise ValueError(f"ref_point must be a sequence of numbers, got {ref_point!r}") from None
    if len(ref) < 2 or not all(math.isfinite(v) for v in ref):
        raise ValueError(f"ref_point must hold at least 2 finite numbers (one per objective), "
                         f"got {ref_point!r}")
    return ref


def minimize_binary_multi(
    objective: Callable[[np.ndarray], Sequence[float]],
    dim: int,
    budget: int,
    ref_point: Sequence[float],
    method: str = "mobo",
    n_init: int | None = None,
    seed: int = 0,
    batch_size: int = 1,
    executor: str | Executor | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    callback: Callable[[EvalRecord], None] | None = None,
    progress: bool = False,
    options: Any = None,
) -> MultiSearchResult:
    """Minimize `m` objectives of a binary mask together; return the Pareto front.

    Args:
        objective: maps a `dim`-array of 0/1 ``int64`` to `m` floats (each lower is better).
            An exception, a value of the wrong length, or a NaN/inf is a failed evaluation
            (recorded, counted against the budget, left out of models and of the front).
        dim: number of binary variables, >= 1.
        budget: total evaluations (initial design and failures included), >= 1.
        ref_point: `m` finite numbers, `m >= 2`, in objective units: the hypervolume counts
            the region dominated by the front and below this point (pick a point every
            acceptable result beats, e.g. the worst value of each objective you would accept).
        method: ``"mobo"``, ``"nsga2"`` or ``"random"``.
        n_init: initial design size (``None``: see ``default_n_init_multi``).
        seed: seed; one seed, one history (for a deterministic objective).
        batch_size: masks proposed and evaluated together (`q`), >= 1.
        executor: as for ``minimize_binary`` (``"process"``, ``"ray"``, an ``Executor``).
        checkpoint: JSON file persisted after every evaluation; resumes if it exists (same
            method, dim, seed, n_init and reference point required).
        callback: called with each ``EvalRecord`` as it finishes (after it is checkpointed).
        progress: show a tqdm bar with the hypervolume so far.
        options: ``MOBOOptions`` for ``"mobo"``, ``NSGA2Options`` for ``"nsga2"``.

    Returns:
        A ``MultiSearchResult`` (front, hypervolume, hypervolume after each evaluation,
        history).

    Raises:
        ValueError: on a bad argument or an incompatible checkpoint, before any evaluation.

    Example:
        >>> f = lambda x: [float(x.sum()), float((1 - x).sum())]
        >>> res = minimize_binary_multi(f, dim=4, budget=16, ref_point=[5, 5], method="random")
        >>> res.hypervolume
        15.0
    """
    check_common(objective, dim, budget, n_init, seed, batch_size, executor, callback,
                 checkpoint)
    if method not in MULTI_METHODS:
        raise ValueError(f"method must be one of {MULTI_METHODS}, got {method!r}")
    ref = _check_ref_point(ref_point)
    dim, budget, seed, batch_size = int(dim), int(budget), int(seed), int(batch_size)
    n_init_eff = (default_n_init_multi(method, dim, budget, options) if n_init is None
                  else int(n_init))
    proposer = _make_multi_proposer(method, dim, seed, n_init_eff, ref, options)
    meta = {"method": method, "dim": dim, "seed": seed, "n_init": n_init_eff, "budget": budget,
            "batch_size": batch_size, "n_objectives": len(ref), "ref_point": ref}

    def postfix(history: list[EvalRecord]) -> dict[str, Any]:
        _, Y = successes(history)
        return {"hv": hypervolume(Y, ref) if len(Y) else 0.0,
                "failed": sum(not r.ok for r in history)}

    t_start = time.perf_counter()
    history = run_loop(objective, proposer, meta, budget, batch_size, executor, checkpoint,
                       callback, postfix if progress else None, n_objectives=len(ref))
    return MultiSearchResult.from_history(history, ref, method, dim, seed,
                                          time.perf_counter() - t_start, proposer.info)
