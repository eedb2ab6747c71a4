"""Input streaming and the fused per-tile ADC-quantize-and-accumulate kernel.

The crossbar forward pass is three steps: :func:`split_input_cycles` turns signed input codes
into the bit-serial DAC cycles of each input phase, laid out per row tile; one batched matrix
product (done by the caller in torch/BLAS) gives every column current of every tile, phase and
cycle; :func:`adc_accumulate` digitizes each current with the ADC and shift-adds the codes over
tiles, phases, cycles, slices and the differential pair in one pass.
"""
from __future__ import annotations

from typing import Optional

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


@jit()
def _adc_row(currents, b, m, row_coef, col_coef, n_out, inv_step, code_lo, code_hi, count, acc):
    """Input ``b``'s conversions, shift-added into ``acc[b]``; its informative count."""
    n_tiles = currents.shape[0]
    n_row_groups = row_coef.shape[0]
    n_col_groups = col_coef.shape[0]
    informative = 0
    for t in range(n_tiles):
        for r in range(n_row_groups):
            row = r * m + b
            rc = row_coef[r]
            for g in range(n_col_groups):
                coef = rc * col_coef[g]
                base = g * n_out
                if count:
                    for o in range(n_out):  # selects, not branches: vectorizes, keeps NaN
                        code = np.rint(currents[t, row, base + o] * inv_step)
                        informative += (code > code_lo) & (code < code_hi) & (code != 0.0)
                        code = code_hi if code > code_hi else code
                        code = code_lo if code < code_lo else code
                        acc[b, o] += coef * code
                else:
                    for o in range(n_out):
                        code = np.rint(currents[t, row, base + o] * inv_step)
                        code = code_hi if code > code_hi else code
                        code = code_lo if code < code_lo else code
                        acc[b, o] += coef * code
    return informative


@jit(parallel=True)
def _adc_accumulate(currents, m, row_coef, col_coef, n_out, inv_step, code_lo, code_hi, count,
                    until_found, acc):
    informative = 0
    first = 0
    if count and until_found:  # count input by input (in order) until one has an informative code
        while first < m and informative == 0:
            informative += _adc_row(currents, first, m, row_coef, col_coef, n_out, inv_step,
                                    code_lo, code_hi, True, acc)
            first += 1
    every = count and not until_found
    for b in prange(first, m):
        informative += _adc_row(currents, b, m, row_coef, col_coef, n_out, inv_step, code_lo,
                                code_hi, every, acc)
    return informative


def adc_accumulate(currents: np.ndarray, m: int, row_coef: np.ndarray, col_coef: np.ndarray,
                   n_out: int, step: float, code_lo: float, code_hi: float,
                   out: np.ndarray | None = None, counts: np.ndarray | None = None,
                   count: bool = True, until_found: bool = False) -> np.ndarray:
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
        count: False skips counting (nothing is added to ``counts``), for a caller that
            already knows some conversion was informative.
        until_found: count input by input (``0, 1, ...``) and stop counting after the first
            input that has an informative conversion (its count is added; the rest convert
            without the test, about twice as fast): for a caller that only asks whether any
            conversion was informative.

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
                                      float(code_lo), float(code_hi), bool(count),
                                      bool(until_found), acc)
        if counts is not None:
            counts[0] += informative
    return acc


# ------------------------------------------------------------------ the integer ADC pass
#: Inputs per block of the integer ADC pass (one float32 scratch row per block, not per input).
_INT_BLOCK = 64
_F32_EXACT = 1 << 24
_F64_EXACT = 1 << 53


@jit()
def _adc_int_row(currents, b, m, row_coef, col_coef, n_out, mult, code_lo, code_hi, count, part,
                 acc):
    """Input ``b``'s conversions (float32 codes, one row group's shift-add in ``part``), added
    into ``acc[b]``; its informative count."""
    n_tiles = currents.shape[0]
    n_row_groups = row_coef.shape[0]
    n_col_groups = col_coef.shape[0]
    informative = 0
    for t in range(n_tiles):
        for r in range(n_row_groups):
            row = r * m + b
            part[:] = 0
            for g in range(n_col_groups):
                cg = col_coef[g]
                base = g * n_out
                if count:
                    for o in range(n_out):
                        code = np.rint(np.float32(currents[t, row, base + o]) * mult)
                        informative += (code > code_lo) & (code < code_hi) & (code != 0)
                        code = code_hi if code > code_hi else code
                        code = code_lo if code < code_lo else code
                        part[o] += cg * code
                else:  # float32 codes and sums, 16 to a vector
                    for o in range(n_out):
                        code = np.rint(np.float32(currents[t, row, base + o]) * mult)
                        code = code_hi if code > code_hi else code
                        code = code_lo if code < code_lo else code
                        part[o] += cg * code
            rc = row_coef[r]
            for o in range(n_out):
                acc[b, o] += rc * np.float64(part[o])
    return informative


@jit(parallel=True)
def _adc_accumulate_int(currents, m, row_coef, col_coef, n_out, mult, code_lo, code_hi, count,
                        until_found, acc):
    informative = 0
    first = 0
    if count and until_found:  # count input by input (in order) until one has an informative code
        part = np.empty(n_out, np.float32)
        while first < m and informative == 0:
            informative += _adc_int_row(currents, first, m, row_coef, col_coef, n_out, mult,
                                        code_lo, code_hi, True, part, acc)
            first += 1
    every = count and not until_found
    n_blocks = (m - first + _INT_BLOCK - 1) // _INT_BLOCK
    for blk in prange(n_blocks):
        part = np.empty(n_out, np.float32)  # one row group's shift-added codes (exact)
        for b in range(first + blk * _INT_BLOCK, min(m, first + (blk + 1) * _INT_BLOCK)):
            informative += _adc_int_row(currents, b, m, row_coef, col_coef, n_out, mult,
                                        code_lo, code_hi, every, part, acc)
    return informative


def _reference_codes(currents: np.ndarray, step: float, code_lo: float, code_hi: float
                     ) -> np.ndarray:
    """The ADC codes of :func:`adc_accumulate` (float64 arithmetic)."""
    return np.clip(np.rint(currents.astype(np.float64) * (1.0 / float(step))), code_lo, code_hi)


def int_adc_multiplier(step: float, code_lo: float, code_hi: float, max_current: int
                       ) -> Optional[np.float32]:
    """A float32 multiplier ``s`` with ``clip(rint(float32(I) * s))`` equal to
    :func:`adc_accumulate`'s float64 code ``clip(rint(I * (1 / step)))`` for every integer
    current ``|I| <= max_current``, or None when no candidate is (or ``max_current`` is too
    large for float32).

    Checked exhaustively over every current that is not saturated on both sides (beyond them
    both codes are monotone in ``I`` and clipped alike), so the integer pass gives the same
    bits as the float64 one. Candidates: ``float32(1 / step)`` and its two neighbours.
    """
    if not step > 0 or max_current < 0:
        return None
    edge = max(abs(code_lo), abs(code_hi)) + 1.0
    span = int(min(max_current, np.ceil(edge * step) + 1))
    if span >= _F32_EXACT:
        return None
    lo32, hi32 = np.float32(code_lo), np.float32(code_hi)

    def agrees(currents: np.ndarray, mult: np.float32) -> bool:
        got = np.clip(np.rint(currents.astype(np.float32) * mult), lo32, hi32)
        return np.array_equal(got.astype(np.float64),
                              _reference_codes(currents, step, code_lo, code_hi))

    # currents next to every rounding edge first (a quick rejection), then every current
    edges = np.arange(np.floor(min(code_lo, 0.0)), np.ceil(code_hi) + 1) + 0.5
    near = np.rint(edges * step)[:, None].astype(np.int64) + np.arange(-2, 3)
    near = np.clip(near.ravel(), -span, span)
    everything = np.arange(-span, span + 1, dtype=np.int64)
    base = np.float32(1.0 / float(step))
    for mult in (base, np.nextafter(base, np.float32(np.inf)), np.nextafter(base, np.float32(0))):
        if mult > 0 and agrees(near, mult) and agrees(-near, mult) and agrees(everything, mult):
            return np.float32(mult)
    return None


def int_adc_fits(row_coef: np.ndarray, col_coef: np.ndarray, code_lo: float, code_hi: float,
                 n_tiles: int) -> bool:
    """True when the integer pass's sums are exact: integer column weights, one row group's
    shift-added codes within float32's integers (``2**24``), and every total within float64's
    integers (as the float64 pass assumes)."""
    col = np.asarray(col_coef, dtype=np.float64)
    row = np.asarray(row_coef, dtype=np.float64)
    if not (np.all(col == np.rint(col)) and np.all(np.isfinite(row))):
        return False
    code = max(abs(code_lo), abs(code_hi))
    part = float(np.abs(col).sum()) * code
    total = part * float(np.abs(row).sum()) * max(n_tiles, 1)
    return part < _F32_EXACT and total < _F64_EXACT


def adc_accumulate_int(currents: np.ndarray, m: int, row_coef: np.ndarray, col_coef: np.ndarray,
                       n_out: int, mult: np.float32, code_lo: float, code_hi: float,
                       out: np.ndarray, count: bool = True, until_found: bool = False) -> int:
    """:func:`adc_accumulate` for integer currents (int32, or float32 holding integers below
    ``2**24``: a float32 product's exact sums), in float32 arithmetic.

    The same result bits as :func:`adc_accumulate` when ``mult`` comes from
    :func:`int_adc_multiplier` for a bound on ``|currents|`` and :func:`int_adc_fits` holds
    (the caller checks both, once per layer): each code is computed in float32 (16 to a
    vector), the codes of one row group are shift-added in float32, then added to ``out`` in
    float64, every sum an exact integer.

    Args:
        currents: a ``T x (R * m) x (G * n_out)`` int32 array, or float32 of integers below
            ``2**24`` (as :func:`adc_accumulate`).
        m, row_coef, n_out, code_lo, code_hi: as :func:`adc_accumulate`.
        col_coef: the column weights, integers.
        mult: the float32 multiplier standing exactly for ``1 / step``.
        out: the ``m x n_out`` float64 accumulator, updated in place.
        count: count the informative conversions (False: return 0 and skip the test, for a
            caller that already knows some conversion was informative).
        until_found: as :func:`adc_accumulate`'s: count only up to the first input that has
            an informative conversion.

    Returns:
        The number of informative conversions (0 when ``count`` is False).
    """
    if currents.ndim != 3 or currents.dtype not in (np.int32, np.float32):
        raise ValueError(f"currents must be a 3-D int32 or float32 array, got {currents.dtype} "
                         f"{currents.shape}")
    n_tiles, rows, cols = currents.shape
    if rows != len(row_coef) * m or cols != len(col_coef) * n_out:
        raise ValueError(f"currents shape {currents.shape} does not match {len(row_coef)} "
                         f"row groups of {m} and {len(col_coef)} column groups of {n_out}")
    if out.shape != (m, n_out) or out.dtype != np.float64:
        raise ValueError(f"out must be a float64 array of shape ({m}, {n_out}), got "
                         f"{out.dtype} {out.shape}")
    if not (m and n_out):
        return 0
    return int(_adc_accumulate_int(
        np.ascontiguousarray(currents), int(m), np.ascontiguousarray(row_coef, dtype=np.float64),
        np.ascontiguousarray(col_coef, dtype=np.float32), int(n_out), np.float32(mult),
        np.float32(code_lo), np.float32(code_hi), bool(count), bool(until_found), out))
