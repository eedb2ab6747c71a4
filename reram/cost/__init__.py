"""The cost model: how long a model takes, and how much energy, on a ReRAM + GPU chip.

- :mod:`~reram.cost.trace`: layer shapes of a model (one forward pass on a tiny batch).
- :mod:`~reram.cost.hardware`: silicon specs (crossbars, GPU, link) loaded from the JSON files in
  ``specs/`` (GPU baselines as ``specs/gpu_*.json``), each number with its source.
- :mod:`~reram.cost.chip`: :class:`Chip`, a crossbar config plus the silicon (one chip, both
  halves; named presets).
- :mod:`~reram.cost.layer_cost`: latency and energy of one layer's phase on one unit.
- :mod:`~reram.cost.training`: the weight-gradient dataflow (digital unit or in-array) and
  :class:`TrainingSpec` (``Chip.training``).
- :mod:`~reram.cost.memory`: buffers and DRAM of a training batch.
- :mod:`~reram.cost.writes`: write-verify pulses, the pulses a pulsed layer fired, endurance.
- :mod:`~reram.cost.scheduler`: routing, replication and pipelining into a :class:`Plan`.
- :mod:`~reram.cost.gpu_profile`: the measured GPU baseline (torch profiler).

Reads layer shapes and :class:`reram.config.CrossbarConfig`; never imports the simulation
(:mod:`reram.sim`) or the applications.
"""
from __future__ import annotations

from reram.cost.chip import Chip, available_chips
from reram.cost.hardware import HardwareSpec, load_hardware
from reram.cost.scheduler import LayerCost, Plan, schedule
from reram.cost.trace import Trace, trace_model
from reram.cost.training import TrainingSpec

__all__ = ["schedule", "Plan", "LayerCost", "HardwareSpec", "load_hardware", "Trace", "trace_model",
           "Chip", "available_chips", "TrainingSpec"]
