"""The two backends (numba on CPU, torch elsewhere) compute the same bits; one is chosen per device."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from reram import CrossbarConfig, CrossbarLinear
from reram.sim import mapping
from reram.sim.backends import NumbaBackend, TorchBackend, backend_for
from reram.sim.mapping import column_coefficients, row_coefficients, shift_coefficients

SMALL = CrossbarConfig(tile_size=16, weight_bits=5, cell_bits=2, input_bits=5, dac_bits=2, adc_bits=8)


def test_backend_chosen_by_device_kind():
    assert isinstance(backend_for("cpu"), NumbaBackend)
    assert isinstance(backend_for(torch.device("cpu")), NumbaBackend)
    assert isinstance(backend_for("meta"), TorchBackend)
    assert backend_for("cpu") is backend_for("cpu")


def test_row_and_column_coefficients_share_one_rule():
    cfg = SMALL.replace(cell_bits=2, dac_bits=2)
    assert np.array_equal(shift_coefficients(3, 3, paired=True), [1, 8, 64, -1, -8, -64])
    assert np.array_equal(column_coefficients(cfg), [1, 4, -1, -4])
    assert np.array_equal(column_coefficients(cfg.replace(differential="analog")), [1, 4])
    assert np.array_equal(row_coefficients(cfg, 2), [1, 4, -1, -4])
    assert np.array_equal(row_coefficients(cfg, 1), [1, 4])


@pytest.mark.parametrize("cfg", [SMALL, SMALL.replace(saf0_rate=0.05, variation=0.1),
                                 SMALL.replace(weight_bits=None, cell_bits=None, saf1_rate=0.1)])
def test_torch_programming_matches_numba(cfg):
    layer = CrossbarLinear(50, 7, config=cfg)
    prog = layer.programmed()
    faults, var = layer._defects if layer._defects is not None else (None, None)
    args = (prog.weight2d, prog.inv_scale, cfg.weight_levels or 0, cfg.n_slices,
            cfg.slice_bits or 0, mapping._r_min(cfg), faults, var, True)
    cells_t, mag_t, eff_t = TorchBackend().program(*args)
    cells_n, mag_n, eff_n = NumbaBackend().program(*args)
    torch.testing.assert_close(cells_t, cells_n, rtol=1e-6, atol=1e-6)
    assert torch.equal(mag_t, mag_n)
    torch.testing.assert_close(eff_t, eff_n, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", [torch.float32, torch.int8])
@pytest.mark.parametrize("n_phases", [1, 2])
def test_torch_streaming_matches_numba(dtype, n_phases):
    codes = torch.randint(-15 if n_phases == 2 else 0, 16, (9, 50)).float()
    for backend in (NumbaBackend(), TorchBackend()):
        got = backend.stream(codes, 2, 2, n_phases, 16, dtype)
        assert got.dtype == dtype and got.shape == (4, n_phases * 2 * 9, 16)
    assert torch.equal(TorchBackend().stream(codes, 2, 2, n_phases, 16, dtype),
                       NumbaBackend().stream(codes, 2, 2, n_phases, 16, dtype))


@pytest.mark.parametrize("geometry", [((4, 5), (3, 3), (1, 1), (1, 1)),
                                      ((2, 3), (2, 3), (2, 1), (2, 1)), ((1, 1), (1, 1), (1, 1), (1, 1))])
@pytest.mark.parametrize("cycles", [(1, 7, 2), (3, 2, 2), (2, 3, 1)])
def test_torch_patch_streaming_matches_numba(geometry, cycles):
    (h_out, w_out), (kh, kw), (dh, dw), (sh, sw) = geometry
    height, width = (h_out - 1) * sh + dh * (kh - 1) + 1, (w_out - 1) * sw + dw * (kw - 1) + 1
    n_cycles, cycle_bits, n_phases = cycles
    top = min(127, (1 << (n_cycles * cycle_bits)) - 1)
    xp = torch.randint(-top if n_phases == 2 else 0, top + 1, (3, height, width, 5), dtype=torch.int8)
    k, m = kh * kw * 5, 3 * h_out * w_out
    for lo, hi, start, stop in [(0, k, 0, m), (min(k, 7), k, m // 3, m - 1), (0, 1, 0, 1)]:
        args = (xp, geometry, lo, hi, start, stop, n_cycles, cycle_bits, n_phases, hi - lo + 3)
        assert torch.equal(TorchBackend().stream_patches(*args), NumbaBackend().stream_patches(*args))


def test_torch_output_scaling_matches_numba():
    acc = torch.randint(-9000, 9000, (2 * 21, 6)).double()
    rows, cols = torch.rand(2 * 21, dtype=torch.float64) * 1e-3, torch.rand(6, dtype=torch.float64)
    outs = [torch.empty(2, 6, 21) for _ in range(2)]
    NumbaBackend().scale_into_nchw(acc, rows, cols, outs[0])
    TorchBackend().scale_into_nchw(acc, rows, cols, outs[1])
    assert torch.equal(outs[0], outs[1])


@pytest.mark.parametrize("integer", [False, True])
def test_torch_adc_matches_numba_bit_for_bit(integer):
    adc = mapping.adc_params(SMALL.replace(adc_bits=5), 16)
    rows, cols = row_coefficients(SMALL, 2), column_coefficients(SMALL)
    currents = torch.rand(2, len(rows) * 9, len(cols) * 7) * 300
    if integer:
        currents = currents.round().to(torch.int32)
    outs = []
    for backend in (NumbaBackend(), TorchBackend()):
        acc = torch.zeros(9, 7, dtype=torch.float64)
        backend.adc_accumulate(currents, 9, rows, cols, 7, adc.step, adc.code_lo, adc.code_hi, acc)
        outs.append(acc)
    assert torch.equal(outs[0], outs[1])


@pytest.mark.parametrize("cfg", [SMALL.replace(adc_bits=5), SMALL.replace(adc_bits=5, variation=0.1),
                                 SMALL.replace(adc_bits=5, differential="analog", saf1_rate=0.1)])
def test_torch_backend_runs_the_whole_layer_like_numba(cfg, monkeypatch):
    """The CUDA code path (the torch backend), run on CPU tensors, gives the numba path's bits
    on the integer path and its values on the fp32 path."""
    from reram import CrossbarConv2d
    from reram.sim import tiles
    torch.manual_seed(0)
    lin, conv = CrossbarLinear(50, 7, config=cfg), CrossbarConv2d(3, 4, 3, padding=1, config=cfg)
    x, xi = torch.randn(9, 50), torch.randn(2, 3, 6, 6)
    want = [lin(x), conv(xi)]
    from reram.sim import functional
    for module in (tiles, mapping, functional):
        monkeypatch.setattr(module, "backend_for", lambda device: TorchBackend())
    lin._programmed = conv._programmed = None
    got = [lin(x), conv(xi)]
    for g, w in zip(got, want):
        if cfg.variation == 0:
            assert torch.equal(g, w)
        else:
            torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_integer_path_matches_cpu_bit_for_bit():
    import copy
    from reram import CrossbarConv2d
    from reram.sim.tiles import product_path
    cfg = CrossbarConfig.preset("neurosim").replace(saf0_rate=0.02, tile_size=32)
    assert product_path(cfg, 27) == "int8"
    for layer, inp in ((CrossbarLinear(70, 9, config=cfg), torch.randn(20, 70)),
                       (CrossbarConv2d(3, 8, 3, padding=1, config=cfg), torch.randn(4, 3, 9, 9))):
        want = layer(inp)
        got = copy.deepcopy(layer).cuda()(inp.cuda()).cpu()
        assert torch.equal(got, want)
