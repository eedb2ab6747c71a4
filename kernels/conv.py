"""The two ends of a convolution on the crossbar, without an im2col copy or a transposed copy.

:func:`stream_patches` writes the DAC digits of the im2col rows of one row tile straight from
the padded channels-last input codes (what :func:`reram.kernels.split_input_cycles` writes from
an explicit im2col matrix, for the rows in ``(kh, kw, C)`` order); :func:`scale_into_nchw`
scales the shift-added ADC codes of each output position and channel into the float32 NCHW
output in one pass (what multiplying by the row and column scales in float64, rounding to
float32 and permuting to NCHW do in four).
"""
from __future__ import annotations

import functools
from typing import Optional

import numpy as np
from numba import prange

from ._jit import jit

#: Rows per block of the digit writer (one scratch row per block, not per row).
_BLOCK = 64


@jit(parallel=True)
def _stream_patches(xp, h_out, w_out, stride, runs, start, stop, n_cycles, cycle_bits, n_phases,
                    out):
    _, height, wide, channels = xp.shape
    m = stop - start
    width = np.uint64(out.shape[1])
    used = np.uint64(runs[-1, 1] + runs[-1, 2]) if runs.shape[0] else np.uint64(0)
    positions = h_out * w_out
    flat_in, flat_out = xp.reshape(-1), out.reshape(-1)
    mask = np.int8((1 << cycle_bits) - 1)
    zero = np.int8(0)
    n_blocks = (m + _BLOCK - 1) // _BLOCK
    for blk in prange(n_blocks):  # unsigned indices below: no wraparound test, loops vectorize
        row_codes = np.zeros(out.shape[1], xp.dtype)  # one row's codes, gathered once
        for bb in range(blk * _BLOCK, min(m, (blk + 1) * _BLOCK)):
            b = start + bb
            n, p = b // positions, b % positions
            corner = ((n * height + (p // w_out) * stride[0]) * wide
                      + (p % w_out) * stride[1]) * channels
            for r in range(runs.shape[0]):  # runs of contiguous channels
                src, dst = np.uint64(corner + runs[r, 0]), np.uint64(runs[r, 1])
                for c in range(np.uint64(runs[r, 2])):
                    row_codes[dst + c] = flat_in[src + c]
            for ph in range(n_phases):
                for cyc in range(n_cycles):
                    row = np.uint64((ph * n_cycles + cyc) * m + bb) * width
                    shift = np.int8(cyc * cycle_bits)
                    if n_cycles == 1 and n_phases == 1:  # the digit is the code itself
                        for c in range(used):
                            flat_out[row + c] = row_codes[c]
                    elif n_cycles == 1 and ph == 0:
                        for c in range(used):
                            flat_out[row + c] = max(row_codes[c], zero)
                    elif n_cycles == 1:
                        for c in range(used):
                            flat_out[row + c] = max(-row_codes[c], zero)
                    elif n_phases == 1:
                        for c in range(used):
                            flat_out[row + c] = (row_codes[c] >> shift) & mask
                    elif ph == 0:
                        for c in range(used):
                            flat_out[row + c] = (max(row_codes[c], zero) >> shift) & mask
                    else:
                        for c in range(used):
                            flat_out[row + c] = (max(-row_codes[c], zero) >> shift) & mask
                    for c in range(used, width):
                        flat_out[row + c] = 0


@functools.lru_cache(maxsize=1024)
def _channel_runs(channels: int, wide: int, kernel_size, dilation, lo: int, hi: int
                  ) -> np.ndarray:
    """``(source offset from the window's corner, column, length)`` of each run of contiguous
    channels among crossbar rows ``lo:hi`` (``(kh, kw, C)`` order)."""
    runs = []
    k = lo
    while k < hi:
        pos, c0 = divmod(k, channels)
        length = min(channels - c0, hi - k)
        dy, dx = (pos // kernel_size[1]) * dilation[0], (pos % kernel_size[1]) * dilation[1]
        runs.append(((dy * wide + dx) * channels + c0, k - lo, length))
        k += length
    table = np.array(runs, dtype=np.int64).reshape(-1, 3)
    table.setflags(write=False)  # cached: shared by every call with these rows
    return table


def stream_patches(xp: np.ndarray, out_size: tuple[int, int], kernel_size: tuple[int, int],
                   dilation: tuple[int, int], stride: tuple[int, int], lo: int, hi: int,
                   start: int, stop: int, n_cycles: int, cycle_bits: int, n_phases: int,
                   width: int, dtype: type = np.int8) -> np.ndarray:
    """DAC digits of rows ``start:stop`` and crossbar rows ``lo:hi`` of a conv's im2col matrix.

    Args:
        xp: the padded input codes, ``N x H x W x C`` int8 or int16 (channels last; int8
            within +-127, int16 within +-32767).
        out_size: ``(H_out, W_out)``.
        kernel_size, dilation, stride: the conv's geometry (padding already applied).
        lo, hi: the crossbar rows (im2col columns in ``(kh, kw, C)`` order) of the tile.
        start, stop: the im2col rows (output positions ``(n, i, j)``, ``j`` fastest).
        n_cycles, cycle_bits, n_phases: as :func:`reram.kernels.split_input_cycles`
            (``1 <= cycle_bits <= 7``).
        width: columns of the result (``>= hi - lo``; the rest are zero).
        dtype: ``np.int8``, or ``np.float32`` (the same digits, for a float32 product).

    Returns:
        A ``(n_phases * n_cycles * m) x width`` array of ``dtype``, ``m = stop - start``: row
        ``(p * n_cycles + j) * m + b`` holds the cycle-``j`` digit of phase ``p`` of row
        ``start + b``, as tile ``0`` of ``split_input_cycles(im2col[start:stop, lo:hi], ...)``.
    """
    if xp.ndim != 4 or xp.dtype not in (np.int8, np.int16):
        raise ValueError(f"xp must be a 4-D int8 or int16 array (N x H x W x C), got {xp.dtype} "
                         f"{xp.shape}")
    if not 0 < cycle_bits <= 7 or n_cycles < 1 or n_phases not in (1, 2):
        raise ValueError(f"need 1 <= cycle_bits <= 7, n_cycles >= 1, n_phases 1 or 2; got "
                         f"{cycle_bits}, {n_cycles}, {n_phases}")
    k_total = kernel_size[0] * kernel_size[1] * xp.shape[3]
    if not 0 <= lo <= hi <= k_total or width < hi - lo:
        raise ValueError(f"rows {lo}:{hi} of {k_total} do not fit width {width}")
    if not 0 <= start <= stop <= xp.shape[0] * out_size[0] * out_size[1]:
        raise ValueError(f"im2col rows {start}:{stop} out of range")
    dtype = np.dtype(dtype)
    if dtype not in (np.int8, np.float32):
        raise ValueError(f"dtype must be int8 or float32, got {dtype}")
    out = np.empty((n_phases * n_cycles * (stop - start), width), dtype)
    if stop > start:
        runs = _channel_runs(xp.shape[3], xp.shape[2], tuple(kernel_size), tuple(dilation), lo, hi)
        _stream_patches(np.ascontiguousarray(xp), int(out_size[0]), int(out_size[1]),
                        np.asarray(stride, np.int64), runs, int(start), int(stop),
                        int(n_cycles), int(cycle_bits), int(n_phases), out)
    return out


@jit(parallel=True)
def _scale_into_nchw(acc, row_scale, col_scale, bias, has_bias, out):
    n, channels, positions = out.shape
    flat_acc, flat_out = acc.reshape(-1), out.reshape(-1)
    width = np.uint64(channels)
    for s in prange(n):  # unsigned indices below: no wraparound test, the loops vectorize
        tile = np.empty(16 * channels, np.float32)  # 16 positions x all channels, scaled
        first = np.uint64(s * positions)
        for p0 in range(0, positions, 16):
            count = np.uint64(min(positions, p0 + 16) - p0)
            for q in range(count):  # scale rows of acc (contiguous over channels)
                b = first + np.uint64(p0) + q
                rs = row_scale[b]
                for c in range(width):
                    tile[q * width + c] = np.float32((flat_acc[b * width + c] * rs) * col_scale[c])
            for c in range(width):  # write them transposed (contiguous over positions)
                dst = (np.uint64(s) * width + c) * np.uint64(positions) + np.uint64(p0)
                if has_bias:  # one channel's bias, added in float32
                    bc = bias[c]
                    for q in range(count):
                        flat_out[dst + q] = tile[q * width + c] + bc
                else:
                    for q in range(count):
                        flat_out[dst + q] = tile[q * width + c]


@jit(parallel=True)
def _scale_rows(acc, row_scale, col_scale, bias, has_bias, out):
    # one position per sample (a Linear layer's output): rows scaled in place of a transpose
    for s in prange(acc.shape[0]):
        rs = row_scale[s]
        if has_bias:  # added in float32
            for c in range(acc.shape[1]):
                out[s, c] = np.float32((acc[s, c] * rs) * col_scale[c]) + bias[c]
        else:
            for c in range(acc.shape[1]):
                out[s, c] = np.float32((acc[s, c] * rs) * col_scale[c])


def scale_into_nchw(acc: np.ndarray, row_scale: np.ndarray, col_scale: np.ndarray,
                    out: np.ndarray, bias: Optional[np.ndarray] = None) -> np.ndarray:
    """``out[s, c, p] = float32((acc[s * P + p, c] * row_scale[s * P + p]) * col_scale[c])``,
    plus ``bias[c]`` (a float32 sum) when given.

    Args:
        acc: the ``(N * P) x C`` float64 shift-added codes (rows: output positions, ``P`` per
            sample).
        row_scale: ``N * P`` float64 scales of the rows (ADC step times input unit).
        col_scale: ``C`` float64 scales of the columns (weight unit).
        out: the ``N x C x P`` float32 output (a view of the NCHW output), written.
        bias: ``C`` float32 biases added to the scaled values, or None (nothing added: a
            ``-0.0`` stays ``-0.0``).

    Returns:
        ``out``.
    """
    if out.ndim != 3 or out.dtype != np.float32:
        raise ValueError(f"out must be a 3-D float32 array (N x C x P), got {out.dtype} {out.shape}")
    n, channels, positions = out.shape
    if acc.shape != (n * positions, channels) or acc.dtype != np.float64:
        raise ValueError(f"acc must be a float64 array of shape {(n * positions, channels)}, got "
                         f"{acc.dtype} {acc.shape}")
    if row_scale.shape != (n * positions,) or col_scale.shape != (channels,):
        raise ValueError("row_scale and col_scale must match acc's rows and columns")
    if bias is not None and (bias.shape != (channels,) or bias.dtype != np.float32):
        raise ValueError(f"bias must be a float32 array of shape ({channels},), got "
                         f"{bias.dtype} {bias.shape}")
    args = (np.ascontiguousarray(acc), np.ascontiguousarray(row_scale, np.float64),
            np.ascontiguousarray(col_scale, np.float64),
            np.zeros(channels, np.float32) if bias is None else np.ascontiguousarray(bias),
            bias is not None)
    if acc.size and positions == 1:
        _scale_rows(*args, out[:, :, 0])
    elif acc.size:
        _scale_into_nchw(*args, out)
    return out
