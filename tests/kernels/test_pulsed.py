"""reram.kernels.pulsed.apply_pulses against a plain NumPy twin (shapes, dtypes, edge cases)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from reram.kernels.pulsed import apply_pulses, pulse_curve, pulse_position


def _curve(p: float, a: float, n: int) -> float:
    return p / n if math.isinf(a) else (1 - math.exp(-p / (a * n))) / (1 - math.exp(-1 / a))


def _inverse(y: float, a: float, n: int) -> float:
    return y * n if math.isinf(a) else -a * n * math.log(1 - y * (1 - math.exp(-1 / a)))


def twin(state, target, a_ltp, a_ltd, n_ltp, n_ltd, c2c=0.0, noise=None):
    """The obviously-correct loop: one device at a time, float64 arithmetic."""
    state = state.astype(np.float64).ravel().copy()
    target = np.asarray(target, np.float64).ravel()
    a_ltp = np.broadcast_to(np.asarray(a_ltp, np.float64).ravel(), state.shape)
    a_ltd = np.broadcast_to(np.asarray(a_ltd, np.float64).ravel(), state.shape)
    pulses = np.zeros(state.shape, np.int64)
    for i, y in enumerate(state):
        d = target[i] - y
        if math.isnan(d):
            continue
        levels, a = (n_ltp, a_ltp[i]) if d > 0 else (n_ltd, a_ltd[i])
        n = int(np.round(min(max(d * levels, -2 * levels), 2 * levels)))
        pulses[i] = n
        if n == 0:
            continue
        p = min(max(_inverse(y, a, levels) + n, 0.0), levels)
        y = _curve(p, a, levels)
        if c2c > 0:
            y += c2c * math.sqrt(abs(n)) * float(noise.ravel()[i])
        state[i] = min(max(y, 0.0), 1.0)
    return state.astype(np.float32), pulses


CASES = [  # (a_ltp, a_ltd, n_ltp, n_ltd)
    (math.inf, math.inf, 14, 14),        # the ideal linear device
    (0.499181, -0.200303, 97, 100),      # Ag:a-Si
    (2.519877, -2.519877, 64, 64),       # EpiRAM
    (0.300644, -0.100251, 50, 50),       # PCMO
]


@pytest.mark.parametrize("a_ltp,a_ltd,n_ltp,n_ltd", CASES)
@pytest.mark.parametrize("shape", [(0,), (1,), (7,), (5, 9), (3, 4, 6)])
@pytest.mark.parametrize("c2c", [0.0, 0.03])
def test_matches_twin(a_ltp, a_ltd, n_ltp, n_ltd, shape, c2c):
    rng = np.random.default_rng(sum(shape) + n_ltp)
    state = rng.random(shape, dtype=np.float32)
    target = (state + rng.normal(0, 0.1, shape)).astype(np.float32)
    noise = rng.standard_normal(shape).astype(np.float32)
    want, want_pulses = twin(state, target, a_ltp, a_ltd, n_ltp, n_ltd, c2c, noise)
    pulses = apply_pulses(state, target, [a_ltp], [a_ltd], n_ltp, n_ltd, c2c, noise)
    np.testing.assert_array_equal(pulses.ravel(), want_pulses)
    np.testing.assert_allclose(state.ravel(), want, rtol=0, atol=2e-6)
    assert pulses.shape == shape


def test_per_device_nonlinearity_noncontiguous_target_and_float64_inputs():
    rng = np.random.default_rng(3)
    state = rng.random(12, dtype=np.float32)
    target = rng.random((12, 2))[:, 0]  # non-contiguous float64
    a_ltp = rng.uniform(0.3, 3.0, 12)
    a_ltd = -rng.uniform(0.3, 3.0, 12)
    want, want_pulses = twin(state, target, a_ltp, a_ltd, 40, 30)
    pulses = apply_pulses(state, target, a_ltp, a_ltd, 40, 30)
    np.testing.assert_array_equal(pulses, want_pulses)
    np.testing.assert_allclose(state, want, atol=2e-6)


def test_nan_target_leaves_device_and_saturation_at_both_ends():
    state = np.array([0.5, 0.2, 0.9, 0.1], np.float32)
    target = np.array([np.nan, 5.0, -4.0, 0.1], np.float32)
    pulses = apply_pulses(state, target, [0.5], [-0.5], 10, 10)
    assert pulses.tolist() == [0, 20, -20, 0]  # capped at two full sweeps
    np.testing.assert_allclose(state, [0.5, 1.0, 0.0, 0.1])


def test_ties_round_half_to_even_like_torch_round():
    state = np.full(3, 0.5, np.float32)
    target = np.array([0.5 + 1.5 / 8, 0.5 + 2.5 / 8, 0.5 - 0.5 / 8], np.float32)
    assert apply_pulses(state, target, [math.inf], [math.inf], 8, 8).tolist() == [2, 2, 0]


def test_closed_form_helpers_are_inverse():
    p = np.arange(0, 51)
    for a in (0.3, -0.1, math.inf):
        y = pulse_curve(p, a, 50)
        assert y[0] == pytest.approx(0) and y[-1] == pytest.approx(1)
        np.testing.assert_allclose(pulse_position(y, a, 50), p, atol=1e-6)


@pytest.mark.parametrize("kwargs,match", [
    (dict(state=np.zeros(3, np.float64)), "float32"),
    (dict(target=np.zeros(4, np.float32)), "target shape"),
    (dict(levels_ltp=0), "levels_ltp"),
    (dict(a_ltp=[0.0]), "a_ltp"),
    (dict(a_ltd=[1.0, 2.0]), "a_ltd must hold"),
    (dict(c2c=-1.0), "c2c"),
    (dict(c2c=0.1), "noise"),
])
def test_bad_input_raises(kwargs, match):
    args = dict(state=np.zeros(3, np.float32), target=np.zeros(3, np.float32), a_ltp=[1.0],
                a_ltd=[-1.0], levels_ltp=4, levels_ltd=4)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        apply_pulses(**args)
