"""Learning curves of the BN search's trainings, to choose the fidelity it evaluates masks at
(issue 22): all-BN, no-BN and a few masks of a net on the main job's chip, over training seeds and
learning rates, each a full-length run (test accuracy after every epoch), plus shorter runs of
all-BN (each with its own cosine schedule) to see how many epochs a run needs to come within
2 points of the long run.

Resumable (one JSON, rewritten atomically after every training; finished runs are never redone)::

    nice -n 10 python benchmarks/bench_bn_curves.py --model vgg11 --width 0.25 \
        --out benchmarks/results/bn_curves_vgg11.json
    python benchmarks/bench_bn_curves.py --report benchmarks/results/bn_curves_vgg11.json

Output: ``{"settings": {...}, "provenance": {...}, "runs": {"<mask>/lr<lr>/e<epochs>/s<seed>":
{"curve": [...], "cpu_s": ..., "diverged": ...}}}``.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
from pathlib import Path
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bn_truth_table import MAIN_CHIP, _provenance, _worker  # noqa: E402

FORMAT = "reram-bn-curves/1"


def _plan(args: argparse.Namespace, num_sites: int) -> list[tuple[str, float, int, int]]:
    """(mask, lr, epochs, seed) of every run: the main learning rate (``--short-lr``) first."""
    full, none = "1" * num_sites, "0" * num_sites
    extra = [m for m in args.masks.split(",") if m]
    lrs = [float(v) for v in args.lrs.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    short = [int(e) for e in args.short_epochs.split(",") if e]
    main_lr = args.short_lr
    runs = [(m, main_lr, args.epochs, s) for s in seeds for m in (full, none)]
    runs += [(full, main_lr, e, s) for s in seeds for e in short]
    runs += [(m, main_lr, args.epochs, s) for s in seeds for m in extra]
    runs += [(m, lr, args.epochs, s) for lr in lrs if lr != main_lr for s in seeds for m in (full, none)]
    return runs


def _key(mask: str, lr: float, epochs: int, seed: int) -> str:
    return f"{mask}/lr{lr:g}/e{epochs}/s{seed}"


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    from reram.io import atomic_write_json, read_json
    from reram.models import num_bn_sites

    torch.set_num_threads(1)
    settings = {"format": FORMAT, "model": args.model, "width": args.width, "dataset": "digits",
                "data_seed": 0, "config": MAIN_CHIP, "batch_size": 64, "momentum": 0.9,
                "schedule": "cosine"}
    out = Path(args.out)
    table = read_json(out, "curves") if out.exists() else {"settings": settings, "runs": {}}
    if table["settings"] != settings:
        raise SystemExit(f"{out}: made with other settings; use another --out")
    table["provenance"] = _provenance()
    todo = [r for r in _plan(args, num_bn_sites(args.model)) if _key(*r) not in table["runs"]]
    print(f"{len(todo)} runs to go -> {out}", flush=True)
    jobs = [({**settings, "epochs": epochs, "lr": lr}, mask, seed) for mask, lr, epochs, seed in todo]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=args.workers, mp_context=ctx) as pool:
        futures = {pool.submit(_worker, *job): (mask, lr, epochs, seed)
                   for job, (mask, lr, epochs, seed) in zip(jobs, todo)}
        for count, future in enumerate(as_completed(futures), 1):
            mask, lr, epochs, seed = futures[future]
            result = future.result()
            table["runs"][_key(mask, lr, epochs, seed)] = {
                "curve": result["curve"], "cpu_s": result["cpu_s"], "diverged": result["diverged"]}
            atomic_write_json(out, table, indent=None)
            print(f"[{count}/{len(todo)}] {_key(mask, lr, epochs, seed)}: {result['accuracy']:.4f} "
                  f"({result['cpu_s']:.0f} cpu-s)", flush=True)
    return 0


def summarize(table: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Final accuracy mean / sd / seeds per (mask, lr, epochs) group of runs."""
    groups: dict[str, list[float]] = {}
    for key, entry in table["runs"].items():
        group = key.rsplit("/", 1)[0]
        groups.setdefault(group, []).append(entry["curve"][-1])
    return {g: {"mean": float(np.mean(v)), "sd": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0,
                "seeds": len(v)} for g, v in sorted(groups.items())}


def choose_fidelity(table: dict[str, Any], lr: float, long_epochs: int, tolerance: float = 0.02) -> int | None:
    """The fewest epochs whose all-BN runs' mean is within ``tolerance`` of the long runs' mean."""
    stats = summarize(table)
    full = "1" * len(next(iter(table["runs"])).split("/")[0])
    long = stats.get(f"{full}/lr{lr:g}/e{long_epochs}")
    if long is None:
        return None
    short = sorted(int(g.rsplit("/e", 1)[1]) for g in stats if g.startswith(f"{full}/lr{lr:g}/e"))
    for epochs in short:
        if stats[f"{full}/lr{lr:g}/e{epochs}"]["mean"] >= long["mean"] - tolerance:
            return epochs
    return None


def plot(table: dict[str, Any], path: str, lr: float, long_epochs: int) -> None:
    """Test accuracy vs epoch of the long runs (mean and range over seeds), one panel per lr,
    and the all-BN short runs' final accuracies at the main lr."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from reram.io import save_figure

    curves: dict[tuple[str, float], list[list[float]]] = {}
    for key, entry in table["runs"].items():
        mask, lr_s, ep_s, _ = key.split("/")
        if int(ep_s[1:]) == long_epochs:
            curves.setdefault((mask, float(lr_s[2:])), []).append(entry["curve"])
    lrs = sorted({k[1] for k in curves}, reverse=True)
    fig, axes = plt.subplots(1, len(lrs), figsize=(4.2 * len(lrs), 3.4), sharey=True, squeeze=False)
    for ax, one_lr in zip(axes[0], lrs):
        for (mask, l), runs in sorted(curves.items()):
            if l != one_lr:
                continue
            arr = np.array(runs)
            x = np.arange(1, arr.shape[1] + 1)
            line, = ax.plot(x, arr.mean(0), label=f"{mask} ({len(runs)} seeds)")
            ax.fill_between(x, arr.min(0), arr.max(0), color=line.get_color(), alpha=0.2)
        if one_lr == lr:
            full = "1" * len(next(iter(curves))[0])
            for key, entry in table["runs"].items():
                m, lr_s, ep_s, _ = key.split("/")
                if m == full and float(lr_s[2:]) == lr and int(ep_s[1:]) != long_epochs:
                    ax.plot(int(ep_s[1:]), entry["curve"][-1], "k+", ms=8)
        ax.set_title(f"lr {one_lr:g}" + (" (+: all-BN runs of that length)" if one_lr == lr else ""),
                     fontsize=9)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, loc="center right")
    axes[0][0].set_ylabel("test accuracy")
    fig.suptitle(f"{table['settings']['model']} x{table['settings']['width']:g} on the digits, "
                 "main job's chip", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)


def report(path: str, png: str | None, lr: float, long_epochs: int) -> int:
    from reram.io import read_json

    table = read_json(path, "curves")
    for group, stats in summarize(table).items():
        print(f"{group:32s} {stats['mean']:.3f} +- {stats['sd']:.3f} ({stats['seeds']} seeds)")
    print(f"fidelity (fewest epochs within 2 points of {long_epochs}) at lr {lr:g}: "
          f"{choose_fidelity(table, lr, long_epochs)}")
    if png:
        plot(table, png, lr, long_epochs)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="benchmarks/results/bn_curves_vgg11.json")
    p.add_argument("--report", default=None, help="print the summary of a curves file and exit")
    p.add_argument("--png", default=None, help="with --report: the learning-curve plot")
    p.add_argument("--model", default="vgg11")
    p.add_argument("--width", type=float, default=0.25)
    p.add_argument("--epochs", type=int, default=20, help="length of the long runs")
    p.add_argument("--lrs", default="0.02,0.05,0.1,0.2", help="learning rates of all-BN and no-BN")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--masks", default="", help="masks besides all-BN and no-BN (at the main lr)")
    p.add_argument("--short-epochs", default="4,6,8,10", help="all-BN runs of these lengths")
    p.add_argument("--workers", type=int, default=2, help="training processes")
    p.add_argument("--short-lr", type=float, default=0.2,
                   help="the main learning rate: short runs and --masks run at it only")
    args = p.parse_args(argv)
    if args.report:
        return report(args.report, args.png, args.short_lr, args.epochs)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
