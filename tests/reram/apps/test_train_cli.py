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


@pytest.mark.parametrize("make_out, message", [
    (lambda tmp: tmp, "is a folder"),                                        # an existing directory
    (lambda tmp: tmp / "file" / "run.json", "file is a file, not a folder"),  # a parent that is a file
    (lambda tmp: Path("/sys/reram-cannot-write.json"), "not writable"),     # unwritable (even as root)
])
def test_output_path_is_checked_before_any_training(tmp_path: Path, capsys, monkeypatch, make_out, message) -> None:
    """Issue 15, item 3: these paths failed with a traceback after the training."""
    (tmp_path / "file").write_text("x")
    monkeypatch.setattr("reram.apps.train_cli.run_training",
                        lambda **kw: pytest.fail("trained before checking --out"))
    assert main(["--epochs", "1", "--quiet", "--out", str(make_out(tmp_path))]) == 2
    err = capsys.readouterr().err
    assert err.startswith("reram-train: error: --out") and message in err and err.count("\n") == 1


def test_threads_option_sets_torch_and_numba(tmp_path: Path, capsys) -> None:
    """Issue 15, item 7: reram-train had no --threads."""
    import numba
    import torch

    before = (torch.get_num_threads(), numba.get_num_threads())
    try:
        assert main(["--epochs", "1", "--max-train", "32", "--max-test", "16", "--threads", "2", "--quiet",
                     "--out", str(tmp_path / "run.json")]) == 0
        threads = json.loads((tmp_path / "run.json").read_text())["threads"]
        assert threads == {"torch": 2, "numba": min(2, numba.config.NUMBA_NUM_THREADS)}
    finally:
        torch.set_num_threads(before[0])
        numba.set_num_threads(before[1])
    with pytest.raises(SystemExit) as info:
        main(["--threads", "0", "--out", str(tmp_path / "x.json")])
    assert info.value.code == 2 and "--threads" in capsys.readouterr().err


def _poll(predicate, process: subprocess.Popen, timeout: float = 120.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


THREADS_PROBE = """
import torch
from reram.runtime import thread_counts
first, second = thread_counts(), thread_counts()
print(first == second, first["torch"], torch.get_num_threads())
"""


def test_reading_thread_counts_changes_none_and_honours_omp_num_threads() -> None:
    """Issue 15, item 7: the first read started numba's pool, which raised torch's threads
    (OMP_NUM_THREADS=1 ignored), so a resume warned "threads {2,2} but written with {2,2}"."""
    import os

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("NUMBA_NUM_THREADS", None)  # numba starts as many threads as cores, as for a user
    probe = subprocess.run([sys.executable, "-c", THREADS_PROBE], env=env, capture_output=True, text=True,
                           timeout=120)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split() == ["True", "1", "1"]


def test_sigterm_ends_with_one_line_and_a_resumable_checkpoint(tmp_path: Path) -> None:
    """Issue 15, item 7: SIGTERM like Ctrl-C: exit 130, one line, the checkpoint intact; the
    same command resumes from it (no thread-count warning: the same counts)."""
    import os
    import signal
    import warnings

    env = {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}  # as in this process
    out = tmp_path / "run.json"
    argv = ["--epochs", "20", "--max-train", "64", "--max-test", "32", "--batch-size", "32", "--bn-mask",
            "100001", "--quiet", "--out", str(out), "--config", '{"weight_bits": 4, "update": "nearest", "adc_bits": null}']
    process = subprocess.Popen([sys.executable, "-m", "reram.apps.train_cli", *argv], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _poll(lambda: out.is_file() and json.loads(out.read_text())["epochs_done"] >= 2, process)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert err == f"reram-train: interrupted; rerun the same command to resume from {out}.ckpt\n"
    done = json.loads(out.read_text())["epochs_done"]
    assert 2 <= done < 20
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(argv) == 0
    assert not [w for w in caught if "resuming" in str(w.message)]
    metrics = json.loads(out.read_text())
    assert metrics["complete"] and metrics["resumed_from_epoch"] >= done and len(metrics["history"]) == 20


# ---------------------------------------------------------------- issue 24
_TINY = ["--epochs", "1", "--max-train", "64", "--max-test", "32", "--batch-size", "32", "--quiet",
         "--bn-mask", "none", "--model", "vgg-digits"]


def test_out_run_ckpt_keeps_its_checkpoint_apart_and_outputs_never_share_one(tmp_path: Path) -> None:
    from reram.models.train import checkpoint_path

    assert checkpoint_path(tmp_path / "run.ckpt") != tmp_path / "run.ckpt"
    assert checkpoint_path(tmp_path / "a.json") != checkpoint_path(tmp_path / "a.log")
    out = tmp_path / "run.ckpt"
    assert main([*_TINY, "--out", str(out)]) == 0
    assert json.loads(out.read_text())["epochs_done"] == 1  # the metrics, not a checkpoint
    assert (tmp_path / "run.ckpt.ckpt").is_file()
    assert main([*_TINY, "--out", str(tmp_path / "a.json")]) == 0
    assert main([*_TINY, "--out", str(tmp_path / "a.log"), "--epochs", "2"]) == 0
    assert json.loads((tmp_path / "a.log").read_text())["resumed_from_epoch"] == 0  # not a.json's


def test_infinite_weight_decay_is_refused(tmp_path: Path, capsys) -> None:
    assert main([*_TINY, "--weight-decay", "inf", "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err
    assert "weight_decay must be a finite number" in err and err.count("\n") == 1
    assert main([*_TINY, "--momentum", "nan", "--out", str(tmp_path / "x.json")]) == 2


def test_a_diverged_training_reports_no_accuracy(tmp_path: Path, capsys) -> None:
    out = tmp_path / "d.json"
    assert main([*_TINY, "--lr", "1e30", "--schedule", "constant", "--out", str(out)]) == 1
    written = json.loads(out.read_text())
    assert written["diverged"] is True and written["test_accuracy"] is None
    assert "diverged" in capsys.readouterr().err


def test_out_onto_a_fifo_is_refused_before_work(tmp_path: Path, capsys) -> None:
    import os

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert main([*_TINY, "--out", str(fifo)]) == 2
    err = capsys.readouterr().err
    assert "not a regular file" in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo"]


def test_a_folder_named_like_a_preset_does_not_shadow_it(tmp_path: Path, monkeypatch, capsys) -> None:
    from reram import CrossbarConfig

    resolve_crossbar_config = CrossbarConfig.parse

    monkeypatch.chdir(tmp_path)
    (tmp_path / "isaac").mkdir()
    (tmp_path / "neurosim").write_text('{"weight_bits": 3}')
    assert resolve_crossbar_config("isaac") == CrossbarConfig.preset("isaac")
    assert resolve_crossbar_config("neurosim") == CrossbarConfig.preset("neurosim")
    assert resolve_crossbar_config("./neurosim").weight_bits == 3  # a path looks like a path
    with pytest.raises(ValueError, match="a path with a /"):
        resolve_crossbar_config("myconfig")


def test_config_errors_do_not_echo_huge_values(tmp_path: Path, capsys) -> None:
    huge = "x" * 1_000_000
    assert main([*_TINY, "--config", huge, "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err
    assert len(err) < 1000 and err.count("\n") == 1
    deep = '{"a": ' + "[" * 100000 + "]" * 100000 + "}"
    assert main([*_TINY, "--config", deep, "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and len(err) < 1000 and "nested too deeply" in err


def test_out_that_is_its_own_checkpoint_through_a_symlink_is_refused(tmp_path: Path, capsys) -> None:
    import os

    out = tmp_path / "run.json"
    os.symlink(tmp_path / "run.json.ckpt", out)
    assert main([*_TINY, "--out", str(out)]) == 2
    assert "is its own checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "run.json.ckpt").exists()


def test_a_huge_argument_is_not_echoed_whole(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--model", "m" * 10_000_000])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1 and len(err) < 1000 and "characters" in err
