"""Multi-objective search methods compared: hypervolume against evaluations, over seeds.

Runs ``minimize_binary_multi`` with each method (``mobo`` with qLogNEHVI, ``mobo`` with
qLogNParEGO, ``nsga2``, ``random``) at the same budget on one problem per seed and reports the
hypervolume after each evaluation, as a fraction of a normalizer: the exact optimal
hypervolume when the problem can be enumerated (the knapsack here, 2^dim masks, vectorized),
else the best hypervolume any run reached on that seed. Prints a table, writes the runs as
JSON and a plot (mean and range over seeds).

Reusable for any objective: :func:`compare` takes a factory ``seed -> objective`` (a callable
mask -> m values, picklable for ``--jobs > 1``), the dimension and the reference point; the CLI
takes ``--objective package.module:factory`` for a factory that also carries ``dim`` and
``ref_point`` attributes on the objectives it returns.

Usage::

    python benchmarks/bench_mobo.py --seeds 0 1 2 3 4 --jobs 2 \\
        --out benchmarks/results/search_mobo.json --plot docs/img/search_mobo_knapsack.png
    python benchmarks/bench_mobo.py --summarize benchmarks/results/search_mobo.json
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import importlib
import json
import multiprocessing
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

#: name -> (method, options) of minimize_binary_multi
METHODS = {
    "mobo-qnehvi": ("mobo", {"acquisition": "qnehvi"}),
    "mobo-qnparego": ("mobo", {"acquisition": "qnparego"}),
    "nsga2": ("nsga2", None),
    "random": ("random", None),
}


def knapsack(seed: int, dim: int = 20) -> Any:
    """The two-knapsack problem of Zitzler & Thiele (1999) with `dim` items."""
    from reram.search import BiObjectiveKnapsack

    return BiObjectiveKnapsack(dim=dim, seed=seed)


def knapsack_optimal_hypervolume(problem: Any) -> float:
    """Exact optimal hypervolume of a ``BiObjectiveKnapsack`` (every mask, vectorized repair)."""
    from reram.search import hypervolume
    from reram.search.proposer import all_masks

    kept = all_masks(problem.dim).astype(float)
    for j in problem._removal_order:  # the same repair as the problem, all masks at once
        over = np.any(kept @ problem.weights.T > problem.capacities, axis=1)
        kept[over, j] = 0.0
    Y = -(kept @ problem.profits.T)
    Y = Y[np.lexsort((Y[:, 1], Y[:, 0]))]
    front = Y[np.concatenate([[True], Y[1:, 1] < np.minimum.accumulate(Y[:-1, 1])])]
    return hypervolume(front, problem.ref_point)


def run_one(factory: Callable[[int], Any], name: str, seed: int, dim: int,
            ref_point: Sequence[float], budget: int, n_init: int, batch_size: int) -> dict:
    """One search; returns its hypervolume trace, front and BO timings."""
    import torch

    torch.set_num_threads(1)
    from reram.search import minimize_binary_multi
    from reram.search.mobo import MOBOOptions

    method, opts = METHODS[name]
    options = MOBOOptions(**opts) if method == "mobo" else None
    t0 = time.perf_counter()
    res = minimize_binary_multi(factory(seed), dim, budget, list(ref_point), method=method,
                                n_init=None if method == "random" else n_init, seed=seed,
                                batch_size=batch_size, options=options)
    return {"method": name, "seed": seed, "budget": budget,
            "hv_trace": res.hypervolume_history.tolist(), "hypervolume": res.hypervolume,
            "pareto_y": res.pareto_y.tolist(), "wall_s": time.perf_counter() - t0,
            "fit_s": res.info.get("fit_s", []), "acq_s": res.info.get("acq_s", [])}


def compare(factory: Callable[[int], Any], dim: int, ref_point: Sequence[float], budget: int,
            seeds: Sequence[int], methods: Sequence[str] = tuple(METHODS), n_init: int = 16,
            batch_size: int = 4, jobs: int = 1,
            normalizer: Callable[[int], float] | None = None) -> dict[str, Any]:
    """Run every method on every seed; hypervolume traces normalized per seed.

    Args:
        factory: ``seed -> objective`` (mask -> m values); picklable when ``jobs > 1``.
        dim: number of bits.
        ref_point: the reference point (m values, minimization).
        budget: evaluations per run.
        seeds: seeds (each seeds the problem instance and the search).
        methods: keys of ``METHODS``.
        n_init: initial design of mobo and population of nsga2.
        batch_size: masks per ask.
        jobs: runs in parallel (processes).
        normalizer: ``seed -> optimal hypervolume``; ``None`` uses the best run per seed.

    Returns:
        ``{"runs": [...], "norm": {seed: value}}``; each run has ``hv_trace`` and
        ``hv_fraction`` (the trace divided by the seed's normalizer).
    """
    tasks = [(name, s) for s in seeds for name in methods]
    runs: list[dict[str, Any]] = []
    if jobs == 1:
        for name, s in tasks:
            runs.append(run_one(factory, name, s, dim, ref_point, budget, n_init, batch_size))
            print(f"{name} seed={s}: hv {runs[-1]['hypervolume']:.6g} "
                  f"({runs[-1]['wall_s']:.0f} s)", flush=True)
    else:
        ctx = multiprocessing.get_context("spawn")
        with cf.ProcessPoolExecutor(jobs, mp_context=ctx) as pool:
            futures = [pool.submit(run_one, factory, name, s, dim, ref_point, budget, n_init,
                                   batch_size) for name, s in tasks]
            for fut in cf.as_completed(futures):
                r = fut.result()
                runs.append(r)
                print(f"{r['method']} seed={r['seed']}: hv {r['hypervolume']:.6g} "
                      f"({r['wall_s']:.0f} s)", flush=True)
    norm = {}
    for s in seeds:
        best_run = max(r["hypervolume"] for r in runs if r["seed"] == s)
        norm[s] = normalizer(s) if normalizer is not None else best_run
    for r in runs:
        r["hv_fraction"] = (np.asarray(r["hv_trace"]) / norm[r["seed"]]).tolist()
    runs.sort(key=lambda r: (list(METHODS).index(r["method"]), r["seed"]))
    return {"runs": runs, "norm": {str(k): v for k, v in norm.items()}}


def summarize(doc: dict[str, Any], target: float = 0.9) -> str:
    """Markdown table: hypervolume fraction at checkpoints and evaluations to `target`."""
    runs = doc["runs"]
    budget = runs[0]["budget"]
    marks = sorted({budget // 4, budget // 2, budget})
    head = " | ".join(f"HV at {m} (mean ± std)" for m in marks)
    lines = [f"| method | seeds | {head} | seeds reaching {target:.0%} | median evals to "
             f"{target:.0%} |", "|---" * (4 + len(marks)) + "|"]
    for name in METHODS:
        sel = [r for r in runs if r["method"] == name]
        if not sel:
            continue
        cells = []
        for m in marks:
            v = np.array([r["hv_fraction"][min(m, len(r["hv_fraction"])) - 1] for r in sel])
            cells.append(f"{v.mean():.3f} ± {v.std(ddof=1) if len(v) > 1 else 0.0:.3f}")
        hits = [int(np.argmax(np.asarray(r["hv_fraction"]) >= target)) + 1 for r in sel
                if max(r["hv_fraction"]) >= target]
        med = f"{int(np.median(hits))}" if hits else "-"
        lines.append(f"| {name} | {len(sel)} | {' | '.join(cells)} | {len(hits)}/{len(sel)} | "
                     f"{med} |")
    return "\n".join(lines)


def plot(doc: dict[str, Any], path: str, title: str) -> None:
    """Mean hypervolume fraction against evaluations, with the range over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for name in METHODS:
        sel = [r["hv_fraction"] for r in doc["runs"] if r["method"] == name]
        if not sel:
            continue
        n = min(len(t) for t in sel)
        arr = np.array([t[:n] for t in sel])
        x = np.arange(1, n + 1)
        (line,) = ax.plot(x, arr.mean(axis=0), label=f"{name} ({len(sel)} seeds)")
        ax.fill_between(x, arr.min(axis=0), arr.max(axis=0), color=line.get_color(), alpha=0.15)
    ax.set_xlabel("evaluations")
    ax.set_ylabel("hypervolume / optimal hypervolume")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _load_factory(spec: str) -> Callable[[int], Any]:
    module, _, attr = spec.partition(":")
    if not attr:
        raise SystemExit(f"error: --objective must be package.module:factory, got {spec!r}")
    return getattr(importlib.import_module(module), attr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objective", default=None,
                        help="package.module:factory (seed -> objective with dim, ref_point); "
                             "default: the two-knapsack problem")
    parser.add_argument("--dim", type=int, default=20, help="knapsack items (default 20)")
    parser.add_argument("--budget", type=int, default=80)
    parser.add_argument("--n-init", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--out", default=None)
    parser.add_argument("--plot", default=None)
    parser.add_argument("--summarize", default=None, metavar="JSON")
    parser.add_argument("--target", type=float, default=0.9,
                        help="hypervolume fraction for 'evaluations to target' (default 0.9)")
    args = parser.parse_args(argv)
    if args.summarize:
        with open(args.summarize, encoding="utf-8") as fh:
            print(summarize(json.load(fh), args.target))
        return 0
    if args.jobs < 1 or args.budget < 2 or not 1 <= args.n_init <= args.budget:
        parser.error("need --jobs >= 1, --budget >= 2 and 1 <= --n-init <= --budget")
    import functools

    if args.objective:
        factory = _load_factory(args.objective)
        probe = factory(args.seeds[0])
        dim, ref, normalizer, title = probe.dim, probe.ref_point, None, args.objective
    else:
        factory = functools.partial(knapsack, dim=args.dim)
        dim, ref = args.dim, factory(0).ref_point
        normalizer = lambda s: knapsack_optimal_hypervolume(factory(s))  # noqa: E731
        title = f"two-knapsack problem, {args.dim} items"
    t0 = time.perf_counter()
    doc = compare(factory, dim, ref, args.budget, args.seeds, args.methods, args.n_init,
                  args.batch_size, args.jobs, normalizer)
    wall = time.perf_counter() - t0
    text = summarize(doc, args.target)
    print(text)
    print(f"wall time {wall:.0f} s, {args.jobs} job(s), {os.cpu_count()} CPUs, 1 torch thread "
          f"per job, load average {os.getloadavg()}")
    if args.plot:
        plot(doc, args.plot, f"{title}, q={args.batch_size}")
    if args.out:
        from reram.io import atomic_write_json

        doc.update({"command": " ".join([os.path.basename(sys.executable), *sys.argv]),
                    "settings": vars(args), "wall_s": wall, "table": text,
                    "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                                "python": platform.python_version()}})
        atomic_write_json(args.out, doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
