"""Issue 23, round 2: what a forward keeps with the programmed weights (the batched read's
float32 cells, the output's weight units), the bias added by the output scaling pass, the ADC
passes counting informative codes only until one is found and a conv's input quantized by one
kernel pass into padded channels-last codes give the bits of the steps they replace; every
kept value is dropped when the layer is re-programmed (an optimizer step, a pulsed update,
``load_state_dict``, a new config, ``.to(dtype)``). Each test also checks that
the cut was taken, so that it cannot pass by running the old steps twice."""
from __future__ import annotations

import pytest
import torch

from reram import CrossbarConfig, CrossbarConv2d, CrossbarLinear
from reram.sim import backends, functional, tiles
from reram.sim.products import set_product

BASE = CrossbarConfig(tile_size=7, weight_bits=6, cell_bits=2, input_bits=6, dac_bits=2, adc_bits=5)
ONE_SLICE = CrossbarConfig(tile_size=128, weight_bits=8, cell_bits=7, input_bits=8, dac_bits=8,
                           adc_bits=8)
#: the integer path's config sweep (as tests/reram/sim/test_forward_steps.py), and the fp32 path
CONFIGS = ([BASE.replace(weight_bits=8, cell_bits=c) for c in (1, 3, 7, 8)]
           + [BASE.replace(input_bits=8, dac_bits=d) for d in (1, 4, 8)]
           + [BASE.replace(saf0_rate=0.1, saf1_rate=0.1), BASE.replace(differential="analog"),
              BASE.replace(weight_scaling="channel"), BASE.replace(tile_size=None),
              BASE.replace(adc_bits=3, adc_range=0.25), BASE.replace(input_bits=12, dac_bits=3),
              ONE_SLICE, CrossbarConfig.preset("isaac"), CrossbarConfig.preset("neurosim"),
              BASE.replace(variation=0.05), BASE.replace(read_noise=0.02)])
SWITCHES = ((tiles, "_KEEP"), (functional, "_FUSE_BIAS"), (backends, "_COUNT_UNTIL_FOUND"),
            (functional, "_KERNEL_QUANTIZE_CONV"))


@pytest.fixture(autouse=True)
def _restore():
    yield
    _switch(True)
    set_product(None)


def _switch(on: bool) -> None:
    for module, name in SWITCHES:
        setattr(module, name, on)


def _same_bits(a, b):
    torch.testing.assert_close(a, b, rtol=0, atol=0, equal_nan=True)


def _named(program) -> dict:
    """The kept values (the tile cells' keys start with a group number, these with a name)."""
    return {key: v for key, v in program._tile_cache.items() if isinstance(key[0], str)}


def _inputs(shape):
    torch.manual_seed(3)
    x = torch.randn(shape)
    x.view(-1)[5] = float("nan")
    return [x, x.relu(), torch.zeros(0, *shape[1:]), x * 1e3]


def _before_and_after(layer, x):
    """``(before, after)``: the layer's outputs with every round-2 cut off, then on (the read
    noise of a noisy config is drawn per read, so the read counter is wound back between)."""
    prog = layer.programmed()
    reads = prog.reads
    _switch(False)
    before = layer(x)
    prog.reads = reads
    _switch(True)
    return before, layer(x)


@pytest.mark.parametrize("product", ["fp32", "int_mm"])
@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.describe().replace(" ", ","))
def test_linear_cuts_give_the_bits_of_the_steps_they_replace(cfg, product, monkeypatch):
    set_product(product)
    torch.manual_seed(0)
    layer = CrossbarLinear(150, 9, config=cfg).eval()
    scaled = []
    original = backends.NumbaBackend.scale_into_nchw

    def spy(self, acc, row_scale, col_scale, out, bias=None):
        scaled.append(bias)
        return original(self, acc, row_scale, col_scale, out, bias)
    monkeypatch.setattr(backends.NumbaBackend, "scale_into_nchw", spy)
    with torch.no_grad():
        for x in _inputs((11, 150)):
            before, after = _before_and_after(layer, x)
            _same_bits(after, before)
    if tiles.needs_tiles(cfg, 150) is None:
        return  # the plain product: nothing kept, no scaling pass
    assert scaled[-1] is layer.bias.float() or torch.equal(scaled[-1], layer.bias)
    assert any(b is None for b in scaled)  # the switch off: the bias added after
    kept = _named(layer.programmed())
    assert ("weight_units", torch.device("cpu")) in kept
    batched = (product == "fp32" and tiles.product_path(cfg, 150) == "int8"
               and -(-150 // (cfg.tile_size or 150)) > 1)
    assert any(key[0] == "stacked" for key in kept) == batched


@pytest.mark.parametrize("grad", [False, True])
@pytest.mark.parametrize("cfg", [ONE_SLICE, BASE, CrossbarConfig.preset("neurosim")],
                         ids=lambda c: c.describe().replace(" ", ","))
def test_conv_cuts_give_the_bits_of_the_steps_they_replace(cfg, grad):
    torch.manual_seed(0)
    conv = CrossbarConv2d(5, 7, 3, padding=1, config=cfg)
    for x in _inputs((3, 5, 6, 6))[:2]:
        with torch.set_grad_enabled(grad):
            before, after = _before_and_after(conv, x)
        _same_bits(after, before)
    assert ("weight_units", torch.device("cpu")) in _named(conv.programmed())


def test_a_bias_that_needs_its_gradient_is_added_after_the_pass():
    torch.manual_seed(0)
    layer = CrossbarLinear(40, 6, config=ONE_SLICE)
    x = torch.randn(4, 40)
    layer(x).sum().backward()
    torch.testing.assert_close(layer.bias.grad, torch.full((6,), 4.0))
    layer.bias.requires_grad_(False)    # frozen: added by the pass, same bits
    with torch.no_grad():
        want = layer(x)
    _same_bits(layer(x), want)


def _kept_after(layer, x):
    with torch.no_grad():
        y = layer(x)
    return y, dict(_named(layer.programmed()))


def _fresh_like(layer, cfg=None, dtype=torch.float32):
    fresh = CrossbarLinear(layer.in_features, layer.out_features,
                           config=cfg or layer.crossbar_config, dtype=dtype).train(layer.training)
    fresh.load_state_dict(layer.state_dict())
    return fresh


def _all_new(old: dict, new: dict) -> bool:
    return bool(new) and all(new[key] is not old.get(key) for key in new)


@pytest.fixture
def fp32_product():
    set_product("fp32")  # the batched read (and its kept float32 cells) runs on it


def test_an_optimizer_step_drops_the_kept_values(fp32_product):
    torch.manual_seed(0)
    layer = CrossbarLinear(300, 20, config=ONE_SLICE)
    x = torch.randn(8, 300)
    y0, kept0 = _kept_after(layer, x)
    assert any(key[0] == "stacked" for key in kept0)
    opt = torch.optim.SGD(layer.parameters(), lr=0.5)
    layer(x).square().sum().backward()
    opt.step()
    y1, kept1 = _kept_after(layer, x)
    assert not torch.equal(y0, y1) and _all_new(kept0, kept1)
    with torch.no_grad():
        _same_bits(y1, _fresh_like(layer)(x))


def test_load_state_dict_drops_the_kept_values(fp32_product):
    torch.manual_seed(0)
    layer, other = (CrossbarLinear(300, 20, config=ONE_SLICE) for _ in range(2))
    x = torch.randn(8, 300)
    _, kept0 = _kept_after(layer, x)
    layer.load_state_dict(other.state_dict())
    y1, kept1 = _kept_after(layer, x)
    assert _all_new(kept0, kept1)
    with torch.no_grad():
        _same_bits(y1, other(x))


@pytest.mark.parametrize("change", [dict(adc_bits=6), dict(cell_bits=4), dict(tile_size=64),
                                    dict(saf1_rate=0.05)])
def test_a_new_config_reprograms_and_drops_the_kept_values(change, fp32_product):
    torch.manual_seed(0)
    layer = CrossbarLinear(300, 20, config=ONE_SLICE).eval()
    x = torch.randn(8, 300)
    y0, kept0 = _kept_after(layer, x)
    updates = int(layer.crossbar_update_count)
    layer.crossbar_config = ONE_SLICE.replace(**change)
    y1, kept1 = _kept_after(layer, x)
    assert _all_new(kept0, kept1) and not torch.equal(y0, y1)
    assert int(layer.crossbar_update_count) == updates  # the same weights: not an update
    with torch.no_grad():
        _same_bits(y1, _fresh_like(layer, layer.crossbar_config)(x))


def test_a_dtype_change_drops_the_kept_values(fp32_product):
    torch.manual_seed(0)
    layer = CrossbarLinear(300, 20, config=ONE_SLICE).eval()
    x = torch.randn(8, 300)
    y0, kept0 = _kept_after(layer, x)
    layer.double()
    y1, kept1 = _kept_after(layer, x.double())
    assert y1.dtype == torch.float64 and _all_new(kept0, kept1)
    with torch.no_grad():
        _same_bits(y1, _fresh_like(layer, dtype=torch.float64)(x.double()))
    layer.float()  # float32 -> float64 -> float32 is exact: the first outputs again
    y2, kept2 = _kept_after(layer, x)
    assert _all_new(kept1, kept2)
    _same_bits(y2, y0)


def test_a_pulsed_update_drops_the_kept_values():
    torch.manual_seed(0)
    cfg = ONE_SLICE.replace(update="pulsed", device="linear")
    layer = CrossbarLinear(300, 20, config=cfg)
    x = torch.randn(8, 300)
    y0, kept0 = _kept_after(layer, x)
    assert kept0
    opt = torch.optim.SGD(layer.parameters(), lr=0.5)
    layer(x).square().sum().backward()
    opt.step()
    y1, kept1 = _kept_after(layer, x)
    assert not torch.equal(y0, y1) and _all_new(kept0, kept1)
    with torch.no_grad():
        _same_bits(y1, _fresh_like(layer)(x))


CONV_CASES = [dict(padding=1), dict(padding=(2, 0), stride=2), dict(padding=2, dilation=2),
              dict(padding=0, bias=False), dict(padding=1, groups=5),
              dict(padding=1, padding_mode="reflect"), dict(padding="same")]


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
@pytest.mark.parametrize("cfg", [ONE_SLICE, BASE, BASE.replace(input_bits=12, dac_bits=3),
                                 CrossbarConfig.preset("isaac"), BASE.replace(variation=0.05)],
                         ids=lambda c: c.describe().replace(" ", ","))
def test_conv_kernel_quantizer_gives_the_torch_steps_bits(cfg, case, monkeypatch):
    set_product("fp32")
    torch.manual_seed(0)
    conv = CrossbarConv2d(5, 10, 3, config=cfg, **case).eval()
    calls = []
    original = backends.NumbaBackend.quantize_nhwc

    def spy(self, *args):
        calls.append(original(self, *args))
        return calls[-1]
    monkeypatch.setattr(backends.NumbaBackend, "quantize_nhwc", spy)
    inputs = _inputs((3, 5, 7, 6)) + [torch.full((2, 5, 7, 6), 1e-39), torch.randn(5, 7, 6)]
    with torch.no_grad():
        for x in inputs:
            before, after = _before_and_after(conv, x)
            _same_bits(after, before)
    taken = (tiles.product_path(cfg, 45) == "int8" and case.get("groups", 1) == 1
             and "padding_mode" not in case and case["padding"] != "same")
    assert bool(calls) == taken
    if taken:  # the subnormal batch fell back to the torch steps
        assert calls.count(None) == 1 and len(calls) == len(inputs)  # the empty batch too


def test_conv_kernel_quantizer_is_skipped_where_a_gradient_is_needed(monkeypatch):
    conv = CrossbarConv2d(5, 10, 3, padding=1, config=ONE_SLICE)
    calls = []
    monkeypatch.setattr(backends.NumbaBackend, "quantize_nhwc",
                        lambda self, *a: calls.append(1))
    conv(torch.randn(2, 5, 6, 6)).sum().backward()
    with torch.no_grad():
        conv(torch.randn(2, 5, 6, 6).double())   # float64 in: the torch steps
    assert calls == [] and conv.weight.grad is not None
