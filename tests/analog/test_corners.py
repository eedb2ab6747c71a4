"""Process, supply and temperature corners: parsing, shifted cards, metric directions, worst case,
parallel workers and corner-aware sizing (analytic backend; two quick ngspice checks)."""
from __future__ import annotations

import math

import pytest

from reram.analog import L2DC_PROCESS, Corner, PVT_CORNERS, circuits, corner_grid, evaluate, evaluate_corners, size
from reram.analog.corners import parse_corners, worst_case


def test_corners_parse_and_name():
    assert Corner.parse("ss/0.9/125") == Corner("ss", 0.9, 125.0)
    assert Corner.parse("FF/1.1/-40").name == "ff/1.1/-40"
    assert Corner.parse("tt") == Corner()
    assert parse_corners("tt,sf/1/27") == (Corner(), Corner("sf"))
    assert parse_corners("pvt") == PVT_CORNERS and len(PVT_CORNERS) == 7
    assert len(corner_grid()) == 45
    for bad, match in [("xx", "PROCESS/SUPPLY/TEMP_C"), ("ss/fast", "must be numbers"),
                       ("ss/3/27", "supply must be a scale"), ("tt/1/-300", "temp_c")]:
        with pytest.raises(ValueError, match=match):
            Corner.parse(bad)


def test_process_cards_shift_in_the_documented_direction():
    fast_n_slow_p = Corner("fs").shift_process(L2DC_PROCESS)
    assert fast_n_slow_p.nmos.vto == pytest.approx(0.45) and fast_n_slow_p.nmos.kp == pytest.approx(55e-6)
    assert fast_n_slow_p.pmos.vto == pytest.approx(-0.55) and fast_n_slow_p.pmos.kp == pytest.approx(22.5e-6)
    cards = " ".join(fast_n_slow_p.model_cards({("n", 1.0), ("p", 1.0)}))
    assert "nmos level=1 vto=0.45 kp=5.5e-05" in cards and "pmos level=1 vto=-0.55 kp=2.25e-05" in cards
    assert Corner("tt").shift_process(L2DC_PROCESS) is L2DC_PROCESS
    netlist = circuits["tia3"].at_corner(1.1, 125.0).netlist(circuits["tia3"].reference)
    assert ".temp 125" in netlist and "VDD vdd 0 2.75" in netlist and "VSS vss 0 -2.75" in netlist
    assert ".temp" not in circuits["tia3"].netlist(circuits["tia3"].reference)


def test_fast_devices_and_high_supply_draw_more_power_analytic():
    ref = circuits["cs"].reference
    power = {c: evaluate_corners("cs", ref, corners=[c], backend="analytic", workers=1).worst["power_w"]
             for c in ("ss/1/27", "tt/1/27", "ff/1/27", "tt/1.1/27", "tt/0.9/27")}
    assert power["ss/1/27"] < power["tt/1/27"] < power["ff/1/27"]
    assert power["tt/0.9/27"] < power["tt/1/27"] < power["tt/1.1/27"]
    nominal = evaluate("cs", ref, backend="analytic")
    assert power["tt/1/27"] == pytest.approx(nominal["power_w"])


def test_worst_case_takes_each_metric_from_its_bad_side():
    circuit = circuits["cs"]
    per_corner = [{"gain_db": 20.0, "bandwidth_hz": 5e6, "peaking_db": 0.0, "power_w": 1e-4, "area_um2": 10.0,
                   "saturated": True, "failed": False},
                  {"gain_db": 15.0, "bandwidth_hz": 9e6, "peaking_db": 1.0, "power_w": 3e-4, "area_um2": 10.0,
                   "saturated": False, "failed": False}]
    worst = worst_case(circuit, circuit.specs, per_corner)
    assert worst["gain_db"] == 15.0 and worst["bandwidth_hz"] == 5e6 and worst["power_w"] == 3e-4
    assert worst["saturated"] is False and worst["failed"] is False
    failed = worst_case(circuit, circuit.specs, [per_corner[0], {"failed": True, "error": "no DC"}])
    assert failed["failed"] and math.isnan(failed["gain_db"]) and failed["error"] == "no DC"


def test_temperature_corners_need_ngspice():
    with pytest.raises(ValueError, match="backend 'analytic' models 27 C only"):
        evaluate_corners("cs", circuits["cs"].reference, corners="pvt", backend="analytic", workers=1)
    with pytest.raises(ValueError, match="backend 'analytic' models 27 C only"):
        size("cs", method="random", budget=2, backend="analytic", corners="pvt", progress=False)


def test_size_over_corners_judges_the_worst_case():
    result = size("cs", method="random", budget=12, backend="analytic", seed=0, progress=False, workers=1,
                  corners=["tt", "ff/1.1/27", "ss/0.9/27"])
    for record in result.history:
        corner_metrics = record["metrics"]["corners"]
        assert set(corner_metrics) == {"tt/1/27", "ff/1.1/27", "ss/0.9/27"}
        assert record["metrics"]["power_w"] == pytest.approx(max(m["power_w"] for m in corner_metrics.values()))
        assert record["metrics"]["gain_db"] == pytest.approx(min(m["gain_db"] for m in corner_metrics.values()))
        assert record["feasible"] == all(s.met(record["metrics"]) for s in circuits["cs"].specs)


@pytest.mark.ngspice
@pytest.mark.usefixtures("ngspice_available")
def test_tia_corners_on_ngspice_parallel_equals_serial_and_heat_slows_it():
    expert = circuits["tia3"].reference
    corners = ["tt", "tt/1/125", "ss/0.9/125", "ff/1.1/-40"]
    parallel = evaluate_corners("tia3", expert, corners=corners, workers=2)
    serial = evaluate_corners("tia3", expert, corners=corners, workers=1)
    for a, b in zip(parallel.metrics, serial.metrics):
        assert a["bandwidth_hz"] == pytest.approx(b["bandwidth_hz"], rel=1e-9)
    tt, hot, slow_hot, fast_cold = parallel.metrics
    assert hot["bandwidth_hz"] < tt["bandwidth_hz"]  # mobility falls with temperature
    assert slow_hot["bandwidth_hz"] < hot["bandwidth_hz"]
    assert fast_cold["power_w"] > tt["power_w"] > slow_hot["power_w"]
    assert tt["transimpedance_ohm"] == pytest.approx(20236, rel=1e-3)  # the nominal corner is the nominal design
    assert parallel.worst["bandwidth_hz"] == slow_hot["bandwidth_hz"] and not parallel.meets_specs
