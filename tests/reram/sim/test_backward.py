"""The analog backward pass (a transposed read of the tiles) and per-read conductance noise."""
from __future__ import annotations

import pytest
import torch

from reram import CrossbarConfig, CrossbarConv2d, CrossbarLinear
from reram.sim.functional import quantize_input
from reram.sim.tiles import product_path

EXACT = CrossbarConfig(tile_size=16, weight_bits=6, cell_bits=2, input_bits=None, dac_bits=None,
                       adc_bits=None)
CONV_GEOMETRIES = [dict(kernel_size=3, padding=1),
                   dict(kernel_size=3, stride=2, groups=2, padding=1, bias=False),
                   dict(kernel_size=(3, 2), dilation=(1, 2), padding="same", padding_mode="reflect")]


def _input_grad(layer_cls, args, cfg, x, grad_y, **kwargs):
    torch.manual_seed(0)
    layer = layer_cls(*args, config=cfg, **kwargs)
    xx = x.clone().requires_grad_(True)
    layer(xx).backward(grad_y)
    return xx.grad, layer.weight.grad


def test_analog_backward_with_exact_reads_equals_straight_through():
    x, gy = torch.randn(5, 40), torch.randn(5, 9)
    ste, w_ste = _input_grad(CrossbarLinear, (40, 9), EXACT, x, gy)
    analog, w_analog = _input_grad(CrossbarLinear, (40, 9), EXACT.replace(backward="analog"), x, gy)
    torch.testing.assert_close(analog, ste, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(w_analog, w_ste)       # the weight gradient stays digital


@pytest.mark.parametrize("kwargs", CONV_GEOMETRIES)
def test_conv_analog_backward_with_exact_reads_equals_straight_through(kwargs):
    x = torch.randn(2, 4, 7, 8)
    gy = torch.randn_like(CrossbarConv2d(4, 6, config=EXACT, **kwargs)(x))
    ste, w_ste = _input_grad(CrossbarConv2d, (4, 6), EXACT, x, gy, **kwargs)
    analog, w_analog = _input_grad(CrossbarConv2d, (4, 6), EXACT.replace(backward="analog"), x,
                                   gy, **kwargs)
    torch.testing.assert_close(analog, ste, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(w_analog, w_ste)


def test_lossless_adc_gives_straight_through_on_the_dac_quantized_error():
    cfg = CrossbarConfig(tile_size=16, weight_bits=6, cell_bits=2, input_bits=6, dac_bits=2,
                         adc_bits=16, backward="analog")
    assert product_path(cfg, 40, force_tiles=True) == "int8"
    x, gy = torch.randn(5, 40), torch.randn(5, 9)
    analog, _ = _input_grad(CrossbarLinear, (40, 9), cfg, x, gy)
    torch.manual_seed(0)
    layer = CrossbarLinear(40, 9, config=cfg)
    w_unit = layer.crossbar_weight_scale / cfg.weight_levels
    err, s = quantize_input(gy * w_unit, cfg, 1)
    err_q = err * (s / cfg.input_levels)[:, None]
    net_levels = layer.effective_weight() / w_unit[:, None]
    # d codes / dx = L / s_x cancels the input unit s_x / L: the error read through the levels
    torch.testing.assert_close(analog, err_q @ net_levels, rtol=1e-4, atol=1e-6)


def test_coarse_adc_differs_and_more_adc_bits_shrink_the_difference():
    torch.manual_seed(3)
    x, gy = torch.randn(16, 64), torch.randn(16, 12)
    errors = []
    for bits in (3, 4, 5, 7):
        cfg = CrossbarConfig(tile_size=32, weight_bits=6, cell_bits=2, input_bits=8, dac_bits=1,
                             adc_bits=bits)
        ste, _ = _input_grad(CrossbarLinear, (64, 12), cfg, x, gy)
        analog, _ = _input_grad(CrossbarLinear, (64, 12), cfg.replace(backward="analog"), x, gy)
        errors.append(float((analog - ste).norm() / ste.norm()))
    assert errors[0] > 0.1
    assert errors == sorted(errors, reverse=True) and errors[-1] < 0.1 * errors[0]


def _noisy_layer(noise, seed=0):
    torch.manual_seed(0)
    cfg = CrossbarConfig(tile_size=16, weight_bits=6, cell_bits=2, input_bits=6, dac_bits=2,
                         adc_bits=10, read_noise=noise, seed=seed)
    return CrossbarLinear(40, 9, config=cfg)


def test_read_noise_is_fresh_per_read_seeded_and_forces_fp32():
    assert product_path(_noisy_layer(0.05).crossbar_config, 40) == "fp32"
    x = torch.randn(6, 40)
    a, b = _noisy_layer(0.05), _noisy_layer(0.05)
    first, second = a(x), a(x)
    assert not torch.equal(first, second)                     # afresh per read
    assert torch.equal(first, b(x)) and torch.equal(second, b(x))  # one seed, one sequence
    assert not torch.equal(first, _noisy_layer(0.05, seed=1)(x))


def test_read_noise_error_grows_with_its_level():
    x = torch.randn(32, 40)
    with torch.no_grad():
        clean = _noisy_layer(0.0)(x)
        errors = [float((_noisy_layer(n)(x) - clean).pow(2).mean()) for n in (0.01, 0.05, 0.2)]
    assert errors == sorted(errors) and errors[0] > 0


def test_read_noise_reaches_the_analog_backward():
    layer = _noisy_layer(0.1)
    layer.crossbar_config = layer.crossbar_config.replace(backward="analog")
    x = torch.randn(6, 40, requires_grad=True)
    grads = []
    for _ in range(2):
        x.grad = None
        layer(x).sum().backward()
        grads.append(x.grad.clone())
    assert not torch.equal(grads[0], grads[1])
