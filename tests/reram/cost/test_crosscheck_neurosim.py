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
    # 19 components besides the totals; only forward latency has a model figure here (2x: in)
    assert crosscheck.summary(rows) == {"within_2x": 1, "components": 19,
                                        "total_latency_ratio": 0.0, "total_energy_ratio": 0.0}


def test_model_side_on_a_chip_set_to_neurosims_configuration(crosscheck):
    params = {"numRowSubArray": 128, "cellBit": 5, "levelOutput": 64, "maxNumLevelLTP": 60,
              "maxNumLevelLTD": 60}
    changes = {"changed_fraction": 0.6, "mean_levels_per_changed_cell": 1.2, "row_max_levels": 3.0}
    chip = crosscheck.neurosim_chip(params, changes, weight_bits=8, input_bits=8)
    reram = chip.reram_for(None)
    assert (reram.cell_bits, reram.adc_bits, reram.crossbar_rows) == (5, 6, 128)
    assert chip.training.writes.device_levels == 60 and chip.training.writes.verify_read_s == 0.0
    # NeuroSim's mapping: 8-bit weights offset-encoded over 2 five-bit cells of one array, every
    # vector in 8 one-bit cycles
    assert chip.config is None and (reram.differential_weights, reram.signed_input_phases) == (False, False)
    assert (reram.slices, reram.signs, reram.mvm_cycles(signed=True)) == (2, 1, 8)
    # a weight's change lands on one of its 2 cells
    assert chip.training.writes.activity.changed_fraction == pytest.approx(0.6 / 2)
    pair = crosscheck.neurosim_chip(params, changes, weight_bits=8, input_bits=8, encoding="differential")
    assert (pair.config.cell_bits, pair.config.adc_bits, pair.config.tile_size) == (5, 6, 128)
    assert pair.reram_for(None).differential_weights and pair.reram_for(None).mvm_cycles(signed=True) == 14
    assert pair.training.writes.activity.changed_fraction == pytest.approx(0.6 / 4)
    with pytest.raises(ValueError, match="encoding"):
        crosscheck.neurosim_chip(params, changes, weight_bits=8, input_bits=8, encoding="pairs")
    ours = crosscheck.model_figures(chip, 4)
    assert ours["latency_input_gradient_s"] > 0 and ours["energy_weight_update_j"] > 0
    assert ours["energy_total_j"] >= ours["energy_forward_j"] + ours["energy_input_gradient_j"]


def test_model_side_charges_buffer_and_interconnect(crosscheck):
    params = {"numRowSubArray": 128, "cellBit": 5, "levelOutput": 64, "maxNumLevelLTP": 60,
              "maxNumLevelLTD": 60}
    changes = {"changed_fraction": 0.6, "mean_levels_per_changed_cell": 1.2, "row_max_levels": 3.0}
    chip = crosscheck.neurosim_chip(params, changes, weight_bits=8, input_bits=8)
    # NeuroSim's dataflow, configured: per-sample accumulation, transfers added to compute
    assert chip.training.memory.accumulation == "per-sample"
    assert chip.training.memory.interconnect.overlap is False
    ours = crosscheck.model_figures(chip, 4)
    assert ours["latency_buffer_s"] > 0 and ours["latency_interconnect_s"] > 0
    assert ours["energy_interconnect_j"] == pytest.approx(
        ours["plan"]["energy_breakdown"]["interconnect"])
    # not overlapped: forward + input gradient = compute + their buffer and network time
    moved = ours["latency_forward_s"] + ours["latency_input_gradient_s"] - ours["latency_compute_fw_ig_s"]
    assert 0 < moved <= ours["latency_buffer_s"] + ours["latency_interconnect_s"]
    blocked = crosscheck.neurosim_chip(params, changes, weight_bits=8, input_bits=8,
                                       accumulation="batch-blocked", overlap=True)
    mine = crosscheck.model_figures(blocked, 4)
    assert mine["energy_dram_j"] < ours["energy_dram_j"]


def test_neurosim_output_option_parses_a_past_run(crosscheck, tmp_path):
    ns = tmp_path / "NeuroSIM"
    (ns / "NeuroSim_Results_Each_Epoch").mkdir(parents=True)
    values = {"numRowSubArray": 128, "numColSubArray": 128, "cellBit": 5, "levelOutput": 64,
              "numColMuxed": 8, "clkFreq": 1e9, "technode": 32, "readPulseWidth": 10e-9,
              "writePulseWidth": 50e-9, "writeVoltage": 4, "resistanceOn": 240e3,
              "maxNumLevelLTP": 60, "maxNumLevelLTD": 60, "batchSize": 2, "numIteration": 10,
              "dramType": 2, "levelOutputWG": 16, "numRowSubArrayWG": 128}
    (ns / "Param.cpp").write_text("".join(f"\t{k} = {v};  // x\n" for k, v in values.items()))
    totals = [1.0, 2.0, 3.0, 4.0, 10.0, 20.0, 30.0, 40.0] + [0.0] * 8
    tail = [0.1, 0.2, 0.3, 5.0, 6.0, 0.7, 0.8, 0.9, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8]
    csv = ns / "NeuroSim_Results_Each_Epoch" / "NeuroSim_Breakdown_Epock_0.csv"
    csv.write_text("Total Area(m^2),x\n1e-4,2e-6,3e-5,4e-5,5e-6,6e-6,7e-6\n\n"
                   "Total," + ",".join(map(str, totals)) + ",, ," + ",".join(map(str, tail)) + "\n")
    traces = tmp_path / "traces"
    traces.mkdir()
    info = {"args": [], "level_changes": {"changed_fraction": 0.5,
                                          "mean_levels_per_changed_cell": 1.0, "row_max_levels": 2.0}}
    (traces / "info.json").write_text(__import__("json").dumps(info))
    out = tmp_path / "result.json"
    assert crosscheck.main(["--neurosim-output", str(csv), "--out", str(out)]) == 0
    result = __import__("json").loads(out.read_text())
    assert result["batch_size"] == 2 and result["model_settings"]["accumulation"] == "per-sample"
    names = [c["name"] for c in result["components"]]
    assert "interconnect energy" in names and "buffer latency (all phases)" in names
    first = next(c for c in result["components"] if c["name"] == "forward latency")
    assert first["neurosim"] == pytest.approx(0.1)
    assert result["model_settings"]["encoding"] == "offset"
    assert result["summary"]["components"] == 19
    assert result["differential_encoding"]["summary"]["components"] == 19
    assert result["model_settings"]["wire"]["wire_energy_per_bit_hop_j"] > 0
    assert result["differential_encoding"]["settings"]["encoding"] == "differential"
    assert result["our_defaults"]["settings"] == {"encoding": "differential",
                                                  "accumulation": "batch-blocked", "overlap": True,
                                                  "architecture": "ours"}
    assert result["model_settings"]["architecture"]["topology"] == "htree"
    with pytest.raises(SystemExit):
        crosscheck.main(["--neurosim-output", str(tmp_path / "missing.csv")])


def test_recompare_from_the_committed_neurosim_output(crosscheck, tmp_path):
    """The committed result re-derived from the committed NeuroSim breakdown, no NeuroSim run:
    NeuroSim's side is the committed one, figure for figure."""
    import json

    committed = json.loads(crosscheck.RESULT.read_text())
    assert committed["neurosim_breakdown"] == crosscheck.NEUROSIM_CSV.name
    out = tmp_path / "again.json"
    assert crosscheck.main(["--recompare", "--out", str(out)]) == 0
    again = json.loads(out.read_text())
    assert [c["name"] for c in again["components"]] == [c["name"] for c in committed["components"]]
    for new, old in zip(again["components"], committed["components"]):
        assert new["neurosim"] == pytest.approx(old["neurosim"])
        assert new["model"] > 0
    with pytest.raises(SystemExit):
        crosscheck.main(["--recompare", "--neurosim-dir", str(tmp_path)])


def test_chip_takes_neurosims_architecture(crosscheck):
    params = {"numRowSubArray": 128, "cellBit": 5, "levelOutput": 64, "maxNumLevelLTP": 60,
              "maxNumLevelLTD": 60}
    changes = {"changed_fraction": 0.6, "mean_levels_per_changed_cell": 1.2, "row_max_levels": 3.0}
    # WeightGradientUnit.cpp: log2(16) + 8 + ceil(log2(floor(900 / 128))) = 15 bits a sample;
    # Chip.cpp's gradientAccum adds ceil(log2(200)) = 8 for the batch
    assert crosscheck.neurosim_accumulator_bits({"levelOutputWG": 16, "numRowSubArrayWG": 128,
                                                 "batchSize": 200}, 8) == 23
    assert crosscheck.neurosim_accumulator_bits({"levelOutputWG": 16, "numRowSubArrayWG": 128,
                                                 "batchSize": 64}, 8) == 21
    chip = crosscheck.neurosim_chip(params, changes, weight_bits=8, input_bits=8)
    reram = chip.reram_for(None)
    from reram.cost.layer_cost import map_layer
    layers = [l for l in crosscheck.vgg8_trace().layers if l.kind in ("conv", "linear")]
    needed = sum(-(-map_layer(l, reram).crossbars // reram.crossbars_per_tile) for l in layers)
    assert reram.tiles == needed < 168  # floorplanned to the network, no spare tiles
    memory = chip.training.memory
    assert memory.interconnect.topology == "htree" and memory.gradient_bits == 23
    # its buffer hierarchy and chip-level activation block, from its floorplan's facts: 64- and
    # 32-bit register-file lines a tile, a 6,048-bit global bus over its 25 tiles, 192 ReLU
    # units, 20-bit partial sums, one line or element a 1 GHz cycle
    net = memory.interconnect
    assert (net.buffer_bytes_per_s_per_tile, net.output_buffer_bytes_per_s_per_tile) == (8e9, 4e9)
    assert net.global_buffer_bytes_per_s_per_tile == pytest.approx(6048 / 8 * 1e9 / 25)
    assert (net.activation_site, net.activation_ops_per_s, net.partial_sum_bits) == ("chip", 192e9, 20)
    assert net.unrolled_inputs  # its global buffer sends the tiles unrolled inputs
    # its buffers are register files: a sixth of the preset's eDRAM energy a byte (Eyeriss)
    preset = crosscheck.neurosim_chip(params, changes, weight_bits=8, input_bits=8,
                                      architecture="ours")
    assert reram.buffer_energy_per_byte_j == pytest.approx(
        preset.reram_for(None).buffer_energy_per_byte_j / 6)
    network = chip.costed_training().memory.interconnect
    assert network.router_spacing_mm == pytest.approx(
        (chip.area_mm2() - sum(c.area_mm2 for c in chip.components() if c.name == "link_phy")) ** 0.5)
    ours = crosscheck.neurosim_chip(params, changes, weight_bits=8, input_bits=8,
                                    encoding="differential", accumulation="batch-blocked",
                                    overlap=True, architecture="ours")
    assert ours.reram_for(None).tiles == 168 and ours.training.memory.interconnect.topology == "mesh"
    assert ours.training.memory.gradient_value_bytes == 4.0
    with pytest.raises(ValueError, match="architecture"):
        crosscheck.neurosim_chip(params, changes, weight_bits=8, input_bits=8, architecture="isaac")


def test_backward_counted_as_forward_is_a_diagnostic_that_restores_the_model(crosscheck):
    from reram.cost import interconnect
    from reram.cost.layer_cost import map_layer

    conv = crosscheck.vgg8_trace().layers[2]  # conv1: 1152 rows, 128 columns, 900 positions
    params = {"numRowSubArray": 128, "cellBit": 5, "levelOutput": 64, "maxNumLevelLTP": 60,
              "maxNumLevelLTD": 60}
    changes = {"changed_fraction": 0.6, "mean_levels_per_changed_cell": 1.2, "row_max_levels": 3.0}
    chip = crosscheck.neurosim_chip(params, changes, weight_bits=8, input_bits=8)
    net, reram = chip.training.memory.interconnect, chip.reram_for(None)
    assert map_layer(conv, reram).rows == 1152
    real = interconnect.layer_traffic(conv, reram, net, "backward")
    with crosscheck.backward_counted_as_forward():
        counted = interconnect.layer_traffic(conv, reram, net, "backward")
        assert counted == interconnect.layer_traffic(conv, reram, net, "forward")
        # the first layer still has no input gradient
        assert interconnect.layer_traffic(conv, reram, net, "backward",
                                          needs_input_grad=False).partial == 0.0
    assert interconnect.layer_traffic(conv, reram, net, "backward") == real
    # the transposed read's 1152 values a position, 20-bit sums, against the forward's 128
    assert real.output_buffer > counted.output_buffer


def test_neurosim_weight_gradient_capacity_by_hand(crosscheck):
    """Chip.cpp's speed-ups for VGG-8 on its 7 x 8 arrays of 128 x 128, against the passes the
    unit's capacity needs (each layer's 8-bit activations over the columns, positions on rows)."""
    layers = crosscheck.neurosim_wg_capacity()
    # layer 1: 900 positions need 8 arrays of rows (7 there: 2 passes), 3 x 8 bits 1 of columns
    # (8 copies): charged 1/8 of a pass, needs 2/8
    assert layers[0]["arrays_needed"] == [8, 1] and layers[0]["speedup_charged"] == 8
    assert layers[0]["time_factor"] == 2.0
    # layer 4: 196 positions (2 arrays, 3 copies), 256 x 8 bits (16 arrays of 8: 2 passes, where
    # Chip.cpp's floor(8 / 16) = 0 is set to 1)
    assert layers[3]["arrays_needed"] == [2, 16] and layers[3]["speedup_charged"] == 3
    assert layers[3]["time_factor"] == 2.0
    # layer 7, fully connected: charged 7 x floor(8192 x 8 / 128) = 3584 arrays' speed-up; 64
    # passes of the 8 column arrays, 7 copies
    assert layers[6]["fully_connected"] and layers[6]["speedup_charged"] == 3584
    assert layers[6]["time_factor"] == pytest.approx(64 / 7 * 3584)
    assert [l["time_factor"] for l in layers][:6] == [2.0, 2.0, 1.0, 2.0, 2.0, 4.0]


def test_neurosim_corrections_from_the_committed_breakdown(crosscheck):
    layers = crosscheck.parse_layers(crosscheck.NEUROSIM_CSV, 250)
    ns = crosscheck.parse_breakdown(crosscheck.NEUROSIM_CSV, 250)
    assert len(layers) == 8
    assert sum(l["latency_weight_gradient_unit_s"] for l in layers) == pytest.approx(
        ns["latency_weight_gradient_unit_s"], rel=1e-5)  # the CSV's total row is rounded
    fixed = crosscheck.wg_capacity_correction(crosscheck.NEUROSIM_CSV, 250)
    assert fixed["reported_s"] < fixed["convolutions_corrected_s"] < fixed["all_corrected_s"]
    # the unit apart from its adder bank: the split sums to the committed area
    assert ns["area_weight_gradient_with_accumulator_m2"] == pytest.approx(1.00204e-5)
    assert ns["area_weight_gradient_m2"] == crosscheck.NEUROSIM_WG_AREA_SPLIT["unit_m2"]
    assert not crosscheck._split_applies(2e-5)
