"""The TIA as a crossbar's front end: a tile's read sets the TIA's specs.

A column of a crossbar tile delivers at most ``rows x v_read x g_max`` (all rows driven, every
cell at its highest conductance); the ADC covers ``adc_range`` of that. The TIA must map that
full-scale current onto the ADC's input range (transimpedance = ``adc_full_scale_v`` / current;
a higher one clips, a much lower one wastes ADC codes: we ask for 80-100 % of it) and settle to
the ADC's resolution within part of a read cycle: a first-order output settles to 1/2 LSB of an
``adc_bits`` ADC in (adc_bits + 1) ln 2 time constants, so the bandwidth must reach
(adc_bits + 1) ln 2 / (2 pi settle_fraction read_time). :func:`frontend_specs` derives those
specs, :func:`energy_per_read` the TIA's energy per column read. Imports only :mod:`.circuit`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .circuit import Spec

__all__ = ["CrossbarTile", "frontend_specs", "energy_per_read", "NEUROSIM_ISAAC_TILE"]


@dataclass(frozen=True)
class CrossbarTile:
    """What the TIA sees of one crossbar tile and its read.

    Attributes:
        rows: rows driven at once (tile height).
        g_max_s: highest cell conductance in siemens.
        v_read: read voltage across a driven cell in V.
        read_time_s: one read cycle in s.
        adc_bits: ADC resolution.
        adc_range: ADC full scale as a fraction of the largest column current.
        adc_full_scale_v: the ADC's differential input range in V.
    """

    rows: int
    g_max_s: float
    v_read: float
    read_time_s: float
    adc_bits: int
    adc_range: float = 1.0
    adc_full_scale_v: float = 1.0

    def __post_init__(self) -> None:
        for name in ("rows", "adc_bits"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        for name in ("g_max_s", "v_read", "read_time_s", "adc_full_scale_v"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        if not (0 < self.adc_range <= 1):
            raise ValueError(f"adc_range must be in (0, 1], got {self.adc_range!r}")

    @property
    def full_scale_current_a(self) -> float:
        """The column current at the ADC's full scale."""
        return self.rows * self.v_read * self.g_max_s * self.adc_range


NEUROSIM_ISAAC_TILE = CrossbarTile(rows=128, g_max_s=1 / 100e3, v_read=0.5, read_time_s=100e-9, adc_bits=8,
                                   adc_range=0.25, adc_full_scale_v=1.0)
"""A 128-row tile with DNN+NeuroSim V2.1's cell (Param.cpp: resistanceOn 100 kOhm, readVoltage
0.5 V) read in ISAAC's 100 ns cycle by its 8-bit ADC (Shafiee et al., ISCA 2016; the figures of
reram/cost/specs/isaac.json). ``adc_range`` 0.25 and the 1 V ADC input are our assumptions (a
column rarely carries a quarter of its largest current; bit-serial inputs drive about half the
rows and weights sit mostly well below g_max)."""


def frontend_specs(tile: CrossbarTile, settle_fraction: float = 0.5, power_w: float = 3e-3,
                   fill: float = 0.8) -> list[Spec]:
    """The TIA specs a tile's read sets (``tia3`` metrics).

    Args:
        tile: the crossbar tile.
        settle_fraction: share of the read cycle the TIA output may take to settle.
        power_w: the TIA's power limit.
        fill: the smallest share of the ADC range the full-scale current must reach.

    Returns:
        ``[transimpedance <= Z, transimpedance >= fill * Z, bandwidth >= B, power <= power_w]``.
    """
    if not (0 < settle_fraction <= 1):
        raise ValueError(f"settle_fraction must be in (0, 1], got {settle_fraction!r}")
    if not (0 < fill <= 1):
        raise ValueError(f"fill must be in (0, 1], got {fill!r}")
    z = tile.adc_full_scale_v / tile.full_scale_current_a
    bandwidth = (tile.adc_bits + 1) * math.log(2) / (2 * math.pi * settle_fraction * tile.read_time_s)
    return [Spec("transimpedance_ohm", "<=", z), Spec("transimpedance_ohm", ">=", fill * z),
            Spec("bandwidth_hz", ">=", bandwidth), Spec("power_w", "<=", power_w)]


def energy_per_read(power_w: float, tile: CrossbarTile) -> float:
    """The TIA's energy per column read in J (it draws its static power for one read cycle)."""
    return power_w * tile.read_time_s
