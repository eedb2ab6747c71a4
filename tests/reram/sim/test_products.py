"""The integer path's product chosen by measurement: every candidate gives the fp32 path's bits,
candidates are offered only where exact, the choice is measured once per shape class, and the
override works."""
from __future__ import annotations

import pytest
import torch

from reram import CrossbarConfig, CrossbarConv2d, CrossbarLinear
from reram.sim import functional, products
from reram.sim.functional import crossbar_conv2d, crossbar_linear
from reram.sim.products import (FP32_EXACT_CURRENT, PRODUCTS, choose_product, exact_products,
                                measure_products, runs_on, set_product)

BASE = CrossbarConfig(tile_size=7, weight_bits=6, cell_bits=2, input_bits=6, dac_bits=2, adc_bits=5)
#: the integer path's config sweep (as tests/reram/sim/test_integer_path.py)
CONFIGS = ([BASE.replace(weight_bits=8, cell_bits=c) for c in range(1, 9)]
           + [BASE.replace(input_bits=8, dac_bits=d) for d in range(1, 9)]
           + [BASE.replace(saf0_rate=0.1, saf1_rate=0.1), BASE.replace(differential="analog"),
              BASE.replace(weight_scaling="channel"), BASE.replace(tile_size=None),
              BASE.replace(adc_bits=3, adc_range=0.25), BASE.replace(adc_bits=None),
              BASE.replace(input_bits=12, dac_bits=3), BASE.replace(input_bits=16, dac_bits=1),
              CrossbarConfig(tile_size=128, weight_bits=8, cell_bits=7, input_bits=8, dac_bits=8,
                             adc_bits=8),
              CrossbarConfig.preset("isaac"), CrossbarConfig.preset("neurosim")])
CPU_PRODUCTS = [name for name, p in PRODUCTS.items() if runs_on(p, torch.device("cpu"))]


@pytest.fixture(autouse=True)
def _fresh_choice():
    set_product(None)
    yield
    set_product(None)


def _run(layer, x, path, monkeypatch):
    monkeypatch.setattr(functional, "product_path", lambda config, k, force_tiles=False: path)
    cfg, prog = layer.crossbar_config, layer.programmed()
    if isinstance(layer, CrossbarConv2d):
        return crossbar_conv2d(x, layer, prog, cfg, force_tiles=True)
    return crossbar_linear(x, layer.weight, layer.bias, prog, cfg, force_tiles=True)


def _same_bits(a, b):
    torch.testing.assert_close(a, b, rtol=0, atol=0, equal_nan=True)


def test_cpu_runs_int_mm_and_fp32():
    assert {"int_mm", "fp32"} <= set(CPU_PRODUCTS)


@pytest.mark.parametrize("name", CPU_PRODUCTS)
@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.describe().replace(" ", ","))
def test_every_product_gives_the_fp32_path_bits(cfg, name, monkeypatch):
    torch.manual_seed(0)
    layer = CrossbarLinear(150, 9, config=cfg)
    x = torch.randn(11, 150)
    x[3, 5] = float("nan")
    for inp in (x, x.relu(), torch.zeros(0, 150)):
        want = _run(layer, inp, "fp32", monkeypatch)
        set_product(name)
        _same_bits(_run(layer, inp, "int8", monkeypatch), want)
        set_product(None)
    set_product(name)
    assert torch.isnan(_run(layer, x, "int8", monkeypatch)[3]).all()


@pytest.mark.parametrize("name", CPU_PRODUCTS)
@pytest.mark.parametrize("cfg", [BASE, BASE.replace(saf0_rate=0.1, saf1_rate=0.05, cell_bits=1,
                                                    dac_bits=3, tile_size=5),
                                 BASE.replace(input_bits=12, dac_bits=2),
                                 CrossbarConfig.preset("isaac")])
def test_every_product_gives_the_fp32_path_bits_on_a_conv(cfg, name, monkeypatch):
    torch.manual_seed(1)
    conv = CrossbarConv2d(4, 6, 3, padding=1, config=cfg)
    x = torch.randn(3, 4, 7, 8)
    for inp in (x, x.relu()):
        want = _run(conv, inp, "fp32", monkeypatch)
        set_product(name)
        _same_bits(_run(conv, inp, "int8", monkeypatch), want)
        set_product(None)


def test_fp32_is_offered_only_below_2_to_the_24():
    assert {p.name for p in exact_products(FP32_EXACT_CURRENT - 1)} >= {"int_mm", "fp32"}
    assert [p.name for p in exact_products(FP32_EXACT_CURRENT)] == ["int_mm"]
    assert choose_product(256, 128, 1024, FP32_EXACT_CURRENT).name == "int_mm"


def test_override_applies_where_exact_and_falls_back_elsewhere(monkeypatch):
    set_product("fp32")
    assert choose_product(256, 128, 1024, 1000).name == "fp32"
    assert choose_product(256, 128, 1024, 1 << 30).name == "int_mm"
    set_product("int_mm")
    assert choose_product(256, 128, 1024, 1000).name == "int_mm"
    set_product(None)
    monkeypatch.setenv("RERAM_PRODUCT", "fp32")
    assert choose_product(256, 128, 1024, 1000).name == "fp32"
    monkeypatch.setenv("RERAM_PRODUCT", "gemm")
    with pytest.raises(ValueError, match="RERAM_PRODUCT"):
        choose_product(256, 128, 1024, 1000)
    with pytest.raises(ValueError, match="product must be one of"):
        set_product("int4")


def test_choice_is_measured_once_per_shape_class(monkeypatch):
    calls = []

    def fake(rows, k, cols, candidates, repeats=5):
        calls.append((rows, k, cols))
        return {p.name: (0.5 if p.name == "fp32" else 1.0) for p in candidates}
    monkeypatch.setattr(products, "measure_products", fake)
    monkeypatch.delenv("RERAM_PRODUCT", raising=False)
    assert choose_product(200, 128, 512, 1000).name == "fp32"
    assert choose_product(256, 128, 512, 1000).name == "fp32"   # same class: rows <= 256
    assert len(calls) == 1
    choose_product(300, 128, 512, 1000)                         # rows <= 512: measured again
    assert len(calls) == 2 and calls[1][0] == 256               # measured on at most 256 rows
    assert "rows<=256 k=128 cols=512" in products.chosen_products()


def test_measurement_times_every_candidate():
    times = measure_products(32, 16, 64, repeats=2)
    assert set(times) == set(CPU_PRODUCTS) and all(t >= 0 for t in times.values())


def test_bf16_where_it_runs_is_exact_for_8_bit_operands():
    device = torch.device("cpu")
    if not runs_on(PRODUCTS["bf16"], device):
        pytest.skip("torch runs no bf16 x bf16 -> fp32 product on CPU")
    a = torch.randint(0, 256, (64, 128)).float()
    b = torch.randint(0, 256, (128, 32)).float()
    out = torch.empty(64, 32)
    PRODUCTS["bf16"](a.bfloat16(), b.bfloat16(), out)
    _same_bits(out, a @ b)
