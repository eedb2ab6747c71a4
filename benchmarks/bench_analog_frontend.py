"""Benchmark: the TIA as the crossbar's front end -- specs from a tile's read, sized, energy per read.

Derives the TIA specs of :data:`reram.analog.frontend.NEUROSIM_ISAAC_TILE` (transimpedance for
the ADC's full scale, bandwidth to settle to 1/2 LSB in half a read cycle, power <= 3 mW), sizes
``tia3`` for them with BO (nominal corner, ngspice), and prints its energy per column read next to
the per-read energies the cost model charges for an ISAAC-like chip
(``reram/cost/specs/isaac.json``, read, not changed).

Usage:
    python benchmarks/bench_analog_frontend.py --budget 80 --out benchmarks/results/analog_frontend.json
"""
from __future__ import annotations

import argparse
import json
import sys

import torch

from reram.analog import size
from reram.analog.frontend import NEUROSIM_ISAAC_TILE, energy_per_read, frontend_specs
from reram.io import atomic_write_json


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=80)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chip", default="reram/cost/specs/isaac.json")
    parser.add_argument("--out", default="benchmarks/results/analog_frontend.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    tile = NEUROSIM_ISAAC_TILE
    specs = frontend_specs(tile)
    result = size("tia3", specs=specs, method="bo", budget=args.budget, seed=args.seed, progress=False)
    with open(args.chip) as handle:
        chip = json.load(handle)
    reram = chip["reram"]
    columns = chip["crossbar"]["tile_size"]
    tia_j = energy_per_read(result.best_metrics["power_w"], tile)
    rows = [("TIA (tia3, sized here), per column read", tia_j, "this benchmark: power x 100 ns read cycle"),
            ("crossbar array, per column read", reram["crossbar_energy_per_cycle_j"] / columns,
             chip["_sources"]["reram.crossbar_energy_per_cycle_j"]),
            ("ADC, per conversion (one per column read)", reram["adc_energy_per_conversion_j"],
             chip["_sources"]["reram.adc_energy_per_conversion_j"])]
    report = {"command": " ".join(["python", "benchmarks/bench_analog_frontend.py", *(argv or sys.argv[1:])]),
              "tile": tile.__dict__, "full_scale_current_a": tile.full_scale_current_a,
              "specs": [str(s) for s in specs], "meets_specs": result.meets_specs,
              "first_feasible": result.first_feasible, "best_params": result.best_params,
              "best_metrics": result.to_json()["best_metrics"],
              "energy_rows": [{"what": w, "energy_j": e, "source": s} for w, e, s in rows]}
    atomic_write_json(args.out, report, indent=1)
    print(f"tile: {tile.rows} rows, g_max {tile.g_max_s * 1e6:g} uS, {tile.v_read:g} V read, "
          f"{tile.read_time_s * 1e9:g} ns cycle, {tile.adc_bits}-bit ADC over {tile.adc_range:g} of the largest "
          f"current ({tile.full_scale_current_a * 1e6:.0f} uA full scale)")
    print("TIA specs: " + "; ".join(report["specs"]))
    m = result.best_metrics
    print(f"sized TIA (BO, {args.budget} sims): meets specs {result.meets_specs}, Z {m['transimpedance_ohm']:.0f} ohm, "
          f"BW {m['bandwidth_hz'] / 1e6:.1f} MHz, P {m['power_w'] * 1e3:.3f} mW, area {m['area_um2']:.1f} um^2")
    print("| what | energy per read (pJ) | source |")
    print("|---|---|---|")
    for what, energy, source in rows:
        print(f"| {what} | {energy * 1e12:.3g} | {source.split(';')[0][:90]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
