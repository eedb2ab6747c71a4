"""Crossbar layers under autocast, with empty batches and subnormal inputs, and the warning for a
config that leaves no signal (regressions of issue 15, items 5 and 6)."""
from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

import reram
from reram import CrossbarConfig, CrossbarConv2d, CrossbarLinear
from reram.sim.functional import crossbar_linear

LOSSY = CrossbarConfig(tile_size=16, weight_bits=6, cell_bits=2, input_bits=6, dac_bits=2, adc_bits=5)


def _net(cfg):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1),
                        nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 5))
    return reram.convert(net, cfg).eval()


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("cfg", [LOSSY, LOSSY.replace(adc_bits=16), CrossbarConfig.preset("neurosim")])
def test_layers_run_under_autocast(dtype, cfg):
    net = _net(cfg)
    x = torch.randn(2, 3, 6, 6).to(dtype).float()        # representable in both precisions
    with torch.no_grad():
        with torch.autocast("cpu", dtype=dtype):
            got = net(x)
            first = net[0](x)
        want = net[0](x)
    assert got.dtype == dtype and torch.isfinite(got).all()
    # the crossbar computes in float32 and returns the autocast dtype
    assert first.dtype == dtype and torch.equal(first, want.to(dtype))
    x16 = x.to(dtype)                                     # a half-precision input as well
    with torch.no_grad(), torch.autocast("cpu", dtype=dtype):
        assert torch.equal(net[0](x16), first)


def test_autocast_training_step_runs():
    net = _net(LOSSY).train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = net(torch.randn(2, 3, 6, 6)).float().pow(2).mean()
    loss.backward()
    assert all(p.grad is not None for p in net.parameters())


@pytest.mark.parametrize("cfg", [LOSSY, LOSSY.replace(adc_bits=16), LOSSY.replace(backward="analog")])
def test_empty_conv_batch(cfg):
    conv = CrossbarConv2d(3, 4, 3, padding=1, config=cfg)
    x = torch.randn(0, 3, 5, 5, requires_grad=True)
    y = conv(x)
    assert y.shape == (0, 4, 5, 5)
    y.sum().backward()
    assert x.grad.shape == x.shape


@pytest.mark.parametrize("layer", [CrossbarLinear(40, 6, bias=False, config=LOSSY),
                                   CrossbarConv2d(3, 4, 3, bias=False, config=LOSSY),
                                   CrossbarLinear(40, 6, bias=False, config=LOSSY.replace(adc_bits=16))],
                         ids=["linear", "conv", "linear-lossless"])
def test_subnormal_inputs_scale_like_normal_ones(layer):
    torch.manual_seed(2)
    x = torch.randn(3, 40) if isinstance(layer, CrossbarLinear) else torch.randn(2, 3, 6, 6)
    with torch.no_grad():
        normal = layer(x).double()
        tiny = layer(x * 1e-39).double() / 1e-39
    rel = float((tiny - normal).norm() / normal.norm())
    assert rel < 1e-2


def test_warns_once_when_no_adc_code_carries_signal():
    x = torch.randn(8, 40)
    for cfg in (LOSSY.replace(tile_size=1 << 20, adc_bits=4), LOSSY.replace(adc_bits=1)):
        layer = CrossbarLinear(40, 6, config=cfg)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            layer(x)
            layer(x)
        messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
        assert len(messages) == 1 and "no signal" in messages[0]
    conv = CrossbarConv2d(3, 4, 3, config=LOSSY.replace(adc_bits=1))
    with pytest.warns(RuntimeWarning, match="no signal"):
        conv(torch.randn(2, 3, 6, 6))


def test_no_warning_for_a_working_config_or_a_zero_input():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        CrossbarLinear(40, 6, config=LOSSY)(torch.randn(8, 40))
        CrossbarLinear(40, 6, config=LOSSY.replace(adc_bits=1))(torch.zeros(8, 40))
        zero = CrossbarLinear(40, 6, config=LOSSY.replace(adc_bits=16))  # exact ADC, zero weights
        with torch.no_grad():
            zero.weight.zero_()
        crossbar_linear(torch.randn(8, 40), zero.weight, zero.bias, zero.programmed(),
                        zero.crossbar_config, force_tiles=True)
