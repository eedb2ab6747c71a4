"""Peripherals from our own circuits: a chip whose column front end is a TIA sized here.

:func:`frontend_chip` takes a chip's tile (rows, the config's largest conductance and ADC range,
the read cycle, the ADC's bits), derives the TIA's specs (:func:`reram.analog.frontend.
frontend_specs`: transimpedance onto the ADC's range, settling within half the cycle, a power
limit), sizes the ``tia3`` circuit with :func:`reram.analog.size` on ngspice, and returns the
chip with that TIA's energy per column read and area (:meth:`reram.cost.chip.Chip.with_frontend`)
plus rows that put them beside the survey-model figures of the array and the ADC.

Joins :mod:`reram.analog` and :mod:`reram.cost` (only the applications may).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reram.cost.chip import Chip

__all__ = ["FrontendResult", "frontend_chip", "READ_VOLTAGE_V"]

#: Read voltage across a driven cell: DNN+NeuroSim V2.1 Param.cpp readVoltage = 0.5 V (the
#: value of reram.analog.frontend.NEUROSIM_ISAAC_TILE).
READ_VOLTAGE_V = 0.5


@dataclass(frozen=True)
class FrontendResult:
    """A chip with a sized column front end and how its figures compare.

    Attributes:
        chip: the chip with the TIA (``Chip.with_frontend``).
        meets_specs: whether the sized TIA meets every spec the tile set.
        specs: the specs, as text.
        metrics: the sized TIA's metrics (transimpedance, bandwidth, power, area).
        rows: ``{"what", "energy_per_read_j", "area_um2", "source"}`` for the TIA, the array
            (per column) and the ADC (per conversion, survey-model scaled).
    """

    chip: Chip
    meets_specs: bool
    specs: list[str]
    metrics: dict[str, Any]
    rows: list[dict[str, Any]]


def frontend_chip(chip: Chip, *, budget: int = 200, method: str = "random", seed: int = 0,
                  power_w: float = 3e-3, g_max_s: float | None = None,
                  adc_range: float | None = None, v_read: float = READ_VOLTAGE_V,
                  progress: bool = False) -> FrontendResult:
    """Size a TIA per column for ``chip``'s tile and cycle and put it on the chip.

    Args:
        chip: a chip with a crossbar config and a silicon section.
        budget: ngspice simulations of the sizing.
        method: the sizing method (``"random"``, ``"bo"``, ...).
        seed: the sizing's seed.
        power_w: the TIA's power limit, W.
        g_max_s: the cells' largest conductance, S (default the chip config's ``g_max``).
        adc_range: the ADC's full scale as a share of the largest column current (default
            the config's ``adc_range``).
        v_read: read voltage across a driven cell, V.
        progress: show the sizing's progress bar.

    Raises:
        ValueError: for a chip without a config, or when no sizing meets the specs.
    """
    from reram.analog import size
    from reram.analog.frontend import CrossbarTile, energy_per_read, frontend_specs

    if chip.config is None:
        raise ValueError("frontend_chip needs a chip with a crossbar config")
    reram = chip.hardware.reram
    tile = CrossbarTile(rows=reram.crossbar_rows,
                        g_max_s=float(chip.config.g_max if g_max_s is None else g_max_s),
                        v_read=v_read, read_time_s=reram.read_latency_s, adc_bits=reram.adc_bits,
                        adc_range=float(chip.config.adc_range if adc_range is None else adc_range))
    specs = frontend_specs(tile, power_w=power_w)
    result = size("tia3", specs=specs, method=method, budget=budget, seed=seed, progress=progress)
    if not result.meets_specs:
        raise ValueError(f"no TIA sizing met the tile's specs ({'; '.join(map(str, specs))}) in "
                         f"{budget} simulations; raise the budget, or lower the full-scale "
                         "current (g_max_s, adc_range)")
    metrics = dict(result.best_metrics)
    energy = energy_per_read(metrics["power_w"], tile)
    source = (f"tia3 sized by reram.analog.size ({method}, {budget} ngspice simulations, seed "
              f"{seed}) for {tile.rows} rows, g_max {tile.g_max_s:g} S, {tile.v_read} V, a "
              f"{tile.read_time_s * 1e9:g} ns read, {tile.adc_bits}-bit ADC")
    sized = chip.with_frontend(energy, float(metrics["area_um2"]), float(metrics["power_w"]), source)
    silicon = chip.hardware.silicon
    adc = next(c for c in chip.components() if c.name == "adc")
    array = next(c for c in chip.components() if c.name == "array")
    rows = [
        {"what": "TIA per column read (our circuit)", "energy_per_read_j": energy,
         "area_um2": float(metrics["area_um2"]), "source": source},
        {"what": "array per column read", "energy_per_read_j":
         reram.crossbar_energy_per_cycle_j / reram.crossbar_cols,
         "area_um2": array.area_mm2 / max(1, array.count) / reram.crossbar_cols * 1e6,
         "source": silicon.units["array"].source},
        {"what": "ADC per conversion (survey-model scaled)",
         "energy_per_read_j": reram.adc_energy_per_conversion_j,
         "area_um2": adc.area_mm2 / max(1, adc.count) * 1e6,
         "source": silicon.units["adc"].source},
    ]
    return FrontendResult(chip=sized, meets_specs=True, specs=[str(s) for s in specs],
                          metrics=metrics, rows=rows)
