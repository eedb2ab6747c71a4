"""Spec-conditioned RL (train once, size many): learning, deployment, checkpoint/resume and the
policy file (analytic backend, tiny budgets)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from reram.analog import deploy, size
from reram.analog.transfer import SpecRange, default_spec_range, load_policy, train_policy
from reram.analog.library import circuits

TINY = {"n_warmup": 40, "round_size": 20, "hidden": 48, "critic_steps": 60, "actor_steps": 30}


@pytest.fixture(scope="module")
def cs_policy(tmp_path_factory):
    torch.set_num_threads(1)
    path = tmp_path_factory.mktemp("policy") / "cs_policy.pt"
    policy = train_policy("cs", budget=180, backend="analytic", seed=0, progress=False, out=str(path),
                          options=TINY)
    return policy, path


def test_trained_policy_meets_held_out_specs_in_few_simulations(cs_policy):
    policy, _ = cs_policy
    assert policy.training_simulations == 180
    held_out = policy.spec_range.sample(np.random.default_rng(12345), 6)  # a stream training never used
    sims = []
    for k, values in enumerate(held_out):
        result = deploy(policy, list(policy.spec_range.specs(values)), budget=15, seed=k)
        assert result.method == "rl-transfer"
        sims.append(result.first_feasible)
        if result.meets_specs:
            assert len(result.history) == result.first_feasible  # deployment stops when the specs are met
    met = [s for s in sims if s is not None]
    assert len(met) >= 5, sims
    assert np.median(met) <= 3, sims
    # random search with the same per-spec budget does worse on the same specs
    rand = [size("cs", specs=list(policy.spec_range.specs(v)), method="random", budget=15, backend="analytic",
                 seed=k, progress=False, stop_at_feasible=True).first_feasible for k, v in enumerate(held_out)]
    assert sum(np.median(met) < (r or 99) for r in rand) >= 3, (sims, rand)


def test_untrained_policy_does_not_meet_them():
    """The learning matters: with only the uniform warm-up (no actor updates) the first
    proposal rarely meets a held-out spec."""
    torch.set_num_threads(1)
    policy = train_policy("cs", budget=40, backend="analytic", seed=0, progress=False,
                          options={**TINY, "critic_steps": 0, "actor_steps": 0})
    held_out = policy.spec_range.sample(np.random.default_rng(12345), 6)
    first = [deploy(policy, list(policy.spec_range.specs(v)), budget=1, seed=k).meets_specs
             for k, v in enumerate(held_out)]
    assert sum(first) <= 2


def test_resume_after_an_interrupt_gives_the_uninterrupted_policy(tmp_path, monkeypatch):
    torch.set_num_threads(1)
    import reram.analog.transfer as transfer

    ckpt = str(tmp_path / "ckpt.pt")
    real = transfer._simulate
    calls = {"n": 0}

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:  # warm-up, two rounds, then Ctrl-C in the third round
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(transfer, "_simulate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_policy("cs", budget=140, backend="analytic", seed=1, progress=False, checkpoint_path=ckpt,
                     options=TINY)
    monkeypatch.setattr(transfer, "_simulate", real)
    assert len(load_checkpoint_x(ckpt)) == 80  # warm-up 40 + two rounds of 20
    resumed = train_policy("cs", budget=140, backend="analytic", seed=1, progress=False, checkpoint_path=ckpt,
                           resume=True, options=TINY)
    fresh = train_policy("cs", budget=140, backend="analytic", seed=1, progress=False, options=TINY)
    assert np.array_equal(resumed.train_x, fresh.train_x)
    for a, b in zip(resumed.actor.state_dict().values(), fresh.actor.state_dict().values()):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="cannot resume .* seed"):
        train_policy("cs", budget=140, backend="analytic", seed=2, progress=False, checkpoint_path=ckpt,
                     resume=True, options=TINY)


def load_checkpoint_x(path):
    return torch.load(path, weights_only=True)["policy"]["train_x"]


def test_saved_policy_deploys_identically_in_a_new_process(cs_policy):
    policy, path = cs_policy
    values = policy.spec_range.sample(np.random.default_rng(7), 1)[0]
    specs = {s.metric: (s.op, s.value) for s in policy.spec_range.specs(values)}
    here = deploy(load_policy(path), specs, budget=4, seed=3)
    script = ("import json, sys, torch; torch.set_num_threads(1);"
              "from reram.analog import deploy;"
              "specs = {k: tuple(v) for k, v in json.loads(sys.argv[2]).items()};"
              "r = deploy(sys.argv[1], specs, budget=4, seed=3);"
              "print(json.dumps([h['params'] for h in r.history]))")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", script, str(path), json.dumps(specs)], capture_output=True,
                         text=True, env=env, check=True, timeout=120)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [h["params"] for h in here.history]


def test_bad_input_is_rejected(cs_policy, tmp_path):
    policy, path = cs_policy
    with pytest.raises(ValueError, match="needs options=.*policy"):
        size("cs", method="rl-transfer", budget=3, backend="analytic", progress=False)
    with pytest.raises(ValueError, match="trained for specs on gain_db >=, bandwidth_hz >=, power_w <="):
        deploy(policy, {"gain_db": (">=", 10.0)}, budget=2)
    with pytest.raises(ValueError, match="sizes cs, not two_stage"):
        size("two_stage", method="rl-transfer", budget=2, backend="analytic", progress=False,
             options={"policy": policy})
    bad = tmp_path / "bad.pt"
    bad.write_text("not a policy")
    with pytest.raises(ValueError, match=f"policy file {bad} could not be read"):
        load_policy(bad)
    with pytest.raises(ValueError, match="policy file .* does not exist"):
        load_policy(tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="unknown training option 'gamma'"):
        train_policy("cs", budget=5, backend="analytic", options={"gamma": 0.9})
    with pytest.raises(ValueError, match="budget must be an integer >= 1"):
        train_policy("cs", budget=0, backend="analytic")


def test_spec_range_draws_inside_and_encodes_to_unit_interval():
    circuit = circuits["two_stage"]
    spec_range = default_spec_range(circuit)
    values = spec_range.sample(np.random.default_rng(0), 500)
    bounds = spec_range.bounds()
    assert np.all(values >= bounds[:, 0] * (1 - 1e-12)) and np.all(values <= bounds[:, 1] * (1 + 1e-12))
    assert np.all(np.abs(spec_range.encode(values)) <= 1 + 1e-9)
    assert bounds[0].tolist() == pytest.approx([18.0, 34.5])  # gain 30 dB x [0.6, 1.15], uniform in dB
    with pytest.raises(ValueError, match="0 < low <= high"):
        SpecRange(circuit.specs, ((1.0, 0.5), (1, 1), (1, 1)))
