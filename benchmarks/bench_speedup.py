"""Estimated speedup and energy of ReRAM + GPU training vs a GPU, with all, no and half the BN.

Runs the scheduler (``reram.schedule``) on VGG11, VGG16 and ResNet18 (CIFAR-size, from
``reram.models``) for the BN masks all / none / half (every other BN layer), in training and in
inference, on the bundled hardware configs, plus the speedup as a function of the number of BN
layers kept and a few sensitivity rows. Nothing is tuned: the numbers are what the cited
hardware constants give.

Usage:
    .venv/bin/python benchmarks/bench_speedup.py [--batch-size 64] [--out benchmarks/results]

Writes ``speedup.json`` and ``speedup.md`` under ``--out`` and ``docs/img/scheduler_speedup.png``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from reram.apps.speedup import plot_speedup, run_bn_sweep, run_speedup, speedup_table
from reram.cost.hardware import load_hardware

MODELS = ("vgg11", "vgg16", "resnet18")
MASKS = ("all", "none", "half")
ROOT = Path(__file__).resolve().parents[1]


def _md(rows: list[dict]) -> str:
    lines = ["| model | BN kept | mode | hardware | batch | speedup vs GPU | energy ratio | "
             "samples/s | GPU samples/s | bottleneck stage |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['bn_kept']}/{r['bn_sites']} | {r['mode']} | {r['hardware']} | "
            f"{r['batch_size']} | {r['speedup_vs_gpu']:.2f}x | {r['energy_ratio_vs_gpu']:.2f}x | "
            f"{r['throughput']:.0f} | {r['gpu_throughput']:.0f} | "
            f"{r['bottleneck']['name']} ({r['bottleneck']['phase']}) |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--png", default=str(ROOT / "docs" / "img" / "scheduler_speedup.png"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result: dict = {"batch_size": args.batch_size, "tables": {}}
    sections = []
    for hardware in ("isaac", "puma"):
        for mode in ("train", "inference"):
            rows, plans = run_speedup(MODELS, MASKS, args.batch_size, mode, hardware)
            result["tables"][f"{hardware}/{mode}"] = rows
            sections.append(f"### {hardware}, {mode}, batch {args.batch_size}\n\n{_md(rows)}\n")
            print(f"== {hardware} {mode}\n{speedup_table(rows)}")
            if hardware == "isaac" and mode == "train":
                vgg16_all = plans[MODELS.index("vgg16") * len(MASKS)]
    # sensitivity: batch size, pipeline off, activations on the GPU (ISAAC, training, VGG16)
    sens = []
    for batch in (16, 64, 256):
        rows, _ = run_speedup(["vgg16"], ["all", "none"], batch, "train", "isaac", progress=False)
        sens += [dict(r, variant=f"batch {batch}") for r in rows]
    rows, _ = run_speedup(["vgg16"], ["all", "none"], args.batch_size, "train", "isaac",
                          pipeline=False, progress=False)
    sens += [dict(r, variant="no pipeline") for r in rows]
    rows, _ = run_speedup(["vgg16"], ["all", "none"], args.batch_size, "train", "isaac",
                          elementwise_unit="gpu", progress=False)
    sens += [dict(r, variant="act/pool on GPU") for r in rows]
    isaac = load_hardware("isaac")
    for factor in (4, 16):  # more crossbars: more room to replicate the slow stages
        bigger = isaac.replace(**{"reram.tiles": isaac.reram.tiles * factor})
        rows, _ = run_speedup(["vgg16"], ["all", "none"], args.batch_size, "train", bigger,
                              progress=False)
        sens += [dict(r, variant=f"{factor}x tiles") for r in rows]
    result["sensitivity"] = sens
    sens_md = ["| variant | BN kept | speedup | energy ratio | samples/s | GPU samples/s | GPU util. |",
               "|---|---|---|---|---|---|---|"]
    for r in sens:
        sens_md.append(f"| {r['variant']} | {r['bn_kept']}/{r['bn_sites']} | "
                       f"{r['speedup_vs_gpu']:.2f}x | {r['energy_ratio_vs_gpu']:.2f}x | "
                       f"{r['throughput']:.0f} | {r['gpu_throughput']:.0f} | "
                       f"{r['gpu_utilization']:.0%} |")
    sections.append("### sensitivity (VGG16, isaac, training)\n\n" + "\n".join(sens_md) + "\n")
    sweeps = {m: run_bn_sweep(m, args.batch_size, "train", "isaac") for m in MODELS}
    result["bn_sweep"] = sweeps
    sweep_md = ["| model | speedup with the first K BN layers kept (K: speedup) |", "|---|---|"]
    for name, rows in sweeps.items():
        sweep_md.append(f"| {name} | " + ", ".join(
            f"{r['bn_kept']}: {r['speedup_vs_gpu']:.2f}x" for r in rows) + " |")
    sections.append("### BN sweep (isaac, training)\n\n" + "\n".join(sweep_md) + "\n")
    result["png"] = str(plot_speedup(vgg16_all, sweeps, args.png))
    (out / "speedup.json").write_text(json.dumps(result, indent=2, default=float) + "\n")
    (out / "speedup.md").write_text("\n".join(sections))
    print("\n".join(sections))
    print(f"wrote {out / 'speedup.json'}, {out / 'speedup.md'}, {args.png}")


if __name__ == "__main__":
    main()
