"""The heterogeneous ReRAM + GPU scheduler: :func:`schedule` turns a model into a costed plan.

Routing (one fixed rule, see docs/scheduler.md):

* Conv2d/Linear (crossbar layers included) -> ``"reram"``: mapped onto crossbars, replicated
  onto spare crossbars, the slowest stage first, as far as the costed latency (copies' writes
  included) gains (:func:`replicate_layers`: more crossbars are never slower, by construction).
* BatchNorm -> ``"gpu"``: needs full precision; in training it also needs the statistics of the
  whole batch, so it is a *barrier* that drains the pipeline.
* Activations and pooling -> ``"digital"`` (the digital units of the tiles that hold the
  producing crossbar layer, as ISAAC's per-tile sigmoid and max-pool units) by default, or
  ``"gpu"`` with ``elementwise_unit="gpu"``.

Consecutive GPU layers form one group: the batch's activations cross the link once into it and
once out of it (one transfer each way per phase), and every such transfer is counted. A GPU
group with no barrier (inference BN, or activations on the GPU) is a pipeline stage whose
per-sample time is its batch cost divided by the batch size: the GPU works on the batch as it
streams in, with one kernel launch per layer and one transfer per direction per batch. Layers between barriers form a PipeLayer-style
inter-layer pipeline over the batch: a segment of stages with per-sample times ``t_i`` takes
``sum(t_i) + (batch_size - 1) * max(t_i)``. Training runs forward, then backward (reverse order:
each crossbar layer's input gradient on its transposed crossbars and, side by side, its weight
gradient by the chip's dataflow, :mod:`reram.cost.training`; BN backward on the GPU), then the
optimizer on the tiles' digital units and the weight-update writes of all layers in parallel
(write-verify pulses, :mod:`reram.cost.writes`), then the DRAM traffic of what the batch kept
and accumulated beyond the buffers (:mod:`reram.cost.memory`). The GPU-only baseline runs every layer of the same trace on the GPU, one after another,
costed by a roofline (or by measurement, ``gpu_baseline="measured"``).

Each crossbar layer is costed with its own crossbar config (a converted model's
``crossbar_config``, else the chip's); see :class:`reram.cost.chip.Chip`. Its stage includes its
data movement (:func:`crossbar_stage_cost`): tile-buffer time and the on-chip network's time and
energy (:mod:`reram.cost.interconnect`, ``chip.training.memory.interconnect``), overlapped with
the compute by default.

This module reads traces, chips and hardware specs only; it does not import the simulation.
"""
from __future__ import annotations

import dataclasses
import heapq
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from torch import nn

from reram.cost.layer_cost import (PhaseCost, crossbar_phase_cost, crossbar_update_cost,
                                   digital_phase_cost, gpu_phase_cost, gpu_work, link_cost,
                                   map_layer)
from reram.cost.chip import Chip
from reram.cost.hardware import GpuSpec, HardwareSpec, ReramSpec, available_gpus
from reram.cost.interconnect import transfer_cost, with_transfers
from reram.cost.memory import MemoryTraffic, training_memory
from reram.cost.trace import LayerTrace, Trace, trace_model
from reram.cost.training import (TrainingSpec, error_mapping, training_crossbars,
                                 weight_gradient_cost, weight_gradient_operand_bytes)
from reram.cost.writes import (PulseRecord, endurance_report, pulse_records, pulses_per_level,
                               random_rewrite_activity)

__all__ = ["schedule", "Plan", "LayerCost", "MODES", "UNITS", "ChipMapping", "Charge", "Stage",
           "GpuBaseline", "route", "map_and_replicate", "replicate_layers", "phase_stages",
           "phase_time", "bottleneck_of", "update_charges", "gpu_only_baseline", "split_measured",
           "layer_specs", "resolve_chip", "PIPELINES", "backward_cost", "optimizer_charges",
           "endurance_of", "PlanContext", "crossbar_stage_cost"]

MODES = ("inference", "train")
UNITS = ("reram", "gpu", "digital")
_MODE_ALIASES = {"inference": "inference", "infer": "inference", "eval": "inference",
                 "train": "train", "training": "train"}


@dataclass
class LayerCost:
    """Cost of one layer in a plan.

    Attributes:
        name: dotted module name.
        kind: ``"conv"``, ``"linear"``, ``"bn"``, ``"act"`` or ``"pool"``.
        unit: where it runs in the heterogeneous chip: ``"reram"``, ``"gpu"`` or ``"digital"``.
        latency_s: busy time of the layer for one batch, all phases (transfers included); with
            the pipeline on, layers overlap and the plan's latency is less than the sum.
        energy_j: energy for one batch, all phases, transfers included.
        bytes_moved: bytes over the ReRAM-GPU link for one batch.
        phases: busy time per phase (``"forward"``, ``"backward"``, ``"update"``), s.
        crossbars: crossbars of one copy (reram layers).
        replicas: copies of the layer on the chip (reram layers).
        tiles: tiles its copies occupy, ``ceil(crossbars * replicas / crossbars_per_tile)``.
        gpu_latency_s: the layer's time for one batch in the GPU-only baseline.
        gpu_energy_j: the layer's energy for one batch in the GPU-only baseline.
        energy_parts: ``energy_j`` split by component (``reram.cost.layer_cost.ENERGY_PARTS``).
    """

    name: str
    kind: str
    unit: str
    latency_s: float = 0.0
    energy_j: float = 0.0
    bytes_moved: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    crossbars: int = 0
    replicas: int = 1
    tiles: int = 0
    gpu_latency_s: float = 0.0
    gpu_energy_j: float = 0.0
    energy_parts: dict[str, float] = field(default_factory=dict)

    def _add(self, phase: str, seconds: float, energy: float, nbytes: float = 0.0,
             parts: Mapping[str, float] | None = None) -> None:
        self.phases[phase] = self.phases.get(phase, 0.0) + seconds
        self.latency_s += seconds
        self.energy_j += energy
        self.bytes_moved += nbytes
        for key, value in (parts or {}).items():
            self.energy_parts[key] = self.energy_parts.get(key, 0.0) + value


@dataclass
class Plan:
    """A costed schedule of one model on one chip, for one batch.

    Attributes:
        model_name: the traced model's class name.
        mode: ``"train"`` or ``"inference"``.
        batch_size: samples per batch.
        input_shape: per-sample input shape.
        hardware: the chip's name.
        layers: one :class:`LayerCost` per traced layer, in forward order.
        latency_s: time of one batch on the heterogeneous chip.
        energy_j: energy of one batch: the layers' energies, the DRAM traffic (training), and
            the static power of the ReRAM side and the idle power of the GPU over ``latency_s``
            (the GPU's as its ``idle_policy`` charges it).
        throughput: samples per second, ``batch_size / latency_s``.
        gpu_latency_s: time of one batch in the GPU-only baseline.
        gpu_energy_j: energy of one batch in the GPU-only baseline.
        gpu_throughput: samples per second of the baseline.
        speedup_vs_gpu: ``gpu_latency_s / latency_s``.
        energy_ratio_vs_gpu: ``gpu_energy_j / energy_j`` (> 1: the chip saves energy).
        gpu_utilization: the baseline's achieved FLOP/s (its FLOPs over ``gpu_latency_s``,
            measured or roofline) over the GPU's peak.
        bottleneck: the slowest pipeline stage: ``{"name", "phase", "per_sample_s"}``.
        update_s: time of the weight-update writes (training).
        barriers: number of pipeline drains in training: two per GPU group holding a BN (its
            forward and its backward); 0 in inference.
        crossbars_used: crossbars of all copies of all layers.
        crossbars_available: crossbars on the chip.
        pipelined: whether the inter-layer pipeline was modelled.
        gpu_baseline: ``"roofline"`` or ``"measured"``.
        pipeline: ``"layer"`` (inter-layer pipeline per phase), ``"none"`` or ``"pipelayer"``
            (forward and backward of different samples overlap on separate arrays).
        energy_breakdown: ``energy_j`` split by component (``ENERGY_PARTS``): the layers' parts
            plus ``"dram"`` (training), ``"reram_static"`` (the ReRAM side's static power over
            ``latency_s``) and ``"gpu_idle"`` (the GPU's idle power over the seconds its
            ``idle_policy`` charges: ``latency_s`` for ``"idle"``).
        gpu_energy_breakdown: the baseline's energy: ``"gpu"`` (work) and ``"gpu_idle"``.
        gpu_name: the GPU (both the chip's GPU side and the baseline).
        config: the chip's crossbar config (a dict of its fields), ``None`` for a chip without one.
        weight_gradient: the weight-gradient dataflow (``"digital"`` or ``"in-array"``; training).
        memory: training's memory: ``{"activation_bytes", "gradient_bytes", "buffer_bytes",
            "dram_bytes"}`` (bytes; empty in inference).
        dram_s: DRAM transfer time in ``latency_s`` (training), s.
        endurance: writes per cell per epoch per array kind against the device's endurance, and
            the epochs until wear-out (:func:`reram.cost.writes.endurance_report`; training).
        training_area_mm2: silicon training adds on the tiles the layers occupy, mm2:
            ``"weight_gradient_unit"`` (digital dataflow; at the chip's node, as
            :meth:`Chip.training_components` counts it), ``"transposed_periphery"`` (row-side
            ADCs and column-side DACs of the input gradient).
        pulses_from: ``"simulation"`` when every crossbar layer's update pulses were read from
            its pulse record (``update="pulsed"``), ``"mixed"`` when some were, else
            ``"write_model"`` (training only).
    """

    model_name: str
    mode: str
    batch_size: int
    input_shape: tuple[int, ...]
    hardware: str
    layers: list[LayerCost]
    latency_s: float
    energy_j: float
    throughput: float
    gpu_latency_s: float
    gpu_energy_j: float
    gpu_throughput: float
    speedup_vs_gpu: float
    energy_ratio_vs_gpu: float
    gpu_utilization: float
    bottleneck: dict[str, Any]
    update_s: float
    barriers: int
    crossbars_used: int
    crossbars_available: int
    pipelined: bool
    gpu_baseline: str
    pipeline: str = "layer"
    energy_breakdown: dict[str, float] = field(default_factory=dict)
    gpu_energy_breakdown: dict[str, float] = field(default_factory=dict)
    gpu_name: str = ""
    config: dict[str, Any] | None = None
    weight_gradient: str = ""
    memory: dict[str, float] = field(default_factory=dict)
    dram_s: float = 0.0
    endurance: dict[str, Any] = field(default_factory=dict)
    training_area_mm2: dict[str, float] = field(default_factory=dict)
    pulses_from: str = ""

    @property
    def bn_count(self) -> int:
        """BatchNorm layers in the plan."""
        return sum(1 for layer in self.layers if layer.kind == "bn")

    def time_by_kind(self) -> dict[str, dict[str, float]]:
        """Busy time per layer kind, ``{kind: {"gpu_only": s, "heterogeneous": s}}``."""
        out: dict[str, dict[str, float]] = {}
        for layer in self.layers:
            entry = out.setdefault(layer.kind, {"gpu_only": 0.0, "heterogeneous": 0.0})
            entry["gpu_only"] += layer.gpu_latency_s
            entry["heterogeneous"] += layer.latency_s
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (JSON-ready)."""
        data = asdict(self)
        data["input_shape"] = list(self.input_shape)
        data["bn_count"] = self.bn_count
        data["time_by_kind"] = self.time_by_kind()
        return data

    def to_json(self, path: str | Path | None = None, indent: int = 2) -> str:
        """The plan as JSON text; also written to ``path`` if given."""
        text = json.dumps(self.to_dict(), indent=indent)
        if path is not None:
            from reram.io import atomic_write_text

            atomic_write_text(path, text + "\n")
        return text

    def summary(self) -> str:
        """One line: speedup, energy ratio, throughput, bottleneck."""
        return (f"{self.model_name} {self.mode} batch={self.batch_size} on {self.hardware}: "
                f"{self.latency_s * 1e3:.3f} ms/batch ({self.throughput:.1f} samples/s), "
                f"GPU-only {self.gpu_latency_s * 1e3:.3f} ms -> speedup {self.speedup_vs_gpu:.2f}x, "
                f"energy ratio {self.energy_ratio_vs_gpu:.2f}x, bottleneck "
                f"{self.bottleneck.get('name')} ({self.bottleneck.get('phase')})")

    def table(self) -> str:
        """A fixed-width text table of the layers and the totals."""
        head = (f"{'layer':<28} {'kind':<6} {'unit':<7} {'xbars':>6} {'rep':>4} "
                f"{'hetero ms':>10} {'gpu ms':>9} {'energy mJ':>10} {'link kB':>9}")
        lines = [head, "-" * len(head)]
        for layer in self.layers:
            lines.append(
                f"{layer.name[:28]:<28} {layer.kind:<6} {layer.unit:<7} {layer.crossbars:>6} "
                f"{layer.replicas:>4} {layer.latency_s * 1e3:>10.4f} "
                f"{layer.gpu_latency_s * 1e3:>9.4f} {layer.energy_j * 1e3:>10.4f} "
                f"{layer.bytes_moved / 1e3:>9.1f}")
        lines.append("-" * len(head))
        lines.append(self.summary())
        return "\n".join(lines)

    def save_png(self, path: str | Path) -> Path:
        """Save the per-layer-type time breakdown (GPU-only vs heterogeneous) as a PNG."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        by_kind = self.time_by_kind()
        kinds = sorted(by_kind)
        fig, ax = plt.subplots(figsize=(6, 4))
        bottoms = [0.0, 0.0]
        for kind in kinds:
            values = [by_kind[kind]["gpu_only"] * 1e3, by_kind[kind]["heterogeneous"] * 1e3]
            ax.bar(["GPU only", "ReRAM+GPU (busy)"], values, bottom=bottoms, label=kind)
            bottoms = [b + v for b, v in zip(bottoms, values)]
        ax.set_ylabel("time per batch, ms (layer busy time)")
        ax.set_title(f"{self.model_name} {self.mode}, batch {self.batch_size}, {self.hardware}")
        ax.legend()
        fig.tight_layout()
        from reram.io import save_figure

        return save_figure(fig, path, dpi=120)


# ----------------------------------------------------------------------------------------------
# The steps of :func:`schedule`. Each is a pure function of a trace, the routing and the chip,
# returns plain values, and is tested on its own (tests/reram/cost/test_scheduler_steps.py).
# ----------------------------------------------------------------------------------------------

#: Values of ``pipeline`` (``True`` is ``"layer"``, ``False`` is ``"none"``).
PIPELINES = ("layer", "none", "pipelayer")


@dataclass(frozen=True)
class ChipMapping:
    """Where the crossbar layers sit on the chip (the result of :func:`map_and_replicate`).

    Attributes:
        crossbars: layer name -> crossbars of one copy of the layer (all its arrays: with
            ``pipeline="pipelayer"`` in training, a forward and a backward set).
        replicas: layer name -> copies of the layer on the chip.
        digital_tiles: per traced layer (forward order), the tiles whose digital units run it:
            those holding the nearest preceding crossbar layer (1 before the first one).
        available: crossbars on the chip.
        arrays_per_copy: array sets per copy (2 with ``pipeline="pipelayer"`` in training).
    """

    crossbars: Mapping[str, int]
    replicas: Mapping[str, int]
    digital_tiles: tuple[int, ...]
    available: int
    arrays_per_copy: int = 1

    def tiles(self, name: str, crossbars_per_tile: int) -> int:
        """Tiles the copies of crossbar layer ``name`` occupy."""
        return -(-self.crossbars[name] * self.replicas[name] // crossbars_per_tile)

    @property
    def crossbars_used(self) -> int:
        """Crossbars of all copies of all crossbar layers."""
        return sum(self.crossbars[name] * self.replicas[name] for name in self.crossbars)


@dataclass(frozen=True)
class Charge:
    """One layer's share of a stage: what the stage adds to that layer's :class:`LayerCost`.

    Attributes:
        index: the layer's position in the trace.
        seconds: busy time added to the layer's phase, s.
        energy_j: energy for the whole batch, J.
        bytes_moved: bytes over the ReRAM-GPU link for the whole batch.
        parts: ``energy_j`` split by component.
    """

    index: int
    seconds: float
    energy_j: float
    bytes_moved: float = 0.0
    parts: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Stage:
    """One item of a phase's pipeline: a crossbar layer, a digital layer or a GPU group.

    Attributes:
        name: the layer's name (a GPU group: its first layer in the phase's order).
        phase: ``"forward"`` or ``"backward"``.
        unit: ``"reram"``, ``"digital"`` or ``"gpu"``.
        per_sample_s: time per sample as a pipeline stage (0 for a barrier).
        batch_s: time of the whole batch run alone.
        barrier: True for a GPU group holding a BN in training: the pipeline drains before it.
        charges: what the stage costs each of its layers.
    """

    name: str
    phase: str
    unit: str
    per_sample_s: float
    batch_s: float
    barrier: bool = False
    charges: tuple[Charge, ...] = ()


@dataclass(frozen=True)
class GpuBaseline:
    """The GPU-only baseline of a trace (the result of :func:`gpu_only_baseline`).

    Attributes:
        latency_s: per traced layer, its time for one batch, all phases, s.
        energy_j: per traced layer, its dynamic energy for one batch, all phases, J (the board's
            idle power over the batch time is added by :func:`schedule`).
        flops: floating-point operations of the whole batch.
    """

    latency_s: tuple[float, ...]
    energy_j: tuple[float, ...]
    flops: float


def route(trace: Trace, elementwise_unit: str = "digital") -> list[str]:
    """The unit of each traced layer: conv/linear on ``"reram"``, BN on ``"gpu"``, activations
    and pooling on ``elementwise_unit`` (``"digital"`` or ``"gpu"``)."""
    if elementwise_unit not in ("digital", "gpu"):
        raise ValueError(f"elementwise_unit must be 'digital' or 'gpu', got {elementwise_unit!r}")
    units = []
    for layer in trace.layers:
        if layer.kind in ("conv", "linear"):
            units.append("reram")
        elif layer.kind == "bn":
            units.append("gpu")
        else:
            units.append(elementwise_unit)
    return units


def _first_compute(trace: Trace) -> int:
    """Index of the first conv/linear layer (it needs no input gradient), -1 if none."""
    return next((i for i, l in enumerate(trace.layers) if l.kind in ("conv", "linear")), -1)


def layer_specs(trace: Trace, chip: Chip) -> list[ReramSpec]:
    """The crossbar spec of every traced layer: a crossbar layer's own ``crossbar_config`` on
    the chip's silicon, a float layer's the chip's config; non-crossbar layers get the spec of
    the nearest preceding crossbar layer (their digital units and activation width), the
    chip's before the first one."""
    cache: dict[tuple[int, int], ReramSpec] = {}
    specs, current = [], chip.reram_for(None)
    for layer in trace.layers:
        if layer.kind in ("conv", "linear"):
            config = layer.crossbar_config
            if config is None and chip.config is not None:
                config = chip.config
            key = (id(config), layer.weight_rows)
            if key not in cache:
                cache[key] = chip.reram_for(config, rows=layer.weight_rows)
            current = cache[key]
        specs.append(current)
    return specs


def backward_cost(layer: LayerTrace, reram: ReramSpec, spec: TrainingSpec, batch: int, *,
                  replicas: int = 1, tiles: int = 1, needs_input_grad: bool = True,
                  signed_input: bool = False) -> PhaseCost:
    """A crossbar layer's backward stage: its input gradient on the transposed crossbars and its
    weight gradient by the chip's dataflow, side by side (different hardware): the per-sample
    time is the longer of the two, the energy their sum."""
    grad_in = crossbar_phase_cost(layer, reram, batch, "backward", replicas=replicas,
                                  needs_input_grad=needs_input_grad)
    grad_w = weight_gradient_cost(layer, reram, spec, batch, tiles=tiles, replicas=replicas,
                                  signed_input=signed_input)
    per_sample = max(grad_in.per_sample_s, grad_w.per_sample_s)
    parts = _merge_parts((grad_in.parts, grad_w.parts))
    return PhaseCost(per_sample_s=per_sample, batch_s=per_sample * batch,
                     energy_j=grad_in.energy_j + grad_w.energy_j, parts=parts)


def crossbar_stage_cost(layer: LayerTrace, reram: ReramSpec, spec: TrainingSpec, batch: int,
                        phase: str, *, replicas: int = 1, tiles: int = 1,
                        needs_input_grad: bool = True, signed_input: bool = False) -> PhaseCost:
    """A crossbar layer's pipeline stage in ``phase`` with its data movement: the compute
    (:func:`reram.cost.layer_cost.crossbar_phase_cost` forward, :func:`backward_cost` backward)
    and the buffer and network traffic of its ``tiles``
    (:func:`reram.cost.interconnect.transfer_cost`; backward, the weight gradient's operands,
    ``groups x (rows + cols) x P`` values a sample, share the buffers), overlapped or added as
    ``spec.memory.interconnect.overlap`` says."""
    network = spec.memory.interconnect
    if phase == "forward":
        compute = crossbar_phase_cost(layer, reram, batch, "forward", replicas=replicas,
                                      signed_input=signed_input)
        extra = 0.0
    else:
        compute = backward_cost(layer, reram, spec, batch, replicas=replicas, tiles=tiles,
                                needs_input_grad=needs_input_grad, signed_input=signed_input)
        extra = weight_gradient_operand_bytes(layer, reram)
    moved = transfer_cost(layer, reram, network, batch, phase, tiles=tiles,
                          needs_input_grad=needs_input_grad, extra_buffer_bytes=extra)
    return with_transfers(compute, moved, network, batch)


def map_and_replicate(trace: Trace, units: Sequence[str], specs: Sequence[ReramSpec], hw: HardwareSpec,
                      batch: int, *, training: bool, replicate: bool = True,
                      arrays_per_copy: int = 1, training_spec: TrainingSpec | None = None,
                      pipeline: str = "layer",
                      records: Mapping[str, PulseRecord] | None = None) -> ChipMapping:
    """Map every crossbar layer, check that the model fits, and give the spare crossbars to
    copies of the slowest layers (:func:`replicate_layers`).

    Copies work on different MVMs of the batch (other output positions or other samples, so
    Linear layers replicate too): a layer has at most ``mvms_per_sample x batch`` copies. In
    training a copy holds its weight arrays and, with the in-array weight-gradient dataflow, its
    error arrays (:func:`reram.cost.training.training_crossbars`); with
    ``pipeline="pipelayer"`` ``arrays_per_copy`` sets of them.

    Raises:
        ValueError: if the model's crossbars exceed the chip's.
    """
    spec = training_spec or TrainingSpec()
    crossbars, limit = {}, {}
    for i, layer in enumerate(trace.layers):
        if layer.kind not in ("conv", "linear"):
            continue
        reram = specs[i]
        arrays = training_crossbars(layer, reram, spec) if training else map_layer(layer, reram).crossbars
        crossbars[layer.name] = arrays * arrays_per_copy
        limit[layer.name] = max(1, layer.mvms_per_sample) * batch
    needed = sum(crossbars.values())
    if needed > hw.reram.total_crossbars:
        raise ValueError(f"the model needs {needed} crossbars but hardware {hw.name!r} has "
                         f"{hw.reram.total_crossbars}; use a smaller model or a bigger chip")
    mapping = _mapping_with(trace, units, crossbars, {name: 1 for name in crossbars},
                            hw, arrays_per_copy)
    if not replicate or not crossbars:
        return mapping
    return replicate_layers(trace, units, specs, hw, batch, mapping, limit, training=training,
                            training_spec=spec, pipeline=pipeline, records=records)


def _mapping_with(trace: Trace, units: Sequence[str], crossbars: Mapping[str, int],
                  replicas: Mapping[str, int], hw: HardwareSpec, arrays_per_copy: int) -> ChipMapping:
    """The :class:`ChipMapping` of these copies: each digital layer on the tiles of the nearest
    preceding crossbar layer (1 before the first)."""
    per_tile = hw.reram.crossbars_per_tile
    digital_tiles: list[int] = []
    tiles_here = 1
    for layer, unit in zip(trace.layers, units):
        if unit == "reram":
            tiles_here = max(1, -(-crossbars[layer.name] * replicas[layer.name] // per_tile))
        digital_tiles.append(tiles_here)
    return ChipMapping(crossbars=dict(crossbars), replicas=dict(replicas),
                       digital_tiles=tuple(digital_tiles), available=hw.reram.total_crossbars,
                       arrays_per_copy=arrays_per_copy)


def replicate_layers(trace: Trace, units: Sequence[str], specs: Sequence[ReramSpec],
                     hw: HardwareSpec, batch: int, mapping: ChipMapping, limit: Mapping[str, int],
                     *, training: bool, training_spec: TrainingSpec | None = None,
                     pipeline: str = "layer",
                     records: Mapping[str, PulseRecord] | None = None) -> ChipMapping:
    """Grow ``mapping`` one copy at a time and keep the copies whose costed latency is least.

    Each step gives one more copy to the crossbar layer whose stage, as costed with its present
    copies and their tiles (:func:`phase_stages`: compute and data movement, the slower phase in
    training), is the slowest; a layer at its ``limit`` of copies is passed over, and the
    growth stops when the slowest layer's next copy does not fit in the spare crossbars (a
    copy elsewhere would not shorten the pipeline). Every step's allocation is costed as
    :func:`schedule` costs it: the phases' pipeline (:func:`phase_time`) plus, in training, the
    update (:func:`update_charges`: the writes of every copy, under the write-power budget).
    The allocation returned is the cheapest of these steps (the first of equals).

    Monotonic by construction: the sequence of steps depends on the layers and the tile, not on
    the number of tiles, so a chip with more crossbars tries every allocation a smaller one
    tries, and more; an allocation costs no more on the bigger chip (its write-power budget and
    buffers grow with the tiles, nothing else moves), so the least cost found never rises with
    the chip's size.
    """
    spec = training_spec or TrainingSpec()
    records = records or {}
    phases = ("forward", "backward") if training else ("forward",)
    per_tile = hw.reram.crossbars_per_tile
    stages = {p: phase_stages(trace, units, mapping, specs, hw, batch, p, training=training,
                              training_spec=spec) for p in phases}
    where = {p: {s.charges[0].index: k for k, s in enumerate(stages[p]) if s.unit != "gpu"}
             for p in phases}
    index = {layer.name: i for i, layer in enumerate(trace.layers) if units[i] == "reram"}
    owner: dict[int, list[int]] = {i: [] for i in index.values()}  # digital layers on i's tiles
    last = None
    for j, unit in enumerate(units):
        if unit == "reram":
            last = j
        elif unit == "digital" and last is not None:
            owner[last].append(j)
    first = _first_compute(trace)
    replicas = dict(mapping.replicas)
    updates = {i: _layer_update(trace.layers[i], specs[i], spec, mapping, records.get(name))
               for name, i in index.items()} if training else {}
    budget = _write_budget(specs[i] for i in index.values())

    def cost() -> float:
        total = _phases_time([stages[p] for p in phases], batch, pipeline)
        if training:
            total += _update_time([u[0] for u in updates.values()],
                                  [u[2] for u in updates.values()], budget, pipeline != "none")
        return total

    def slowest(i: int) -> float:
        return max(stages[p][where[p][i]].per_sample_s for p in phases)

    best, best_replicas = cost(), dict(replicas)
    spare = mapping.available - mapping.crossbars_used
    heap = [(-slowest(i), i, name) for name, i in index.items()]
    heapq.heapify(heap)
    while heap:
        _, i, name = heapq.heappop(heap)
        if replicas[name] >= limit[name]:
            continue  # no MVM left to give a new copy; the next slowest layer may still gain
        if mapping.crossbars[name] > spare:
            break  # the slowest layer cannot grow: copies elsewhere would not shorten the pipeline
        spare -= mapping.crossbars[name]
        replicas[name] += 1
        grown = ChipMapping(crossbars=mapping.crossbars, replicas=replicas,
                            digital_tiles=mapping.digital_tiles, available=mapping.available,
                            arrays_per_copy=mapping.arrays_per_copy)
        tiles = grown.tiles(name, per_tile)
        for p in phases:
            stages[p][where[p][i]] = _layer_stage(trace, i, units[i], specs[i], spec, hw, grown,
                                                  tiles, batch, p, first)
            for j in owner[i]:
                stages[p][where[p][j]] = _layer_stage(trace, j, units[j], specs[j], spec, hw,
                                                      grown, tiles, batch, p, first)
        if training:
            updates[i] = _layer_update(trace.layers[i], specs[i], spec, grown, records.get(name))
        now = cost()
        if now < best:
            best, best_replicas = now, dict(replicas)
        heapq.heappush(heap, (-slowest(i), i, name))
    return _mapping_with(trace, units, mapping.crossbars, best_replicas, hw,
                         mapping.arrays_per_copy)


def _gpu_group_stage(trace: Trace, group: Sequence[int], specs: Sequence[ReramSpec], hw: HardwareSpec,
                     batch: int, phase: str, training: bool) -> Stage:
    """Consecutive GPU layers: one transfer of the batch in, the kernels, one transfer out."""
    act_bytes = specs[group[0]].activation_bytes
    first, last = trace.layers[group[0]], trace.layers[group[-1]]
    in_values = first.input_numel if phase == "forward" else first.output_numel
    out_values = last.output_numel if phase == "forward" else last.input_numel
    t_in = link_cost(in_values * act_bytes * batch, hw.link)
    t_out = link_cost(out_values * act_bytes * batch, hw.link)
    charges, group_s = [], 0.0
    for pos, j in enumerate(group):
        work = gpu_work(trace.layers[j], batch, phase, training=training,
                        bytes_per_value=hw.gpu.bytes_per_value)
        parts = [gpu_phase_cost(work, hw.gpu, batch)]
        if pos == 0:
            parts.append(t_in)
        if pos == len(group) - 1:
            parts.append(t_out)
        seconds = sum(p.batch_s for p in parts)
        charges.append(Charge(j, seconds, sum(p.energy_j for p in parts),
                              sum(p.bytes_moved for p in parts),
                              _merge_parts(p.parts for p in parts)))
        group_s += seconds
    barrier = training and any(trace.layers[j].kind == "bn" for j in group)
    return Stage(name=first.name, phase=phase, unit="gpu",
                 per_sample_s=0.0 if barrier else group_s / batch, batch_s=group_s,
                 barrier=barrier, charges=tuple(charges))


def _merge_parts(many: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    for parts in many:
        for key, value in parts.items():
            out[key] = out.get(key, 0.0) + value
    return out


def phase_stages(trace: Trace, units: Sequence[str], mapping: ChipMapping, specs: Sequence[ReramSpec],
                 hw: HardwareSpec, batch: int, phase: str, *, training: bool,
                 training_spec: TrainingSpec | None = None) -> list[Stage]:
    """The pipeline of one phase on the heterogeneous chip, in execution order.

    ``phase`` is ``"forward"`` (trace order) or ``"backward"`` (reverse order). Crossbar and
    digital layers are stages of their own; each run of consecutive GPU layers is one stage
    (a barrier in training when it holds a BN). ``specs`` is :func:`layer_specs`'s list. A
    crossbar layer's backward stage is :func:`backward_cost` (input and weight gradient).
    """
    spec = training_spec or TrainingSpec()
    if phase not in ("forward", "backward"):
        raise ValueError(f"phase must be 'forward' or 'backward', got {phase!r}")
    first = _first_compute(trace)
    order = list(range(len(trace.layers)))
    if phase == "backward":
        order.reverse()
    stages: list[Stage] = []
    k = 0
    while k < len(order):
        i = order[k]
        layer, unit = trace.layers[i], units[i]
        if unit in ("reram", "digital"):
            tiles = (mapping.tiles(layer.name, hw.reram.crossbars_per_tile) if unit == "reram"
                     else mapping.digital_tiles[i])
            stages.append(_layer_stage(trace, i, unit, specs[i], spec, hw, mapping, tiles, batch,
                                       phase, first))
            k += 1
            continue
        group = [i]
        while k + len(group) < len(order) and units[order[k + len(group)]] == "gpu":
            group.append(order[k + len(group)])
        k += len(group)
        stages.append(_gpu_group_stage(trace, group, specs, hw, batch, phase, training))
    return stages


def _layer_stage(trace: Trace, i: int, unit: str, reram: ReramSpec, spec: TrainingSpec,
                 hw: HardwareSpec, mapping: ChipMapping, tiles: int, batch: int, phase: str,
                 first: int) -> Stage:
    """The stage of crossbar or digital layer ``i`` in ``phase`` on ``tiles`` tiles (a crossbar
    layer's copies as ``mapping`` says)."""
    layer = trace.layers[i]
    if unit == "reram":
        cost = crossbar_stage_cost(layer, reram, spec, batch, phase,
                                   replicas=mapping.replicas[layer.name], tiles=tiles,
                                   needs_input_grad=i != first,
                                   signed_input=i == first or bool(layer.input_signed))
    else:
        network = spec.memory.interconnect  # a chip-level activation block, or the tiles' units
        rate = network.activation_ops_per_s if network.activation_site == "chip" else None
        cost = digital_phase_cost(layer, reram, batch, phase, tiles=tiles, ops_per_s=rate)
    return Stage(name=layer.name, phase=phase, unit=unit, per_sample_s=cost.per_sample_s,
                 batch_s=cost.batch_s,
                 charges=(Charge(i, cost.batch_s, cost.energy_j, 0.0, cost.parts),))


def _phases_time(per_phase: Sequence[Sequence[Stage]], batch: int, pipeline: str) -> float:
    """The time of the phases' stages: each phase pipelined (``"layer"``) or not (``"none"``),
    one after the other, or with ``"pipelayer"`` forward and backward of different samples
    overlapped in one pipeline."""
    if pipeline == "pipelayer":
        return phase_time([s for p in per_phase for s in p], batch, True)
    return sum(phase_time(p, batch, pipeline == "layer") for p in per_phase)


def phase_time(stages: Sequence[Stage], batch: int, pipelined: bool) -> float:
    """Time of a run of stages: between barriers, a segment of stages with per-sample times
    ``t_i`` takes ``sum(t_i) + (batch - 1) * max(t_i)`` when pipelined, else the sum of their
    batch times; a barrier adds its batch time."""
    total, segment = 0.0, []
    for stage in list(stages) + [Stage("", "", "gpu", 0.0, 0.0, barrier=True)]:
        if not stage.barrier:
            if pipelined:
                segment.append(stage.per_sample_s)
            else:
                total += stage.batch_s
            continue
        if segment:
            total += sum(segment) + (batch - 1) * max(segment)
            segment = []
        total += stage.batch_s
    return total


def bottleneck_of(stages: Sequence[Stage]) -> dict[str, Any]:
    """The slowest non-barrier stage (first of equals): ``{"name", "phase", "per_sample_s"}``."""
    best: dict[str, Any] = {"name": None, "phase": None, "per_sample_s": 0.0}
    for stage in stages:
        if not stage.barrier and stage.per_sample_s > best["per_sample_s"]:
            best = {"name": stage.name, "phase": stage.phase, "per_sample_s": stage.per_sample_s}
    return best


#: Digital operations per weight of the optimizer step (SGD: scale the gradient by the learning
#: rate, subtract it from the weight; the new level follows by rounding).
OPTIMIZER_OPS_PER_WEIGHT = 2


def optimizer_charges(layer: LayerTrace, reram: ReramSpec, spec: TrainingSpec,
                      tiles: int) -> PhaseCost:
    """The optimizer step of one layer on the digital units of its ``tiles``: it reads each
    accumulated gradient from the buffer and does :data:`OPTIMIZER_OPS_PER_WEIGHT` operations
    per weight (its DRAM share is charged with the memory)."""
    ops = float(layer.weight_count * OPTIMIZER_OPS_PER_WEIGHT)
    seconds = ops / (reram.digital_ops_per_s * max(1, tiles))
    parts = {"digital": ops * reram.digital_energy_per_op_j,
             "buffer": layer.weight_count * spec.memory.gradient_value_bytes
             * reram.buffer_energy_per_byte_j}
    return PhaseCost(per_sample_s=0.0, batch_s=seconds, energy_j=sum(parts.values()), parts=parts)


def update_charges(trace: Trace, units: Sequence[str], mapping: ChipMapping, specs: Sequence[ReramSpec],
                   pipelined: bool, *, training_spec: TrainingSpec | None = None,
                   records: Mapping[str, PulseRecord] | None = None) -> tuple[float, list[Charge]]:
    """The optimizer step and the weight-update writes after a training batch: ``(time, charges)``.

    Each crossbar layer's optimizer (:func:`optimizer_charges`) computes the new weights, then
    all its copies (and array sets) are programmed by write-verify pulses
    (:func:`reram.cost.layer_cost.crossbar_update_cost`): the pulses its simulated devices fired
    when ``records`` has the layer, else the chip's write model. With the pipeline the layers
    update in parallel, and the time is the slowest layer's or the time the chip's write-power
    budget needs for all the writes together (``energy / max_write_power_w``), whichever is
    longer; without it, one after another, each at least as long as its own writes take under
    the budget.
    """
    spec = training_spec or TrainingSpec()
    records = records or {}
    budget = _write_budget(specs[i] for i in range(len(trace.layers)) if units[i] == "reram")
    charges, seconds, write_energy = [], [], []
    for i, layer in enumerate(trace.layers):
        if units[i] != "reram":
            continue
        busy, charge, written = _layer_update(layer, specs[i], spec, mapping, records.get(layer.name))
        # one after another, a layer's charge is its share of the update's time
        shown = busy if pipelined else _update_time([busy], [written], budget, False)
        charges.append(Charge(i, shown, charge.energy_j, 0.0, charge.parts))
        seconds.append(busy)
        write_energy.append(written)
    return _update_time(seconds, write_energy, budget, pipelined), charges


def _layer_update(layer: LayerTrace, reram: ReramSpec, spec: TrainingSpec, mapping: ChipMapping,
                  record: PulseRecord | None) -> tuple[float, PhaseCost, float]:
    """One crossbar layer's update: ``(seconds, cost, write energy)``: its optimizer on its
    tiles' digital units, then the writes of all its copies (and array sets) in parallel."""
    copies = mapping.replicas[layer.name] * mapping.arrays_per_copy
    write = crossbar_update_cost(layer, reram, replicas=copies, writes=spec.writes, record=record)
    optimizer = optimizer_charges(layer, reram, spec,
                                  mapping.tiles(layer.name, reram.crossbars_per_tile))
    energy = optimizer.energy_j + write.energy_j
    cost = PhaseCost(per_sample_s=0.0, batch_s=optimizer.batch_s + write.batch_s, energy_j=energy,
                     parts=_merge_parts((optimizer.parts, write.parts)))
    return cost.batch_s, cost, write.energy_j


def _write_budget(specs: Any) -> float | None:
    """The write-power budget of the layers' silicon, W: the least one stated (None if none)."""
    budgets = [r.max_write_power_w for r in specs if r.max_write_power_w is not None]
    return min(budgets) if budgets else None


def _update_time(seconds: Sequence[float], write_energy: Sequence[float], budget: float | None,
                 pipelined: bool) -> float:
    """The update's time from each layer's time and write energy: with the pipeline the slowest
    layer's or the budget's for all the writes (``sum(write_energy) / budget``), whichever is
    longer; without it the layers one after another, each the longer of its own time and its
    own writes' ``write_energy / budget`` (the budget bounds the write drivers either way)."""
    if budget is None:
        return float(sum(seconds)) if not pipelined else max(seconds, default=0.0)
    if not pipelined:
        return float(sum(max(s, e / budget) for s, e in zip(seconds, write_energy)))
    return max(max(seconds, default=0.0), sum(write_energy) / budget)


def endurance_of(trace: Trace, units: Sequence[str], specs: Sequence[ReramSpec], batch: int,
                 spec: TrainingSpec, records: Mapping[str, PulseRecord], device: str | None,
                 ) -> dict[str, Any]:
    """Writes per cell per epoch of the weight arrays (one update a batch) and, in-array, of the
    error arrays (rewritten every sample), worst layer, against the device's endurance."""
    weights = errors = 0.0
    for layer, unit, reram in zip(trace.layers, units, specs):
        if unit != "reram":
            continue
        record = records.get(layer.name)
        if record is not None:  # one device per weight under update="pulsed"
            per_cell = (record.set_pulses + record.reset_pulses) / max(1, record.updates) \
                / max(1, layer.weight_count)
        else:
            act = spec.writes.activity
            per_cell = (act.changed_fraction * act.mean_level_change
                        * pulses_per_level(spec.writes, reram.cell_bits))
        weights = max(weights, per_cell)
        if spec.weight_gradient == "in-array":
            act = random_rewrite_activity(reram.cell_bits)
            errors = max(errors, act.changed_fraction * act.mean_level_change
                         * pulses_per_level(spec.writes, reram.cell_bits))
    kinds = {"weights": (weights, spec.epoch_samples / batch)}
    if spec.weight_gradient == "in-array":
        kinds["errors"] = (errors, float(spec.epoch_samples))
    return endurance_report(kinds, device, spec.epoch_samples)


def _count_barriers(units: Sequence[str], layers: Sequence[LayerTrace]) -> int:
    """Training barriers: each GPU group holding a BN drains the pipeline forward and backward."""
    barriers, in_group, has_bn = 0, False, False
    for unit, layer in list(zip(units, layers)) + [("end", None)]:
        if unit == "gpu":
            in_group, has_bn = True, has_bn or layer.kind == "bn"
            continue
        if in_group and has_bn:
            barriers += 2
        in_group = has_bn = False
    return barriers


def gpu_only_baseline(trace: Trace, gpu: GpuSpec, batch: int, training: bool) -> GpuBaseline:
    """Every layer of the trace on the GPU alone, one after another, by the roofline."""
    phases = ("forward", "backward", "update") if training else ("forward",)
    first = _first_compute(trace)
    latency, energy, total_flops = [], [], 0.0
    for i, layer in enumerate(trace.layers):
        seconds = joules = 0.0
        for phase in phases:
            work = gpu_work(layer, batch, phase, training=training,
                            bytes_per_value=gpu.bytes_per_value, needs_input_grad=i != first)
            cost = gpu_phase_cost(work, gpu, batch)
            seconds += cost.batch_s
            joules += cost.energy_j
            total_flops += work.flops
        latency.append(seconds)
        energy.append(joules)
    return GpuBaseline(latency_s=tuple(latency), energy_j=tuple(energy), flops=total_flops)


def split_measured(kinds: Sequence[str], roofline_s: Sequence[float],
                   seconds_by_kind: Mapping[str, float]) -> list[float]:
    """Measured per-kind times split over the layers of each kind in proportion to their
    roofline times (equally when the kind's roofline total is 0); the measured time of kinds no
    layer has (the profiler's ``"other"``: the optimizer step, the loss, copies) is spread over
    all layers the same way, so the baseline's total is all the time measured."""
    out = list(roofline_s)
    for kind in set(kinds):
        members = [i for i, k in enumerate(kinds) if k == kind]
        share = sum(roofline_s[i] for i in members)
        total_kind = seconds_by_kind.get(kind, 0.0)
        for i in members:
            out[i] = total_kind * (roofline_s[i] / share if share > 0 else 1 / len(members))
    rest = sum(v for k, v in seconds_by_kind.items() if k not in set(kinds))
    if rest > 0 and out:
        share = sum(roofline_s)
        out = [t + rest * (r / share if share > 0 else 1 / len(out))
               for t, r in zip(out, roofline_s)]
    return out


def _check_arguments(mode: str, batch_size: int, elementwise_unit: str, gpu_baseline: str,
                     pipeline: bool | str) -> tuple[str, str]:
    if mode not in _MODE_ALIASES:
        raise ValueError(f"mode must be 'train' or 'inference', got {mode!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    if elementwise_unit not in ("digital", "gpu"):
        raise ValueError(f"elementwise_unit must be 'digital' or 'gpu', got {elementwise_unit!r}")
    if gpu_baseline not in ("roofline", "measured"):
        raise ValueError(f"gpu_baseline must be 'roofline' or 'measured', got {gpu_baseline!r}")
    if pipeline is True or pipeline is False:
        pipeline = "layer" if pipeline else "none"
    if pipeline not in PIPELINES:
        raise ValueError(f"pipeline must be True, False or one of {PIPELINES}, got {pipeline!r}")
    return _MODE_ALIASES[mode], pipeline


def _trace_of(model: nn.Module | Trace, input_shape: Sequence[int] | None) -> Trace:
    if isinstance(model, Trace):
        trace = model
    else:
        if input_shape is None:
            raise ValueError("input_shape is required when model is an nn.Module")
        trace = trace_model(model, input_shape)
    if not trace.layers:
        raise ValueError("the model has no layer the cost model recognises (Conv2d, Linear, ...)")
    return trace


def resolve_chip(chip: Chip | str | Path | None = None, *, gpu: str | None = None,
                 gpu_precision: str = "fp32") -> Chip:
    """The chip :func:`schedule` costs on: ``chip`` (a :class:`Chip`, a preset name or a JSON
    path), else ``Chip.preset("isaac")``; with ``gpu`` (and ``gpu_precision``) its GPU replaced
    by a bundled baseline."""
    resolved = Chip.from_hardware(chip if chip is not None else "isaac")
    if gpu is not None:
        resolved = resolved.replace(gpu=gpu, gpu_precision=gpu_precision)
    elif gpu_precision != "fp32":
        raise ValueError("gpu_precision needs gpu= (a bundled GPU: "
                         f"{', '.join(available_gpus())})")
    return resolved


@dataclass(frozen=True)
class PlanContext:
    """What :func:`schedule` hands to the plan's assembly: the run's settings and its results.

    Attributes:
        trace: the traced model.
        mode: ``"train"`` or ``"inference"``.
        batch_size: samples per batch.
        chip: the chip.
        units: per traced layer, its unit.
        mapping: where the crossbar layers sit.
        pipeline: ``"layer"``, ``"none"`` or ``"pipelayer"``.
        gpu_baseline: ``"roofline"`` or ``"measured"``.
        latency_s: the chip's batch time, DRAM included, s.
        update_s: the update's time, s.
        stages: the phases' stages.
        memory: the training batch's memory traffic (``None`` in inference).
        endurance: the endurance report (empty in inference).
        pulses_from: ``"simulation"``, ``"mixed"`` or ``"write_model"`` (training).
    """

    trace: Trace
    mode: str
    batch_size: int
    chip: Chip
    units: tuple[str, ...]
    mapping: ChipMapping
    pipeline: str
    gpu_baseline: str
    latency_s: float
    update_s: float
    stages: tuple[Stage, ...]
    memory: MemoryTraffic | None = None
    endurance: Mapping[str, Any] = field(default_factory=dict)
    pulses_from: str = ""


def _heterogeneous(trace: Trace, units: Sequence[str], specs: Sequence[ReramSpec],
                   mapping: ChipMapping, chip: Chip, batch: int, training: bool, pipeline: str,
                   costs: Sequence[LayerCost], records: Mapping[str, PulseRecord],
                   ) -> tuple[float, float, list[Stage]]:
    """Run the phases and the update on the chip, charging ``costs``:
    ``(latency_s, update_s, stages)`` (the DRAM time is added by :func:`schedule`)."""
    hw = _costed_hardware(chip)
    stages, per_phase = [], []
    for phase in ("forward", "backward") if training else ("forward",):
        phase_list = phase_stages(trace, units, mapping, specs, hw, batch, phase, training=training,
                                  training_spec=chip.costed_training())
        for stage in phase_list:
            for c in stage.charges:
                costs[c.index]._add(phase, c.seconds, c.energy_j, c.bytes_moved, c.parts)
        per_phase.append(phase_list)
        stages += phase_list
    latency = _phases_time(per_phase, batch, pipeline)
    update_s = 0.0
    if training:
        update_s, charges = update_charges(trace, units, mapping, specs, pipeline != "none",
                                           training_spec=chip.training, records=records)
        for c in charges:
            costs[c.index]._add("update", c.seconds, c.energy_j, c.bytes_moved, c.parts)
        latency += update_s
    return latency, update_s, stages


def _costed_hardware(chip: Chip) -> HardwareSpec:
    """The chip's hardware with its link as charged (:meth:`Chip.costed_link`)."""
    link = chip.costed_link()
    return chip.hardware if link is chip.hardware.link else dataclasses.replace(chip.hardware, link=link)


def _training_extras(trace: Trace, units: Sequence[str], specs: Sequence[ReramSpec], chip: Chip,
                     batch: int, records: Mapping[str, PulseRecord],
                     ) -> tuple[MemoryTraffic, dict[str, Any]]:
    """The training batch's memory traffic and the endurance report."""
    config = chip.config
    memory = training_memory(trace, units, specs, batch, chip.training.memory,
                             chip.hardware.reram.tiles,
                             master_copy=getattr(config, "update", None) == "digital")
    devices = [getattr(layer.crossbar_config, "device", None) for layer, unit
               in zip(trace.layers, units) if unit == "reram"]
    device = next((d for d in devices if d), getattr(config, "device", None))
    endurance = endurance_of(trace, units, specs, batch, chip.training, records, device)
    return memory, endurance


def schedule(model: nn.Module | Trace, input_shape: Sequence[int] | None = None,
             batch_size: int = 64, mode: str = "train", *,
             chip: Chip | HardwareSpec | str | Path | None = None, elementwise_unit: str = "digital",
             pipeline: bool | str = True, replicate: bool = True,
             gpu_baseline: str = "roofline", device: str | None = None,
             gpu: str | None = None, gpu_precision: str = "fp32",
             pulse_records: Mapping[str, PulseRecord] | None = None) -> Plan:
    """Schedule a model on a ReRAM + GPU chip and cost one batch against a GPU-only baseline.

    Each crossbar layer of a converted model (``reram.convert``) is costed with its own
    ``crossbar_config`` on the chip's silicon; float layers with the chip's config. The steps,
    each a function of this module: :func:`route`, :func:`layer_specs`,
    :func:`map_and_replicate`, :func:`phase_stages` / :func:`phase_time`,
    :func:`update_charges`, :func:`gpu_only_baseline` (and :func:`split_measured`); in training
    also the memory traffic (:func:`reram.cost.memory.training_memory`) and the endurance
    (:func:`endurance_of`).

    Args:
        model: an ``nn.Module`` (traced here) or a ready :class:`~reram.cost.trace.Trace`.
        input_shape: per-sample input shape, e.g. ``(3, 32, 32)``; required for a module.
        batch_size: samples per batch, >= 1.
        mode: ``"train"`` (forward, backward, weight update) or ``"inference"``.
        chip: a :class:`~reram.cost.chip.Chip`, a preset name, a chip JSON path or a
            :class:`~reram.cost.hardware.HardwareSpec` (a legacy spec without a crossbar
            section: float layers costed with its own geometry); default ``"isaac"``. Its ``training`` spec chooses the weight-gradient dataflow, the memory
            and the write model.
        elementwise_unit: where activations and pooling run: ``"digital"`` (tile units) or
            ``"gpu"``.
        pipeline: ``True``/``"layer"``: an inter-layer pipeline over the batch in each phase;
            ``False``/``"none"``: layers one after another (``latency_s`` is then the sum of
            the layers' ``latency_s`` plus the DRAM time); ``"pipelayer"``: forward and backward
            of different samples overlap as in PipeLayer, on a second (backward) array set per
            copy.
        replicate: copy layers onto spare crossbars where the costed latency gains
            (:func:`replicate_layers`).
        gpu_baseline: ``"roofline"`` or ``"measured"`` (times the model with the torch profiler
            on ``device``, default CUDA; per-kind measured time is split across the layers of a
            kind in proportion to their roofline times, and the time of ops of no layer kind,
            such as the optimizer step, across all layers).
        device: device for ``gpu_baseline="measured"``.
        gpu: replace the chip's GPU (and the baseline) by a bundled one: ``"v100"``,
            ``"gtx1080"``, ``"a100"``.
        gpu_precision: ``"fp32"`` or ``"mixed"`` (tensor cores) for ``gpu``.
        pulse_records: per layer name, the pulses its simulated devices fired; default: read
            from the model's layers (``crossbar_pulse_record``, ``update="pulsed"``). Layers
            with a record have their update charged from it, the others by the write model.

    Returns:
        The :class:`Plan`.

    Raises:
        ValueError: on a bad argument, with the argument named, if a layer's config leaves a
            precision ideal (nothing to cost), or if the model does not fit on the chip.

    Example:
        >>> net = nn.Sequential(nn.Linear(100, 10))
        >>> plan = schedule(net, (100,), batch_size=1, mode="inference")
        >>> plan.layers[0].unit, plan.layers[0].crossbars
        ('reram', 16)
    """
    mode, pipeline = _check_arguments(mode, batch_size, elementwise_unit, gpu_baseline, pipeline)
    the_chip = resolve_chip(chip, gpu=gpu, gpu_precision=gpu_precision)
    hw = the_chip.hardware
    trace = _trace_of(model, input_shape)
    training = mode == "train"
    records = dict(pulse_records) if pulse_records is not None else _records_of(model)
    units = route(trace, elementwise_unit)
    specs = layer_specs(trace, the_chip)
    mapping = map_and_replicate(trace, units, specs, _costed_hardware(the_chip), batch_size,
                                training=training,
                                replicate=replicate, training_spec=the_chip.costed_training(),
                                arrays_per_copy=2 if pipeline == "pipelayer" and training else 1,
                                pipeline=pipeline, records=records)
    costs = [LayerCost(name=layer.name, kind=layer.kind, unit=unit)
             for layer, unit in zip(trace.layers, units)]
    latency, update_s, stages = _heterogeneous(trace, units, specs, mapping, the_chip, batch_size,
                                               training, pipeline, costs, records)
    for layer, cost in zip(trace.layers, costs):
        if cost.unit == "reram":
            cost.crossbars = mapping.crossbars[layer.name]
            cost.replicas = mapping.replicas[layer.name]
            cost.tiles = mapping.tiles(layer.name, hw.reram.crossbars_per_tile)
    memory, endurance = None, {}
    if training:
        memory, endurance = _training_extras(trace, units, specs, the_chip, batch_size, records)
        latency += memory.dram_s
    gpu_times, baseline = _baseline_times(model, trace, costs, hw.gpu, batch_size, mode,
                                          gpu_baseline, device)
    used = {layer.name for layer, unit in zip(trace.layers, units) if unit == "reram"}
    context = PlanContext(
        trace=trace, mode=mode, batch_size=batch_size, chip=the_chip, units=tuple(units),
        mapping=mapping, pipeline=pipeline, gpu_baseline=gpu_baseline, latency_s=latency,
        update_s=update_s, stages=tuple(stages), memory=memory, endurance=endurance,
        pulses_from=("" if not training else
                     "simulation" if used and used <= set(records) else
                     "mixed" if used & set(records) else "write_model"))
    return _assemble_plan(context, costs, baseline, gpu_times, specs)


def _records_of(model: nn.Module | Trace) -> dict[str, PulseRecord]:
    """The pulse records of a module's layers (none for a trace)."""
    return {} if isinstance(model, Trace) else pulse_records(model)


def _baseline_times(model: nn.Module | Trace, trace: Trace, costs: Sequence[LayerCost], gpu: GpuSpec,
                    batch_size: int, mode: str, gpu_baseline: str,
                    device: str | None) -> tuple[list[float], GpuBaseline]:
    """The GPU-only baseline's per-layer times (roofline, or measured and split by kind)."""
    baseline = gpu_only_baseline(trace, gpu, batch_size, mode == "train")
    gpu_times = list(baseline.latency_s)
    if gpu_baseline == "measured":
        if isinstance(model, Trace):
            raise ValueError("gpu_baseline='measured' needs an nn.Module, not a Trace")
        from reram.cost.gpu_profile import measure_breakdown

        measured = measure_breakdown(model, trace.input_shape, batch_size, mode,
                                     device=device or "cuda")
        gpu_times = split_measured([c.kind for c in costs], gpu_times, measured["seconds_by_kind"])
    return gpu_times, baseline


def _training_area(ctx: PlanContext, specs: Sequence[ReramSpec]) -> dict[str, float]:
    """Silicon training adds: the digital weight-gradient units of the tiles holding crossbar
    layers, and the transposed-read periphery of every weight array."""
    if ctx.mode != "train":
        return {}
    spec, per_tile = ctx.chip.training, ctx.chip.hardware.reram.crossbars_per_tile
    unit_mm2 = transposed = 0.0
    for layer, unit, reram in zip(ctx.trace.layers, ctx.units, specs):
        if unit != "reram":
            continue
        copies = ctx.mapping.replicas[layer.name] * ctx.mapping.arrays_per_copy
        weight_arrays = ctx.mapping.crossbars[layer.name] // ctx.mapping.arrays_per_copy
        if spec.weight_gradient == "in-array":
            weight_arrays -= error_mapping(layer, reram).crossbars
        transposed += ctx.chip.transposed_periphery_area_mm2(weight_arrays * copies, reram)
        if spec.weight_gradient == "digital":
            unit_mm2 += (ctx.mapping.tiles(layer.name, per_tile)
                         * ctx.chip.weight_gradient_unit_area_mm2(reram.input_bits))
    out = {"transposed_periphery": transposed}
    if spec.weight_gradient == "digital":
        out["weight_gradient_unit"] = unit_mm2
    return out


def _assemble_plan(ctx: PlanContext, costs: Sequence[LayerCost], baseline: GpuBaseline,
                   gpu_times: Sequence[float], specs: Sequence[ReramSpec]) -> Plan:
    """The :class:`Plan`: per-layer baseline figures, totals, static, idle and DRAM energy."""
    hw, latency = ctx.chip.hardware, ctx.latency_s
    for cost, seconds, joules in zip(costs, gpu_times, baseline.energy_j):
        cost.gpu_latency_s, cost.gpu_energy_j = seconds, joules
    gpu_latency = sum(c.gpu_latency_s for c in costs)
    breakdown = _merge_parts(c.energy_parts for c in costs)
    if ctx.memory is not None:
        breakdown["dram"] = ctx.memory.dram_energy_j
    breakdown["reram_static"] = hw.reram.static_power_w * latency
    gpu_busy = sum(c.latency_s for c in costs if c.unit == "gpu")  # idle_policy decides
    breakdown["gpu_idle"] = hw.gpu.idle_power_w * hw.gpu.idle_charged_s(latency, gpu_busy)
    gpu_breakdown = {"gpu": sum(c.gpu_energy_j for c in costs),
                     "gpu_idle": hw.gpu.idle_power_w * gpu_latency}
    energy = sum(breakdown.values())
    gpu_energy = sum(gpu_breakdown.values())
    training = ctx.mode == "train"
    return Plan(
        model_name=ctx.trace.model_name, mode=ctx.mode, batch_size=ctx.batch_size,
        input_shape=tuple(ctx.trace.input_shape), hardware=ctx.chip.name, layers=list(costs),
        latency_s=latency, energy_j=energy, throughput=ctx.batch_size / latency,
        gpu_latency_s=gpu_latency, gpu_energy_j=gpu_energy,
        gpu_throughput=ctx.batch_size / gpu_latency if gpu_latency > 0 else float("inf"),
        speedup_vs_gpu=gpu_latency / latency,
        energy_ratio_vs_gpu=gpu_energy / energy if energy > 0 else float("inf"),
        gpu_utilization=(baseline.flops / (gpu_latency * hw.gpu.peak_flops)
                         if gpu_latency > 0 else 0.0),
        bottleneck=bottleneck_of(ctx.stages), update_s=ctx.update_s,
        barriers=_count_barriers(ctx.units, ctx.trace.layers) if training else 0,
        crossbars_used=ctx.mapping.crossbars_used, crossbars_available=ctx.mapping.available,
        pipelined=ctx.pipeline != "none", gpu_baseline=ctx.gpu_baseline, pipeline=ctx.pipeline,
        energy_breakdown=breakdown, gpu_energy_breakdown=gpu_breakdown, gpu_name=hw.gpu.name,
        config=ctx.chip.config.to_dict() if ctx.chip.config is not None else None,
        weight_gradient=ctx.chip.training.weight_gradient if training else "",
        memory=ctx.memory.summary() if ctx.memory is not None else {},
        dram_s=ctx.memory.dram_s if ctx.memory is not None else 0.0,
        endurance=dict(ctx.endurance), training_area_mm2=_training_area(ctx, specs),
        pulses_from=ctx.pulses_from)
