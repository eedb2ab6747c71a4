"""The digits ground truth of the BN search, and how often BO finds it.

Part 1 (``enumerate``): train every one of the 2^P BN masks of ``vgg-digits`` (P = 6, 64 masks)
with the default objective of ``reram-bn-search`` (same crossbar, epochs, learning rate, seed)
and store the table, with a header saying how it was made, as
``reram/apps/fixtures/digits_exhaustive.json``. Trained masks are cached per mask (``--cache-dir``),
so a killed run resumes, and a cache filled by ``reram-bn-search`` with the same settings
(``results/bn_search/evals``) is reused as is: its files hold the same training fingerprint.

Part 2 (``bo``): run BO (and random search) on the stored table through a lookup objective (no
training), over many seeds, and count in how many seeds the search finds, within ``--budget``
evaluations, a mask with no more BN layers than the best fewest-BN answer and an accuracy within
``--tolerance`` (1 point) of it. The best fewest-BN answer is the constrained optimum of the
table: the fewest BN layers with accuracy >= all-BN accuracy - epsilon, and among those the most
accurate. Results go to ``benchmarks/results/bn_search_groundtruth.{json,md}``.

Usage::

    python benchmarks/bench_bn_search.py enumerate --cache-dir results/bn_search/evals
    python benchmarks/bench_bn_search.py bo --seeds 10 --budget 20
"""
from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from reram.io import atomic_write_json
from reram.search import minimize_binary
from reram.apps.bn_objective import (
    BNObjective,
    BNObjectiveConfig,
    LookupBNObjective,
    MaskEvaluation,
    pareto_front,
)

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "reram" / "apps" / "fixtures" / "digits_exhaustive.json"
RESULTS = Path(__file__).resolve().parent / "results"


def cli_defaults() -> dict[str, Any]:
    """The objective settings ``reram-bn-search`` uses by default (read from its parser)."""
    from reram.apps.bn_search_cli import build_parser

    args = build_parser().parse_args([])
    return {"model": args.model, "dataset": args.dataset, "config": json.loads(args.config),
            "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed,
            "epsilon": args.epsilon, "lam": args.lam, "hardware": args.hardware}


def code_version() -> dict[str, Any]:
    """The git commit of the code that trained, and whether the crossbar code had local edits."""
    import subprocess

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {"commit": git("rev-parse", "HEAD"),
            "uncommitted_changes": git("status", "--short", "--", "reram", "kernels", "models").splitlines()}


def enumerate_masks(cache_dir: str, threads: int) -> int:
    """Train all 2^P masks and write the fixture."""
    import torch

    torch.set_num_threads(threads)
    d = cli_defaults()
    obj = BNObjective(BNObjectiveConfig(
        model=d["model"], dataset=d["dataset"], config=d["config"], epochs=d["epochs"],
        batch_size=d["batch_size"], lr=d["lr"], seed=d["seed"], hardware=d["hardware"],
        cache_dir=cache_dir, torch_threads=threads))
    p = obj.num_sites
    masks = [format(i, f"0{p}b") for i in range(2 ** p)]
    rng = np.random.default_rng(12345)  # an order unlike a search's, so a concurrent one overlaps little
    order = list(rng.permutation(len(masks)))
    version = code_version()
    started = time.perf_counter()
    reused = 0
    for k, i in enumerate(order, 1):
        cached = obj.lookup(masks[i]) is not None
        reused += cached
        ev = obj.evaluate(masks[i])
        print(f"[{k:2d}/{len(masks)}] {ev.mask} BN {ev.n_bn}: accuracy {ev.accuracy:.3f} "
              f"{'(cached)' if cached else f'({ev.train_time_s:.0f} s)'}", flush=True)
    wall = time.perf_counter() - started
    table = [obj.evaluate(m).to_dict() for m in masks]
    header = {
        "what": f"test accuracy of every BN mask of {obj.model} on {obj.dataset}, trained once each "
                "on simulated crossbars (the exhaustive ground truth of the BN search)",
        "command": "python benchmarks/bench_bn_search.py " + " ".join(sys.argv[1:]),
        "objective_settings": obj.fingerprint(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "wall_time_s_this_run": round(wall, 1),
        "masks_reused_from_cache": int(reused),
        "sum_of_train_time_s": round(sum(e["train_time_s"] for e in table), 1),
        "machine": f"{platform.machine()}, {threads} torch thread(s), shared CPU",
        "num_sites": p,
        "code": version,
        "note": "masks are trained in a fixed random order; files already in the cache (e.g. from a "
                "reram-bn-search run with the same settings, which trains the same way) are reused",
    }
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(FIXTURE, {"header": header, "evaluations": table}, indent=1)
    print(f"wrote {FIXTURE} ({len(table)} masks, {wall:.0f} s, {reused} from cache)")
    return 0


def fewest_bn_answer(table: list[MaskEvaluation], epsilon: float) -> MaskEvaluation:
    """The constrained optimum: fewest BN with accuracy >= all-BN - epsilon, then most accurate."""
    full = next(e for e in table if e.n_bn == e.num_sites)
    feasible = [e for e in table if e.accuracy >= full.accuracy - epsilon - 1e-12]
    return min(feasible, key=lambda e: (e.n_bn, -e.accuracy, e.mask))


def run_bo(seeds: int, budget: int, tolerance: float, methods: Sequence[str]) -> int:
    """BO and baselines on the stored table; writes the success counts."""
    doc = json.loads(FIXTURE.read_text())
    d = cli_defaults()
    table = [MaskEvaluation.from_dict(e) for e in doc["evaluations"]]
    target = fewest_bn_answer(table, d["epsilon"])
    p = table[0].num_sites
    out: dict[str, Any] = {"fixture": str(FIXTURE.relative_to(ROOT)), "fixture_header": doc["header"],
                           "epsilon": d["epsilon"], "tolerance": tolerance, "budget": budget,
                           "target": target.to_dict(), "methods": {}}
    lines = [f"Target (best fewest-BN answer, epsilon {d['epsilon']}): mask {target.mask}, {target.n_bn} BN, "
             f"accuracy {target.accuracy:.3f}; all-BN accuracy "
             f"{next(e for e in table if e.n_bn == p).accuracy:.3f}; no-BN "
             f"{next(e for e in table if e.n_bn == 0).accuracy:.3f}.", "",
             f"| method | seeds successful (<= {budget} evals) | median evals to success | per seed |",
             "|---|---|---|---|"]
    started = time.perf_counter()
    for method in methods:
        per_seed = []
        for seed in range(seeds):
            obj = LookupBNObjective(table, mode="constrained", epsilon=d["epsilon"])
            res = minimize_binary(obj, dim=p, budget=budget, method=method, seed=seed)
            hit = None
            for k, rec in enumerate(res.history, 1):
                ev = obj.evaluate(rec.x)
                if ev.n_bn <= target.n_bn and ev.accuracy >= target.accuracy - tolerance - 1e-12:
                    hit = k
                    break
            per_seed.append({"seed": seed, "success_at": hit, "found": "".join(map(str, res.best_x)),
                             "found_accuracy": obj.evaluate(res.best_x).accuracy})
        hits = [r["success_at"] for r in per_seed if r["success_at"] is not None]
        out["methods"][method] = per_seed
        med = f"{float(np.median(hits)):.0f}" if hits else "-"
        lines.append(f"| {method} | {len(hits)}/{seeds} | {med} | "
                     + ", ".join("-" if r["success_at"] is None else str(r["success_at"]) for r in per_seed) + " |")
    out["time_s"] = round(time.perf_counter() - started, 1)
    front = pareto_front(table, "n_bn")
    lines += ["", "Pareto front of the table (accuracy vs BN count): "
              + ", ".join(f"`{e.mask}` {e.accuracy:.3f}" for e in front),
              "", f"Command: `python benchmarks/bench_bn_search.py {' '.join(sys.argv[1:])}`; {out['time_s']:.0f} s."]
    RESULTS.mkdir(parents=True, exist_ok=True)
    atomic_write_json(RESULTS / "bn_search_groundtruth.json", out, indent=1)
    (RESULTS / "bn_search_groundtruth.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="part", required=True)
    e = sub.add_parser("enumerate", help="train every mask and write the fixture")
    e.add_argument("--cache-dir", default=str(RESULTS / "bn_search_evals"),
                   help="per-mask result files (reuse results/bn_search/evals of a default run)")
    e.add_argument("--threads", type=int, default=1, help="torch threads")
    b = sub.add_parser("bo", help="run BO on the stored table over seeds")
    b.add_argument("--seeds", type=int, default=10)
    b.add_argument("--budget", type=int, default=20)
    b.add_argument("--tolerance", type=float, default=0.01, help="accuracy tolerance (fraction)")
    b.add_argument("--methods", default="bo,random,greedy,anneal")
    args = parser.parse_args(argv)
    if args.part == "enumerate":
        return enumerate_masks(args.cache_dir, args.threads)
    return run_bo(args.seeds, args.budget, args.tolerance, args.methods.split(","))


if __name__ == "__main__":
    sys.exit(main())
