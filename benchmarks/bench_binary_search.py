"""Benchmark of ``reram.search.minimize_binary`` on the BOCS/COMBO binary problems.

For each problem (contamination control, d=25, 270 evaluations; Ising sparsification, d=24,
170 evaluations; 20 initial points; L1 weight 0 and 0.01 respectively) and each seed, runs ``bo``, ``random`` and
``anneal`` on the instance drawn from that seed, and prints the mean, standard deviation and
range of the best value found, the evaluations BO needed to reach a target, and BO's overhead
per iteration (GP fit + acquisition search) at about 100 and 250 observations.

Usage::

    python benchmarks/bench_binary_search.py --seeds 0 1 2 3 4 --jobs 2 \
        --out benchmarks/results/search_bocs.json

Every torch computation runs on one thread per job.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import platform
import sys
import time
from typing import Any

import numpy as np

PROBLEMS = ("contamination", "ising")
METHODS = ("bo", "random", "anneal")
#: Target for "evaluations to reach": the upper end of the best values COMBO-class methods
#: report on contamination at lambda=0 (about 21.2-21.4, Oh et al. 2019).
TARGETS = {"contamination": 21.4}


#: L1 weights (lambda of BOCS/COMBO). Ising at lambda=0 is not used: its optimum is the
#: all-ones mask, which the weight-stratified initial design contains by construction.
L1_WEIGHTS = {"contamination": 0.0, "ising": 0.01}


def _make_problem(name: str, seed: int):
    from reram.search import Contamination, Ising

    cls = Contamination if name == "contamination" else Ising
    return cls(seed=seed, l1_weight=L1_WEIGHTS[name])


def run_one(problem_name: str, method: str, seed: int, budget_scale: float) -> dict[str, Any]:
    """One search; returns its best value, best-so-far curve and BO timings."""
    import torch

    torch.set_num_threads(1)
    from reram.search import minimize_binary

    problem = _make_problem(problem_name, seed)
    budget = int(round(problem.protocol_budget * budget_scale))
    n_init = problem.protocol_n_init if method in ("bo", "anneal") else None
    t0 = time.perf_counter()
    res = minimize_binary(problem, problem.dim, budget, method=method, n_init=n_init, seed=seed)
    wall = time.perf_counter() - t0
    curve = res.best_so_far()
    out: dict[str, Any] = {
        "problem": problem_name,
        "method": method,
        "seed": seed,
        "budget": budget,
        "best_y": res.best_y,
        "best_x": [int(v) for v in res.best_x],
        "curve": curve.tolist(),
        "wall_s": wall,
    }
    target = TARGETS.get(problem_name)
    if target is not None:
        hit = np.flatnonzero(curve <= target + 1e-9)
        out["evals_to_target"] = int(hit[0]) + 1 if len(hit) else None
    if method == "bo":
        out["n_obs"] = res.info["n_obs"]
        out["fit_s"] = res.info["fit_s"]
        out["acq_s"] = res.info["acq_s"]
    return out


def overhead_at(runs: list[dict[str, Any]], n_obs: int, window: int = 5) -> dict[str, float] | None:
    """Mean fit, acquisition and total seconds per BO iteration with n_obs +- window points."""
    fit, acq = [], []
    for run in runs:
        for n, f, a in zip(run.get("n_obs", []), run.get("fit_s", []), run.get("acq_s", [])):
            if abs(n - n_obs) <= window:
                fit.append(f)
                acq.append(a)
    if not fit:
        return None
    total = np.add(fit, acq)
    return {
        "fit_s": float(np.mean(fit)),
        "acq_s": float(np.mean(acq)),
        "total_s": float(np.mean(total)),
        "total_median_s": float(np.median(total)),
        "total_max_s": float(np.max(total)),
        "n_iterations": len(fit),
    }


def summarize(runs: list[dict[str, Any]]) -> str:
    lines = [
        "| problem (lambda) | method | seeds | budget | best (mean ± std) | min .. max | evals to <= 21.4 |",
        "|---|---|---|---|---|---|---|",
    ]
    for prob in PROBLEMS:
        for method in METHODS:
            sel = [r for r in runs if r["problem"] == prob and r["method"] == method]
            if not sel:
                continue
            best = np.array([r["best_y"] for r in sel])
            hits = [r.get("evals_to_target") for r in sel]
            if prob in TARGETS:
                reached = [h for h in hits if h is not None]
                hit_txt = f"{len(reached)}/{len(sel)} runs" + (
                    f", median {int(np.median(reached))}" if reached else ""
                )
            else:
                hit_txt = "-"
            fmt = "{:.4f}" if prob == "ising" else "{:.3f}"
            lines.append(
                f"| {prob} ({L1_WEIGHTS[prob]}) | {method} | {len(sel)} | {sel[0]['budget']} | "
                f"{fmt.format(best.mean())} ± {fmt.format(best.std(ddof=1) if len(best) > 1 else 0.0)}"
                f" | {fmt.format(best.min())} .. {fmt.format(best.max())} | {hit_txt} |"
            )
    bo_runs = [r for r in runs if r["method"] == "bo"]
    lines.append("")
    lines.append("| BO overhead per iteration | fit, mean (s) | acquisition, mean (s) | total, mean (s) "
                 "| total, median (s) | total, max (s) | iterations |")
    lines.append("|---|---|---|---|---|---|---|")
    for n in (100, 250):
        o = overhead_at(bo_runs, n)
        if o is not None:
            lines.append(
                f"| {n} ± 5 observations | {o['fit_s']:.2f} | {o['acq_s']:.2f} | "
                f"{o['total_s']:.2f} | {o['total_median_s']:.2f} | {o['total_max_s']:.2f} | "
                f"{o['n_iterations']} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--problems", nargs="+", choices=PROBLEMS, default=list(PROBLEMS))
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--budget-scale", type=float, default=1.0,
                        help="fraction of the BOCS/COMBO budget (1.0 = 270/170)")
    parser.add_argument("--jobs", type=int, default=1, help="searches run in parallel")
    parser.add_argument("--out", default=None, help="write all runs as JSON here")
    parser.add_argument("--summarize", default=None, metavar="JSON",
                        help="only print the tables of an earlier --out file")
    args = parser.parse_args(argv)
    if args.summarize:
        with open(args.summarize, encoding="utf-8") as fh:
            print(summarize(json.load(fh)["runs"]))
        return 0
    if args.jobs < 1 or not 0 < args.budget_scale <= 1:
        print("error: --jobs must be >= 1 and --budget-scale in (0, 1]", file=sys.stderr)
        return 2
    tasks = [(p, m, s) for p in args.problems for s in args.seeds for m in args.methods]
    # longest first (BO on contamination), so parallel jobs finish together
    tasks.sort(key=lambda t: (t[1] != "bo", t[0] != "contamination"))
    t0 = time.perf_counter()
    runs: list[dict[str, Any]] = []
    if args.jobs == 1:
        for p, m, s in tasks:
            runs.append(run_one(p, m, s, args.budget_scale))
            print(f"{p} {m} seed={s}: best {runs[-1]['best_y']:.4f} ({runs[-1]['wall_s']:.0f} s)",
                  flush=True)
    else:
        import multiprocessing

        with cf.ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(run_one, p, m, s, args.budget_scale) for p, m, s in tasks]
            for fut in cf.as_completed(futures):
                r = fut.result()
                runs.append(r)
                print(f"{r['problem']} {r['method']} seed={r['seed']}: best {r['best_y']:.4f} "
                      f"({r['wall_s']:.0f} s)", flush=True)
    wall = time.perf_counter() - t0
    runs.sort(key=lambda r: (r["problem"], r["method"], r["seed"]))
    table = summarize(runs)
    print(table)
    print(f"wall time {wall:.0f} s, {args.jobs} job(s), {os.cpu_count()} CPUs, 1 torch thread per job")
    if args.out:
        import torch

        doc = {
            "command": " ".join([os.path.basename(sys.executable), *sys.argv]),
            "wall_s": wall,
            "machine": {
                "platform": platform.platform(),
                "processor": platform.processor(),
                "cpu_count": os.cpu_count(),
                "python": platform.python_version(),
                "torch": torch.__version__,
                "jobs": args.jobs,
            },
            "table": table,
            "runs": runs,
        }
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump(doc, fh)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
