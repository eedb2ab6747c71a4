"""Measured GPU baselines and the idle policy."""
from __future__ import annotations

import pytest
from torch import nn

from reram.cost.chip import Chip
from reram.cost.gpu import measured_gpu, measured_rate, resnet50, roofline_rate
from reram.cost.hardware import load_gpu
from reram.cost.scheduler import schedule


def test_resnet50_has_torchvisions_parameter_count():
    assert sum(p.numel() for p in resnet50().parameters()) == 25_557_032


@pytest.mark.parametrize("name,precision,published", [("v100", "fp32", 367.0), ("v100", "mixed", 1200.0),
                                                       ("a100", "mixed", 2470.0)])
def test_measured_gpu_reproduces_the_published_rate(name, precision, published):
    assert measured_rate(name, precision) == published
    gpu, sources = measured_gpu(name, precision)
    assert gpu.rate == "measured" and gpu.precision == precision
    assert roofline_rate(gpu) == pytest.approx(published, rel=1e-3)
    assert "DeepLearningExamples" in sources["gpu.rate"]


def test_v100_measured_is_below_its_roofline():
    for precision in ("fp32", "mixed"):
        roof, _ = load_gpu("v100", precision)
        assert roofline_rate(roof) > measured_rate("v100", precision)


def test_gpu_without_measurements_says_so():
    with pytest.raises(ValueError, match="no published measured"):
        measured_gpu("gtx1080", "fp32")


def test_idle_policy_decides_the_gpu_idle_energy():
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                        nn.Flatten(), nn.Linear(8 * 8 * 8, 10))
    chip = Chip.preset("isaac")
    parts = {p: schedule(net, (3, 8, 8), 4, "train", chip=chip.replace(gpu_idle_policy=p))
             for p in ("idle", "off", "shared")}
    idle, off, shared = (parts[p].energy_breakdown["gpu_idle"] for p in ("idle", "off", "shared"))
    assert shared == 0.0 < off < idle
    assert idle == pytest.approx(chip.hardware.gpu.idle_power_w * parts["idle"].latency_s)
    # the GPU-only baseline is busy throughout: the policy does not change it
    assert parts["idle"].gpu_energy_j == parts["shared"].gpu_energy_j
