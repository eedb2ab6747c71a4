"""Pulsed weight update of analog synaptic devices (numba), the CPU path of ``update="pulsed"``.

Each weight is one device whose state is its normalized conductance ``y`` in ``[0, 1]``
(``g = g_min + y * (g_max - g_min)``). Potentiation (LTP) and depression (LTD) pulses move ``y``
along NeuroSim's exponential conductance-vs-pulse curve (Chen, Peng & Yu, NeuroSim, IEEE TCAD
2018; code: neurosim/MLP_NeuroSim_V3.0 ``Cell.cpp`` ``RealDevice::Write``):

    y(P) = (1 - exp(-P / (a * N))) / (1 - exp(-1 / a)),   P in [0, N] pulses,

with ``N`` the device's pulses from ``g_min`` to ``g_max`` in that direction and ``a`` the
normalized nonlinearity (``A / N``; ``a > 0`` a saturating curve, ``a < 0`` the mirrored one,
``a = inf`` linear). An update asks for the change ``target - y``; the hardware fires
``n = round((target - y) * N)`` identical pulses (LTP for ``n > 0`` with the LTP curve, LTD for
``n < 0`` with the LTD curve): the device's pulse position is read from its conductance on that
curve, moved by ``n``, clipped to ``[0, N]``, and cycle-to-cycle variation adds
``c2c * sqrt(|n|) * noise`` (independent per-pulse variation summed over the ``n`` pulses),
before ``y`` is clipped to ``[0, 1]``.

Imports nothing from ``torch`` or from the rest of ``reram``. Its NumPy twin lives in
``tests/kernels/test_pulsed.py``.
"""
from __future__ import annotations

import math

import numpy as np

from ._jit import jit

__all__ = ["apply_pulses", "pulse_curve", "pulse_position"]


@jit()
def _curve(p: float, a: float, n: float) -> float:
    """Normalized conductance after ``p`` pulses from the bottom of a curve of ``n`` pulses."""
    if math.isinf(a):
        return p / n
    return (1.0 - math.exp(-p / (a * n))) / (1.0 - math.exp(-1.0 / a))


@jit()
def _inverse(y: float, a: float, n: float) -> float:
    """Pulse position of normalized conductance ``y`` on a curve of ``n`` pulses."""
    if math.isinf(a):
        return y * n
    return -a * n * math.log(1.0 - y * (1.0 - math.exp(-1.0 / a)))


@jit()
def _apply_pulses(state, target, a_ltp, a_ltd, levels_ltp, levels_ltd, c2c, noise, pulses):
    per_device_ltp = a_ltp.size > 1
    per_device_ltd = a_ltd.size > 1
    has_noise = c2c > 0.0 and noise.size > 0
    for i in range(state.size):
        y = np.float64(state[i])
        d = np.float64(target[i]) - y
        if not (d == d):  # NaN target: no pulses, state unchanged
            pulses[i] = 0
            continue
        if d > 0:
            levels = np.float64(levels_ltp)
            a = np.float64(a_ltp[i] if per_device_ltp else a_ltp[0])
        else:
            levels = np.float64(levels_ltd)
            a = np.float64(a_ltd[i] if per_device_ltd else a_ltd[0])
        scaled = d * levels
        if scaled > 2.0 * levels:  # more than a full sweep saturates anyway
            scaled = 2.0 * levels
        elif scaled < -2.0 * levels:
            scaled = -2.0 * levels
        n = np.int64(np.round(scaled))
        pulses[i] = n
        if n == 0:
            continue
        p = _inverse(y, a, levels) + n
        if p < 0.0:
            p = 0.0
        elif p > levels:
            p = levels
        y = _curve(p, a, levels)
        if has_noise:
            y += c2c * math.sqrt(abs(n)) * np.float64(noise[i])
        if y < 0.0:
            y = 0.0
        elif y > 1.0:
            y = 1.0
        state[i] = y


def _check_params(a: np.ndarray, name: str, size: int) -> np.ndarray:
    arr = np.ascontiguousarray(np.asarray(a, dtype=np.float64).reshape(-1))
    if arr.size not in (1, size):
        raise ValueError(f"{name} must hold 1 or {size} values (one per device), got {arr.size}")
    if np.isnan(arr).any() or (arr == 0).any():
        raise ValueError(f"{name} must be nonzero and not NaN (inf means linear)")
    return arr


def apply_pulses(state: np.ndarray, target: np.ndarray, a_ltp, a_ltd, levels_ltp: int,
                 levels_ltd: int, c2c: float = 0.0, noise: np.ndarray | None = None) -> np.ndarray:
    """Fire the pulses that move each device toward ``target``; updates ``state`` in place.

    Args:
        state: float32 normalized conductances in ``[0, 1]``, any shape, C-contiguous
            (updated in place).
        target: float32 normalized conductances the update asks for, same shape (values outside
            ``[0, 1]`` saturate; NaN leaves the device untouched).
        a_ltp, a_ltd: normalized nonlinearity of LTP / LTD: one value, or one per device
            (device-to-device variation); ``inf`` for a linear curve.
        levels_ltp, levels_ltd: pulses from ``g_min`` to ``g_max`` (LTP) and back (LTD).
        c2c: cycle-to-cycle standard deviation per pulse, in units of ``g_max - g_min``.
        noise: float32 standard normal draws, one per device (needed when ``c2c > 0``).

    Returns:
        int64 pulses fired per device (positive LTP, negative LTD), shaped like ``state``.

    Raises:
        ValueError: on mismatched shapes or dtypes, non-positive levels, negative ``c2c`` or a
            missing noise array.
    """
    if not isinstance(state, np.ndarray) or state.dtype != np.float32 or not state.flags.c_contiguous:
        raise ValueError("state must be a C-contiguous float32 array")
    target = np.asarray(target)
    if target.shape != state.shape:
        raise ValueError(f"target shape {target.shape} must equal state shape {state.shape}")
    target = np.ascontiguousarray(target, dtype=np.float32).reshape(-1)
    for name, value in (("levels_ltp", levels_ltp), ("levels_ltd", levels_ltd)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not math.isfinite(c2c) or c2c < 0:
        raise ValueError(f"c2c must be a non-negative number, got {c2c!r}")
    size = state.size
    a_ltp_arr = _check_params(a_ltp, "a_ltp", size)
    a_ltd_arr = _check_params(a_ltd, "a_ltd", size)
    if c2c > 0:
        if noise is None or np.asarray(noise).size != size:
            raise ValueError(f"noise must hold one standard normal draw per device ({size}) when c2c > 0")
        noise_arr = np.ascontiguousarray(np.asarray(noise, dtype=np.float32).reshape(-1))
    else:
        noise_arr = np.zeros(0, np.float32)
    pulses = np.zeros(size, np.int64)
    if size:
        _apply_pulses(state.reshape(-1), target, a_ltp_arr, a_ltd_arr, int(levels_ltp),
                      int(levels_ltd), float(c2c), noise_arr, pulses)
    return pulses.reshape(state.shape)


def pulse_curve(pulses: np.ndarray, a: float, levels: int) -> np.ndarray:
    """The closed-form curve ``y(P)`` (float64), for tests and plots."""
    p = np.asarray(pulses, dtype=np.float64)
    if math.isinf(a):
        return p / levels
    return (1.0 - np.exp(-p / (a * levels))) / (1.0 - math.exp(-1.0 / a))


def pulse_position(y: np.ndarray, a: float, levels: int) -> np.ndarray:
    """The inverse of :func:`pulse_curve`: pulse position of conductance ``y`` (float64)."""
    y = np.asarray(y, dtype=np.float64)
    if math.isinf(a):
        return y * levels
    return -a * levels * np.log(1.0 - y * (1.0 - math.exp(-1.0 / a)))
