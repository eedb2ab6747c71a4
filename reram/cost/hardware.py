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
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from reram.cost.silicon import SiliconSpec, adc_energy_scale, dac_scale

__all__ = ["ReramSpec", "GpuSpec", "LinkSpec", "HardwareSpec", "load_hardware",
           "available_hardware", "HARDWARE_DIR", "GPU_PRECISIONS", "GPU_RATES",
           "GPU_IDLE_POLICIES", "GEOMETRY_FIELDS",
           "geometry_from_config", "load_gpu", "available_gpus", "is_spec_path",
           "resolve_spec_path", "tile_geometry"]

HARDWARE_DIR = Path(__file__).resolve().parent / "specs"
#: GPU baselines live next to the chips as ``gpu_<name>.json`` (one folder: setup.py ships
#: ``specs/*.json``).
GPU_PREFIX = "gpu_"
#: GPU arithmetic of a baseline: FP32, or tensor-core mixed precision (FP16 products).
GPU_PRECISIONS = ("fp32", "mixed")
#: Where a GPU baseline's rate comes from: the datasheet roofline, or published measurements.
GPU_RATES = ("roofline", "measured")
#: How the GPU's idle power is charged in the heterogeneous chip (see ``GpuSpec.idle_policy``).
GPU_IDLE_POLICIES = ("idle", "off", "shared")
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
            leakage), W; charged for the whole batch time. It is ``tiles`` x a per-tile figure
            (:meth:`with_tiles` scales it; a chip with a silicon section derives it).
        max_write_power_w: the most power the chip's write drivers may draw at once, W
            (``None``: unbounded); bounds how many cells are programmed in parallel. Per
            tile like ``static_power_w`` (:meth:`with_tiles` scales it).
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
        ``old_bits / new_bits``; its energy per conversion moves as the survey model of
        published converters says (:func:`reram.cost.silicon.adc_energy_scale`: a Walden
        figure-of-merit term plus a per-conversion floor, so 4 bits cost 0.4x 8 bits, not 1/16).

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
            * adc_energy_scale(self.adc_bits, adc_bits))

    def with_geometry(self, **geometry: Any) -> ReramSpec:
        """The same silicon with another crossbar geometry (:data:`GEOMETRY_FIELDS`), its
        peripherals costed by physics: the arrays' read energy with rows x cols, the DACs'
        with rows and resolution (x2 per bit), the ADC's rate and energy with its bits
        (:meth:`with_adc_bits`). Crossbars per tile are the chip's business
        (:class:`reram.cost.chip.Chip` keeps a tile's area)."""
        unknown = sorted(set(geometry) - set(GEOMETRY_FIELDS))
        if unknown:
            raise ValueError(f"ReramSpec.with_geometry: {unknown[0]!r} is not a geometry field")
        adc_bits = geometry.pop("adc_bits", self.adc_bits)
        rows = geometry.get("crossbar_rows", self.crossbar_rows)
        cols = geometry.get("crossbar_cols", self.crossbar_cols)
        dac_bits = geometry.get("dac_bits", self.dac_bits)
        cells = rows * cols / (self.crossbar_rows * self.crossbar_cols)
        spec = dataclasses.replace(
            self, **geometry,
            crossbar_energy_per_cycle_j=self.crossbar_energy_per_cycle_j * cells,
            dac_energy_per_cycle_j=self.dac_energy_per_cycle_j * rows / self.crossbar_rows
            * dac_scale(self.dac_bits, dac_bits))
        return spec if adc_bits == spec.adc_bits else spec.with_adc_bits(adc_bits)

    def with_tiles(self, tiles: int) -> ReramSpec:
        """The same chip with ``tiles`` tiles: the always-on power and the write-power limit
        are per tile, so they scale with the count."""
        if isinstance(tiles, bool) or not isinstance(tiles, int) or tiles < 1:
            raise ValueError(f"tiles must be an int >= 1, got {tiles!r}")
        ratio = tiles / self.tiles
        return dataclasses.replace(
            self, tiles=tiles, static_power_w=self.static_power_w * ratio,
            max_write_power_w=None if self.max_write_power_w is None
            else self.max_write_power_w * ratio)

    @property
    def static_power_per_tile_w(self) -> float:
        """Always-on power of one tile, W."""
        return self.static_power_w / self.tiles


@dataclass(frozen=True)
class GpuSpec:
    """The GPU side (also the GPU-only baseline).

    Attributes:
        name: the GPU's name.
        peak_flops: peak throughput at ``precision`` (FP32, or the tensor cores' for
            ``"mixed"``), FLOP/s.
        memory_bandwidth_bytes_per_s: DRAM bandwidth, bytes/s.
        kernel_launch_s: fixed overhead per kernel launch, s.
        energy_per_flop_j: energy per operation at ``precision``, J.
        energy_per_byte_j: energy per DRAM byte moved, J.
        bytes_per_value: bytes of one tensor element (4 for FP32, 2 for mixed precision).
        idle_power_w: board power while powered but idle, W; charged for the whole batch time
            (the dynamic ``energy_per_flop_j`` and ``energy_per_byte_j`` come on top).
        precision: ``"fp32"`` or ``"mixed"`` (tensor-core FP16 products, FP32 sums).
        rate: ``"roofline"`` (the datasheet peaks) or ``"measured"`` (peaks derated so the
            roofline gives the published measured training rate, :mod:`reram.cost.gpu`).
        idle_policy: how the GPU's idle power is charged in the heterogeneous chip (one of
            :data:`GPU_IDLE_POLICIES`): ``"idle"``: the board is on for the whole batch;
            ``"off"``: it is powered only while it works; ``"shared"``: it serves other jobs
            between ours, which pay its idle power. The GPU-only baseline is busy throughout.
        tdp_w: the board's maximum power, W (``None``: not given).
        die_area_mm2: the GPU die's area, mm2 (``None``: not given).
        node_nm: the GPU's technology node, nm (``None``: not given).
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
    rate: str = "roofline"
    idle_policy: str = "idle"
    tdp_w: float | None = None
    die_area_mm2: float | None = None
    node_nm: float | None = None

    def __post_init__(self) -> None:
        _check_positive(self, ("peak_flops", "memory_bandwidth_bytes_per_s"))
        _check_positive(self, ("kernel_launch_s", "energy_per_flop_j", "energy_per_byte_j",
                               "idle_power_w"), allow_zero=True)
        _check_int(self, ("bytes_per_value",))
        for name in ("tdp_w", "die_area_mm2", "node_nm"):
            if getattr(self, name) is not None:
                _check_positive(self, (name,))
        if self.precision not in GPU_PRECISIONS:
            raise ValueError(f"GpuSpec.precision must be one of {GPU_PRECISIONS}, "
                             f"got {self.precision!r}")
        if self.rate not in GPU_RATES:
            raise ValueError(f"GpuSpec.rate must be one of {GPU_RATES}, got {self.rate!r}")
        if self.idle_policy not in GPU_IDLE_POLICIES:
            raise ValueError(f"GpuSpec.idle_policy must be one of {GPU_IDLE_POLICIES}, "
                             f"got {self.idle_policy!r}")

    def idle_charged_s(self, batch_s: float, busy_s: float) -> float:
        """Seconds of idle power charged to a batch of ``batch_s`` in which the GPU works
        ``busy_s`` (see ``idle_policy``)."""
        return {"idle": batch_s, "off": min(busy_s, batch_s), "shared": 0.0}[self.idle_policy]


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
        silicon: area and power of the chip's units (:mod:`reram.cost.silicon`), from the
            file's ``"silicon"`` section (or the preset it names); ``None``: no stated size.
        tile_reference: ``(geometry, crossbars_per_tile)`` as the file gives them: a chip whose
            config changes the geometry keeps this tile's area, not its array count.
    """

    name: str
    reram: ReramSpec
    gpu: GpuSpec
    link: LinkSpec
    description: str = ""
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)
    crossbar: Mapping[str, Any] | None = field(default=None, compare=False)
    silicon: SiliconSpec | None = field(default=None, compare=False)
    tile_reference: tuple[tuple[int, ...], int] | None = field(default=None, compare=False)

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

    def with_gpu(self, name: str | GpuSpec, precision: str = "fp32",
                 sources: Mapping[str, str] | None = None) -> HardwareSpec:
        """The same chip with another GPU: a bundled name (see :func:`available_gpus`) at
        ``precision``, or a :class:`GpuSpec` with the ``sources`` of its numbers (e.g.
        :func:`reram.cost.gpu.measured_gpu`'s)."""
        if isinstance(name, GpuSpec):
            gpu, gpu_sources = name, dict(sources or {})
        else:
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
        if self.silicon is not None:
            out["silicon"] = self.silicon.to_dict()
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
        silicon = _silicon_of(data.get("silicon"), name)
        reram = parts["reram"]
        if silicon is not None:  # reram.cost.chip.Chip derives it from the silicon's units
            sources["reram.static_power_w"] = (
                "derived: tiles x the always-on power (static_w) of a tile's silicon units, "
                "plus the chip-level ones (see the 'silicon' section and Chip.components())")
        return cls(name=str(name), reram=reram, gpu=parts["gpu"], link=parts["link"],
                   description=str(data.get("description", "")), sources=sources,
                   crossbar=dict(crossbar) if crossbar is not None else None, silicon=silicon,
                   tile_reference=(tile_geometry(reram), reram.crossbars_per_tile))


def tile_geometry(reram: ReramSpec) -> tuple[int, ...]:
    """What decides the area of a tile's crossbars: rows, cols, ADC bits, DAC bits, ADCs per
    crossbar."""
    return (reram.crossbar_rows, reram.crossbar_cols, reram.adc_bits, reram.dac_bits,
            reram.adcs_per_crossbar)


def _silicon_of(section: Any, name: str) -> SiliconSpec | None:
    """A file's ``"silicon"`` entry: an object, or the name of the preset whose section it
    shares (``"isaac"``)."""
    if section is None:
        return None
    if isinstance(section, str):
        if section == name:
            raise ValueError(f"hardware config {name!r}: 'silicon' names the file itself")
        shared = load_hardware(section).silicon
        if shared is None:
            raise ValueError(f"hardware config {name!r}: preset {section!r} has no silicon section")
        return shared
    if not isinstance(section, Mapping):
        raise ValueError(f"hardware config {name!r}: 'silicon' must be an object or a preset name")
    return SiliconSpec.from_dict(section)


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
    data = gpu_file(name)
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
                  idle_power_w=float(data["idle_power_w"]), precision=precision,
                  tdp_w=float(data["tdp_w"]), die_area_mm2=data.get("die_area_mm2"),
                  node_nm=data.get("node_nm"))
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
        "gpu.idle_power_w": src["idle_power_w"], "gpu.precision": precision,
        "gpu.rate": "roofline: the datasheet peaks", "gpu.idle_policy": "idle (the default)",
        "gpu.tdp_w": src["tdp_w"]}
    for key in ("die_area_mm2", "node_nm"):
        if key in data:
            sources[f"gpu.{key}"] = src[key]
    return gpu, sources


def gpu_file(name: str) -> dict[str, Any]:
    """The parsed ``gpu_<name>.json`` of a bundled GPU (its measured figures included)."""
    path = HARDWARE_DIR / f"{GPU_PREFIX}{name}.json"
    if not path.is_file():
        raise ValueError(f"unknown gpu {name!r}; available: {', '.join(available_gpus())}")
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def available_hardware() -> list[str]:
    """Names of the bundled hardware configurations."""
    return sorted(p.stem for p in HARDWARE_DIR.glob("*.json") if not p.stem.startswith(GPU_PREFIX))


def is_spec_path(name_or_path: str | Path) -> bool:
    """Whether ``name_or_path`` names a file rather than a bundled preset: a ``Path``, or text
    with a folder separator or a ``.json`` suffix. A preset name is never looked up on disk,
    so a file or folder named like one (``mkdir isaac``) changes nothing."""
    if isinstance(name_or_path, Path):
        return True
    text = str(name_or_path)
    return text.endswith(".json") or "/" in text or (os.sep != "/" and os.sep in text)


def resolve_spec_path(name_or_path: str | Path) -> Path:
    """The JSON file of a preset name or a path (see :func:`is_spec_path`).

    Raises:
        ValueError: for a name that is no bundled preset, or a path that is not a file.
    """
    if is_spec_path(name_or_path):
        path = Path(name_or_path).expanduser()
        if not path.is_file():
            raise ValueError(f"hardware config file {str(path)!r} does not exist or is not a file")
        return path
    text = str(name_or_path)
    if text.startswith(GPU_PREFIX) or text not in available_hardware():
        raise ValueError(f"unknown hardware config {text!r}; available: "
                         f"{', '.join(available_hardware())} or a path to a .json file "
                         "(e.g. ./chip.json)")
    return HARDWARE_DIR / f"{text}.json"


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
    path = resolve_spec_path(name_or_path)
    try:
        with path.open(encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"cannot read hardware config {str(path)!r}: {err}") from err
    if not isinstance(data, dict):
        raise ValueError(f"hardware config {str(path)!r} must hold a JSON object")
    return HardwareSpec.from_dict(data)
