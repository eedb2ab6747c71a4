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
from reram.cost.hardware import HardwareSpec, load_hardware
from reram.cost.trace import LayerTrace, Trace, trace_model

__all__ = ["schedule", "Plan", "LayerCost", "MODES", "UNITS"]

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


def _route(layer: LayerTrace, elementwise_unit: str) -> str:
    if layer.kind in ("conv", "linear"):
        return "reram"
    if layer.kind == "bn":
        return "gpu"
    return elementwise_unit


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


def _segments_time(items: Sequence[tuple[str, float, float]], batch_size: int,
                   pipelined: bool) -> float:
    """Time of a phase from its items ``(kind, per_sample_s, batch_s)``, kind stage/barrier."""
    total, segment = 0.0, []
    for kind, per_sample, batch_s in list(items) + [("barrier", 0.0, 0.0)]:
        if kind == "stage":
            if pipelined:
                segment.append(per_sample)
            else:
                total += batch_s
            continue
        if segment:
            total += sum(segment) + (batch_size - 1) * max(segment)
            segment = []
        total += batch_s
    return total


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


def _roofline_baseline(trace: Trace, costs: Sequence[LayerCost], hw: HardwareSpec, batch: int,
                       training: bool, first_compute: int) -> float:
    """Fill each layer's GPU-only roofline time and energy; return the baseline's FLOPs."""
    phases = ("forward", "backward", "update") if training else ("forward",)
    total_flops = 0.0
    for i, layer in enumerate(trace.layers):
        for phase in phases:
            work = gpu_work(layer, batch, phase, training=training,
                            bytes_per_value=hw.gpu.bytes_per_value,
                            needs_input_grad=i != first_compute)
            cost = gpu_phase_cost(work, hw.gpu, batch)
            costs[i].gpu_latency_s += cost.batch_s
            costs[i].gpu_energy_j += cost.energy_j
            total_flops += work.flops
    return total_flops


def _apply_measured(costs: Sequence[LayerCost], seconds_by_kind: Mapping[str, float]) -> None:
    """Replace roofline times by measured per-kind times, split in proportion to the roofline."""
    for kind in {c.kind for c in costs}:
        members = [c for c in costs if c.kind == kind]
        share = sum(c.gpu_latency_s for c in members)
        total_kind = seconds_by_kind.get(kind, 0.0)
        for c in members:
            c.gpu_latency_s = total_kind * (c.gpu_latency_s / share if share > 0 else 1 / len(members))


def schedule(model: nn.Module | Trace, input_shape: Sequence[int] | None = None,
             batch_size: int = 64, mode: str = "train",
             hardware: str | Path | HardwareSpec = "isaac", *,
             elementwise_unit: str = "digital", pipeline: bool = True, replicate: bool = True,
             gpu_baseline: str = "roofline", device: str | None = None) -> Plan:
    """Schedule a model on a ReRAM + GPU chip and cost one batch against a GPU-only baseline.

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
    if mode not in _MODE_ALIASES:
        raise ValueError(f"mode must be 'train' or 'inference', got {mode!r}")
    mode = _MODE_ALIASES[mode]
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    if elementwise_unit not in ("digital", "gpu"):
        raise ValueError(f"elementwise_unit must be 'digital' or 'gpu', got {elementwise_unit!r}")
    if gpu_baseline not in ("roofline", "measured"):
        raise ValueError(f"gpu_baseline must be 'roofline' or 'measured', got {gpu_baseline!r}")
    hw = load_hardware(hardware)
    if isinstance(model, Trace):
        trace = model
    else:
        if input_shape is None:
            raise ValueError("input_shape is required when model is an nn.Module")
        trace = trace_model(model, input_shape)
    if not trace.layers:
        raise ValueError("the model has no layer the cost model recognises (Conv2d, Linear, ...)")
    training = mode == "train"
    batch = batch_size
    reram, gpu, link = hw.reram, hw.gpu, hw.link
    units = [_route(layer, elementwise_unit) for layer in trace.layers]
    costs = [LayerCost(name=layer.name, kind=layer.kind, unit=unit)
             for layer, unit in zip(trace.layers, units)]
    first_compute = next((i for i, l in enumerate(trace.layers) if l.kind in ("conv", "linear")), -1)

    # --- crossbar mapping and replication -----------------------------------------------------
    compute = [l for l in trace.layers if l.kind in ("conv", "linear")]
    xbars = {l.name: map_layer(l, reram).crossbars for l in compute}
    base_stage: dict[str, float] = {}
    for i, layer in enumerate(trace.layers):
        if layer.kind in ("conv", "linear"):
            times = [crossbar_phase_cost(layer, reram, 1, "forward").per_sample_s]
            if training:
                times.append(crossbar_phase_cost(layer, reram, 1, "backward",
                                                 needs_input_grad=i != first_compute).per_sample_s)
            base_stage[layer.name] = max(base_stage.get(layer.name, 0.0), *times)
    if replicate:
        replicas = _replicate(compute, base_stage, xbars, reram.total_crossbars, hw.name)
    else:
        _replicate(compute, base_stage, xbars, reram.total_crossbars, hw.name)  # fit check
        replicas = {l.name: 1 for l in compute}

    # digital units: those of the tiles holding the nearest preceding crossbar layer
    digital_tiles: list[int] = []
    tiles_here = 1
    for layer, unit in zip(trace.layers, units):
        if unit == "reram":
            tiles_here = max(1, -(-xbars[layer.name] * replicas[layer.name] // reram.crossbars_per_tile))
        digital_tiles.append(tiles_here)

    # --- one phase of the heterogeneous chip --------------------------------------------------
    act_bytes = reram.activation_bytes
    bottleneck = {"name": None, "phase": None, "per_sample_s": 0.0}

    def run_phase(phase: str) -> float:
        order = list(range(len(trace.layers)))
        if phase == "backward":
            order.reverse()
        items: list[tuple[str, float, float]] = []
        k = 0
        while k < len(order):
            i = order[k]
            layer, unit = trace.layers[i], units[i]
            if unit == "reram":
                cost = crossbar_phase_cost(layer, reram, batch, phase, replicas=replicas[layer.name],
                                           needs_input_grad=i != first_compute)
                costs[i]._add(phase, cost.batch_s, cost.energy_j)
                items.append(("stage", cost.per_sample_s, cost.batch_s))
                _note_stage(layer.name, phase, cost.per_sample_s)
                k += 1
                continue
            if unit == "digital":
                cost = digital_phase_cost(layer, reram, batch, phase, tiles=digital_tiles[i])
                costs[i]._add(phase, cost.batch_s, cost.energy_j)
                items.append(("stage", cost.per_sample_s, cost.batch_s))
                _note_stage(layer.name, phase, cost.per_sample_s)
                k += 1
                continue
            group = [i]  # consecutive GPU layers: one transfer in, one out
            while k + len(group) < len(order) and units[order[k + len(group)]] == "gpu":
                group.append(order[k + len(group)])
            k += len(group)
            first, last = trace.layers[group[0]], trace.layers[group[-1]]
            in_values = first.input_numel if phase == "forward" else first.output_numel
            out_values = last.output_numel if phase == "forward" else last.input_numel
            barrier = training and any(trace.layers[j].kind == "bn" for j in group)
            # one transfer of the batch each way; one kernel per layer for the whole batch
            t_in = link_cost(in_values * act_bytes * batch, link)
            t_out = link_cost(out_values * act_bytes * batch, link)
            group_s = 0.0
            for pos, j in enumerate(group):
                work = gpu_work(trace.layers[j], batch, phase, training=training,
                                bytes_per_value=gpu.bytes_per_value)
                g = gpu_phase_cost(work, gpu, batch)
                parts = [g]
                if pos == 0:
                    parts.append(t_in)
                if pos == len(group) - 1:
                    parts.append(t_out)
                seconds = sum(p.batch_s for p in parts)
                costs[j]._add(phase, seconds, sum(p.energy_j for p in parts),
                              sum(p.bytes_moved for p in parts))
                group_s += seconds
            if barrier:
                items.append(("barrier", 0.0, group_s))
            else:  # streams: the batch's cost spread over its samples
                items.append(("stage", group_s / batch, group_s))
                _note_stage(trace.layers[group[0]].name, phase, group_s / batch)
        return _segments_time(items, batch, pipeline)

    def _note_stage(name: str, phase: str, per_sample: float) -> None:
        if per_sample > bottleneck["per_sample_s"]:
            bottleneck.update(name=name, phase=phase, per_sample_s=per_sample)

    latency = run_phase("forward")
    update_s = 0.0
    if training:
        latency += run_phase("backward")
        for i, layer in enumerate(trace.layers):
            if units[i] == "reram":
                cost = crossbar_update_cost(layer, reram, replicas=replicas[layer.name])
                costs[i]._add("update", cost.batch_s, cost.energy_j)
                update_s = max(update_s, cost.batch_s) if pipeline else update_s + cost.batch_s
        latency += update_s
    for i, layer in enumerate(trace.layers):
        if units[i] == "reram":
            costs[i].crossbars = xbars[layer.name]
            costs[i].replicas = replicas[layer.name]
            costs[i].tiles = -(-xbars[layer.name] * replicas[layer.name] // reram.crossbars_per_tile)
    barriers = _count_barriers(units, trace.layers) if training else 0

    # --- GPU-only baseline ---------------------------------------------------------------------
    total_flops = _roofline_baseline(trace, costs, hw, batch, training, first_compute)
    roofline_latency = sum(c.gpu_latency_s for c in costs)
    if gpu_baseline == "measured":
        if isinstance(model, Trace):
            raise ValueError("gpu_baseline='measured' needs an nn.Module, not a Trace")
        from reram.cost.gpu_profile import measure_breakdown

        measured = measure_breakdown(model, trace.input_shape, batch, mode,
                                     device=device or "cuda")
        _apply_measured(costs, measured["seconds_by_kind"])
    gpu_latency = sum(c.gpu_latency_s for c in costs)
    gpu_energy = sum(c.gpu_energy_j for c in costs)
    energy = sum(c.energy_j for c in costs)
    crossbars_used = sum(xbars[l.name] * replicas[l.name] for l in compute)
    return Plan(
        model_name=trace.model_name, mode=mode, batch_size=batch,
        input_shape=tuple(trace.input_shape), hardware=hw.name, layers=costs,
        latency_s=latency, energy_j=energy, throughput=batch / latency,
        gpu_latency_s=gpu_latency, gpu_energy_j=gpu_energy,
        gpu_throughput=batch / gpu_latency if gpu_latency > 0 else float("inf"),
        speedup_vs_gpu=gpu_latency / latency,
        energy_ratio_vs_gpu=gpu_energy / energy if energy > 0 else float("inf"),
        gpu_utilization=total_flops / (roofline_latency * gpu.peak_flops) if roofline_latency > 0 else 0.0,
        bottleneck=dict(bottleneck), update_s=update_s, barriers=barriers,
        crossbars_used=crossbars_used, crossbars_available=reram.total_crossbars,
        pipelined=pipeline, gpu_baseline=gpu_baseline)
