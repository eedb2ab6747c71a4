"""The ``analytic`` backend: hand equations for chains of resistor-loaded common-source stages.

DC: each stage's drain voltage solves (V_DD - V_D)/R = I_D(V_GS, V_D) with the square law of
:class:`~reram.analog.devices.SquareLawMOSFET` (cut-off, triode and saturation handled); the next
stage's gate sits at that drain. Small signal: g_m, g_ds and the level-1 capacitances (Meyer gate
capacitances, overlap, voltage-dependent drain junctions) in a nodal analysis of the drain nodes
at each frequency; noise: 4kT(2/3)g_m drain noise and 4kT/R resistor noise summed at the output.
These are the same equations level-1 SPICE linearizes, so the two backends agree closely.
Imports only :mod:`.devices` and :mod:`.process`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from .devices import SquareLawMOSFET
from .process import Level1Process

__all__ = ["StageBias", "ChainResult", "cs_chain"]

BOLTZMANN = 1.380649e-23
TEMPERATURE_K = 300.15  # SPICE default 27 C


@dataclass(frozen=True)
class StageBias:
    """Operating point of one common-source stage (SI units)."""

    vgs: float
    vds: float
    i_d: float
    gm: float
    gds: float
    region: str
    cgs: float
    cgd: float
    cdb: float


@dataclass(frozen=True)
class ChainResult:
    """Result of :func:`cs_chain`.

    Attributes:
        stages: the bias of each stage.
        freq: ``n_freq``-dim frequencies in Hz.
        response: ``n_freq``-dim complex voltage gain v(out)/v(in).
        output_noise_v: integrated output noise in V rms over ``freq`` (0 if not asked).
        supply_current_a: total current drawn from V_DD.
    """

    stages: tuple[StageBias, ...]
    freq: np.ndarray
    response: np.ndarray
    output_noise_v: float
    supply_current_a: float


def _junction_cap(process: Level1Process, w_um: float, v_reverse: float) -> float:
    p = process.nmos
    area = 2 * process.diffusion_um * w_um * 1e-12
    perim = (4 * process.diffusion_um + 2 * w_um) * 1e-6
    v = max(v_reverse, -0.5 * p.pb)  # forward bias: clamp (SPICE linearizes past FC*PB)
    return p.cj * area / (1 + v / p.pb) ** p.mj + p.cjsw * perim / (1 + v / p.pb) ** p.mjsw


def _stage_bias(process: Level1Process, w_um: float, l_um: float, r_load: float, vgs: float,
                vdd: float) -> StageBias:
    p = process.nmos
    fet = SquareLawMOSFET.from_geometry(p.kp, w_um, l_um, p.vto, p.lambda_um, "n")
    if fet.overdrive(vgs) <= 0:
        vds = vdd
    else:
        vds = brentq(lambda v: (vdd - v) / r_load - fet.drain_current(vgs, v), 0.0, vdd, xtol=1e-12)
    i_d = float(fet.drain_current(vgs, vds))
    region = fet.region(vgs, vds)
    cox_wl = p.cox * w_um * l_um * 1e-12
    overlap_s, overlap_d = p.cgso * w_um * 1e-6, p.cgdo * w_um * 1e-6
    if region == "saturation":
        cgs, cgd = 2.0 / 3.0 * cox_wl + overlap_s, overlap_d
    elif region == "triode":
        cgs, cgd = 0.5 * cox_wl + overlap_s, 0.5 * cox_wl + overlap_d
    else:
        cgs, cgd = overlap_s, overlap_d
    return StageBias(vgs=vgs, vds=vds, i_d=i_d, gm=float(fet.gm(vgs, vds)), gds=float(fet.gds(vgs, vds)),
                     region=region, cgs=cgs, cgd=cgd, cdb=_junction_cap(process, w_um, vds))


def cs_chain(process: Level1Process, widths_um: list[float], length_um: float, loads_ohm: list[float],
             v_bias: float, vdd: float, c_load: float, f_start: float = 1.0, f_stop: float = 10e9,
             points_per_decade: int = 20, noise: bool = False) -> ChainResult:
    """Analyze a DC-coupled chain of NMOS common-source stages with resistor loads.

    Stage ``k`` has width ``widths_um[k]``, drain resistor ``loads_ohm[k]`` to ``vdd``; stage 0's
    gate is an ideal source at ``v_bias`` (plus the AC input), stage ``k``'s gate is stage
    ``k-1``'s drain, and ``c_load`` hangs on the last drain.

    Returns:
        The biases, the complex gain over frequency, the integrated output noise (when ``noise``)
        and the supply current.
    """
    n = len(widths_um)
    stages: list[StageBias] = []
    vgs = v_bias
    for w, r in zip(widths_um, loads_ohm):
        bias = _stage_bias(process, w, length_um, r, vgs, vdd)
        stages.append(bias)
        vgs = bias.vds
    decades = math.log10(f_stop / f_start)
    freq = np.logspace(math.log10(f_start), math.log10(f_stop), int(round(decades * points_per_decade)) + 1)
    omega = 2 * np.pi * freq
    y = np.zeros((freq.size, n, n), dtype=complex)
    rhs = np.zeros((freq.size, n), dtype=complex)
    for k, st in enumerate(stages):
        cap = st.cdb + st.cgd + (c_load if k == n - 1 else 0.0)
        if k + 1 < n:
            nxt = stages[k + 1]
            cap += nxt.cgs + nxt.cgd
            y[:, k, k + 1] -= 1j * omega * nxt.cgd
            y[:, k + 1, k] += nxt.gm - 1j * omega * nxt.cgd
        y[:, k, k] += 1.0 / loads_ohm[k] + st.gds + 1j * omega * cap
    rhs[:, 0] = -(stages[0].gm - 1j * omega * stages[0].cgd)
    volts = np.linalg.solve(y, rhs[..., None])[..., 0]
    response = volts[:, -1]
    noise_v = 0.0
    if noise:
        # current-noise densities at each drain node; transimpedance to the output = Z[n-1, k]
        z = np.linalg.inv(y)
        psd = np.zeros(freq.size)
        for k, st in enumerate(stages):
            density = 4 * BOLTZMANN * TEMPERATURE_K * (2.0 / 3.0 * st.gm + 1.0 / loads_ohm[k])
            psd += density * np.abs(z[:, n - 1, k]) ** 2
        noise_v = float(math.sqrt(np.trapezoid(psd, freq)))
    return ChainResult(stages=tuple(stages), freq=freq, response=response, output_noise_v=noise_v,
                       supply_current_a=float(sum(st.i_d for st in stages)))
