"""The reram-train console script."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from reram.apps.train_cli import main


def test_cli_trains_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    config = tmp_path / "xbar.json"
    config.write_text(json.dumps({"weight_bits": 4, "update": "nearest"}))
    status = main(["--epochs", "1", "--bn-mask", "110000", "--config", str(config), "--max-train", "128",
                   "--max-test", "64", "--batch-size", "32", "--quiet", "--out", str(out)])
    assert status == 0
    metrics = json.loads(out.read_text())
    assert metrics["model"] == "vgg-digits" and metrics["dataset"] == "digits"
    assert 0.0 <= metrics["test_accuracy"] <= 1.0 and len(metrics["history"]) == 1
    assert metrics["config"]["weight_bits"] == 4 and metrics["bn_mask"] == "110000"


@pytest.mark.parametrize(
    "argv, message",
    [(["--bn-mask", "12"], "bn_mask must be a string of 0 and 1"),
     (["--bn-mask", "1111"], "bn_mask has 4 bits but the model has 6 BN sites"),
     (["--config", "nosuch"], "config must be one of float, ideal, isaac, neurosim"),
     (["--dataset", "cifar10"], "dataset cifar10 needs data_dir"),
     (["--epochs", "0"], "epochs must be a positive integer")],
)
def test_cli_bad_input_one_line_error(argv, message: str, tmp_path: Path, capsys) -> None:
    status = main([*argv, "--quiet", "--out", str(tmp_path / "x.json")])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("reram-train: error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "x.json").exists()


def test_cli_missing_cifar_names_expected_files(tmp_path: Path, capsys) -> None:
    status = main(["--dataset", "cifar10", "--model", "resnet20", "--data-dir", str(tmp_path), "--quiet",
                   "--out", str(tmp_path / "x.json")])
    assert status == 2 and "cifar-10-python.tar.gz" in capsys.readouterr().err


def test_cli_unknown_model_is_argparse_error(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--model", "alexnet"])
    assert info.value.code == 2 and "invalid choice: 'alexnet'" in capsys.readouterr().err


def test_console_script_subprocess(tmp_path: Path) -> None:
    bad = subprocess.run([sys.executable, "-m", "reram.apps.train_cli", "--bn-mask", "2", "--out", str(tmp_path / "a.json")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.strip().startswith("reram-train: error: bn_mask")
    help_run = subprocess.run([sys.executable, "-m", "reram.apps.train_cli", "--help"], capture_output=True, text=True,
                              timeout=120)
    assert help_run.returncode == 0 and "--bn-mask" in help_run.stdout and "vgg-digits" in help_run.stdout


KILLER = """
import os, signal, sys
import numba, torch
torch.set_num_threads(1)  # as in this test process (tests/conftest.py): float sums
numba.set_num_threads(1)  # depend on the thread counts
import reram.models.train as T
real_write = T.atomic_write_json
def write_then_die(path, payload):
    real_write(path, payload)
    if payload["epochs_done"] == 2 and not payload["complete"]:
        os.kill(os.getpid(), signal.SIGKILL)  # a hard kill: no exception handling, no cleanup
T.atomic_write_json = write_then_die
from reram.apps.train_cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path: Path) -> None:
    common = ["--epochs", "3", "--max-train", "256", "--max-test", "128", "--batch-size", "32", "--quiet",
              "--bn-mask", "100001", "--config", '{"weight_bits": 4, "update": "nearest", "adc_bits": null}']
    killed = subprocess.run([sys.executable, "-c", KILLER, *common, "--out", str(tmp_path / "run.json")],
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr
    partial = json.loads((tmp_path / "run.json").read_text())
    assert partial["complete"] is False and partial["epochs_done"] == 2
    assert main([*common, "--out", str(tmp_path / "run.json")]) == 0  # the same command again
    assert main([*common, "--out", str(tmp_path / "ref.json")]) == 0  # never interrupted
    resumed = json.loads((tmp_path / "run.json").read_text())
    reference = json.loads((tmp_path / "ref.json").read_text())
    assert resumed["resumed_from_epoch"] == 2 and reference["resumed_from_epoch"] == 0
    strip = lambda h: [{k: v for k, v in e.items() if k != "time_s"} for e in h]  # noqa: E731
    assert strip(resumed["history"]) == strip(reference["history"])
    assert resumed["test_accuracy"] == reference["test_accuracy"]


def test_cli_on_mnist_and_cifar_fixtures(tmp_path: Path, writers) -> None:
    writers.mnist(tmp_path / "mnist", compress=True)
    out = tmp_path / "mnist.json"
    assert main(["--model", "resnet20", "--dataset", "mnist", "--data-dir", str(tmp_path / "mnist"), "--epochs", "1",
                 "--bn-mask", "none", "--quiet", "--out", str(out)]) == 0
    metrics = json.loads(out.read_text())
    assert metrics["dataset"] == "mnist" and metrics["num_train"] == 12 and metrics["bn_sites_kept"] == []

    cifar = writers.cifar_archive(tmp_path / "cifar", images_per_batch=2)
    out = tmp_path / "cifar.json"
    with pytest.warns(UserWarning, match="md5"):
        status = main(["--model", "resnet20", "--dataset", "cifar10", "--data-dir", str(cifar), "--augment",
                       "--epochs", "1", "--config", "neurosim", "--quiet", "--out", str(out)])
    assert status == 0
    metrics = json.loads(out.read_text())
    assert metrics["augment"] is True and metrics["num_test"] == 2 and metrics["config"]["adc_bits"] == 5
