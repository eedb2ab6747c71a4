"""Tests of ``reram.apps.validate``'s sensitivity sweeps."""
from __future__ import annotations

import pytest

from reram.apps.validate import run_sensitivity
from reram.cost.chip import Chip
from reram.cost.training import TrainingSpec, WeightGradientUnit


def test_idle_power_sweep_keeps_the_chips_training_spec():
    """Every sweep costs the chip it is given: the GPU idle-power sweep at the chip's own idle
    power is the size sweep's largest chip (it rebuilt the chip with the default training spec,
    so a chip with its own dataflow or units was costed as another)."""
    slow = TrainingSpec(unit=WeightGradientUnit(macs_per_tile=4))
    chip = Chip.preset("isaac").replace(training=slow)
    idle = chip.hardware.gpu.idle_power_w
    out = run_sensitivity("vgg11", chip, 8, scales=(2,), bandwidths=(), bn_counts=[],
                          bn_kept=0, idle_powers=(idle,), idle_policies=())
    (size,), (same,) = out["scale"], out["gpu_idle"]
    assert same["crossbars"] == size["crossbars"]
    assert same["speedup"] == pytest.approx(size["speedup"])
    assert same["energy_ratio"] == pytest.approx(size["energy_ratio"])
