"""quantize_rows (numba) against a NumPy twin and against torch's quantization steps."""
import numpy as np
import pytest
import torch

from reram import CrossbarConfig
from reram.kernels.quantize import quantize_rows
from reram.sim.functional import quantize_input


def quantize_rows_twin(x, levels, dtype):
    """Per row: scale max|x| (NaN if the row holds NaN), multiplier float32(1 / scale) * L in
    float32 (torch's ``L / scale``), codes clip(rint(x * multiplier)), NaN codes 0."""
    scale = np.abs(x).max(axis=1) if x.shape[1] else np.zeros(x.shape[0], np.float32)
    scale = scale.astype(np.float32)
    safe = np.where(scale > 0, scale, np.float32(1.0)).astype(np.float32)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        mult = (np.float32(1.0) / safe).astype(np.float32) * np.float32(levels)
        if not np.isfinite(mult).all():
            return None
        codes = np.clip(np.rint(x * mult[:, None]), -levels, levels)
    codes = np.where(np.isnan(codes), 0, codes).astype(dtype)
    return codes, scale, bool((codes < 0).any())


def _inputs(seed):
    rng = np.random.default_rng(seed)
    shapes = [(1, 1), (3, 40), (17, 150), (128, 512), (5, 1000)]
    for shape in shapes:
        for magnitude in (1e-40, 1e-30, 1e-3, 1.0, 1e3, 1e30):
            x = (rng.standard_normal(shape) * magnitude).astype(np.float32)
            yield x
            yield np.abs(x)                       # non-negative: no negative code
            y = x.copy()
            y[0] = 0.0                            # an all-zero sample
            y[-1, -1] = np.nan                    # a NaN sample
            yield y
            z = x.copy()
            z[0, 0] = np.inf                      # an infinite sample
            z[-1, 0] = -np.inf
            yield z
            yield np.rint(x).astype(np.float32)   # ties at .5 after scaling are likely


@pytest.mark.parametrize("levels,dtype", [(1, np.int8), (7, np.int8), (31, np.int8),
                                          (127, np.int8), (2047, np.int16), (32767, np.int16)])
def test_quantize_rows_matches_its_numpy_twin(levels, dtype):
    for x in _inputs(levels):
        got, want = quantize_rows(x, levels, dtype), quantize_rows_twin(x, levels, dtype)
        assert (got is None) == (want is None)
        if got is None:
            continue
        np.testing.assert_array_equal(got[0], want[0])
        assert got[0].dtype == dtype
        np.testing.assert_array_equal(got[1], want[1])  # NaN == NaN here
        assert got[2] == want[2]


@pytest.mark.parametrize("input_bits", [2, 6, 8, 12, 16])
def test_quantize_rows_gives_torch_quantize_input_bits(input_bits):
    cfg = CrossbarConfig(input_bits=input_bits)
    dtype = np.int8 if cfg.input_levels <= 127 else np.int16
    for x in _inputs(input_bits):
        got = quantize_rows(x, cfg.input_levels, dtype)
        codes, scale = quantize_input(torch.from_numpy(x), cfg, 1)
        if got is None:  # only where torch's L / scale overflows (a subnormal scale)
            assert not torch.isfinite(cfg.input_levels / torch.where(scale > 0, scale, 1.0)).all()
            continue
        np.testing.assert_array_equal(got[0], codes.to(torch.int8 if dtype == np.int8
                                                       else torch.int16).numpy())
        np.testing.assert_array_equal(got[1], scale.numpy())


def test_subnormal_scale_is_left_to_the_caller():
    x = np.full((2, 4), 1e-39, np.float32)
    assert quantize_rows(x, 127) is None
    assert quantize_rows_twin(x, 127, np.int8) is None


def test_empty_and_bad_input():
    codes, scale, negative = quantize_rows(np.zeros((0, 5), np.float32), 127)
    assert codes.shape == (0, 5) and scale.shape == (0,) and not negative
    codes, scale, negative = quantize_rows(np.zeros((3, 0), np.float32), 127)
    assert codes.shape == (3, 0) and (scale == 0).all()
    with pytest.raises(ValueError, match="float32"):
        quantize_rows(np.zeros((2, 2)), 127)
    with pytest.raises(ValueError, match="levels"):
        quantize_rows(np.zeros((2, 2), np.float32), 200, np.int8)
    with pytest.raises(ValueError, match="dtype"):
        quantize_rows(np.zeros((2, 2), np.float32), 7, np.int32)


# ------------------------------------------------------------------ conv inputs, channels last
from reram.kernels.quantize import quantize_nhwc  # noqa: E402


def quantize_nhwc_twin(x, levels, dtype, padding):
    """:func:`quantize_rows_twin` of the flattened samples, padded with zero codes and
    permuted to N x H x W x C."""
    n, c, h, w = x.shape
    rows = quantize_rows_twin(x.reshape(n, c * h * w), levels, dtype)
    if rows is None:
        return None
    ph, pw = padding
    codes = np.pad(rows[0].reshape(n, c, h, w), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    return np.ascontiguousarray(codes.transpose(0, 2, 3, 1)), rows[1], rows[2]


def _conv_inputs(seed):
    rng = np.random.default_rng(seed)
    for shape in [(1, 1, 1, 1), (2, 3, 5, 7), (3, 64, 8, 8), (2, 5, 1, 9), (0, 4, 3, 3),
                  (2, 0, 3, 3)]:
        for magnitude in (1e-40, 1e-3, 1.0, 1e30):
            x = (rng.standard_normal(shape) * magnitude).astype(np.float32)
            yield x
            yield np.abs(x)
            if x.size:
                y = x.copy()
                y[0] = 0.0                         # an all-zero sample
                y.reshape(-1)[-1] = np.nan         # a NaN sample
                yield y
                z = x.copy()
                z.reshape(-1)[0] = -np.inf          # an infinite sample
                yield z
                yield np.rint(x * 3).astype(np.float32) / 3   # ties likely


@pytest.mark.parametrize("levels,dtype", [(1, np.int8), (31, np.int8), (127, np.int8),
                                          (2047, np.int16), (32767, np.int16)])
@pytest.mark.parametrize("padding", [(0, 0), (1, 1), (2, 0), (0, 3)])
def test_quantize_nhwc_matches_its_numpy_twin(levels, dtype, padding):
    for x in _conv_inputs(levels):
        got = quantize_nhwc(x, levels, dtype, padding)
        want = quantize_nhwc_twin(x, levels, dtype, padding)
        assert (got is None) == (want is None)
        if got is None:
            continue
        assert got[0].dtype == dtype and got[0].flags.c_contiguous
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
        assert got[2] == want[2]


@pytest.mark.parametrize("input_bits", [2, 8, 12])
def test_quantize_nhwc_gives_torch_steps_bits(input_bits):
    cfg = CrossbarConfig(input_bits=input_bits)
    dtype, tdtype = (np.int8, torch.int8) if cfg.input_levels <= 127 else (np.int16, torch.int16)
    for x in _conv_inputs(input_bits):
        got = quantize_nhwc(x, cfg.input_levels, dtype, (1, 2))
        codes, scale = quantize_input(torch.from_numpy(x), cfg, 3)
        if got is None:
            continue
        want = torch.nn.functional.pad(codes.to(tdtype), (2, 2, 1, 1)).permute(0, 2, 3, 1)
        np.testing.assert_array_equal(got[0], want.numpy())
        np.testing.assert_array_equal(got[1], scale.numpy())


def test_quantize_nhwc_bad_input():
    with pytest.raises(ValueError, match="4-D float32"):
        quantize_nhwc(np.zeros((2, 3, 4), np.float32), 127)
    with pytest.raises(ValueError, match="4-D float32"):
        quantize_nhwc(np.zeros((1, 2, 3, 4)), 127)
    with pytest.raises(ValueError, match="padding"):
        quantize_nhwc(np.zeros((1, 2, 3, 4), np.float32), 127, padding=(-1, 0))
    with pytest.raises(ValueError, match="levels"):
        quantize_nhwc(np.zeros((1, 2, 3, 4), np.float32), 300, np.int8)
    assert quantize_nhwc(np.full((1, 2, 2, 2), 1e-39, np.float32), 127) is None
