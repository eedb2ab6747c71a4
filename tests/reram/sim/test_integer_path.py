"""The integer product path (int8 cells and digits, int32 currents) gives the fp32 path's bits,
and the fp32 path is chosen where the integer one would not be exact."""
from __future__ import annotations

import pytest
import torch

from reram import CrossbarConfig, CrossbarConv2d, CrossbarLinear
from reram.sim import functional, tiles
from reram.sim.functional import crossbar_conv2d, crossbar_linear, product_path

BASE = CrossbarConfig(tile_size=7, weight_bits=6, cell_bits=2, input_bits=6, dac_bits=2, adc_bits=5)


def _run(layer, x, path, monkeypatch, force=False):
    """The layer's output with the tiled product forced onto ``path``."""
    monkeypatch.setattr(functional, "product_path",
                        lambda config, k, force_tiles=False: path)
    cfg, prog = layer.crossbar_config, layer.programmed()
    if isinstance(layer, CrossbarConv2d):
        return crossbar_conv2d(x, layer, prog, cfg, force_tiles=force)
    return crossbar_linear(x, layer.weight, layer.bias, prog, cfg, force_tiles=force)


def _same_bits(a, b):
    torch.testing.assert_close(a, b, rtol=0, atol=0, equal_nan=True)


CONFIGS = ([BASE.replace(weight_bits=8, cell_bits=c) for c in range(1, 9)]
           + [BASE.replace(input_bits=8, dac_bits=d) for d in range(1, 9)]
           + [BASE.replace(saf0_rate=0.1, saf1_rate=0.1), BASE.replace(differential="analog"),
              BASE.replace(weight_scaling="channel"), BASE.replace(tile_size=None),
              BASE.replace(adc_bits=3, adc_range=0.25), BASE.replace(adc_bits=None),
              BASE.replace(input_bits=12, dac_bits=3), BASE.replace(input_bits=16, dac_bits=1)])


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.describe().replace(" ", ","))
def test_linear_integer_path_is_bit_identical(cfg, monkeypatch):
    assert product_path(cfg, 40, force_tiles=True) == "int8"
    torch.manual_seed(0)
    layer = CrossbarLinear(40, 9, config=cfg)
    x = torch.randn(11, 40)
    x[3, 5] = float("nan")
    for inp in (x, x.relu(), torch.zeros(0, 40)):
        _same_bits(_run(layer, inp, "int8", monkeypatch, force=True),
                   _run(layer, inp, "fp32", monkeypatch, force=True))
    assert torch.isnan(_run(layer, x, "int8", monkeypatch, force=True)[3]).all()


@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=3, padding=1), dict(kernel_size=3, stride=2, groups=2, bias=False),
    dict(kernel_size=(3, 2), stride=(2, 1), dilation=(1, 2), groups=2, padding=1),
    dict(kernel_size=(2, 3), dilation=2, padding=(1, 2), padding_mode="reflect"),
])
@pytest.mark.parametrize("cfg", [BASE, BASE.replace(saf0_rate=0.1, saf1_rate=0.05, cell_bits=1,
                                                    dac_bits=3, tile_size=5),
                                 BASE.replace(input_bits=12, dac_bits=2)])
def test_conv_integer_path_is_bit_identical(kwargs, cfg, monkeypatch):
    torch.manual_seed(1)
    conv = CrossbarConv2d(4, 6, config=cfg, **kwargs)
    x = torch.randn(3, 4, 7, 8)
    x[1, 2, 3, 3] = float("nan")
    for inp in (x, x.relu(), torch.zeros(0, 4, 7, 8)):
        _same_bits(_run(conv, inp, "int8", monkeypatch), _run(conv, inp, "fp32", monkeypatch))


def test_fallback_chosen_where_the_integer_product_is_not_exact():
    k = 300
    assert product_path(BASE, k) == "int8"
    assert product_path(BASE.replace(variation=0.05), k) == "fp32"
    assert product_path(BASE.replace(read_noise=0.01), k) == "fp32"
    assert product_path(BASE.replace(read_noise=0.01, adc_bits=None), k) == "fp32"
    # cells above 127: 8 bits per cell need a 9-bit magnitude
    assert product_path(BASE.replace(weight_bits=10, cell_bits=8), k) == "fp32"
    assert product_path(BASE.replace(weight_bits=9, cell_bits=7), k) == "int8"
    # digits above 127: an 8-bit DAC on a 9-bit input magnitude
    assert product_path(BASE.replace(input_bits=10, dac_bits=8), k) == "fp32"
    assert product_path(BASE.replace(input_bits=10, dac_bits=7), k) == "int8"
    # sums past int32: 2**31 / (127 * 127) rows of the largest digits and cells
    wide = BASE.replace(tile_size=1 << 20, weight_bits=8, cell_bits=7, input_bits=8, dac_bits=7)
    assert product_path(wide, 100_000) == "int8"
    assert product_path(wide, 140_000) == "fp32"
    assert product_path(BASE.replace(input_bits=None), k) == "fp32"
    assert product_path(BASE.replace(weight_bits=None, cell_bits=None), k) == "fp32"
    # lossless ADCs and ideal configs need no tiles at all
    assert product_path(BASE.replace(adc_bits=24), k) == "plain"
    assert product_path(CrossbarConfig.ideal(), k) == "plain"
    assert product_path(BASE.replace(adc_bits=24), k, force_tiles=True) == "int8"
    assert set(tiles.PRODUCT_PATHS) == {"plain", "int8", "fp32"}


def test_presets_take_the_path_their_cells_allow():
    assert product_path(CrossbarConfig.preset("neurosim"), 576) == "int8"
    assert product_path(CrossbarConfig.preset("isaac"), 576) == "int8"
    assert product_path(CrossbarConfig(), 576) == "int8"


def test_integer_cells_are_stored_once_per_programming(monkeypatch):
    from reram.sim import products
    monkeypatch.setattr(products, "_override", "int_mm")  # int8 cells (not the host's choice)
    layer = CrossbarLinear(40, 9, config=BASE)
    layer(torch.randn(4, 40))
    prog = layer.programmed()
    cells = lambda: [v for key, v in prog._tile_cache.items()  # noqa: E731 (tile keys: group first)
                     if isinstance(key[0], int) and key[3] == torch.int8]
    cached = cells()
    assert len(cached) == prog.n_tiles() and all(c.dtype == torch.int8 for c in cached)
    layer(torch.randn(4, 40))
    again = cells()
    assert all(a is b for a, b in zip(cached, again))
    assert not any(key[-1] == torch.float32 for key in prog._tile_cache)


@pytest.mark.parametrize("cfg", [CrossbarConfig.preset("isaac").replace(weight_bits=8, input_bits=8),
                                 CrossbarConfig.preset("neurosim"), BASE.replace(differential="analog")])
def test_float32_adc_pass_gives_the_float64_pass_bits(cfg, monkeypatch):
    """Where a float32 multiplier is exact the ADC pass uses it; the outputs equal those of the
    float64 pass bit for bit (conv: the patches streamed straight from the input)."""
    torch.manual_seed(2)
    layers = [(CrossbarLinear(300, 9, config=cfg), torch.randn(13, 300)),
              (CrossbarConv2d(20, 6, 3, padding=1, config=cfg), torch.randn(2, 20, 6, 6))]
    rows = min(cfg.tile_size, 300)
    cell, digit = (1 << cfg.slice_bits) - 1, (1 << cfg.cycle_bits) - 1
    from reram.sim.mapping import adc_params
    adc = adc_params(cfg, cfg.tile_size)
    from reram.kernels import int_adc_multiplier
    assert int_adc_multiplier(adc.step, adc.code_lo, adc.code_hi, rows * cell * digit) is not None
    want = [layer(x) for layer, x in layers]
    monkeypatch.setattr(tiles, "exact_int_adc", lambda *args: None)  # the float64 pass
    got = [layer(x) for layer, x in layers]
    for g, w in zip(got, want):
        _same_bits(g, w)


@pytest.mark.parametrize("cfg", [BASE, BASE.replace(input_bits=8, dac_bits=8, cell_bits=7, weight_bits=8),
                                 BASE.replace(differential="analog", saf1_rate=0.1)])
def test_transposed_read_integer_path_is_bit_identical(cfg, monkeypatch):
    """The analog backward's transposed read (int8 error codes, integer products) gives the
    fp32 path's bits."""
    torch.manual_seed(3)
    layer = CrossbarLinear(23, 17, config=cfg)
    prog = layer.programmed()
    err = torch.randint(-cfg.input_levels, cfg.input_levels + 1, (9, 17)).float()
    err[4, 2] = float("nan")
    want, _ = tiles.transposed_read(err, prog, cfg)
    monkeypatch.setattr(tiles, "integer_product_fits", lambda *args: False)
    got, _ = tiles.transposed_read(err, prog, cfg)
    ok = torch.arange(9) != 4  # a NaN error code: the caller's NaN scale makes its row NaN
    assert torch.isnan(got[4]).any() and not torch.isnan(want[ok]).any()
    _same_bits(want[ok], got[ok])
