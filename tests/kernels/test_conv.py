"""stream_patches and scale_into_nchw (numba) against NumPy twins."""
import numpy as np
import pytest

from reram.kernels import scale_into_nchw, stream_patches


def im2col_twin(xp, out_size, kernel_size, dilation, stride):
    """im2col rows of ``N x H x W x C`` codes, columns in ``(kh, kw, C)`` order (plain loops)."""
    n, _, _, c = xp.shape
    (h_out, w_out), (kh, kw), (dh, dw), (sh, sw) = out_size, kernel_size, dilation, stride
    rows = np.zeros((n * h_out * w_out, kh * kw * c), np.int64)
    for s in range(n):
        for i in range(h_out):
            for j in range(w_out):
                row = (s * h_out + i) * w_out + j
                for a in range(kh):
                    for b in range(kw):
                        for ch in range(c):
                            rows[row, (a * kw + b) * c + ch] = xp[s, i * sh + a * dh, j * sw + b * dw, ch]
    return rows


def digits_twin(rows, n_cycles, cycle_bits, n_phases, width):
    m, k = rows.shape
    out = np.zeros((n_phases * n_cycles * m, width), np.int8)
    for b in range(m):
        for col in range(k):
            c = int(rows[b, col])
            phase = 1 if (c < 0 and n_phases == 2) else 0
            for j in range(n_cycles):
                out[(phase * n_cycles + j) * m + b, col] = (abs(c) >> (j * cycle_bits)) & ((1 << cycle_bits) - 1)
    return out


def out_size(shape, kernel_size, dilation, stride):
    return tuple((shape[1 + i] - dilation[i] * (kernel_size[i] - 1) - 1) // stride[i] + 1 for i in range(2))


GEOMETRIES = [  # (N, H, W, C), kernel, dilation, stride
    ((2, 6, 7, 3), (3, 3), (1, 1), (1, 1)),
    ((1, 9, 9, 5), (3, 2), (2, 1), (2, 3)),
    ((3, 4, 4, 16), (1, 1), (1, 1), (1, 1)),
    ((1, 1, 1, 1), (1, 1), (1, 1), (1, 1)),
    ((4, 1, 1, 40), (1, 1), (1, 1), (1, 1)),       # a Linear layer's codes as 1x1 windows
]


@pytest.mark.parametrize("shape,kernel,dilation,stride", GEOMETRIES)
@pytest.mark.parametrize("cycles,dtype", [((1, 7), np.int8), ((7, 1), np.int8), ((4, 2), np.int8),
                                          ((2, 4), np.int8), ((1, 3), np.int8),
                                          ((15, 1), np.int16), ((5, 3), np.int16), ((3, 4), np.int16)])
@pytest.mark.parametrize("n_phases", [1, 2])
def test_stream_patches_matches_twin(shape, kernel, dilation, stride, cycles, dtype, n_phases):
    n_cycles, cycle_bits = cycles
    top = min(int(np.iinfo(dtype).max), (1 << (n_cycles * cycle_bits)) - 1)
    rng = np.random.default_rng(sum(shape) + n_cycles)
    xp = rng.integers(-top if n_phases == 2 else 0, top + 1, shape).astype(dtype)
    size = out_size(shape, kernel, dilation, stride)
    rows = im2col_twin(xp, size, kernel, dilation, stride)
    m, k = rows.shape
    for lo, hi, width in [(0, k, k), (0, min(k, 5), 8), (k // 3, k, k - k // 3 + 3), (k, k, 2)]:
        for start, stop in [(0, m), (m // 2, m), (1, 1), (0, 1)]:
            got = stream_patches(xp, size, kernel, dilation, stride, lo, hi, start, stop,
                                 n_cycles, cycle_bits, n_phases, width)
            want = digits_twin(rows[start:stop, lo:hi], n_cycles, cycle_bits, n_phases, width)
            assert got.dtype == np.int8
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("shape,kernel,dilation,stride", GEOMETRIES)
@pytest.mark.parametrize("cycles,dtype", [((1, 7), np.int8), ((4, 2), np.int8), ((5, 3), np.int16)])
@pytest.mark.parametrize("n_phases", [1, 2])
def test_stream_patches_float32_digits_match_twin(shape, kernel, dilation, stride, cycles, dtype,
                                                  n_phases):
    """float32 digits (for a float32 product): the twin's digits, as floats."""
    n_cycles, cycle_bits = cycles
    top = min(int(np.iinfo(dtype).max), (1 << (n_cycles * cycle_bits)) - 1)
    rng = np.random.default_rng(sum(shape) + 7 * n_cycles)
    xp = rng.integers(-top if n_phases == 2 else 0, top + 1, shape).astype(dtype)
    size = out_size(shape, kernel, dilation, stride)
    rows = im2col_twin(xp, size, kernel, dilation, stride)
    m, k = rows.shape
    for lo, hi, width in [(0, k, k), (k // 3, k, k - k // 3 + 3)]:
        for start, stop in [(0, m), (m // 2, m), (1, 1)]:
            got = stream_patches(xp, size, kernel, dilation, stride, lo, hi, start, stop,
                                 n_cycles, cycle_bits, n_phases, width, dtype=np.float32)
            want = digits_twin(rows[start:stop, lo:hi], n_cycles, cycle_bits, n_phases, width)
            assert got.dtype == np.float32
            np.testing.assert_array_equal(got, want.astype(np.float32))


def test_stream_patches_non_contiguous_input():
    rng = np.random.default_rng(3)
    big = rng.integers(-100, 101, (2, 8, 8, 6)).astype(np.int8)
    view = big[:, ::2, :, ::2]                                   # (2, 4, 8, 3), strided
    size = out_size(view.shape, (2, 2), (1, 1), (1, 1))
    got = stream_patches(view, size, (2, 2), (1, 1), (1, 1), 0, 12, 0, 10, 1, 7, 2, 16)
    want = digits_twin(im2col_twin(view, size, (2, 2), (1, 1), (1, 1))[:10], 1, 7, 2, 16)
    np.testing.assert_array_equal(got, want)


def test_stream_patches_bad_input_raises():
    xp = np.zeros((1, 3, 3, 2), np.int8)
    with pytest.raises(ValueError, match="int8 or int16"):
        stream_patches(xp.astype(np.float32), (1, 1), (3, 3), (1, 1), (1, 1), 0, 18, 0, 1, 1, 7, 1, 18)
    with pytest.raises(ValueError, match="cycle_bits"):
        stream_patches(xp, (1, 1), (3, 3), (1, 1), (1, 1), 0, 18, 0, 1, 1, 8, 1, 18)
    with pytest.raises(ValueError, match="width"):
        stream_patches(xp, (1, 1), (3, 3), (1, 1), (1, 1), 0, 18, 0, 1, 1, 7, 1, 10)
    with pytest.raises(ValueError, match="out of range"):
        stream_patches(xp, (1, 1), (3, 3), (1, 1), (1, 1), 0, 18, 0, 2, 1, 7, 1, 18)
    with pytest.raises(ValueError, match="dtype"):
        stream_patches(xp, (1, 1), (3, 3), (1, 1), (1, 1), 0, 18, 0, 1, 1, 7, 1, 18, dtype=np.int32)


def scale_twin(acc, row_scale, col_scale, n, positions):
    rows = (acc * row_scale[:, None]) * col_scale[None, :]
    return rows.astype(np.float32).reshape(n, positions, rows.shape[1]).transpose(0, 2, 1)


@pytest.mark.parametrize("n,channels,positions", [(1, 1, 1), (2, 3, 17), (3, 64, 16), (1, 5, 40), (0, 4, 9),
                                                  (7, 33, 1)])
def test_scale_into_nchw_matches_twin(n, channels, positions):
    rng = np.random.default_rng(n * 100 + channels)
    acc = rng.integers(-5000, 5000, (n * positions, channels)).astype(np.float64)
    row_scale, col_scale = rng.random(n * positions) * 1e-3, rng.random(channels)
    out = np.full((n, channels, positions), -7.0, np.float32)
    scale_into_nchw(acc, row_scale, col_scale, out)
    np.testing.assert_array_equal(out, scale_twin(acc, row_scale, col_scale, n, positions))


def test_scale_into_nchw_propagates_nan_and_reads_strided_acc():
    rng = np.random.default_rng(8)
    big = rng.integers(-50, 50, (12, 8)).astype(np.float64)
    acc = big[:, ::2]                                            # (12, 4), strided
    row_scale = np.ones(12)
    row_scale[5] = np.nan
    out = np.empty((2, 4, 6), np.float32)
    scale_into_nchw(acc, row_scale, np.full(4, 0.5), out)
    want = scale_twin(np.ascontiguousarray(acc), row_scale, np.full(4, 0.5), 2, 6)
    np.testing.assert_array_equal(out, want)                     # NaN where the twin has NaN
    assert np.isnan(out[0, :, 5]).all() and not np.isnan(out[1]).any()


def test_scale_into_nchw_bad_input_raises():
    with pytest.raises(ValueError, match="float32"):
        scale_into_nchw(np.zeros((4, 2)), np.ones(4), np.ones(2), np.zeros((1, 2, 4)))
    with pytest.raises(ValueError, match="shape"):
        scale_into_nchw(np.zeros((5, 2)), np.ones(5), np.ones(2), np.zeros((1, 2, 4), np.float32))


def test_scale_into_nchw_one_position_writes_a_strided_output():
    """A Linear layer's output (one position per sample), also into a strided view."""
    rng = np.random.default_rng(9)
    acc = rng.integers(-5000, 5000, (5, 6)).astype(np.float64)
    row_scale, col_scale = rng.random(5), rng.random(6)
    big = np.full((5, 6, 2), -7.0, np.float32)
    scale_into_nchw(acc, row_scale, col_scale, big[:, :, :1])
    np.testing.assert_array_equal(big[:, :, :1], scale_twin(acc, row_scale, col_scale, 5, 1))
    assert (big[:, :, 1] == -7.0).all()


def scale_bias_twin(acc, row_scale, col_scale, bias, n, positions):
    """The scaled float32 output plus the bias, added in float32 (as ``y + bias`` in torch)."""
    with np.errstate(over="ignore"):  # 1e300 rounds to float32 infinity, as in the kernel
        scaled = scale_twin(acc, row_scale, col_scale, n, positions)
    return (scaled + bias.astype(np.float32)[None, :, None]).astype(np.float32)


@pytest.mark.parametrize("n,channels,positions", [(1, 1, 1), (2, 3, 17), (3, 64, 16), (1, 5, 40),
                                                  (0, 4, 9), (7, 33, 1), (4, 130, 1)])
def test_scale_into_nchw_adds_the_bias_like_twin(n, channels, positions):
    rng = np.random.default_rng(n * 10 + channels + positions)
    acc = rng.integers(-5000, 5000, (n * positions, channels)).astype(np.float64)
    if acc.size:
        acc[0, 0] = np.nan                                        # NaN stays NaN
        acc[-1, -1] = 1e300                                       # float32 overflow: inf
    row_scale, col_scale = rng.random(n * positions) * 1e-3, rng.random(channels)
    bias = rng.normal(size=channels).astype(np.float32)
    out = np.full((n, channels, positions), -7.0, np.float32)
    scale_into_nchw(acc, row_scale, col_scale, out, bias=bias)
    np.testing.assert_array_equal(out, scale_bias_twin(acc, row_scale, col_scale, bias, n,
                                                       positions))


def test_scale_into_nchw_without_bias_keeps_negative_zero():
    acc = np.array([[-0.0, 3.0]])
    out = np.empty((1, 2, 1), np.float32)
    scale_into_nchw(acc, np.ones(1), np.ones(2), out)
    assert np.signbit(out[0, 0, 0])                                # no +0.0 added
    scale_into_nchw(acc, np.ones(1), np.ones(2), out, bias=np.zeros(2, np.float32))
    assert not np.signbit(out[0, 0, 0])                            # -0 + 0 = +0, as torch adds


def test_scale_into_nchw_bad_bias_raises():
    with pytest.raises(ValueError, match="bias"):
        scale_into_nchw(np.zeros((4, 2)), np.ones(4), np.ones(2), np.zeros((1, 2, 4), np.float32),
                        bias=np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="bias"):
        scale_into_nchw(np.zeros((4, 2)), np.ones(4), np.ones(2), np.zeros((1, 2, 4), np.float32),
                        bias=np.zeros(2))
