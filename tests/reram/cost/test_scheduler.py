"""Tests of the scheduler: hand-computed plans, totals, pipeline, and monotone properties."""
from __future__ import annotations

import json
from functools import partial

import pytest
import torch
from torch import nn

from reram.cost.chip import Chip
from reram.cost.scheduler import schedule
from reram.cost.trace import Trace, trace_model

#: The ISAAC chip preset: 16 crossbars per 128 x 128 block (8 two-bit slices x a G+/G- pair);
#: an MVM streams 15 one-bit cycles of 100 ns per sign phase: 1.5 us for a non-negative input,
#: 3 us for a signed one (the model's input, the errors).
CHIP = Chip.preset("isaac")
on_isaac = partial(schedule, chip=CHIP)
T_MVM, T_SIGNED = 15 * 100e-9, 30 * 100e-9


def sized(tiles, crossbars_per_tile):
    """The ISAAC chip with another number of tiles and crossbars per tile."""
    return Chip(CHIP.config, CHIP.hardware.replace(**{"reram.tiles": tiles,
                                                      "reram.crossbars_per_tile": crossbars_per_tile}))


def conv_pair():
    """Two conv stages: 64 MVMs per sample, then 16 (stride 2), 16 crossbars each; both inputs
    signed (the model's, then the first conv's output)."""
    return nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Conv2d(2, 2, 1, stride=2))


def test_one_linear_layer_on_one_crossbar():
    plan = on_isaac(nn.Sequential(nn.Linear(100, 10)), (100,), batch_size=1, mode="inference")
    (layer,) = plan.layers
    assert (layer.unit, layer.crossbars, layer.replicas, layer.tiles) == ("reram", 16, 1, 1)
    assert layer.latency_s == pytest.approx(T_SIGNED)  # the model's input: two sign phases
    assert plan.latency_s == pytest.approx(T_SIGNED) and plan.throughput == pytest.approx(1 / T_SIGNED)
    assert layer.bytes_moved == 0 and plan.memory == {} and plan.endurance == {}
    # baseline: 2 kFLOP, (100 + 10 + 1000) x 4 bytes -> memory bound on the V100, plus a launch
    assert plan.gpu_latency_s == pytest.approx(5e-6 + 4440 / 9e11)
    assert plan.speedup_vs_gpu == pytest.approx(plan.gpu_latency_s / T_SIGNED)


def test_pipeline_bottleneck_and_sum_of_parts():
    piped = on_isaac(conv_pair(), (1, 8, 8), batch_size=4, mode="inference", replicate=False)
    t0, t1 = 64 * T_SIGNED, 16 * T_SIGNED  # the second conv reads the first's signed output
    assert piped.latency_s == pytest.approx(t0 + t1 + 3 * t0)
    assert piped.bottleneck["name"] == "0"
    assert piped.bottleneck["per_sample_s"] == pytest.approx(t0)
    serial = on_isaac(conv_pair(), (1, 8, 8), batch_size=4, mode="inference", replicate=False,
                      pipeline=False)
    assert serial.latency_s == pytest.approx(4 * (t0 + t1))
    assert serial.latency_s == pytest.approx(sum(l.latency_s for l in serial.layers))
    for plan in (piped, serial):
        idle = plan.energy_breakdown["reram_static"] + plan.energy_breakdown["gpu_idle"]
        assert idle == pytest.approx((168 * 0.03699 + 40.0) * plan.latency_s)  # ISAAC static, V100 idle
        assert plan.energy_j == pytest.approx(sum(l.energy_j for l in plan.layers) + idle)
        assert plan.gpu_latency_s == pytest.approx(sum(l.gpu_latency_s for l in plan.layers))
        assert plan.gpu_energy_j == pytest.approx(sum(l.gpu_energy_j for l in plan.layers)
                                                  + plan.gpu_energy_breakdown["gpu_idle"])
    assert sum(l.energy_j for l in piped.layers) == pytest.approx(sum(l.energy_j for l in serial.layers))


def test_replication_fills_spare_crossbars_greedily():
    plan = schedule(conv_pair(), (1, 8, 8), batch_size=4, mode="inference", chip=sized(1, 80))
    # 32 crossbars needed, 48 spare: the 64-MVM stage (192 us a sample) gets 3 more copies
    # (96, 64, 48 us) until no spare copy is left
    assert [l.replicas for l in plan.layers] == [4, 1]
    assert plan.crossbars_used == 80
    assert plan.bottleneck["per_sample_s"] == pytest.approx(64 * T_SIGNED / 4)
    with pytest.raises(ValueError, match="needs 32 crossbars but hardware 'isaac' has 20"):
        schedule(conv_pair(), (1, 8, 8), batch_size=4, mode="inference", chip=sized(1, 20))


def test_bn_transfer_bytes():
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
    train = on_isaac(net, (3, 8, 8), batch_size=5, mode="train")
    bn = train.layers[1]
    assert bn.unit == "gpu" and train.layers[2].unit == "digital"
    # 4x8x8 16-bit values x 5 samples, in and out, forward and backward
    assert bn.bytes_moved == 256 * 2 * 5 * 2 * 2
    assert sum(l.bytes_moved for l in train.layers) == bn.bytes_moved
    assert train.barriers == 2
    infer = on_isaac(net, (3, 8, 8), batch_size=5, mode="inference")
    assert infer.layers[1].bytes_moved == 256 * 2 * 5 * 2 and infer.barriers == 0
    on_gpu = on_isaac(net, (3, 8, 8), batch_size=5, mode="train", elementwise_unit="gpu")
    # BN and ReLU form one GPU group: still one transfer in and one out per direction
    assert sum(l.bytes_moved for l in on_gpu.layers) == 256 * 2 * 5 * 2 * 2
    assert on_gpu.layers[2].unit == "gpu"


def test_training_barrier_latency_by_hand():
    net = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8), nn.Linear(8, 8))
    plan = on_isaac(net, (8,), batch_size=2, mode="train", replicate=False)
    link = lambda n: 1e-6 + n / 25.6e9  # noqa: E731
    gpu = CHIP.hardware.gpu

    def roof(flops, nbytes):
        return gpu.kernel_launch_s + max(flops / gpu.peak_flops, nbytes / gpu.memory_bandwidth_bytes_per_s)

    bn_fwd = link(32) + roof(8 * 16, 3 * 16 * 4) + link(32)
    bn_bwd = link(32) + roof(12 * 16, 5 * 16 * 4) + link(32)
    # two 1-stage segments of 2 samples; the second Linear reads the BN's signed output
    forward = 2 * T_SIGNED + bn_fwd + 2 * T_SIGNED
    # backward: the second layer's input gradient (signed errors) outlasts its weight gradient
    # (64 MACs on one tile's 256-MAC unit at 1 GHz); the first layer has only the latter, and
    # its operands (8 inputs and 8 errors of 16 bits) take longer through the tile's 38.4 GB/s
    # buffer than the unit's MACs: the buffer sets the stage
    wg = 64 / (256 * 1e9)
    operands = (8 + 8) * 2 / 38.4e9
    assert operands > wg
    backward = 2 * T_SIGNED + bn_bwd + 2 * operands
    # update: the optimizer (2 ops a weight on one tile's 1.2 GHz digital unit), then 8 rows in
    # a SET and a RESET phase of one 50 ns pulse and its 100 ns verify read; layers in parallel
    update = 128 / 1.2e9 + 8 * 2 * (50e-9 + 100e-9)
    assert plan.update_s == pytest.approx(update)
    assert plan.layers[0].phases["update"] == pytest.approx(update)
    assert plan.dram_s == 0.0 and plan.memory["dram_bytes"] == 0.0  # it all fits in the buffers
    assert plan.latency_s == pytest.approx(forward + backward + update)


def strip_bn(trace, keep):
    """The trace with only the BN layers whose index (in forward order) is in ``keep``."""
    layers, k = [], 0
    for layer in trace.layers:
        if layer.kind == "bn":
            k += 1
            if k - 1 not in keep:
                continue
        layers.append(layer)
    return Trace(trace.input_shape, layers, trace.model_name)


@pytest.fixture(scope="module")
def vgg_trace():
    net = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 10))
    return trace_model(net, (3, 16, 16))


@pytest.mark.parametrize("mode", ["train", "inference"])
@pytest.mark.parametrize("unit", ["digital", "gpu"])
def test_removing_bn_never_lowers_throughput(vgg_trace, mode, unit):
    import itertools

    sites = range(vgg_trace.bn_count)
    masks = [set(c) for r in range(len(sites) + 1) for c in itertools.combinations(sites, r)]
    tput = {frozenset(m): on_isaac(strip_bn(vgg_trace, m), batch_size=8, mode=mode,
                                   elementwise_unit=unit).throughput for m in masks}
    for kept, value in tput.items():
        for site in kept:
            assert tput[kept - {site}] >= value * (1 - 1e-12)


def test_removing_bn_on_reram_models():
    import reram.models as models

    prev = None
    n = models.num_bn_sites("vgg11")
    for kept in range(n, -1, -1):
        net = models.build_model("vgg11", bn_mask="1" * kept + "0" * (n - kept))
        plan = on_isaac(net, (3, 32, 32), batch_size=16, mode="train")
        assert plan.bn_count == kept
        if prev is not None:
            assert plan.throughput >= prev
        prev = plan.throughput


def test_more_adc_bits_never_make_a_layer_faster(vgg_trace):
    previous = None
    for bits in range(4, 13):
        plan = schedule(vgg_trace, batch_size=4, mode="train", chip=CHIP.replace(adc_bits=bits),
                        replicate=False)
        times = [l.latency_s for l in plan.layers if l.unit == "reram"]
        if previous is not None:
            assert all(t >= p * (1 - 1e-12) for t, p in zip(times, previous))
        previous = times
    # a full 128-column crossbar: 128 conversions at 1.28e9 * 8/12 per s outlast the 100 ns read
    wide = nn.Sequential(nn.Linear(128, 128))
    eight = on_isaac(wide, (128,), batch_size=1, mode="inference").latency_s
    twelve = schedule(wide, (128,), batch_size=1, mode="inference",
                      chip=CHIP.replace(adc_bits=12)).latency_s
    assert eight == pytest.approx(T_SIGNED) and twelve == pytest.approx(30 * 128 / (1.28e9 * 8 / 12))


@pytest.mark.parametrize("mode", ["train", "inference"])
def test_bigger_batch_raises_gpu_utilization(vgg_trace, mode):
    util = [on_isaac(vgg_trace, batch_size=b, mode=mode).gpu_utilization for b in (1, 4, 16, 64, 256)]
    assert all(b > a for a, b in zip(util, util[1:]))
    assert 0 < util[-1] <= 1


def test_plan_outputs(tmp_path, vgg_trace):
    plan = on_isaac(vgg_trace, batch_size=4, mode="train")
    data = json.loads(plan.to_json(tmp_path / "plan.json"))
    assert json.loads((tmp_path / "plan.json").read_text()) == data
    assert {"name", "kind", "unit", "latency_s", "energy_j", "bytes_moved"} <= set(data["layers"][0])
    assert data["speedup_vs_gpu"] == pytest.approx(plan.speedup_vs_gpu) and data["bn_count"] == 4
    assert {l.unit for l in plan.layers} == {"reram", "gpu", "digital"}
    text = plan.table()
    assert "speedup" in text and plan.layers[0].name in text
    assert plan.save_png(tmp_path / "plan.png").stat().st_size > 1000


def test_converted_model_costs_each_layer_with_its_own_config():
    import reram
    from reram.cost.chip import Chip

    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 10))
    torch.manual_seed(0)
    chip = Chip.preset("isaac")
    float_plan = schedule(net, (3, 8, 8), batch_size=2, mode="train", chip=chip)
    same = schedule(reram.convert(net, chip.config), (3, 8, 8), batch_size=2, mode="train", chip=chip)
    assert same.latency_s == pytest.approx(float_plan.latency_s)
    assert same.energy_j == pytest.approx(float_plan.energy_j)
    # 4-bit weights on 2-bit cells: ceil(3/2) = 2 slices x 2 (G+/G-) instead of 8 x 2
    small = reram.convert(net, chip.config.replace(weight_bits=4))
    plan = schedule(small, (3, 8, 8), batch_size=2, mode="train", chip=chip)
    assert [l.crossbars for l in plan.layers if l.unit == "reram"] == [4, 8]  # Linear: 2 row blocks
    assert [l.crossbars for l in float_plan.layers if l.unit == "reram"] == [16, 32]
    ideal = reram.convert(net, reram.CrossbarConfig.ideal())
    with pytest.raises(ValueError, match="weight_bits=None"):  # analog weights: no bit count
        schedule(ideal, (3, 8, 8), batch_size=2, mode="train", chip=chip)
    # no tiles, ideal ADC: costed as exact silicon, the row blocks' currents summed in analog
    # before one lossless conversion (Linear: 144 rows x 127 x 7 -> 17 bits; conv: 27 rows -> 15)
    exact = reram.convert(net, reram.CrossbarConfig(weight_bits=4, tile_size=None, adc_bits=None,
                                                    cell_bits=None, dac_bits=None))
    plan = schedule(exact, (3, 8, 8), batch_size=2, mode="train", chip=chip)
    assert [l.crossbars for l in plan.layers if l.unit == "reram"] == [2, 4]  # 1 slice x 2 signs
    from reram.cost.scheduler import layer_specs
    from reram.cost.trace import trace_model as trace_of

    specs = layer_specs(trace_of(exact, (3, 8, 8)), chip)
    assert (specs[0].adc_bits, specs[-1].adc_bits, specs[-1].analog_row_sum) == (15, 17, True)


@pytest.mark.parametrize("kwargs,match", [
    (dict(mode="fly"), "mode"), (dict(batch_size=0), "batch_size"),
    (dict(elementwise_unit="tpu"), "elementwise_unit"), (dict(gpu_baseline="guess"), "gpu_baseline"),
    (dict(chip="nope"), "unknown hardware config"), (dict(input_shape=None), "input_shape")])
def test_bad_arguments(kwargs, match):
    args = dict(model=nn.Sequential(nn.Linear(2, 2)), input_shape=(2,), batch_size=2, mode="train")
    args.update(kwargs)
    args.setdefault("chip", CHIP)
    with pytest.raises(ValueError, match=match):
        schedule(**args)


def test_measured_baseline_on_cpu_splits_by_kind():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                        nn.Linear(4 * 6 * 6, 10))
    plan = on_isaac(net, (3, 8, 8), batch_size=2, mode="inference", gpu_baseline="measured",
                    device="cpu")
    assert plan.gpu_baseline == "measured"
    assert all(l.gpu_latency_s > 0 for l in plan.layers)


def test_measured_baseline_utilization_is_the_measured_rate(monkeypatch):
    """``gpu_utilization`` is the baseline's achieved FLOP/s over peak: with a measured baseline,
    the measured time's (it once divided by the roofline's time whatever the baseline was)."""
    import reram.cost.gpu_profile as profile
    from reram.cost.scheduler import gpu_only_baseline

    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 10))
    measured = {"conv": 2e-3, "act": 1e-3, "linear": 1e-3}
    monkeypatch.setattr(profile, "measure_breakdown",
                        lambda *args, **kwargs: {"seconds_by_kind": measured})
    plan = on_isaac(net, (3, 8, 8), batch_size=2, mode="inference", gpu_baseline="measured")
    roof = on_isaac(net, (3, 8, 8), batch_size=2, mode="inference")
    assert plan.gpu_latency_s == pytest.approx(4e-3)
    flops = gpu_only_baseline(trace_model(net, (3, 8, 8)), CHIP.hardware.gpu, 2, False).flops
    peak = CHIP.hardware.gpu.peak_flops
    assert plan.gpu_utilization == pytest.approx(flops / (4e-3 * peak))
    assert roof.gpu_utilization == pytest.approx(flops / (roof.gpu_latency_s * peak))


@pytest.mark.parametrize("act, phases", [(nn.ReLU, 1), (nn.Sigmoid, 1), (nn.Tanh, 2),
                                          (nn.Identity, 2)])
def test_a_signed_input_streams_two_phases(act, phases):
    """A layer whose input has both signs (after a Tanh, or straight after a conv) streams it in
    two sign phases, as the simulation does and docs/scheduler.md says; only the model's input
    was charged so (every later layer took one phase whatever fed it)."""
    net = nn.Sequential(nn.Linear(100, 10), act(), nn.Linear(10, 10))
    trace = trace_model(net, (100,))
    assert [l.input_signed for l in trace.of_kind("linear")] == [True, phases == 2]
    plan = on_isaac(net, (100,), batch_size=1, mode="inference", replicate=False)
    assert plan.layers[-1].latency_s == pytest.approx(phases * T_MVM)


def test_residual_shortcut_sign_follows_the_data():
    """The sign is read off the data, not the execution order: a ResNet block's shortcut conv runs
    after the block's last BN but reads the block's (post-ReLU) input."""
    from reram.models import resnet18

    layers = trace_model(resnet18(), (3, 32, 32)).of_kind("conv", "linear")
    assert layers[0].input_signed  # the model's input
    assert not any(l.input_signed for l in layers[1:])
    assert any("downsample" in l.name for l in layers)
