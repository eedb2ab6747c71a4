"""A chip's silicon: area and power of every component, at a stated technology node.

A chip file's ``"silicon"`` section (or the name of another preset whose section it shares)
lists the chip's *units* (an ADC, the DACs of a row, a crossbar array, a tile's eDRAM, the
link PHY...), each with its area and peak power at the section's ``node_nm`` and
``reference`` geometry, the part of that power that is always on, and its source.
:func:`components` counts the units of a :class:`~reram.cost.hardware.ReramSpec` and scales
each by physics:

- **ADC** energy and area by resolution from a survey model (:func:`adc_energy_j`,
  :func:`adc_area_mm2`): a Walden figure-of-merit term ``FoM x 2**bits`` plus a per-conversion
  floor (comparator, logic, references), least-squares fitted to the published converters of
  :data:`ADC_SURVEY`. A preset's own ADC anchors the absolute figure; the survey gives how it
  moves with bits (8 b costs 2.5x what 4 b costs, not 16x).
- **DAC** energy and area double per bit (:func:`dac_scale`; MNSIM 2.0's DAC table, derived
  from ISAAC, doubles them per bit from 1 to 4 bits and x4 per 2 bits above).
- **Arrays**: read power in proportion to cells (rows x cols) and mean cell conductance.
- **Registers**: input register with rows, output register with columns.
- **Node**: :func:`node_factors`: digital logic and memories shrink as L**2 in area and L in
  energy (C V**2 with C ~ L at a fixed supply); analog units (ADC, DAC, S+H) as L in area and
  not in energy (their energy is set by noise and matching, not by the feature size: the
  survey's energy per conversion has stalled with scaling); arrays as L**2 in area (cells of
  k F**2) and not in energy (set by conductance and read voltage); the link PHY not at all.

Options (stated, off by default as the anchors' sources count them): ``edram_refresh`` charges
the tile eDRAM's refresh as always-on power; ``link_always_on`` charges the link PHY's power
for the whole batch instead of per byte.

This module reads nothing but the standard library (the hardware module builds on it).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

__all__ = ["PublishedAdc", "ADC_SURVEY", "adc_energy_j", "adc_area_mm2", "adc_energy_scale",
           "adc_area_scale", "dac_scale", "node_factors", "Unit", "SiliconSpec", "Component",
           "components", "crossbar_area_mm2", "static_power_per_tile_w", "UNIT_PER", "UNIT_KINDS",
           "adc_bits_needed", "chip_static_power_w"]

#: What a unit is counted per.
UNIT_PER = ("cell", "row", "column", "adc", "crossbar", "tile", "chip")
#: How a unit scales with the technology node (see :func:`node_factors`).
UNIT_KINDS = ("digital", "memory", "analog", "array", "io")
#: What a unit's area and power scale with, besides its count.
UNIT_SCALES = ("adc_bits", "dac_bits", "rows", "cols", "conductance")


@dataclass(frozen=True)
class PublishedAdc:
    """One published converter of the survey fit."""

    bits: int
    rate_hz: float
    power_w: float
    area_mm2: float | None
    node_nm: float
    source: str

    @property
    def energy_j(self) -> float:
        """Energy per conversion, J."""
        return self.power_w / self.rate_hz


#: Published GS/s-class converters (the ones MNSIM 2.0 tabulates in
#: MNSIM/Hardware_Model/ADC.py, with the papers it cites, and ISAAC's). Their energies span
#: 0.7 pJ at 4 b to 4.6 pJ at 10 b: far from the 16x per 4 bits of a pure Walden scaling.
ADC_SURVEY: tuple[PublishedAdc, ...] = (
    PublishedAdc(10, 1.5e9, 6.92e-3, 1.6e-3, 14,
                 "'A 10b 1.5GS/s pipelined-SAR ADC with background second-stage common-mode "
                 "regulation and offset calibration in 14nm CMOS FinFET' (ISSCC 2017), as "
                 "tabulated by MNSIM 2.0 (6.92 mW, 1600 um2)"),
    PublishedAdc(8, 1.28e9, 2.0e-3, 1.2e-3, 32,
                 "ISAAC (Shafiee et al., ISCA 2016) Table 'ISAAC parameters': 8 ADCs 16 mW, "
                 "0.0096 mm2 at 1.28 GS/s (scaled from Kull et al., ISSCC 2013)"),
    PublishedAdc(8, 1.2e9, 3.1e-3, 1.5e-3, 32,
                 "Kull et al., 'A 3.1 mW 8b 1.2 GS/s single-channel asynchronous SAR ADC with "
                 "alternate comparators', ISSCC 2013 / JSSC 2013, 32 nm SOI"),
    PublishedAdc(8, 1.1e9, 4.0e-3, 1.65e-3, 28,
                 "'A >3GHz ERBW 1.1GS/s 8b two-step SAR ADC with recursive-weight DAC' (VLSI "
                 "2018), as tabulated by MNSIM 2.0 (4 mW, 1650 um2)"),
    PublishedAdc(6, 1.0e9, 1.26e-3, 5.8e-4, 28,
                 "'Area-efficient 1GS/s 6b SAR ADC with charge-injection-cell-based DAC' "
                 "(ISSCC 2016), as tabulated by MNSIM 2.0 (1.26 mW, 580 um2)"),
    PublishedAdc(4, 1.0e9, 0.7e-3, None, 28,
                 "MNSIM 2.0 ADC table entry 7 (4 b, 1 GS/s, 0.7 mW; its area entry repeats the "
                 "8 b one and is not used)"),
)


def _fit_floor_plus_walden(points: Sequence[tuple[int, float]]) -> tuple[float, float]:
    """``y = floor + fom * 2**bits`` over ``(bits, y)``, least squares on log y (relative
    errors: the survey spans a decade), by a grid over both parameters (deterministic)."""
    ys = [y for _, y in points]
    lo, hi = min(ys), max(ys)
    floors = [lo * 10 ** (-3 + 3.2 * i / 160) for i in range(161)]          # 1e-3 .. ~1.6 x min
    foms = [hi / 2.0 ** max(b for b, _ in points) * 10 ** (-3 + 3.2 * j / 160) for j in range(161)]
    best = (math.inf, 0.0, 0.0)
    for floor in floors:
        for fom in foms:
            err = sum((math.log(floor + fom * 2.0 ** b) - math.log(y)) ** 2 for b, y in points)
            if err < best[0]:
                best = (err, floor, fom)
    return best[1], best[2]


#: (floor J, Walden FoM J per step) fitted to :data:`ADC_SURVEY`'s energies.
ADC_ENERGY_FIT = _fit_floor_plus_walden([(a.bits, a.energy_j) for a in ADC_SURVEY])
#: (floor mm2, mm2 per step) fitted to the survey's areas.
ADC_AREA_FIT = _fit_floor_plus_walden([(a.bits, a.area_mm2) for a in ADC_SURVEY
                                       if a.area_mm2 is not None])


def _check_bits(bits: int, name: str = "bits") -> int:
    if isinstance(bits, bool) or not isinstance(bits, int) or bits < 1:
        raise ValueError(f"{name} must be an int >= 1, got {bits!r}")
    return bits


def adc_energy_j(bits: int) -> float:
    """Survey-model energy per conversion of a GS/s-class ADC of ``bits``, J:
    ``floor + FoM x 2**bits`` (:data:`ADC_ENERGY_FIT`)."""
    floor, fom = ADC_ENERGY_FIT
    return floor + fom * 2.0 ** _check_bits(bits)


def adc_area_mm2(bits: int) -> float:
    """Survey-model area of one ADC of ``bits``, mm2 (:data:`ADC_AREA_FIT`)."""
    floor, per_step = ADC_AREA_FIT
    return floor + per_step * 2.0 ** _check_bits(bits)


def adc_energy_scale(bits_from: int, bits_to: int) -> float:
    """How an ADC's energy per conversion moves from ``bits_from`` to ``bits_to``."""
    return adc_energy_j(bits_to) / adc_energy_j(bits_from)


def adc_area_scale(bits_from: int, bits_to: int) -> float:
    """How an ADC's area moves from ``bits_from`` to ``bits_to``."""
    return adc_area_mm2(bits_to) / adc_area_mm2(bits_from)


def dac_scale(bits_from: int, bits_to: int) -> float:
    """How a DAC's energy and area move with resolution: x2 per bit (MNSIM 2.0
    MNSIM/Hardware_Model/DAC.py, after ISAAC: 1 b 3.9 uW / 0.166 um2 ... 4 b 31.2 uW / 1.33 um2)."""
    return 2.0 ** (_check_bits(bits_to, "dac_bits") - _check_bits(bits_from, "dac_bits"))


def adc_bits_needed(rows: int, cell_bits: int, dac_bits: int) -> int:
    """ADC bits for a lossless column sum: ``rows x (2**cell_bits - 1) x (2**dac_bits - 1)``."""
    largest = rows * ((1 << cell_bits) - 1) * ((1 << dac_bits) - 1)
    return max(1, math.ceil(math.log2(largest + 1)))


def node_factors(kind: str, from_nm: float, to_nm: float) -> tuple[float, float]:
    """``(area factor, power factor)`` of a unit of ``kind`` moved from ``from_nm`` to ``to_nm``
    (first-order rules, see the module docstring)."""
    if kind not in UNIT_KINDS:
        raise ValueError(f"unit kind must be one of {UNIT_KINDS}, got {kind!r}")
    for value in (from_nm, to_nm):
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value) or value <= 0:
            raise ValueError(f"node_nm must be a finite number > 0, got {value!r}")
    s = to_nm / from_nm
    return {"digital": (s ** 2, s), "memory": (s ** 2, s), "analog": (s, 1.0),
            "array": (s ** 2, 1.0), "io": (1.0, 1.0)}[kind]


@dataclass(frozen=True)
class Unit:
    """One kind of silicon unit of a chip.

    Attributes:
        per: what one unit is counted per: ``"cell"``, ``"row"`` (of every crossbar),
            ``"column"``, ``"adc"``, ``"crossbar"``, ``"tile"`` or ``"chip"``.
        area_mm2: area of one unit at the section's node and reference geometry, mm2.
        power_w: its peak power (everything switching at its rate), W.
        static_w: the part of ``power_w`` drawn whenever the chip is on (leakage, clocked
            registers, buses, routers), W.
        kind: ``"digital"``, ``"memory"``, ``"analog"``, ``"array"`` or ``"io"`` (node scaling).
        scales: what besides the count moves its area and power: ``"adc_bits"`` (survey
            model), ``"dac_bits"`` (x2 per bit), ``"rows"``, ``"cols"``, ``"conductance"``
            (power only: mean cell conductance).
        source: where the figures come from.
    """

    per: str
    area_mm2: float
    power_w: float
    static_w: float = 0.0
    kind: str = "digital"
    scales: tuple[str, ...] = ()
    source: str = ""

    def __post_init__(self) -> None:
        if self.per not in UNIT_PER:
            raise ValueError(f"Unit.per must be one of {UNIT_PER}, got {self.per!r}")
        if self.kind not in UNIT_KINDS:
            raise ValueError(f"Unit.kind must be one of {UNIT_KINDS}, got {self.kind!r}")
        for name in ("area_mm2", "power_w", "static_w"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0 \
                    or not math.isfinite(value):
                raise ValueError(f"Unit.{name} must be a finite number >= 0, got {value!r}")
        if self.static_w > self.power_w * (1 + 1e-9):
            raise ValueError(f"Unit.static_w ({self.static_w}) must be <= power_w ({self.power_w})")
        bad = [s for s in self.scales if s not in UNIT_SCALES]
        if bad:
            raise ValueError(f"Unit.scales entries must be of {UNIT_SCALES}, got {bad[0]!r}")
        if not str(self.source).strip():
            raise ValueError("Unit.source must say where the figures come from")


@dataclass(frozen=True)
class SiliconSpec:
    """The silicon units of a chip at one technology node.

    Attributes:
        node_nm: the technology node of the figures, nm.
        reference: the geometry the figures are for: ``rows``, ``cols``, ``adc_bits``,
            ``dac_bits`` and ``g_mean_s`` (mean cell conductance, S).
        units: unit name -> :class:`Unit`.
        edram_refresh: charge ``edram_refresh_w_per_tile`` as always-on power (an option).
        edram_refresh_w_per_tile: refresh (retention) power of a tile's eDRAM, W.
        link_always_on: charge the ``link_phy`` unit's power for the whole batch (an option;
            off: the link is charged per byte moved).
        sources: field -> source for ``node_nm`` and ``edram_refresh_w_per_tile``.
    """

    node_nm: float
    reference: Mapping[str, float]
    units: Mapping[str, Unit]
    edram_refresh: bool = False
    edram_refresh_w_per_tile: float = 0.0
    link_always_on: bool = False
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.node_nm, bool) or not isinstance(self.node_nm, (int, float)) \
                or not self.node_nm > 0:
            raise ValueError(f"SiliconSpec.node_nm must be a positive number, got {self.node_nm!r}")
        missing = [k for k in ("rows", "cols", "adc_bits", "dac_bits", "g_mean_s")
                   if k not in self.reference]
        if missing:
            raise ValueError(f"SiliconSpec.reference needs {missing[0]!r}")
        if not self.units:
            raise ValueError("SiliconSpec.units must list at least one unit")
        for name in ("edram_refresh", "link_always_on"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"SiliconSpec.{name} must be a bool, got {getattr(self, name)!r}")
        value = self.edram_refresh_w_per_tile
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value) or value < 0:
            raise ValueError(f"SiliconSpec.edram_refresh_w_per_tile must be a finite number >= 0, "
                             f"got {value!r}")
        for key in ("rows", "cols", "adc_bits", "dac_bits", "g_mean_s"):
            value = self.reference[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value) or value <= 0:
                raise ValueError(f"SiliconSpec.reference[{key!r}] must be a finite number > 0, "
                                 f"got {value!r}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SiliconSpec:
        """From a chip file's ``"silicon"`` object."""
        try:
            units = {name: Unit(per=u["per"], area_mm2=float(u["area_mm2"]),
                                power_w=float(u["power_w"]), static_w=float(u.get("static_w", 0.0)),
                                kind=u.get("kind", "digital"), scales=tuple(u.get("scales", ())),
                                source=u.get("source", ""))
                     for name, u in dict(data["units"]).items()}
            return cls(node_nm=float(data["node_nm"]), reference=dict(data["reference"]),
                       units=units, edram_refresh=bool(data.get("edram_refresh", False)),
                       edram_refresh_w_per_tile=float(data.get("edram_refresh_w_per_tile", 0.0)),
                       link_always_on=bool(data.get("link_always_on", False)),
                       sources=dict(data.get("_sources", {})))
        except (KeyError, TypeError) as err:
            raise ValueError(f"silicon section: missing or bad field {err}") from err

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (the file's ``"silicon"`` object)."""
        return {"node_nm": self.node_nm, "reference": dict(self.reference),
                "edram_refresh": self.edram_refresh,
                "edram_refresh_w_per_tile": self.edram_refresh_w_per_tile,
                "link_always_on": self.link_always_on,
                "units": {n: {"per": u.per, "area_mm2": u.area_mm2, "power_w": u.power_w,
                              "static_w": u.static_w, "kind": u.kind, "scales": list(u.scales),
                              "source": u.source} for n, u in self.units.items()},
                "_sources": dict(self.sources)}


@dataclass(frozen=True)
class Component:
    """One row of a chip's component table.

    Attributes:
        name: the unit's name.
        count: units on the chip.
        area_mm2: area of all of them, mm2.
        power_w: their peak power, W.
        static_w: their always-on power, W.
        source: where the unit's figures come from (and how they were scaled).
    """

    name: str
    count: int
    area_mm2: float
    power_w: float
    static_w: float
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "count": self.count, "area_mm2": self.area_mm2,
                "power_w": self.power_w, "static_w": self.static_w, "source": self.source}


def _geometry(reram: Any) -> dict[str, float]:
    return {"rows": reram.crossbar_rows, "cols": reram.crossbar_cols, "adc_bits": reram.adc_bits,
            "dac_bits": reram.dac_bits, "adcs": reram.adcs_per_crossbar,
            "crossbars_per_tile": reram.crossbars_per_tile, "tiles": reram.tiles}


def _count_per(per: str, geo: Mapping[str, float], level: str) -> float:
    """Units per crossbar (``level="crossbar"``), per tile (``"tile"``) or per chip."""
    per_crossbar = {"cell": geo["rows"] * geo["cols"], "row": geo["rows"], "column": geo["cols"],
                    "adc": geo["adcs"], "crossbar": 1}
    if level == "crossbar":
        return per_crossbar.get(per, 0)
    if level == "tile":
        if per in per_crossbar:
            return per_crossbar[per] * geo["crossbars_per_tile"]
        return 1 if per == "tile" else 0
    return 1 if per == "chip" else 0


def _scale(unit: Unit, reference: Mapping[str, float], geo: Mapping[str, float],
           g_mean_s: float | None) -> tuple[float, float]:
    """(area, power) factors of one unit at ``geo`` against the section's reference."""
    area = power = 1.0
    for what in unit.scales:
        if what == "adc_bits":
            area *= adc_area_scale(int(reference["adc_bits"]), int(geo["adc_bits"]))
            power *= adc_energy_scale(int(reference["adc_bits"]), int(geo["adc_bits"]))
        elif what == "dac_bits":
            factor = dac_scale(int(reference["dac_bits"]), int(geo["dac_bits"]))
            area, power = area * factor, power * factor
        elif what in ("rows", "cols"):
            factor = geo[what] / reference[what]
            area, power = area * factor, power * factor
        elif what == "conductance" and g_mean_s is not None:
            power *= g_mean_s / reference["g_mean_s"]
    return area, power


def components(silicon: SiliconSpec, reram: Any, *, g_mean_s: float | None = None,
               node_nm: float | None = None) -> list[Component]:
    """The component table of a chip: every unit counted over ``reram``'s geometry and size.

    Args:
        silicon: the chip's units.
        reram: a :class:`~reram.cost.hardware.ReramSpec` (rows, cols, bits, ADCs per
            crossbar, crossbars per tile, tiles).
        g_mean_s: mean cell conductance of the chip's config (arrays' read power scales with
            it); ``None``: the reference's.
        node_nm: report at this node instead of the section's (:func:`node_factors`).

    Returns:
        One :class:`Component` per unit (peak power: every unit busy at its rate).
    """
    geo = _geometry(reram)
    target = silicon.node_nm if node_nm is None else node_nm
    rows = []
    for name, unit in silicon.units.items():
        if unit.per == "chip":
            count = 1
        else:
            count = int(round(_count_per(unit.per, geo, "tile") * geo["tiles"]))
        area_f, power_f = _scale(unit, silicon.reference, geo, g_mean_s)
        node_area, node_power = node_factors(unit.kind, silicon.node_nm, target)
        static_f = power_f if "conductance" not in unit.scales else 1.0
        static = unit.power_w if _always_on(name, unit, silicon) else unit.static_w
        rows.append(Component(
            name=name, count=count, area_mm2=count * unit.area_mm2 * area_f * node_area,
            power_w=count * unit.power_w * power_f * node_power,
            static_w=count * static * static_f * node_power, source=unit.source))
    if silicon.edram_refresh and silicon.edram_refresh_w_per_tile > 0:
        refresh = silicon.edram_refresh_w_per_tile * geo["tiles"]
        rows.append(Component("edram_refresh", geo["tiles"], 0.0, refresh, refresh,
                              silicon.sources.get("edram_refresh_w_per_tile", "option")))
    return rows


def crossbar_area_mm2(silicon: SiliconSpec, geo: Mapping[str, float]) -> float:
    """Area of one crossbar with its own peripherals (units per cell, row, column, ADC or
    crossbar) at ``geo`` (``rows``, ``cols``, ``adc_bits``, ``dac_bits``, ``adcs``), mm2."""
    total = 0.0
    for unit in silicon.units.values():
        count = _count_per(unit.per, geo, "crossbar")
        if count:
            total += count * unit.area_mm2 * _scale(unit, silicon.reference, geo, None)[0]
    return total


def static_power_per_tile_w(silicon: SiliconSpec, reram: Any) -> float:
    """Always-on power of one tile (its units' ``static_w``, the eDRAM refresh if on), W."""
    geo = dict(_geometry(reram), tiles=1)
    total = sum(c.static_w for c in components(silicon, _Geo(geo))
                if silicon.units.get(c.name, None) is None or silicon.units[c.name].per != "chip")
    return total


def _always_on(name: str, unit: Unit, silicon: SiliconSpec) -> bool:
    """Whether a unit draws its whole power whenever the chip is on (the link PHY with
    ``link_always_on``)."""
    return name == "link_phy" and unit.per == "chip" and silicon.link_always_on


def chip_static_power_w(silicon: SiliconSpec) -> float:
    """Always-on power of the chip-level units (the link PHY when ``link_always_on``), W."""
    total = 0.0
    for name, unit in silicon.units.items():
        if unit.per == "chip":
            total += unit.power_w if _always_on(name, unit, silicon) else unit.static_w
    return total


class _Geo:
    """A geometry dict seen as a ReramSpec (only the fields :func:`components` reads)."""

    def __init__(self, geo: Mapping[str, float]) -> None:
        self.crossbar_rows, self.crossbar_cols = geo["rows"], geo["cols"]
        self.adc_bits, self.dac_bits = geo["adc_bits"], geo["dac_bits"]
        self.adcs_per_crossbar = geo["adcs"]
        self.crossbars_per_tile, self.tiles = geo["crossbars_per_tile"], geo["tiles"]
