"""Hardware specifications for the cost model: ReRAM crossbars, GPU, and the link between them.

Specs are frozen dataclasses whose field names carry their unit (``_s`` seconds, ``_j`` joules,
``_hz`` or ``_per_s`` per second, ``_bytes_per_s`` bytes per second). Every field is validated on
construction; a bad value raises a one-line ``ValueError`` naming the field.

Named configurations live as JSON data files in ``reram/cost/specs/`` (``isaac.json``,
``puma.json``, ...; GPU baselines as ``gpu_v100.json``, ...). A chip file's ``"crossbar"`` section
(the fields of a ``CrossbarConfig``) decides the crossbar geometry; ``"gpu"`` may name a bundled
GPU. Each file has a ``"_sources"`` object with one entry per numeric field
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
           "available_hardware", "HARDWARE_DIR", "GPU_PRECISIONS", "GEOMETRY_FIELDS",
           "geometry_from_config", "load_gpu", "available_gpus"]

HARDWARE_DIR = Path(__file__).resolve().parent / "specs"
#: GPU baselines live next to the chips as ``gpu_<name>.json`` (one folder: setup.py ships
#: ``specs/*.json``).
GPU_PREFIX = "gpu_"
#: GPU arithmetic of a baseline: FP32, or tensor-core mixed precision (FP16 products).
GPU_PRECISIONS = ("fp32", "mixed")
#: ReramSpec fields a chip's crossbar config decides (the simulation half); a chip file gives
#: them in its "crossbar" section, never in "reram".
GEOMETRY_FIELDS = ("crossbar_rows", "crossbar_cols", "cell_bits", "weight_bits", "input_bits",
                   "dac_bits", "adc_bits", "differential_weights", "signed_input_phases",
                   "analog_row_sum")


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
        shift_add_energy_per_op_j: one shift-and-add of an ADC output into its partial sum, J
            (``None``: charged at ``digital_energy_per_op_j``, the 0.1.0 behaviour).
        static_power_w: always-on power of the whole ReRAM side (registers, buses, routers,
            leakage), W; charged for the whole batch time.
        max_write_power_w: the most power the chip's write drivers may draw at once, W
            (``None``: unbounded); bounds how many cells are programmed in parallel.
        signed_input_phases: the simulation's input scheme (``True``): ``ceil((input_bits - 1) /
            dac_bits)`` cycles per phase, two phases for a signed vector (errors, the model's
            input), one for a non-negative one (post-ReLU activations). ``False``: ISAAC's
            scheme, ``ceil(input_bits / dac_bits)`` cycles for every vector.
        mvm_extra_cycles: fixed extra read cycles per MVM (pipeline fill; PUMA: 2).
        analog_row_sum: the column currents of a layer's row blocks are summed in analog before
            one conversion per column (how an unbounded simulated tile, ``tile_size=None``, is
            built from finite arrays); ``False``: each row block converts its partial sums.
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
    shift_add_energy_per_op_j: float | None = None
    static_power_w: float = 0.0
    max_write_power_w: float | None = None
    signed_input_phases: bool = False
    mvm_extra_cycles: int = 0
    analog_row_sum: bool = False

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
        _check_positive(self, ("static_power_w",), allow_zero=True)
        if self.shift_add_energy_per_op_j is not None:
            _check_positive(self, ("shift_add_energy_per_op_j",), allow_zero=True)
        if self.max_write_power_w is not None:
            _check_positive(self, ("max_write_power_w",))
        if (isinstance(self.mvm_extra_cycles, bool) or not isinstance(self.mvm_extra_cycles, int)
                or self.mvm_extra_cycles < 0):
            raise ValueError(f"ReramSpec.mvm_extra_cycles must be an int >= 0, "
                             f"got {self.mvm_extra_cycles!r}")
        if not isinstance(self.analog_row_sum, bool):
            raise ValueError(f"ReramSpec.analog_row_sum must be a bool, got {self.analog_row_sum!r}")
        if not isinstance(self.signed_input_phases, bool):
            raise ValueError(f"ReramSpec.signed_input_phases must be a bool, "
                             f"got {self.signed_input_phases!r}")
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
        """Crossbar read cycles to stream one input vector (one phase) through the DACs."""
        if self.signed_input_phases:
            return max(1, math.ceil((self.input_bits - 1) / self.dac_bits))
        return math.ceil(self.input_bits / self.dac_bits)

    def mvm_cycles(self, signed: bool = False) -> int:
        """Read cycles of one MVM: the input cycles, twice for a signed vector when the
        inputs stream in sign phases, plus ``mvm_extra_cycles``."""
        phases = 2 if signed and self.signed_input_phases else 1
        return self.input_cycles * phases + self.mvm_extra_cycles

    @property
    def signs(self) -> int:
        """Crossbars per slice: 2 for a G+/G- pair, 1 for an offset-encoded sign."""
        return 2 if self.differential_weights else 1

    @property
    def shift_add_energy_j(self) -> float:
        """Energy of one shift-and-add (``digital_energy_per_op_j`` when not given)."""
        if self.shift_add_energy_per_op_j is None:
            return self.digital_energy_per_op_j
        return self.shift_add_energy_per_op_j

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
        bytes_per_value: bytes of one tensor element (4 for FP32, 2 for mixed precision).
        idle_power_w: board power while powered but idle, W; charged for the whole batch time
            (the dynamic ``energy_per_flop_j`` and ``energy_per_byte_j`` come on top).
        precision: ``"fp32"`` or ``"mixed"`` (tensor-core FP16 products, FP32 sums).
    """

    name: str
    peak_flops: float
    memory_bandwidth_bytes_per_s: float
    kernel_launch_s: float
    energy_per_flop_j: float
    energy_per_byte_j: float
    bytes_per_value: int = 4
    idle_power_w: float = 0.0
    precision: str = "fp32"

    def __post_init__(self) -> None:
        _check_positive(self, ("peak_flops", "memory_bandwidth_bytes_per_s"))
        _check_positive(self, ("kernel_launch_s", "energy_per_flop_j", "energy_per_byte_j",
                               "idle_power_w"), allow_zero=True)
        _check_int(self, ("bytes_per_value",))
        if self.precision not in GPU_PRECISIONS:
            raise ValueError(f"GpuSpec.precision must be one of {GPU_PRECISIONS}, "
                             f"got {self.precision!r}")


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


_NONE_MEANS = {"tile_size": "one unbounded tile", "weight_bits": "unquantized conductances",
               "cell_bits": "one cell holding the whole magnitude", "input_bits": "unquantized inputs",
               "adc_bits": "an ideal ADC"}


def geometry_from_config(config: Any, *, reference: ReramSpec | None = None,
                         rows: int | None = None) -> dict[str, Any]:
    """The :class:`ReramSpec` fields a crossbar config decides.

    Args:
        config: a :class:`reram.config.CrossbarConfig`, any object with its attributes (a
            layer's ``crossbar_config``, read duck-typed), or a dict of its fields.
        reference: the chip's crossbar spec. With it, a precision the config leaves ideal is
            costed as the silicon that computes it exactly: ``tile_size=None`` as the chip's
            arrays with their column currents summed in analog (``analog_row_sum``),
            ``cell_bits=None`` as one cell holding the whole magnitude, ``adc_bits=None`` as an
            ADC with enough bits to be lossless for ``rows`` rows. Without it they raise.
        rows: the layer's weight rows (fan-in), for the lossless ADC of an unbounded tile.

    Returns:
        ``{"crossbar_rows", "crossbar_cols", "cell_bits", "weight_bits", "input_bits",
        "dac_bits", "adc_bits", "differential_weights", "signed_input_phases",
        "analog_row_sum"}``: the sign on a G+/G- pair and inputs streamed in sign phases, as the
        simulation computes them.

    Raises:
        ValueError: for unquantized weights or inputs (no bit count to cost), or an ideal
            tile, cell or ADC without a ``reference``.
    """
    if isinstance(config, Mapping):
        from reram.config import CrossbarConfig

        config = CrossbarConfig.from_dict(dict(config))
    values: dict[str, int | None] = {}
    for name, meaning in _NONE_MEANS.items():
        value = getattr(config, name, None)
        if value is None and (reference is None or name in ("weight_bits", "input_bits")):
            raise ValueError(f"CrossbarConfig.{name}=None ({meaning}) has no silicon to cost; "
                             "give the layer a finite value (e.g. a Chip preset's config)")
        values[name] = None if value is None else int(value)
    weight_bits, input_bits = int(values["weight_bits"]), int(values["input_bits"])
    dac = getattr(config, "dac_bits", None)
    magnitude_bits = input_bits - 1
    dac = magnitude_bits if dac is None else max(1, min(int(dac), magnitude_bits))
    cell = values["cell_bits"] if values["cell_bits"] is not None else max(1, weight_bits - 1)
    tile = values["tile_size"]
    unbounded = tile is None
    if unbounded:
        tile = reference.crossbar_rows
    adc = values["adc_bits"]
    if adc is None:  # lossless: the largest column sum of the rows summed before conversion
        summed_rows = max(1, int(rows)) if unbounded and rows else int(tile)
        largest = summed_rows * ((1 << dac) - 1) * ((1 << min(cell, weight_bits - 1)) - 1)
        adc = max(1, math.ceil(math.log2(largest + 1)))
    return {"crossbar_rows": int(tile), "crossbar_cols": int(tile), "cell_bits": int(cell),
            "weight_bits": weight_bits, "input_bits": input_bits, "dac_bits": dac,
            "adc_bits": int(adc), "differential_weights": True, "signed_input_phases": True,
            "analog_row_sum": unbounded}


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
        crossbar: the fields of the chip's :class:`~reram.config.CrossbarConfig` when the file
            has a ``"crossbar"`` section (then ``reram``'s geometry was derived from it);
            ``None`` for a legacy spec that gives its geometry in ``reram``.
    """

    name: str
    reram: ReramSpec
    gpu: GpuSpec
    link: LinkSpec
    description: str = ""
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)
    crossbar: Mapping[str, Any] | None = field(default=None, compare=False)

    def replace(self, **changes: Any) -> HardwareSpec:
        """A copy with dotted-path overrides, e.g. ``replace(**{"reram.adc_bits": 6})``.

        ``reram.adc_bits`` goes through :meth:`ReramSpec.with_adc_bits` so the ADC's speed and
        energy follow its resolution. Changing a geometry field detaches the spec from its
        crossbar config (``crossbar`` becomes ``None``); change a chip's config with
        :meth:`reram.cost.chip.Chip.replace` instead.
        """
        parts: dict[str, dict[str, Any]] = {"reram": {}, "gpu": {}, "link": {}}
        for path, value in changes.items():
            side, _, name = path.partition(".")
            if side not in parts or name not in {f.name for f in fields(getattr(self, side))}:
                raise ValueError(f"unknown hardware field {path!r}; use 'reram.<field>', "
                                 "'gpu.<field>' or 'link.<field>'")
            parts[side][name] = value
        reram = self.reram
        crossbar = self.crossbar
        if set(parts["reram"]) & set(GEOMETRY_FIELDS):
            crossbar = None
        if "adc_bits" in parts["reram"]:
            reram = reram.with_adc_bits(parts["reram"].pop("adc_bits"))
        return dataclasses.replace(
            self, reram=dataclasses.replace(reram, **parts["reram"]),
            gpu=dataclasses.replace(self.gpu, **parts["gpu"]),
            link=dataclasses.replace(self.link, **parts["link"]), crossbar=crossbar)

    def with_gpu(self, name: str | GpuSpec, precision: str = "fp32") -> HardwareSpec:
        """The same chip with another GPU (a bundled name, see :func:`available_gpus`)."""
        if isinstance(name, GpuSpec):
            return dataclasses.replace(self, gpu=name)
        gpu, gpu_sources = load_gpu(name, precision)
        sources = {k: v for k, v in self.sources.items() if not k.startswith("gpu.")}
        sources.update(gpu_sources)
        return dataclasses.replace(self, gpu=gpu, sources=sources)

    def to_dict(self) -> dict:
        """Plain-dict form (JSON-ready), sources included."""
        reram = dataclasses.asdict(self.reram)
        out = {"name": self.name, "description": self.description}
        if self.crossbar is not None:
            out["crossbar"] = dict(self.crossbar)
            reram = {k: v for k, v in reram.items() if k not in GEOMETRY_FIELDS}
        sections = {"reram": reram, "gpu": dataclasses.asdict(self.gpu),
                    "link": dataclasses.asdict(self.link)}
        for key, section in sections.items():  # unsourced defaults stay out, as in the file
            spec = getattr(self, key)
            for f in fields(spec):
                if (f.name in section and f.default is not dataclasses.MISSING
                        and section[f.name] == f.default and f"{key}.{f.name}" not in self.sources):
                    del section[f.name]
        out.update(sections)
        out["_sources"] = dict(self.sources)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, require_sources: bool = True) -> HardwareSpec:
        """Build and validate a spec from its dict form (a parsed data file).

        Args:
            data: with keys ``name``, ``reram``, ``gpu`` (an object, or the name of a bundled
                GPU), ``link``, ``_sources`` and optionally ``crossbar`` (the chip's
                ``CrossbarConfig`` fields, which then decide ``reram``'s geometry).
            require_sources: if True, every number the file gives needs a ``_sources`` entry;
                fields it leaves out take their documented defaults.

        Raises:
            ValueError: on a missing or unknown field, a bad value, or a missing source.
        """
        name = data.get("name", "")
        sources = dict(data.get("_sources", {}))
        sections = {key: data.get(key) for key in ("reram", "gpu", "link")}
        if isinstance(sections["gpu"], str):
            precision = str(data.get("gpu_precision", "fp32"))
            gpu, gpu_sources = load_gpu(sections["gpu"], precision)
            sections["gpu"] = dataclasses.asdict(gpu)
            sources.update(gpu_sources)
        for key, section in sections.items():
            if not isinstance(section, Mapping):
                raise ValueError(f"hardware config {name!r} needs a {key!r} object")
        given = {key: set(section) for key, section in sections.items()}
        reram_data = dict(sections["reram"])
        crossbar = data.get("crossbar")
        if crossbar is not None:
            if not isinstance(crossbar, Mapping):
                raise ValueError(f"hardware config {name!r}: 'crossbar' must be an object of "
                                 "CrossbarConfig fields")
            twice = sorted(set(reram_data) & set(GEOMETRY_FIELDS))
            if twice:
                raise ValueError(f"hardware config {name!r}: reram.{twice[0]} is decided by the "
                                 "'crossbar' section; remove it from 'reram'")
            reram_data.update(geometry_from_config(crossbar))
            for key in GEOMETRY_FIELDS:
                sources.setdefault(f"reram.{key}", "derived from the chip's crossbar config")
            # the config fields the cost model charges need a source; the simulation-only
            # ones (conductances, defects, seed, update rule) do not
            given["crossbar"] = set(crossbar) & (set(_NONE_MEANS) | {"dac_bits"})
        parts = {}
        for key, spec_cls in (("reram", ReramSpec), ("gpu", GpuSpec), ("link", LinkSpec)):
            values = reram_data if key == "reram" else sections[key]
            known = {f.name for f in fields(spec_cls)}
            unknown = sorted(set(values) - known)
            if unknown:
                raise ValueError(f"hardware config {name!r}: unknown field {key}.{unknown[0]}")
            try:
                parts[key] = spec_cls(**values)
            except TypeError as err:
                missing = sorted(f.name for f in fields(spec_cls)
                                 if f.name not in values and f.default is dataclasses.MISSING)
                raise ValueError(f"hardware config {name!r}: missing field "
                                 f"{key}.{missing[0] if missing else '?'}") from err
        if require_sources:
            for key, names in given.items():
                for field_name in sorted(names - {"name"}):
                    if not str(sources.get(f"{key}.{field_name}", "")).strip():
                        raise ValueError(f"hardware config {name!r}: field {key}.{field_name} "
                                         "has no entry in _sources")
        return cls(name=str(name), reram=parts["reram"], gpu=parts["gpu"], link=parts["link"],
                   description=str(data.get("description", "")), sources=sources,
                   crossbar=dict(crossbar) if crossbar is not None else None)


def available_gpus() -> list[str]:
    """Names of the bundled GPU baselines (``"v100"``, ``"gtx1080"``, ``"a100"``)."""
    return sorted(p.stem[len(GPU_PREFIX):] for p in HARDWARE_DIR.glob(f"{GPU_PREFIX}*.json"))


def load_gpu(name: str, precision: str = "fp32") -> tuple[GpuSpec, dict[str, str]]:
    """A bundled GPU baseline and the sources of its numbers.

    The dynamic energy per FLOP is the board power above idle at peak over the peak rate,
    ``(tdp_w - idle_power_w) / peak_flops[precision]``, so a compute-bound kernel draws the
    TDP; ``idle_power_w`` is charged for all the time the board is on.

    Args:
        name: a name of :func:`available_gpus`.
        precision: ``"fp32"``, or ``"mixed"`` (tensor cores: FP16 operands, 2 bytes a value).

    Returns:
        ``(GpuSpec, {"gpu.<field>": source})``.

    Raises:
        ValueError: for an unknown name or a precision the GPU has no rate for.
    """
    if precision not in GPU_PRECISIONS:
        raise ValueError(f"gpu precision must be one of {GPU_PRECISIONS}, got {precision!r}")
    path = HARDWARE_DIR / f"{GPU_PREFIX}{name}.json"
    if not path.is_file():
        raise ValueError(f"unknown gpu {name!r}; available: {', '.join(available_gpus())}")
    with path.open(encoding="utf-8") as handle:
        data = json.load(handle)
    peaks = data["peak_flops"]
    if precision not in peaks:
        raise ValueError(f"gpu {name!r} has no {precision} rate (it has no tensor cores); "
                         f"use precision 'fp32'")
    src = data["_sources"]
    peak = float(peaks[precision])
    gpu = GpuSpec(name=str(data["name"]) + ("" if precision == "fp32" else " (mixed precision)"),
                  peak_flops=peak,
                  memory_bandwidth_bytes_per_s=float(data["memory_bandwidth_bytes_per_s"]),
                  kernel_launch_s=float(data["kernel_launch_s"]),
                  energy_per_flop_j=(float(data["tdp_w"]) - float(data["idle_power_w"])) / peak,
                  energy_per_byte_j=float(data["energy_per_byte_j"]),
                  bytes_per_value=4 if precision == "fp32" else 2,
                  idle_power_w=float(data["idle_power_w"]), precision=precision)
    sources = {
        "gpu.peak_flops": src[f"peak_flops.{precision}"],
        "gpu.memory_bandwidth_bytes_per_s": src["memory_bandwidth_bytes_per_s"],
        "gpu.kernel_launch_s": src["kernel_launch_s"],
        "gpu.energy_per_flop_j": (f"derived: (TDP {data['tdp_w']} W - idle "
                                  f"{data['idle_power_w']} W) / peak {precision} rate; TDP: "
                                  f"{src['tdp_w']}; idle: {src['idle_power_w']}"),
        "gpu.energy_per_byte_j": src["energy_per_byte_j"],
        "gpu.bytes_per_value": "4 bytes (FP32)" if precision == "fp32" else
        "2 bytes (FP16 operands of tensor-core mixed precision)",
        "gpu.idle_power_w": src["idle_power_w"], "gpu.precision": precision}
    return gpu, sources


def available_hardware() -> list[str]:
    """Names of the bundled hardware configurations."""
    return sorted(p.stem for p in HARDWARE_DIR.glob("*.json") if not p.stem.startswith(GPU_PREFIX))


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
