"""Tests of the named steps of ``schedule()``: each on its own, with hand-computed values."""
from __future__ import annotations

import pytest
from torch import nn

from reram.cost.chip import Chip
from reram.cost.scheduler import (Charge, Stage, bottleneck_of, gpu_only_baseline, layer_specs,
                                  map_and_replicate, phase_stages, phase_time, resolve_chip,
                                  route, schedule, split_measured, update_charges)
from reram.cost.trace import trace_model

#: The ISAAC chip preset: 16 crossbars per 128 x 128 block; an MVM streams 15 one-bit cycles of
#: 100 ns per sign phase (two phases for the signed model input).
CHIP = Chip.preset("isaac")
ISAAC = CHIP.hardware
T_SIGNED = 30 * 100e-9


def sized(tiles, crossbars_per_tile):
    return Chip(CHIP.config, ISAAC.replace(**{"reram.tiles": tiles,
                                              "reram.crossbars_per_tile": crossbars_per_tile}))


def conv_bn_net():
    return nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU(),
                         nn.Conv2d(2, 2, 1, stride=2))


def test_route_units_and_bad_unit():
    trace = trace_model(conv_bn_net(), (1, 8, 8))
    assert route(trace) == ["reram", "gpu", "digital", "reram"]
    assert route(trace, "gpu") == ["reram", "gpu", "gpu", "reram"]
    with pytest.raises(ValueError, match="elementwise_unit must be"):
        route(trace, "fpga")


def test_map_and_replicate_gives_spare_crossbars_to_the_slowest_layer():
    trace = trace_model(conv_bn_net(), (1, 8, 8))
    chip = sized(1, 80)
    units = route(trace)
    specs = layer_specs(trace, chip)
    mapping = map_and_replicate(trace, units, specs, chip.hardware, 4, training=False)
    assert dict(mapping.crossbars) == {"0": 16, "3": 16}
    # 48 spare crossbars: 3 more copies of the 64-MVM layer (192 -> 48 us a sample)
    assert dict(mapping.replicas) == {"0": 4, "3": 1}
    assert mapping.crossbars_used == 80 and mapping.available == 80
    # digital units: those of the tiles of the preceding crossbar layer (64 crossbars, 1 tile)
    assert mapping.digital_tiles == (1, 1, 1, 1)
    plain = map_and_replicate(trace, units, specs, chip.hardware, 4, training=False, replicate=False)
    assert dict(plain.replicas) == {"0": 1, "3": 1}
    with pytest.raises(ValueError, match="needs 32 crossbars"):
        map_and_replicate(trace, units, specs, sized(1, 20).hardware, 4, training=False,
                          replicate=False)


def test_phase_stages_order_groups_and_barriers():
    trace = trace_model(conv_bn_net(), (1, 8, 8))
    units = route(trace, "gpu")  # BN and ReLU form one GPU group
    specs = layer_specs(trace, CHIP)
    mapping = map_and_replicate(trace, units, specs, ISAAC, 4, training=True, replicate=False)
    fwd = phase_stages(trace, units, mapping, specs, ISAAC, 4, "forward", training=True)
    assert [(s.name, s.unit, s.barrier) for s in fwd] == [
        ("0", "reram", False), ("1", "gpu", True), ("3", "reram", False)]
    assert [c.index for c in fwd[1].charges] == [1, 2]
    assert fwd[0].per_sample_s == pytest.approx(64 * T_SIGNED)
    assert fwd[1].per_sample_s == 0.0 and fwd[1].batch_s == pytest.approx(
        sum(c.seconds for c in fwd[1].charges))
    back = phase_stages(trace, units, mapping, specs, ISAAC, 4, "backward", training=True)
    assert [s.name for s in back] == ["3", "2", "0"]  # reverse order; the group named by its first
    infer = phase_stages(trace, units, mapping, specs, ISAAC, 4, "forward", training=False)
    assert not infer[1].barrier and infer[1].per_sample_s == pytest.approx(infer[1].batch_s / 4)
    with pytest.raises(ValueError, match="phase must be"):
        phase_stages(trace, units, mapping, specs, ISAAC, 4, "update", training=True)


def _stage(name, per_sample, batch_s, barrier=False):
    return Stage(name=name, phase="forward", unit="gpu" if barrier else "reram",
                 per_sample_s=per_sample, batch_s=batch_s, barrier=barrier)


def test_phase_time_by_hand():
    stages = [_stage("a", 1.0, 3.0), _stage("b", 2.0, 6.0), _stage("bn", 0.0, 5.0, True),
              _stage("c", 4.0, 12.0)]
    # segment (1, 2) over 3 samples: 1 + 2 + 2 x 2 = 7; barrier 5; segment (4): 4 + 2 x 4 = 12
    assert phase_time(stages, 3, pipelined=True) == pytest.approx(7 + 5 + 12)
    assert phase_time(stages, 3, pipelined=False) == pytest.approx(3 + 6 + 5 + 12)
    assert phase_time([], 3, pipelined=True) == 0.0


def test_bottleneck_ignores_barriers_and_keeps_the_first_of_equals():
    stages = [_stage("a", 2.0, 0.0), _stage("bn", 9.0, 9.0, True), _stage("b", 2.0, 0.0)]
    assert bottleneck_of(stages) == {"name": "a", "phase": "forward", "per_sample_s": 2.0}
    assert bottleneck_of([]) == {"name": None, "phase": None, "per_sample_s": 0.0}


def test_update_charges_parallel_or_serial():
    trace = trace_model(conv_bn_net(), (1, 8, 8))
    units = route(trace)
    specs = layer_specs(trace, CHIP)
    mapping = map_and_replicate(trace, units, specs, ISAAC, 4, training=True, replicate=False)
    piped_s, charges = update_charges(trace, units, mapping, specs, pipelined=True)
    serial_s, _ = update_charges(trace, units, mapping, specs, pipelined=False)
    assert [c.index for c in charges] == [0, 3]
    assert piped_s == pytest.approx(max(c.seconds for c in charges))
    assert serial_s == pytest.approx(sum(c.seconds for c in charges))
    # first conv: the optimizer (18 weights x 2 ops at 1.2 GHz), then its 9 rows in a SET and a
    # RESET phase of one 50 ns pulse and a 100 ns verify read
    assert charges[0].seconds == pytest.approx(36 / 1.2e9 + 9 * 2 * (50e-9 + 100e-9))
    assert set(charges[0].parts) == {"digital", "buffer", "writes"}


def test_serial_update_keeps_to_the_write_power_budget():
    """Without the pipeline the layers update one after another, and each layer's writes still
    draw at most ``max_write_power_w``: its time is at least its write energy over the budget
    (the pipeline=False path once ignored the budget)."""
    net = conv_bn_net()
    trace = trace_model(net, (1, 8, 8))
    units = route(trace)
    tight = Chip(CHIP.config, ISAAC.replace(**{"reram.max_write_power_w": 1e-9}))
    specs = layer_specs(trace, tight)
    mapping = map_and_replicate(trace, units, specs, tight.hardware, 4, training=True,
                                replicate=False)
    free = layer_specs(trace, CHIP)
    loose_s, loose = update_charges(trace, units, mapping, free, pipelined=False)
    serial_s, charges = update_charges(trace, units, mapping, specs, pipelined=False)
    piped_s, _ = update_charges(trace, units, mapping, specs, pipelined=True)
    writes = [c.parts["writes"] for c in charges]
    assert serial_s == pytest.approx(sum(w / 1e-9 for w in writes))
    assert serial_s > loose_s * 1e3
    assert serial_s == pytest.approx(sum(c.seconds for c in charges))  # charges add up
    assert piped_s == pytest.approx(sum(writes) / 1e-9)
    plan = schedule(net, (1, 8, 8), batch_size=4, mode="train", chip=tight, pipeline=False,
                    replicate=False)
    assert plan.update_s == pytest.approx(serial_s)
    assert plan.latency_s == pytest.approx(sum(c.latency_s for c in plan.layers) + plan.dram_s)


def test_gpu_only_baseline_hand_case_and_plan_totals():
    trace = trace_model(nn.Sequential(nn.Linear(100, 10)), (100,))
    base = gpu_only_baseline(trace, ISAAC.gpu, 1, training=False)
    # 2 kFLOP and (100 + 10 + 1000) x 4 bytes: memory bound, plus one launch
    assert base.latency_s == pytest.approx((5e-6 + 4440 / 9e11,))
    assert base.flops == 2000.0
    gpu = ISAAC.gpu
    assert base.energy_j[0] == pytest.approx(2000 * gpu.energy_per_flop_j + 4440 * gpu.energy_per_byte_j)
    net = conv_bn_net()
    plan = schedule(net, (1, 8, 8), batch_size=4, mode="train", chip=CHIP)
    full = gpu_only_baseline(trace_model(net, (1, 8, 8)), ISAAC.gpu, 4, training=True)
    assert plan.gpu_latency_s == pytest.approx(sum(full.latency_s))
    assert plan.gpu_energy_j == pytest.approx(sum(full.energy_j) + 40.0 * plan.gpu_latency_s)


def test_split_measured_in_proportion_to_the_roofline():
    out = split_measured(["conv", "conv", "bn", "act"], [1.0, 3.0, 0.0, 2.0],
                         {"conv": 8.0, "bn": 1.0})
    assert out == pytest.approx([2.0, 6.0, 1.0, 0.0])


def test_split_measured_keeps_the_time_of_ops_of_no_layer_kind():
    """The profiler's "other" ops (the optimizer step, the loss) are GPU time too: spread over
    the layers by their roofline times, not dropped (the baseline once lost them)."""
    out = split_measured(["conv", "bn"], [1.0, 3.0], {"conv": 2.0, "bn": 1.0, "other": 4.0})
    assert out == pytest.approx([2.0 + 1.0, 1.0 + 3.0])
    assert sum(out) == pytest.approx(7.0)


def test_charges_add_up_to_the_plan():
    net = conv_bn_net()
    plan = schedule(net, (1, 8, 8), batch_size=4, mode="train", chip=CHIP)
    trace = trace_model(net, (1, 8, 8))
    units = route(trace)
    specs = layer_specs(trace, CHIP)
    mapping = map_and_replicate(trace, units, specs, ISAAC, 4, training=True)
    stages = [s for p in ("forward", "backward")
              for s in phase_stages(trace, units, mapping, specs, ISAAC, 4, p, training=True,
                                    training_spec=CHIP.costed_training())]  # its wires placed
    _, upd = update_charges(trace, units, mapping, specs, pipelined=True)
    charges: list[Charge] = [c for s in stages for c in s.charges] + upd
    extra = sum(plan.energy_breakdown[k] for k in ("reram_static", "gpu_idle", "dram"))
    assert sum(c.energy_j for c in charges) == pytest.approx(plan.energy_j - extra)
    assert sum(c.bytes_moved for c in charges) == pytest.approx(
        sum(l.bytes_moved for l in plan.layers))


def test_layer_specs_follow_each_layers_config():
    import reram

    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Conv2d(2, 2, 1))
    chip = Chip.preset("isaac")
    converted = reram.convert(net, chip.config.replace(weight_bits=6, adc_bits=6), exclude=("2",))
    specs = layer_specs(trace_model(converted, (1, 8, 8)), chip)
    assert (specs[0].weight_bits, specs[0].adc_bits, specs[0].slices) == (6, 6, 3)
    assert specs[1] is specs[0]  # the ReLU runs on the units of the layer before it
    assert (specs[2].weight_bits, specs[2].adc_bits) == (16, 8)  # float layer: the chip's config
    # a 6-bit SAR ADC converts 8/6 times faster, at 2^-2 the energy (constant Walden FoM)
    assert specs[0].adc_conversions_per_s == pytest.approx(1.28e9 * 8 / 6)
    assert specs[0].adc_energy_per_conversion_j == pytest.approx(1.5625e-12 / 4)


def test_resolve_chip_defaults_names_and_conflicts():
    assert resolve_chip().name == "isaac" and resolve_chip("puma").name == "puma"
    assert resolve_chip(chip="isaac").config == Chip.preset("isaac").config
    assert resolve_chip(CHIP) is CHIP
    assert resolve_chip(gpu="a100", gpu_precision="mixed").hardware.gpu.peak_flops == 3.12e14
    with pytest.raises(ValueError, match="no tensor cores"):
        resolve_chip(gpu="gtx1080", gpu_precision="mixed")
    with pytest.raises(ValueError, match="gpu_precision needs gpu="):
        resolve_chip(gpu_precision="mixed")
