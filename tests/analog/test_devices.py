"""Square-law MOSFET and two-transistor formulas against hand-computed values."""
from __future__ import annotations

import math

import numpy as np
import pytest

from reram.analog import SquareLawMOSFET, active_load_gain, cascode_gain, cascode_output_resistance, parallel

NMOS = SquareLawMOSFET(kn=1e-3, vt=0.5, lam=0.1)


def test_saturation_hand_values():
    # Vov = 1 V, Vds = 2 V: I = 0.5e-3 * 1 * (1 + 0.2) = 0.6 mA
    assert NMOS.region(1.5, 2.0) == "saturation"
    assert NMOS.drain_current(1.5, 2.0) == pytest.approx(0.6e-3)
    assert NMOS.gm(1.5, 2.0) == pytest.approx(2 * 0.6e-3 / 1.0)          # g_m = 2 I_D / Vov
    assert NMOS.ro(1.5, 2.0) == pytest.approx((1 + 0.2) / (0.1 * 0.6e-3))  # 20 kOhm
    assert NMOS.intrinsic_gain(1.5, 2.0) == pytest.approx(1.2e-3 * 20e3)    # mu_f = 24


def test_gm_sqrt_form_without_clm():
    fet = SquareLawMOSFET(kn=2e-3, vt=0.7, lam=0.0)
    i_d = fet.drain_current(1.2, 1.0)
    assert i_d == pytest.approx(1e-3 * 0.25)
    assert fet.gm(1.2, 1.0) == pytest.approx(math.sqrt(2 * 2e-3 * i_d))
    assert math.isinf(fet.ro(1.2, 1.0))


def test_triode_and_cutoff():
    assert NMOS.region(1.5, 0.5) == "triode"
    # Kn (Vov Vds - Vds^2/2)(1 + lambda Vds) = 1e-3 * (0.5 - 0.125) * 1.05
    assert NMOS.drain_current(1.5, 0.5) == pytest.approx(1e-3 * 0.375 * 1.05)
    assert NMOS.region(0.4, 1.0) == "cutoff"
    assert NMOS.drain_current(0.4, 1.0) == 0.0
    assert NMOS.gm(0.4, 1.0) == 0.0
    assert math.isinf(NMOS.ro(0.4, 1.0))


def test_current_continuous_at_saturation_edge():
    vov = 1.0
    below = NMOS.drain_current(1.5, vov - 1e-9)
    above = NMOS.drain_current(1.5, vov + 1e-9)
    assert below == pytest.approx(above, rel=1e-6)


@pytest.mark.parametrize("vgs,vds", [(1.5, 2.0), (1.5, 0.4), (0.9, 0.2), (2.0, 3.0)])
def test_small_signal_are_derivatives(vgs, vds):
    h = 1e-6
    gm_fd = (NMOS.drain_current(vgs + h, vds) - NMOS.drain_current(vgs - h, vds)) / (2 * h)
    gds_fd = (NMOS.drain_current(vgs, vds + h) - NMOS.drain_current(vgs, vds - h)) / (2 * h)
    assert NMOS.gm(vgs, vds) == pytest.approx(gm_fd, rel=1e-5)
    assert NMOS.gds(vgs, vds) == pytest.approx(gds_fd, rel=1e-5)


def test_pmos_mirrors_nmos():
    pmos = SquareLawMOSFET(kn=1e-3, vt=-0.5, lam=0.1, polarity="p")
    assert pmos.drain_current(-1.5, -2.0) == pytest.approx(NMOS.drain_current(1.5, 2.0))
    assert pmos.gm(-1.5, -2.0) == pytest.approx(NMOS.gm(1.5, 2.0))
    assert pmos.region(-1.5, -0.5) == "triode"
    assert pmos.region(-0.3, -1.0) == "cutoff"
    assert pmos.vgs_for_current(0.6e-3, -2.0) == pytest.approx(-1.5)


def test_arrays():
    vgs = np.array([0.4, 1.5, 1.5])
    vds = np.array([1.0, 0.5, 2.0])
    np.testing.assert_allclose(NMOS.drain_current(vgs, vds), [0.0, 1e-3 * 0.375 * 1.05, 0.6e-3])


def test_from_geometry():
    fet = SquareLawMOSFET.from_geometry(kp=50e-6, w_um=10, l_um=2, vt=0.5, lambda_um=0.1)
    assert fet.kn == pytest.approx(250e-6)
    assert fet.lam == pytest.approx(0.05)


@pytest.mark.parametrize("kwargs,field", [({"kn": 0.0, "vt": 0.5}, "kn"), ({"kn": 1e-3, "vt": 0.5, "lam": -1}, "lam"),
                                          ({"kn": 1e-3, "vt": 0.5, "polarity": "x"}, "polarity")])
def test_bad_construction(kwargs, field):
    with pytest.raises(ValueError, match=field):
        SquareLawMOSFET(**kwargs)


def test_wrong_vds_sign():
    with pytest.raises(ValueError, match="vds"):
        NMOS.drain_current(1.5, -0.1)


def test_two_transistor_models():
    assert parallel(20e3, 20e3) == pytest.approx(10e3)
    assert active_load_gain(1e-3, 20e3, 20e3) == pytest.approx(-10.0)
    # ro1 + ro2 + gm2 ro1 ro2 = 40k + 400k
    assert cascode_output_resistance(1e-3, 20e3, 20e3) == pytest.approx(440e3)
    assert cascode_gain(1e-3, 20e3, 1e-3, 20e3) == pytest.approx(-440.0)
    assert cascode_gain(1e-3, 20e3, 1e-3, 20e3, r_load=440e3) == pytest.approx(-220.0)
