"""reram-size: output paths and --history checked before any simulation (issue 15), corners,
policy training and deployment from the command line (analytic backend)."""
from __future__ import annotations

import json

import pytest

import reram.apps.size_cli as size_cli
from reram.apps.size_cli import main


@pytest.fixture
def no_sizing(monkeypatch):
    """Fail the test if any sizing or training starts."""

    def forbidden(*args, **kwargs):
        raise AssertionError("work started before the output path was checked")

    monkeypatch.setattr(size_cli, "size", forbidden)
    import reram.analog.transfer as transfer

    monkeypatch.setattr(transfer, "train_policy", forbidden)


BASE = ["--circuit", "cs", "--method", "random", "--budget", "3", "--backend", "analytic", "--no-progress"]


def test_out_that_is_a_folder_fails_before_any_sizing(tmp_path, capsys, no_sizing):
    assert main([*BASE, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("reram-size: error: --out") and "is a folder" in err and err.count("\n") == 1


def test_out_under_a_file_fails_before_any_sizing(tmp_path, capsys, no_sizing):
    (tmp_path / "file").write_text("x")
    assert main([*BASE, "--out", str(tmp_path / "file" / "r.json")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert main([*BASE, "--history", str(tmp_path / "file" / "h.json"), "--out", str(tmp_path / "r.json")]) == 2
    assert "--history" in capsys.readouterr().err
    assert main(["--circuit", "cs", "--train-policy", str(tmp_path), "--backend", "analytic"]) == 2
    assert "--train-policy" in capsys.readouterr().err


def test_bad_history_json_names_the_file(tmp_path, capsys, no_sizing):
    history = tmp_path / "hist.json"
    history.write_text("{not json")
    assert main([*BASE, "--history", str(history), "--resume", "--out", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err
    assert str(history) in err and "not valid JSON" in err


def test_rl_transfer_needs_a_policy(tmp_path, capsys, no_sizing):
    assert main([*BASE[:3], "rl-transfer", *BASE[4:], "--out", str(tmp_path / "r.json")]) == 2
    assert "needs --policy" in capsys.readouterr().err


def test_corners_and_policy_round_trip(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main([*BASE, "--out", str(out), "--corners", "tt,ff/1.1/27", "--workers", "1"]) == 0
    assert set(json.loads(out.read_text())["history"][0]["metrics"]["corners"]) == {"tt/1/27", "ff/1.1/27"}
    assert "worst case over corners" in capsys.readouterr().out
    policy = tmp_path / "p.pt"
    assert main(["--circuit", "cs", "--train-policy", str(policy), "--budget", "30", "--backend", "analytic",
                 "--no-progress"]) == 0
    assert "policy trained with 30 simulations" in capsys.readouterr().out
    assert main(["--circuit", "cs", "--method", "rl-transfer", "--policy", str(policy), "--budget", "2",
                 "--backend", "analytic", "--no-progress", "--out", str(out), "--stop-at-feasible"]) == 0
    assert json.loads(out.read_text())["method"] == "rl-transfer"


def test_a_successful_ngspice_run_prints_no_traceback(tmp_path):
    """Issue 24: the libngspice worker, forked with run_cli's SIGTERM handler, printed a
    KeyboardInterrupt traceback when multiprocessing ended it at exit."""
    import os
    import subprocess
    import sys

    from reram.analog.ngspice import find_ngspice

    if not find_ngspice()["library"]:
        pytest.skip("libngspice0 not installed")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "reram.apps.size_cli", "--circuit", "cs", "--method", "random",
         "--budget", "2", "--backend", "ngspice", "--no-progress", "--out", str(tmp_path / "r.json")],
        capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "KeyboardInterrupt" not in done.stderr, done.stderr
    assert json.loads((tmp_path / "r.json").read_text())["circuit"] == "cs"
