"""benchmarks/bench_bn_phenomenon.py runs end to end, screens masks apart from the evaluation,
resumes from its saved runs, and refuses bad input before any training."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_bn_phenomenon.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_bn_phenomenon", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_bench_on_digits_with_screen_devices_and_resume(bench, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "out"
    argv = ["--models", "vgg-digits", "--epochs", "1", "--screen-epochs", "1", "--screen-pairs", "1",
            "--seeds", "0", "--columns", "float,pcmo", "--masks", "all,best1,best2",
            "--sweep-lrs", "0.1", "--max-train", "128", "--max-test", "64", "--out-dir", str(out),
            "--name", "t", "--plot", str(tmp_path / "p.png")]
    assert bench.main(argv) == 0
    result = json.loads((out / "t.json").read_text())
    runs = result["runs"]
    screen = [r for r in runs if r["phase"] == "screen"]
    assert [r["bn_mask"] for r in screen[:6]] == ["100000", "010000", "001000", "000100", "000010", "000001"]
    assert all(r["seed"] == 100 and r["column"] == "nearest 4b" for r in screen)
    best1 = max(screen[:6], key=lambda r: r["test_accuracy"])["bn_mask"]
    assert result["masks"]["vgg-digits"][1] == ["best 1 BN", best1]
    assert result["masks"]["vgg-digits"][2][1].count("1") == 2
    grid = [r for r in runs if r["phase"] == "grid"]
    assert {r["column"] for r in grid} == {"float", "pulsed pcmo"} and len(grid) == 6
    assert grid[-1]["config"]["device"] == "pcmo" and grid[-1]["config"]["update"] == "pulsed"
    assert len([r for r in runs if r["phase"] == "sweep"]) == 4
    assert all(0.0 <= r["test_accuracy"] <= 1.0 and len(r["history"]) == 1 for r in runs)
    table = (out / "t.md").read_text()
    assert "| all BN `111111` |" in table and "pulsed pcmo" in table and "Learning-rate sweep" in table
    assert (tmp_path / "p.png").stat().st_size > 0 and not (out / "t.partial.json").exists()

    def no_training(**kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(bench, "run_training", no_training)
    assert bench.main(argv) == 0  # everything comes from the saved runs
    assert json.loads((out / "t.json").read_text())["runs"] == runs


def test_bench_on_tiny_cifar(bench, tmp_path: Path, writers) -> None:
    cifar = writers.cifar_folder(tmp_path / "data", images_per_batch=2)
    out = tmp_path / "out"
    with pytest.warns(UserWarning, match="md5"):
        status = bench.main(["--dataset", "cifar10", "--data-dir", str(cifar.parent), "--models", "vgg11",
                             "--epochs", "1", "--columns", "nearest", "--masks", "all,none", "--seeds", "0",
                             "--sweep-lrs", "", "--out-dir", str(out), "--name", "t", "--plot", ""])
    assert status == 0
    runs = json.loads((out / "t.json").read_text())["runs"]
    assert [(r["model"], r["column"], r["bn_mask"]) for r in runs] == [
        ("vgg11", "nearest 4b", "1" * 8), ("vgg11", "nearest 4b", "0" * 8)]
    assert "### vgg11 on cifar10 (10 train / 2 test" in (out / "t.md").read_text()


@pytest.mark.parametrize("argv,message", [
    (["--masks", "all,10"], "bn_mask has 2 bits but the model has 6"),
    (["--columns", "float,nope"], "column must be float"),
    (["--epochs", "0"], "--epochs must be"),
])
def test_bench_rejects_bad_input_before_training(bench, tmp_path: Path, capsys, argv, message) -> None:
    status = bench.main(["--models", "vgg-digits", *argv, "--out-dir", str(tmp_path), "--plot", ""])
    assert status == 2 and message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
