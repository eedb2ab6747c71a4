"""The NeuroSim cross-check script's own steps, without NeuroSim (a synthetic breakdown CSV)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "crosscheck_neurosim.py"


@pytest.fixture(scope="module")
def crosscheck():
    spec = importlib.util.spec_from_file_location("crosscheck_neurosim", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_vgg8_trace_counts_valid_positions(crosscheck):
    trace = crosscheck.vgg8_trace()
    compute = [l for l in trace.layers if l.kind in ("conv", "linear")]
    assert len(compute) == 8
    assert compute[0].mvms_per_sample == 30 * 30 and compute[5].mvms_per_sample == 6 * 6
    assert compute[6].weight_rows == 8192 and compute[7].weight_cols == 10


def test_level_stats_by_hand(crosscheck):
    step = 2.0 ** -7  # 8-bit weights
    old = np.zeros((2, 3))
    new = np.array([[step, 0, -2 * step], [0, 0, 0]])
    stats = crosscheck.level_stats([old], [new], 8)
    assert stats["changed_fraction"] == pytest.approx(2 / 6)
    assert stats["mean_levels_per_changed_cell"] == pytest.approx(1.5)
    assert stats["row_max_levels"] == pytest.approx((2 + 0) / 2)


def test_parse_breakdown_and_compare(crosscheck, tmp_path):
    totals = [1.0, 2.0, 3.0, 4.0, 10.0, 20.0, 30.0, 40.0] + [0.0] * 8
    tail = [0.1, 0.2, 0.3, 5.0, 6.0, 0.7, 0.8, 0.9, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8]
    text = ("Total Area(m^2),x\n1e-4,2e-6,3e-5,4e-5,5e-6,6e-6,7e-6\n\n"
            "Total," + ",".join(map(str, totals)) + ",, ," + ",".join(map(str, tail)) + "\n")
    path = tmp_path / "breakdown.csv"
    path.write_text(text)
    ns = crosscheck.parse_breakdown(path, iterations=10)
    assert ns["latency_forward_s"] == pytest.approx(0.1)
    assert ns["energy_weight_update_j"] == pytest.approx(4.0)
    assert ns["latency_compute_fw_ig_s"] == pytest.approx(0.06)
    assert ns["energy_dram_j"] == pytest.approx(0.18)
    assert ns["latency_total_s"] == pytest.approx(1.0) and ns["energy_total_j"] == pytest.approx(10.0)
    assert ns["area_weight_gradient_m2"] == 7e-6
    rows = crosscheck.compare(ns, {"latency_forward_s": 0.2})
    first = next(r for r in rows if r["key"] == "latency_forward_s")
    assert first["ratio"] == pytest.approx(2.0)
    assert "| forward latency |" in crosscheck.table(rows)


def test_model_side_on_a_chip_set_to_neurosims_configuration(crosscheck):
    params = {"numRowSubArray": 128, "cellBit": 5, "levelOutput": 64, "maxNumLevelLTP": 60,
              "maxNumLevelLTD": 60}
    changes = {"changed_fraction": 0.6, "mean_levels_per_changed_cell": 1.2, "row_max_levels": 3.0}
    chip = crosscheck.neurosim_chip(params, changes, weight_bits=8, input_bits=8)
    assert (chip.config.cell_bits, chip.config.adc_bits, chip.config.tile_size) == (5, 6, 128)
    assert chip.training.writes.device_levels == 60 and chip.training.writes.verify_read_s == 0.0
    ours = crosscheck.model_figures(chip, 4)
    assert ours["latency_input_gradient_s"] > 0 and ours["energy_weight_update_j"] > 0
    assert ours["energy_total_j"] >= ours["energy_forward_j"] + ours["energy_input_gradient_j"]
