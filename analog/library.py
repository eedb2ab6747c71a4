"""The circuits that can be sized: ``cs``, ``two_stage``, ``three_stage`` and ``tia3``.

``circuits`` is a read-only mapping from name to :class:`~reram.analog.circuit.Circuit`;
``print(circuits)`` lists every circuit with its variables, ranges and specs.
"""
from __future__ import annotations

import math
from typing import Iterator, Mapping

from .analytic import cs_chain
from .circuit import NOMINAL_TEMPERATURE_C, Circuit, Mosfet, Spec, Target, Variable, response_metrics
from .ngspice import AcSweep, Analyses, NoiseSweep, SimResult
from .process import L2DC_PROCESS, Level1Process, SpiceModelCards

__all__ = ["CommonSource", "TwoStage", "ThreeStage", "TIA3", "circuits", "get_circuit", "SIGNAL_RMS_V"]

SIGNAL_RMS_V = 10e-3
"""Input signal (V rms) that defines the SNR of the voltage amplifiers."""


class _CSChain(Circuit):
    """A DC-coupled chain of resistor-loaded NMOS common-source stages (shared by cs,
    two_stage and three_stage)."""

    stages: int = 1
    vdd: float = 2.5
    length_um: float = 1.0
    c_load: float = 1e-12
    with_noise: bool = False

    @property
    def supply_v(self) -> float:
        """The supply voltage at this circuit's supply corner."""
        return self.vdd * self.supply_scale

    def variable_groups(self) -> tuple[tuple[str, ...], ...]:
        """Input bias first, then one (width, load) group per stage."""
        return (("VB",), *zip(self._widths(), self._loads()))

    def _widths(self) -> list[str]:
        return ["W"] if self.stages == 1 else [f"W{k + 1}" for k in range(self.stages)]

    def _loads(self) -> list[str]:
        return ["RD"] if self.stages == 1 else [f"R{k + 1}" for k in range(self.stages)]

    def _drain(self, k: int) -> str:
        return "out" if k == self.stages - 1 else f"d{k + 1}"

    def devices(self) -> tuple[Mosfet, ...]:
        out = []
        for k, w in enumerate(self._widths()):
            gate = "in" if k == 0 else self._drain(k - 1)
            out.append(Mosfet(str(k + 1), self._drain(k), gate, "0", "0", "n", w, self.length_um))
        return tuple(out)

    def elements(self) -> list[str]:
        lines = [f"VDD vdd 0 {self.supply_v:g}", "VIN in 0 dc {VB} ac 1", f"CL out 0 {self.c_load:g}"]
        lines += [f"R{k + 1} vdd {self._drain(k)} {{{r}}}" for k, r in enumerate(self._loads())]
        return lines

    def analyses(self, process: Level1Process | SpiceModelCards = L2DC_PROCESS) -> Analyses:
        noise = NoiseSweep("v(out)", "vin", 1.0, 10e9, 20) if self.with_noise else None
        return Analyses(op_vectors=("i(vdd)", "v(out)", *self.device_op_vectors(process)),
                        ac=AcSweep(("v(out)",), 1.0, 10e9, 20), noise=noise)

    def _metrics(self, freq, response, supply_current: float, saturated: bool, params,
                 noise_v: float | None) -> dict[str, float | bool]:
        resp = response_metrics(freq, response)
        gain = resp["dc"]
        out: dict[str, float | bool] = {
            "gain_db": 20 * math.log10(gain) if gain > 0 else -200.0,
            "bandwidth_hz": resp["bandwidth_hz"],
            "peaking_db": resp["peaking_db"],
            "power_w": abs(supply_current) * self.supply_v,
            "area_um2": self.area_um2(params),
            "saturated": bool(saturated),
        }
        if noise_v is not None:
            out["output_noise_v"] = noise_v
            out["snr_db"] = (20 * math.log10(gain * SIGNAL_RMS_V / noise_v)
                             if gain > 0 and noise_v > 0 else -200.0)
        return out

    def metrics_from_sim(self, sim: SimResult, params: Mapping[str, float],
                         process: Level1Process | SpiceModelCards = L2DC_PROCESS) -> dict[str, float | bool]:
        assert sim.ac_freq is not None
        noise = sim.noise["onoise_total"] if self.with_noise else None
        return self._metrics(sim.ac_freq, sim.ac["v(out)"], sim.op["i(vdd)"], self.saturated_from_sim(sim, process),
                             params, noise)

    def analytic_metrics(self, params: Mapping[str, float], process: Level1Process) -> dict[str, float | bool]:
        if not isinstance(process, Level1Process):
            raise ValueError("backend 'analytic' needs a Level1Process, not user SPICE cards")
        if self.temperature_c != NOMINAL_TEMPERATURE_C:
            raise ValueError(f"backend 'analytic' models {NOMINAL_TEMPERATURE_C:g} C only, got "
                             f"{self.temperature_c:g} C; use backend='ngspice' for temperature corners")
        res = cs_chain(process, [params[w] for w in self._widths()], self.length_um,
                       [params[r] for r in self._loads()], params["VB"], self.supply_v, self.c_load,
                       noise=self.with_noise)
        saturated = all(st.region == "saturation" for st in res.stages)
        return self._metrics(res.freq, res.response, res.supply_current_a, saturated, params,
                             res.output_noise_v if self.with_noise else None)


_CHAIN_METRICS = ("gain_db", "bandwidth_hz", "peaking_db", "power_w", "area_um2", "saturated")


class CommonSource(_CSChain):
    """Common-source NMOS stage with a drain resistor, 1 pF load, V_DD 2.5 V, L = 1 um."""

    name = "cs"
    description = "common-source NMOS stage, resistor load RD, 1 pF load, VDD 2.5 V, L 1 um"
    stages = 1
    variables = (Variable("W", 1.0, 100.0, "um"), Variable("RD", 1e3, 100e3, "ohm"),
                 Variable("VB", 0.6, 1.5, "V", log=False))
    specs = (Spec("gain_db", ">=", 14.0), Spec("bandwidth_hz", ">=", 10e6), Spec("power_w", "<=", 0.5e-3))
    targets = (Target("power_w", 1e-4), Target("area_um2", 10.0))
    metric_names = _CHAIN_METRICS
    reference = {"W": 10.0, "RD": 10e3, "VB": 0.9}


class TwoStage(_CSChain):
    """Two DC-coupled resistor-loaded common-source stages, 1 pF load."""

    name = "two_stage"
    description = "two DC-coupled common-source stages with resistor loads, 1 pF load, VDD 2.5 V"
    stages = 2
    variables = (Variable("W1", 1.0, 100.0, "um"), Variable("R1", 1e3, 1e6, "ohm"),
                 Variable("W2", 1.0, 100.0, "um"), Variable("R2", 1e3, 1e6, "ohm"),
                 Variable("VB", 0.6, 1.5, "V", log=False))
    specs = (Spec("gain_db", ">=", 30.0), Spec("bandwidth_hz", ">=", 5e6), Spec("power_w", "<=", 0.3e-3))
    targets = (Target("power_w", 1e-4), Target("area_um2", 10.0))
    metric_names = _CHAIN_METRICS
    reference = {"W1": 10.0, "R1": 40e3, "W2": 20.0, "R2": 10e3, "VB": 0.8}


class ThreeStage(_CSChain):
    """Low-power three-stage amplifier: three DC-coupled resistor-loaded common-source stages,
    with gain and SNR requirements (50 dB each; SNR for a 10 mV rms input)."""

    name = "three_stage"
    description = ("low-power three-stage amplifier (3 DC-coupled CS stages, resistor loads, 1 pF "
                   "load, VDD 2.5 V); SNR for a 10 mV rms input over 1 Hz-10 GHz")
    stages = 3
    with_noise = True
    variables = (Variable("W1", 1.0, 50.0, "um"), Variable("R1", 10e3, 2e6, "ohm"),
                 Variable("W2", 1.0, 50.0, "um"), Variable("R2", 10e3, 2e6, "ohm"),
                 Variable("W3", 1.0, 50.0, "um"), Variable("R3", 10e3, 2e6, "ohm"),
                 Variable("VB", 0.6, 1.2, "V", log=False))
    specs = (Spec("gain_db", ">=", 50.0), Spec("snr_db", ">=", 50.0), Spec("bandwidth_hz", ">=", 1e6),
             Spec("power_w", "<=", 0.1e-3))
    targets = (Target("power_w", 1e-4), Target("area_um2", 10.0))
    metric_names = (*_CHAIN_METRICS, "output_noise_v", "snr_db")
    reference = {"W1": 7.0, "R1": 148837.0, "W2": 7.0, "R2": 148837.0, "W3": 7.0, "R3": 101587.0, "VB": 0.75}
    """Hand design: V_ov = 0.25 V everywhere, loads chosen so each drain sits at the next gate's
    0.75 V and the output at 1.25 V (about 62 dB, 1.6 MHz, 55 dB SNR, 90 uW)."""


class TIA3(Circuit):
    """The three-stage differential transimpedance amplifier of the L2DC benchmark.

    Common-gate NMOS input pair (W1) with diode-connected PMOS loads (WL1) and NMOS current
    sinks (WB1); a common-source pair (W2) with diode PMOS loads (WL2) and a shared tail of two
    WB2 devices in parallel; NMOS source followers (W3) with current sinks (WB3); all sinks mirror
    a diode NMOS (WB) fed by RB from V_DD. Supplies +/-2.5 V, 100 fF per input, 10 kOhm and
    500 fF across the outputs. Signal devices L = 1 um, bias devices L = 2 um. The tail as two
    devices is what makes the published expert design's area 211 um^2.
    """

    name = "tia3"
    description = "L2DC three-stage differential transimpedance amplifier, +/-2.5 V"
    variables = (Variable("W1", 2, 15), Variable("WL1", 2, 5), Variable("WB1", 2, 5),
                 Variable("W2", 2, 5), Variable("WL2", 2, 5), Variable("WB2", 2, 10),
                 Variable("W3", 2, 50), Variable("WB3", 2, 15), Variable("WB", 2, 5),
                 Variable("RB", 100e3, 400e3, "ohm"))
    specs = (Spec("transimpedance_ohm", ">=", 20236.0), Spec("bandwidth_hz", ">=", 90.1e6),
             Spec("power_w", "<=", 3e-3))
    targets = (Target("power_w", 1.37e-3), Target("area_um2", 211.0))
    groups = (("RB", "WB"), ("W1", "WL1", "WB1"), ("W2", "WL2", "WB2"), ("W3", "WB3"))
    metric_names = ("transimpedance_ohm", "bandwidth_hz", "peaking_db", "power_w", "area_um2", "saturated")
    reference = {"W1": 12.0, "WL1": 2.0, "WB1": 3.2, "W2": 4.0, "WL2": 2.8, "WB2": 5.8, "W3": 44.4,
                 "WB3": 10.2, "WB": 2.0, "RB": 291e3}
    """Published expert design (L2DC paper: 1.37 mW, 211 um^2 on the authors' simulator)."""

    def devices(self) -> tuple[Mosfet, ...]:
        d = []
        for side, inp, o1, o2, out in (("p", "inp", "o1p", "o2p", "outp"), ("n", "inn", "o1n", "o2n", "outn")):
            d += [Mosfet(f"1{side}", o1, "0", inp, "vss", "n", "W1", 1.0),
                  Mosfet(f"l1{side}", o1, o1, "vdd", "vdd", "p", "WL1", 1.0),
                  Mosfet(f"b1{side}", inp, "nb", "vss", "vss", "n", "WB1", 2.0),
                  Mosfet(f"2{side}", o2, o1, "t2", "vss", "n", "W2", 1.0),
                  Mosfet(f"l2{side}", o2, o2, "vdd", "vdd", "p", "WL2", 1.0),
                  Mosfet(f"3{side}", "vdd", o2, out, "vss", "n", "W3", 1.0),
                  Mosfet(f"b3{side}", out, "nb", "vss", "vss", "n", "WB3", 2.0)]
        d += [Mosfet("b2", "t2", "nb", "vss", "vss", "n", "WB2", 2.0, multiplier=2),
              Mosfet("b", "nb", "nb", "vss", "vss", "n", "WB", 2.0)]
        return tuple(d)

    supply_nominal_v = 2.5
    """Nominal magnitude of each supply (+/-2.5 V)."""

    def elements(self) -> list[str]:
        vdd = self.supply_nominal_v * self.supply_scale
        return [f"VDD vdd 0 {vdd:g}", f"VSS vss 0 {-vdd:g}",
                "IINP 0 inp dc 0 ac 0.5", "IINN 0 inn dc 0 ac 0.5 180",
                "CINP inp 0 100f", "CINN inn 0 100f",
                "RL outp outn 10k", "CL outp outn 500f", "RB vdd nb {RB}"]

    def analyses(self, process: Level1Process | SpiceModelCards = L2DC_PROCESS) -> Analyses:
        return Analyses(op_vectors=("i(vdd)", "i(vss)", *self.device_op_vectors(process)),
                        ac=AcSweep(("v(outp,outn)",), 1e3, 100e9, 20))

    def metrics_from_sim(self, sim: SimResult, params: Mapping[str, float],
                         process: Level1Process | SpiceModelCards = L2DC_PROCESS) -> dict[str, float | bool]:
        assert sim.ac_freq is not None
        # differential input current is 0.5 - (-0.5) = 1 A, so V/A is the transimpedance
        resp = response_metrics(sim.ac_freq, sim.ac["v(outp,outn)"])
        power = self.supply_nominal_v * self.supply_scale * (abs(sim.op["i(vdd)"]) + abs(sim.op["i(vss)"]))
        return {"transimpedance_ohm": resp["dc"], "bandwidth_hz": resp["bandwidth_hz"],
                "peaking_db": resp["peaking_db"], "power_w": power, "area_um2": self.area_um2(params),
                "saturated": self.saturated_from_sim(sim, process)}


class _Registry(Mapping[str, Circuit]):
    """Read-only name -> circuit mapping whose ``repr`` lists variables, ranges and specs."""

    def __init__(self, items: list[Circuit]) -> None:
        self._items = {c.name: c for c in items}

    def __getitem__(self, name: str) -> Circuit:
        return self._items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return "\n".join(c.describe() for c in self._items.values())


circuits: Mapping[str, Circuit] = _Registry([CommonSource(), TwoStage(), ThreeStage(), TIA3()])
"""Every circuit by name: ``cs``, ``two_stage``, ``three_stage``, ``tia3``."""


def get_circuit(circuit: str | Circuit) -> Circuit:
    """Look a circuit up by name (a :class:`Circuit` passes through).

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    if isinstance(circuit, Circuit):
        return circuit
    if not isinstance(circuit, str) or circuit not in circuits:
        raise ValueError(f"circuit must be one of {', '.join(circuits)}, got {circuit!r}")
    return circuits[circuit]
