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
    (["speedup", "--chip", "tpu", "--quiet"], "chip must be one of"),
    (["speedup", "--chip", "./tpu.json", "--quiet"], "does not exist"),
    (["speedup", "--hardware", "isaac", "--quiet"], "unrecognized arguments"),
    (["breakdown", "--device", "cuda:7"], "error"),
    (["speedup", "--equal-area", "--chip-scale", "2", "--quiet"], "not allowed with"),
    (["speedup", "--chip-scale", "-1", "--quiet"], "scale must be"),
    (["chip", "--node-nm", "0"], "node_nm must be a finite number > 0"),
    (["chip", "--node-nm", "-12"], "node_nm must be a finite number > 0"),
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
    assert abs(by_name["ISAAC chip area"]["ratio"] - 1) < 0.15
    assert abs(by_name["ISAAC chip power"]["ratio"] - 1) < 0.15
    assert abs(by_name["PUMA node area"]["ratio"] - 1) < 0.15
    assert abs(by_name["PUMA node power"]["ratio"] - 1) < 0.15
    assert by_name["PUMA peak throughput"]["published"] == 52.31  # PUMA's own, 2 ops per MAC
    # PUMA's peak implies 1.38 us per MVM, its simulator 1.8 us: context, not validation
    puma = by_name["PUMA peak throughput"]
    assert not puma["like_for_like"] and "1.38 us" in puma["why"] and "1.80 us" in puma["why"]
    assert puma["model"] == pytest.approx(2208 * 128 * 128 * 2 / 1.8e-6 / 1e12)
    assert not by_name["PUMA peak efficiency"]["like_for_like"]
    assert all(r["source"] and r["assumptions"] for r in rows)
    assert all(isinstance(r["like_for_like"], bool) and r["why"] for r in rows)
    assert not any(r["like_for_like"] for r in rows
                   if r["figure"].startswith(("PipeLayer", "DeepTrain")))
    for key in ("figure", "published", "model", "ratio", "unit", "like_for_like", "source",
                "assumptions"):
        assert all(key in r for r in rows)
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
    policies = {r["idle_policy"]: r["energy_ratio"] for r in result["idle_policy"]}
    assert policies["shared"] >= policies["off"] >= policies["idle"]
    speedup = result["gpu_idle"][0]["speedup"]
    # idle power is paid over each side's batch time: the ratio moves toward the time ratio
    assert abs(idle_80 - speedup) < abs(idle_free - speedup)
    speed = [r["speedup"] for r in result["scale"]]
    assert speed[1] > speed[0]  # more crossbars, more replicas of the slow stages
    fewer, all_bn = (r["speedup"] for r in result["bn"])
    assert fewer > all_bn and png.stat().st_size > 1000
    assert main(["sensitivity", "--model", "vgg11", "--bn-counts", "9"]) == 2
    assert "BN counts must be ints in 0..8" in capsys.readouterr().err


def test_validate_json_to_stdout_is_json(capsys):
    assert main(["validate", "--no-imagenet", "--json", "-"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and all("like_for_like" in r for r in rows)


def test_output_paths_are_checked_before_the_work(tmp_path, capsys, monkeypatch):
    import reram.apps.bench_cli as cli

    def fail(*args, **kwargs):
        raise AssertionError("the work started before the output path was checked")

    monkeypatch.setattr(cli, "run_speedup", fail)
    folder = tmp_path / "a_folder"
    folder.mkdir()
    assert main(["speedup", "--quiet", "--json", str(folder)]) == 2
    assert "--json" in capsys.readouterr().err
    assert main(["speedup", "--quiet", "--png", str(folder)]) == 2
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    assert main(["validate", "--md", str(a_file / "v.md")]) == 2
    assert "--md" in capsys.readouterr().err


def test_preset_named_folder_does_not_break_the_cli(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "isaac").mkdir()
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    capsys.readouterr()
    assert main(["chip", "--chip", "isaac", "--json", "-"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["name"] == "isaac" and abs(summary["inference_area_mm2"] - 85.4) < 0.15 * 85.4
    assert summary["area_mm2"] > summary["inference_area_mm2"]  # training adds silicon


def test_speedup_equal_area_and_power(tmp_path, capsys):
    for flag in ("--equal-area", "--equal-power"):
        out = tmp_path / "e.json"
        assert main(["speedup", "--models", "vgg11", "--bn-masks", "none", "--batch-size", "8",
                     "--quiet", flag, "--json", str(out)]) == 0
        data = json.loads(out.read_text())
        chip = data["chip"]
        assert chip["node_nm"] == 12.0
        if flag == "--equal-area":
            assert chip["area_mm2"] <= 815.0
        else:
            assert chip["power_w"] <= 300.0
        assert "mixed precision" in data["rows"][0]["gpu"] and "measured" in data["rows"][0]["gpu"]


@pytest.mark.skipif(__import__("shutil").which("ngspice") is None, reason="needs ngspice")
def test_chip_with_our_own_tia_front_end(capsys):
    assert main(["chip", "--chip", "isaac", "--frontend", "--tia-budget", "40", "--g-max", "1e-5",
                 "--adc-range", "0.25", "--json", "-"]) == 0
    summary = json.loads(capsys.readouterr().out)
    rows = {r["what"].split(" ")[0]: r for r in summary["frontend"]["rows"]}
    assert rows["TIA"]["energy_per_read_j"] > 0 and rows["ADC"]["energy_per_read_j"] > 0
    names = {c["name"] for c in summary["components"]}
    assert "column_frontend" in names and summary["inference_area_mm2"] > 85.4
