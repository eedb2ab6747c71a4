"""The heterogeneous ReRAM + GPU scheduler: :func:`schedule` turns a model into a costed plan.

Routing (one fixed rule, see docs/scheduler.md):

* Conv2d/Linear (crossbar layers included) -> ``"reram"``: mapped onto crossbars, replicated
  onto spare crossbars to shorten the slowest pipeline stage.
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
``sum(t_i) + (batch_size - 1) * max(t_i)``. Training runs forward, then backward (reverse order,
transposed crossbars, BN backward on the GPU), then the weight-update writes of all layers in
parallel. The GPU-only baseline runs every layer of the same trace on the GPU, one after another,
costed by a roofline (or by measurement, ``gpu_baseline="measured"``).

This module reads traces and hardware specs only; it does not import the simulation.
"""
from __future__ import annotations

import heapq
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from torch import nn

from reram.cost.layer_cost import (crossbar_phase_cost, crossbar_update_cost, digital_phase_cost,
                        gpu_phase_cost, gpu_work, link_cost, map_layer)
from reram.cost.hardware import GpuSpec, HardwareSpec, load_hardware
from reram.cost.trace import LayerTrace, Trace, trace_model

__all__ = ["schedule", "Plan", "LayerCost", "MODES", "UNITS", "ChipMapping", "Charge", "Stage",
           "GpuBaseline", "route", "map_and_replicate", "phase_stages", "phase_time",
           "bottleneck_of", "update_charges", "gpu_only_baseline", "split_measured"]

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

    def _add(self, phase: str, seconds: float, energy: float, nbytes: float = 0.0) -> None:
        self.phases[phase] = self.phases.get(phase, 0.0) + seconds
        self.latency_s += seconds
        self.energy_j += energy
        self.bytes_moved += nbytes


@dataclass
class Plan:
    """A costed schedule of one model on one chip, for one batch.

    Attributes:
        model_name: the traced model's class name.
        mode: ``"train"`` or ``"inference"``.
        batch_size: samples per batch.
        input_shape: per-sample input shape.
        hardware: the hardware configuration's name.
        layers: one :class:`LayerCost` per traced layer, in forward order.
        latency_s: time of one batch on the heterogeneous chip.
        energy_j: energy of one batch (the sum of the layers' energies).
        throughput: samples per second, ``batch_size / latency_s``.
        gpu_latency_s: time of one batch in the GPU-only baseline.
        gpu_energy_j: energy of one batch in the GPU-only baseline.
        gpu_throughput: samples per second of the baseline.
        speedup_vs_gpu: ``gpu_latency_s / latency_s``.
        energy_ratio_vs_gpu: ``gpu_energy_j / energy_j`` (> 1: the chip saves energy).
        gpu_utilization: the baseline's achieved FLOP/s over the GPU's peak.
        bottleneck: the slowest pipeline stage: ``{"name", "phase", "per_sample_s"}``.
        update_s: time of the weight-update writes (training).
        barriers: number of pipeline barriers (BN groups in training).
        crossbars_used: crossbars of all copies of all layers.
        crossbars_available: crossbars on the chip.
        pipelined: whether the inter-layer pipeline was modelled.
        gpu_baseline: ``"roofline"`` or ``"measured"``.
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
            Path(path).write_text(text + "\n", encoding="utf-8")
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
        path = Path(path)
        fig.savefig(path, dpi=120)
        plt.close(fig)
        return path


# ----------------------------------------------------------------------------------------------
# The steps of :func:`schedule`. Each is a pure function of a trace, the routing and the chip's
# specs, returns plain values, and is tested on its own (tests/reram/cost/test_scheduler_steps.py).
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChipMapping:
    """Where the crossbar layers sit on the chip (the result of :func:`map_and_replicate`).

    Attributes:
        crossbars: layer name -> crossbars of one copy of the layer.
        replicas: layer name -> copies of the layer on the chip.
        digital_tiles: per traced layer (forward order), the tiles whose digital units run it:
            those holding the nearest preceding crossbar layer (1 before the first one).
        available: crossbars on the chip.
    """

    crossbars: Mapping[str, int]
    replicas: Mapping[str, int]
    digital_tiles: tuple[int, ...]
    available: int

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
    """

    index: int
    seconds: float
    energy_j: float
    bytes_moved: float = 0.0


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
        energy_j: per traced layer, its energy for one batch, all phases, J.
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


def _replicate(compute: Sequence[LayerTrace], stage_s: Mapping[str, float], crossbars: Mapping[str, int],
               available: int, hardware_name: str) -> dict[str, int]:
    """Give spare crossbars to the slowest layer, one copy at a time, while its next copy fits."""
    needed = sum(crossbars[layer.name] for layer in compute)
    if needed > available:
        raise ValueError(f"the model needs {needed} crossbars but hardware {hardware_name!r} has "
                         f"{available}; use a smaller model or a bigger chip")
    replicas = {layer.name: 1 for layer in compute}
    spare = available - needed
    limit = {layer.name: max(1, layer.mvms_per_sample) for layer in compute}
    heap = [(-stage_s[layer.name], i, layer.name) for i, layer in enumerate(compute)]
    heapq.heapify(heap)
    while heap:
        neg_t, i, name = heapq.heappop(heap)
        if replicas[name] >= limit[name]:
            continue  # cannot split one MVM further; the next slowest layer may still gain
        if crossbars[name] > spare:
            break  # the slowest layer cannot grow: copies elsewhere would not shorten the pipeline
        spare -= crossbars[name]
        replicas[name] += 1
        heapq.heappush(heap, (-stage_s[name] / replicas[name], i, name))
    return replicas


def map_and_replicate(trace: Trace, units: Sequence[str], hw: HardwareSpec, *, training: bool,
                      replicate: bool = True) -> ChipMapping:
    """Map every crossbar layer, check that the model fits, and replicate the slowest layers.

    A layer's stage time for replication is its slowest phase per sample (forward, and backward
    in training). Replication depends only on the conv/linear layers, so BN masks do not change it.

    Raises:
        ValueError: if the model's crossbars exceed the chip's.
    """
    reram = hw.reram
    first = _first_compute(trace)
    compute = [l for l in trace.layers if l.kind in ("conv", "linear")]
    crossbars = {l.name: map_layer(l, reram).crossbars for l in compute}
    stage_s: dict[str, float] = {}
    for i, layer in enumerate(trace.layers):
        if layer.kind not in ("conv", "linear"):
            continue
        times = [crossbar_phase_cost(layer, reram, 1, "forward").per_sample_s]
        if training:
            times.append(crossbar_phase_cost(layer, reram, 1, "backward",
                                             needs_input_grad=i != first).per_sample_s)
        stage_s[layer.name] = max(stage_s.get(layer.name, 0.0), *times)
    replicas = _replicate(compute, stage_s, crossbars, reram.total_crossbars, hw.name)
    if not replicate:
        replicas = {l.name: 1 for l in compute}
    digital_tiles: list[int] = []
    tiles_here = 1
    for layer, unit in zip(trace.layers, units):
        if unit == "reram":
            tiles_here = max(1, -(-crossbars[layer.name] * replicas[layer.name]
                                  // reram.crossbars_per_tile))
        digital_tiles.append(tiles_here)
    return ChipMapping(crossbars=crossbars, replicas=replicas, digital_tiles=tuple(digital_tiles),
                       available=reram.total_crossbars)


def _gpu_group_stage(trace: Trace, group: Sequence[int], hw: HardwareSpec, batch: int, phase: str,
                     training: bool) -> Stage:
    """Consecutive GPU layers: one transfer of the batch in, the kernels, one transfer out."""
    act_bytes = hw.reram.activation_bytes
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
                              sum(p.bytes_moved for p in parts)))
        group_s += seconds
    barrier = training and any(trace.layers[j].kind == "bn" for j in group)
    return Stage(name=first.name, phase=phase, unit="gpu",
                 per_sample_s=0.0 if barrier else group_s / batch, batch_s=group_s,
                 barrier=barrier, charges=tuple(charges))


def phase_stages(trace: Trace, units: Sequence[str], mapping: ChipMapping, hw: HardwareSpec,
                 batch: int, phase: str, *, training: bool) -> list[Stage]:
    """The pipeline of one phase on the heterogeneous chip, in execution order.

    ``phase`` is ``"forward"`` (trace order) or ``"backward"`` (reverse order). Crossbar and
    digital layers are stages of their own; each run of consecutive GPU layers is one stage
    (a barrier in training when it holds a BN).
    """
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
            if unit == "reram":
                cost = crossbar_phase_cost(layer, hw.reram, batch, phase,
                                           replicas=mapping.replicas[layer.name],
                                           needs_input_grad=i != first)
            else:
                cost = digital_phase_cost(layer, hw.reram, batch, phase,
                                          tiles=mapping.digital_tiles[i])
            stages.append(Stage(name=layer.name, phase=phase, unit=unit,
                                per_sample_s=cost.per_sample_s, batch_s=cost.batch_s,
                                charges=(Charge(i, cost.batch_s, cost.energy_j),)))
            k += 1
            continue
        group = [i]
        while k + len(group) < len(order) and units[order[k + len(group)]] == "gpu":
            group.append(order[k + len(group)])
        k += len(group)
        stages.append(_gpu_group_stage(trace, group, hw, batch, phase, training))
    return stages


def phase_time(stages: Sequence[Stage], batch: int, pipelined: bool) -> float:
    """Time of one phase: between barriers, a segment of stages with per-sample times ``t_i``
    takes ``sum(t_i) + (batch - 1) * max(t_i)`` when pipelined, else the sum of their batch
    times; a barrier adds its batch time."""
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


def update_charges(trace: Trace, units: Sequence[str], mapping: ChipMapping, hw: HardwareSpec,
                   pipelined: bool) -> tuple[float, list[Charge]]:
    """The weight-update writes after a training batch: ``(time, charges)``.

    Every crossbar layer rewrites its cells; with the pipeline the layers write in parallel
    (time is the slowest layer's), without it one after another (the sum).
    """
    update_s, charges = 0.0, []
    for i, layer in enumerate(trace.layers):
        if units[i] != "reram":
            continue
        cost = crossbar_update_cost(layer, hw.reram, replicas=mapping.replicas[layer.name])
        charges.append(Charge(i, cost.batch_s, cost.energy_j))
        update_s = max(update_s, cost.batch_s) if pipelined else update_s + cost.batch_s
    return update_s, charges


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
    roofline times (equally when the kind's roofline total is 0)."""
    out = list(roofline_s)
    for kind in set(kinds):
        members = [i for i, k in enumerate(kinds) if k == kind]
        share = sum(roofline_s[i] for i in members)
        total_kind = seconds_by_kind.get(kind, 0.0)
        for i in members:
            out[i] = total_kind * (roofline_s[i] / share if share > 0 else 1 / len(members))
    return out


def _check_arguments(mode: str, batch_size: int, elementwise_unit: str, gpu_baseline: str) -> str:
    if mode not in _MODE_ALIASES:
        raise ValueError(f"mode must be 'train' or 'inference', got {mode!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    if elementwise_unit not in ("digital", "gpu"):
        raise ValueError(f"elementwise_unit must be 'digital' or 'gpu', got {elementwise_unit!r}")
    if gpu_baseline not in ("roofline", "measured"):
        raise ValueError(f"gpu_baseline must be 'roofline' or 'measured', got {gpu_baseline!r}")
    return _MODE_ALIASES[mode]


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


def schedule(model: nn.Module | Trace, input_shape: Sequence[int] | None = None,
             batch_size: int = 64, mode: str = "train",
             hardware: str | Path | HardwareSpec = "isaac", *,
             elementwise_unit: str = "digital", pipeline: bool = True, replicate: bool = True,
             gpu_baseline: str = "roofline", device: str | None = None) -> Plan:
    """Schedule a model on a ReRAM + GPU chip and cost one batch against a GPU-only baseline.

    The steps, each a function of this module: :func:`route`, :func:`map_and_replicate`,
    :func:`phase_stages` and :func:`phase_time` per phase, :func:`update_charges`,
    :func:`gpu_only_baseline` (and :func:`split_measured` for a measured baseline).

    Args:
        model: an ``nn.Module`` (traced here) or a ready :class:`~reram.cost.trace.Trace`.
        input_shape: per-sample input shape, e.g. ``(3, 32, 32)``; required for a module.
        batch_size: samples per batch, >= 1.
        mode: ``"train"`` (forward, backward, weight-update writes) or ``"inference"``.
        hardware: a bundled config name (``"isaac"``, ``"puma"``), a JSON path, or a spec.
        elementwise_unit: where activations and pooling run: ``"digital"`` (tile units) or
            ``"gpu"``.
        pipeline: model the inter-layer pipeline over the batch; False runs layers one after
            another (then ``latency_s`` is the sum of the layers' ``latency_s``).
        replicate: copy layers onto spare crossbars to shorten the slowest stage.
        gpu_baseline: ``"roofline"`` or ``"measured"`` (times the model with the torch profiler
            on ``device``, default CUDA; per-kind measured time is split across the layers of a
            kind in proportion to their roofline times; time the profiler cannot tie to a
            traced layer type, such as the optimizer step or residual additions, is left out).
        device: device for ``gpu_baseline="measured"``.

    Returns:
        The :class:`Plan`.

    Raises:
        ValueError: on a bad argument, with the argument named, or if the model does not fit
            on the chip's crossbars.

    Example:
        >>> net = nn.Sequential(nn.Linear(100, 10))
        >>> plan = schedule(net, (100,), batch_size=1, mode="inference")
        >>> plan.layers[0].unit, plan.layers[0].crossbars
        ('reram', 8)
    """
    mode = _check_arguments(mode, batch_size, elementwise_unit, gpu_baseline)
    hw = load_hardware(hardware)
    trace = _trace_of(model, input_shape)
    training = mode == "train"
    units = route(trace, elementwise_unit)
    mapping = map_and_replicate(trace, units, hw, training=training, replicate=replicate)
    costs = [LayerCost(name=layer.name, kind=layer.kind, unit=unit)
             for layer, unit in zip(trace.layers, units)]

    stages, latency = [], 0.0
    for phase in ("forward", "backward") if training else ("forward",):
        phase_list = phase_stages(trace, units, mapping, hw, batch_size, phase, training=training)
        for stage in phase_list:
            for c in stage.charges:
                costs[c.index]._add(phase, c.seconds, c.energy_j, c.bytes_moved)
        latency += phase_time(phase_list, batch_size, pipeline)
        stages += phase_list
    update_s = 0.0
    if training:
        update_s, charges = update_charges(trace, units, mapping, hw, pipeline)
        for c in charges:
            costs[c.index]._add("update", c.seconds, c.energy_j, c.bytes_moved)
        latency += update_s
    for layer, cost in zip(trace.layers, costs):
        if cost.unit == "reram":
            cost.crossbars = mapping.crossbars[layer.name]
            cost.replicas = mapping.replicas[layer.name]
            cost.tiles = mapping.tiles(layer.name, hw.reram.crossbars_per_tile)

    baseline = gpu_only_baseline(trace, hw.gpu, batch_size, training)
    gpu_times = list(baseline.latency_s)
    if gpu_baseline == "measured":
        if isinstance(model, Trace):
            raise ValueError("gpu_baseline='measured' needs an nn.Module, not a Trace")
        from reram.cost.gpu_profile import measure_breakdown

        measured = measure_breakdown(model, trace.input_shape, batch_size, mode,
                                     device=device or "cuda")
        gpu_times = split_measured([c.kind for c in costs], gpu_times, measured["seconds_by_kind"])
    for cost, seconds, joules in zip(costs, gpu_times, baseline.energy_j):
        cost.gpu_latency_s, cost.gpu_energy_j = seconds, joules
    roofline_latency = sum(baseline.latency_s)
    gpu_latency = sum(c.gpu_latency_s for c in costs)
    gpu_energy = sum(c.gpu_energy_j for c in costs)
    energy = sum(c.energy_j for c in costs)
    return Plan(
        model_name=trace.model_name, mode=mode, batch_size=batch_size,
        input_shape=tuple(trace.input_shape), hardware=hw.name, layers=costs,
        latency_s=latency, energy_j=energy, throughput=batch_size / latency,
        gpu_latency_s=gpu_latency, gpu_energy_j=gpu_energy,
        gpu_throughput=batch_size / gpu_latency if gpu_latency > 0 else float("inf"),
        speedup_vs_gpu=gpu_latency / latency,
        energy_ratio_vs_gpu=gpu_energy / energy if energy > 0 else float("inf"),
        gpu_utilization=(baseline.flops / (roofline_latency * hw.gpu.peak_flops)
                         if roofline_latency > 0 else 0.0),
        bottleneck=bottleneck_of(stages), update_s=update_s,
        barriers=_count_barriers(units, trace.layers) if training else 0,
        crossbars_used=mapping.crossbars_used, crossbars_available=mapping.available,
        pipelined=pipeline, gpu_baseline=gpu_baseline)
