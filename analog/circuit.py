"""Circuit definitions: design variables, specs, targets, devices and netlist generation.

A :class:`Circuit` is a fixed topology whose device sizes and bias values are design variables.
It renders a SPICE netlist whose element values are brace expressions of ``.param`` lines
(``W={W1*1e-6}``), declares the analyses its metrics need and turns simulation vectors into
metrics with SI units in their names. Imports only :mod:`.process` and :mod:`.ngspice`
(for the analysis and result types).
"""
from __future__ import annotations

import copy
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from .ngspice import Analyses, SimResult
from .process import L2DC_PROCESS, Level1Process, SpiceModelCards, model_name

__all__ = ["Variable", "Spec", "Target", "Mosfet", "Circuit", "response_metrics", "parse_specs",
           "NOMINAL_TEMPERATURE_C"]

NOMINAL_TEMPERATURE_C = 27.0
"""SPICE's default simulation (and model-card nominal) temperature."""


@dataclass(frozen=True)
class Variable:
    """One design variable.

    Attributes:
        name: parameter name used in netlists and ``params`` dicts (e.g. ``"W1"``).
        low: lower bound (inclusive), in ``unit``.
        high: upper bound (inclusive), in ``unit``.
        unit: ``"um"`` (widths), ``"ohm"`` or ``"V"``.
        log: whether optimizers should search it on a log scale.
    """

    name: str
    low: float
    high: float
    unit: str = "um"
    log: bool = True

    def check(self, value: object) -> float:
        """Return ``value`` as a float, or raise ``ValueError`` if it is outside the range."""
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ValueError(f"{self.name} must be a number in {self.unit}, got {value!r}") from None
        tolerance = 1e-9 * max(abs(self.low), abs(self.high))
        if not (math.isfinite(number) and self.low - tolerance <= number <= self.high + tolerance):
            raise ValueError(f"{self.name} must be in [{self.low:g}, {self.high:g}] {self.unit}, got {value!r}")
        return number

    def to_unit(self, value: float) -> float:
        """Map a value in range to [0, 1] (log-scaled when ``log``)."""
        if self.log:
            return (math.log(value) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        return (value - self.low) / (self.high - self.low)

    def from_unit(self, u: float) -> float:
        """Map ``u`` in [0, 1] back into the range (inverse of :meth:`to_unit`)."""
        u = min(max(float(u), 0.0), 1.0)
        if self.log:
            return float(math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low))))
        return float(self.low + u * (self.high - self.low))


@dataclass(frozen=True)
class Spec:
    """A hard specification ``metric op value`` (``op`` is ``">="`` or ``"<="``)."""

    metric: str
    op: str
    value: float

    def __post_init__(self) -> None:
        if self.op not in (">=", "<="):
            raise ValueError(f"spec op for {self.metric} must be '>=' or '<=', got {self.op!r}")
        if not math.isfinite(self.value):
            raise ValueError(f"spec value for {self.metric} must be finite, got {self.value!r}")

    def slack(self, metrics: Mapping[str, object]) -> float:
        """Normalized margin in [-1, 1]: > = 0 when met, (m - v)/(|m| + |v|) for ``>=``.

        A failed simulation (metric missing or not finite) gives -1, the worst value.
        """
        value = metrics.get(self.metric)
        if not isinstance(value, (int, float)) or not math.isfinite(float(value)):
            return -1.0
        m = float(value)
        denom = abs(m) + abs(self.value)
        if denom == 0:
            return 0.0
        diff = m - self.value if self.op == ">=" else self.value - m
        return max(-1.0, min(1.0, diff / denom))

    def met(self, metrics: Mapping[str, object]) -> bool:
        """Whether the spec is satisfied."""
        return self.slack(metrics) >= 0.0

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"


@dataclass(frozen=True)
class Target:
    """A quantity to minimize once the specs are met; ``scale`` normalizes it (figure of merit
    = sum of metric / scale over the targets)."""

    metric: str
    scale: float


def parse_specs(specs: object, circuit: "Circuit") -> tuple[Spec, ...]:
    """Turn user specs into :class:`Spec` objects.

    Args:
        specs: ``None`` (the circuit's own), a sequence of :class:`Spec`, or a mapping
            ``{metric: (op, value)}`` / ``{metric: Spec}``.
        circuit: the circuit whose metrics the specs refer to.

    Raises:
        ValueError: for an unknown metric or a malformed entry.
    """
    if specs is None:
        return circuit.specs
    if isinstance(specs, Mapping):
        out = []
        for metric, entry in specs.items():
            if isinstance(entry, Spec):
                out.append(entry)
            elif isinstance(entry, (tuple, list)) and len(entry) == 2:
                out.append(Spec(str(metric), str(entry[0]), float(entry[1])))
            else:
                raise ValueError(f"spec for {metric} must be (op, value) such as ('>=', 1e6), got {entry!r}")
    else:
        out = list(specs)  # type: ignore[call-overload]
        if not all(isinstance(s, Spec) for s in out):
            raise ValueError("specs must be a mapping {metric: (op, value)} or a list of Spec")
    for spec in out:
        if spec.metric not in circuit.metric_names:
            raise ValueError(f"spec metric {spec.metric!r} is not a metric of {circuit.name}; "
                             f"allowed: {', '.join(circuit.metric_names)}")
    return tuple(out)


@dataclass(frozen=True)
class Mosfet:
    """One transistor instance.

    Attributes:
        name: instance name without the leading ``M``.
        drain, gate, source, bulk: node names.
        polarity: ``"n"`` or ``"p"``.
        width: a variable name (``"W1"``) or a fixed width in um.
        length_um: drawn length in um.
        multiplier: number of identical devices in parallel (SPICE ``m``).
    """

    name: str
    drain: str
    gate: str
    source: str
    bulk: str
    polarity: str
    width: str | float
    length_um: float
    multiplier: int = 1

    def width_um(self, params: Mapping[str, float]) -> float:
        """Width in um for these parameters."""
        return float(params[self.width]) if isinstance(self.width, str) else float(self.width)

    def line(self, diffusion_um: float) -> str:
        """The SPICE instance line, with brace expressions for a variable width."""
        w = self.width if isinstance(self.width, str) else f"{self.width:g}"
        ad = f"{{{w}*{2 * diffusion_um:g}e-12}}"
        pd = f"{{({4 * diffusion_um:g}+2*{w})*1e-6}}"
        mult = f" m={self.multiplier}" if self.multiplier != 1 else ""
        return (f"M{self.name} {self.drain} {self.gate} {self.source} {self.bulk} "
                f"{model_name(self.polarity, self.length_um)} W={{{w}*1e-6}} L={self.length_um:g}e-6 "
                f"AD={ad} AS={ad} PD={pd} PS={pd}{mult}")


def response_metrics(freq: np.ndarray, response: np.ndarray) -> dict[str, float]:
    """Low-frequency magnitude, -3 dB bandwidth and peaking of a frequency response.

    Args:
        freq: ``n``-dim increasing frequencies in Hz (the first one in the flat low-frequency part).
        response: ``n``-dim complex (or real magnitude) response.

    Returns:
        ``{"dc": |H(f0)|, "bandwidth_hz": first -3 dB crossing (log-interpolated; the last
        frequency if none), "peaking_db": max |H| over |H(f0)| in dB (>= 0)}``.
    """
    mag = np.abs(np.asarray(response))
    dc = float(mag[0])
    if dc <= 0 or not math.isfinite(dc):
        return {"dc": 0.0, "bandwidth_hz": 0.0, "peaking_db": 0.0}
    level = dc / math.sqrt(2.0)
    below = np.nonzero(mag < level)[0]
    if below.size == 0:
        bandwidth = float(freq[-1])
    else:
        k = int(below[0])
        if k == 0:
            bandwidth = float(freq[0])
        else:
            x0, x1 = math.log(freq[k - 1]), math.log(freq[k])
            y0, y1 = math.log(mag[k - 1]), math.log(mag[k])
            t = (math.log(level) - y0) / (y1 - y0) if y1 != y0 else 0.0
            bandwidth = float(math.exp(x0 + t * (x1 - x0)))
    peaking = float(20 * math.log10(max(float(mag.max()) / dc, 1.0)))
    return {"dc": dc, "bandwidth_hz": bandwidth, "peaking_db": peaking}


class Circuit(ABC):
    """A sizing problem: topology, variables with ranges, default specs and targets.

    Subclasses define the class attributes and :meth:`elements`, :meth:`analyses`,
    :meth:`metrics_from_sim`; :meth:`analytic_metrics` where hand equations exist.
    """

    name: str = ""
    description: str = ""
    variables: tuple[Variable, ...] = ()
    specs: tuple[Spec, ...] = ()
    targets: tuple[Target, ...] = ()
    metric_names: tuple[str, ...] = ()
    reference: dict[str, float] | None = None
    """A published or hand design (the expert sizing), if any."""
    fixed: dict[str, float] = {}
    """Fixed parameters (not optimized) written as ``.param`` lines too."""
    groups: tuple[tuple[str, ...], ...] = ()
    """Variables set together, in order, by the RL agent (one transistor group per step, as a
    signal travels through the circuit); empty means one variable per group."""
    supply_scale: float = 1.0
    """Supplies as a fraction of their nominal values (a supply corner, e.g. 0.9 or 1.1)."""
    temperature_c: float = NOMINAL_TEMPERATURE_C
    """Simulation temperature in C (written as ``.temp`` when not the nominal 27 C)."""

    def at_corner(self, supply_scale: float = 1.0, temperature_c: float = NOMINAL_TEMPERATURE_C) -> "Circuit":
        """A copy of this circuit with its supplies scaled and at another temperature.

        Raises:
            ValueError: for a supply scale outside (0, 2] or a temperature outside [-273.15, 500] C.
        """
        if not (isinstance(supply_scale, (int, float)) and 0 < supply_scale <= 2):
            raise ValueError(f"supply_scale must be in (0, 2], got {supply_scale!r}")
        if not (isinstance(temperature_c, (int, float)) and -273.15 < temperature_c <= 500):
            raise ValueError(f"temperature_c must be in (-273.15, 500] C, got {temperature_c!r}")
        out = copy.copy(self)
        out.supply_scale = float(supply_scale)
        out.temperature_c = float(temperature_c)
        return out

    @property
    def at_nominal(self) -> bool:
        """Whether the circuit is at the nominal supply and 27 C."""
        return self.supply_scale == 1.0 and self.temperature_c == NOMINAL_TEMPERATURE_C

    def variable_groups(self) -> tuple[tuple[str, ...], ...]:
        """:attr:`groups`, or one group per variable when none are declared."""
        return self.groups or tuple((name,) for name in self.variable_names)

    @property
    def variable_names(self) -> tuple[str, ...]:
        """Names of the design variables, in order."""
        return tuple(v.name for v in self.variables)

    def variable(self, name: str) -> Variable:
        """The variable called ``name``."""
        for var in self.variables:
            if var.name == name:
                return var
        raise ValueError(f"{name!r} is not a variable of {self.name}; allowed: {', '.join(self.variable_names)}")

    def check_params(self, params: Mapping[str, object]) -> dict[str, float]:
        """Validate a sizing: every variable present, in range, and no unknown keys.

        Raises:
            ValueError: naming the first bad or missing field.
        """
        if not isinstance(params, Mapping):
            raise ValueError(f"params must be a mapping of variable name to value, got {type(params).__name__}")
        unknown = sorted(set(params) - set(self.variable_names))
        if unknown:
            raise ValueError(f"unknown parameter {unknown[0]!r} for {self.name}; allowed: "
                             f"{', '.join(self.variable_names)}")
        missing = [n for n in self.variable_names if n not in params]
        if missing:
            raise ValueError(f"missing parameter {missing[0]!r} for {self.name}; required: "
                             f"{', '.join(self.variable_names)}")
        return {v.name: v.check(params[v.name]) for v in self.variables}

    @abstractmethod
    def devices(self) -> tuple[Mosfet, ...]:
        """The transistors."""

    @abstractmethod
    def elements(self) -> list[str]:
        """Non-transistor netlist lines (sources, resistors, capacitors), braces for parameters."""

    @abstractmethod
    def analyses(self, process: Level1Process | SpiceModelCards = L2DC_PROCESS) -> Analyses:
        """What the metrics need simulated (the process names the threshold vector)."""

    @abstractmethod
    def metrics_from_sim(self, sim: SimResult, params: Mapping[str, float],
                         process: Level1Process | SpiceModelCards = L2DC_PROCESS) -> dict[str, float | bool]:
        """Metrics of one sizing from its simulation vectors."""

    def analytic_metrics(self, params: Mapping[str, float],
                         process: Level1Process) -> dict[str, float | bool]:
        """Metrics from hand equations (square law, small-signal nodal analysis)."""
        raise ValueError(f"backend 'analytic' has no model of circuit {self.name!r}; use backend='ngspice'")

    def area_um2(self, params: Mapping[str, float]) -> float:
        """Sum of W*L over all transistors in um^2 (parallel devices counted each)."""
        return float(sum(d.width_um(params) * d.length_um * d.multiplier for d in self.devices()))

    def netlist(self, params: Mapping[str, object],
                process: Level1Process | SpiceModelCards = L2DC_PROCESS) -> str:
        """A complete SPICE netlist for ``params`` (checked first), ending in ``.end``."""
        values = self.check_params(params)
        devices = self.devices()
        lines = [f"* reram.analog circuit {self.name}"]
        if self.temperature_c != NOMINAL_TEMPERATURE_C:
            lines.append(f".temp {self.temperature_c:g}")
        lines += [f".param {k}={v:.10g}" for k, v in {**self.fixed, **values}.items()]
        lines += process.model_cards({(d.polarity, d.length_um) for d in devices})
        lines += self.elements()
        lines += [d.line(process.diffusion_um) for d in devices]
        lines.append(".end")
        return "\n".join(lines) + "\n"

    def device_op_vectors(self, process: Level1Process | SpiceModelCards = L2DC_PROCESS) -> tuple[str, ...]:
        """Operating-point vectors for the saturation check of every transistor."""
        out: list[str] = []
        for d in self.devices():
            out += [f"@m{d.name.lower()}[{q}]" for q in ("vgs", "vds", process.threshold_vector, "vdsat")]
        return tuple(out)

    def saturated_from_sim(self, sim: SimResult, process: Level1Process | SpiceModelCards = L2DC_PROCESS) -> bool:
        """True when every transistor is on and |V_DS| >= |V_DSAT| at the operating point."""
        for d in self.devices():
            key = f"@m{d.name.lower()}"
            vgs, vds = sim.op[f"{key}[vgs]"], sim.op[f"{key}[vds]"]
            von, vdsat = sim.op[f"{key}[{process.threshold_vector}]"], sim.op[f"{key}[vdsat]"]
            if abs(vgs) <= abs(von) or abs(vds) < abs(vdsat):
                return False
        return True

    def figure_of_merit(self, metrics: Mapping[str, object]) -> float:
        """Sum of target metrics over their scales (lower is better; ``inf`` if missing)."""
        total = 0.0
        for target in self.targets:
            value = metrics.get(target.metric)
            if not isinstance(value, (int, float)) or not math.isfinite(float(value)):
                return math.inf
            total += float(value) / target.scale
        return total

    def describe(self) -> str:
        """Multi-line summary: variables with ranges, specs and targets."""
        lines = [f"{self.name}: {self.description}"]
        lines += [f"  {v.name:<4} {v.low:g}..{v.high:g} {v.unit}" for v in self.variables]
        lines += [f"  spec   {s}" for s in self.specs]
        lines += [f"  target {t.metric} (scale {t.scale:g})" for t in self.targets]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Circuit {self.name}: {len(self.variables)} variables, specs {', '.join(map(str, self.specs))}>"
