"""Buffers and DRAM of a training chip: what a batch keeps, what spills off-chip, what it costs.

A training step keeps every conv/linear layer's input until its weight gradient is computed
(the activations kept for the backward pass) and accumulates the weight gradients of the batch
(one accumulator per weight); the optimizer then reads the gradients (and, with a full-precision
master copy, ``update="digital"``, reads and writes the master weights). The buffers hold the
accumulators first (every sample adds into them: the weight gradient is computed sample by
sample, in the backward pipeline), the kept activations in what remains. Accumulators that do
not fit are read and written in DRAM by every sample; activations that do not fit are written
once and read once. The DRAM's bandwidth and energy per
byte come from :class:`MemorySpec` (HBM2 by default, cited per field).

This module imports only :mod:`reram.cost.trace` and :mod:`reram.cost.hardware`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from reram.cost.hardware import ReramSpec
from reram.cost.trace import Trace

__all__ = ["MemorySpec", "MemoryTraffic", "training_memory"]


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
        master_bytes_per_value: bytes of one full-precision master weight (``update="digital"``).
    """

    buffer_bytes_per_tile: int = 64 * 1024
    dram_bandwidth_bytes_per_s: float = 256e9
    dram_energy_per_byte_j: float = 3.9e-12 * 8
    gradient_bytes_per_value: int = 4
    master_bytes_per_value: int = 4

    def __post_init__(self) -> None:
        for name in ("buffer_bytes_per_tile", "gradient_bytes_per_value", "master_bytes_per_value"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"MemorySpec.{name} must be an int >= 0, got {value!r}")
        for name in ("dram_bandwidth_bytes_per_s", "dram_energy_per_byte_j"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value) or value < 0 or (value == 0 and name.endswith("_s")):
                raise ValueError(f"MemorySpec.{name} must be a finite number > 0, got {value!r}")


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
    ``weight_count x gradient_bytes_per_value``. The buffers (``tiles x buffer_bytes_per_tile``)
    hold the accumulators first: those beyond them are read and written in DRAM by every sample
    (``2 x batch x`` their bytes; the optimizer's read of them is the last sample's); the
    activations beyond what is left are written to DRAM and read back once. With a master copy
    the optimizer also reads and writes every master weight in DRAM.

    Args:
        trace: the model's trace.
        units: the routing (only ``"reram"`` layers keep inputs and gradients here).
        specs: per traced layer, its crossbar spec (activation width).
        batch: samples per batch.
        memory: the buffer and DRAM spec.
        tiles: tiles on the chip.
        master_copy: the update keeps full-precision master weights (``update="digital"``).
    """
    activations = gradients = weights = 0.0
    for layer, unit, spec in zip(trace.layers, units, specs):
        if unit != "reram":
            continue
        activations += layer.input_numel * batch * spec.activation_bytes
        gradients += layer.weight_count * memory.gradient_bytes_per_value
        weights += layer.weight_count
    buffer = float(tiles * memory.buffer_bytes_per_tile)
    gradient_spill = max(0.0, gradients - buffer)
    activation_spill = max(0.0, activations - max(0.0, buffer - gradients))
    master = 2.0 * weights * memory.master_bytes_per_value if master_copy else 0.0
    dram = 2.0 * batch * gradient_spill + 2.0 * activation_spill + master
    optimizer = gradients + master
    return MemoryTraffic(activation_bytes=activations, gradient_bytes=gradients, buffer_bytes=buffer,
                         dram_bytes=dram, optimizer_bytes=optimizer,
                         dram_s=dram / memory.dram_bandwidth_bytes_per_s,
                         dram_energy_j=dram * memory.dram_energy_per_byte_j)
