"""update="pulsed": device curves against their closed form, asymmetry, saturation, the linear
device against update="nearest", seeded chips, the torch twin and state_dict round trips."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import reram
from reram import CrossbarConfig, CrossbarLinear
from reram.config import DEVICE_NAMES
from reram.kernels.pulsed import apply_pulses
from reram.sim import devices
from reram.sim.devices import DEVICE_PRESETS, DeviceModel, apply_pulses_torch, get_device

BASE = dict(weight_bits=4, input_bits=8, adc_bits=None, tile_size=None, cell_bits=None, dac_bits=None)
REAL = [d for d in DEVICE_NAMES if d != "linear"]


def pulsed(device: str, **kw) -> CrossbarConfig:
    return CrossbarConfig(update="pulsed", device=device, **{**BASE, **kw})


def test_presets_are_the_config_names_and_carry_sources():
    assert tuple(DEVICE_PRESETS) == DEVICE_NAMES
    for name, dev in DEVICE_PRESETS.items():
        assert dev.name == name and dev.source
        assert math.copysign(1, dev.a_ltp) == math.copysign(1, dev.nl_ltp or 1.0)
        assert math.copysign(1, dev.a_ltd) == math.copysign(1, dev.nl_ltd or 1.0)
    ag = get_device("ag-a-si")
    assert (ag.levels_ltp, ag.levels_ltd, ag.nl_ltp, ag.nl_ltd, ag.on_off, ag.c2c) == (97, 100, 2.4, -4.88, 12.5, 0.035)
    with pytest.raises(ValueError, match="device must be one of"):
        get_device("nope")
    with pytest.raises(ValueError, match="on_off"):
        DeviceModel(name="x", levels_ltp=4, levels_ltd=4, nl_ltp=0, nl_ltd=0, a_ltp=1, a_ltd=1, c2c=0, on_off=1)


@pytest.mark.parametrize("name", DEVICE_NAMES)
def test_pulse_by_pulse_curve_equals_closed_form(name):
    dev, cfg = get_device(name), pulsed(name)
    n_ltp, n_ltd = dev.levels(cfg)
    # one pulse at a time from g_min: ask for exactly one linear step each time
    y = np.zeros(1, np.float32)
    seen = [0.0]
    for _ in range(n_ltp):
        apply_pulses(y, y + np.float32(1.0 / n_ltp), [dev.a_ltp], [dev.a_ltd], n_ltp, n_ltd)
        seen.append(float(y[0]))
    np.testing.assert_allclose(seen, dev.conductance_ltp(np.arange(n_ltp + 1), cfg), atol=2e-5)
    y = np.ones(1, np.float32)
    seen = [1.0]
    for _ in range(n_ltd):
        apply_pulses(y, y - np.float32(1.0 / n_ltd), [dev.a_ltp], [dev.a_ltd], n_ltp, n_ltd)
        seen.append(float(y[0]))
    np.testing.assert_allclose(seen, dev.conductance_ltd(np.arange(n_ltd + 1), cfg), atol=2e-5)
    # the closed form: NeuroSim's exponential curve, through both ends
    p = np.arange(n_ltp + 1)
    if math.isinf(dev.a_ltp):
        want = p / n_ltp
    else:
        want = (1 - np.exp(-p / (dev.a_ltp * n_ltp))) / (1 - np.exp(-1 / dev.a_ltp))
    np.testing.assert_allclose(dev.conductance_ltp(p, cfg), want)
    assert dev.conductance_ltp(n_ltp, cfg) == pytest.approx(1.0)


@pytest.mark.parametrize("name", REAL)
def test_asymmetry_and_saturation(name):
    dev, cfg = get_device(name), pulsed(name)
    n_ltp, n_ltd = dev.levels(cfg)
    # saturation: LTP steps shrink toward g_max, LTD steps shrink toward g_min
    ltp = np.diff(dev.conductance_ltp(np.arange(n_ltp + 1), cfg))
    ltd = -np.diff(dev.conductance_ltd(np.arange(n_ltd + 1), cfg))
    assert ltp[0] > ltp[-1] > 0 and ltd[0] > ltd[-1] > 0
    # and pulses past the end of the curve leave the device at its bound (a request of more than
    # two sweeps; a smaller one may not get there: on a strongly nonlinear LTD curve a device at
    # y = 0.1 sits far from the bottom in pulses)
    y = np.array([0.9, 0.1], np.float32)
    apply_pulses(y, np.array([3.0, -3.0], np.float32), [dev.a_ltp], [dev.a_ltd], n_ltp, n_ltd)
    np.testing.assert_allclose(y, [1.0, 0.0], atol=1e-6)
    # asymmetry: +3 pulses then -3 pulses from mid-range does not come back (it does for linear)
    for device, expect_back in ((dev, False), (get_device("linear"), True)):
        nl, nd = device.levels(cfg)
        y = np.array([0.5], np.float32)
        apply_pulses(y, y + np.float32(3 / nl), [device.a_ltp], [device.a_ltd], nl, nd)
        apply_pulses(y, y - np.float32(3 / nd), [device.a_ltp], [device.a_ltd], nl, nd)
        assert (abs(float(y[0]) - 0.5) < 1e-6) == expect_back


def _step(layers, grads):
    for layer in layers:
        with torch.no_grad():
            layer.weight -= grads
        layer.programmed()


def test_linear_device_equals_nearest():
    torch.manual_seed(0)
    near = CrossbarLinear(24, 6, config=CrossbarConfig(update="nearest", **BASE))
    lin = CrossbarLinear(24, 6, config=pulsed("linear"))
    lin.load_state_dict({"weight": near.weight.detach().clone(), "bias": near.bias.detach().clone()}, strict=False)
    lin.programmed()
    torch.testing.assert_close(lin.weight, near.weight, rtol=0, atol=1e-7)
    gen = torch.Generator().manual_seed(1)
    for _ in range(40):  # big and small steps, some saturating at +-s_w
        _step([near, lin], torch.randn(6, 24, generator=gen) * 0.06)
    torch.testing.assert_close(lin.weight, near.weight, rtol=0, atol=1e-6)
    # loading the float weights programmed the devices once more than the nearest layer
    assert int(lin.crossbar_update_count) == int(near.crossbar_update_count) + 1
    x = torch.randn(5, 24)
    torch.testing.assert_close(lin(x), near(x), rtol=1e-5, atol=1e-5)


def _without_c2c(monkeypatch, name: str) -> None:
    dev = get_device(name)
    fields = {f: getattr(dev, f) for f in DeviceModel.__dataclass_fields__}
    monkeypatch.setitem(DEVICE_PRESETS, name, DeviceModel(**{**fields, "c2c": 0.0}))


def test_nonlinear_device_moves_small_updates_differently_from_its_grid(monkeypatch):
    _without_c2c(monkeypatch, "ag-a-si")  # its 3.5 % per pulse would swamp 3 pulses
    torch.manual_seed(0)
    layer = CrossbarLinear(30, 8, config=pulsed("ag-a-si"))
    before = layer.weight.detach().clone()
    scale = float(layer.crossbar_weight_scale.max())
    tiny = torch.full((8, 30), 0.2 * 2 * scale / 97)   # 0.2 of a pulse: rounded away
    _step([layer], tiny)
    assert torch.equal(layer.weight, before)
    big = torch.full((8, 30), -3 * 2 * scale / 97)      # 3 LTP pulses asked for everywhere
    _step([layer], big)
    moved = layer.weight.detach() - before
    assert bool((moved >= 0).all()) and bool((moved > 0).any())
    assert moved.max() > moved[moved > 0].min() * 1.5   # step size depends on the state


def test_same_seed_same_chip_and_training(monkeypatch):
    noisy = DeviceModel(**{**{f: getattr(get_device("pcmo"), f) for f in DeviceModel.__dataclass_fields__},
                           "d2d": 0.3, "c2c": 0.05})
    monkeypatch.setitem(DEVICE_PRESETS, "pcmo", noisy)

    def run(seed: int) -> CrossbarLinear:
        torch.manual_seed(0)
        layer = CrossbarLinear(20, 5, config=pulsed("pcmo", seed=seed))
        gen = torch.Generator().manual_seed(3)
        for _ in range(10):
            _step([layer], torch.randn(5, 20, generator=gen) * 0.05)
        return layer

    a, b, c = run(7), run(7), run(8)
    assert torch.equal(a.weight, b.weight) and torch.equal(a.crossbar_device_a, b.crossbar_device_a)
    assert not torch.equal(a.crossbar_device_a, c.crossbar_device_a)
    assert not torch.equal(a.weight, c.weight)
    assert float(a.crossbar_device_a[0].std()) > 0  # devices differ within the chip


@pytest.mark.parametrize("name", DEVICE_NAMES)
def test_torch_twin_equals_kernel(name):
    dev = get_device(name)
    n_ltp, n_ltd = dev.levels(pulsed(name))
    rng = np.random.default_rng(5)
    state = rng.random((6, 7), dtype=np.float32)
    target = (state + rng.normal(0, 0.2, state.shape)).astype(np.float32)
    target[0, 0] = np.nan
    noise = rng.standard_normal(state.shape).astype(np.float32)
    st = torch.from_numpy(state.copy())
    pulses_t = apply_pulses_torch(st, torch.from_numpy(target), dev.a_ltp, dev.a_ltd, n_ltp, n_ltd,
                                  dev.c2c, torch.from_numpy(noise))
    pulses = apply_pulses(state, target, [dev.a_ltp], [dev.a_ltd], n_ltp, n_ltd, dev.c2c, noise)
    assert torch.equal(pulses_t, torch.from_numpy(pulses))
    torch.testing.assert_close(st, torch.from_numpy(state), rtol=0, atol=2e-6)


def test_state_dict_round_trip_and_float_checkpoint():
    torch.manual_seed(0)
    layer = CrossbarLinear(12, 4, config=pulsed("epiram"))
    _step([layer], torch.randn(4, 12) * 0.05)
    sd = layer.state_dict()
    assert {"crossbar_device_state", "crossbar_weight_scale", "crossbar_update_count"} <= set(sd)
    other = CrossbarLinear(12, 4, config=pulsed("epiram"))
    other.load_state_dict(sd)
    x = torch.randn(3, 12)
    torch.testing.assert_close(other(x), layer(x), rtol=0, atol=0)
    assert torch.equal(other.crossbar_update_count, layer.crossbar_update_count)
    # a float checkpoint programs the devices from its weights
    float_layer = torch.nn.Linear(12, 4)
    fresh = CrossbarLinear(12, 4, config=pulsed("epiram"))
    fresh.load_state_dict(float_layer.state_dict())
    fresh.programmed()
    assert float(fresh.crossbar_weight_scale[0]) == pytest.approx(float(float_layer.weight.detach().abs().max()))
    assert (fresh.weight.detach() - float_layer.weight.detach()).abs().max() < 0.2 * float(float_layer.weight.detach().abs().max())


def test_nan_weight_raises_on_update():
    layer = CrossbarLinear(6, 3, config=pulsed("pcmo"))
    with torch.no_grad():
        layer.weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        layer(torch.randn(2, 6))


def test_convert_and_describe():
    net = reram.convert(torch.nn.Sequential(torch.nn.Linear(8, 4)), pulsed("taox-hfox"))
    assert "device=taox-hfox" in repr(net)
    assert devices.state_to_weight(net[0].crossbar_device_state, net[0].crossbar_weight_scale).shape == (4, 8)


def test_zero_initialized_layer_gets_a_range_once_it_has_weights():
    layer = CrossbarLinear(5, 3, config=pulsed("epiram", weight_scaling="channel"))
    with torch.no_grad():
        layer.weight.zero_()
    layer.program(rescale=True)
    assert torch.equal(layer.crossbar_weight_scale, torch.zeros(3))
    with torch.no_grad():
        layer.weight[1] = torch.linspace(-0.5, 0.5, 5)
    layer.programmed()
    assert float(layer.crossbar_weight_scale[1]) == pytest.approx(0.5)
    assert float(layer.crossbar_weight_scale[0]) == 0.0
    torch.testing.assert_close(layer.weight[1].detach(), torch.linspace(-0.5, 0.5, 5), atol=0.02, rtol=0)


@pytest.mark.parametrize("defects", [{"saf1_rate": 0.05}, {"variation": 0.1}])
def test_pulsed_layers_with_defects_draw_them_for_the_simulated_slicing(defects):
    """Found by the property tests: defect maps were drawn for the config's bit slices, not
    the pulsed device's (one cell per weight), and programming raised a shape error."""
    cfg = CrossbarConfig(tile_size=None, weight_bits=3, cell_bits=1, input_bits=2, dac_bits=None,
                         adc_bits=None, update="pulsed", device="linear", **defects)
    layer = CrossbarLinear.from_float(torch.nn.Linear(20, 6), cfg)  # raised a shape error
    assert torch.isfinite(layer(torch.randn(4, 20))).all()
    faults, var = layer._defects
    drawn = faults if faults is not None else var
    assert drawn.shape == (2, layer._sim_config.n_slices, 6, 20)
