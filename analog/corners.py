"""Process, supply and temperature corners: one sizing simulated at every corner, worst case kept.

A :class:`Corner` names a process corner (two letters, NMOS then PMOS: ``t`` typical, ``f``
fast, ``s`` slow), a supply scale and a temperature. :meth:`Corner.apply` shifts the level-1
cards (fast: VTO magnitude -10 %, KP +10 %; slow: the opposite), the circuit's supplies
(``supply`` x nominal) and its temperature (ngspice ``.temp``; level-1 models then move VTO and
the mobility with temperature themselves). :func:`evaluate_corners` runs one sizing at every corner
in parallel worker processes (libngspice keeps global state, so processes, not threads) and
returns each corner's metrics and the worst case per metric.

Sources of the shifts: the +-10 % threshold shift follows the OpenRAM SCN4M_SUBM model files,
whose fast card is "a copy of nominal with -10% vth0" (OpenRAM, technology/scn4m_subm/models);
the +-10 % on KP (mobility) and the +-10 % supply are our assumptions, the usual textbook spread.
Imports only :mod:`.circuit`, :mod:`.evaluate`, :mod:`.library` and :mod:`.process` (never the sizing methods).
"""
from __future__ import annotations

import math
import multiprocessing as mp
import os
import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Mapping, Sequence

from .circuit import NOMINAL_TEMPERATURE_C, Circuit, Spec, parse_specs
from .evaluate import BACKENDS, evaluate
from .library import get_circuit
from .process import L2DC_PROCESS, Level1Process, MosParams, SpiceModelCards

__all__ = ["Corner", "CornerPool", "CornerResult", "PVT_CORNERS", "TYPICAL", "VTO_SHIFT", "KP_SHIFT",
           "corner_grid", "evaluate_corners", "parse_corners", "worst_case"]

VTO_SHIFT = 0.10
"""Relative threshold shift of a fast (-) or slow (+) device (OpenRAM SCN4M_SUBM corner files)."""
KP_SHIFT = 0.10
"""Relative KP (mobility) shift of a fast (+) or slow (-) device (our assumption)."""

_LETTERS = {"t": 0, "f": 1, "s": -1}


@dataclass(frozen=True)
class Corner:
    """One process/supply/temperature corner.

    Attributes:
        process: two letters, NMOS then PMOS, each ``t`` (typical), ``f`` (fast) or ``s`` (slow).
        supply: supplies as a fraction of nominal (0.9 and 1.1 for +-10 %).
        temp_c: temperature in C (-40, 27, 125 are the usual industrial set).
    """

    process: str = "tt"
    supply: float = 1.0
    temp_c: float = NOMINAL_TEMPERATURE_C

    def __post_init__(self) -> None:
        if not (isinstance(self.process, str) and len(self.process) == 2 and set(self.process) <= set(_LETTERS)):
            raise ValueError(f"corner process must be two letters of t/f/s (NMOS then PMOS, e.g. 'ff', 'sf'), "
                             f"got {self.process!r}")
        if not (isinstance(self.supply, (int, float)) and 0.5 <= self.supply <= 1.5):
            raise ValueError(f"corner supply must be a scale in [0.5, 1.5], got {self.supply!r}")
        if not (isinstance(self.temp_c, (int, float)) and -273.15 < self.temp_c <= 300):
            raise ValueError(f"corner temp_c must be in (-273.15, 300] C, got {self.temp_c!r}")

    @property
    def name(self) -> str:
        """A short label such as ``ss/0.9/125``."""
        return f"{self.process}/{self.supply:g}/{self.temp_c:g}"

    def __str__(self) -> str:
        return self.name

    @classmethod
    def parse(cls, text: str) -> "Corner":
        """Parse ``PROCESS[/SUPPLY[/TEMP_C]]``, e.g. ``"ss/0.9/125"``, ``"ff/1.1/-40"`` or ``"tt"``."""
        match = re.fullmatch(r"\s*([tfs]{2})(?:/([^/]+))?(?:/([^/]+))?\s*", str(text).lower())
        if not match:
            raise ValueError(f"corner must look like PROCESS/SUPPLY/TEMP_C, e.g. 'ss/0.9/125', got {text!r}")
        try:
            supply = float(match.group(2)) if match.group(2) else 1.0
            temp = float(match.group(3)) if match.group(3) else NOMINAL_TEMPERATURE_C
        except ValueError:
            raise ValueError(f"corner supply and temperature must be numbers, got {text!r}") from None
        return cls(match.group(1), supply, temp)

    def shift_process(self, process: Level1Process | SpiceModelCards) -> Level1Process | SpiceModelCards:
        """The device cards at this process corner.

        Raises:
            ValueError: for user SPICE cards at a non-typical corner (we cannot shift their
                parameters; give the foundry's corner cards instead).
        """
        if self.process == "tt":
            return process
        if not isinstance(process, Level1Process):
            raise ValueError(f"corner {self.name}: process corners shift level-1 cards only; for user cards "
                             "pass the foundry's corner cards as process= and use a 'tt' corner")
        return replace(process, name=f"{process.name}-{self.process}",
                       nmos=_shift(process.nmos, _LETTERS[self.process[0]]),
                       pmos=_shift(process.pmos, _LETTERS[self.process[1]]))

    def apply(self, circuit: Circuit, process: Level1Process | SpiceModelCards
              ) -> tuple[Circuit, Level1Process | SpiceModelCards]:
        """The circuit (supplies, temperature) and device cards at this corner."""
        return circuit.at_corner(self.supply, self.temp_c), self.shift_process(process)


def _shift(params: MosParams, speed: int) -> MosParams:
    """``speed`` +1 fast (lower |VTO|, higher KP), -1 slow, 0 typical."""
    return replace(params, vto=params.vto * (1 - speed * VTO_SHIFT), kp=params.kp * (1 + speed * KP_SHIFT))


TYPICAL = Corner()
"""The nominal corner: typical devices, nominal supply, 27 C."""

PVT_CORNERS: tuple[Corner, ...] = (
    TYPICAL,
    Corner("ff", 1.1, -40.0), Corner("ff", 1.1, 125.0),
    Corner("ss", 0.9, -40.0), Corner("ss", 0.9, 125.0),
    Corner("fs", 1.0, 27.0), Corner("sf", 1.0, 27.0),
)
"""Seven corners used for robust sizing: typical; fast devices with high supply and slow
devices with low supply, each cold and hot; and the two skewed process corners."""


def corner_grid(processes: Sequence[str] = ("tt", "ff", "ss", "fs", "sf"),
                supplies: Sequence[float] = (0.9, 1.0, 1.1),
                temps_c: Sequence[float] = (-40.0, 27.0, 125.0)) -> tuple[Corner, ...]:
    """Every combination (5 x 3 x 3 = 45 corners by default), for a full check of one sizing."""
    return tuple(Corner(p, s, t) for p in processes for s in supplies for t in temps_c)


def parse_corners(corners: Sequence[Corner | str] | str | None) -> tuple[Corner, ...]:
    """Corners from ``Corner`` objects or strings; ``"pvt"`` is :data:`PVT_CORNERS`, ``"grid"``
    :func:`corner_grid`; ``None`` means the typical corner only.

    Raises:
        ValueError: for a malformed corner or an empty list.
    """
    if corners is None:
        return (TYPICAL,)
    if isinstance(corners, str):
        if corners == "pvt":
            return PVT_CORNERS
        if corners == "grid":
            return corner_grid()
        corners = [c for c in corners.split(",") if c.strip()]
    out = tuple(c if isinstance(c, Corner) else Corner.parse(c) for c in corners)
    if not out:
        raise ValueError("corners must name at least one corner")
    return out


def worst_case(circuit: Circuit, specs: Sequence[Spec], per_corner: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The worst value of each metric over corners.

    ``>=`` specs take the minimum, ``<=`` specs and targets (power, area) the maximum, other
    numbers the maximum (e.g. peaking); ``saturated`` holds only if it holds at every corner and
    ``failed`` if any corner failed (its NaN metrics then make every spec fail).
    """
    direction = {t.metric: "max" for t in circuit.targets}
    direction.update({s.metric: ("min" if s.op == ">=" else "max") for s in specs})
    out: dict[str, Any] = {}
    for metric in circuit.metric_names:
        values = [m.get(metric) for m in per_corner]
        if metric == "saturated":
            out[metric] = all(bool(v) for v in values)
            continue
        numbers = [float(v) for v in values if isinstance(v, (int, float))]
        if len(numbers) < len(values) or any(math.isnan(v) for v in numbers):
            out[metric] = math.nan
            continue
        out[metric] = min(numbers) if direction.get(metric) == "min" else max(numbers)
    out["failed"] = any(bool(m.get("failed")) for m in per_corner)
    errors = [str(m["error"]) for m in per_corner if m.get("error")]
    if errors:
        out["error"] = errors[0]
    return out


def _evaluate_job(job: tuple[Any, ...]) -> dict[str, Any]:
    circuit, params, backend, process, timeout_s = job
    return evaluate(circuit, params, backend=backend, process=process, timeout_s=timeout_s)


class CornerPool:
    """Worker processes that simulate the corners of one sizing in parallel.

    ``workers=1`` runs in this process. Uses the ``fork`` start method (like the libngspice
    worker); each worker starts its own libngspice. Circuits must be picklable (defined at module
    level) when ``workers > 1``.

    Example:
        >>> with CornerPool(4) as pool:
        ...     metrics = pool.map(jobs)
    """

    def __init__(self, workers: int | None = None) -> None:
        if workers is None:
            workers = os.cpu_count() or 1
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def map(self, jobs: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
        """Evaluate ``(circuit, params, backend, process, timeout_s)`` jobs, results in order."""
        if self.workers == 1 or len(jobs) == 1:
            return [_evaluate_job(job) for job in jobs]
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=mp.get_context("fork"))
        return list(self._pool.map(_evaluate_job, jobs))

    def close(self) -> None:
        """Stop the workers."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> "CornerPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class CornerResult:
    """Outcome of :func:`evaluate_corners`.

    Attributes:
        corners: the corners' names, in order.
        metrics: each corner's metrics.
        worst: the worst case per metric (:func:`worst_case`).
        meets_specs: whether the worst case meets every spec.
    """

    corners: list[str]
    metrics: list[dict[str, Any]]
    worst: dict[str, Any]
    meets_specs: bool


def corner_jobs(circuit: Circuit, params: Mapping[str, float], corners: Sequence[Corner], backend: str,
                process: Level1Process | SpiceModelCards, timeout_s: float) -> list[tuple[Any, ...]]:
    """One evaluation job per corner (checked before any simulation)."""
    jobs = []
    for corner in corners:
        circ, proc = corner.apply(circuit, process)
        if backend == "analytic" and corner.temp_c != NOMINAL_TEMPERATURE_C:
            raise ValueError(f"corner {corner.name}: backend 'analytic' models {NOMINAL_TEMPERATURE_C:g} C only; "
                             "use backend='ngspice' for temperature corners")
        jobs.append((circ, dict(params), backend, proc, timeout_s))
    return jobs


def evaluate_corners(circuit: str | Circuit, params: Mapping[str, float],
                     corners: Sequence[Corner | str] | str = PVT_CORNERS, backend: str = "ngspice",
                     process: Level1Process | SpiceModelCards | None = None, specs: Any = None,
                     timeout_s: float = 30.0, workers: int | None = None,
                     pool: CornerPool | None = None) -> CornerResult:
    """Simulate one sizing at every corner (in parallel processes) and take the worst case.

    Args:
        circuit: a circuit name or :class:`Circuit`.
        params: the sizing.
        corners: :class:`Corner` objects or strings (``"ss/0.9/125"``), or ``"pvt"``/``"grid"``.
        backend: ``"ngspice"`` (every corner) or ``"analytic"`` (27 C corners only).
        process: nominal device cards (default the L2DC level-1 process).
        specs: the specs judged on the worst case (default the circuit's).
        timeout_s: limit of one simulation.
        workers: worker processes (default one per CPU, at most one per corner).
        pool: an open :class:`CornerPool` to reuse (``workers`` is then ignored).

    Returns:
        Each corner's metrics, the worst case and whether it meets the specs.

    Example:
        >>> res = evaluate_corners("tia3", circuits["tia3"].reference, corners="pvt")
        >>> res.worst["bandwidth_hz"], res.meets_specs
    """
    circ = get_circuit(circuit)
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    values = circ.check_params(params)
    spec_tuple = parse_specs(specs, circ)
    corner_list = parse_corners(corners)
    jobs = corner_jobs(circ, values, corner_list, backend, L2DC_PROCESS if process is None else process, timeout_s)
    own = pool is None
    pool = pool or CornerPool(min(workers or os.cpu_count() or 1, len(jobs)))
    try:
        per_corner = pool.map(jobs)
    finally:
        if own:
            pool.close()
    worst = worst_case(circ, spec_tuple, per_corner)
    meets = not worst["failed"] and all(spec.met(worst) for spec in spec_tuple)
    return CornerResult([c.name for c in corner_list], per_corner, worst, meets)
