"""Benchmark: learn once, size many -- a spec-conditioned policy against per-spec BO and random search.

For each circuit it trains one policy (:func:`reram.analog.train_policy`, checkpointed, so an
interrupted run resumes), draws unseen test spec sets from the same documented range with a
different random stream, and sizes every test spec with ``rl-transfer`` (the trained policy),
``bo`` and ``random``, each with the same per-spec simulation budget and stopping at the first
sizing that meets all specs. It reports training simulations, success rate, median simulations
per spec (over the specs met) and wall time, plus how many test specs are known to be achievable
(some simulation of any method, training included, met them). Per-spec results are checkpointed.

Usage:
    python benchmarks/bench_analog_transfer.py --circuits tia3 two_stage --train-budget 2000 \
        --test-specs 100 --per-spec-budget 50 --backend ngspice \
        --out benchmarks/results/analog_transfer.json
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time

import numpy as np
import torch

from reram.analog import deploy, size
from reram.analog.library import circuits
from reram.analog.transfer import SpecRange, default_spec_range, load_policy, train_policy
from reram.io import atomic_write_json, read_json

TEST_STREAM = 10_000
"""Seed offset of the test specs' random stream (training draws from the training seed's stream)."""


def _spec_metrics(circuit_name: str, metrics: dict) -> list[float | None]:
    names = [s.metric for s in circuits[circuit_name].specs]
    return [None if metrics.get("failed") else metrics.get(n) for n in names]


def _run_method(circuit: str, method: str, specs_list: list, budget: int, backend: str, policy, path: str,
                limit: int) -> list[dict]:
    done = read_json(path, "results")["records"] if os.path.exists(path) else []
    for i, specs in enumerate(specs_list[:limit]):
        if i < len(done):
            continue
        start = time.perf_counter()
        if method == "rl-transfer":
            res = deploy(policy, list(specs), budget=budget, seed=i, backend=backend)
        else:
            res = size(circuit, specs=list(specs), method=method, budget=budget, backend=backend, seed=i,
                       progress=False, stop_at_feasible=True)
        done.append({"spec_index": i, "specs": [str(s) for s in specs], "first_feasible": res.first_feasible,
                     "simulations": len(res.history), "seconds": time.perf_counter() - start,
                     "metrics": [_spec_metrics(circuit, h["metrics"]) for h in res.history]})
        atomic_write_json(path, {"circuit": circuit, "method": method, "records": done}, indent=None)
        print(f"{circuit} {method} spec {i}: {'met at ' + str(res.first_feasible) if res.meets_specs else 'not met'}"
              f" ({done[-1]['seconds']:.1f} s)", flush=True)
    return done


def _met(spec_values: np.ndarray, ops: list[str], row: list[float | None]) -> bool:
    if any(v is None for v in row):
        return False
    return all((m >= v) if op == ">=" else (m <= v) for m, v, op in zip(row, spec_values, ops))


def _achievable(policy, test_values: np.ndarray, records: dict[str, list[dict]]) -> list[bool]:
    """Whether some simulation (training or any deployment) met each test spec."""
    ops = [s.op for s in policy.spec_range.base]
    rows = []
    for y, failed in zip(policy.train_y, policy.train_fail):
        if not failed:
            rows.append([float(v) if s.metric.endswith("_db") else math.exp(v)
                         for v, s in zip(y, policy.spec_range.base)])
    for recs in records.values():
        for rec in recs:
            rows.extend(rec["metrics"])
    out = []
    for values in test_values:
        out.append(any(_met(values, ops, row) for row in rows))
    return out


def _summary(records: list[dict], n_specs: int, budget: int) -> dict:
    met = [r["first_feasible"] for r in records if r["first_feasible"] is not None]
    return {"specs_run": len(records), "specs_met": len(met),
            "success_rate": len(met) / len(records) if records else None,
            "median_sims_per_spec_met": statistics.median(met) if met else None,
            "mean_sims_per_spec_all": (statistics.mean(r["simulations"] for r in records) if records else None),
            "median_seconds_per_spec": statistics.median(r["seconds"] for r in records) if records else None,
            "per_spec_budget": budget}


def bench_circuit(circuit: str, args: argparse.Namespace) -> dict:
    budget = dict(item.split("=") for item in args.train_budget if "=" in item).get(circuit)
    budget = int(budget or next(item for item in args.train_budget if "=" not in item))
    policy_path = os.path.join(args.runs_dir, f"{circuit}_policy_{budget}.pt")
    start = time.perf_counter()
    policy = train_policy(circuit, budget=budget, backend=args.backend, seed=0,
                          checkpoint_path=os.path.join(args.runs_dir, f"{circuit}_policy_{budget}.ckpt"),
                          resume=True, out=policy_path, progress=not args.no_progress)
    train_seconds = time.perf_counter() - start
    policy = load_policy(policy_path)  # deploy what a user would load from the file
    spec_range = default_spec_range(circuits[circuit])
    tag = ""
    if args.test_factors:  # test specs outside the training range (extrapolation)
        ge_lo, ge_hi, le_lo, le_hi = args.test_factors
        spec_range = SpecRange(spec_range.base, tuple((ge_lo, ge_hi) if s.op == ">=" else (le_lo, le_hi)
                                                      for s in spec_range.base))
        tag = "_range" + "_".join(f"{f:g}" for f in args.test_factors)
    test_values = spec_range.sample(np.random.default_rng(TEST_STREAM), args.test_specs)
    specs_list = [spec_range.specs(v) for v in test_values]
    records = {}
    for method in args.methods:
        limit = args.bo_specs if method == "bo" and args.bo_specs else args.test_specs
        trained = f"_train{budget}" if method == "rl-transfer" else ""
        path = os.path.join(args.runs_dir, f"transfer_{circuit}_{method}{trained}_{args.per_spec_budget}{tag}.json")
        records[method] = _run_method(circuit, method, specs_list, args.per_spec_budget, args.backend, policy,
                                      path, limit)
    achievable = _achievable(policy, test_values, records)
    rows = []
    for method in args.methods:
        row = {"method": method, "training_simulations": budget if method == "rl-transfer" else 0,
               **_summary(records[method], args.test_specs, args.per_spec_budget)}
        n_run = row["specs_run"]
        row["achievable_among_run"] = sum(achievable[:n_run])
        rows.append(row)
    return {"circuit": circuit, "backend": args.backend, "train_budget": budget, "test_range": tag or "training range",
            "train_seconds_this_run": train_seconds, "spec_range": [[str(s), list(f)] for s, f in
                                                                   zip(spec_range.base, spec_range.factors)],
            "test_specs": args.test_specs, "achievable": sum(achievable), "rows": rows,
            "records": {m: [{k: v for k, v in r.items() if k != "metrics"} for r in recs]
                        for m, recs in records.items()}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--circuits", nargs="+", default=["tia3", "two_stage"])
    parser.add_argument("--train-budget", nargs="+", default=["2000"], help="N or CIRCUIT=N pairs")
    parser.add_argument("--test-specs", type=int, default=100)
    parser.add_argument("--per-spec-budget", type=int, default=50)
    parser.add_argument("--methods", nargs="+", default=["rl-transfer", "random", "bo"])
    parser.add_argument("--bo-specs", type=int, default=None, help="run BO on the first N test specs only")
    parser.add_argument("--test-factors", type=float, nargs=4, default=None,
                        metavar=("GE_LO", "GE_HI", "LE_LO", "LE_HI"),
                        help="draw test specs from another range (x published value) than training's "
                             "0.6 1.15 0.4 1.0, e.g. 1.15 1.3 0.25 0.4 for harder, unseen-range specs")
    parser.add_argument("--backend", default="ngspice")
    parser.add_argument("--runs-dir", default="benchmarks/results/analog_runs")
    parser.add_argument("--out", default="benchmarks/results/analog_transfer.json")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    os.makedirs(args.runs_dir, exist_ok=True)
    report = {"command": " ".join(["python", "benchmarks/bench_analog_transfer.py", *(argv or sys.argv[1:])]),
              "circuits": []}
    for circuit in args.circuits:
        report["circuits"].append(bench_circuit(circuit, args))
        atomic_write_json(args.out, report, indent=1)
    print("| circuit | method | training sims | specs met | success | median sims/spec (met) | "
          "mean sims/spec (all) | median s/spec |")
    print("|---|---|---|---|---|---|---|---|")
    for entry in report["circuits"]:
        if entry["test_range"] != "training range":
            print(f"test specs drawn from {entry['test_range']} (outside the training range)")
        for row in entry["rows"]:
            med = row["median_sims_per_spec_met"]
            print(f"| {entry['circuit']} | {row['method']} | {row['training_simulations']} | "
                  f"{row['specs_met']}/{row['specs_run']} (achievable {row['achievable_among_run']}) | "
                  f"{row['success_rate']:.0%} | {'-' if med is None else f'{med:g}'} | "
                  f"{row['mean_sims_per_spec_all']:.1f} | {row['median_seconds_per_spec']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
