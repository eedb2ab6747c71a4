"""One sizing in, its metrics out: ``evaluate(circuit, params, backend)``.

Backends: ``"analytic"`` (hand equations, microseconds; cs, two_stage, three_stage) and
``"ngspice"`` (level-1 cards of :data:`~reram.analog.process.L2DC_PROCESS` or user cards).
A simulation that fails or does not converge is returned as a record with ``failed=True`` and an
``error`` message, never raised; bad input raises ``ValueError`` before any work, and a missing
ngspice raises :class:`~reram.analog.ngspice.NgspiceNotFoundError` naming the packages.
"""
from __future__ import annotations

import math
from typing import Mapping

from .circuit import Circuit
from .library import get_circuit
from .ngspice import SimulationError, get_simulator
from .process import L2DC_PROCESS, Level1Process, SpiceModelCards

__all__ = ["evaluate", "BACKENDS"]

BACKENDS = ("analytic", "ngspice")


def evaluate(circuit: str | Circuit, params: Mapping[str, object], backend: str = "ngspice",
             process: Level1Process | SpiceModelCards | None = None, timeout_s: float = 30.0,
             ngspice_mode: str = "auto") -> dict[str, float | bool | str]:
    """Metrics of one sizing.

    Args:
        circuit: a circuit name from :data:`~reram.analog.circuits` or a :class:`Circuit`.
        params: every design variable by name; lengths in um (``W1=12.0``), resistances in ohm
            (``RB=291e3``), voltages in V.
        backend: ``"analytic"`` or ``"ngspice"``.
        process: device models; default the L2DC level-1 process.
        timeout_s: time limit of one simulation (ngspice).
        ngspice_mode: ``"auto"``, ``"shared"`` (libngspice) or ``"batch"`` (``ngspice -b``).

    Returns:
        The circuit's metrics with SI units in the names (for ``tia3``: ``transimpedance_ohm``,
        ``bandwidth_hz``, ``peaking_db``, ``power_w``, ``area_um2``, ``saturated``) plus
        ``failed`` (bool); a failed simulation has NaN metrics and an ``error`` string.

    Example:
        >>> m = evaluate("tia3", circuits["tia3"].reference, backend="ngspice")
        >>> m["power_w"] < 3e-3
        True
    """
    circ = get_circuit(circuit)
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    values = circ.check_params(params)
    proc = L2DC_PROCESS if process is None else process
    if not isinstance(proc, (Level1Process, SpiceModelCards)):
        raise ValueError(f"process must be a Level1Process or SpiceModelCards, got {type(proc).__name__}")
    if backend == "analytic":
        try:
            metrics = circ.analytic_metrics(values, proc)  # type: ignore[arg-type]
        except (ArithmeticError, RuntimeError) as exc:  # e.g. no bracketed DC solution
            return failure_record(circ, f"analytic model failed: {exc}")
        return {**metrics, "failed": False}
    simulator = get_simulator(ngspice_mode, timeout_s)
    try:
        sim = simulator.simulate(circ.netlist(values, proc), circ.analyses(proc))
        metrics = circ.metrics_from_sim(sim, values, proc)
    except SimulationError as exc:
        return failure_record(circ, str(exc))
    except (KeyError, ValueError, ArithmeticError) as exc:
        return failure_record(circ, f"could not read the simulation results: {exc}")
    return {**metrics, "failed": False}


def failure_record(circuit: Circuit, error: str) -> dict[str, float | bool | str]:
    """The record of a failed simulation: NaN metrics, ``failed=True`` and the error."""
    record: dict[str, float | bool | str] = {m: math.nan for m in circuit.metric_names}
    record["saturated"] = False
    record["failed"] = True
    record["error"] = error
    return record
