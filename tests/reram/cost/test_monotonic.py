"""Properties a sized chip must keep: more area never slower, slower writes never faster, more
ADC bits never cheaper (the last one in test_silicon.py)."""
from __future__ import annotations

import pytest

import reram.models as zoo
from reram.cost.chip import Chip
from reram.cost.scheduler import schedule
from reram.cost.trace import trace_model


@pytest.fixture(scope="module")
def vgg11_trace():
    return trace_model(zoo.build_model("vgg11", bn_mask="0" * 8), (3, 32, 32))


def test_more_area_never_slower(vgg11_trace):
    chip = Chip.preset("isaac")
    latencies = []
    for area in (60.0, 85.4, 120.0, 170.8, 250.0, 341.6, 500.0):
        try:
            plan = schedule(vgg11_trace, batch_size=16, chip=chip.at_area(area))
        except ValueError as err:  # too small to hold the model
            assert "crossbars" in str(err)
            continue
        latencies.append(plan.latency_s)
    assert len(latencies) >= 4
    assert all(b <= a * (1 + 1e-12) for a, b in zip(latencies, latencies[1:]))


def test_slower_writes_never_faster(vgg11_trace):
    chip = Chip.preset("isaac").replace(tiles=300)
    latencies = []
    for write_s in (1e-8, 2e-8, 5e-8, 1e-7, 3e-7, 1e-6):
        hw = chip.hardware.replace(**{"reram.write_latency_s": write_s})
        latencies.append(schedule(vgg11_trace, batch_size=16, chip=Chip(chip.config, hw)).latency_s)
    assert all(b >= a for a, b in zip(latencies, latencies[1:]))
