"""Per-layer cost functions: crossbar mapping and timing, digital units, GPU roofline, link.

Everything here is a pure function of a :class:`~reram.cost.trace.LayerTrace`, a batch size and a
hardware spec (:mod:`reram.cost.hardware`); nothing reads simulation tensors. The scheduler
(:mod:`reram.cost.scheduler`) decides which unit runs each layer and assembles these costs into a
pipelined plan.

Model summary (docs/scheduler.md has the full derivation):

* **Crossbar mapping.** A conv/linear layer's weight matrix of one group is ``rows x cols``
  (``rows = in/groups * kh * kw``, ``cols = out/groups``), cut into
  ``ceil(rows / crossbar_rows) * ceil(cols / crossbar_cols)`` blocks, each bit-sliced over
  ``slices = ceil(weight_bits' / cell_bits)`` crossbars (``weight_bits' = weight_bits - 1`` with
  a differential pair, which doubles the count).
* **Crossbar timing.** One matrix-vector product (MVM) streams ``ReramSpec.mvm_cycles`` cycles
  (the simulation's scheme: ``ceil((input_bits - 1) / dac_bits)`` per sign phase, two phases for
  signed vectors); a cycle lasts ``max(read_latency_s, ceil(outputs_per_crossbar /
  adcs_per_crossbar) / adc_conversions_per_s)``. All crossbars of a layer work in parallel; ``r``
  replicas share the batch's MVMs. The backward phase here is the input gradient: the transposed
  crossbar (columns driven, rows converted, signed errors). The weight gradient is costed by the
  chip's dataflow in :mod:`reram.cost.training`.
* **Weight update.** Write-verify pulses per level change, only the cells that change, SET and
  RESET phases, rows one after another, crossbars in parallel (:mod:`reram.cost.writes`), or the
  pulses a simulated ``update="pulsed"`` training fired.
* **Energy parts.** Every :class:`PhaseCost` splits its energy into :data:`ENERGY_PARTS`.
* **GPU roofline.** ``kernels * kernel_launch_s + max(flops / peak_flops, bytes / bandwidth)``,
  energy ``flops * energy_per_flop_j + bytes * energy_per_byte_j``.

This module imports only :mod:`reram.cost.trace`, :mod:`reram.cost.hardware` and
:mod:`reram.cost.writes`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

from reram.cost.hardware import GpuSpec, LinkSpec, ReramSpec
from reram.cost.trace import LayerTrace
from reram.cost.writes import PulseRecord, WriteModel, array_write_cost, recorded_write_cost

__all__ = [
    "PHASES", "CrossbarMapping", "PhaseCost", "GpuWork", "map_layer", "crossbar_phase_cost",
    "crossbar_update_cost", "digital_phase_cost", "gpu_work", "gpu_phase_cost", "link_cost",
    "BN_FLOPS_PER_ELEMENT", "ENERGY_PARTS", "crossbar_cycle_s", "mvm_cost",
]

#: Components an energy is split into (``PhaseCost.parts``, ``Plan.energy_breakdown``):
#: crossbar arrays and DACs, ADC conversions, shift-and-add, tile buffers, the on-chip network
#: (:mod:`reram.cost.interconnect`), tile digital units (activations, pooling, the optimizer),
#: weight-update writes, error writes into the error arrays (``weight_gradient="in-array"``), the
#: digital weight-gradient unit, DRAM traffic, GPU work, the link, and static power (ReRAM side)
#: and idle power (GPU) over the batch time.
ENERGY_PARTS = ("crossbar", "adc", "shift_add", "buffer", "interconnect", "digital", "writes",
                "gradient_writes", "weight_gradient", "dram", "gpu", "link", "reram_static",
                "gpu_idle")

#: Phases of one training step, in order. Inference uses only ``"forward"``.
PHASES = ("forward", "backward", "update")

#: FLOPs per element of BatchNorm on the GPU: forward in training (mean, variance, normalize,
#: scale and shift), forward in inference (scale and shift with running statistics), backward.
BN_FLOPS_PER_ELEMENT = {"train_forward": 8, "infer_forward": 2, "backward": 12}


@dataclass(frozen=True)
class CrossbarMapping:
    """How one conv/linear layer sits on crossbars.

    Attributes:
        rows: weight-matrix rows of one group (fan-in).
        cols: weight-matrix columns of one group (outputs).
        groups: convolution groups (each mapped separately).
        row_blocks: crossbars stacked along the rows, ``ceil(rows / crossbar_rows)``.
        col_blocks: crossbars side by side along the columns, ``ceil(cols / crossbar_cols)``.
        slices: crossbars one weight is bit-sliced over.
        signs: 2 for a differential pair, else 1.
        crossbars: crossbars of one copy of the layer.
        cells: cells holding weights in one copy (used cells only).
    """

    rows: int
    cols: int
    groups: int
    row_blocks: int
    col_blocks: int
    slices: int
    signs: int
    crossbars: int
    cells: int


@dataclass(frozen=True)
class PhaseCost:
    """Cost of one layer in one phase.

    Attributes:
        per_sample_s: time per sample when the layer is a pipeline stage (0 for batch ops).
        batch_s: time for the whole batch when run alone, not overlapped.
        energy_j: energy for the whole batch.
        bytes_moved: bytes crossing the ReRAM-GPU link for the whole batch.
        parts: ``energy_j`` split by component (:data:`ENERGY_PARTS`); sums to ``energy_j``.
    """

    per_sample_s: float
    batch_s: float
    energy_j: float
    bytes_moved: float = 0.0
    parts: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class GpuWork:
    """Work a GPU kernel sequence does.

    Attributes:
        flops: floating-point operations.
        bytes: DRAM bytes read and written.
        kernels: kernel launches.
    """

    flops: float
    bytes: float
    kernels: int


def _check_batch(batch_size: int) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")


def map_layer(layer: LayerTrace, reram: ReramSpec) -> CrossbarMapping:
    """Map a conv/linear layer onto crossbars.

    Args:
        layer: a traced layer of kind ``"conv"`` or ``"linear"``.
        reram: the crossbar side of the chip.

    Returns:
        The :class:`CrossbarMapping` of one copy of the layer.

    Raises:
        ValueError: if ``layer`` is not a conv/linear layer.

    Example:
        A ``Linear(100, 10)`` on one 128x128 crossbar with 2-bit cells and 2-bit offset-encoded
        weights: 1 row block, 1 column block, 1 slice, 1 crossbar, 1000 cells.
    """
    if layer.kind not in ("conv", "linear"):
        raise ValueError(f"layer {layer.name!r} of kind {layer.kind!r} does not map onto crossbars")
    rows, cols = layer.weight_rows, layer.weight_cols
    row_blocks = math.ceil(rows / reram.crossbar_rows)
    col_blocks = math.ceil(cols / reram.crossbar_cols)
    signs = 2 if reram.differential_weights else 1
    crossbars = layer.groups * row_blocks * col_blocks * reram.slices * signs
    cells = layer.groups * rows * cols * reram.slices * signs
    return CrossbarMapping(rows=rows, cols=cols, groups=layer.groups, row_blocks=row_blocks,
                           col_blocks=col_blocks, slices=reram.slices, signs=signs,
                           crossbars=crossbars, cells=cells)


def crossbar_cycle_s(outputs_per_crossbar: int, reram: ReramSpec) -> float:
    """One crossbar cycle: the read, or the ADCs converting every output, whichever is slower.

    Args:
        outputs_per_crossbar: analog outputs (columns, or rows when transposed) to convert.
        reram: the crossbar side.
    """
    conversions = math.ceil(outputs_per_crossbar / reram.adcs_per_crossbar)
    return max(reram.read_latency_s, conversions / reram.adc_conversions_per_s)


def mvm_cost(mapping: CrossbarMapping, reram: ReramSpec, *, transposed: bool,
              signed: bool) -> tuple[float, dict[str, float]]:
    """(latency_s, energy parts) of one MVM through all crossbars of one copy of a layer.

    ``signed``: the streamed vector has both signs (two input phases when the chip streams
    inputs in sign phases, :meth:`ReramSpec.mvm_cycles`).
    """
    if transposed:  # drive the columns, convert the rows
        inputs, outputs = mapping.cols, mapping.rows
        outputs_per_crossbar = min(mapping.rows, reram.crossbar_rows)
        output_blocks = mapping.col_blocks  # partial sums over column blocks
    else:
        inputs, outputs = mapping.rows, mapping.cols
        outputs_per_crossbar = min(mapping.cols, reram.crossbar_cols)
        output_blocks = mapping.row_blocks
    if reram.analog_row_sum:  # the blocks' currents summed before one conversion per output
        output_blocks = 1
    cycles = reram.mvm_cycles(signed)
    latency = cycles * crossbar_cycle_s(outputs_per_crossbar, reram)
    # every crossbar converts each of its outputs once per cycle
    conversions = (mapping.groups * outputs * output_blocks * mapping.slices * mapping.signs
                   * cycles)
    parts = {
        "crossbar": mapping.crossbars * cycles * (reram.crossbar_energy_per_cycle_j
                                                  + reram.dac_energy_per_cycle_j),
        "adc": conversions * reram.adc_energy_per_conversion_j,
        "shift_add": conversions * reram.shift_add_energy_j,
        "buffer": (mapping.groups * (inputs + outputs) * reram.activation_bytes
                   * reram.buffer_energy_per_byte_j)}
    return latency, parts


def _scaled(parts: Mapping[str, float], factor: float) -> dict[str, float]:
    return {k: v * factor for k, v in parts.items()}


def crossbar_phase_cost(layer: LayerTrace, reram: ReramSpec, batch_size: int, phase: str, *,
                        replicas: int = 1, needs_input_grad: bool = True,
                        signed_input: bool = False) -> PhaseCost:
    """Cost of a conv/linear layer on crossbars in the forward or backward phase.

    Args:
        layer: a conv/linear layer.
        reram: the crossbar side (the layer's own geometry, see ``Chip.reram_for``).
        batch_size: samples per batch.
        phase: ``"forward"`` or ``"backward"``. Backward = the input gradient through the
            transposed crossbar (signed errors), if ``needs_input_grad`` (else nothing: the
            weight gradient is :func:`reram.cost.training.weight_gradient_cost`).
        replicas: copies of the layer, each working on its own share of the batch's MVMs.
        needs_input_grad: False for the first compute layer (no gradient to pass back).
        signed_input: the layer's input has both signs (the model's input, or
            ``LayerTrace.input_signed``): two input phases.

    Returns:
        The :class:`PhaseCost`; ``per_sample_s * batch_size == batch_s``.
    """
    _check_batch(batch_size)
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
        raise ValueError(f"replicas must be an int >= 1, got {replicas!r}")
    if phase not in ("forward", "backward"):
        raise ValueError(f"phase must be 'forward' or 'backward' for crossbar layers, got {phase!r}")
    mapping = map_layer(layer, reram)
    mvms = layer.mvms_per_sample
    if phase == "forward":
        per_mvm_s, per_mvm_parts = mvm_cost(mapping, reram, transposed=False, signed=signed_input)
    elif needs_input_grad:
        per_mvm_s, per_mvm_parts = mvm_cost(mapping, reram, transposed=True, signed=True)
    else:
        return PhaseCost(0.0, 0.0, 0.0)
    per_sample = mvms * per_mvm_s / replicas
    parts = _scaled(per_mvm_parts, mvms * batch_size)
    return PhaseCost(per_sample_s=per_sample, batch_s=per_sample * batch_size,
                     energy_j=sum(parts.values()), parts=parts)


def crossbar_update_cost(layer: LayerTrace, reram: ReramSpec, *, replicas: int = 1,
                         writes: WriteModel | None = None,
                         record: PulseRecord | None = None) -> PhaseCost:
    """Programming a conv/linear layer's weight update after a batch (all replicas, in parallel).

    Without a ``record``: every copy's used cells under ``writes.activity`` (the fraction that
    changes, their level changes), write-verify pulses per level change, SET and RESET phases,
    rows one after another, crossbars in parallel (:func:`reram.cost.writes.array_write_cost`).
    With a ``record`` (``update="pulsed"``): the per-update pulses and row steps the simulated
    devices fired, for each copy. The scheduler also bounds the power of all layers together.

    Args:
        layer: a conv/linear layer.
        reram: the crossbar side.
        replicas: copies of the layer to rewrite.
        writes: the write model (default :class:`~reram.cost.writes.WriteModel`).
        record: the layer's pulse record, if its training was simulated with pulses.

    Returns:
        A :class:`PhaseCost` with ``per_sample_s = 0`` (a once-per-batch operation).
    """
    writes = writes or WriteModel()
    mapping = map_layer(layer, reram)
    if record is not None:
        one = recorded_write_cost(record, mapping.row_blocks, reram, writes,
                                  cols_per_array=min(mapping.cols, reram.crossbar_cols),
                                  arrays_per_row=mapping.crossbars // mapping.row_blocks)
    else:
        one = array_write_cost(mapping.cells, min(mapping.rows, reram.crossbar_rows),
                               reram.cell_bits, reram, writes, parallel_arrays=mapping.crossbars,
                               cols_per_array=min(mapping.cols, reram.crossbar_cols))
    energy = one.energy_j * replicas
    return PhaseCost(per_sample_s=0.0, batch_s=one.seconds, energy_j=energy, parts={"writes": energy})


def _elementwise_ops(layer: LayerTrace, phase: str) -> float:
    """Element operations per sample of an activation/pooling layer."""
    if layer.kind == "act":
        return float(layer.output_numel)
    if layer.kind == "pool":
        window = layer.kernel_size[0] * layer.kernel_size[1]
        return float(layer.output_numel * window if phase == "forward" else layer.input_numel)
    raise ValueError(f"layer {layer.name!r} of kind {layer.kind!r} is not element-wise")


def digital_phase_cost(layer: LayerTrace, reram: ReramSpec, batch_size: int, phase: str, *,
                       tiles: int = 1, ops_per_s: float | None = None) -> PhaseCost:
    """Activation or pooling on the digital units of ``tiles`` tiles.

    Args:
        layer: an ``"act"`` or ``"pool"`` layer.
        reram: the crossbar side (its digital-unit rate and energy).
        batch_size: samples per batch.
        phase: ``"forward"`` or ``"backward"``.
        tiles: tiles sharing the work (those that hold the producing layer's crossbars).
        ops_per_s: the rate of the units that do it, element operations per second; ``None``
            (default): ``tiles x reram.digital_ops_per_s``. A chip-level activation block
            (``InterconnectSpec.activation_site="chip"``) passes its own.
    """
    _check_batch(batch_size)
    if isinstance(tiles, bool) or not isinstance(tiles, int) or tiles < 1:
        raise ValueError(f"tiles must be an int >= 1, got {tiles!r}")
    if ops_per_s is None:
        ops_per_s = reram.digital_ops_per_s * tiles
    elif isinstance(ops_per_s, bool) or not isinstance(ops_per_s, (int, float)) \
            or not math.isfinite(ops_per_s) or ops_per_s <= 0:
        raise ValueError(f"ops_per_s must be a finite number > 0 or None, got {ops_per_s!r}")
    ops = _elementwise_ops(layer, phase)
    per_sample = ops / ops_per_s
    moved = (layer.input_numel + layer.output_numel) * reram.activation_bytes
    parts = {"digital": ops * reram.digital_energy_per_op_j * batch_size,
             "buffer": moved * reram.buffer_energy_per_byte_j * batch_size}
    return PhaseCost(per_sample_s=per_sample, batch_s=per_sample * batch_size,
                     energy_j=sum(parts.values()), parts=parts)


def gpu_work(layer: LayerTrace, batch_size: int, phase: str, *, training: bool,
             bytes_per_value: int = 4, needs_input_grad: bool = True) -> GpuWork:
    """FLOPs, DRAM bytes and kernel launches of a layer on a GPU.

    Args:
        layer: any traced layer.
        batch_size: samples per batch.
        phase: ``"forward"``, ``"backward"`` or ``"update"`` (SGD step on the weights).
        training: BN uses batch statistics (True) or running statistics (False).
        bytes_per_value: bytes per tensor element.
        needs_input_grad: False for the first compute layer.

    Returns:
        The :class:`GpuWork`.
    """
    _check_batch(batch_size)
    if phase not in PHASES:
        raise ValueError(f"phase must be one of {PHASES}, got {phase!r}")
    b, v = batch_size, bytes_per_value
    n_in, n_out = layer.input_numel * b, layer.output_numel * b
    if layer.kind in ("conv", "linear"):
        weights = layer.weight_count
        flops_fwd = 2.0 * layer.macs_per_sample * b
        if phase == "forward":
            return GpuWork(flops_fwd, (n_in + n_out + weights) * v, 1)
        if phase == "backward":
            # weight gradient: read dy and x, write dW; input gradient: read dy and W, write dx
            work = GpuWork(flops_fwd, (n_out + n_in + weights) * v, 1)
            if needs_input_grad:
                work = GpuWork(2 * flops_fwd, work.bytes + (n_out + weights + n_in) * v, 2)
            return work
        return GpuWork(2.0 * weights, 3.0 * weights * v, 1)  # read w and dw, write w
    if phase == "update":
        return GpuWork(0.0, 0.0, 0)
    if layer.kind == "bn":
        if phase == "forward":
            if training:  # a statistics pass reads x, a normalize pass reads x and writes y
                return GpuWork(BN_FLOPS_PER_ELEMENT["train_forward"] * n_in, 3.0 * n_in * v, 1)
            return GpuWork(BN_FLOPS_PER_ELEMENT["infer_forward"] * n_in, 2.0 * n_in * v, 1)
        # reduction pass reads dy and x; gradient pass reads dy and x, writes dx
        return GpuWork(BN_FLOPS_PER_ELEMENT["backward"] * n_in, 5.0 * n_in * v, 1)
    if layer.kind == "act":
        if phase == "forward":
            return GpuWork(float(n_out), (n_in + n_out) * v, 1)
        return GpuWork(float(n_out), (2.0 * n_out + n_in) * v, 1)  # read dy and y, write dx
    if layer.kind == "pool":
        ops = _elementwise_ops(layer, phase) * b
        if phase == "forward":
            return GpuWork(ops, (n_in + n_out) * v, 1)
        return GpuWork(ops, (2.0 * n_out + n_in) * v, 1)  # read dy and indices, write dx
    raise ValueError(f"unknown layer kind {layer.kind!r}")


def gpu_phase_cost(work: GpuWork, gpu: GpuSpec, batch_size: int) -> PhaseCost:
    """Roofline time and energy of GPU work for a whole batch.

    Args:
        work: from :func:`gpu_work`.
        gpu: the GPU spec.
        batch_size: samples in ``work`` (sets ``per_sample_s = batch_s / batch_size``).
    """
    _check_batch(batch_size)
    if work.kernels == 0 and work.flops == 0 and work.bytes == 0:
        return PhaseCost(0.0, 0.0, 0.0)
    seconds = (work.kernels * gpu.kernel_launch_s
               + max(work.flops / gpu.peak_flops, work.bytes / gpu.memory_bandwidth_bytes_per_s))
    energy = work.flops * gpu.energy_per_flop_j + work.bytes * gpu.energy_per_byte_j
    return PhaseCost(per_sample_s=seconds / batch_size, batch_s=seconds, energy_j=energy,
                     parts={"gpu": energy})


def link_cost(nbytes: float, link: LinkSpec, transfers: int = 1) -> PhaseCost:
    """Moving ``nbytes`` over the ReRAM-GPU link in ``transfers`` equal transfers.

    Args:
        nbytes: total bytes.
        link: the link spec.
        transfers: number of separate transfers (each pays ``latency_s``).
    """
    if nbytes <= 0 or transfers <= 0:
        return PhaseCost(0.0, 0.0, 0.0, 0.0)
    seconds = transfers * link.latency_s + nbytes / link.bandwidth_bytes_per_s
    energy = nbytes * link.energy_per_byte_j
    return PhaseCost(per_sample_s=0.0, batch_s=seconds, energy_j=energy,
                     bytes_moved=float(nbytes), parts={"link": energy})
