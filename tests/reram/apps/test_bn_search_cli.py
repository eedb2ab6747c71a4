"""Tests of the ``reram-bn-search`` console script (tiny real trainings, in-process)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from reram.apps.bn_search_cli import main

#: A tiny real training on the small VGG (6 sites) with the default chip (pulsed EpiRAM, per-tile ADC).
TINY = ["--model", "vgg-digits", "--epochs", "1", "--max-train", "96", "--max-test", "64", "--quiet",
        "--executor", "inprocess", "--workers", "1"]
#: The single-objective search (``minimize_binary``).
SINGLE = ["--mode", "single"]


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for option in ("--model", "--dataset", "--data-dir", "--config", "--chip", "--epochs", "--budget", "--methods",
                   "--mode", "--tradeoff", "--scalarization", "--executor", "--resume", "--overwrite", "--out",
                   "--quiet"):
        assert option in text


@pytest.mark.parametrize("args, field", [
    (["--budget", "0"], "budget"),
    (["--model", "vgg7"], "model"),
    (["--dataset", "cifar10"], "data_dir"),
    (["--config", '{"weight_bits": 0}'], "weight_bits"),
    (["--config", "nonsense"], "config"),
    (["--lam", "-1"], "lam"),
    (["--workers", "0"], "workers"),
    (["--methods", "mobo,bo"], "methods"),
    (["--mode", "single", "--methods", "bo,mobo"], "methods"),
    (["--search-batch", "0"], "search_batch"),
    (["--worker-retries", "-1"], "worker_retries"),
    (["--resume"], "no search to resume"),
    (["--threads", "0"], "threads"),  # issue 15, item 7: was a traceback
    (["--chip", "tpu"], "chip"),
    (["--max-test", "-1"], "--max-test"),
    (["--methods", "nsga2", "--n-init", "1"], "nsga2"),
    (["--resume", "--overwrite"], "exclude each other"),
])
def test_bad_input_exits_2_with_one_line_before_training(tmp_path, capsys, args, field):
    out = tmp_path / "run"
    assert main([*TINY, *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("reram-bn-search: error:") and field in err and "\n" not in err
    assert not (out / "evals").exists()  # nothing was trained


def test_three_evaluation_run_writes_json_plots_and_table(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["--budget", "3", "--methods", "bo,random", "--out", str(out), *TINY, *SINGLE]) == 0
    printed = capsys.readouterr().out
    for label in ("all BN", "no BN", "found (bo)", "found (random)", "speedup"):
        assert label in printed
    report = json.loads((out / "bn_search.json").read_text())
    assert set(report["runs"]) == {"bo", "random"}
    for run in report["runs"].values():
        assert len(run["history"]) == 3
        for row in run["history"]:
            assert 0.0 <= row["accuracy"] <= 1.0 and row["n_bn"] == row["mask"].count("1")
            assert row["speedup"] > 0 and row["value"] is not None
    assert report["references"]["all"]["mask"] == "111111"
    assert report["references"]["none"]["n_bn"] == 0
    assert report["found"]["bo"]["mask"] in {r["mask"] for r in report["runs"]["bo"]["history"]}
    assert report["pareto_front"]
    for png in ("convergence.png", "accuracy_vs_bn.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_resume_continues_without_retraining_finished_masks(tmp_path, capsys):
    out = tmp_path / "run"
    common = ["--methods", "random", "--seed", "3", "--out", str(out), *TINY, *SINGLE]
    assert main(["--budget", "2", *common]) == 0
    first = json.loads((out / "bn_search.json").read_text())["runs"]["random"]["history"]
    trained = {p: p.stat().st_mtime_ns for p in (out / "evals").rglob("*.json")}
    assert len(first) == 2 and len(trained) >= 3  # two references and the searched masks

    assert main([*common, "--epochs", "2", "--resume"]) == 2
    assert "epochs" in capsys.readouterr().err

    assert main(["--budget", "4", "--resume", *common]) == 0
    second = json.loads((out / "bn_search.json").read_text())["runs"]["random"]["history"]
    assert len(second) == 4
    assert second[:2] == first  # the finished evaluations are kept as they were
    for path, mtime in trained.items():
        assert path.stat().st_mtime_ns == mtime  # and were not trained again
    assert len(list((out / "evals").rglob("*.json"))) > len(trained)


def test_a_saved_search_is_refused_without_resume_or_overwrite(tmp_path, capsys):
    """Issue 15, item 2: without --resume a finished search was retrained and overwritten."""
    out = tmp_path / "run"
    common = ["--methods", "random", "--budget", "2", "--out", str(out), *TINY, *SINGLE]
    assert main(common) == 0
    files = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert main(common) == 2
    err = capsys.readouterr().err
    assert err.startswith("reram-bn-search: error: --out") and "--resume" in err and "--overwrite" in err
    assert err.count("\n") == 1
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == files  # untouched
    assert main([*common, "--overwrite"]) == 0  # replaced on request: every mask trained again
    evals = [p for p in files if p.parent.parent.name == "evals"]
    assert evals and all(p.stat().st_mtime_ns != files[p] for p in evals)


@pytest.mark.parametrize("make_out, message", [
    (lambda tmp: tmp / "file", "is a file, not a folder"),                # a file given as the folder
    (lambda tmp: tmp / "file" / "run", "file is a file, not a folder"),   # a parent that is a file
    (lambda tmp: Path("/sys/reram-cannot-write"), "not writable"),       # unwritable (even as root)
])
def test_output_folder_is_checked_before_any_work(tmp_path, capsys, monkeypatch, make_out, message):
    """Issue 15, item 3: the output folder is checked before the data is read or a mask trained."""
    (tmp_path / "file").write_text("x")
    monkeypatch.setattr("reram.apps.bn_objective.MaskTrainer.load_data",
                        lambda self: pytest.fail("read the data before checking --out"))
    assert main([*TINY, "--out", str(make_out(tmp_path))]) == 2
    err = capsys.readouterr().err
    assert err.startswith("reram-bn-search: error: --out") and message in err and err.count("\n") == 1


def test_sigterm_ends_with_one_line_and_the_search_resumes(tmp_path):
    """Issue 15, item 7: SIGTERM like Ctrl-C: exit 130, one line; the checkpoint and the
    trained masks are intact and --resume trains none of them again."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "run"
    argv = ["--methods", "random", "--budget", "8", "--seed", "1", "--out", str(out), *TINY, *SINGLE]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    process = subprocess.Popen([sys.executable, "-m", "reram.apps.bn_search_cli", *argv], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len(list(out.glob("evals/*/*.json"))) < 4:  # the two references and two searched masks
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert err == "reram-bn-search: interrupted; continue with --resume\n"
    trained = {p: p.stat().st_mtime_ns for p in out.glob("evals/*/*.json")}
    assert main([*argv, "--resume"]) == 0
    report = json.loads((out / "bn_search.json").read_text())
    assert len(report["runs"]["random"]["history"]) == 8
    for path, mtime in trained.items():
        assert path.stat().st_mtime_ns == mtime  # not trained again


@pytest.mark.parametrize("model, sites", [("vgg11", 8), ("resnet20", 21)])
def test_cifar_size_models_are_searchable_on_the_digits(tmp_path, model, sites):
    """Issue 13 groundwork: --model vgg11 (its pools fitted to 8x8) and resnet20 pass every check
    on the bundled digits, and the scheduler costs their masks."""
    from reram.apps.bn_cost import CostTable, search_chip
    from reram.apps.bn_objective import MaskTrainer
    from reram.apps.bn_search_cli import build_parser, settings_from_args

    settings = settings_from_args(build_parser().parse_args([*TINY, "--model", model]))
    trainer = MaskTrainer(settings.training())
    trainer.prepare()  # reads the data, runs the model on two images
    assert trainer.num_sites == sites
    assert trainer.training.model == model and trainer.load_data().input_shape == (1, 8, 8)
    costs = CostTable(trainer, search_chip(settings.chip, settings.config))
    fast, slow = costs.cost("0" * sites).speedup, costs.cost("1" * sites).speedup
    assert fast is not None and slow is not None and fast > 0 and slow > 0  # every mask costed


def test_fewer_bn_layers_are_faster_on_the_main_jobs_chip():
    from reram.apps.bn_cost import CostTable, search_chip
    from reram.apps.bn_objective import MaskTrainer
    from reram.apps.bn_search import BNSearchSettings

    settings = BNSearchSettings(max_train=96, max_test=64)
    costs = CostTable(MaskTrainer(settings.training()), search_chip(settings.chip, settings.config))
    assert costs.cost("00000000").speedup > costs.cost("11111111").speedup
