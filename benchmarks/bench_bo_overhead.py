"""BO overhead per iteration (GP fit + acquisition search) at dimension 21 with 250 observations.

The overhead is what BO adds to each evaluation of the BN search (21 BN sites for resnet20).
For each configuration, a history of `n_obs` evaluations of a d=21 objective is built (random
masks), one ask warms the hyperparameters up (as in a running search), then `iterations` asks
are timed, each adding the proposed mask(s) with their values, so the observation count runs
from `n_obs` upwards exactly as in a search. All on one torch thread. Two clocks: the CPU time
of the process per ask (``time.process_time``; with one thread, what an idle core takes, and
little affected by other jobs on a shared machine) and the wall time of the fit and of the
acquisition search as the proposer records them (inflated by the machine's load).

Configurations (measured in the same run, so ratios hold on a noisy machine):
- ``bo``: ``minimize_binary``'s BO with its defaults (warm-started fit capped at 10 L-BFGS-B
  iterations, qLogNEI, one-flip local search from 8 starts), q = 1;
- ``bo-cap30``: the previous default, warm fits capped at 30 iterations;
- ``bo-cold`` (baseline): the same model fitted from default hyperparameters to convergence
  (no warm start, no cap), BoTorch's usual way;
- ``bo-q4``: the defaults proposing a batch of 4 (the time per batch is printed);
- ``mobo-qnehvi`` / ``mobo-qnparego``: two objectives, one GP each, defaults.

Objective: contamination control (Hu et al. 2010, BOCS) with 21 stages, and as second
objective for MOBO the number of interventions.

Usage::

    python benchmarks/bench_bo_overhead.py            # d=21, 250 observations, 5 iterations
    python benchmarks/bench_bo_overhead.py --out benchmarks/results/bo_overhead.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from typing import Any

import numpy as np


def _history(problem: Any, dim: int, n: int, seed: int, multi: bool) -> list[Any]:
    from reram.search.records import EvalRecord

    rng = np.random.default_rng(seed)
    seen: set[bytes] = set()
    out = []
    while len(out) < n:
        x = rng.integers(0, 2, dim)
        if x.tobytes() in seen:
            continue
        seen.add(x.tobytes())
        out.append(EvalRecord(len(out), [int(v) for v in x], _value(problem, x, multi), None,
                              0.0, 0.0, 0.0))
    return out


def _value(problem: Any, x: np.ndarray, multi: bool) -> Any:
    y = problem(x)
    return [y, float(x.sum())] if multi else y


def _proposer(config: str, dim: int, ref: list[float]) -> Any:
    from reram.search.bo import BayesianOptimization, BOOptions
    from reram.search.mobo import MOBOOptions, MultiObjectiveBO

    if config in ("bo", "bo-q4"):
        return BayesianOptimization(dim, 0, 20, BOOptions())
    if config == "bo-cap30":
        return BayesianOptimization(dim, 0, 20, BOOptions(warm_fit_maxiter=30))
    if config == "bo-cold":
        return BayesianOptimization(dim, 0, 20, BOOptions(warm_start=False, fit_maxiter=10_000))
    return MultiObjectiveBO(dim, 0, 20, ref, MOBOOptions(acquisition=config.split("-")[1]))


def measure(config: str, dim: int, n_obs: int, iterations: int, seed: int) -> dict[str, Any]:
    """Time `iterations` asks of one configuration from `n_obs` observations on."""
    from reram.search import Contamination
    from reram.search.records import EvalRecord, mask_key

    problem = Contamination(seed=seed, dim=dim)
    multi = config.startswith("mobo")
    q = 4 if config == "bo-q4" else 1
    ref = [float(dim + 2), float(dim + 1)]
    history = _history(problem, dim, n_obs, seed, multi)
    proposer = _proposer(config, dim, ref)
    excluded = {mask_key(r.x) for r in history}
    proposer.ask(history[:-q], q, excluded)  # warm-up: hyperparameters of the previous step
    proposer.info = {"n_obs": [], "fit_s": [], "acq_s": []}
    cpu = []
    for _ in range(iterations):
        c0 = time.process_time()
        xs = proposer.ask(history, q, excluded)
        cpu.append(time.process_time() - c0)
        for x in xs:
            excluded.add(mask_key(x))
            history.append(EvalRecord(len(history), [int(v) for v in x],
                                      _value(problem, np.asarray(x), multi), None, 0.0, 0.0, 0.0))
    fit = np.asarray(proposer.info["fit_s"])
    acq = np.asarray(proposer.info["acq_s"])
    total = fit + acq
    return {"config": config, "q": q, "n_obs": proposer.info["n_obs"], "fit_s": fit.tolist(),
            "acq_s": acq.tolist(), "fit_mean": float(fit.mean()), "acq_mean": float(acq.mean()),
            "total_mean": float(total.mean()), "total_median": float(np.median(total)),
            "total_max": float(total.max()), "cpu_s": cpu, "cpu_mean": float(np.mean(cpu)),
            "cpu_max": float(np.max(cpu))}


def table(rows: list[dict[str, Any]]) -> str:
    base = next((r for r in rows if r["config"] == "bo-cold"), None)
    lines = ["| configuration | q | CPU per ask, mean (s) | CPU, max (s) | wall: fit, mean (s) | "
             "wall: acquisition, mean (s) | wall: total, mean (s) | wall: total, max (s) | "
             "CPU vs bo-cold |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ratio = f"{base['cpu_mean'] / r['cpu_mean']:.1f}x less" if base else "-"
        if r is base:
            ratio = "baseline"
        lines.append(f"| {r['config']} | {r['q']} | {r['cpu_mean']:.2f} | {r['cpu_max']:.2f} | "
                     f"{r['fit_mean']:.2f} | {r['acq_mean']:.2f} | {r['total_mean']:.2f} | "
                     f"{r['total_max']:.2f} | {ratio} |")
    return "\n".join(lines)


CONFIGS = ("bo", "bo-cap30", "bo-cold", "bo-q4", "mobo-qnehvi", "mobo-qnparego")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dim", type=int, default=21)
    parser.add_argument("--n-obs", type=int, default=250)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--configs", nargs="+", choices=CONFIGS, default=list(CONFIGS))
    parser.add_argument("--out", default=None, help="write the timings as JSON here")
    args = parser.parse_args(argv)
    if args.dim < 2 or args.n_obs < 10 or args.iterations < 1:
        parser.error("need --dim >= 2, --n-obs >= 10 and --iterations >= 1")
    import torch

    torch.set_num_threads(1)
    rows = []
    t0 = time.perf_counter()
    for config in args.configs:
        rows.append(measure(config, args.dim, args.n_obs, args.iterations, args.seed))
        r = rows[-1]
        print(f"{config}: {r['cpu_mean']:.2f} CPU s per ask; wall {r['total_mean']:.2f} s "
              f"(fit {r['fit_mean']:.2f}, acquisition {r['acq_mean']:.2f})", flush=True)
    text = table(rows)
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(f"\nd={args.dim}, {args.n_obs} observations, {args.iterations} asks each, 1 torch "
          f"thread, load average {load}\n")
    print(text)
    if args.out:
        from reram.io import atomic_write_json

        atomic_write_json(args.out, {
            "settings": vars(args), "wall_s": time.perf_counter() - t0, "load_average": load,
            "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                        "python": platform.python_version(), "torch": torch.__version__},
            "table": text, "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
