"""The reram-demo console script: its options, and output paths checked before any training."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import reram
from reram.apps import demo


@pytest.mark.parametrize("make_out, message", [
    (lambda tmp: tmp, "is a folder"),                                        # an existing directory
    (lambda tmp: tmp / "file" / "r.json", "file is a file, not a folder"),  # a parent that is a file
    (lambda tmp: Path("/sys/reram-cannot-write.json"), "not writable"),     # unwritable (even as root)
])
def test_output_path_is_checked_before_any_training(tmp_path, capsys, monkeypatch, make_out, message):
    """Issue 15, item 3: these paths failed with a traceback after all the trainings."""
    (tmp_path / "file").write_text("x")
    monkeypatch.setattr(demo, "train_on_digits", lambda *a, **k: pytest.fail("trained before checking --out"))
    assert demo.main(["--out", str(make_out(tmp_path))]) == 2
    err = capsys.readouterr().err
    assert err.startswith("reram-demo: error: --out") and message in err and err.count("\n") == 1


@pytest.mark.parametrize("option", ["--epochs", "--threads"])
def test_non_positive_counts_are_one_line_errors(option, capsys):
    with pytest.raises(SystemExit) as info:
        demo.main([option, "0"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.startswith("reram-demo: error: argument " + option) and err.count("\n") == 1


def test_demo_trains_each_config_and_writes_json(tmp_path, capsys, monkeypatch):
    configs = {"float": None, "4-bit, nearest update": reram.CrossbarConfig(
        tile_size=None, weight_bits=4, cell_bits=None, input_bits=8, dac_bits=None, adc_bits=None,
        update="nearest")}
    monkeypatch.setattr(demo, "demo_configs", lambda: configs)  # two of the five, for time
    out = tmp_path / "demo.json"
    assert demo.main(["--epochs", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "float" in printed and "4-bit, nearest update" in printed and str(out) in printed
    doc = json.loads(out.read_text())
    assert doc["epochs"] == 1 and [r["config"] for r in doc["results"]] == list(configs)
    assert all(0.0 <= r["test_accuracy"] <= 1.0 and len(r["train_loss"]) == 1 for r in doc["results"])
    assert doc["results"][1]["crossbar"]["weight_bits"] == 4


def test_sigterm_during_training_is_one_line_exit_130(capsys, monkeypatch):
    import os
    import signal

    def interrupted(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("not reached")

    monkeypatch.setattr(demo, "train_on_digits", interrupted)
    assert demo.main(["--epochs", "1"]) == 130
    assert capsys.readouterr().err == "reram-demo: interrupted\n"
