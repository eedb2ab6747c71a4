"""Tests of the reram-bench console script and the measured breakdown."""
from __future__ import annotations

import importlib.util
import json

import pytest
from torch import nn

from reram.apps.bench_cli import main
from reram.apps.speedup import bn_mask_for
from reram.cost.gpu_profile import classify_op, measure_breakdown


def test_help_exits_zero(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "speedup" in capsys.readouterr().out


def test_speedup_json_and_table(tmp_path, capsys):
    out = tmp_path / "speedup.json"
    assert main(["speedup", "--models", "vgg11", "--bn-masks", "all", "none", "half",
                 "--batch-size", "8", "--quiet", "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "vgg11" in table and "speedup" in table
    rows = json.loads(out.read_text())["rows"]
    assert [r["bn_kept"] for r in rows] == [8, 0, 4]
    assert rows[1]["throughput"] >= rows[2]["throughput"] >= rows[0]["throughput"]
    assert all(r["mode"] == "train" and r["hardware"] == "isaac" for r in rows)


def test_speedup_sweep_png(tmp_path, capsys):
    png, out = tmp_path / "s.png", tmp_path / "s.json"
    assert main(["speedup", "--models", "vgg11", "--bn-masks", "all", "--mode", "inference",
                 "--batch-size", "4", "--quiet", "--png", str(png), "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert png.stat().st_size > 1000 and data["png"] == str(png)
    assert [r["bn_kept"] for r in data["bn_sweep"]["vgg11"]] == list(range(9))
    assert "speedup with first K BN kept" in capsys.readouterr().out


def test_speedup_with_measured_baseline_on_cpu(tmp_path):
    out = tmp_path / "m.json"
    assert main(["speedup", "--models", "vgg11", "--bn-masks", "none", "--batch-size", "2",
                 "--mode", "inference", "--gpu-baseline", "measured", "--device", "cpu",
                 "--quiet", "--json", str(out)]) == 0
    plan = json.loads(out.read_text())["plans"][0]
    assert plan["gpu_baseline"] == "measured" and plan["gpu_latency_s"] > 0


@pytest.mark.parametrize("argv,match", [
    (["speedup", "--models", "vgg99"], "invalid choice"),
    (["speedup", "--batch-size", "0"], "positive int"),
    (["speedup", "--bn-masks", "10x", "--quiet"], "bn mask must be"),
    (["speedup", "--hardware", "tpu", "--quiet"], "unknown hardware config"),
    (["breakdown", "--device", "cuda:7"], "error"),
    (["speedup", "--gpu-precision", "mixed", "--quiet"], "needs --gpu"),
    (["speedup", "--gpu", "gtx1080", "--gpu-precision", "mixed", "--quiet"], "no tensor cores"),
    (["speedup", "--chip-scale", "-1", "--quiet"], "scale must be"),
])
def test_bad_input_one_line_error(argv, match, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert match in err and len(err.splitlines()) == 1


def test_kernels_subcommand_missing_or_present(capsys, monkeypatch):
    if importlib.util.find_spec("reram.apps.layer_benchmark") is None:
        assert main(["kernels"]) == 2
        assert "reram.apps.layer_benchmark" in capsys.readouterr().err
    else:
        import reram.apps.layer_benchmark as lb

        monkeypatch.setattr(lb, "run_layer_benchmark",
                            lambda threads=1, quick=False: [{"layer": "x", "ratio": 1.5}])
        assert main(["kernels", "--quick", "--json", "-"]) == 0
        assert '"ratio": 1.5' in capsys.readouterr().out


def test_breakdown_cli_on_cpu(tmp_path, capsys):
    out = tmp_path / "b.json"
    assert main(["breakdown", "--model", "vgg11", "--batch-size", "2", "--repeats", "1",
                 "--device", "cpu", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["device"] == "cpu" and data["seconds_by_kind"]["conv"] > 0
    assert data["roofline_seconds_by_kind"]["bn"] > 0
    assert sum(data["fraction_by_kind"].values()) == pytest.approx(1.0)


def test_measure_breakdown_kinds():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(4 * 3 * 3, 5))
    result = measure_breakdown(net, (3, 8, 8), batch_size=4, mode="train", repeats=1)
    seconds = result["seconds_by_kind"]
    assert all(seconds[k] > 0 for k in ("conv", "bn", "act", "pool", "linear"))
    with pytest.raises(ValueError, match="mode"):
        measure_breakdown(net, (3, 8, 8), mode="fly")


@pytest.mark.parametrize("name,kind", [
    ("aten::mkldnn_convolution", "conv"), ("aten::convolution_backward", "conv"),
    ("aten::native_batch_norm", "bn"), ("aten::cudnn_batch_norm_backward", "bn"),
    ("aten::addmm", "linear"), ("aten::mm", "linear"), ("aten::threshold_backward", "act"),
    ("aten::max_pool2d_with_indices", "pool"), ("aten::add_", "other")])
def test_classify_op(name, kind):
    assert classify_op(name) == kind


def test_bn_mask_specs():
    assert bn_mask_for("half", 5) == "10101"
    assert bn_mask_for("first:2", 4) == "1100"
    assert bn_mask_for("0110", 4) == "0110"
    with pytest.raises(ValueError, match="K must be"):
        bn_mask_for("first:9", 4)


def test_validate_rows_have_sources_and_isaac_is_within_ten_percent(tmp_path, capsys):
    out, md = tmp_path / "v.json", tmp_path / "v.md"
    assert main(["validate", "--no-imagenet", "--json", str(out), "--md", str(md)]) == 0
    rows = json.loads(out.read_text())
    by_name = {r["figure"]: r for r in rows}
    assert abs(by_name["ISAAC peak throughput"]["ratio"] - 1) < 0.10
    assert abs(by_name["ISAAC peak efficiency"]["ratio"] - 1) < 0.10
    assert all(r["source"] and r["assumptions"] for r in rows)
    assert any(r["figure"].startswith("PipeLayer training speedup") for r in rows)
    assert any(r["figure"].startswith("DeepTrain") for r in rows)
    assert "| ISAAC peak throughput |" in md.read_text()
    assert "ISAAC peak throughput" in capsys.readouterr().out


def test_sensitivity_table_png_and_bad_input(tmp_path, capsys):
    out, png = tmp_path / "s.json", tmp_path / "s.png"
    assert main(["sensitivity", "--model", "vgg11", "--scales", "1", "4", "--bandwidths", "2.56e10",
                 "--idle-powers", "0", "80", "--bn-counts", "0", "8", "--json", str(out),
                 "--png", str(png)]) == 0
    result = json.loads(out.read_text())
    idle_free, idle_80 = (r["energy_ratio"] for r in result["gpu_idle"])
    speedup = result["gpu_idle"][0]["speedup"]
    # idle power is paid over each side's batch time: the ratio moves toward the time ratio
    assert abs(idle_80 - speedup) < abs(idle_free - speedup)
    speed = [r["speedup"] for r in result["scale"]]
    assert speed[1] > speed[0]  # more crossbars, more replicas of the slow stages
    fewer, all_bn = (r["speedup"] for r in result["bn"])
    assert fewer > all_bn and png.stat().st_size > 1000
    assert main(["sensitivity", "--model", "vgg11", "--bn-counts", "9"]) == 2
    assert "BN counts must be ints in 0..8" in capsys.readouterr().err
