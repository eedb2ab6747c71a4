"""A converted model trains under DistributedDataParallel (2 CPU processes, gloo, torchrun)
to the same weights as one process on the same global batches (issue 15).

Runs the README's command, ``examples/ddp_train.py`` under torchrun, once for the three weight
update modes; the script's ``--verify`` trains one process on the whole global batches next to
the DDP replicas and reports the largest weight difference.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "examples" / "ddp_train.py"


def _warm_numba_cache() -> None:
    """Compile (and cache) the kernels the example uses here, so that the two ranks load them
    instead of compiling and writing the same cache files at once."""
    import importlib.util

    import torch

    spec = importlib.util.spec_from_file_location("ddp_train_example", SCRIPT)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    images, labels = example.digits_batches(1, 4)
    example.train(example.build_model("nearest"), images, labels, lr=0.1)
    assert torch.isfinite(images).all()


def _torchrun(tmp_path: Path, *args: str) -> dict:
    _warm_numba_cache()
    out = tmp_path / "ddp.json"
    env = dict(os.environ, OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(SCRIPT), "--steps", "5", "--batch", "16", "--verify", "--out", str(out), *args]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    (tmp_path / "torchrun.log").write_text(proc.stdout + proc.stderr)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text())


def test_ddp_two_processes_match_one_process(tmp_path):
    report = _torchrun(tmp_path, "--update", "nearest,digital,stochastic")
    assert report["world_size"] == 2
    results = {r["update"]: r for r in report["results"]}
    assert set(results) == {"nearest", "digital", "stochastic"}
    for update, r in results.items():
        assert r["max_diff_between_ranks"] == 0.0, update           # one chip, replicas agree
        # same steps as one process up to the order of the gradient sums (float rounding);
        # a weight one conductance level off would differ by about 1e-2
        assert r["max_diff_vs_one_process"] < 1e-5, (update, r)
        assert math.isfinite(r["loss"])


@pytest.mark.xfail(strict=True, reason="layers.py counts re-programming unchanged weights as an "
                   "update, so DDP's initial broadcast (init_sync=True) shifts the stochastic "
                   "rounding seeds; the example passes init_sync=False")
def test_rewriting_the_same_weights_is_not_an_update():
    import torch

    from reram import CrossbarConfig, CrossbarLinear

    torch.manual_seed(0)
    layer = CrossbarLinear(8, 4, config=CrossbarConfig(weight_bits=4, adc_bits=None,
                                                       update="stochastic"))
    x = torch.randn(2, 8)
    layer(x)
    count = int(layer.crossbar_update_count)
    with torch.no_grad():  # what DDP's initial broadcast does on every rank
        layer.weight.copy_(layer.weight.detach().clone())
    layer(x)
    assert int(layer.crossbar_update_count) == count
