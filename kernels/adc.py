"""Input streaming and the fused per-tile ADC-quantize-and-accumulate kernel.

The crossbar forward pass is three steps: :func:`split_input_cycles` turns signed input codes
into the bit-serial DAC cycles of each input phase, laid out per row tile; one batched matrix
product (done by the caller in torch/BLAS) gives every column current of every tile, phase and
cycle; :func:`adc_accumulate` digitizes each current with the ADC and shift-adds the codes over
tiles, phases, cycles, slices and the differential pair in one pass.
"""
from __future__ import annotations

import numpy as np
from numba import prange

from ._jit import jit


@jit(parallel=True)
def _split_input_cycles(codes, n_cycles, cycle_bits, n_phases, tile, is_float, out):
    m, k_total = codes.shape
    mask = (1 << cycle_bits) - 1
    n_tiles = out.shape[0]
    for b in prange(m):
        for t in range(n_tiles):
            lo = t * tile
            width = min(tile, k_total - lo)
            if cycle_bits == 0:  # unquantized magnitudes, one cycle (float output only)
                for col in range(width):
                    c = codes[b, lo + col]
                    phase = 1 if (c < 0 and n_phases == 2) else 0
                    out[t, phase * m + b, col] = c if c != c else abs(c)
                continue
            # one pass per (phase, cycle) row with selects, no branches: it vectorizes; every
            # element of the row is written, padding included
            for p in range(n_phases):
                for j in range(n_cycles):
                    row = (p * n_cycles + j) * m + b
                    shift = j * cycle_bits
                    for col in range(width):
                        c = codes[b, lo + col]
                        take = n_phases == 1 or ((c < 0) == (p == 1))
                        a = abs(c) if take else 0.0
                        a = 0.0 if a != a else a
                        digit = (np.int64(a) >> shift) & mask
                        if is_float and p == 0:
                            out[t, row, col] = c if c != c else digit  # NaN poisons phase 0
                        else:
                            out[t, row, col] = digit
                    for col in range(width, tile):
                        out[t, row, col] = 0


def split_input_cycles(codes: np.ndarray, n_cycles: int, cycle_bits: int, n_phases: int,
                       tile: int, dtype: type = np.float32) -> np.ndarray:
    """Split signed input codes into DAC cycles and input phases, tiled over rows.

    Args:
        codes: an ``m x k`` float32 (or int8, for codes within +-127) array of signed input
            codes (integers when the input is
            quantized; any value in ``[-1, 1]`` when ``cycle_bits == 0``).
        n_cycles: DAC cycles per phase (``ceil(magnitude_bits / dac_bits)``).
        cycle_bits: bits applied per cycle; 0 streams the unquantized magnitude in one cycle.
        n_phases: 2 to apply negative inputs in a second phase; 1 when no code is negative.
        tile: crossbar rows per tile.
        dtype: ``np.float32``, or ``np.int8`` for the integer product (then every digit must
            fit in int8, ``cycle_bits > 0`` and ``cycle_bits <= 7``; NaN codes give zero digits,
            and the caller marks their rows).

    Returns:
        A ``T x (n_phases * n_cycles * m) x tile`` array of ``dtype``, ``T = ceil(k / tile)``; row
        ``(p * n_cycles + j) * m + b`` of tile ``t`` holds the cycle-``j`` digit (least
        significant first) of phase ``p`` of input ``b`` on that tile's rows, zero-padded.
    """
    if codes.ndim != 2:
        raise ValueError(f"codes must be a 2-D m x k array, got shape {codes.shape}")
    if n_phases not in (1, 2):
        raise ValueError(f"n_phases must be 1 or 2, got {n_phases}")
    if n_cycles < 1 or tile < 1 or cycle_bits < 0:
        raise ValueError(f"n_cycles and tile must be >= 1 and cycle_bits >= 0, got "
                         f"{n_cycles}, {tile}, {cycle_bits}")
    if cycle_bits == 0 and n_cycles != 1:
        raise ValueError("unquantized input (cycle_bits=0) streams in exactly one cycle")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.int8):
        raise ValueError(f"dtype must be float32 or int8, got {dtype}")
    if dtype == np.int8 and not 0 < cycle_bits <= 7:
        raise ValueError(f"int8 digits need 1 <= cycle_bits <= 7, got {cycle_bits}")
    m, k = codes.shape
    n_tiles = max(1, -(-k // tile))
    if cycle_bits == 0 or not (m and k):
        out = np.zeros((n_tiles, n_phases * n_cycles * m, tile), dtype)
    else:  # the kernel writes every element
        out = np.empty((n_tiles, n_phases * n_cycles * m, tile), dtype)
    if m and k:
        source = np.int8 if codes.dtype == np.int8 else np.float32
        _split_input_cycles(np.ascontiguousarray(codes, dtype=source), int(n_cycles),
                            int(cycle_bits), int(n_phases), int(tile), dtype == np.float32, out)
    return out


@jit(parallel=True)
def _adc_accumulate(currents, m, row_coef, col_coef, n_out, inv_step, code_lo, code_hi, acc):
    n_tiles = currents.shape[0]
    n_row_groups = row_coef.shape[0]
    n_col_groups = col_coef.shape[0]
    informative = 0
    for b in prange(m):
        for t in range(n_tiles):
            for r in range(n_row_groups):
                row = r * m + b
                rc = row_coef[r]
                for g in range(n_col_groups):
                    coef = rc * col_coef[g]
                    base = g * n_out
                    for o in range(n_out):  # selects, not branches: vectorizes, keeps NaN
                        code = np.rint(currents[t, row, base + o] * inv_step)
                        informative += (code > code_lo) & (code < code_hi) & (code != 0.0)
                        code = code_hi if code > code_hi else code
                        code = code_lo if code < code_lo else code
                        acc[b, o] += coef * code
    return informative


def adc_accumulate(currents: np.ndarray, m: int, row_coef: np.ndarray, col_coef: np.ndarray,
                   n_out: int, step: float, code_lo: float, code_hi: float,
                   out: np.ndarray | None = None, counts: np.ndarray | None = None) -> np.ndarray:
    """Digitize every column current and shift-add the ADC codes.

    Args:
        currents: a ``T x (R * m) x (G * n_out)`` float32 or int32 array (the integer product's
            exact sums, read directly) of column currents (in units
            of one input code times one conductance step), row-group major as produced by
            :func:`split_input_cycles` and a batched product with the tiled cell levels.
        m: inputs per row group.
        row_coef: an ``R``-dim float64 array, the weight of each (phase, cycle) row group
            (``+-2**(j * dac_bits)``).
        col_coef: a ``G``-dim float64 array, the weight of each (array, slice) column group
            (``+-2**(k * cell_bits)``).
        n_out: output columns per column group.
        step: ADC step (current per code).
        code_lo: lowest ADC code (0 for a unipolar ADC).
        code_hi: highest ADC code.
        out: optional ``m x n_out`` float64 array (a view is fine) to accumulate into.
        counts: optional 1-element int64 array; the number of informative conversions (a code
            strictly inside the ADC range and not zero) is added to ``counts[0]``.

    Returns:
        The ``m x n_out`` float64 accumulator (``out`` when given) plus ``sum_t sum_r sum_g
        row_coef[r] * col_coef[g] * clip(round(I / step), code_lo, code_hi)``. NaN currents
        propagate.
    """
    if currents.ndim != 3:
        raise ValueError(f"currents must be 3-D (tiles x rows x cols), got shape {currents.shape}")
    n_tiles, rows, cols = currents.shape
    row_coef = np.ascontiguousarray(row_coef, dtype=np.float64)
    col_coef = np.ascontiguousarray(col_coef, dtype=np.float64)
    if rows != row_coef.shape[0] * m or cols != col_coef.shape[0] * n_out:
        raise ValueError(f"currents shape {currents.shape} does not match {row_coef.shape[0]} "
                         f"row groups of {m} and {col_coef.shape[0]} column groups of {n_out}")
    if not step > 0:
        raise ValueError(f"step must be positive, got {step}")
    if out is None:
        acc = np.zeros((m, n_out), np.float64)
    else:
        if out.shape != (m, n_out) or out.dtype != np.float64:
            raise ValueError(f"out must be a float64 array of shape ({m}, {n_out}), got "
                             f"{out.dtype} {out.shape}")
        acc = out
    if m and n_out:
        dtype = np.int32 if currents.dtype == np.int32 else np.float32
        informative = _adc_accumulate(np.ascontiguousarray(currents, dtype=dtype), int(m),
                                      row_coef, col_coef, int(n_out), 1.0 / float(step),
                                      float(code_lo), float(code_hi), acc)
        if counts is not None:
            counts[0] += informative
    return acc
