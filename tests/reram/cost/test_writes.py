"""Tests of the write model: write-verify pulses, pulse records of pulsed layers, endurance."""
from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch import nn

import reram
from reram.cost.chip import Chip
from reram.cost.scheduler import schedule
from reram.cost.writes import (DEVICE_ENDURANCE, PulseRecord, WriteActivity, WriteModel,
                               array_write_cost, device_endurance, endurance_report, pulse_records,
                               pulses_per_level, random_rewrite_activity, recorded_write_cost)

RERAM = dataclasses.replace(Chip.preset("isaac").hardware.reram, write_latency_s=50e-9,
                            read_latency_s=10e-9, write_energy_per_cell_j=1e-12,
                            crossbar_energy_per_cycle_j=2e-12)


def test_pulses_per_level_follow_neurosims_ceil_rule():
    # 60 device levels over a 5-bit cell's 31 steps: ceil(60 / 31) = 2 pulses a level
    assert pulses_per_level(WriteModel(device_levels=60), 5) == 2
    assert pulses_per_level(WriteModel(device_levels=60), 2) == 20
    assert pulses_per_level(WriteModel(), 2) == 1  # the cell's own levels: one pulse a level


def test_array_write_cost_by_hand():
    model = WriteModel(device_levels=60, verify_read_s=None)
    act = WriteActivity(changed_fraction=0.5, mean_level_change=1.5, row_max_level_change=2.0,
                        set_fraction=0.5)
    cost = array_write_cost(1000, 100, 2, RERAM, model, act, parallel_arrays=4)
    # 500 cells change by 1.5 levels of 20 pulses; rows: 100 x 2 phases x 40 pulse steps
    assert cost.pulses == pytest.approx(500 * 1.5 * 20)
    assert cost.cells_written == pytest.approx(500)
    assert cost.seconds == pytest.approx(100 * 2 * 40 * (50e-9 + 10e-9))
    assert cost.energy_j == pytest.approx(15000 * 1e-12 + 100 * 2 * 40 * 4 * 2e-12)
    one_way = dataclasses.replace(act, set_fraction=1.0)
    assert array_write_cost(1000, 100, 2, RERAM, model, one_way).seconds == pytest.approx(cost.seconds / 2)
    # 200 columns a row, drivers for 128 cells: each row step in two parts
    assert array_write_cost(1000, 100, 2, RERAM, model, act, cols_per_array=200).seconds == \
        pytest.approx(2 * cost.seconds)
    nothing = WriteActivity(changed_fraction=0.0)
    assert array_write_cost(1000, 100, 2, RERAM, model, nothing).seconds == 0.0


def test_random_rewrite_of_two_bit_cells():
    act = random_rewrite_activity(2)  # 4 levels: changes with p = 3/4, E|d| = 15 / 12 overall
    assert act.changed_fraction == pytest.approx(0.75)
    assert act.changed_fraction * act.mean_level_change == pytest.approx(15 / 12)
    assert act.row_max_level_change == 3.0


def test_recorded_cost_uses_the_per_update_counts():
    record = PulseRecord(updates=4, set_pulses=400, reset_pulses=200, cells_written=300,
                         row_steps=80)
    cost = recorded_write_cost(record, row_blocks=2, reram=RERAM, model=WriteModel(verify_read_s=0.0))
    assert cost.pulses == pytest.approx(150) and cost.cells_written == pytest.approx(75)
    assert cost.seconds == pytest.approx(80 / 4 / 2 * 50e-9)  # row blocks written in parallel
    assert cost.energy_j == pytest.approx(150 * 1e-12)
    with pytest.raises(ValueError, match="5 counts"):
        PulseRecord.from_values([1, 2, 3])


def test_recorded_verify_reads_every_array_a_row_spans():
    """A verified row step reads the row in every array it spans (column blocks, slices, signs,
    groups), as the write model's path charges one read per array per row step; the record
    path once charged one array per row step whatever the layer's width."""
    from reram.cost.layer_cost import crossbar_update_cost, map_layer
    from reram.cost.trace import LayerTrace

    record = PulseRecord(updates=2, set_pulses=0, reset_pulses=0, cells_written=0, row_steps=40)
    model = WriteModel()  # verify reads on
    read = RERAM.crossbar_energy_per_cycle_j
    assert recorded_write_cost(record, 1, RERAM, model).energy_j == pytest.approx(20 * read)
    assert recorded_write_cost(record, 1, RERAM, model, arrays_per_row=6).energy_j == \
        pytest.approx(20 * 6 * read)
    wide = LayerTrace(name="l", kind="linear", module_type="Linear", input_shape=(300,),
                      output_shape=(300,), in_channels=300, out_channels=300)
    mapping = map_layer(wide, RERAM)
    spans = mapping.crossbars // mapping.row_blocks
    assert spans >= mapping.col_blocks * RERAM.slices and spans > 1  # (x2 with a G+/G- pair)
    cost = crossbar_update_cost(wide, RERAM, writes=model, record=record)
    assert cost.energy_j == pytest.approx(20 * spans * read)
    with pytest.raises(ValueError, match="arrays_per_row"):
        recorded_write_cost(record, 1, RERAM, model, arrays_per_row=0)


def test_recorded_update_of_a_grouped_layer_and_narrow_drivers():
    """A record counts the pulse steps over one group's fan-in (the simulated weight is ``out x
    in/groups x kh x kw``); the groups sit on arrays of their own, written in parallel, so a
    depthwise conv takes as long as one group (it was divided by the groups). Write drivers
    narrower than a row split each step, as in the write model (the record path ignored them)."""
    from reram.cost.layer_cost import crossbar_update_cost
    from reram.cost.trace import LayerTrace

    def conv(groups):
        return LayerTrace(name="c", kind="conv", module_type="Conv2d", input_shape=(8, 8, 8),
                          output_shape=(8, 8, 8), in_channels=8, out_channels=8,
                          kernel_size=(3, 3), groups=groups)

    record = PulseRecord(updates=1, set_pulses=72, reset_pulses=72, cells_written=72,
                         row_steps=18)  # 9 rows, one SET and one RESET step each
    model = WriteModel(verify_read_s=0.0)
    step = RERAM.write_latency_s
    depthwise = crossbar_update_cost(conv(8), RERAM, writes=model, record=record)
    assert depthwise.batch_s == pytest.approx(18 * step)
    narrow = dataclasses.replace(RERAM, cells_written_per_step=32)
    wide = LayerTrace(name="l", kind="linear", module_type="Linear", input_shape=(9,),
                      output_shape=(100,), in_channels=9, out_channels=100)
    assert crossbar_update_cost(wide, narrow, writes=model, record=record).batch_s == \
        pytest.approx(18 * 4 * step)  # 100 columns, 32 drivers: 4 parts a step
    assert recorded_write_cost(record, 1, narrow, model, cols_per_array=100).seconds == \
        pytest.approx(18 * 4 * step)


def test_endurance_report_and_presets():
    assert set(reram.config.DEVICE_NAMES) <= set(DEVICE_ENDURANCE)
    cycles, source = device_endurance(None)
    assert cycles == 1e6 and "Huang" in source
    report = endurance_report({"weights": (2.0, 100.0), "errors": (1.25, 50_000.0)}, "epiram", 50_000)
    assert report["arrays"]["weights"]["writes_per_cell_per_epoch"] == 200.0
    assert report["arrays"]["weights"]["epochs_to_wear_out"] == pytest.approx(1e6 / 200)
    assert report["arrays"]["errors"]["epochs_to_wear_out"] == pytest.approx(1e6 / 62_500)
    assert math.isinf(endurance_report({"weights": (0.0, 10.0)}, None, 10)["arrays"]["weights"]
                      ["epochs_to_wear_out"])
    with pytest.raises(ValueError, match="device must be one of"):
        device_endurance("flash")


def test_bad_write_settings():
    with pytest.raises(ValueError, match="changed_fraction"):
        WriteActivity(changed_fraction=1.5)
    with pytest.raises(ValueError, match="device_levels"):
        WriteModel(device_levels=0)
    with pytest.raises(ValueError, match="verify_read_s"):
        WriteModel(verify_read_s=-1.0)


def _pulsed_net():
    cfg = reram.CrossbarConfig(tile_size=32, weight_bits=6, cell_bits=2, input_bits=6, adc_bits=8,
                               update="pulsed", device="epiram", seed=0)
    torch.manual_seed(0)
    return reram.convert(nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 4)), cfg)


def _train(net, steps):
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    x, y = torch.randn(8, 20), torch.randint(0, 4, (8,))
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
        for module in net.modules():
            if hasattr(module, "pulse_record"):
                module.program()


def test_pulsed_layers_record_the_pulses_the_cost_model_charges():
    net = _pulsed_net()
    before = schedule(net, (20,), 8, "train")
    assert before.pulses_from == "write_model" and pulse_records(net) == {}
    _train(net, 3)
    records = pulse_records(net)
    assert set(records) == {"0", "2"}
    first = net[0].pulse_record()
    assert first["updates"] == 3 and first["set_pulses"] + first["reset_pulses"] > 0
    assert first["cells_written"] <= 3 * 16 * 20
    assert records["0"] == PulseRecord(**first)
    plan = schedule(net, (20,), 8, "train")
    assert plan.pulses_from == "simulation"
    assert plan.endurance["device"] == "epiram"
    # the weights' writes per cell per epoch are the recorded pulses per device per update
    per_update = max((r.set_pulses + r.reset_pulses) / r.updates / n
                     for r, n in ((records["0"], 320), (records["2"], 64)))
    expected = per_update * 50_000 / 8
    assert plan.endurance["arrays"]["weights"]["writes_per_cell_per_epoch"] == pytest.approx(expected)
    # more pulses, more write energy: the cost model reads what the simulation fired
    doubled = {k: dataclasses.replace(r, set_pulses=2 * r.set_pulses, reset_pulses=2 * r.reset_pulses)
               for k, r in records.items()}
    more = schedule(net, (20,), 8, "train", pulse_records=doubled)
    assert more.energy_breakdown["writes"] > plan.energy_breakdown["writes"]
    # the record is not part of a checkpoint (the state_dict keys are unchanged)
    assert not any("pulse_record" in key for key in net.state_dict())
