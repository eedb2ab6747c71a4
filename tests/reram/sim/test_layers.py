"""CrossbarLinear / CrossbarConv2d: the invariants of DESIGN.md and drop-in behaviour."""
import copy
import io
import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import reram
from reram import CrossbarConfig, CrossbarConv2d, CrossbarLinear
from reram.sim.functional import crossbar_conv2d, crossbar_linear, quantize_input

torch.manual_seed(0)
SMALL = CrossbarConfig(tile_size=16, weight_bits=5, cell_bits=2, input_bits=5, dac_bits=2, adc_bits=8)


def _through_tiles(layer, x):
    """The layer's output with every cycle streamed through every tile (no lossless shortcut)."""
    cfg, prog = layer.crossbar_config, layer.programmed()
    if isinstance(layer, CrossbarConv2d):
        return crossbar_conv2d(x, layer, prog, cfg, force_tiles=True)
    return crossbar_linear(x, layer.weight, layer.bias, prog, cfg, force_tiles=True)


def _lossless(cfg: CrossbarConfig) -> CrossbarConfig:
    return cfg.replace(adc_bits=24)


def _reference_linear(layer, x):
    codes, s = quantize_input(x, layer.crossbar_config, 1)
    return F.linear(codes * (s / layer.crossbar_config.input_levels)[..., None],
                    layer.effective_weight(), layer.bias)


def _reference_conv(layer, x):
    codes, s = quantize_input(x, layer.crossbar_config, 3)
    xq = codes * (s / layer.crossbar_config.input_levels)[:, None, None, None]
    return layer._conv_forward(xq, layer.effective_weight(), layer.bias)


def test_ideal_equals_nn_linear_and_conv():
    lin = nn.Linear(37, 11)
    conv = nn.Conv2d(4, 6, 3, stride=2, padding=1, dilation=1, groups=2)
    x, xi = torch.randn(5, 37), torch.randn(3, 4, 9, 9)
    xl = CrossbarLinear.from_float(lin, CrossbarConfig.ideal())
    xc = CrossbarConv2d.from_float(conv, CrossbarConfig.ideal(tile_size=8))
    assert torch.equal(xl(x), lin(x))
    assert torch.equal(xc(xi), conv(xi))
    assert torch.equal(xl.effective_weight(), lin.weight)


@pytest.mark.parametrize("cfg", [
    SMALL, SMALL.replace(differential="analog"), SMALL.replace(dac_bits=None),
    SMALL.replace(cell_bits=1, dac_bits=1), SMALL.replace(saf0_rate=0.1, saf1_rate=0.05),
    SMALL.replace(tile_size=None), SMALL.replace(weight_scaling="channel"),
])
def test_lossless_adc_equals_quantized_product(cfg):
    cfg = _lossless(cfg)
    lin = CrossbarLinear(40, 9, config=cfg)
    x = torch.randn(7, 40)
    y = _through_tiles(lin, x)
    torch.testing.assert_close(y, _reference_linear(lin, x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=3, padding=1), dict(kernel_size=3, stride=2, groups=2, bias=False),
    dict(kernel_size=3, padding=1, config=_lossless(SMALL.replace(saf0_rate=0.1, saf1_rate=0.1))),
    dict(kernel_size=(3, 2), stride=(2, 1), dilation=(1, 2), groups=2, padding=1,
         config=_lossless(SMALL.replace(saf0_rate=0.1, saf1_rate=0.1))),
    dict(kernel_size=(2, 3), dilation=2, padding=(1, 2)), dict(kernel_size=3, padding=1, padding_mode="reflect"),
    dict(kernel_size=1), dict(kernel_size=3, padding="same"),
])
def test_lossless_conv_equals_quantized_conv(kwargs):
    kwargs = {"config": _lossless(SMALL), **kwargs}
    conv = CrossbarConv2d(4, 6, **kwargs)
    x = torch.randn(2, 4, 7, 8)
    y = _through_tiles(conv, x)
    torch.testing.assert_close(y, _reference_conv(conv, x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("bits", [2, 3, 4, 6])
def test_at_most_2_pow_b_minus_1_distinct_weights(bits):
    layer = CrossbarLinear(64, 64, config=CrossbarConfig(weight_bits=bits, cell_bits=1))
    distinct = torch.unique(layer.effective_weight()).numel()
    assert distinct <= 2 ** bits - 1
    assert distinct >= 2 ** bits - 3  # the grid is actually used


def _output_error(cfg, seeds=range(3)):
    errs = []
    for seed in seeds:
        torch.manual_seed(seed)
        lin = nn.Linear(128, 32)
        x = torch.relu(torch.randn(64, 128))
        xl = CrossbarLinear.from_float(lin, cfg.replace(seed=seed))
        errs.append(float((xl(x) - lin(x)).detach().pow(2).mean()))
    return float(np.mean(errs))


def test_error_grows_with_defect_rates():
    base = CrossbarConfig(tile_size=64, weight_bits=8, cell_bits=2, input_bits=8, adc_bits=None)
    errs = [_output_error(base.replace(saf0_rate=r, saf1_rate=r / 4)) for r in (0.0, 0.01, 0.05, 0.2)]
    assert errs == sorted(errs) and errs[-1] > 10 * errs[0]
    var = [_output_error(base.replace(variation=v)) for v in (0.0, 0.05, 0.2)]
    assert var == sorted(var)


def test_error_shrinks_with_adc_bits():
    base = CrossbarConfig(tile_size=64, weight_bits=8, cell_bits=2, input_bits=8, dac_bits=1)
    errs = [_output_error(base.replace(adc_bits=b)) for b in (3, 4, 5, 6, 8, 10)]
    assert errs == sorted(errs, reverse=True) and errs[0] > 10 * errs[-1]


def test_same_seed_same_output_different_seed_different_chip():
    cfg = SMALL.replace(saf0_rate=0.05, saf1_rate=0.05, variation=0.1)
    lin = nn.Linear(30, 8)
    x = torch.randn(4, 30)
    a = CrossbarLinear.from_float(lin, cfg)(x)
    b = CrossbarLinear.from_float(lin, cfg)(x)
    c = CrossbarLinear.from_float(lin, cfg.replace(seed=1))(x)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_programming_only_when_weights_change(monkeypatch):
    layer = CrossbarLinear(20, 5, config=SMALL)
    calls = []
    original = type(layer).program
    monkeypatch.setattr(type(layer), "program", lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    x = torch.randn(3, 20)
    layer(x); layer(x)
    assert calls == []
    opt = torch.optim.SGD(layer.parameters(), lr=1.0)
    layer(x).sum().backward()
    opt.step()
    layer(x)
    assert calls == [1]


def test_nearest_update_vanishes_below_half_a_level():
    cfg = CrossbarConfig(weight_bits=4, input_bits=None, adc_bits=None, cell_bits=None, update="nearest")
    layer = CrossbarLinear(10, 3, config=cfg)
    w0 = layer.weight.detach().clone()
    step = float(layer.crossbar_weight_scale[0]) / cfg.weight_levels
    with torch.no_grad():
        layer.weight.add_(0.4 * step)                 # under half a level: vanishes
    layer(torch.randn(2, 10))
    assert torch.allclose(layer.weight, w0, atol=1e-6)
    with torch.no_grad():
        layer.weight.sub_(0.7 * step)                 # over half a level: one level down
    layer(torch.randn(2, 10))
    moved = (layer.weight - w0).abs()
    interior = w0.abs() < float(layer.crossbar_weight_scale[0]) - 1e-6
    assert torch.allclose(moved[interior], torch.full_like(moved[interior], step), atol=1e-5)


def test_stochastic_update_is_unbiased_and_seeded():
    cfg = CrossbarConfig(weight_bits=4, input_bits=None, adc_bits=None, cell_bits=None, update="stochastic")
    layer = CrossbarLinear(200, 50, config=cfg)
    step = float(layer.crossbar_weight_scale[0]) / cfg.weight_levels
    w0 = layer.weight.detach().clone()
    with torch.no_grad():
        layer.weight.add_(0.25 * step)
    layer.program()
    mean_move = float((layer.weight.detach() - w0)[w0.abs() < float(layer.crossbar_weight_scale[0]) - step].mean())
    assert abs(mean_move - 0.25 * step) < 0.05 * step


def test_digital_update_keeps_master_weights():
    cfg = CrossbarConfig(weight_bits=4, input_bits=None, adc_bits=None, cell_bits=None, update="digital")
    layer = CrossbarLinear(10, 3, config=cfg)
    with torch.no_grad():
        layer.weight.add_(1e-4)
    w = layer.weight.detach().clone()
    layer(torch.randn(2, 10))
    assert torch.equal(layer.weight, w)
    assert torch.unique(layer.effective_weight()).numel() <= 15


def test_state_dict_superset_and_float_checkpoint_loads():
    lin = nn.Linear(12, 4)
    xl = CrossbarLinear(12, 4, config=SMALL)
    assert set(lin.state_dict()) < set(xl.state_dict())
    assert all(k.startswith("crossbar_") for k in set(xl.state_dict()) - set(lin.state_dict()))
    xl.load_state_dict(lin.state_dict())           # strict: a float checkpoint loads
    x = torch.randn(3, 12)
    torch.testing.assert_close(xl(x), CrossbarLinear.from_float(lin, SMALL)(x))
    again = CrossbarLinear(12, 4, config=SMALL)
    again.load_state_dict(xl.state_dict())
    assert torch.equal(again(x), xl(x))


def test_deepcopy_pickle_and_to_float():
    conv = CrossbarConv2d(3, 5, 3, padding=1, config=SMALL.replace(saf1_rate=0.02))
    x = torch.randn(2, 3, 6, 6)
    y = conv(x)
    assert torch.equal(copy.deepcopy(conv)(x), y)
    buf = io.BytesIO()
    torch.save(conv, buf)
    buf.seek(0)
    assert torch.equal(torch.load(buf, weights_only=False)(x), y)
    assert torch.equal(pickle.loads(pickle.dumps(conv))(x), y)
    back = conv.to_float()
    assert type(back) is nn.Conv2d and torch.equal(back.weight, conv.weight)
    assert torch.equal(conv.to_float(effective=True).weight, conv.effective_weight())


def test_extra_repr_shows_config():
    assert "adc=8b" in repr(CrossbarLinear(4, 2, config=SMALL))


def test_bad_input_shapes_raise_clearly():
    with pytest.raises(ValueError, match="in_features=8"):
        CrossbarLinear(8, 2, config=SMALL)(torch.randn(3, 7))
    with pytest.raises(ValueError, match="in_channels=3"):
        CrossbarConv2d(3, 2, 3, config=SMALL)(torch.randn(1, 4, 5, 5))
    with pytest.raises(TypeError, match="CrossbarConfig"):
        CrossbarLinear(8, 2, config={"weight_bits": 4})
    with pytest.raises(TypeError, match="from_float"):
        CrossbarLinear.from_float(nn.Conv2d(1, 1, 1), SMALL)


def test_nan_weight_and_edge_inputs():
    layer = CrossbarLinear(6, 3, config=SMALL)
    with torch.no_grad():
        layer.weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        layer(torch.randn(2, 6))
    layer = CrossbarLinear(6, 3, config=SMALL)
    assert _through_tiles(layer, torch.randn(0, 6)).shape == (0, 3)
    assert _through_tiles(layer, torch.randn(6)).shape == (3,)
    x = torch.randn(3, 6)
    x[1, 2] = float("nan")
    y = _through_tiles(layer, x)
    assert torch.isnan(y[1]).all() and torch.isfinite(y[[0, 2]]).all()
    xt = torch.randn(6, 4).t()                      # non-contiguous
    torch.testing.assert_close(_through_tiles(layer, xt), _through_tiles(layer, xt.contiguous()))
    conv = CrossbarConv2d(2, 3, 3, config=SMALL)
    assert conv(torch.randn(2, 5, 5)).shape == (3, 3, 3)


def test_gradients_are_straight_through():
    layer = CrossbarLinear(16, 4, config=SMALL)
    x = torch.randn(5, 16, requires_grad=True)
    _through_tiles(layer, x).pow(2).sum().backward()
    gx, gw = x.grad.clone(), layer.weight.grad.clone()
    x.grad = None
    layer.weight.grad = None
    ref_x = x.detach().clone().requires_grad_(True)
    codes, s = quantize_input(ref_x, SMALL, 1)
    xq = codes * (s / SMALL.input_levels)[:, None]
    w = layer.weight + (layer.effective_weight() - layer.weight).detach()
    y = _through_tiles(layer, x).detach()
    (2 * y * F.linear(xq, w, layer.bias)).sum().backward()  # same upstream gradient 2*y
    torch.testing.assert_close(gx, ref_x.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(gw, layer.weight.grad, rtol=1e-4, atol=1e-5)


def test_big_layers_regenerate_tiles_with_the_same_result(monkeypatch):
    from reram.sim import mapping
    layer = CrossbarLinear(300, 40, config=SMALL.replace(saf1_rate=0.02))
    x = torch.randn(5, 300)
    cached = _through_tiles(layer, x)
    assert layer.programmed()._tile_cache
    monkeypatch.setattr(mapping, "TILE_CACHE_BYTES", 0)
    fresh = CrossbarLinear(300, 40, config=SMALL.replace(saf1_rate=0.02))
    fresh.load_state_dict(layer.state_dict())
    assert torch.equal(_through_tiles(fresh, x), cached)
    assert not fresh.programmed()._tile_cache


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    cfg = SMALL.replace(saf0_rate=0.05, variation=0.1)
    lin = CrossbarLinear(50, 7, config=cfg)
    conv = CrossbarConv2d(3, 4, 3, padding=1, config=cfg)
    x, xi = torch.randn(9, 50), torch.randn(2, 3, 6, 6)
    for layer, inp in ((lin, x), (conv, xi)):
        want = layer(inp)
        got = copy.deepcopy(layer).cuda()(inp.cuda()).cpu()
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_reloading_a_checkpoint_is_not_an_update():
    layer = CrossbarLinear(10, 4, config=SMALL.replace(update="stochastic"))
    opt = torch.optim.SGD(layer.parameters(), lr=0.5)
    layer(torch.randn(3, 10)).sum().backward()
    opt.step()
    layer(torch.randn(3, 10))
    state = copy.deepcopy(layer.state_dict())
    clone = CrossbarLinear(10, 4, config=SMALL.replace(update="stochastic"))
    clone.load_state_dict(state)
    x = torch.randn(3, 10)
    assert torch.equal(clone(x), layer(x))
    assert int(clone.crossbar_update_count) == int(layer.crossbar_update_count)
    assert torch.equal(clone.weight, layer.weight)


@pytest.mark.parametrize("cfg", [SMALL, SMALL.replace(update="pulsed", device="epiram")],
                         ids=["nearest", "pulsed"])
def test_meta_model_converts_and_programs_on_first_real_use(cfg):
    """Issue 15: convert of a meta-device model used to fail in programming (Tensor.item() on
    meta tensors); now it programs after to_empty(), from load_state_dict or the first forward."""
    with torch.device("meta"):
        meta = nn.Sequential(nn.Conv2d(2, 4, 3), nn.Flatten(), nn.Linear(16, 3))
    converted = reram.convert(meta, cfg)
    assert converted[0].weight.device.type == "meta"
    torch.manual_seed(0)
    reference = nn.Sequential(nn.Conv2d(2, 4, 3), nn.Flatten(), nn.Linear(16, 3))
    want = reram.convert(reference, cfg)
    x = torch.randn(2, 2, 4, 4)
    loaded = copy.deepcopy(converted).to_empty(device="cpu")
    loaded.load_state_dict(reference.state_dict())          # a float checkpoint
    torch.testing.assert_close(loaded(x), want(x), rtol=0, atol=0)
    first_use = copy.deepcopy(converted).to_empty(device="cpu")
    with torch.no_grad():  # weights set in place, buffers left as to_empty() made them
        for mine, theirs in zip(first_use.parameters(), reference.parameters()):
            mine.copy_(theirs)
    torch.testing.assert_close(first_use(x), want(x), rtol=0, atol=0)
    assert int(first_use[0].crossbar_update_count) == int(want[0].crossbar_update_count) == 1
