"""Buffers and DRAM of a training chip: what a batch keeps, what spills off-chip, what it costs.

A training step keeps every conv/linear layer's input until its weight gradient is computed
(the activations kept for the backward pass) and accumulates the weight gradients of the batch
(one accumulator per weight); the optimizer then reads the gradients (and, with a full-precision
master copy, ``update="digital"``, reads and writes the master weights). Two orders of the
accumulation (:data:`ACCUMULATIONS`, ``MemorySpec.accumulation``):

* ``"batch-blocked"`` (default): the weight gradient ``dW = sum_b X_b^T dY_b`` is one matrix
  product over the batch, computed block of accumulators by block (as any GEMM is tiled): a block
  that fits in the buffers is accumulated over all samples, then written out once. The layer's
  kept inputs and its output errors for the whole batch are its operands: the errors that do not
  fit are written to DRAM and read back, and every block after the first re-reads both operands.
  Physically this is the right default: an accumulator read and written in DRAM by every sample
  costs ``2 x batch`` DRAM accesses where the operands' re-reads cost ``(blocks - 1)`` passes over
  data a few hundred times smaller per block than the batch's per-sample gradients.
* ``"per-sample"``: the weight gradient is computed sample by sample in the backward pipeline
  and every sample adds into the accumulators; those beyond the buffers are read and written in
  DRAM by every sample (DNN+NeuroSim V2.1's order: its Chip.cpp sends each sample's weight
  gradient to DRAM and reads it back to accumulate over the batch). It needs no stored errors.

In both the buffers hold the accumulators first, the kept activations in what remains;
activations that do not fit are written once and read once; gradients that do not fit are written
once and read once by the optimizer. The DRAM's bandwidth and energy per byte come from
:class:`MemorySpec` (HBM2 by default, cited per field); the buffers' bandwidth and the on-chip
network from its ``interconnect`` (:class:`~reram.cost.interconnect.InterconnectSpec`, used in
inference too).

This module imports only :mod:`reram.cost.trace`, :mod:`reram.cost.hardware` and
:mod:`reram.cost.interconnect`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

from reram.cost.hardware import ReramSpec
from reram.cost.interconnect import InterconnectSpec
from reram.cost.trace import Trace

__all__ = ["ACCUMULATIONS", "MemorySpec", "MemoryTraffic", "training_memory"]

#: Orders of the weight-gradient accumulation over a batch (see the module docstring).
ACCUMULATIONS = ("batch-blocked", "per-sample")


@dataclass(frozen=True)
class MemorySpec:
    """On-chip buffers and the DRAM behind them.

    Attributes:
        buffer_bytes_per_tile: buffer capacity of one tile, bytes. Default 64 KB: ISAAC's eDRAM
            tile buffer (Shafiee et al., ISCA 2016, Table 'ISAAC parameters').
        dram_bandwidth_bytes_per_s: DRAM bandwidth, bytes/s. Default 256 GB/s: one HBM2 stack
            (JEDEC JESD235A: 1024-bit interface at 2 Gb/s per pin).
        dram_energy_per_byte_j: DRAM access energy per byte, J. Default 31.2 pJ/B: HBM2's
            3.9 pJ/bit (O'Connor et al., 'Fine-grained DRAM', MICRO 2017; the figure
            DNN+NeuroSim V2.1 uses for HBM2).
        gradient_bytes_per_value: bytes of one weight-gradient accumulator (32-bit, so a batch's
            sum of 8/16-bit products cannot overflow).
        gradient_bits: width of one accumulator in bits when it is not a whole number of bytes,
            the values packed in the buffers and DRAM (a design that keeps a narrower sum: e.g.
            DNN+NeuroSim V2.1's ``outPrecision + ceil(log2(batchSize))`` bits, its Chip.cpp
            ``gradientAccum``). ``None`` (default): ``8 x gradient_bytes_per_value``.
            :attr:`gradient_value_bytes` is what every charge uses.
        master_bytes_per_value: bytes of one full-precision master weight (``update="digital"``).
        accumulation: ``"batch-blocked"`` or ``"per-sample"`` (:data:`ACCUMULATIONS`).
        interconnect: the tile buffers' bandwidth and the on-chip network.
    """

    buffer_bytes_per_tile: int = 64 * 1024
    dram_bandwidth_bytes_per_s: float = 256e9
    dram_energy_per_byte_j: float = 3.9e-12 * 8
    gradient_bytes_per_value: int = 4
    gradient_bits: int | None = None
    master_bytes_per_value: int = 4
    accumulation: str = "batch-blocked"
    interconnect: InterconnectSpec = field(default_factory=InterconnectSpec)

    def __post_init__(self) -> None:
        if self.accumulation not in ACCUMULATIONS:
            raise ValueError(f"MemorySpec.accumulation must be one of {ACCUMULATIONS}, "
                             f"got {self.accumulation!r}")
        if not isinstance(self.interconnect, InterconnectSpec):
            raise TypeError(f"MemorySpec.interconnect must be an InterconnectSpec, "
                            f"got {type(self.interconnect).__name__}")
        for name, least in (("buffer_bytes_per_tile", 0), ("gradient_bytes_per_value", 1),
                            ("master_bytes_per_value", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"MemorySpec.{name} must be an int >= {least}, got {value!r}")
        bits = self.gradient_bits
        if bits is not None and (isinstance(bits, bool) or not isinstance(bits, int) or bits < 1):
            raise ValueError(f"MemorySpec.gradient_bits must be an int >= 1 or None, got {bits!r}")
        for name, bound in (("dram_bandwidth_bytes_per_s", "> 0"), ("dram_energy_per_byte_j", ">= 0")):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value) or value < 0 or (value == 0 and bound == "> 0"):
                raise ValueError(f"MemorySpec.{name} must be a finite number {bound}, got {value!r}")

    @property
    def gradient_value_bytes(self) -> float:
        """Bytes of one weight-gradient accumulator: ``gradient_bits / 8`` when set (packed),
        else ``gradient_bytes_per_value``."""
        if self.gradient_bits is None:
            return float(self.gradient_bytes_per_value)
        return self.gradient_bits / 8


@dataclass(frozen=True)
class MemoryTraffic:
    """A training batch's memory: sizes, DRAM traffic, its time and energy.

    Attributes:
        activation_bytes: inputs of every conv/linear layer kept for the weight gradient.
        gradient_bytes: the batch's weight-gradient accumulators.
        buffer_bytes: on-chip buffer capacity (all tiles).
        dram_bytes: bytes moved to and from DRAM in one batch.
        optimizer_bytes: bytes the optimizer reads and writes (gradients, master weights).
        dram_s: DRAM transfer time (not overlapped with compute), s.
        dram_energy_j: DRAM access energy, J.
    """

    activation_bytes: float
    gradient_bytes: float
    buffer_bytes: float
    dram_bytes: float
    optimizer_bytes: float
    dram_s: float
    dram_energy_j: float

    def summary(self) -> dict[str, float]:
        """``{activation_bytes, gradient_bytes, buffer_bytes, dram_bytes}`` (``Plan.memory``)."""
        return {"activation_bytes": self.activation_bytes, "gradient_bytes": self.gradient_bytes,
                "buffer_bytes": self.buffer_bytes, "dram_bytes": self.dram_bytes}


def training_memory(trace: Trace, units: Sequence[str], specs: Sequence[ReramSpec], batch: int,
                    memory: MemorySpec, tiles: int, *, master_copy: bool = False) -> MemoryTraffic:
    """Sizes and DRAM traffic of one training batch.

    Kept: each crossbar layer's input, ``input_numel x batch x activation_bytes``; accumulated:
    ``weight_count x gradient_value_bytes``. The buffers (``tiles x buffer_bytes_per_tile``)
    hold the accumulators first, the activations in what is left; activations beyond it are
    written to DRAM and read back once. Accumulators beyond the buffers:

    * ``"per-sample"``: read and written in DRAM by every sample (``2 x batch x`` their bytes;
      the optimizer's read of them is the last sample's);
    * ``"batch-blocked"``: written once and read once by the optimizer (``2 x`` their bytes);
      per layer, its batch of output errors beyond the whole buffer is written and read once,
      and with ``blocks = ceil(accumulator bytes / buffer)`` each block after the first re-reads
      the layer's kept inputs and errors (``(blocks - 1) x batch x (input + output) x
      activation_bytes``).

    With a master copy the optimizer also reads and writes every master weight in DRAM.

    Args:
        trace: the model's trace.
        units: the routing (only ``"reram"`` layers keep inputs and gradients here).
        specs: per traced layer, its crossbar spec (activation width).
        batch: samples per batch.
        memory: the buffer and DRAM spec.
        tiles: tiles on the chip.
        master_copy: the update keeps full-precision master weights (``update="digital"``).
    """
    activations = gradients = weights = blocked = 0.0
    buffer = float(tiles * memory.buffer_bytes_per_tile)
    for layer, unit, spec in zip(trace.layers, units, specs):
        if unit != "reram":
            continue
        kept = layer.input_numel * batch * spec.activation_bytes
        accumulators = layer.weight_count * memory.gradient_value_bytes
        activations += kept
        gradients += accumulators
        weights += layer.weight_count
        if memory.accumulation == "batch-blocked" and buffer > 0:
            errors = layer.output_numel * batch * spec.activation_bytes
            blocks = math.ceil(accumulators / buffer)
            blocked += 2.0 * max(0.0, errors - buffer) + (blocks - 1) * (kept + errors)
    gradient_spill = max(0.0, gradients - buffer)
    activation_spill = max(0.0, activations - max(0.0, buffer - gradients))
    master = 2.0 * weights * memory.master_bytes_per_value if master_copy else 0.0
    if memory.accumulation == "per-sample" or buffer == 0:  # no buffer: nothing to block into
        accumulate = 2.0 * batch * gradient_spill
    else:
        accumulate = 2.0 * gradient_spill + blocked
    dram = accumulate + 2.0 * activation_spill + master
    optimizer = gradients + master
    return MemoryTraffic(activation_bytes=activations, gradient_bytes=gradients, buffer_bytes=buffer,
                         dram_bytes=dram, optimizer_bytes=optimizer,
                         dram_s=dram / memory.dram_bandwidth_bytes_per_s,
                         dram_energy_j=dram * memory.dram_energy_per_byte_j)
