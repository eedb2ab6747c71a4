"""Estimated speedup and energy of ReRAM + GPU training vs a GPU: BN masks, chips, sensitivity.

Runs the scheduler (``reram.schedule``) on VGG11, VGG16 and ResNet18 (CIFAR-size, from
``reram.models``) for the BN masks all / none / half, in training and in inference, on the
bundled chips (``reram.Chip`` presets: the crossbar config their layers simulate plus the cited
silicon) against a V100 in mixed precision at its published measured rate; first the chips of a
stated size (the ReRAM part at the V100's die area and at its TDP), then the sensitivity of VGG16 to batch, pipeline, chip size, GPU baseline and link,
the speedup against the number of BN layers kept, the energy breakdown of VGG16 training, and
``reram-bench validate``'s table. Nothing is tuned: the numbers are what the cited constants give.

Usage:
    .venv/bin/python benchmarks/bench_speedup.py [--batch-size 64] [--out benchmarks/results]

Writes ``speedup.json`` and ``speedup.md`` under ``--out``, ``docs/img/scheduler_speedup.png``
and ``docs/img/scheduler_sensitivity.png``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from reram.apps.speedup import plot_speedup, run_bn_sweep, run_speedup, speedup_table
from reram.apps.validate import (plot_sensitivity, run_sensitivity, sensitivity_table,
                                 validation_markdown, validation_rows)
from reram.cost.chip import Chip
from reram.cost.gpu import with_measured_gpu
from reram.cost.hardware import LinkSpec
from reram.cost.layer_cost import ENERGY_PARTS

MODELS = ("vgg11", "vgg16", "resnet18")
MASKS = ("all", "none", "half")
ROOT = Path(__file__).resolve().parents[1]


def _md(rows: list[dict]) -> str:
    lines = ["| model | BN kept | mode | chip | batch | speedup vs GPU | energy ratio | "
             "samples/s | GPU samples/s | bottleneck stage |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['bn_kept']}/{r['bn_sites']} | {r['mode']} | {r['hardware']} | "
            f"{r['batch_size']} | {r['speedup_vs_gpu']:.2f}x | {r['energy_ratio_vs_gpu']:.2f}x | "
            f"{r['throughput']:.0f} | {r['gpu_throughput']:.0f} | "
            f"{r['bottleneck']['name']} ({r['bottleneck']['phase']}) |")
    return "\n".join(lines)


def baseline_chip(name: str = "isaac", gpu: str = "v100") -> Chip:
    """A preset against the GPU a fixed-point chip is compared with: mixed precision at its
    published measured training rate (reram.cost.gpu)."""
    return with_measured_gpu(Chip.preset(name), gpu, "mixed")


def _variants(batch: int) -> list[tuple[str, dict]]:
    """(label, run_speedup keywords) of the VGG16 sensitivity rows."""
    isaac = baseline_chip()
    three_d = LinkSpec(bandwidth_bytes_per_s=9e11, latency_s=1e-7, energy_per_byte_j=3.12e-11)
    rows: list[tuple[str, dict]] = [(f"batch {b}", dict(batch_size=b)) for b in (16, 64, 256)]
    rows += [("pipeline off", dict(pipeline="none")),
             ("pipeline='pipelayer', 2x the tiles (its second array set)",
              dict(pipeline="pipelayer", hardware=isaac.replace(scale=2))),
             ("pipeline per phase, 2x the tiles", dict(hardware=isaac.replace(scale=2))),
             ("activations and pooling on the GPU", dict(elementwise_unit="gpu"))]
    for scale in (4, 16):
        rows.append((f"{scale}x the tiles", dict(hardware=isaac.replace(scale=scale))))
    rows.append(("16x the tiles, pipelayer", dict(hardware=isaac.replace(scale=16),
                                                  pipeline="pipelayer")))
    rows.append(("3D link (900 GB/s, deeptrain-3d)", dict(hardware=isaac.replace(link=three_d))))
    rows.append(("16x tiles + 3D link", dict(hardware=isaac.replace(scale=16, link=three_d))))
    for gpu, precision, rate in (("v100", "fp32", "roofline"), ("v100", "fp32", "measured"),
                                 ("v100", "mixed", "roofline"), ("a100", "mixed", "measured"),
                                 ("gtx1080", "fp32", "roofline")):
        rows.append((f"GPU {gpu} {precision} {rate}",
                     dict(hardware=with_measured_gpu(isaac, gpu, precision, rate))))
    for policy in ("off", "shared"):
        rows.append((f"GPU idle policy {policy}", dict(hardware=isaac.replace(gpu_idle_policy=policy))))
    return [(label, {"batch_size": batch, **kw}) for label, kw in rows]


def _sized(batch: int) -> tuple[dict, str]:
    """The headline: the ReRAM part at the V100's die area and at its TDP (built at 12 nm, and
    at its own 32 nm), against a V100 in mixed precision at its measured rate."""
    base = baseline_chip()
    gpu = base.hardware.gpu
    sizes = {"equal area, 12 nm": base.at_area(gpu.die_area_mm2, node_nm=gpu.node_nm),
             "equal power, 12 nm": base.at_power(gpu.tdp_w, node_nm=gpu.node_nm),
             "equal area, 32 nm": base.at_area(gpu.die_area_mm2),
             "equal power, 32 nm": base.at_power(gpu.tdp_w),
             "ISAAC's 168 tiles (32 nm)": base}
    out: dict = {"chips": {}, "tables": {}, "bn_sweep": {}, "area_sweep": {}}
    md = ["| ReRAM part | tiles | area mm2 | peak W | static W |", "|---|---|---|---|---|"]
    for label, chip in sizes.items():
        out["chips"][label] = {"tiles": chip.hardware.reram.tiles, "area_mm2": chip.area_mm2(),
                               "power_w": chip.power_w(),
                               "static_w": chip.hardware.reram.static_power_w}
        md.append(f"| {label} | {chip.hardware.reram.tiles:,} | {chip.area_mm2():,.0f} | "
                  f"{chip.power_w():,.0f} | {chip.hardware.reram.static_power_w:.1f} |")
    md += ["", "| model | ReRAM part | all BN | half BN | no BN | energy ratio all / none |",
           "|---|---|---|---|---|---|"]
    for label, chip in sizes.items():
        rows, _ = run_speedup(MODELS, MASKS, batch, "train", chip, progress=False)
        out["tables"][label] = rows
        for model in MODELS:
            r = {x["bn_mask"].count("1") == x["bn_sites"] and "all" or
                 (x["bn_kept"] == 0 and "none") or "half": x for x in rows if x["model"] == model}
            md.append(f"| {model} | {label} | {r['all']['speedup_vs_gpu']:.2f}x | "
                      f"{r['half']['speedup_vs_gpu']:.2f}x | {r['none']['speedup_vs_gpu']:.2f}x | "
                      f"{r['all']['energy_ratio_vs_gpu']:.2f}x / {r['none']['energy_ratio_vs_gpu']:.2f}x |")
    md += ["", "| VGG16, first K BN kept | " + " | ".join(list(sizes)[:2]) + " |", "|---|---|---|"]
    for label in list(sizes)[:2]:
        out["bn_sweep"][label] = run_bn_sweep("vgg16", batch, "train", sizes[label], progress=False)
    for k in range(14):
        md.append(f"| {k} | " + " | ".join(
            f"{out['bn_sweep'][label][k]['speedup_vs_gpu']:.2f}x" for label in list(sizes)[:2]) + " |")
    md += ["", "| VGG16 ReRAM area with its training silicon (mm2, 32 nm; x ISAAC's 85.4) | all BN | "
           "no BN |", "|---|---|---|"]
    for times in (1, 2, 4, 8, 16, 32, 64):
        chip = base.at_area(85.4 * times)
        try:
            rows, _ = run_speedup(["vgg16"], ["all", "none"], batch, "train", chip, progress=False)
        except ValueError as err:  # the area holds too few arrays
            if "crossbars" not in str(err):
                raise
            md.append(f"| {chip.area_mm2():,.0f} ({times}x) | does not fit | does not fit |")
            continue
        out["area_sweep"][str(times)] = rows
        md.append(f"| {chip.area_mm2():,.0f} ({times}x) | {rows[0]['speedup_vs_gpu']:.2f}x | "
                  f"{rows[1]['speedup_vs_gpu']:.2f}x |")
    return out, "\n".join(md)


def _sensitivity(batch: int) -> tuple[list[dict], str]:
    rows = []
    for label, kw in _variants(batch):
        b = kw.pop("batch_size")
        got, _ = run_speedup(["vgg16"], ["all", "none"], b, "train", kw.pop("hardware", baseline_chip()),
                             progress=False, **kw)
        rows += [dict(r, variant=label) for r in got]
    md = ["| variant | BN kept | speedup | energy ratio | samples/s | GPU samples/s | GPU util. |",
          "|---|---|---|---|---|---|---|"]
    for r in rows:
        md.append(f"| {r['variant']} | {r['bn_kept']}/{r['bn_sites']} | {r['speedup_vs_gpu']:.2f}x | "
                  f"{r['energy_ratio_vs_gpu']:.2f}x | {r['throughput']:.0f} | "
                  f"{r['gpu_throughput']:.0f} | {r['gpu_utilization']:.0%} |")
    return rows, "\n".join(md)


def _breakdown(batch: int) -> tuple[dict, str]:
    """Energy per component of one VGG16 training batch on the ISAAC chip (1x and 16x)."""
    out, md = {}, ["| component | " + " | ".join(
        f"{label}" for label in ("all BN, 1x", "no BN, 1x", "no BN, 16x")) + " |",
        "|---|---|---|---|"]
    isaac = baseline_chip()
    cases = {"all BN, 1x": ("all", isaac), "no BN, 1x": ("none", isaac),
             "no BN, 16x": ("none", isaac.replace(scale=16))}
    for label, (mask, chip) in cases.items():
        rows, _ = run_speedup(["vgg16"], [mask], batch, "train", chip, progress=False)
        out[label] = rows[0]
    for part in ENERGY_PARTS:
        md.append(f"| {part} | " + " | ".join(
            f"{out[c]['energy_breakdown'].get(part, 0.0) * 1e3:.3f} mJ "
            f"({out[c]['energy_breakdown'].get(part, 0.0) / out[c]['energy_j']:.1%})"
            for c in cases) + " |")
    md.append("| **total (chip)** | " + " | ".join(f"{out[c]['energy_j'] * 1e3:.1f} mJ" for c in cases) + " |")
    md.append("| GPU-only: work + idle | " + " | ".join(
        f"{out[c]['gpu_energy_breakdown']['gpu'] * 1e3:.1f} + "
        f"{out[c]['gpu_energy_breakdown']['gpu_idle'] * 1e3:.1f} mJ" for c in cases) + " |")
    md.append("| batch time chip / GPU | " + " | ".join(
        f"{out[c]['latency_s'] * 1e3:.2f} / {out[c]['gpu_latency_s'] * 1e3:.2f} ms" for c in cases) + " |")
    return out, "\n".join(md)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--png", default=str(ROOT / "docs" / "img" / "scheduler_speedup.png"))
    parser.add_argument("--sensitivity-png",
                        default=str(ROOT / "docs" / "img" / "scheduler_sensitivity.png"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result: dict = {"batch_size": args.batch_size, "tables": {},
                    "gpu": baseline_chip().hardware.gpu.name}
    sized, md = _sized(args.batch_size)
    result["sized"] = sized
    sections = ["### Chips of a stated size vs a V100 (mixed precision, measured rate), "
                f"training, batch {args.batch_size}\n\n{md}\n"]
    print(sections[0])
    for chip in ("isaac", "puma"):
        for mode in ("train", "inference"):
            rows, plans = run_speedup(MODELS, MASKS, args.batch_size, mode, baseline_chip(chip),
                                      progress=False)
            result["tables"][f"{chip}/{mode}"] = rows
            sections.append(f"### {chip}, {mode}, batch {args.batch_size}\n\n{_md(rows)}\n")
            print(f"== {chip} {mode}\n{speedup_table(rows)}")
            if chip == "isaac" and mode == "train":
                vgg16_all = plans[MODELS.index("vgg16") * len(MASKS)]
    rows, md = _sensitivity(args.batch_size)
    result["sensitivity"] = rows
    sections.append("### sensitivity (VGG16, isaac chip, training)\n\n" + md + "\n")
    sweeps = {m: run_bn_sweep(m, args.batch_size, "train", baseline_chip(), progress=False)
              for m in MODELS}
    result["bn_sweep"] = sweeps
    sweep_md = ["| model | speedup with the first K BN layers kept (K: speedup) |", "|---|---|"]
    for name, sweep in sweeps.items():
        sweep_md.append(f"| {name} | " + ", ".join(
            f"{r['bn_kept']}: {r['speedup_vs_gpu']:.2f}x" for r in sweep) + " |")
    sections.append("### BN sweep (isaac chip, training)\n\n" + "\n".join(sweep_md) + "\n")
    breakdown, md = _breakdown(args.batch_size)
    result["vgg16_energy_breakdown"] = breakdown
    sections.append("### VGG16 training energy per batch, isaac chip\n\n" + md + "\n")
    sens = run_sensitivity("vgg16", baseline_chip(), args.batch_size)
    result["sensitivity_sweeps"] = sens
    sections.append("### sensitivity sweeps (VGG16 all BN, isaac chip; scale is x the tiles of "
                    "one ISAAC chip)\n\n" + sensitivity_table(sens) + "\n")
    plot_sensitivity(sens, args.sensitivity_png, f"VGG16 training, batch {args.batch_size}, isaac chip")
    validation = validation_rows()
    result["validate"] = validation
    sections.append("### reram-bench validate\n\n" + validation_markdown(validation) + "\n")
    png = Path(plot_speedup(vgg16_all, sweeps, args.png)).resolve()
    result["png"] = str(png.relative_to(ROOT)) if png.is_relative_to(ROOT) else png.name
    (out / "speedup.json").write_text(json.dumps(result, indent=2, default=float) + "\n")
    (out / "speedup.md").write_text("\n".join(sections))
    print("\n".join(sections))
    print(f"wrote {out / 'speedup.json'}, {out / 'speedup.md'}, {args.png}, {args.sensitivity_png}")


if __name__ == "__main__":
    main()
