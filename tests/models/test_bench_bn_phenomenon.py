"""benchmarks/bench_bn_phenomenon.py runs end to end (digits and the tiny CIFAR-10 fixture)."""
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


def test_bench_on_digits_and_tiny_cifar(bench, tmp_path: Path, writers) -> None:
    cifar = writers.cifar_folder(tmp_path / "data", images_per_batch=2)
    out = tmp_path / "out"
    with pytest.warns(UserWarning, match="md5"):
        status = bench.main([
            "--epochs", "1", "--masks", "all,none", "--configs", "float,nearest", "--seeds", "0",
            "--data-dir", str(cifar.parent), "--cifar-epochs", "1", "--cifar-configs", "nearest",
            "--cifar-masks", "all,none", "--batch-size", "64", "--out-dir", str(out), "--name", "t"])
    assert status == 0
    runs = json.loads((out / "t.json").read_text())["runs"]
    assert [(r["model"], r["column"], r["bn_mask"]) for r in runs] == [
        ("vgg-digits", "float", "111111"), ("vgg-digits", "float", "000000"),
        ("vgg-digits", "crossbar nearest 4b", "111111"), ("vgg-digits", "crossbar nearest 4b", "000000"),
        ("vgg11", "crossbar nearest 4b", "1" * 8), ("vgg11", "crossbar nearest 4b", "0" * 8),
        ("resnet18", "crossbar nearest 4b", "1" * 20), ("resnet18", "crossbar nearest 4b", "0" * 20)]
    assert all(0.0 <= r["test_accuracy"] <= 1.0 and len(r["history"]) == 1 for r in runs)
    table = (out / "t.md").read_text()
    assert "| all BN `111111` |" in table and "### resnet18 on CIFAR-10 (10 train / 2 test" in table


def test_bench_rejects_bad_mask_before_training(bench, tmp_path: Path, capsys) -> None:
    status = bench.main(["--masks", "all,10", "--out-dir", str(tmp_path)])
    assert status == 2 and "bn_mask has 2 bits but the model has 6" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
