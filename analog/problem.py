"""What every sizing method works on: a :class:`Problem` (the circuit, its specs, the simulation
budget, scoring and history) and its :class:`Evaluation` records.

Shared by :mod:`~reram.analog.sizing` (the front door, random and grid search),
:mod:`~reram.analog.bo` and :mod:`~reram.analog.rl`; it imports none of them.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Mapping

import numpy as np
from tqdm.auto import tqdm

from reram.io import json_safe

from .circuit import Circuit, Spec
from .evaluate import evaluate
from .process import Level1Process, SpiceModelCards

__all__ = ["Evaluation", "Problem", "BudgetExhausted", "SpecsMet", "VIOLATION_WEIGHT", "FOM_CAP"]

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
        return json_safe(asdict(self))


def _from_json(record: dict[str, Any]) -> Evaluation:
    metrics = {k: (math.nan if v is None else v) for k, v in record["metrics"].items()}
    fom = math.inf if record["fom"] is None else record["fom"]
    return Evaluation(index=record["index"], params=record["params"], metrics=metrics,
                      slacks=record["slacks"], feasible=record["feasible"], violation=record["violation"],
                      fom=fom, reward=record["reward"], seconds=record["seconds"],
                      elapsed_s=record.get("elapsed_s", 0.0))


class BudgetExhausted(Exception):
    """Raised inside a method when the simulation budget is used up."""


class SpecsMet(BudgetExhausted):
    """Raised after the first sizing that meets every spec when the run stops there
    (``stop_at_feasible``); a kind of :class:`BudgetExhausted`, so every method ends cleanly."""


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
        metrics_fn: computes the metrics of a sizing instead of :func:`evaluate` (e.g. the worst
            case over corners).
        stop_at_feasible: end the run (raise :class:`SpecsMet`) after the first sizing that
            meets every spec.
    """

    def __init__(self, circuit: Circuit, specs: tuple[Spec, ...], backend: str, budget: int,
                 process: Level1Process | SpiceModelCards | None = None, progress: bool = True,
                 replay: list[Evaluation] | None = None,
                 on_record: Callable[[list[Evaluation]], None] | None = None, timeout_s: float = 30.0,
                 metrics_fn: Callable[[dict[str, float]], dict[str, Any]] | None = None,
                 stop_at_feasible: bool = False) -> None:
        self.circuit = circuit
        self.specs = specs
        self.backend = backend
        self.budget = budget
        self.process = process
        self.timeout_s = timeout_s
        self.metrics_fn = metrics_fn
        self.stop_at_feasible = stop_at_feasible
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
            BudgetExhausted: when the budget is already spent; :class:`SpecsMet` when the specs
                were met and ``stop_at_feasible`` is set.
        """
        if self.stop_at_feasible and any(h.feasible for h in self.history[-1:]):
            raise SpecsMet
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
            if self.metrics_fn is not None:
                metrics = self.metrics_fn(params)
            else:
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
        if self.stop_at_feasible and record.feasible:
            raise SpecsMet
        return record

    def best(self) -> Evaluation | None:
        """Best so far: feasible with the lowest FoM, else the smallest violation."""
        if not self.history:
            return None
        return min(self.history, key=lambda e: (0, e.fom) if e.feasible else (1, e.violation + 1e-6 * e.fom))

    def close(self) -> None:
        """Close the progress bar."""
        self._bar.close()
