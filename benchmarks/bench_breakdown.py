"""Measured time per layer type (torch profiler) vs the roofline GPU model, for real models.

Times one training step (forward, backward, SGD step) and one inference pass of VGG16 and
ResNet18 (CIFAR-size, all BN) on the local device (CPU here; CUDA when present) and sets the
share of each layer type next to the roofline estimate of the same model on the configured
GPU. This is the check behind "Conv/FC dominate GPU time, BN is a small share".

Usage:
    .venv/bin/python benchmarks/bench_breakdown.py [--device cpu] [--batch-size 16] [--threads 1]

Writes ``breakdown_<device>.json`` and ``breakdown_<device>.md`` under ``--out`` and
``docs/img/scheduler_breakdown_<device>.png``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from reram.cost.gpu_profile import measure_breakdown
from reram.models import build_model
from reram.cost.scheduler import schedule

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("conv", "linear", "bn", "act", "pool", "other")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--models", nargs="+", default=["vgg16", "resnet18"])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--img", default=str(ROOT / "docs" / "img"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    tag = torch.device(args.device).type
    results = []
    for name in args.models:
        for mode in ("train", "inference"):
            model = build_model(name)
            plan = schedule(model, (3, 32, 32), args.batch_size, mode)
            roof = {k: v["gpu_only"] for k, v in plan.time_by_kind().items()}
            measured = measure_breakdown(model, (3, 32, 32), args.batch_size, mode,
                                         device=args.device, repeats=args.repeats)
            if tag == "cuda":
                measured["gpu_name"] = torch.cuda.get_device_name()
            measured.update(model=name, roofline_seconds_by_kind=roof, threads=args.threads)
            results.append(measured)
            print(name, mode, {k: f"{v:.1%}" for k, v in measured["fraction_by_kind"].items()})
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"breakdown_{tag}.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [f"| model | mode | device | ms/batch | " + " | ".join(KINDS) + " | roofline "
             + " / ".join(k for k in KINDS[:5]) + " |", "|" + "---|" * (4 + len(KINDS) + 1)]
    for r in results:
        roof_total = sum(r["roofline_seconds_by_kind"].values())
        roof = " / ".join(f"{r['roofline_seconds_by_kind'].get(k, 0) / roof_total:.0%}" for k in KINDS[:5])
        lines.append(f"| {r['model']} | {r['mode']} | {r.get('gpu_name', r['device'])} | "
                     f"{r['total_s'] * 1e3:.1f} | "
                     + " | ".join(f"{r['fraction_by_kind'][k]:.1%}" for k in KINDS) + f" | {roof} |")
    (out / f"breakdown_{tag}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4))
    labels, bottoms = [], []
    for r in results:
        labels += [f"{r['model']}\n{r['mode']}\nmeasured", f"{r['model']}\n{r['mode']}\nroofline"]
    bottoms = [0.0] * len(labels)
    for kind in KINDS:
        values = []
        for r in results:
            roof_total = sum(r["roofline_seconds_by_kind"].values())
            values += [r["fraction_by_kind"][kind],
                       r["roofline_seconds_by_kind"].get(kind, 0.0) / roof_total]
        ax.bar(labels, values, bottom=bottoms, label=kind)
        bottoms = [b + v for b, v in zip(bottoms, values)]
    ax.set_ylabel("share of time per batch")
    ax.set_title(f"time per layer type: measured on {results[0].get('gpu_name', tag)} "
                 f"(batch {args.batch_size}) vs V100 roofline")
    ax.legend(fontsize=8, ncol=6, loc="upper center", bbox_to_anchor=(0.5, -0.3))
    ax.tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    img = Path(args.img)
    img.mkdir(parents=True, exist_ok=True)
    fig.savefig(img / f"scheduler_breakdown_{tag}.png", dpi=110)
    print(f"wrote {out / f'breakdown_{tag}.json'} and {img / f'scheduler_breakdown_{tag}.png'}")


if __name__ == "__main__":
    main()
