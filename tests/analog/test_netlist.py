"""Netlist generation, circuit registry, parameter checks and spec scoring (no simulator)."""
from __future__ import annotations

import math
import re

import pytest

from reram.analog import L2DC_PROCESS, Spec, SpiceModelCards, Variable, circuits, get_circuit

EXPERT = circuits["tia3"].reference


def test_registry_lists_the_four_circuits():
    assert list(circuits) == ["cs", "two_stage", "three_stage", "tia3"]
    text = repr(circuits)
    assert "RB   100000..400000 ohm" in text and "transimpedance_ohm >= 20236" in text


def test_tia3_variables_and_specs_match_the_benchmark():
    tia = circuits["tia3"]
    ranges = {v.name: (v.low, v.high) for v in tia.variables}
    assert ranges == {"W1": (2, 15), "WL1": (2, 5), "WB1": (2, 5), "W2": (2, 5), "WL2": (2, 5), "WB2": (2, 10),
                      "W3": (2, 50), "WB3": (2, 15), "WB": (2, 5), "RB": (100e3, 400e3)}
    assert {str(s) for s in tia.specs} == {"transimpedance_ohm >= 20236", "bandwidth_hz >= 9.01e+07",
                                           "power_w <= 0.003"}


def test_netlist_uses_braces_and_params():
    text = circuits["tia3"].netlist(EXPERT)
    assert ".param W1=12" in text and ".param RB=291000" in text
    assert "RB vdd nb {RB}" in text
    m1 = next(line for line in text.splitlines() if line.startswith("M1p "))
    assert "W={W1*1e-6}" in m1 and "L=1e-6" in m1
    # junctions: AS = AD = 2 * 1.5 um * W, PS = PD = 4 * 1.5 um + 2 W
    assert "AD={W1*3e-12}" in m1 and "PD={(6+2*W1)*1e-6}" in m1
    tail = next(line for line in text.splitlines() if line.startswith("Mb2 "))
    assert "L=2e-6" in tail and tail.endswith("m=2")
    assert text.rstrip().endswith(".end")


def test_model_cards_follow_the_published_process():
    text = circuits["tia3"].netlist(EXPERT)
    cards = {line.split()[1]: line for line in text.splitlines() if line.startswith(".model")}
    assert set(cards) == {"nch_l1p0", "nch_l2p0", "pch_l1p0"}
    assert "lambda=0.1 " in cards["nch_l1p0"] and "lambda=0.05 " in cards["nch_l2p0"]
    assert "vto=-0.5" in cards["pch_l1p0"] and "kp=2.5e-05" in cards["pch_l1p0"]
    assert "cj=0.0003" in cards["pch_l1p0"] and "cjsw=3.5e-10" in cards["pch_l1p0"]
    assert "cj=0.0001" in cards["nch_l1p0"] and "kp=5e-05" in cards["nch_l1p0"]
    assert L2DC_PROCESS.nmos.cox == pytest.approx(2.3e-3, rel=0.01)  # 2.3 fF/um^2


def test_user_cards_replace_the_model_names():
    cards = SpiceModelCards(nmos=".model mynmos nmos (level=8 version=3.3 tox=4e-9)",
                            pmos="pmos level=8 version=3.3 tox=4e-9")
    text = circuits["cs"].netlist(circuits["cs"].reference, cards)
    assert re.search(r"^\.model nch_l1p0 nmos \(level=8 version=3.3 tox=4e-9\)$", text, re.M)
    with pytest.raises(ValueError, match="pmos"):
        SpiceModelCards(nmos="nmos level=1", pmos="nmos level=1").model_cards({("p", 1.0)})


def test_expert_area_is_the_published_211um2():
    assert circuits["tia3"].area_um2(EXPERT) == pytest.approx(211.2)


@pytest.mark.parametrize("change,match", [({"W1": 20.0}, r"W1 must be in \[2, 15\] um"),
                                          ({"RB": "x"}, "RB must be a number"),
                                          ({"Wfoo": 1.0}, "unknown parameter 'Wfoo'")])
def test_bad_params_rejected(change, match):
    with pytest.raises(ValueError, match=match):
        circuits["tia3"].netlist({**EXPERT, **change})


def test_missing_param_rejected():
    params = dict(EXPERT)
    del params["WB"]
    with pytest.raises(ValueError, match="missing parameter 'WB'"):
        circuits["tia3"].check_params(params)


def test_unknown_circuit():
    with pytest.raises(ValueError, match="circuit must be one of cs, two_stage, three_stage, tia3"):
        get_circuit("opamp")


def test_variable_unit_mapping_is_log_scaled():
    var = Variable("RB", 100e3, 400e3, "ohm")
    assert var.from_unit(0.5) == pytest.approx(200e3)  # geometric midpoint
    assert var.to_unit(var.from_unit(0.3)) == pytest.approx(0.3)


def test_spec_slack():
    spec = Spec("bandwidth_hz", ">=", 100e6)
    assert spec.slack({"bandwidth_hz": 100e6}) == 0.0
    assert spec.slack({"bandwidth_hz": 300e6}) == pytest.approx(0.5)
    assert spec.slack({"bandwidth_hz": math.nan}) == -1.0
    assert Spec("power_w", "<=", 1e-3).met({"power_w": 0.5e-3})
    with pytest.raises(ValueError, match="op"):
        Spec("power_w", "<", 1e-3)
