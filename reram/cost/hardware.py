"""Hardware specifications for the cost model: ReRAM crossbars, GPU, and the link between them.

Specs are frozen dataclasses whose field names carry their unit (``_s`` seconds, ``_j`` joules,
``_hz`` or ``_per_s`` per second, ``_bytes_per_s`` bytes per second). Every field is validated on
construction; a bad value raises a one-line ``ValueError`` naming the field.

Named configurations live as JSON data files in ``reram/cost/specs/`` (``isaac.json``,
``puma.json``, ...). Each file has a ``"_sources"`` object with one entry per numeric field
(``"reram.adc_bits"``, ``"gpu.peak_flops"``, ...) saying where the number comes from; the
loader refuses a file in which a field has no source.

This module must not import the simulation (``reram.sim.layers``) nor torch.
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

__all__ = ["ReramSpec", "GpuSpec", "LinkSpec", "HardwareSpec", "load_hardware",
           "available_hardware", "HARDWARE_DIR"]

HARDWARE_DIR = Path(__file__).resolve().parent / "specs"


def _check_positive(obj: Any, names: tuple[str, ...], *, allow_zero: bool = False) -> None:
    cls = type(obj).__name__
    for name in names:
        value = getattr(obj, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{cls}.{name} must be a finite number, got {value!r}")
        if value < 0 or (value == 0 and not allow_zero):
            bound = ">= 0" if allow_zero else "> 0"
            raise ValueError(f"{cls}.{name} must be {bound}, got {value!r}")


def _check_int(obj: Any, names: tuple[str, ...]) -> None:
    cls = type(obj).__name__
    for name in names:
        value = getattr(obj, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{cls}.{name} must be an int >= 1, got {value!r}")


@dataclass(frozen=True)
class ReramSpec:
    """The ReRAM crossbar side of the chip.

    Attributes:
        crossbar_rows: rows (word lines) per crossbar.
        crossbar_cols: columns (bit lines) per crossbar.
        cell_bits: bits stored per ReRAM cell.
        weight_bits: bits of a weight (sign included); sliced over ``cell_bits`` cells.
        input_bits: bits of an input activation, streamed through the DACs.
        dac_bits: bits a DAC applies per crossbar cycle.
        adc_bits: ADC resolution, bits.
        differential_weights: True if a signed weight takes a G+/G- pair (two crossbars),
            False if the sign is encoded with an offset in one crossbar (ISAAC's scheme).
        read_latency_s: one crossbar read cycle (apply one DAC bit-slice, settle, sample), s.
        crossbar_energy_per_cycle_j: analog array energy of one read cycle of one crossbar, J.
        dac_energy_per_cycle_j: all DACs of one crossbar for one cycle, J.
        adcs_per_crossbar: ADCs shared by the columns of one crossbar.
        adc_conversions_per_s: conversions per second of one ADC at ``adc_bits``.
        adc_energy_per_conversion_j: one conversion at ``adc_bits``, J.
        write_latency_s: one write (program) step of a cell, s.
        write_energy_per_cell_j: programming one cell, J.
        cells_written_per_step: cells of one crossbar programmed in parallel per write step.
        tiles: tiles on the chip.
        crossbars_per_tile: crossbars per tile.
        buffer_energy_per_byte_j: on-tile buffer (eDRAM/SRAM) access energy per byte, J.
        digital_ops_per_s: element-wise operations per second of one tile's digital units
            (activation, pooling, shift-add), ops/s.
        digital_energy_per_op_j: one element-wise digital operation, J.
    """

    crossbar_rows: int
    crossbar_cols: int
    cell_bits: int
    weight_bits: int
    input_bits: int
    dac_bits: int
    adc_bits: int
    differential_weights: bool
    read_latency_s: float
    crossbar_energy_per_cycle_j: float
    dac_energy_per_cycle_j: float
    adcs_per_crossbar: int
    adc_conversions_per_s: float
    adc_energy_per_conversion_j: float
    write_latency_s: float
    write_energy_per_cell_j: float
    cells_written_per_step: int
    tiles: int
    crossbars_per_tile: int
    buffer_energy_per_byte_j: float
    digital_ops_per_s: float
    digital_energy_per_op_j: float

    def __post_init__(self) -> None:
        _check_int(self, ("crossbar_rows", "crossbar_cols", "cell_bits", "weight_bits",
                          "input_bits", "dac_bits", "adc_bits", "adcs_per_crossbar",
                          "cells_written_per_step", "tiles", "crossbars_per_tile"))
        _check_positive(self, ("read_latency_s", "adc_conversions_per_s", "write_latency_s",
                               "digital_ops_per_s"))
        _check_positive(self, ("crossbar_energy_per_cycle_j", "dac_energy_per_cycle_j",
                               "adc_energy_per_conversion_j", "write_energy_per_cell_j",
                               "buffer_energy_per_byte_j", "digital_energy_per_op_j"),
                        allow_zero=True)
        if not isinstance(self.differential_weights, bool):
            raise ValueError(f"ReramSpec.differential_weights must be a bool, "
                             f"got {self.differential_weights!r}")
        if self.differential_weights and self.weight_bits < 2:
            raise ValueError("ReramSpec.weight_bits must be >= 2 with differential_weights "
                             f"(one bit is the sign), got {self.weight_bits}")
        if self.dac_bits > self.input_bits:
            raise ValueError(f"ReramSpec.dac_bits must be <= input_bits ({self.input_bits}), "
                             f"got {self.dac_bits}")

    @property
    def slices(self) -> int:
        """Cells (crossbars) one weight is bit-sliced over, per sign crossbar."""
        magnitude_bits = self.weight_bits - 1 if self.differential_weights else self.weight_bits
        return math.ceil(magnitude_bits / self.cell_bits)

    @property
    def input_cycles(self) -> int:
        """Crossbar read cycles to stream one input vector through the DACs."""
        return math.ceil(self.input_bits / self.dac_bits)

    @property
    def total_crossbars(self) -> int:
        """Crossbars on the chip."""
        return self.tiles * self.crossbars_per_tile

    @property
    def activation_bytes(self) -> int:
        """Bytes of one activation value leaving the ReRAM side (``input_bits`` rounded up)."""
        return math.ceil(self.input_bits / 8)

    def with_adc_bits(self, adc_bits: int) -> ReramSpec:
        """The same chip with another ADC resolution.

        A SAR ADC resolves one bit per internal step, so its conversion rate scales as
        ``old_bits / new_bits``; at a constant Walden figure of merit its energy per conversion
        scales as ``2 ** (new_bits - old_bits)``.

        Args:
            adc_bits: the new resolution, >= 1.

        Returns:
            A new :class:`ReramSpec`.
        """
        if isinstance(adc_bits, bool) or not isinstance(adc_bits, int) or adc_bits < 1:
            raise ValueError(f"adc_bits must be an int >= 1, got {adc_bits!r}")
        return dataclasses.replace(
            self, adc_bits=adc_bits,
            adc_conversions_per_s=self.adc_conversions_per_s * self.adc_bits / adc_bits,
            adc_energy_per_conversion_j=self.adc_energy_per_conversion_j
            * 2.0 ** (adc_bits - self.adc_bits))


@dataclass(frozen=True)
class GpuSpec:
    """The GPU side (also the GPU-only baseline).

    Attributes:
        name: the GPU's name.
        peak_flops: peak FP32 throughput, FLOP/s.
        memory_bandwidth_bytes_per_s: DRAM bandwidth, bytes/s.
        kernel_launch_s: fixed overhead per kernel launch, s.
        energy_per_flop_j: energy per FP32 operation, J.
        energy_per_byte_j: energy per DRAM byte moved, J.
        bytes_per_value: bytes of one tensor element (4 for FP32).
    """

    name: str
    peak_flops: float
    memory_bandwidth_bytes_per_s: float
    kernel_launch_s: float
    energy_per_flop_j: float
    energy_per_byte_j: float
    bytes_per_value: int = 4

    def __post_init__(self) -> None:
        _check_positive(self, ("peak_flops", "memory_bandwidth_bytes_per_s"))
        _check_positive(self, ("kernel_launch_s", "energy_per_flop_j", "energy_per_byte_j"),
                        allow_zero=True)
        _check_int(self, ("bytes_per_value",))


@dataclass(frozen=True)
class LinkSpec:
    """The link that carries activations between the ReRAM tiles and the GPU.

    Attributes:
        bandwidth_bytes_per_s: sustained bandwidth, bytes/s.
        latency_s: fixed latency per transfer, s.
        energy_per_byte_j: energy per byte moved, J.
    """

    bandwidth_bytes_per_s: float
    latency_s: float
    energy_per_byte_j: float

    def __post_init__(self) -> None:
        _check_positive(self, ("bandwidth_bytes_per_s",))
        _check_positive(self, ("latency_s", "energy_per_byte_j"), allow_zero=True)

    def transfer_s(self, nbytes: float) -> float:
        """Time to move ``nbytes`` in one transfer (0 for an empty one)."""
        return 0.0 if nbytes <= 0 else self.latency_s + nbytes / self.bandwidth_bytes_per_s


@dataclass(frozen=True)
class HardwareSpec:
    """A whole heterogeneous chip: ReRAM tiles, a GPU and the link between them.

    Attributes:
        name: the configuration's name (``"isaac"``).
        reram: the crossbar side.
        gpu: the GPU side.
        link: the ReRAM-GPU link.
        description: one line on what the configuration models.
        sources: field path (``"reram.adc_bits"``) -> where the number comes from.
    """

    name: str
    reram: ReramSpec
    gpu: GpuSpec
    link: LinkSpec
    description: str = ""
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    def replace(self, **changes: Any) -> HardwareSpec:
        """A copy with dotted-path overrides, e.g. ``replace(**{"reram.adc_bits": 6})``.

        ``reram.adc_bits`` goes through :meth:`ReramSpec.with_adc_bits` so the ADC's speed and
        energy follow its resolution.
        """
        parts: dict[str, dict[str, Any]] = {"reram": {}, "gpu": {}, "link": {}}
        for path, value in changes.items():
            side, _, name = path.partition(".")
            if side not in parts or name not in {f.name for f in fields(getattr(self, side))}:
                raise ValueError(f"unknown hardware field {path!r}; use 'reram.<field>', "
                                 "'gpu.<field>' or 'link.<field>'")
            parts[side][name] = value
        reram = self.reram
        if "adc_bits" in parts["reram"]:
            reram = reram.with_adc_bits(parts["reram"].pop("adc_bits"))
        return dataclasses.replace(
            self, reram=dataclasses.replace(reram, **parts["reram"]),
            gpu=dataclasses.replace(self.gpu, **parts["gpu"]),
            link=dataclasses.replace(self.link, **parts["link"]))

    def to_dict(self) -> dict:
        """Plain-dict form (JSON-ready), sources included."""
        return {"name": self.name, "description": self.description,
                "reram": dataclasses.asdict(self.reram), "gpu": dataclasses.asdict(self.gpu),
                "link": dataclasses.asdict(self.link), "_sources": dict(self.sources)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, require_sources: bool = True) -> HardwareSpec:
        """Build and validate a spec from its dict form (a parsed data file).

        Args:
            data: with keys ``name``, ``reram``, ``gpu``, ``link`` and ``_sources``.
            require_sources: if True, every numeric field needs a ``_sources`` entry.

        Raises:
            ValueError: on a missing or unknown field, a bad value, or a missing source.
        """
        name = data.get("name", "")
        for key in ("reram", "gpu", "link"):
            if not isinstance(data.get(key), Mapping):
                raise ValueError(f"hardware config {name!r} needs a {key!r} object")
        parts = {}
        for key, spec_cls in (("reram", ReramSpec), ("gpu", GpuSpec), ("link", LinkSpec)):
            known = {f.name for f in fields(spec_cls)}
            unknown = sorted(set(data[key]) - known)
            if unknown:
                raise ValueError(f"hardware config {name!r}: unknown field {key}.{unknown[0]}")
            try:
                parts[key] = spec_cls(**data[key])
            except TypeError as err:
                missing = sorted(f.name for f in fields(spec_cls)
                                 if f.name not in data[key] and f.default is dataclasses.MISSING)
                raise ValueError(f"hardware config {name!r}: missing field "
                                 f"{key}.{missing[0] if missing else '?'}") from err
        sources = dict(data.get("_sources", {}))
        if require_sources:
            for key in ("reram", "gpu", "link"):
                for f in fields(parts[key]):
                    if f.name == "name":
                        continue
                    if not str(sources.get(f"{key}.{f.name}", "")).strip():
                        raise ValueError(f"hardware config {name!r}: field {key}.{f.name} "
                                         "has no entry in _sources")
        return cls(name=str(name), reram=parts["reram"], gpu=parts["gpu"], link=parts["link"],
                   description=str(data.get("description", "")), sources=sources)


def available_hardware() -> list[str]:
    """Names of the bundled hardware configurations."""
    return sorted(p.stem for p in HARDWARE_DIR.glob("*.json"))


def load_hardware(name_or_path: str | Path | HardwareSpec = "isaac") -> HardwareSpec:
    """Load a named configuration (``"isaac"``, ``"puma"``) or a JSON file.

    Args:
        name_or_path: a bundled name, a path to a JSON file of the same format, or a spec
            (returned as is).

    Returns:
        The validated :class:`HardwareSpec`.

    Raises:
        ValueError: for an unknown name, an unreadable file or an invalid config.
    """
    if isinstance(name_or_path, HardwareSpec):
        return name_or_path
    text = str(name_or_path)
    path = Path(text)
    if not (path.suffix == ".json" or path.exists()):
        path = HARDWARE_DIR / f"{text}.json"
        if not path.is_file():
            raise ValueError(f"unknown hardware config {text!r}; available: "
                             f"{', '.join(available_hardware())} or a path to a .json file")
    try:
        with path.open(encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"cannot read hardware config {str(path)!r}: {err}") from err
    if not isinstance(data, dict):
        raise ValueError(f"hardware config {str(path)!r} must hold a JSON object")
    return HardwareSpec.from_dict(data)
