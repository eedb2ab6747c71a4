"""Benchmark: the TIA across process, supply and temperature corners, and a robust sizing.

Evaluates the published expert TIA and the nominal BO sizing (seed 0 of
``benchmarks/results/analog_sizing.json``) at the seven PVT corners, sizes the TIA with BO on the
worst case over those corners (each sizing simulated at 7 corners in parallel worker processes,
checkpointed), and checks every design on the full 45-corner grid (5 process corners x supply
0.9/1.0/1.1 x -40/27/125 C).

Usage:
    python benchmarks/bench_analog_corners.py --budget 150 --seed 0 \
        --out benchmarks/results/analog_corners.json
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import torch

from reram.analog import PVT_CORNERS, Spec, circuits, corner_grid, evaluate_corners, size
from reram.io import atomic_write_json, read_json

COLUMNS = ("transimpedance_ohm", "bandwidth_hz", "power_w", "area_um2", "saturated")


def _row(name: str, metrics: dict, specs) -> str:
    if metrics.get("failed"):
        return f"| {name} | failed | | | | | no |"
    meets = all(s.met(metrics) for s in specs)
    return (f"| {name} | {metrics['transimpedance_ohm']:.0f} | {metrics['bandwidth_hz'] / 1e6:.1f} | "
            f"{metrics['power_w'] * 1e3:.3f} | {metrics['area_um2']:.1f} | {'yes' if metrics['saturated'] else 'no'} |"
            f" {'yes' if meets else 'no'} |")


def _design_report(label: str, params: dict, workers: int, specs) -> dict:
    pvt = evaluate_corners("tia3", params, corners=PVT_CORNERS, workers=workers, specs=specs)
    grid = evaluate_corners("tia3", params, corners=corner_grid(), workers=workers, specs=specs)
    failing = [c for c, m in zip(grid.corners, grid.metrics) if m.get("failed") or not all(s.met(m) for s in specs)]
    return {"label": label, "params": params, "pvt": dict(zip(pvt.corners, pvt.metrics)), "pvt_worst": pvt.worst,
            "pvt_meets": pvt.meets_specs, "grid_worst": grid.worst, "grid_meets": grid.meets_specs,
            "grid_failing_corners": failing}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=150, help="robust BO sizings (7 simulations each)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--nominal", default="benchmarks/results/analog_sizing.json")
    parser.add_argument("--runs-dir", default="benchmarks/results/analog_runs")
    parser.add_argument("--bandwidth", type=float, default=None,
                        help="bandwidth spec in Hz at every corner (default the published 90.1 MHz)")
    parser.add_argument("--out", default="benchmarks/results/analog_corners.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    circuit = circuits["tia3"]
    specs = [s if s.metric != "bandwidth_hz" or args.bandwidth is None else Spec(s.metric, s.op, args.bandwidth)
             for s in circuit.specs]
    tag = "" if args.bandwidth is None else f"_bw{args.bandwidth:g}"
    designs = [_design_report("expert (L2DC)", dict(circuit.reference), args.workers, specs)]
    if os.path.exists(args.nominal):
        runs = read_json(args.nominal, "--nominal")["runs"]
        best = next(r for r in runs if r["method"] == "bo" and r["seed"] == 0)
        designs.append(_design_report("nominal BO (seed 0)", best["best_params"], args.workers, specs))
    start = time.perf_counter()
    os.makedirs(args.runs_dir, exist_ok=True)
    robust = size("tia3", specs=specs, method="bo", budget=args.budget, seed=args.seed, corners="pvt",
                  workers=args.workers, history_path=os.path.join(args.runs_dir, f"tia3_bo_pvt_{args.seed}{tag}.json"),
                  resume=True, progress=False)
    robust_seconds = time.perf_counter() - start
    designs.append(_design_report(f"robust BO over 7 corners ({args.budget} sizings)", robust.best_params,
                                  args.workers, specs))
    report = {"command": " ".join(["python", "benchmarks/bench_analog_corners.py", *(argv or sys.argv[1:])]),
              "corners": [c.name for c in PVT_CORNERS], "specs": [str(s) for s in specs], "designs": designs,
              "robust": {"meets_specs": robust.meets_specs, "first_feasible": robust.first_feasible,
                         "sizings": len(robust.history), "simulations": len(robust.history) * len(PVT_CORNERS),
                         "seconds": robust_seconds}}
    atomic_write_json(args.out, report, indent=1)
    print("specs at every corner: " + "; ".join(report["specs"]))
    for design in designs:
        print(f"\n{design['label']}: params {', '.join(f'{k}={v:.4g}' for k, v in design['params'].items())}")
        print("| corner (process/supply/temp C) | Z (ohm) | BW (MHz) | P (mW) | area (um^2) | saturated "
              "| meets specs |")
        print("|---|---|---|---|---|---|---|")
        for name, metrics in design["pvt"].items():
            print(_row(name, metrics, specs))
        print(_row("worst of 7", design["pvt_worst"], specs))
        print(_row("worst of 45 (grid)", design["grid_worst"], specs))
        print(f"failing grid corners: {len(design['grid_failing_corners'])}/45")
    print(f"\nrobust BO: meets specs at every PVT corner: {robust.meets_specs}; first such sizing at "
          f"{robust.first_feasible} of {len(robust.history)} sizings; {robust_seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
