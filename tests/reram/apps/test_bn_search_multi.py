"""Multi-objective ``reram-bn-search`` (issue 13): the front, its hypervolume, and a worker that
dies mid-training (tiny real trainings of the small VGG on the default chip)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from reram.apps.bn_search_cli import main

TINY = ["--model", "vgg-digits", "--epochs", "1", "--max-train", "96", "--max-test", "64", "--quiet"]


def _dominates(a: list[float], b: list[float]) -> bool:
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def _hv_2d(points: list[list[float]], ref: list[float]) -> float:
    """Hypervolume of 2-D points (minimized) below ref, by sweeping rectangles."""
    pts = sorted(p for p in points if p[0] < ref[0] and p[1] < ref[1])
    area, best_y = 0.0, ref[1]
    for i, (x, y) in enumerate(pts):
        if y < best_y:
            nxt = ref[0]
            area += (nxt - x) * (best_y - y)
            best_y = y
    return area


def test_hv_helper_against_hand_computed_values():
    # two points (1, 2), (2, 1) under (3, 3): 1x2 + 1x1 + 1x1 - overlap... = 3 (drawn by hand)
    assert _hv_2d([[1, 2], [2, 1]], [3, 3]) == pytest.approx(3.0)
    assert _hv_2d([[1, 1], [2, 2]], [3, 3]) == pytest.approx(4.0)  # (2, 2) is dominated
    assert _hv_2d([[3, 1]], [3, 3]) == 0.0  # on the reference point's edge: counts nothing


def test_multi_objective_cli_writes_a_non_dominated_front_and_its_hypervolume(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["--mode", "multi", "--tradeoff", "speedup", "--methods", "mobo,random", "--budget", "7",
                 "--executor", "inprocess", "--workers", "1", "--out", str(out), *TINY]) == 0
    printed = capsys.readouterr().out
    for label in ("all BN", "no BN", "found (mobo)", "front", "mJ/sample", "hypervolume, reference point [-0.1, 0.0]"):
        assert label in printed
    report = json.loads((out / "bn_search.json").read_text())
    assert set(report["runs"]) == {"mobo", "random"}
    ref = report["ref_point"]
    assert ref == [-0.1, 0.0]
    scale = report["speedup_scale"]
    assert scale == report["references"]["none"]["speedup"] > report["references"]["all"]["speedup"]
    evals = report["evaluations"]
    for method, run in report["runs"].items():
        assert len(run["history"]) == 7 and run["n_failures"] == 0
        pts = {r["mask"]: [-evals[r["mask"]]["accuracy"], -evals[r["mask"]]["speedup"] / scale]
               for r in run["history"]}
        front = {m for m, p in pts.items() if not any(_dominates(q, p) for q in pts.values())}
        assert set(run["front"]) == front  # exactly the non-dominated masks it evaluated
        assert run["hypervolume"] == pytest.approx(_hv_2d(list(pts.values()), ref))
        hv = run["hypervolume_history"]
        assert len(hv) == 7 and all(a <= b + 1e-12 for a, b in zip(hv, hv[1:]))
        assert hv[-1] == pytest.approx(run["hypervolume"])
    assert report["runs"]["mobo"]["info"]  # BO ran past its initial design
    front = report["pareto_front"]  # over every mask evaluated by any method
    pts = [[-e["accuracy"], -e["speedup"]] for e in front]
    assert not any(_dominates(p, q) for p in pts for q in pts)
    every = [[-e["accuracy"], -e["speedup"]] for e in evals.values()]
    assert all(not any(_dominates(q, p) for q in every) for p in pts)
    for png in ("convergence.png", "accuracy_vs_speedup.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _workers_of(pid: int) -> list[int]:
    """Child processes of `pid` that are multiprocessing spawn workers (read from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmd = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == pid and b"spawn_main" in cmd:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to find the workers")
def test_a_killed_worker_costs_one_evaluation_and_the_search_finishes(tmp_path):
    """--executor process --workers 2: SIGKILL one worker while the search trains; the search
    ends normally, the dead worker's mask is one failed evaluation (--worker-retries 0), and the
    checkpoint holds every finished evaluation, each with its trained mask on disk."""
    out = tmp_path / "run"
    argv = ["--tradeoff", "n_bn", "--methods", "random", "--budget", "6", "--executor", "process",
            "--workers", "2", "--worker-retries", "0", "--out", str(out), *TINY]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    process = subprocess.Popen([sys.executable, "-m", "reram.apps.bn_search_cli", *argv], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not (out / "checkpoint_random.json").exists():  # the references are trained, the search runs
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
    workers = _workers_of(process.pid)
    assert len(workers) == 2
    os.kill(workers[0], signal.SIGKILL)
    stdout, err = process.communicate(timeout=240)
    assert process.returncode == 0, err
    ckpt = json.loads((out / "checkpoint_random.json").read_text())
    history = ckpt["history"]
    assert len(history) == 6  # the budget was spent: the search went on
    failed = [r for r in history if r["error"] is not None]
    assert len(failed) == 1 and "WorkerDied" in failed[0]["error"] and "SIGKILL" in failed[0]["error"]
    trained = {p.stem for p in out.glob("evals/*/*.json")}
    for rec in history:
        if rec["error"] is None:
            assert "".join(map(str, rec["x"])) in trained
    report = json.loads((out / "bn_search.json").read_text())
    assert report["runs"]["random"]["n_failures"] == 1
    assert "1 evaluation(s) failed" in stdout
