"""Benchmark: simulations each sizing method needs on the L2DC three-stage TIA.

For every method and seed it runs :func:`reram.analog.size` on ``tia3`` and reports, as medians
over the seeds: simulations (and wall time) until a sizing meets all hard specs, and until a
feasible sizing beats the expert design's figure of merit (P/1.37 mW + A/211 um^2), with the
expert evaluated on the same models and backend. Per-run histories are checkpointed, so an
interrupted benchmark resumes.

Usage:
    python benchmarks/bench_analog_sizing.py --seeds 0 1 2 3 4 \
        --budgets random=3000 grid=3000 bo=150 rl=300 --backend ngspice \
        --out benchmarks/results/analog_sizing.json
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time

import torch

from reram.analog import circuits, evaluate, size


def _median(values: list[float | None]) -> float | None:
    """Median where ``None`` (never reached) counts as infinity; ``None`` if the median is."""
    numbers = sorted(math.inf if v is None else float(v) for v in values)
    med = statistics.median(numbers)
    return None if math.isinf(med) else med


def _elapsed_at(history: list[dict], count: int | None) -> float | None:
    return None if count is None else history[count - 1]["elapsed_s"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--circuit", default="tia3")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--budgets", nargs="+", default=["random=3000", "grid=3000", "bo=150", "rl=300"],
                        help="METHOD=BUDGET pairs")
    parser.add_argument("--backend", default="ngspice")
    parser.add_argument("--runs-dir", default="benchmarks/results/analog_runs",
                        help="per-run history checkpoints (large; not committed)")
    parser.add_argument("--out", default="benchmarks/results/analog_sizing.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    budgets = {}
    for item in args.budgets:
        method, _, value = item.partition("=")
        budgets[method] = int(value)
    circuit = circuits[args.circuit]
    expert = evaluate(circuit, circuit.reference, backend=args.backend)
    expert_fom = circuit.figure_of_merit(expert)
    expert_meets = all(spec.met(expert) for spec in circuit.specs)
    os.makedirs(args.runs_dir, exist_ok=True)
    runs = []
    start = time.perf_counter()
    for method, budget in budgets.items():
        for seed in args.seeds:
            path = os.path.join(args.runs_dir, f"{args.circuit}_{method}_{seed}.json")
            res = size(circuit, method=method, budget=budget, backend=args.backend, seed=seed,
                       history_path=path, resume=True, progress=False)
            feasible_at = res.first_feasible
            beat_at = res.simulations_to_beat(expert_fom)
            run = {"method": method, "seed": seed, "budget": budget, "first_feasible": feasible_at,
                   "beat_expert": beat_at, "time_to_feasible_s": _elapsed_at(res.history, feasible_at),
                   "time_to_beat_s": _elapsed_at(res.history, beat_at), "meets_specs": res.meets_specs,
                   "best_fom": circuit.figure_of_merit(res.best_metrics) if res.meets_specs else None,
                   "best_metrics": res.to_json()["best_metrics"], "best_params": res.best_params,
                   "run_seconds": res.history[-1]["elapsed_s"]}
            runs.append(run)
            print(f"{method:>6} seed {seed}: feasible at {feasible_at}, beats expert at {beat_at}, "
                  f"best FoM {run['best_fom']}, {run['run_seconds']:.1f} s", flush=True)
    summary = []
    for method, budget in budgets.items():
        mine = [r for r in runs if r["method"] == method]
        foms = [r["best_fom"] for r in mine if r["best_fom"] is not None]
        summary.append({
            "method": method, "budget": budget, "seeds": len(mine),
            "median_sims_to_feasible": _median([r["first_feasible"] for r in mine]),
            "median_sims_to_beat_expert": _median([r["beat_expert"] for r in mine]),
            "median_time_to_beat_expert_s": _median([r["time_to_beat_s"] for r in mine]),
            "seeds_feasible": sum(r["first_feasible"] is not None for r in mine),
            "seeds_beating_expert": sum(r["beat_expert"] is not None for r in mine),
            "median_best_fom": statistics.median(foms) if foms else None,
            "median_seconds_per_sim": statistics.median(r["run_seconds"] / r["budget"] for r in mine),
        })
    report = {"circuit": args.circuit, "backend": args.backend, "seeds": args.seeds,
              "expert": {"metrics": expert, "fom": expert_fom, "meets_specs": expert_meets},
              "summary": summary, "runs": runs, "total_seconds": time.perf_counter() - start,
              "command": " ".join(["python", "benchmarks/bench_analog_sizing.py", *(argv or sys.argv[1:])])}
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as handle:
        json.dump(report, handle, indent=1)
    print(f"expert design on {args.backend}: FoM {expert_fom:.4f}, meets specs: {expert_meets}")
    print("| method | budget | seeds feasible | median sims to meet specs | seeds beating expert | "
          "median sims to beat expert | median time to beat expert (s) | median best FoM | s/sim |")
    print("|---|---|---|---|---|---|---|---|---|")

    def fmt(value: float | None, spec: str = ".0f") -> str:
        return "not reached" if value is None else format(value, spec)

    for row in summary:
        print(f"| {row['method']} | {row['budget']} | {row['seeds_feasible']}/{row['seeds']} | "
              f"{fmt(row['median_sims_to_feasible'])} | {row['seeds_beating_expert']}/{row['seeds']} | "
              f"{fmt(row['median_sims_to_beat_expert'])} | {fmt(row['median_time_to_beat_expert_s'], '.1f')} | "
              f"{fmt(row['median_best_fom'], '.3f')} | {row['median_seconds_per_sim']:.3f} |")
    print(f"total {report['total_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
