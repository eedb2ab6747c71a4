"""How a chip trains: the weight-gradient dataflow, its digital unit, and the training silicon.

A training step on a crossbar layer has three kinds of work, each costed from the layer's real
mapping (:func:`reram.cost.layer_cost.map_layer`):

* **forward**: ``P`` MVMs (``P`` output positions per sample) through the weight arrays;
* **input gradient**: ``P`` MVMs through the *transposed* weight arrays (columns driven, rows
  converted: row-side ADCs and column-side DACs, :meth:`TrainingSpec.transposed_area_mm2`);
* **weight gradient** ``dW = X^T dY`` (``rows x cols`` per group, summed over ``P``), by the
  chip's dataflow (:data:`WEIGHT_GRADIENT_DATAFLOWS`):

  - ``"digital"`` (DNN+NeuroSim V2 computes weight gradients in a separate unit): ``rows x cols x
    P`` MACs per sample on the :class:`WeightGradientUnit` of the tiles holding the layer, reading
    the kept input patches and the output errors from the buffers;
  - ``"in-array"`` (PipeLayer, Song et al., HPCA 2017): each sample's output errors (a ``P x cols``
    matrix, signed, bit-sliced) are written into error arrays of their own (allocated per copy of
    the layer, :func:`error_mapping`), and the ``rows`` input-patch vectors (length ``P``) are
    streamed through them: ``rows`` MVMs, each giving one row of ``dW``, accumulated digitally.

The input gradient and the weight gradient use different hardware and run side by side: a layer's
backward stage lasts the longer of the two.

Specs are frozen dataclasses with units in their names; :class:`TrainingSpec` is what a
:class:`~reram.cost.chip.Chip` carries (``chip.training``). This module imports only
:mod:`reram.cost.hardware`, :mod:`reram.cost.trace`, :mod:`reram.cost.layer_cost`,
:mod:`reram.cost.memory`, :mod:`reram.cost.interconnect` and :mod:`reram.cost.writes`.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from reram.cost.hardware import ReramSpec
from reram.cost.layer_cost import CrossbarMapping, PhaseCost, map_layer, mvm_cost
from reram.cost.memory import MemorySpec
from reram.cost.trace import LayerTrace
from reram.cost.interconnect import InterconnectSpec
from reram.cost.writes import WriteActivity, WriteModel, array_write_cost, random_rewrite_activity

__all__ = ["WEIGHT_GRADIENT_DATAFLOWS", "WeightGradientUnit", "TrainingSpec", "error_mapping",
           "weight_gradient_cost", "weight_gradient_operand_bytes", "training_crossbars"]

#: Where weight gradients are computed: a digital unit per tile, or errors written into arrays.
WEIGHT_GRADIENT_DATAFLOWS = ("digital", "in-array")


@dataclass(frozen=True)
class WeightGradientUnit:
    """The digital weight-gradient unit of one tile (``weight_gradient="digital"``).

    Attributes:
        macs_per_tile: multiply-accumulates per clock per tile. Default 256 (assumption: a 16 x 16
            MAC array per tile, the size of one 128 x 128 array's 16 ADC outputs squared).
        clock_hz: its clock, Hz. Default 1 GHz (DNN+NeuroSim V2.1 Param.cpp ``clkFreq``).
        multiply_energy_8bit_j: one 8-bit multiply, J. Default 0.2 pJ (M. Horowitz, 'Computing's
            energy problem', ISSCC 2014, 45 nm); a ``b``-bit multiply costs ``(b/8)^2`` times it.
        add_energy_j: one 32-bit accumulate, J. Default 0.1 pJ (Horowitz, ISSCC 2014, 45 nm).
        multiply_area_8bit_mm2: one 8-bit multiplier, mm^2. Default 282 um^2 (Horowitz, ISSCC
            2014, 45 nm); ``(b/8)^2`` times it at ``b`` bits.
        add_area_mm2: one 32-bit adder, mm^2. Default 137 um^2 (Horowitz, ISSCC 2014, 45 nm).
    """

    macs_per_tile: int = 256
    clock_hz: float = 1e9
    multiply_energy_8bit_j: float = 0.2e-12
    add_energy_j: float = 0.1e-12
    multiply_area_8bit_mm2: float = 282e-6
    add_area_mm2: float = 137e-6

    def __post_init__(self) -> None:
        if isinstance(self.macs_per_tile, bool) or not isinstance(self.macs_per_tile, int) \
                or self.macs_per_tile < 1:
            raise ValueError(f"WeightGradientUnit.macs_per_tile must be an int >= 1, "
                             f"got {self.macs_per_tile!r}")
        for name in ("clock_hz", "multiply_energy_8bit_j", "add_energy_j",
                     "multiply_area_8bit_mm2", "add_area_mm2"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value) or value < 0 or (name == "clock_hz" and value == 0):
                raise ValueError(f"WeightGradientUnit.{name} must be a finite number >= 0 "
                                 f"(clock_hz > 0), got {value!r}")

    def mac_energy_j(self, bits: int) -> float:
        """One ``bits x bits`` multiply and a 32-bit accumulate, J."""
        return self.multiply_energy_8bit_j * (bits / 8) ** 2 + self.add_energy_j

    def area_mm2(self, bits: int) -> float:
        """One tile's unit at ``bits``-bit operands, mm^2."""
        return self.macs_per_tile * (self.multiply_area_8bit_mm2 * (bits / 8) ** 2 + self.add_area_mm2)


@dataclass(frozen=True)
class TrainingSpec:
    """The training half of a chip's silicon (``Chip.training``).

    Attributes:
        weight_gradient: ``"digital"`` or ``"in-array"`` (:data:`WEIGHT_GRADIENT_DATAFLOWS`).
        unit: the digital weight-gradient unit (per tile).
        memory: buffers and DRAM.
        writes: the write-verify model of weight (and error) writes.
        transposed_adc_area_mm2: one row-side ADC of the transposed read, mm^2. Default
            0.0012 mm^2: ISAAC's 8-bit 1.28 GS/s SAR ADC (Shafiee et al., ISCA 2016, Table
            'ISAAC parameters': 8 ADCs 0.0096 mm^2).
        transposed_dac_area_mm2: one column-side DAC of the transposed read, mm^2. Default
            1.66e-7 mm^2: ISAAC's 1-bit DAC (same Table: 8 x 128 DACs 0.00017 mm^2).
        epoch_samples: samples per epoch, for endurance. Default 50,000 (CIFAR-10's training set).
    """

    weight_gradient: str = "digital"
    unit: WeightGradientUnit = field(default_factory=WeightGradientUnit)
    memory: MemorySpec = field(default_factory=MemorySpec)
    writes: WriteModel = field(default_factory=WriteModel)
    transposed_adc_area_mm2: float = 0.0096 / 8
    transposed_dac_area_mm2: float = 0.00017 / (8 * 128)
    epoch_samples: int = 50_000

    def __post_init__(self) -> None:
        if self.weight_gradient not in WEIGHT_GRADIENT_DATAFLOWS:
            raise ValueError(f"TrainingSpec.weight_gradient must be one of "
                             f"{WEIGHT_GRADIENT_DATAFLOWS}, got {self.weight_gradient!r}")
        for name, cls in (("unit", WeightGradientUnit), ("memory", MemorySpec), ("writes", WriteModel)):
            if not isinstance(getattr(self, name), cls):
                raise TypeError(f"TrainingSpec.{name} must be a {cls.__name__}, "
                                f"got {type(getattr(self, name)).__name__}")
        for name in ("transposed_adc_area_mm2", "transposed_dac_area_mm2"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value) or value < 0:
                raise ValueError(f"TrainingSpec.{name} must be a finite number >= 0, got {value!r}")
        if isinstance(self.epoch_samples, bool) or not isinstance(self.epoch_samples, int) \
                or self.epoch_samples < 1:
            raise ValueError(f"TrainingSpec.epoch_samples must be an int >= 1, "
                             f"got {self.epoch_samples!r}")

    def to_dict(self) -> dict:
        """Plain-dict form (JSON-ready), nested specs as dicts (``Chip.to_dict`` saves it)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainingSpec:
        """The spec :meth:`to_dict` wrote; missing fields take their defaults.

        Raises:
            ValueError: on an unknown field (named) or a bad value.
        """
        def build(kind: type, values: Any, nested: Mapping[str, Any], where: str) -> Any:
            if not isinstance(values, Mapping):
                raise ValueError(f"{where} must be an object of {kind.__name__} fields, got {values!r}")
            known = {f.name for f in dataclasses.fields(kind)}
            unknown = sorted(set(values) - known)
            if unknown:
                raise ValueError(f"{where}.{unknown[0]} is not a {kind.__name__} field; "
                                 f"allowed: {', '.join(sorted(known))}")
            args = dict(values)
            for name, (sub, subnested) in nested.items():
                if name in args:
                    args[name] = build(sub, args[name], subnested, f"{where}.{name}")
            return kind(**args)

        nested = {"unit": (WeightGradientUnit, {}),
                  "memory": (MemorySpec, {"interconnect": (InterconnectSpec, {})}),
                  "writes": (WriteModel, {"activity": (WriteActivity, {})})}
        return build(cls, data, nested, "training")

    def on_floorplan(self, tile_area_mm2: float, node_nm: float, tiles: int = 1) -> TrainingSpec:
        """This spec with its on-chip network placed on a chip of ``tiles`` tiles of
        ``tile_area_mm2`` at ``node_nm`` (:meth:`reram.cost.interconnect.InterconnectSpec.on_floorplan`:
        the wires' length and voltage); what ``Chip.costed_training`` hands to the scheduler."""
        network = self.memory.interconnect.on_floorplan(tile_area_mm2, node_nm, tiles)
        return dataclasses.replace(self, memory=dataclasses.replace(self.memory, interconnect=network))

    def transposed_area_mm2(self, crossbars: int, reram: ReramSpec) -> float:
        """Row-side ADCs and column-side DACs the input gradient adds to ``crossbars`` arrays."""
        per_array = (reram.adcs_per_crossbar * self.transposed_adc_area_mm2
                     + reram.crossbar_cols * self.transposed_dac_area_mm2)
        return crossbars * per_array


def error_mapping(layer: LayerTrace, reram: ReramSpec) -> CrossbarMapping:
    """The error arrays of one copy of a layer (``weight_gradient="in-array"``).

    One sample's output errors form a ``P x cols`` matrix per group (``P`` output positions); it
    is stored like a weight matrix of ``P`` rows: signed (a G+/G- pair), its ``input_bits - 1``
    magnitude bits sliced over ``cell_bits`` cells.
    """
    rows, cols = max(1, layer.mvms_per_sample), layer.weight_cols
    slices = math.ceil(max(1, reram.input_bits - 1) / reram.cell_bits)
    row_blocks = math.ceil(rows / reram.crossbar_rows)
    col_blocks = math.ceil(cols / reram.crossbar_cols)
    crossbars = layer.groups * row_blocks * col_blocks * slices * 2
    return CrossbarMapping(rows=rows, cols=cols, groups=layer.groups, row_blocks=row_blocks,
                           col_blocks=col_blocks, slices=slices, signs=2, crossbars=crossbars,
                           cells=layer.groups * rows * cols * slices * 2)


def training_crossbars(layer: LayerTrace, reram: ReramSpec, spec: TrainingSpec) -> int:
    """Arrays of one copy of a layer in training: its weight arrays plus, in-array, its error arrays."""
    count = map_layer(layer, reram).crossbars
    if spec.weight_gradient == "in-array":
        count += error_mapping(layer, reram).crossbars
    return count


def _check_positive_int(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")


def weight_gradient_operand_bytes(layer: LayerTrace, reram: ReramSpec) -> float:
    """Bytes a sample the digital weight-gradient unit reads from the buffers: each MVM's input
    patch and output error, ``groups x (rows + cols) x P`` values."""
    mapping = map_layer(layer, reram)
    return float(mapping.groups * (mapping.rows + mapping.cols) * max(1, layer.mvms_per_sample)
                 * reram.activation_bytes)


def weight_gradient_cost(layer: LayerTrace, reram: ReramSpec, spec: TrainingSpec, batch_size: int,
                         *, tiles: int = 1, replicas: int = 1, signed_input: bool = False) -> PhaseCost:
    """The weight gradient of a conv/linear layer for a batch, by the chip's dataflow.

    Args:
        layer: a conv/linear layer.
        reram: the layer's crossbar spec.
        spec: the chip's training spec (its dataflow, unit and write model).
        batch_size: samples per batch.
        tiles: tiles holding the layer's copies (their digital units share the work).
        replicas: copies of the layer (in-array: each has its error arrays and takes its share of
            the samples).
        signed_input: the layer's input has both signs (streamed in two phases, in-array).

    Returns:
        A :class:`PhaseCost`: ``"weight_gradient"`` energy (digital), or the error writes
        (``"gradient_writes"``) and the error-array MVMs' parts (in-array), plus the buffer
        traffic of operands and accumulators.
    """
    _check_positive_int("batch_size", batch_size)
    _check_positive_int("tiles", tiles)
    _check_positive_int("replicas", replicas)
    acc_bytes = spec.memory.gradient_value_bytes
    accumulators_j = layer.weight_count * acc_bytes * reram.buffer_energy_per_byte_j  # once a batch
    if spec.weight_gradient == "digital":
        macs = float(layer.macs_per_sample)
        per_sample = macs / (tiles * spec.unit.macs_per_tile * spec.unit.clock_hz)
        operands = weight_gradient_operand_bytes(layer, reram)
        parts = {"weight_gradient": macs * spec.unit.mac_energy_j(reram.input_bits) * batch_size,
                 "buffer": operands * reram.buffer_energy_per_byte_j * batch_size + accumulators_j}
    else:
        errors = error_mapping(layer, reram)
        write = array_write_cost(errors.cells, min(errors.rows, reram.crossbar_rows), reram.cell_bits,
                                 reram, spec.writes, random_rewrite_activity(reram.cell_bits),
                                 parallel_arrays=errors.crossbars,
                                 cols_per_array=min(errors.cols, reram.crossbar_cols))
        streams = map_layer(layer, reram).rows  # one MVM per input-patch row, each a row of dW
        mvm_s, mvm_parts = mvm_cost(errors, reram, transposed=False, signed=signed_input)
        # each sample's dW partial is added into the accumulators (read and write)
        accumulate = layer.weight_count * acc_bytes * 2 * reram.buffer_energy_per_byte_j
        per_sample = (write.seconds + streams * mvm_s) / replicas
        parts = {k: v * streams * batch_size for k, v in mvm_parts.items()}
        parts["gradient_writes"] = write.energy_j * batch_size
        parts["buffer"] = parts.get("buffer", 0.0) + accumulate * batch_size
    return PhaseCost(per_sample_s=per_sample, batch_s=per_sample * batch_size,
                     energy_j=sum(parts.values()), parts=parts)
