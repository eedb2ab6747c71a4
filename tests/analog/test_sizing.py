"""Sizing methods through the shared evaluation interface (fast: analytic backend, small budgets;
one ngspice run of the TIA)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from reram.analog import circuits, evaluate, size
from reram.apps.size_cli import main as cli_main
from reram.analog.library import CommonSource
from reram.analog.rl import GroupDecoderActor
from reram.analog.problem import FOM_CAP, VIOLATION_WEIGHT


def _consistent(result, backend="analytic"):
    """The reported best is what evaluate() gives for best_params, and its feasibility is right."""
    again = evaluate(result.circuit, result.best_params, backend=backend)
    for key, value in result.best_metrics.items():
        if isinstance(value, float):
            assert again[key] == pytest.approx(value, rel=1e-6)
    circuit = circuits[result.circuit]
    assert result.meets_specs == all(spec.met(again) for spec in circuit.specs)


@pytest.mark.parametrize("method", ["random", "grid"])
def test_cheap_methods_meet_the_common_source_specs(method):
    result = size("cs", method=method, budget=150, backend="analytic", seed=0, progress=False)
    assert len(result.history) == 150
    assert result.meets_specs
    _consistent(result)
    feasible = [h for h in result.history if h["feasible"]]
    assert result.best_metrics["power_w"] == pytest.approx(
        min(h["metrics"]["power_w"] for h in feasible if h["fom"] == min(f["fom"] for f in feasible)))


def test_grid_points_lie_on_the_grid():
    result = size("cs", method="grid", budget=8, backend="analytic", seed=1, progress=False,
                  options={"levels": 2})
    circuit = circuits["cs"]
    units = {round(circuit.variable(k).to_unit(v), 6) for h in result.history for k, v in h["params"].items()}
    assert units == {0.25, 0.75}
    assert len({tuple(sorted(h["params"].items())) for h in result.history}) == 8  # the full 2^3 grid


def test_same_seed_same_run_and_other_seed_differs():
    a = size("two_stage", method="random", budget=15, backend="analytic", seed=3, progress=False)
    b = size("two_stage", method="random", budget=15, backend="analytic", seed=3, progress=False)
    c = size("two_stage", method="random", budget=15, backend="analytic", seed=4, progress=False)
    assert [h["params"] for h in a.history] == [h["params"] for h in b.history]
    assert [h["params"] for h in a.history] != [h["params"] for h in c.history]


def test_bo_meets_the_common_source_specs():
    torch.set_num_threads(1)
    result = size("cs", method="bo", budget=24, backend="analytic", seed=0, progress=False,
                  options={"n_init": 6, "raw_samples": 256, "mc_samples": 64})
    assert len(result.history) == 24
    assert result.meets_specs
    _consistent(result)


def test_rl_runs_reproducibly_and_learns_on_two_stage():
    options = {"n_warmup": 8, "critic_steps": 10, "actor_steps": 5}
    a = size("two_stage", method="rl", budget=24, backend="analytic", seed=0, progress=False, options=options)
    b = size("two_stage", method="rl", budget=24, backend="analytic", seed=0, progress=False, options=options)
    assert [h["params"] for h in a.history] == [h["params"] for h in b.history]
    _consistent(a)
    # the agent's choices after warm-up are better on average than the uniform warm-up sizings
    warm = np.mean([h["reward"] for h in a.history[:8]])
    learned = np.mean([h["reward"] for h in a.history[8:]])
    assert learned > warm


def test_actor_sets_each_group_in_order():
    torch.manual_seed(0)
    actor = GroupDecoderActor([[2, 0], [1], [3]], dim=4, hidden=8)
    out = actor()
    assert out.shape == (4,)
    assert bool(((out > 0) & (out < 1)).all())


@pytest.mark.ngspice
@pytest.mark.usefixtures("ngspice_available")
def test_failed_simulations_are_penalized_not_raised():
    class Broken(CommonSource):
        name = "broken"

        def elements(self):
            return super().elements() + ["Bloop x 0 V = V(x) + 1", "Rloop x 0 1k"]

    result = size(Broken(), method="random", budget=2, backend="ngspice", seed=0, progress=False)
    assert not result.meets_specs
    for record in result.history:
        assert record["metrics"]["failed"] is True
        assert record["reward"] == pytest.approx(-(FOM_CAP + VIOLATION_WEIGHT * 3))


@pytest.mark.ngspice
@pytest.mark.usefixtures("ngspice_available")
def test_tia3_random_on_ngspice():
    result = size("tia3", method="random", budget=4, backend="ngspice", seed=0, progress=False)
    assert len(result.history) == 4
    assert all(not h["metrics"]["failed"] for h in result.history)
    _consistent(result, backend="ngspice")


def test_checkpoint_and_resume(tmp_path):
    path = str(tmp_path / "history.json")
    first = size("cs", method="random", budget=5, backend="analytic", seed=2, progress=False, history_path=path)
    saved = json.loads(open(path).read())
    assert saved["method"] == "random" and len(saved["history"]) == 5
    resumed = size("cs", method="random", budget=9, backend="analytic", seed=2, progress=False,
                   history_path=path, resume=True)
    fresh = size("cs", method="random", budget=9, backend="analytic", seed=2, progress=False)
    assert resumed.history[:5] == first.history  # replayed, not re-simulated (same timings too)
    assert [h["params"] for h in resumed.history] == [h["params"] for h in fresh.history]
    with pytest.raises(ValueError, match="cannot resume .* seed"):
        size("cs", method="random", budget=9, backend="analytic", seed=3, history_path=path, resume=True)


@pytest.mark.parametrize("kwargs,match", [
    ({"method": "anneal"}, "method must be one of random, grid, bo, rl"),
    ({"budget": 0}, "budget must be an integer >= 1"),
    ({"backend": "spectre"}, "backend must be one of analytic, ngspice"),
    ({"specs": {"gain": (">=", 3)}}, "spec metric 'gain' is not a metric of cs"),
    ({"specs": {"gain_db": 3}}, "spec for gain_db must be"),
    ({"method": "bo", "options": {"restarts": 3}}, "unknown BO option 'restarts'"),
    ({"method": "rl", "options": {"gamma": 0.9}}, "unknown RL option 'gamma'"),
    ({"resume": True}, "resume=True needs a history_path"),
])
def test_bad_input_is_rejected_before_work(kwargs, match):
    with pytest.raises(ValueError, match=match):
        size("cs", **{"budget": 3, "backend": "analytic", "progress": False, **kwargs})


def test_analytic_backend_refuses_tia3():
    with pytest.raises(ValueError, match="backend 'analytic' has no model of circuit 'tia3'"):
        evaluate("tia3", circuits["tia3"].reference, backend="analytic")


def test_custom_specs_change_feasibility():
    loose = size("cs", specs={"gain_db": (">=", 0.0)}, method="random", budget=5, backend="analytic",
                 seed=0, progress=False)
    assert loose.meets_specs
    impossible = size("cs", specs={"gain_db": (">=", 80.0)}, method="random", budget=5, backend="analytic",
                      seed=0, progress=False)
    assert not impossible.meets_specs


def test_cli_writes_json(tmp_path, capsys):
    out = tmp_path / "r.json"
    code = cli_main(["--circuit", "cs", "--method", "random", "--budget", "6", "--backend", "analytic",
                     "--out", str(out), "--no-progress", "--spec", "gain_db>=10"])
    assert code == 0
    data = json.loads(out.read_text())
    assert len(data["history"]) == 6 and "gain_db >= 10" in data["specs"]
    assert "best sizing" in capsys.readouterr().out


def test_cli_bad_input_exits_nonzero(capsys):
    assert cli_main(["--circuit", "cs", "--budget", "-1", "--backend", "analytic"]) == 2
    assert "budget must be an integer" in capsys.readouterr().err
    assert cli_main(["--circuit", "cs", "--spec", "gain_db=3", "--backend", "analytic"]) == 2
    with pytest.raises(SystemExit):
        cli_main(["--circuit", "nope"])
