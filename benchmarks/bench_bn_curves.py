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
from bn_truth_table import MAIN_CHIP, _provenance, _train_one  # noqa: E402

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


_DATA: dict[str, Any] = {}


def _worker(settings: dict[str, Any], mask: str, seed: int) -> dict[str, Any]:
    """One training in a worker process (the data loaded once per process)."""
    import torch

    from reram.models.registry import load_model_data

    torch.set_num_threads(1)
    if settings["model"] not in _DATA:
        _DATA[settings["model"]] = load_model_data(settings["model"], "digits", seed=0)
    return _train_one(settings, _DATA[settings["model"]], mask, seed)


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


def report(path: str) -> int:
    from reram.io import read_json

    for group, stats in summarize(read_json(path, "curves")).items():
        print(f"{group:32s} {stats['mean']:.3f} +- {stats['sd']:.3f} ({stats['seeds']} seeds)")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="benchmarks/results/bn_curves_vgg11.json")
    p.add_argument("--report", default=None, help="print the summary of a curves file and exit")
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
    return report(args.report) if args.report else run(args)


if __name__ == "__main__":
    sys.exit(main())
