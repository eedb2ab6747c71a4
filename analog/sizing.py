"""Sizing: search the design variables of a circuit until its specs are met and its targets small.

All methods share one :class:`Problem`: it maps the unit cube (log-scaled where a variable says
so) to parameters, runs :func:`~reram.analog.evaluate.evaluate` within a simulation budget, scores
each sizing (normalized spec slacks, figure of merit), shows a progress bar and keeps a JSON
history that doubles as a checkpoint (``history_path``; ``resume=True`` replays it so an
interrupted run continues without re-simulating). Methods: ``random``, ``grid``, ``bo``
(BoTorch, constrained), ``rl`` (actor-critic over transistor groups) and ``rl-transfer`` (a
spec-conditioned policy trained once by :func:`~reram.analog.transfer.train_policy`). With
``corners`` every sizing is simulated at each corner (in parallel worker processes) and judged on
the worst case. Torch loads only for ``bo``/``rl``/``rl-transfer``.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from reram.io import atomic_write_json, json_safe

from .circuit import Circuit, Spec, parse_specs
from .corners import Corner, CornerPool, corner_jobs, parse_corners, worst_case
from .evaluate import BACKENDS
from .library import get_circuit
from reram.io import read_json

from .problem import BudgetExhausted, Evaluation, Problem, _from_json
from .process import Level1Process, SpiceModelCards

__all__ = ["METHODS", "SizingResult", "size", "deploy"]

METHODS = ("random", "grid", "bo", "rl", "rl-transfer")
@dataclass
class SizingResult:
    """Outcome of :func:`size`.

    Attributes:
        circuit: circuit name.
        method: sizing method.
        backend: simulator backend.
        seed: random seed.
        budget: simulations allowed.
        specs: the hard specs as strings.
        best_params: best sizing found (feasible with lowest FoM, else least violating).
        best_metrics: its metrics.
        meets_specs: whether ``best_params`` meets every spec.
        history: every evaluation in order (JSON-safe dicts).
        seconds: wall time of the run.
    """

    circuit: str
    method: str
    backend: str
    seed: int
    budget: int
    specs: list[str]
    best_params: dict[str, float]
    best_metrics: dict[str, Any]
    meets_specs: bool
    history: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def first_feasible(self) -> int | None:
        """Number of simulations until the first sizing meeting all specs (``None`` if never)."""
        return next((h["index"] + 1 for h in self.history if h["feasible"]), None)

    def simulations_to_beat(self, fom: float) -> int | None:
        """Simulations until a feasible sizing with a FoM below ``fom`` (``None`` if never)."""
        return next((h["index"] + 1 for h in self.history
                     if h["feasible"] and h["fom"] is not None and h["fom"] < fom), None)

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict of everything."""
        return json_safe(asdict(self))


def _write_history(path: str, header: dict[str, Any], history: list[Evaluation]) -> None:
    atomic_write_json(path, {**header, "history": [h.to_json() for h in history]}, indent=None)


class _Checkpoint:
    """Writes the history JSON at most every ``every_s`` seconds (and when forced)."""

    def __init__(self, path: str, header: dict[str, Any], every_s: float = 5.0) -> None:
        self.path, self.header, self.every_s = path, header, every_s
        self._last = -math.inf

    def __call__(self, history: list[Evaluation], force: bool = False) -> None:
        now = time.perf_counter()
        if force or now - self._last >= self.every_s:
            _write_history(self.path, self.header, history)
            self._last = now


def _check_int(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def size(circuit: str | Circuit, specs: Mapping[str, Any] | list[Spec] | None = None, method: str = "random",
         budget: int = 100, backend: str = "ngspice", seed: int = 0,
         process: Level1Process | SpiceModelCards | None = None, history_path: str | None = None,
         resume: bool = False, progress: bool = True, timeout_s: float = 30.0,
         options: Mapping[str, Any] | None = None, corners: Any = None, workers: int | None = None,
         stop_at_feasible: bool = False) -> SizingResult:
    """Size a circuit with one method under a simulation budget.

    Args:
        circuit: a name from :data:`~reram.analog.circuits` or a :class:`Circuit`.
        specs: hard specs, ``{metric: (op, value)}`` or a list of :class:`Spec`; default the
            circuit's own.
        method: ``"random"``, ``"grid"``, ``"bo"``, ``"rl"`` or ``"rl-transfer"``.
        budget: number of sizings (each one simulation, or one per corner with ``corners``).
        backend: ``"analytic"`` or ``"ngspice"``.
        seed: seed of every random choice (one seed, one result).
        process: device models (default the L2DC level-1 process).
        history_path: JSON checkpoint, written every few seconds and at the end.
        resume: continue from ``history_path`` if it holds a run with the same circuit, method,
            backend and seed.
        progress: show a progress bar.
        timeout_s: limit of one simulation.
        options: method settings (BO: ``n_init``, ``num_restarts``, ``raw_samples``; RL:
            ``n_warmup``, ``noise_start``, ``noise_end``, ``critic_steps``, ``actor_steps``;
            rl-transfer: ``policy`` (required), see :data:`~reram.analog.transfer.DEPLOY_DEFAULTS`).
        corners: simulate every sizing at these corners (:class:`~reram.analog.corners.Corner`
            objects, strings such as ``"ss/0.9/125"``, or ``"pvt"``) and judge the worst case;
            each evaluation's metrics are the worst case, with every corner's under
            ``"corners"``. ``None``: the nominal corner only.
        workers: worker processes for the corners (default one per CPU, at most one per corner).
        stop_at_feasible: stop at the first sizing that meets every spec (deployment-style runs).

    Returns:
        The best sizing, its metrics, whether it meets the specs, and the history.

    Example:
        >>> res = size("tia3", method="bo", budget=150, seed=0)
        >>> res.meets_specs, res.best_metrics["power_w"]
    """
    circ = get_circuit(circuit)
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    budget = _check_int("budget", budget, 1)
    seed = _check_int("seed", seed, 0)
    spec_tuple = parse_specs(specs, circ)
    options = dict(options or {})
    if resume and not history_path:
        raise ValueError("resume=True needs a history_path to resume from")
    header = {"circuit": circ.name, "method": method, "backend": backend, "seed": seed, "budget": budget,
              "specs": [str(s) for s in spec_tuple]}
    corner_list = parse_corners(corners) if corners is not None else None
    if corner_list is not None:
        header["corners"] = [c.name for c in corner_list]
        corner_jobs(circ, circ.reference or {v.name: v.low for v in circ.variables}, corner_list, backend,
                    process or _default_process(), timeout_s)  # bad corners raise before any work
    replay: list[Evaluation] = []
    if resume and history_path and os.path.exists(history_path):
        saved = read_json(history_path, "history_path")
        mismatch = [k for k in ("circuit", "method", "backend", "seed", "specs", "corners")
                    if saved.get(k) != header.get(k)]
        if mismatch:
            raise ValueError(f"cannot resume {history_path}: its {mismatch[0]} is {saved.get(mismatch[0])!r}, "
                             f"not {header[mismatch[0]]!r}")
        replay = [_from_json(r) for r in saved["history"]]
    on_record = _Checkpoint(history_path, header) if history_path else None
    pool = CornerPool(min(workers or os.cpu_count() or 1, len(corner_list))) if corner_list else None
    metrics_fn = None
    if corner_list is not None and pool is not None:
        metrics_fn = _corner_metrics(circ, spec_tuple, corner_list, backend, process or _default_process(),
                                     timeout_s, pool)
    problem = Problem(circ, spec_tuple, backend, budget, process, progress, replay, on_record, timeout_s,
                      metrics_fn=metrics_fn, stop_at_feasible=stop_at_feasible)
    start = time.perf_counter()
    try:
        runner = _runner(method)
        runner(problem, np.random.default_rng(seed), seed, options)
    except BudgetExhausted:
        pass
    finally:
        problem.close()
        if pool is not None:
            pool.close()
        if on_record is not None:
            on_record(problem.history, force=True)
    best = problem.best()
    assert best is not None
    return SizingResult(circuit=circ.name, method=method, backend=backend, seed=seed, budget=budget,
                        specs=header["specs"], best_params=best.params, best_metrics=best.metrics,
                        meets_specs=best.feasible, history=[h.to_json() for h in problem.history],
                        seconds=time.perf_counter() - start)


def _default_process() -> Level1Process:
    from .process import L2DC_PROCESS

    return L2DC_PROCESS


def _corner_metrics(circ: Circuit, specs: tuple[Spec, ...], corners: tuple[Corner, ...], backend: str,
                    process: Level1Process | SpiceModelCards, timeout_s: float,
                    pool: CornerPool) -> Callable[[dict[str, float]], dict[str, Any]]:
    """The metrics function of a corner-aware run: worst case, every corner kept under ``corners``."""

    def metrics(params: dict[str, float]) -> dict[str, Any]:
        per_corner = pool.map(corner_jobs(circ, params, corners, backend, process, timeout_s))
        worst = worst_case(circ, specs, per_corner)
        worst["corners"] = {c.name: m for c, m in zip(corners, per_corner)}
        return worst

    return metrics


def _runner(method: str) -> Callable[[Problem, np.random.Generator, int, dict[str, Any]], None]:
    if method == "random":
        return run_random
    if method == "grid":
        return run_grid
    if method == "bo":
        from .bo import run_bo

        return run_bo
    if method == "rl-transfer":
        from .transfer import run_transfer

        return run_transfer
    from .rl import run_rl

    return run_rl


def run_random(problem: Problem, rng: np.random.Generator, seed: int, options: dict[str, Any]) -> None:
    """Uniform random search in the (log-scaled) unit cube."""
    if options:
        raise ValueError(f"method 'random' takes no options, got {sorted(options)}")
    while problem.remaining > 0:
        problem.evaluate_unit(rng.random(problem.dim))


def run_grid(problem: Problem, rng: np.random.Generator, seed: int, options: dict[str, Any]) -> None:
    """Grid search: ``levels`` cell-centred values per variable (log-scaled), default the fewest
    with at least ``budget`` points; when the grid is larger than the budget its points are
    visited in a seeded random order (a subset of the grid)."""
    unknown = set(options) - {"levels"}
    if unknown:
        raise ValueError(f"method 'grid' takes only the option 'levels', got {sorted(unknown)}")
    dim = problem.dim
    levels = options.get("levels") or max(2, math.ceil(problem.budget ** (1.0 / dim) - 1e-9))
    levels = _check_int("levels", levels, 2)
    total = levels**dim
    count = min(total, problem.budget)
    order = rng.permutation(total)[:count] if total <= 10**7 else rng.choice(total, count, replace=False)
    values = (np.arange(levels) + 0.5) / levels
    for flat in order:
        digits = np.unravel_index(int(flat), (levels,) * dim)
        problem.evaluate_unit(values[list(digits)])


def deploy(policy: Any, specs: Mapping[str, Any] | Sequence[Spec], budget: int = 50, seed: int = 0,
           backend: str | None = None, process: Level1Process | SpiceModelCards | None = None,
           history_path: str | None = None, progress: bool = False, timeout_s: float = 30.0,
           options: Mapping[str, Any] | None = None) -> SizingResult:
    """Size the policy's circuit for new specs, stopping as soon as they are met.

    Args:
        policy: a :class:`SpecPolicy` or the path of its file.
        specs: the target specs (every spec the policy was trained on, new values).
        budget: simulations allowed for this spec set.
        seed: seed of the candidates (one seed, one result).
        backend: default the one the policy was trained with.
        process, history_path, progress, timeout_s: as :func:`~reram.analog.sizing.size`.
        options: deployment options (:data:`DEPLOY_DEFAULTS`, ``policy`` aside).

    Returns:
        A :class:`~reram.analog.sizing.SizingResult`; ``first_feasible`` is the number of
        simulations this spec took (``None`` if not met within ``budget``).
    """
    from .transfer import SpecPolicy, load_policy

    if not isinstance(policy, SpecPolicy):
        policy = load_policy(policy)
    return size(policy.circuit, specs=specs, method="rl-transfer", budget=budget,
                backend=backend or policy.backend, seed=seed, process=process, history_path=history_path,
                progress=progress, timeout_s=timeout_s, stop_at_feasible=True,
                options={**(options or {}), "policy": policy})
