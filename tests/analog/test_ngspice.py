"""The ngspice backend against the analytic one, the published expert TIA, and failure handling.

These run ngspice for real; they skip where it is missing, and fail under ``CI``.
"""
from __future__ import annotations

import math

import pytest

from reram.analog import (NgspiceNotFoundError, NgspiceSimulator, SimulationError, SimulationTimeout, SpiceModelCards,
                          circuits, evaluate)
from reram.analog import ngspice as ngspice_module
from reram.analog.library import CommonSource
from reram.analog.ngspice import AcSweep, Analyses, TranSweep

pytestmark = [pytest.mark.ngspice, pytest.mark.usefixtures("ngspice_available")]

CS = circuits["cs"]


@pytest.mark.parametrize("params", [{"W": 10.0, "RD": 10e3, "VB": 0.9}, {"W": 40.0, "RD": 30e3, "VB": 0.7},
                                    {"W": 3.0, "RD": 5e3, "VB": 1.3}])
def test_analytic_and_ngspice_agree_on_common_source(params):
    spice = evaluate("cs", params, backend="ngspice")
    hand = evaluate("cs", params, backend="analytic")
    assert not spice["failed"] and not hand["failed"]
    gain_spice, gain_hand = 10 ** (spice["gain_db"] / 20), 10 ** (hand["gain_db"] / 20)
    assert gain_hand == pytest.approx(gain_spice, rel=0.03)
    assert hand["bandwidth_hz"] == pytest.approx(spice["bandwidth_hz"], rel=0.03)
    assert hand["power_w"] == pytest.approx(spice["power_w"], rel=0.01)
    assert hand["saturated"] == spice["saturated"]


def test_analytic_and_ngspice_agree_on_three_stage_noise():
    params = circuits["three_stage"].reference
    spice = evaluate("three_stage", params)
    hand = evaluate("three_stage", params, backend="analytic")
    assert spice["gain_db"] == pytest.approx(hand["gain_db"], abs=0.5)
    assert spice["bandwidth_hz"] == pytest.approx(hand["bandwidth_hz"], rel=0.03)
    assert spice["output_noise_v"] == pytest.approx(hand["output_noise_v"], rel=0.05)
    assert spice["snr_db"] >= 50.0 and spice["gain_db"] >= 50.0  # the hand design meets the specs


def test_expert_tia_reproduces_the_published_power_and_area():
    m = evaluate("tia3", circuits["tia3"].reference)
    assert not m["failed"]
    assert m["power_w"] == pytest.approx(1.37e-3, rel=0.02)     # published 1.37 mW
    assert m["area_um2"] == pytest.approx(211.0, rel=0.01)      # published 211 um^2
    assert m["transimpedance_ohm"] == pytest.approx(20236.0, rel=0.05)
    assert 50e6 < m["bandwidth_hz"] < 150e6
    assert m["saturated"] is True
    assert set(m) >= {"transimpedance_ohm", "bandwidth_hz", "peaking_db", "power_w", "area_um2", "saturated"}


def test_shared_and_batch_modes_give_the_same_vectors():
    netlist = CS.netlist(CS.reference)
    with NgspiceSimulator("shared") as shared, NgspiceSimulator("batch") as batch:
        a, b = shared.simulate(netlist, CS.analyses()), batch.simulate(netlist, CS.analyses())
    assert a.op["v(out)"] == pytest.approx(b.op["v(out)"], rel=1e-9)
    assert abs(a.ac["v(out)"][0]) == pytest.approx(abs(b.ac["v(out)"][0]), rel=1e-9)


class _NoSolution(CommonSource):
    """A circuit whose DC equations have no solution: V(x) = V(x) + 1."""

    name = "no_solution"

    def elements(self):
        return super().elements() + ["Bloop x 0 V = V(x) + 1", "Rloop x 0 1k"]


@pytest.mark.parametrize("mode", ["shared", "batch"])
def test_non_converging_netlist_is_an_error_not_a_crash(mode):
    circuit = _NoSolution()
    with NgspiceSimulator(mode) as sim:
        with pytest.raises(SimulationError, match="ngspice reported|did not converge"):
            sim.simulate(circuit.netlist(circuit.reference), circuit.analyses())
        ok = sim.simulate(CS.netlist(CS.reference), CS.analyses())  # the simulator still works
    assert ok.op["v(out)"] > 0


def test_evaluate_records_a_failure_with_a_penalty():
    circuit = _NoSolution()
    m = evaluate(circuit, circuit.reference)
    assert m["failed"] is True and "error" in m
    assert math.isnan(m["gain_db"])
    assert m["saturated"] is False


@pytest.mark.parametrize("mode", ["shared", "batch"])
def test_timeout_kills_the_simulation(mode):
    netlist = "\n".join(["* slow", "V1 a 0 dc 0 ac 1 sin(0 1 1e6)", "R1 a b 1k", "C1 b 0 1n", ".end"])
    slow = Analyses(op_vectors=("v(b)",), tran=TranSweep(("v(b)",), step=1e-12, stop=1.0))
    with NgspiceSimulator(mode, timeout_s=1.0) as sim:
        with pytest.raises(SimulationTimeout, match="timeout"):
            sim.simulate(netlist, slow)
        fast = sim.simulate(netlist, Analyses(op_vectors=("v(b)",), ac=AcSweep(("v(b)",), 1, 1e6, 5)))
    assert abs(fast.ac["v(b)"][0]) == pytest.approx(1.0, rel=1e-3)


def test_missing_ngspice_names_the_packages(monkeypatch):
    monkeypatch.setenv("PATH", "")
    with pytest.raises(NgspiceNotFoundError, match="ngspice.*libngspice0"):
        NgspiceSimulator("batch")
    monkeypatch.setattr(ngspice_module, "_library_name", lambda: None)
    with pytest.raises(NgspiceNotFoundError, match="apt-get install ngspice libngspice0"):
        NgspiceSimulator("auto")


def test_bad_mode_and_timeout():
    with pytest.raises(ValueError, match="mode"):
        NgspiceSimulator("fast")
    with pytest.raises(ValueError, match="timeout_s"):
        NgspiceSimulator(timeout_s=0)


def test_user_bsim3_cards_simulate():
    cards = SpiceModelCards(nmos=".model usern nmos level=8 version=3.3 tox=15e-9 vth0=0.5",
                            pmos="pmos level=8 version=3.3 tox=15e-9 vth0=-0.5")
    bsim = evaluate("tia3", circuits["tia3"].reference, process=cards)
    level1 = evaluate("tia3", circuits["tia3"].reference)
    assert not bsim["failed"], bsim.get("error")
    assert bsim["transimpedance_ohm"] > 1e3 and bsim["power_w"] > 0
    assert bsim["power_w"] != pytest.approx(level1["power_w"], rel=1e-3)  # other models, other bias


def test_netlist_folders_of_killed_runs_are_removed(tmp_path, monkeypatch):
    """Issue 24: a killed run left its reram-ngspice-* folder behind; the next simulator removes
    the folders of processes that no longer run (and keeps those of live ones)."""
    import os
    import subprocess
    import sys
    import tempfile

    from reram.analog import ngspice

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / f"reram-ngspice-{dead.pid}-abc").mkdir()
    (tmp_path / f"reram-ngspice-{os.getppid()}-abc").mkdir()
    ngspice._remove_stale_folders()
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"reram-ngspice-{os.getppid()}-abc"]
