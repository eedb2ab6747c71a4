"""Square-law MOSFET and the two-transistor small-signal building blocks.

Hand equations only (no simulator): the long-channel square law with channel-length modulation,

    I_D = Kn/2 (V_GS - V_TN)^2 (1 + lambda V_DS),   I_G = 0,

its small-signal parameters g_m = 2 I_D / (V_GS - V_TN) = sqrt(2 Kn I_D (1 + lambda V_DS)),
r_o = (1 + lambda V_DS) / (lambda I_D) and mu_f = g_m r_o, with cut-off and triode handled; and
the gain of a stage with an active load and of a cascode. Imports nothing from the rest of reram.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "SquareLawMOSFET",
    "active_load_gain",
    "cascode_output_resistance",
    "cascode_gain",
    "parallel",
]



def _as_array(value: float | np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return arr


def _out(arr: np.ndarray) -> float | np.ndarray:
    return float(arr) if arr.ndim == 0 else arr


@dataclass(frozen=True)
class SquareLawMOSFET:
    """A long-channel MOSFET in the square-law model with channel-length modulation.

    Voltages are given with the device's own signs: for NMOS ``vgs``/``vds`` are positive in
    normal operation and ``vt`` > 0; for PMOS they are negative and ``vt`` < 0 (e.g. -0.5 V).
    Currents are returned as magnitudes (drain to source for NMOS, source to drain for PMOS).

    Example:
        >>> m = SquareLawMOSFET(kn=1e-3, vt=0.5, lam=0.1)
        >>> m.drain_current(1.5, 2.0)   # 0.5e-3 * 1.0**2 * 1.2
        0.0006

    Attributes:
        kn: device transconductance parameter KP * W / L in A/V^2 (> 0).
        vt: threshold voltage in V (V_TN for NMOS, V_TP < 0 for PMOS).
        lam: channel-length modulation lambda in 1/V (>= 0).
        polarity: ``"n"`` or ``"p"``.
    """

    kn: float
    vt: float
    lam: float = 0.0
    polarity: str = "n"

    def __post_init__(self) -> None:
        if self.polarity not in ("n", "p"):
            raise ValueError(f"polarity must be 'n' or 'p', got {self.polarity!r}")
        if not (math.isfinite(self.kn) and self.kn > 0):
            raise ValueError(f"kn must be a positive number in A/V^2, got {self.kn!r}")
        if not math.isfinite(self.vt):
            raise ValueError(f"vt must be a finite voltage, got {self.vt!r}")
        if not (math.isfinite(self.lam) and self.lam >= 0):
            raise ValueError(f"lam must be >= 0 (1/V), got {self.lam!r}")

    @classmethod
    def from_geometry(cls, kp: float, w_um: float, l_um: float, vt: float, lambda_um: float = 0.0,
                      polarity: str = "n") -> "SquareLawMOSFET":
        """Build from process parameters: Kn = KP W / L and lambda = lambda_um / L.

        Args:
            kp: process transconductance mu*Cox in A/V^2.
            w_um: channel width in um.
            l_um: channel length in um.
            vt: threshold voltage in V.
            lambda_um: lambda times L in um/V.
            polarity: ``"n"`` or ``"p"``.
        """
        if w_um <= 0 or l_um <= 0:
            raise ValueError(f"w_um and l_um must be > 0, got {w_um!r}, {l_um!r}")
        return cls(kn=kp * w_um / l_um, vt=vt, lam=lambda_um / l_um, polarity=polarity)

    # -- sign handling: work with magnitudes (vgs, vds, vt all >= 0 in normal operation) -------
    def _mag(self, vgs: float | np.ndarray, vds: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        vgs_a = _as_array(vgs, "vgs")
        vds_a = _as_array(vds, "vds")
        sign = 1.0 if self.polarity == "n" else -1.0
        vgs_a, vds_a = sign * vgs_a, sign * vds_a
        if np.any(vds_a < 0):
            allowed = ">= 0 for NMOS" if self.polarity == "n" else "<= 0 for PMOS"
            raise ValueError(f"vds must be {allowed} (source and drain are not swapped), got {vds!r}")
        return vgs_a, vds_a

    @property
    def _vt(self) -> float:
        return self.vt if self.polarity == "n" else -self.vt

    def overdrive(self, vgs: float | np.ndarray) -> float | np.ndarray:
        """Overdrive |V_GS| - |V_T| in V (negative below threshold)."""
        sign = 1.0 if self.polarity == "n" else -1.0
        return _out(sign * _as_array(vgs, "vgs") - self._vt)

    def region(self, vgs: float, vds: float) -> str:
        """Operating region: ``"cutoff"``, ``"triode"`` or ``"saturation"``."""
        vgs_a, vds_a = self._mag(vgs, vds)
        vov = float(vgs_a) - self._vt
        if vov <= 0:
            return "cutoff"
        return "triode" if float(vds_a) < vov else "saturation"

    def drain_current(self, vgs: float | np.ndarray, vds: float | np.ndarray) -> float | np.ndarray:
        """Drain current magnitude I_D in A (I_G = 0).

        Saturation: Kn/2 Vov^2 (1 + lambda V_DS); triode: Kn (Vov V_DS - V_DS^2/2)(1 + lambda V_DS)
        (continuous at V_DS = Vov); cut-off: 0.
        """
        vgs_a, vds_a = self._mag(vgs, vds)
        vov = vgs_a - self._vt
        clm = 1.0 + self.lam * vds_a
        sat = 0.5 * self.kn * vov**2 * clm
        tri = self.kn * (vov * vds_a - 0.5 * vds_a**2) * clm
        i_d = np.where(vov <= 0, 0.0, np.where(vds_a >= vov, sat, tri))
        return _out(i_d)

    def gm(self, vgs: float | np.ndarray, vds: float | np.ndarray) -> float | np.ndarray:
        """Transconductance dI_D/dV_GS in S: 2 I_D / Vov in saturation, Kn V_DS (1+lambda V_DS)
        in triode, 0 in cut-off."""
        vgs_a, vds_a = self._mag(vgs, vds)
        vov = vgs_a - self._vt
        clm = 1.0 + self.lam * vds_a
        g = np.where(vov <= 0, 0.0, np.where(vds_a >= vov, self.kn * vov * clm, self.kn * vds_a * clm))
        return _out(g)

    def gds(self, vgs: float | np.ndarray, vds: float | np.ndarray) -> float | np.ndarray:
        """Output conductance dI_D/dV_DS in S (1/r_o)."""
        vgs_a, vds_a = self._mag(vgs, vds)
        vov = vgs_a - self._vt
        sat = 0.5 * self.kn * vov**2 * self.lam
        tri = self.kn * ((vov - vds_a) * (1 + self.lam * vds_a) + self.lam * (vov * vds_a - 0.5 * vds_a**2))
        g = np.where(vov <= 0, 0.0, np.where(vds_a >= vov, sat, tri))
        return _out(g)

    def ro(self, vgs: float | np.ndarray, vds: float | np.ndarray) -> float | np.ndarray:
        """Output resistance r_o in ohm: (1 + lambda V_DS) / (lambda I_D) in saturation
        (infinite for lambda = 0 or in cut-off), 1/g_ds in triode."""
        g = np.asarray(self.gds(vgs, vds), dtype=float)
        with np.errstate(divide="ignore"):
            r = np.where(g > 0, 1.0 / np.where(g > 0, g, 1.0), np.inf)
        return _out(r)

    def intrinsic_gain(self, vgs: float | np.ndarray, vds: float | np.ndarray) -> float | np.ndarray:
        """Amplification factor mu_f = g_m r_o (dimensionless; infinite for lambda = 0)."""
        gm = np.asarray(self.gm(vgs, vds), dtype=float)
        gds = np.asarray(self.gds(vgs, vds), dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            mu = np.where(gds > 0, gm / np.where(gds > 0, gds, 1.0), np.where(gm > 0, np.inf, 0.0))
        return _out(mu)

    def vgs_for_current(self, i_d: float, vds: float) -> float:
        """Gate-source voltage (device sign) that gives drain current ``i_d`` in saturation."""
        if not (math.isfinite(i_d) and i_d >= 0):
            raise ValueError(f"i_d must be >= 0 A, got {i_d!r}")
        _, vds_a = self._mag(0.0, vds)
        vov = math.sqrt(2.0 * i_d / (self.kn * (1.0 + self.lam * float(vds_a))))
        mag = self._vt + vov
        return mag if self.polarity == "n" else -mag


def parallel(*resistances: float) -> float:
    """Parallel combination of resistances in ohm (``inf`` entries are open circuits)."""
    conductance = sum(0.0 if math.isinf(r) else 1.0 / r for r in resistances)
    return math.inf if conductance == 0 else 1.0 / conductance


def active_load_gain(gm_driver: float, ro_driver: float, ro_load: float) -> float:
    """Voltage gain of a common-source stage with a current-source (active) load.

    A_v = -g_m1 (r_o1 || r_o2): the two-transistor small-signal model where the load device only
    contributes its output resistance.
    """
    return -gm_driver * parallel(ro_driver, ro_load)


def cascode_output_resistance(gm_cascode: float, ro_cascode: float, ro_bottom: float) -> float:
    """Output resistance of a cascode: r_o2 + r_o1 + g_m2 r_o2 r_o1 (body effect neglected)."""
    return ro_cascode + ro_bottom + gm_cascode * ro_cascode * ro_bottom


def cascode_gain(gm_input: float, ro_input: float, gm_cascode: float, ro_cascode: float,
                 r_load: float = math.inf) -> float:
    """Voltage gain of a cascode amplifier: -g_m1 (R_out,cascode || R_load).

    With an ideal load this is about -(g_m1 r_o1)(g_m2 r_o2), the product of the two intrinsic
    gains.
    """
    r_out = cascode_output_resistance(gm_cascode, ro_cascode, ro_input)
    return -gm_input * parallel(r_out, r_load)
