"""Writes as a device programs them: write-verify pulses, SET/RESET phases, row-serial latency,
the pulses a simulated training fired, and endurance.

The write model is DNN+NeuroSim V2.1's (``Training_pytorch/NeuroSIM/ProcessingUnit.cpp``, its
weight-update routine; described here, not copied): a cell whose conductance changes by ``dG``
receives ``ceil(|dG| / dG_min)`` pulses, ``dG_min`` being the device's full range over its number of
pulse levels (``maxNumLevelLTP/LTD``, 60 by default); only cells that change by at least one
``dG_min`` are written; a row is written in a SET phase (the cells that grow) and a RESET phase
(those that shrink), each as long as the row's largest pulse count; rows are written one after
another, the arrays of a layer in parallel. We add one verify read after each pulse step
(write-verify, :attr:`WriteModel.verify_read_s`; NeuroSim's open-loop pulses are
``verify_read_s=0``).

Without a record of the pulses, the level changes of an update are an assumption
(:class:`WriteActivity`); with ``update="pulsed"`` the layers count the pulses their devices fired
(``crossbar_pulse_record``, read duck-typed by :func:`pulse_records`) and those counts are charged.

Endurance: :data:`DEVICE_ENDURANCE` (cycles per cell, each with its source) against the writes per
cell per epoch of each array kind (:func:`endurance_report`).

This module imports only :mod:`reram.cost.hardware`; it never imports the simulation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from reram.cost.hardware import ReramSpec

__all__ = ["WriteActivity", "WriteModel", "WriteCost", "PulseRecord", "DEVICE_ENDURANCE",
           "device_endurance", "pulses_per_level", "array_write_cost", "recorded_write_cost",
           "pulse_records", "endurance_report", "random_rewrite_activity"]

#: Endurance (program cycles per cell before the conductance window closes) per device preset of
#: ``reram.config.DEVICE_NAMES`` plus ``"generic"`` (any chip without a pulsed device):
#: ``(cycles, source)``. The device papers cited by the presets (NeuroSim TCAD 2018 Table I and the
#: device benchmark) tabulate states, nonlinearity, on/off and C2C but no endurance, so the
#: multi-level figure of filamentary metal-oxide RRAM is used for each and labelled so.
_MULTILEVEL = ("assumption: 10^6 cycles, the endurance of multi-level (4-level) HfOx RRAM reported by "
               "P. Huang et al., 'Analytic model of endurance degradation and its practical "
               "applications for operation scheme optimization in metal oxide based RRAM', IEDM 2013; "
               "the device's own source reports no endurance")
DEVICE_ENDURANCE: dict[str, tuple[float, str]] = {
    "generic": (1e6, _MULTILEVEL),
    "linear": (1e6, _MULTILEVEL),
    "ag-a-si": (1e6, _MULTILEVEL),
    "taox-hfox": (1e6, _MULTILEVEL),
    "alox-hfo2": (1e6, _MULTILEVEL),
    "epiram": (1e6, _MULTILEVEL),
    "pcmo": (1e6, _MULTILEVEL),
}


def device_endurance(device: str | None) -> tuple[float, str]:
    """``(cycles, source)`` of a device preset (``None``: the generic RRAM figure)."""
    key = device or "generic"
    if key not in DEVICE_ENDURANCE:
        raise ValueError(f"device must be one of {', '.join(DEVICE_ENDURANCE)}, got {device!r}")
    return DEVICE_ENDURANCE[key]


def _check_fraction(cls: str, name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{cls}.{name} must be a number in [0, 1], got {value!r}")


def _check_nonneg(cls: str, name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value < 0:
        raise ValueError(f"{cls}.{name} must be a finite number >= 0, got {value!r}")


@dataclass(frozen=True)
class WriteActivity:
    """How the cells of an array change in one update (the write model's input without a record).

    Attributes:
        changed_fraction: fraction of the used cells whose level changes (written), 0..1.
        mean_level_change: mean ``|delta level|`` of a changed cell, in cell levels.
        row_max_level_change: the largest ``|delta level|`` in a row per phase (sets the row's
            pulse count, hence the row-serial latency), in cell levels.
        set_fraction: fraction of the changes that increase the conductance (SET/LTP); a row
            with both kinds is written in two phases.
    """

    changed_fraction: float = 1.0
    mean_level_change: float = 1.0
    row_max_level_change: float = 1.0
    set_fraction: float = 0.5

    def __post_init__(self) -> None:
        _check_fraction("WriteActivity", "changed_fraction", self.changed_fraction)
        _check_fraction("WriteActivity", "set_fraction", self.set_fraction)
        _check_nonneg("WriteActivity", "mean_level_change", self.mean_level_change)
        _check_nonneg("WriteActivity", "row_max_level_change", self.row_max_level_change)

    @property
    def phases(self) -> int:
        """Write phases per row: SET and RESET (2) unless every change goes one way."""
        return 1 if self.set_fraction in (0, 1) else 2


def random_rewrite_activity(cell_bits: int) -> WriteActivity:
    """Overwriting cells of ``2**cell_bits`` levels with independent uniform codes (a new sample's
    errors over the last one's, PipeLayer's error arrays): a cell changes with probability
    ``1 - 1/L``, by ``(L^2 - 1) / (3 L)`` levels on average over all cells, at most ``L - 1``."""
    levels = 2 ** int(cell_bits)
    changed = 1.0 - 1.0 / levels
    mean_all = (levels * levels - 1) / (3.0 * levels)
    return WriteActivity(changed_fraction=changed, mean_level_change=mean_all / changed if changed else 0.0,
                         row_max_level_change=float(levels - 1), set_fraction=0.5)


@dataclass(frozen=True)
class WriteModel:
    """Write-verify programming of the chip's cells (NeuroSim V2.1's pulse model, see module doc).

    Attributes:
        device_levels: pulse levels of the device across its conductance range (NeuroSim's
            ``maxNumLevelLTP/LTD``); ``None``: the cell's own ``2**cell_bits - 1`` steps (one
            pulse per level). A cell level is then ``device_levels / (2**cell_bits - 1)`` pulses.
        verify_read_s: one verify read after each pulse step of a row, s; ``None``: the chip's
            ``read_latency_s``; 0: open-loop pulses (NeuroSim).
        activity: the level changes of a weight update when no pulse record is given.
    """

    device_levels: int | None = None
    verify_read_s: float | None = None
    activity: WriteActivity = field(default_factory=WriteActivity)

    def __post_init__(self) -> None:
        if self.device_levels is not None and (isinstance(self.device_levels, bool)
                                               or not isinstance(self.device_levels, int)
                                               or self.device_levels < 1):
            raise ValueError(f"WriteModel.device_levels must be None or an int >= 1, "
                             f"got {self.device_levels!r}")
        if self.verify_read_s is not None:
            _check_nonneg("WriteModel", "verify_read_s", self.verify_read_s)
        if not isinstance(self.activity, WriteActivity):
            raise TypeError(f"WriteModel.activity must be a WriteActivity, "
                            f"got {type(self.activity).__name__}")

    def step_s(self, reram: ReramSpec) -> float:
        """One pulse step of a row: the pulse and its verify read, s."""
        verify = reram.read_latency_s if self.verify_read_s is None else self.verify_read_s
        return reram.write_latency_s + verify


def pulses_per_level(model: WriteModel, cell_bits: int) -> float:
    """Pulses that move a cell by one of its ``2**cell_bits - 1`` levels (NeuroSim's
    ``ceil(dG / dG_min)`` for ``dG`` one cell level)."""
    steps = 2 ** int(cell_bits) - 1
    if model.device_levels is None:
        return 1.0
    return float(math.ceil(model.device_levels / steps - 1e-9))


@dataclass(frozen=True)
class WriteCost:
    """Programming one array kind of a layer once.

    Attributes:
        seconds: row-serial time (arrays in parallel), s.
        energy_j: pulse and verify energy, J.
        pulses: pulses fired.
        cells_written: cells that changed.
    """

    seconds: float
    energy_j: float
    pulses: float
    cells_written: float


def array_write_cost(cells: int, rows_per_array: int, cell_bits: int, reram: ReramSpec,
                     model: WriteModel, activity: WriteActivity | None = None,
                     *, parallel_arrays: int = 1, cols_per_array: int = 1) -> WriteCost:
    """Write-verify of ``cells`` used cells spread over arrays of ``rows_per_array`` rows.

    Energy: ``pulses x write_energy_per_cell_j`` plus one array read (verify) per row step.
    Time: every array writes its rows one after another, each row in ``activity.phases``
    phases of ``ceil(row_max_level_change x pulses_per_level)`` pulse steps, each step in
    ``ceil(cols_per_array / cells_written_per_step)`` parts (the write drivers of one array);
    arrays in parallel.
    """
    activity = activity or model.activity
    per_level = pulses_per_level(model, cell_bits)
    changed = cells * activity.changed_fraction
    pulses = changed * activity.mean_level_change * per_level
    row_pulses = math.ceil(activity.row_max_level_change * per_level - 1e-9) if changed else 0
    row_steps = rows_per_array * activity.phases * row_pulses
    parts = math.ceil(max(1, cols_per_array) / reram.cells_written_per_step)
    seconds = row_steps * parts * model.step_s(reram)
    verify_j = row_steps * parallel_arrays * reram.crossbar_energy_per_cycle_j
    if model.verify_read_s == 0:
        verify_j = 0.0
    return WriteCost(seconds=seconds, energy_j=pulses * reram.write_energy_per_cell_j + verify_j,
                     pulses=pulses, cells_written=changed)


@dataclass(frozen=True)
class PulseRecord:
    """The pulses a simulated layer's devices fired (``update="pulsed"``), summed over updates.

    Attributes:
        updates: weight updates counted.
        set_pulses: potentiating (LTP/SET) pulses.
        reset_pulses: depressing (LTD/RESET) pulses.
        cells_written: device writes (a device that received at least one pulse in an update).
        row_steps: row-serial pulse steps: per update, over the crossbar rows (the layer's
            fan-in), the row's largest SET plus largest RESET pulse count.
    """

    updates: int
    set_pulses: int
    reset_pulses: int
    cells_written: int
    row_steps: int

    @classmethod
    def from_values(cls, values: Any) -> PulseRecord:
        """From the 5 counts of a layer's ``crossbar_pulse_record`` (any sequence of ints)."""
        vals = [int(v) for v in list(values)]
        if len(vals) != 5 or min(vals) < 0:
            raise ValueError(f"a pulse record holds 5 counts >= 0, got {vals!r}")
        return cls(*vals)


def pulse_records(model: Any) -> dict[str, PulseRecord]:
    """The pulse records of a model's layers: ``{dotted name: PulseRecord}`` for every module with
    a ``crossbar_pulse_record`` holding at least one update (read duck-typed, no simulation
    import)."""
    out = {}
    if not hasattr(model, "named_modules"):
        return out
    for name, module in model.named_modules():
        record = getattr(module, "crossbar_pulse_record", None)
        if record is None:
            continue
        values = record.tolist() if hasattr(record, "tolist") else record
        rec = PulseRecord.from_values(values)
        if rec.updates > 0:
            out[name] = rec
    return out


def recorded_write_cost(record: PulseRecord, row_blocks: int, reram: ReramSpec,
                        model: WriteModel, *, cols_per_array: int = 1,
                        arrays_per_row: int = 1) -> WriteCost:
    """One update's writes from a pulse record (its per-update averages); the rows of the layer's
    ``row_blocks`` arrays are written in parallel (the record counts one group's fan-in, so a
    grouped layer's groups, on arrays of their own, add no time), each pulse step in
    ``ceil(cols_per_array / cells_written_per_step)`` parts as in :func:`array_write_cost`.
    Each row step is verified by one read of every array the row spans (``arrays_per_row``:
    the layer's column blocks, slices and signs, times its groups, each verifying its own row),
    as :func:`array_write_cost` reads every array once per row step."""
    if isinstance(arrays_per_row, bool) or not isinstance(arrays_per_row, int) or arrays_per_row < 1:
        raise ValueError(f"arrays_per_row must be an int >= 1, got {arrays_per_row!r}")
    n = max(1, record.updates)
    pulses = (record.set_pulses + record.reset_pulses) / n
    row_steps = record.row_steps / n / max(1, row_blocks)
    parts = math.ceil(max(1, cols_per_array) / reram.cells_written_per_step)
    seconds = row_steps * parts * model.step_s(reram)
    verify_j = 0.0 if model.verify_read_s == 0 else (record.row_steps / n * arrays_per_row
                                                    * reram.crossbar_energy_per_cycle_j)
    return WriteCost(seconds=seconds, energy_j=pulses * reram.write_energy_per_cell_j + verify_j,
                     pulses=pulses, cells_written=record.cells_written / n)


def endurance_report(per_kind: Mapping[str, tuple[float, float]], device: str | None,
                     epoch_samples: int) -> dict[str, Any]:
    """Writes per cell per epoch of each array kind against the device's endurance.

    Args:
        per_kind: ``{kind: (pulses per cell per write event, write events per epoch)}`` with
            kinds such as ``"weights"`` (one event per batch) and ``"errors"`` (one per sample).
        device: the device preset (``None``: generic RRAM).
        epoch_samples: samples per epoch.

    Returns:
        ``{"device", "endurance_cycles", "source", "epoch_samples", "arrays": {kind:
        {"writes_per_cell_per_epoch", "epochs_to_wear_out"}}}``; a pulse counts as one cycle.
    """
    cycles, source = device_endurance(device)
    arrays = {}
    for kind, (per_event, events) in per_kind.items():
        per_epoch = per_event * events
        arrays[kind] = {"writes_per_cell_per_epoch": per_epoch,
                        "epochs_to_wear_out": cycles / per_epoch if per_epoch > 0 else math.inf}
    return {"device": device or "generic", "endurance_cycles": cycles, "source": source,
            "epoch_samples": epoch_samples, "arrays": arrays}
