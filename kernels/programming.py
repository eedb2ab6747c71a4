"""Programming kernel: weights -> per-cell conductance levels of a differential crossbar pair.

A weight ``w`` with scale ``s`` (``s = max|W|`` per layer or output channel) becomes the
magnitude code ``q = round(|w| / s * L)`` with ``L = 2**(weight_bits-1) - 1``; its sign picks
the array of the differential pair (G+ for positive, G- for negative weights, the other cell
stays at level 0 = ``g_min``). ``q`` is bit-sliced LSB first into ``n_slices`` cells of
``slice_bits`` bits. Levels are in units of one conductance step
``(g_max - g_min) / (2**slice_bits - 1)`` above ``g_min``, which the reference column removes
before the ADC. Then device defects: stuck-at-0 cells read level 0, stuck-at-1 cells the top
level; lognormal variation multiplies the absolute conductance, so a cell at level ``l`` reads
``(r + l) * f - r`` with ``r = g_min`` in level units and ``f = exp(variation * N(0,1))``.
"""
from __future__ import annotations

import numpy as np
from numba import prange

from ._jit import jit

FAULT_NONE = 0
FAULT_SA0 = 1
FAULT_SA1 = 2


@jit(parallel=True)
def _program_ideal_cells(w, inv_scale, levels, n_slices, slice_bits, cells, magnitude, effective):
    """Quantized weights without defects: the same values as the general loop, vectorized
    (unsigned column indices: no wraparound test)."""
    out_features, in_features = w.shape
    cell_max = (1 << slice_bits) - 1
    keep_cells = cells.size > 0
    for o in prange(out_features):
        inv = inv_scale[o]
        unit = 1.0 / inv if inv > 0 else 0.0
        for i in range(np.uint64(in_features)):
            v = w[o, i]
            a = min(np.rint(abs(v) * inv), levels)
            magnitude[o, i] = -a if v < 0 else a
            e = a * unit
            effective[o, i] = (0.0 - e) if v < 0 else e  # +0.0 for a zero level, as the sum
        if keep_cells:
            for k in range(n_slices):
                shift = k * slice_bits
                for i in range(np.uint64(in_features)):
                    v = w[o, i]  # the code again in float64: the float32 magnitude rounds
                    q = np.int64(min(np.rint(abs(v) * inv), levels))  # levels past 2**24
                    d = float((q >> shift) & cell_max)
                    cells[0, k, o, i] = 0.0 if v < 0 else d
                    cells[1, k, o, i] = d if v < 0 else 0.0


@jit(parallel=True)
def _program_cells(w, inv_scale, levels, n_slices, slice_bits, faults, var_factor, r_min,
                   cells, magnitude, effective):
    out_features, in_features = w.shape
    quantized = levels > 0
    cell_max = (1 << slice_bits) - 1 if quantized else 1
    has_faults = faults.size > 0
    has_var = var_factor.size > 0
    keep_cells = cells.size > 0
    if quantized and not has_faults and not has_var:
        _program_ideal_cells(w, inv_scale, levels, n_slices, slice_bits, cells, magnitude,
                             effective)
        return
    for o in prange(out_features):
        unit = 1.0 / inv_scale[o] if inv_scale[o] > 0 else 0.0
        for i in range(in_features):
            v = w[o, i]
            a = abs(v) * inv_scale[o]
            if quantized:
                a = np.rint(a)
                if a > levels:
                    a = levels
            magnitude[o, i] = a if v >= 0 else -a
            side = 0 if v >= 0 else 1
            q = np.int64(a) if quantized else np.int64(0)
            net = 0.0
            for k in range(n_slices):
                shift = float(np.int64(1) << (k * slice_bits)) if quantized else 1.0
                for pm in range(2):
                    if pm != side:
                        lvl = 0.0
                    elif quantized:
                        lvl = float((q >> (k * slice_bits)) & cell_max)
                    else:
                        lvl = a if a < 1.0 else 1.0
                    if has_faults:
                        f = faults[pm, k, o, i]
                        if f == FAULT_SA0:
                            lvl = 0.0
                        elif f == FAULT_SA1:
                            lvl = float(cell_max)
                    if has_var:
                        lvl = (r_min + lvl) * var_factor[pm, k, o, i] - r_min
                    if keep_cells:
                        cells[pm, k, o, i] = lvl
                    net += shift * lvl if pm == 0 else -shift * lvl
            effective[o, i] = net * unit


def program_cells(w: np.ndarray, inv_scale: np.ndarray, levels: int, n_slices: int,
                  slice_bits: int, faults: np.ndarray | None = None,
                  var_factor: np.ndarray | None = None, r_min: float = 0.0,
                  keep_cells: bool = True) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Map weights onto per-cell levels of a differential, bit-sliced crossbar pair.

    Args:
        w: an ``out x in`` float32 weight matrix.
        inv_scale: an ``out``-dim float64 array, ``levels / s_w`` per output row (0 where the
            row scale is 0).
        levels: largest magnitude code ``2**(weight_bits-1) - 1``; 0 means unquantized (the
            magnitude ``|w| * inv_scale`` in ``[0, 1]`` is stored in one analog cell).
        n_slices: cells per weight (1 when unquantized).
        slice_bits: bits per cell (ignored when unquantized).
        faults: optional ``2 x n_slices x out x in`` int8 map (0 ok, 1 stuck-at-0, 2 stuck-at-1).
        var_factor: optional ``2 x n_slices x out x in`` float32 multiplicative variation.
        r_min: ``g_min`` expressed in conductance steps (only used with ``var_factor``).
        keep_cells: return the per-cell levels (else ``cells`` is None and only the effective
            weight is computed, without the ``2 * n_slices``-fold memory).

    Returns:
        ``(cells, magnitude, effective)``: a ``2 x n_slices x out x in`` float32 array of
        effective cell levels (index 0 the G+ array, 1 the G- array, slice 0 the least
        significant) or None; the ``out x in`` float32 signed magnitude codes before slicing
        and defects; and the ``out x in`` float32 effective weight ``sum_k 2**(k*slice_bits) *
        (G+_k - G-_k) / inv_scale`` that the pair realizes.
    """
    if w.ndim != 2:
        raise ValueError(f"w must be a 2-D out x in matrix, got shape {w.shape}")
    w = np.ascontiguousarray(w, dtype=np.float32)
    out_features, in_features = w.shape
    inv_scale = np.ascontiguousarray(inv_scale, dtype=np.float64)
    if inv_scale.shape != (out_features,):
        raise ValueError(f"inv_scale must have shape ({out_features},), got {inv_scale.shape}")
    if levels < 0 or n_slices < 1:
        raise ValueError(f"levels must be >= 0 and n_slices >= 1, got {levels}, {n_slices}")
    if levels > 0 and slice_bits * n_slices < int(levels).bit_length():
        raise ValueError(f"{n_slices} slices of {slice_bits} bits cannot hold level {levels}")
    shape = (2, n_slices, out_features, in_features)
    if faults is None:
        faults = np.zeros((0, 0, 0, 0), np.int8)
    elif faults.shape != shape:
        raise ValueError(f"faults must have shape {shape}, got {faults.shape}")
    if var_factor is None:
        var_factor = np.zeros((0, 0, 0, 0), np.float32)
    elif var_factor.shape != shape:
        raise ValueError(f"var_factor must have shape {shape}, got {var_factor.shape}")
    cells = np.empty(shape if keep_cells else (0, 0, 0, 0), np.float32)
    magnitude = np.empty((out_features, in_features), np.float32)
    effective = np.empty((out_features, in_features), np.float32)
    _program_cells(w, inv_scale, int(levels), int(n_slices), int(slice_bits),
                   np.ascontiguousarray(faults, dtype=np.int8),
                   np.ascontiguousarray(var_factor, dtype=np.float32), float(r_min), cells,
                   magnitude, effective)
    return (cells if keep_cells else None), magnitude, effective
