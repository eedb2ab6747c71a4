"""Sizing: search the design variables of a circuit until its specs are met and its targets small.

All methods share one :class:`Problem`: it maps the unit cube (log-scaled where a variable says
so) to parameters, runs :func:`~reram.analog.evaluate.evaluate` within a simulation budget, scores
each sizing (normalized spec slacks, figure of merit), shows a progress bar and keeps a JSON
history that doubles as a checkpoint (``history_path``; ``resume=True`` replays it so an
interrupted run continues without re-simulating). Methods: ``random``, ``grid``, ``bo``
(BoTorch, constrained) and ``rl`` (actor-critic over transistor groups). Torch loads only for
``bo``/``rl``.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
from tqdm.auto import tqdm

from .circuit import Circuit, Spec, parse_specs
from .evaluate import BACKENDS, evaluate
from .library import get_circuit
from .process import Level1Process, SpiceModelCards

__all__ = ["METHODS", "Evaluation", "Problem", "SizingResult", "size", "VIOLATION_WEIGHT", "FOM_CAP"]

METHODS = ("random", "grid", "bo", "rl")
VIOLATION_WEIGHT = 10.0
"""Weight of the summed spec violation in the scalar reward (reward = -(FoM + 10 * violation))."""
FOM_CAP = 10.0
"""Figure of merit given to failed simulations (and the cap of the FoM term in the reward)."""


@dataclass
class Evaluation:
    """One simulated sizing.

    Attributes:
        index: 0-based position in the run.
        params: the sizing.
        metrics: the circuit's metrics (NaN and ``failed=True`` for a failed simulation).
        slacks: normalized spec margins in [-1, 1], one per spec (>= 0 when met).
        feasible: all specs met.
        violation: sum of the negative slacks' magnitudes (0 when feasible).
        fom: figure of merit (sum of targets over their scales; lower is better).
        reward: -(min(fom, FOM_CAP) + VIOLATION_WEIGHT * violation), what RL maximizes.
        seconds: wall time of the simulation.
        elapsed_s: wall time since the run started, at the end of this evaluation (includes the
            method's own overhead, e.g. fitting a GP).
    """

    index: int
    params: dict[str, float]
    metrics: dict[str, Any]
    slacks: list[float]
    feasible: bool
    violation: float
    fom: float
    reward: float
    seconds: float
    elapsed_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict (NaN and inf become ``None``)."""
        return _json_safe(asdict(self))


def _json_safe(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return _json_safe(value.item())
    return value


def _from_json(record: dict[str, Any]) -> Evaluation:
    metrics = {k: (math.nan if v is None else v) for k, v in record["metrics"].items()}
    fom = math.inf if record["fom"] is None else record["fom"]
    return Evaluation(index=record["index"], params=record["params"], metrics=metrics,
                      slacks=record["slacks"], feasible=record["feasible"], violation=record["violation"],
                      fom=fom, reward=record["reward"], seconds=record["seconds"],
                      elapsed_s=record.get("elapsed_s", 0.0))


class BudgetExhausted(Exception):
    """Raised inside a method when the simulation budget is used up."""


class Problem:
    """The evaluation interface every sizing method uses.

    Args:
        circuit: the circuit to size.
        specs: the hard specs (default the circuit's).
        backend: ``"analytic"`` or ``"ngspice"``.
        budget: the number of simulations allowed.
        process: device models (default the L2DC level-1 process).
        progress: show a tqdm progress bar.
        replay: earlier evaluations (a resumed run) returned instead of simulating while the
            method asks for the same parameters in the same order.
        on_record: called after each new evaluation (checkpointing).
        timeout_s: limit of one simulation.
    """

    def __init__(self, circuit: Circuit, specs: tuple[Spec, ...], backend: str, budget: int,
                 process: Level1Process | SpiceModelCards | None = None, progress: bool = True,
                 replay: list[Evaluation] | None = None,
                 on_record: Callable[[list[Evaluation]], None] | None = None, timeout_s: float = 30.0) -> None:
        self.circuit = circuit
        self.specs = specs
        self.backend = backend
        self.budget = budget
        self.process = process
        self.timeout_s = timeout_s
        self.history: list[Evaluation] = []
        self._replay = list(replay or [])
        self._on_record = on_record
        self._last = time.perf_counter()
        self._bar = tqdm(total=budget, desc=f"{circuit.name}", disable=not progress, leave=False)

    @property
    def dim(self) -> int:
        """Number of design variables."""
        return len(self.circuit.variables)

    @property
    def remaining(self) -> int:
        """Simulations left in the budget."""
        return self.budget - len(self.history)

    def decode(self, unit: np.ndarray) -> dict[str, float]:
        """Parameters for a point of the unit cube (``dim``-dim array)."""
        return {v.name: v.from_unit(float(u)) for v, u in zip(self.circuit.variables, np.asarray(unit).ravel())}

    def encode(self, params: Mapping[str, float]) -> np.ndarray:
        """The unit-cube point (``dim``-dim) of a sizing."""
        return np.array([v.to_unit(float(params[v.name])) for v in self.circuit.variables])

    def score(self, metrics: Mapping[str, Any]) -> tuple[list[float], bool, float, float, float]:
        """Slacks, feasibility, violation, FoM and reward of a metrics dict."""
        slacks = [spec.slack(metrics) for spec in self.specs]
        violation = float(sum(max(0.0, -s) for s in slacks))
        feasible = bool(not metrics.get("failed") and violation == 0.0)
        fom = FOM_CAP if metrics.get("failed") else self.circuit.figure_of_merit(metrics)
        reward = -(min(fom, FOM_CAP) + VIOLATION_WEIGHT * violation)
        return slacks, feasible, violation, fom, reward

    def evaluate_unit(self, unit: np.ndarray) -> Evaluation:
        """Evaluate the sizing at a unit-cube point (see :meth:`evaluate`)."""
        return self.evaluate(self.decode(np.clip(unit, 0.0, 1.0)))

    def evaluate(self, params: Mapping[str, float]) -> Evaluation:
        """Simulate one sizing, record it and return its evaluation.

        Raises:
            BudgetExhausted: when the budget is already spent.
        """
        if self.remaining <= 0:
            raise BudgetExhausted
        index = len(self.history)
        params = {k: float(v) for k, v in params.items()}
        record = None
        if self._replay:
            old = self._replay[0]
            if all(math.isclose(old.params[k], params[k], rel_tol=1e-9, abs_tol=1e-12) for k in params):
                record = self._replay.pop(0)
            else:
                self._replay.clear()  # the run diverged from the checkpoint: simulate from here
        if record is None:
            start = time.perf_counter()
            metrics = evaluate(self.circuit, params, backend=self.backend, process=self.process,
                               timeout_s=self.timeout_s)
            slacks, feasible, violation, fom, reward = self.score(metrics)
            now = time.perf_counter()
            offset = self.history[-1].elapsed_s if self.history else 0.0
            record = Evaluation(index, params, metrics, slacks, feasible, violation, fom, reward, now - start,
                                offset + now - self._last)
        self._last = time.perf_counter()
        self.history.append(record)
        if self._on_record is not None:
            self._on_record(self.history)
        best = self.best()
        self._bar.update(1)
        if best is not None:
            self._bar.set_postfix(feasible=best.feasible, fom=f"{best.fom:.3g}", refresh=False)
        return record

    def best(self) -> Evaluation | None:
        """Best so far: feasible with the lowest FoM, else the smallest violation."""
        if not self.history:
            return None
        return min(self.history, key=lambda e: (0, e.fom) if e.feasible else (1, e.violation + 1e-6 * e.fom))

    def close(self) -> None:
        """Close the progress bar."""
        self._bar.close()


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
        return _json_safe(asdict(self))


def _write_history(path: str, header: dict[str, Any], history: list[Evaluation]) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as handle:
        json.dump({**header, "history": [h.to_json() for h in history]}, handle)
    os.replace(tmp, path)


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
         options: Mapping[str, Any] | None = None) -> SizingResult:
    """Size a circuit with one method under a simulation budget.

    Args:
        circuit: a name from :data:`~reram.analog.circuits` or a :class:`Circuit`.
        specs: hard specs, ``{metric: (op, value)}`` or a list of :class:`Spec`; default the
            circuit's own.
        method: ``"random"``, ``"grid"``, ``"bo"`` or ``"rl"``.
        budget: number of simulations.
        backend: ``"analytic"`` or ``"ngspice"``.
        seed: seed of every random choice (one seed, one result).
        process: device models (default the L2DC level-1 process).
        history_path: JSON checkpoint, written every few seconds and at the end.
        resume: continue from ``history_path`` if it holds a run with the same circuit, method,
            backend and seed.
        progress: show a progress bar.
        timeout_s: limit of one simulation.
        options: method settings (BO: ``n_init``, ``num_restarts``, ``raw_samples``; RL:
            ``n_warmup``, ``noise_start``, ``noise_end``, ``critic_steps``, ``actor_steps``).

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
    replay: list[Evaluation] = []
    if resume and history_path and os.path.exists(history_path):
        with open(history_path) as handle:
            saved = json.load(handle)
        mismatch = [k for k in ("circuit", "method", "backend", "seed", "specs") if saved.get(k) != header[k]]
        if mismatch:
            raise ValueError(f"cannot resume {history_path}: its {mismatch[0]} is {saved.get(mismatch[0])!r}, "
                             f"not {header[mismatch[0]]!r}")
        replay = [_from_json(r) for r in saved["history"]]
    on_record = _Checkpoint(history_path, header) if history_path else None
    problem = Problem(circ, spec_tuple, backend, budget, process, progress, replay, on_record, timeout_s)
    start = time.perf_counter()
    try:
        runner = _runner(method)
        runner(problem, np.random.default_rng(seed), seed, options)
    except BudgetExhausted:
        pass
    finally:
        problem.close()
        if on_record is not None:
            on_record(problem.history, force=True)
    best = problem.best()
    assert best is not None
    return SizingResult(circuit=circ.name, method=method, backend=backend, seed=seed, budget=budget,
                        specs=header["specs"], best_params=best.params, best_metrics=best.metrics,
                        meets_specs=best.feasible, history=[h.to_json() for h in problem.history],
                        seconds=time.perf_counter() - start)


def _runner(method: str) -> Callable[[Problem, np.random.Generator, int, dict[str, Any]], None]:
    if method == "random":
        return run_random
    if method == "grid":
        return run_grid
    if method == "bo":
        from .bo import run_bo

        return run_bo
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
