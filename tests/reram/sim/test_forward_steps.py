"""The per-forward step cuts give the bits of the steps they replace: a Linear layer's input
quantized by one kernel pass without autograd (``functional._KERNEL_QUANTIZE``), and a Linear
layer's tiles read in one step per chunk (``tiles._BATCH_TILES``). Each test also checks that
the cut was taken, so that it cannot pass by running the old steps twice."""
from __future__ import annotations

import pytest
import torch

from reram import CrossbarConfig, CrossbarLinear
from reram.sim import backends, functional, tiles
from reram.sim.products import set_product

BASE = CrossbarConfig(tile_size=7, weight_bits=6, cell_bits=2, input_bits=6, dac_bits=2, adc_bits=5)
ONE_SLICE = CrossbarConfig(tile_size=128, weight_bits=8, cell_bits=7, input_bits=8, dac_bits=8,
                           adc_bits=8)
#: the integer path's config sweep (as tests/reram/sim/test_products.py)
CONFIGS = ([BASE.replace(weight_bits=8, cell_bits=c) for c in (1, 3, 7, 8)]
           + [BASE.replace(input_bits=8, dac_bits=d) for d in (1, 4, 8)]
           + [BASE.replace(saf0_rate=0.1, saf1_rate=0.1), BASE.replace(differential="analog"),
              BASE.replace(weight_scaling="channel"), BASE.replace(tile_size=None),
              BASE.replace(adc_bits=3, adc_range=0.25), BASE.replace(adc_bits=None),
              BASE.replace(input_bits=12, dac_bits=3), BASE.replace(input_bits=16, dac_bits=1),
              ONE_SLICE, CrossbarConfig.preset("isaac"), CrossbarConfig.preset("neurosim")])


@pytest.fixture(autouse=True)
def _restore():
    yield
    functional._KERNEL_QUANTIZE = True
    tiles._BATCH_TILES = True
    set_product(None)


def _same_bits(a, b):
    torch.testing.assert_close(a, b, rtol=0, atol=0, equal_nan=True)


def _inputs(k):
    torch.manual_seed(3)
    x = torch.randn(11, k)
    x[3, 5] = float("nan")
    x[4] = 0.0
    x[6, 2] = float("inf")
    return [x, x.relu(), torch.zeros(0, k), torch.randn(2, 5, k) * 1e3, x[:, :k // 2 * 2]]


def _forward(layer, x):
    """The layer's forward through the tiles (``force_tiles``: also where the ADC is lossless)."""
    return functional.crossbar_linear(x, layer.weight, layer.bias, layer.programmed(),
                                      layer._sim_config, force_tiles=True)


def _spy(monkeypatch, module, name):
    calls = []
    original = getattr(module, name)

    def spy(*args, **kwargs):
        result = original(*args, **kwargs)
        calls.append(result)
        return result
    monkeypatch.setattr(module, name, spy)
    return calls


@pytest.mark.parametrize("product", ["fp32", "int_mm"])
@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.describe().replace(" ", ","))
def test_kernel_quantized_forward_gives_the_torch_steps_bits(cfg, product, monkeypatch):
    set_product(product)
    torch.manual_seed(0)
    layer = CrossbarLinear(150, 9, config=cfg).eval()
    calls = _spy(monkeypatch, backends.NumbaBackend, "quantize_rows")
    for x in _inputs(150)[:4]:
        with torch.no_grad():
            functional._KERNEL_QUANTIZE = False
            want = _forward(layer, x)
            functional._KERNEL_QUANTIZE = True
            got = _forward(layer, x)
        _same_bits(got, want)
        assert got.dtype == want.dtype == torch.float32
    assert any(c is not None for c in calls)  # the kernel ran (and was not refused)
    with torch.no_grad():  # and through the layer's own forward (plain where lossless)
        _same_bits(layer(_inputs(150)[0]), _forward(layer, _inputs(150)[0])
                   if tiles.needs_tiles(layer._sim_config, 150) is not None
                   else layer(_inputs(150)[0]))


def test_kernel_quantizer_is_skipped_where_autograd_or_float64_needs_the_torch_steps(monkeypatch):
    layer = CrossbarLinear(40, 6, config=ONE_SLICE)
    calls = _spy(monkeypatch, backends.NumbaBackend, "quantize_rows")
    x = torch.randn(4, 40, requires_grad=True)
    layer(x).sum().backward()               # training: float codes saved for the backward
    assert x.grad is not None and layer.weight.grad is not None
    with torch.no_grad():
        y64 = layer(x.detach().double())    # float64 in, float64 out
    assert y64.dtype == torch.float64
    assert calls == []
    with torch.no_grad():
        layer(x.detach())
    assert len(calls) == 1


def test_subnormal_samples_fall_back_to_the_torch_steps(monkeypatch):
    layer = CrossbarLinear(40, 6, config=ONE_SLICE).eval()
    calls = _spy(monkeypatch, backends.NumbaBackend, "quantize_rows")
    x = torch.randn(3, 40) * 1e-39
    with torch.no_grad():
        functional._KERNEL_QUANTIZE = False
        want = layer(x)
        functional._KERNEL_QUANTIZE = True
        got = layer(x)
    assert calls == [None]
    _same_bits(got, want)


@pytest.mark.parametrize("grad", [False, True])
@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.describe().replace(" ", ","))
def test_batched_tiles_give_one_tile_at_a_time_bits(cfg, grad, monkeypatch):
    set_product("fp32")  # the batched read runs on a float32 product
    torch.manual_seed(0)
    layer = CrossbarLinear(150, 9, config=cfg)
    calls = _spy(monkeypatch, tiles, "_read_tiles_batched")
    n_tiles = -(-150 // (cfg.tile_size or 150))
    for x in _inputs(150):
        with torch.set_grad_enabled(grad):
            tiles._BATCH_TILES = False
            want = _forward(layer, x)
            tiles._BATCH_TILES = True
            got = _forward(layer, x)
        _same_bits(got, want)
    assert bool(calls) == (n_tiles > 1)


def test_batched_tiles_chunk_the_inputs(monkeypatch):
    """Several chunks of inputs (the last one shorter) through the batched read."""
    set_product("fp32")
    monkeypatch.setattr(tiles, "INT_CURRENT_BUFFER_BYTES", 1)  # the minimum product rows
    monkeypatch.setattr(tiles, "_MIN_PRODUCT_ROWS", 8)
    monkeypatch.setattr(tiles, "_BATCH_CURRENT_BYTES", 1)
    calls = _spy(monkeypatch, tiles, "_read_tiles_batched")
    products = _spy(monkeypatch, torch, "bmm")
    layer = CrossbarLinear(300, 20, config=ONE_SLICE).eval()
    x = torch.randn(37, 300)
    with torch.no_grad():
        tiles._BATCH_TILES = False
        want = layer(x)
        tiles._BATCH_TILES = True
        got = layer(x)
    _same_bits(got, want)
    assert calls
    assert len(products) == -(-37 // 4)  # 8 product rows: 4 inputs x 2 phases per chunk
    assert max(p.shape[1] for p in products) == 8


def test_reprogrammed_weights_are_read_after_an_optimizer_step():
    """The batched read takes the cells of the current programming (no stale copy)."""
    set_product("fp32")
    torch.manual_seed(0)
    layer = CrossbarLinear(300, 20, config=ONE_SLICE)
    opt = torch.optim.SGD(layer.parameters(), lr=0.5)
    x = torch.randn(8, 300)
    with torch.no_grad():
        before = layer(x)
    layer(x).square().sum().backward()
    opt.step()
    with torch.no_grad():
        after = layer(x)
        tiles._BATCH_TILES = False
        want = layer(x)
        fresh = CrossbarLinear(300, 20, config=ONE_SLICE)
        fresh.load_state_dict(layer.state_dict())
        tiles._BATCH_TILES = True
        again = fresh(x)
    assert not torch.equal(before, after)
    _same_bits(after, want)
    _same_bits(again, after)


def test_kernel_quantized_forward_takes_its_input_phases_from_the_kernel(monkeypatch):
    """The quantizer's negative-code flag gives the input phases: no second pass over the codes
    (``tiles.input_phases``) on the kernel path; the torch path still looks at its codes."""
    torch.manual_seed(0)
    layer = CrossbarLinear(150, 9, config=ONE_SLICE).eval()
    calls = _spy(monkeypatch, tiles, "input_phases")
    x = torch.randn(11, 150)
    with torch.no_grad():
        for inp in (x, x.relu()):
            seen = len(calls)
            functional._KERNEL_QUANTIZE = True
            got = _forward(layer, inp)
            assert len(calls) == seen
            functional._KERNEL_QUANTIZE = False
            want = _forward(layer, inp)
            _same_bits(got, want)
    assert calls == [2, 1]  # the torch path: signed codes, then the ReLU's non-negative ones
