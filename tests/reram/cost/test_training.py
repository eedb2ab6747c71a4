"""Tests of training's cost: the weight-gradient dataflows, buffers and DRAM, and the acceptance
checks on VGG16 (CIFAR size, batch 64) on the ISAAC chip."""
from __future__ import annotations

import dataclasses

import pytest
from torch import nn

from reram.cost.chip import Chip
from reram.cost.layer_cost import map_layer
from reram.cost.memory import MemorySpec, training_memory
from reram.cost.scheduler import route, schedule
from reram.cost.trace import trace_model
from reram.cost.training import (TrainingSpec, WeightGradientUnit, error_mapping,
                                 training_crossbars, weight_gradient_cost)

CHIP = Chip.preset("isaac")
RERAM = CHIP.reram_for(None)
IN_ARRAY = CHIP.replace(training=TrainingSpec(weight_gradient="in-array"))


def one(net, shape):
    return trace_model(net, shape).layers[0]


def test_error_arrays_of_a_conv_by_hand():
    conv = one(nn.Conv2d(16, 40, 3, padding=1), (16, 8, 8))
    errors = error_mapping(conv, RERAM)
    # 64 positions x 40 outputs; 16-bit errors: 15 magnitude bits over 8 two-bit slices, a pair
    assert (errors.rows, errors.cols, errors.row_blocks, errors.col_blocks, errors.slices) == (
        64, 40, 1, 1, 8)
    assert errors.crossbars == 16 and errors.cells == 64 * 40 * 16
    weights = map_layer(conv, RERAM).crossbars  # 144 rows -> 2 row blocks x 16
    assert training_crossbars(conv, RERAM, TrainingSpec()) == weights == 32
    assert training_crossbars(conv, RERAM, TrainingSpec(weight_gradient="in-array")) == 48


def test_digital_weight_gradient_by_hand():
    conv = one(nn.Conv2d(16, 40, 3, padding=1), (16, 8, 8))
    spec = TrainingSpec(unit=WeightGradientUnit(macs_per_tile=64, clock_hz=1e9))
    cost = weight_gradient_cost(conv, RERAM, spec, 4, tiles=2)
    macs = 144 * 40 * 64
    assert cost.per_sample_s == pytest.approx(macs / (2 * 64 * 1e9))
    assert cost.batch_s == pytest.approx(4 * cost.per_sample_s)
    mac_j = 0.2e-12 * 4 + 0.1e-12  # 16-bit operands
    assert cost.parts["weight_gradient"] == pytest.approx(4 * macs * mac_j)
    # buffers: the input patches and errors per sample, the accumulators once a batch
    operands = (144 + 40) * 64 * 2 * 4
    accumulators = 144 * 40 * 4
    assert cost.parts["buffer"] == pytest.approx((operands + accumulators) * 5.4e-13)


def test_in_array_weight_gradient_by_hand():
    lin = one(nn.Linear(64, 32), (64,))
    spec = TrainingSpec(weight_gradient="in-array")
    cost = weight_gradient_cost(lin, RERAM, spec, 2, replicas=1)
    # one sample's 32 errors are one row of 16 error arrays: written in a SET and a RESET
    # phase of (4 levels - 1) = 3 pulses each, 150 ns a pulse step; then 64 MVMs (one per input
    # row) of 15 cycles of 100 ns through them
    write_s = 1 * 2 * 3 * (50e-9 + 100e-9)
    assert cost.per_sample_s == pytest.approx(write_s + 64 * 15 * 100e-9)
    assert cost.parts["gradient_writes"] > 0 and "weight_gradient" not in cost.parts
    halved = weight_gradient_cost(lin, RERAM, spec, 2, replicas=2)
    assert halved.per_sample_s == pytest.approx(cost.per_sample_s / 2)
    with pytest.raises(ValueError, match="tiles"):
        weight_gradient_cost(lin, RERAM, spec, 2, tiles=0)


def test_training_memory_by_hand():
    net = nn.Sequential(nn.Linear(100, 50), nn.ReLU(), nn.Linear(50, 10))
    trace = trace_model(net, (100,))
    units = route(trace)
    specs = [RERAM] * len(trace.layers)
    mem = MemorySpec(buffer_bytes_per_tile=1000, dram_bandwidth_bytes_per_s=1e9,
                     dram_energy_per_byte_j=1e-11, accumulation="per-sample")
    traffic = training_memory(trace, units, specs, 8, mem, tiles=10)
    assert traffic.activation_bytes == (100 + 50) * 8 * 2
    assert traffic.gradient_bytes == (5000 + 500) * 4
    assert traffic.buffer_bytes == 10_000
    # 22,000 B of accumulators over a 10,000 B buffer: 12,000 B read and written by each of the
    # 8 samples; no room left for the 2,400 B of activations: written and read once
    dram = 2 * 8 * 12_000 + 2 * 2400
    assert traffic.dram_bytes == dram
    assert traffic.dram_s == pytest.approx(dram / 1e9)
    assert traffic.dram_energy_j == pytest.approx(dram * 1e-11)
    master = training_memory(trace, units, specs, 8, mem, tiles=10, master_copy=True)
    assert master.dram_bytes == dram + 2 * 5500 * 4
    # 23,000 B of buffer: the accumulators fit, 1,000 B left for activations
    some = training_memory(trace, units, specs, 8, mem, tiles=23)
    assert some.dram_bytes == 2 * (2400 - 1000)
    roomy = training_memory(trace, units, specs, 8, mem, tiles=100)
    assert roomy.dram_bytes == 0 and roomy.summary()["dram_bytes"] == 0
    with pytest.raises(ValueError, match="buffer_bytes_per_tile"):
        MemorySpec(buffer_bytes_per_tile=-1)


def test_batch_blocked_accumulation_by_hand():
    net = nn.Sequential(nn.Linear(100, 50), nn.ReLU(), nn.Linear(50, 10))
    trace = trace_model(net, (100,))
    units = route(trace)
    specs = [RERAM] * len(trace.layers)
    mem = MemorySpec(buffer_bytes_per_tile=1000, dram_bandwidth_bytes_per_s=1e9,
                     dram_energy_per_byte_j=1e-11)
    assert mem.accumulation == "batch-blocked"
    traffic = training_memory(trace, units, specs, 8, mem, tiles=10)
    # 22,000 B of accumulators over a 10,000 B buffer: written once and read once by the optimizer
    # (not by every sample); the first layer's 20,000 B of accumulators take 2 blocks, so its
    # kept inputs (100 x 8 x 2 B) and errors (50 x 8 x 2 B) are read a second time; the second
    # layer's 2,000 B fit in one block; the 2,400 B of activations spill, written and read once
    dram = 2 * 12_000 + (100 + 50) * 8 * 2 + 2 * 2400
    assert traffic.dram_bytes == dram
    per_sample = training_memory(trace, units, specs, 8,
                                 dataclasses.replace(mem, accumulation="per-sample"), tiles=10)
    assert per_sample.dram_bytes == 2 * 8 * 12_000 + 2 * 2400 > dram
    # errors beyond the whole buffer go to DRAM and back: a 1-tile chip (1,000 B) with a batch
    # whose first-layer errors (50 x 64 x 2 = 6,400 B) do not fit
    small = training_memory(trace, units, specs, 64, mem, tiles=1)
    acc = 22_000 - 1000
    errors0, kept0, blocks0 = 50 * 64 * 2, 100 * 64 * 2, 20
    errors1, kept1, blocks1 = 10 * 64 * 2, 50 * 64 * 2, 2
    expected = (2 * acc + 2 * (errors0 - 1000) + (blocks0 - 1) * (kept0 + errors0)
                + 2 * (errors1 - 1000) + (blocks1 - 1) * (kept1 + errors1)
                + 2 * (100 + 50) * 64 * 2)
    assert small.dram_bytes == expected
    with pytest.raises(ValueError, match="accumulation must be one of"):
        MemorySpec(accumulation="per-batch")


def test_bad_training_specs():
    with pytest.raises(ValueError, match="weight_gradient must be one of"):
        TrainingSpec(weight_gradient="gpu")
    with pytest.raises(ValueError, match="macs_per_tile"):
        WeightGradientUnit(macs_per_tile=0)
    with pytest.raises(ValueError, match="epoch_samples"):
        TrainingSpec(epoch_samples=0)
    # a zero-byte accumulator or master weight would make their traffic free: refused
    for name in ("gradient_bytes_per_value", "master_bytes_per_value"):
        with pytest.raises(ValueError, match=f"MemorySpec.{name} must be an int >= 1"):
            MemorySpec(**{name: 0})
    assert MemorySpec(buffer_bytes_per_tile=0).buffer_bytes_per_tile == 0  # no buffer: allowed
    assert MemorySpec(dram_energy_per_byte_j=0.0).dram_energy_per_byte_j == 0.0
    with pytest.raises(ValueError, match="dram_energy_per_byte_j must be a finite number >= 0"):
        MemorySpec(dram_energy_per_byte_j=-1.0)
    with pytest.raises(ValueError, match="dram_bandwidth_bytes_per_s must be a finite number > 0"):
        MemorySpec(dram_bandwidth_bytes_per_s=0.0)


@pytest.fixture(scope="module")
def vgg16_trace():
    from reram.models import vgg16

    return trace_model(vgg16(num_classes=10), (3, 32, 32))


def test_vgg16_b64_memory_dram_and_weight_gradient_unit(vgg16_trace):
    plan = schedule(vgg16_trace, batch_size=64, mode="train", chip=CHIP)
    mem = plan.memory
    assert set(mem) == {"activation_bytes", "gradient_bytes", "buffer_bytes", "dram_bytes"}
    assert mem["activation_bytes"] > 10e6  # every conv/linear input at 16 bits, 64 samples
    assert mem["buffer_bytes"] == 168 * 64 * 1024  # ISAAC's eDRAM
    # batch-blocked (the default): accumulators beyond the buffer written once and read once;
    # every layer's accumulators (at most 512 x 512 x 9 x 4 B = 9.4 MB) and its batch of errors
    # (at most 64 x 64 x 32 x 32 x 2 B = 8.4 MB) fit in the 11 MB of buffers: one block, no re-read
    spill = 2 * (mem["gradient_bytes"] - mem["buffer_bytes"])
    assert mem["dram_bytes"] == pytest.approx(spill + 2 * mem["activation_bytes"])
    per_sample = CHIP.replace(training=dataclasses.replace(CHIP.training, memory=MemorySpec(
        accumulation="per-sample")))
    mem_ps = schedule(vgg16_trace, batch_size=64, mode="train", chip=per_sample).memory
    assert mem_ps["dram_bytes"] == pytest.approx(64 * spill + 2 * mem["activation_bytes"])
    assert plan.energy_breakdown["dram"] == pytest.approx(mem["dram_bytes"] * 3.9e-12 * 8)
    assert plan.dram_s == pytest.approx(mem["dram_bytes"] / 256e9)
    assert plan.weight_gradient == "digital" and plan.energy_breakdown["weight_gradient"] > 0
    assert plan.training_area_mm2["weight_gradient_unit"] > 0
    assert plan.training_area_mm2["transposed_periphery"] > 0
    assert plan.endurance["arrays"]["weights"]["writes_per_cell_per_epoch"] == pytest.approx(50_000 / 64)
    assert plan.endurance["arrays"]["weights"]["epochs_to_wear_out"] > 0


def test_in_array_dataflow_allocates_error_arrays(vgg16_trace):
    train = schedule(vgg16_trace, batch_size=64, mode="train", chip=IN_ARRAY, replicate=False)
    infer = schedule(vgg16_trace, batch_size=64, mode="inference", chip=IN_ARRAY, replicate=False)
    assert train.crossbars_used > infer.crossbars_used
    errors = sum(error_mapping(l, RERAM).crossbars for l in vgg16_trace.layers
                 if l.kind in ("conv", "linear"))
    assert train.crossbars_used == infer.crossbars_used + errors
    assert train.energy_breakdown["gradient_writes"] > 0
    assert "weight_gradient" not in train.energy_breakdown
    # the error cells are rewritten every sample: an epoch writes each about 50,000 x 1.25 times
    errors_report = train.endurance["arrays"]["errors"]
    assert errors_report["writes_per_cell_per_epoch"] == pytest.approx(50_000 * 15 / 12)
    assert errors_report["epochs_to_wear_out"] < train.endurance["arrays"]["weights"]["epochs_to_wear_out"]


def test_more_pulses_per_level_cost_more_update_time():
    net = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    base = schedule(net, (64,), 4, "train", chip=CHIP, replicate=False)
    from reram.cost.writes import WriteModel

    slow = CHIP.replace(training=TrainingSpec(writes=WriteModel(device_levels=60)))
    plan = schedule(net, (64,), 4, "train", chip=slow, replicate=False)
    assert plan.update_s > base.update_s
    assert plan.energy_breakdown["writes"] > base.energy_breakdown["writes"]
    assert dataclasses.replace(slow.training, weight_gradient="in-array").weight_gradient == "in-array"


def test_chip_json_keeps_its_training_spec(tmp_path):
    import json

    from reram.cost.interconnect import InterconnectSpec
    from reram.cost.writes import WriteActivity, WriteModel

    spec = TrainingSpec(weight_gradient="in-array", unit=WeightGradientUnit(macs_per_tile=64),
                        memory=MemorySpec(accumulation="per-sample", gradient_bits=23,
                                          interconnect=InterconnectSpec(overlap=False,
                                                                        topology="htree")),
                        writes=WriteModel(device_levels=60, activity=WriteActivity(changed_fraction=0.3)),
                        epoch_samples=1000)
    chip = CHIP.replace(training=spec)
    path = tmp_path / "chip.json"
    path.write_text(json.dumps(chip.to_dict()))
    assert Chip.from_json(path).training == spec
    assert TrainingSpec.from_dict({}) == TrainingSpec()
    with pytest.raises(ValueError, match="training.memory.bufer_bytes_per_tile is not a MemorySpec field"):
        TrainingSpec.from_dict({"memory": {"bufer_bytes_per_tile": 1}})


def test_offset_encoded_chip_by_hand():
    """ISAAC's / NeuroSim's encoding: one array per slice (no G- array), every vector in one
    phase of input_bits cycles; a cost-only chip on the same silicon."""
    from reram.cost.layer_cost import crossbar_phase_cost

    offset = CHIP.with_offset_encoding()
    assert offset.config is None and offset.total_crossbars == CHIP.total_crossbars
    reram = offset.reram_for(None)
    assert (reram.differential_weights, reram.signed_input_phases) == (False, False)
    # 16-bit weights on 2-bit cells: 15 magnitude bits on a pair, 16 offset bits on one array
    assert (RERAM.slices, RERAM.signs, reram.slices, reram.signs) == (8, 2, 8, 1)
    # 16-bit inputs: 15 cycles a sign phase (two for signed errors) vs 16 for any vector
    assert (RERAM.mvm_cycles(signed=True), reram.mvm_cycles(signed=True)) == (30, 16)
    assert reram.mvm_cycles(signed=False) == 16 and RERAM.mvm_cycles(signed=False) == 15
    conv = one(nn.Conv2d(16, 40, 3, padding=1), (16, 8, 8))
    assert map_layer(conv, reram).crossbars * 2 == map_layer(conv, RERAM).crossbars
    # the input gradient's conversions: slices x signs x cycles
    back = crossbar_phase_cost(conv, reram, 2, "backward").parts["adc"]
    back_pair = crossbar_phase_cost(conv, RERAM, 2, "backward").parts["adc"]
    assert back / back_pair == pytest.approx((8 * 1 * 16) / (8 * 2 * 30))
    net = nn.Sequential(nn.Conv2d(16, 40, 3, padding=1), nn.ReLU(), nn.Conv2d(40, 40, 3, padding=1))
    pair = schedule(net, (16, 8, 8), batch_size=2, mode="train", chip=CHIP, replicate=False)
    single = schedule(net, (16, 8, 8), batch_size=2, mode="train", chip=offset, replicate=False)
    assert single.crossbars_used * 2 == pair.crossbars_used
    assert single.energy_breakdown["adc"] < pair.energy_breakdown["adc"]


def test_offset_encoded_chip_round_trips_through_json(tmp_path):
    import json

    offset = CHIP.replace(training=TrainingSpec(weight_gradient="in-array")).with_offset_encoding()
    path = tmp_path / "offset.json"
    path.write_text(json.dumps(offset.to_dict()))
    back = Chip.from_json(path)
    assert back.config is None and back.training == offset.training
    assert back.reram_for(None) == offset.reram_for(None)


def test_accumulator_width_in_bits():
    assert MemorySpec().gradient_value_bytes == 4.0  # the default: 32-bit words
    assert MemorySpec(gradient_bytes_per_value=2).gradient_value_bytes == 2.0
    assert MemorySpec(gradient_bits=23).gradient_value_bytes == pytest.approx(23 / 8)
    net = nn.Sequential(nn.Linear(100, 50), nn.ReLU(), nn.Linear(50, 10))
    trace = trace_model(net, (100,))
    units = route(trace)
    specs = [RERAM] * len(trace.layers)
    words = training_memory(trace, units, specs, 8, MemorySpec(
        buffer_bytes_per_tile=1000, gradient_bytes_per_value=2, accumulation="per-sample"), tiles=3)
    bits = training_memory(trace, units, specs, 8, MemorySpec(
        buffer_bytes_per_tile=1000, gradient_bits=16, accumulation="per-sample"), tiles=3)
    assert bits == words  # 16 packed bits are 2 bytes
    packed = training_memory(trace, units, specs, 8, MemorySpec(
        buffer_bytes_per_tile=1000, gradient_bits=20, accumulation="per-sample"), tiles=3)
    assert packed.gradient_bytes == 5500 * 2.5
    # 13,750 B of accumulators over 3,000 B of buffer, each sample reads and writes the rest
    assert packed.dram_bytes == 2 * 8 * (13_750 - 3000) + 2 * 2400
    # the weight-gradient unit and the optimizer read the same width from the buffers
    layer = trace.layers[0]
    narrow = TrainingSpec(memory=MemorySpec(gradient_bits=16))
    wide = TrainingSpec(memory=MemorySpec(gradient_bytes_per_value=2))
    assert weight_gradient_cost(layer, RERAM, narrow, 4).energy_j == pytest.approx(
        weight_gradient_cost(layer, RERAM, wide, 4).energy_j)
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="gradient_bits"):
            MemorySpec(gradient_bits=bad)
