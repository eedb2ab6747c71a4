"""``reram-bn-search``: search which BatchNorm layers a CNN needs to train on crossbars.

Trains the all-BN and no-BN masks as references, runs ``minimize_binary`` over BN masks with
the chosen method (and, with ``--compare-random``, random search with the same budget, sharing
already-trained masks), then writes to ``--out``:

* ``bn_search.json``: the settings, the references, every evaluation of every method (mask,
  objective value, accuracy, BN count, estimated speedup, training time), the found masks and
  the Pareto front;
* ``convergence.png``: best objective value and best accuracy so far against evaluations;
* ``accuracy_vs_bn.png``: accuracy of every evaluated mask against its BN count;
* ``settings.json``, ``checkpoint_<method>.json`` and ``evals/`` (one file per trained mask),
  which ``--resume`` continues from without re-training anything finished.

A folder that already holds a search (its ``settings.json``) is continued with ``--resume`` or
replaced with ``--overwrite``; without either it is refused, so a finished search is never
retrained and overwritten by accident.

It ends by printing a table of the all-BN, no-BN and found masks. Exit status: 0 done, 2 bad
input (one line on stderr, before any training; an ``--out`` that cannot be written included),
130 interrupted by Ctrl-C or SIGTERM (resume with ``--resume``).
"""
from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from reram.apps._cli import OneLineParser, check_output_dir, run_cli
from reram.io import atomic_write_json
from reram.apps.bn_objective import (
    BN_OBJECTIVE_MODES,
    DEFAULT_CROSSBAR,
    PARETO_METRICS,
    BNObjective,
    BNObjectiveConfig,
    MaskEvaluation,
    pareto_front,
)

__all__ = ["build_parser", "main", "run_search"]

#: Settings that a ``--resume`` must share with the search it continues.
_RESUME_FIELDS = ("model", "dataset", "data_dir", "config", "epochs", "batch_size", "lr", "seed",
                  "method", "objective", "pareto_metric", "lam", "epsilon", "max_train",
                  "max_test", "hardware")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``reram-bn-search``."""
    from reram.search.executors import EXECUTOR_NAMES
    from reram.search.optimize import METHODS

    p = OneLineParser(
        prog="reram-bn-search",
        description="Search which BatchNorm layers a CNN needs to train on low-precision ReRAM "
        "crossbars: Bayesian optimization (or a baseline) over 0/1 masks of its BN layers; each "
        "evaluation trains the masked model on simulated crossbars.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--model", default="vgg-digits", help="model name (reram.models.MODEL_NAMES)")
    p.add_argument("--dataset", default="digits", help="digits (bundled), cifar10, mnist or fashion-mnist")
    p.add_argument("--data-dir", default=None, help="folder holding CIFAR-10 / MNIST files")
    p.add_argument("--config", default=json.dumps(DEFAULT_CROSSBAR),
                   help="crossbar: 'float', a preset name, a JSON file or a JSON string of CrossbarConfig fields")
    p.add_argument("--epochs", type=int, default=3, help="training epochs per mask")
    p.add_argument("--batch-size", type=int, default=64, help="training batch size")
    p.add_argument("--lr", type=float, default=0.05, help="SGD learning rate (cosine schedule)")
    p.add_argument("--seed", type=int, default=0, help="seed of the training and of the search")
    p.add_argument("--budget", type=int, default=15, help="evaluations (trainings) of the search")
    p.add_argument("--method", default="bo", choices=METHODS, help="search method")
    p.add_argument("--objective", default="constrained", choices=BN_OBJECTIVE_MODES,
                   help="scalarized: -acc + lam*n_bn/P; constrained: fewest BN with acc >= all-BN acc - "
                   "epsilon; pareto: record accuracy vs --pareto-metric and report the front")
    p.add_argument("--pareto-metric", default="n_bn", choices=PARETO_METRICS,
                   help="second objective of --objective pareto")
    p.add_argument("--lam", type=float, default=0.1, help="weight of the BN fraction (scalarized, pareto)")
    p.add_argument("--epsilon", type=float, default=0.02,
                   help="accuracy (fraction) the constrained objective may lose against all-BN")
    p.add_argument("--executor", default="inprocess", choices=EXECUTOR_NAMES,
                   help="where evaluations run")
    p.add_argument("--workers", type=int, default=1,
                   help="masks evaluated in parallel (process / ray executors)")
    p.add_argument("--compare-random", action=argparse.BooleanOptionalAction, default=True,
                   help="also run random search with the same budget (for the convergence plot)")
    p.add_argument("--max-train", type=int, default=None, help="train on the first N images only")
    p.add_argument("--max-test", type=int, default=None, help="test on the first N images only")
    p.add_argument("--hardware", default="isaac", help="hardware of the speedup estimate (isaac, puma, JSON)")
    p.add_argument("--device", default=None, help="torch device (default: CUDA when available)")
    p.add_argument("--threads", type=int, default=1, help="torch and numba CPU threads per training")
    p.add_argument("--out", default="results/bn_search", help="output folder")
    p.add_argument("--resume", action="store_true", help="continue the search saved in --out")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the search saved in --out (its trained masks are deleted)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or log lines")
    return p


def _settings(args: argparse.Namespace, objective: BNObjective) -> dict[str, Any]:
    fp = objective.fingerprint()
    return {
        **{k: fp[k] for k in ("model", "dataset", "data_dir", "config", "epochs", "batch_size", "lr",
                              "seed", "max_train", "max_test", "hardware")},
        "method": args.method, "objective": args.objective, "pareto_metric": args.pareto_metric,
        "lam": float(args.lam), "epsilon": float(args.epsilon), "budget": int(args.budget),
        "num_sites": objective.num_sites, "executor": args.executor, "workers": args.workers,
    }


def _validate(args: argparse.Namespace) -> tuple[BNObjective, dict[str, Any], Path]:
    """Check every input and build the objective; raises ValueError naming the bad field."""
    from reram.search.optimize import default_n_init

    for name in ("budget", "workers", "threads"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} must be a positive integer, got {getattr(args, name)}")
    if args.executor == "inprocess" and args.workers != 1:
        raise ValueError(f"--workers must be 1 with --executor inprocess, got {args.workers}")
    out = check_output_dir(args.out)
    if args.resume and args.overwrite:
        raise ValueError("--resume and --overwrite exclude each other: continue the search in --out or replace it")
    if not args.resume and not args.overwrite and (out / "settings.json").is_file():
        raise ValueError(f"--out {str(out)!r} holds a search already: continue it with --resume or "
                         "replace it with --overwrite")
    objective = BNObjective(BNObjectiveConfig(
        model=args.model, dataset=args.dataset, data_dir=args.data_dir, config=args.config,
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
        mode=args.objective, lam=args.lam, epsilon=args.epsilon, pareto_metric=args.pareto_metric,
        hardware=args.hardware, max_train=args.max_train, max_test=args.max_test,
        cache_dir=str(out / "evals"), device=args.device, torch_threads=args.threads,
    ))
    settings = _settings(args, objective)
    if args.method == "exhaustive" and objective.num_sites > 20:
        raise ValueError(f"--method exhaustive needs at most 20 BN sites, {objective.model} has {objective.num_sites}")
    saved_path = out / "settings.json"
    if args.resume:
        if not saved_path.is_file():
            raise ValueError(f"--resume: {str(out)!r} holds no search to resume (no settings.json)")
        saved = json.loads(saved_path.read_text(encoding="utf-8"))
        now = json.loads(json.dumps(settings))
        for key in _RESUME_FIELDS:
            if saved.get(key) != now.get(key):
                raise ValueError(f"--resume: {key} was {saved.get(key)!r} in the saved search, "
                                 f"now {now.get(key)!r}; use the same value or another --out")
        settings["n_init"] = int(saved["n_init"])
        if settings["budget"] < int(saved.get("budget", 0)):
            settings["budget"] = int(saved["budget"])  # never shrink a resumed search
    else:
        settings["n_init"] = default_n_init(args.method, objective.num_sites, args.budget)
    objective.prepare()  # reads the data, checks the model takes it: still no training
    return objective, settings, out


def _clear_previous(out: Path) -> None:
    """Remove the files of an earlier search in ``out`` (only the ones this CLI writes)."""
    if not (out / "settings.json").is_file():
        return
    for path in out.glob("checkpoint_*.json"):
        path.unlink()
    for name in ("bn_search.json", "convergence.png", "accuracy_vs_bn.png", "settings.json"):
        (out / name).unlink(missing_ok=True)
    shutil.rmtree(out / "evals", ignore_errors=True)


def _record_row(rec: Any, ev: MaskEvaluation | None) -> dict[str, Any]:
    row = {"index": rec.index, "mask": "".join(str(v) for v in rec.x), "value": rec.y,
           "error": rec.error, "time_s": round(rec.time_s, 3)}
    if ev is not None:
        row.update(accuracy=ev.accuracy, n_bn=ev.n_bn, speedup=ev.speedup, throughput=ev.throughput,
                   train_time_s=ev.train_time_s)
    return row


def _run_method(method: str, objective: BNObjective, settings: dict[str, Any], out: Path,
                args: argparse.Namespace) -> tuple[Any, list[dict[str, Any]]]:
    """One ``minimize_binary`` run with a tqdm bar; returns the result and per-evaluation rows."""
    from tqdm.auto import tqdm

    from reram.search.checkpoint import load_checkpoint
    from reram.search.optimize import default_n_init, minimize_binary

    ckpt = out / f"checkpoint_{method}.json"
    saved = load_checkpoint(ckpt)
    done = 0 if saved is None else len(saved.history)
    n_init = settings["n_init"] if method == settings["method"] else default_n_init(
        method, objective.num_sites, settings["budget"])
    best = {"acc": -math.inf, "value": math.inf}
    bar = tqdm(total=settings["budget"], initial=done, desc=f"bn-search[{method}]", unit="eval",
               disable=args.quiet, dynamic_ncols=True)
    if saved is not None:
        for rec in saved.history:
            ev = objective.lookup(rec.x) if rec.ok else None
            if ev is not None:
                best["acc"] = max(best["acc"], ev.accuracy)
                best["value"] = min(best["value"], rec.y)

    def on_record(rec: Any) -> None:
        ev = objective.lookup(rec.x) if rec.ok else None
        if ev is not None:
            best["acc"] = max(best["acc"], ev.accuracy)
            best["value"] = min(best["value"], rec.y)
        bar.update(1)
        bar.set_postfix(mask="".join(map(str, rec.x)), acc=None if ev is None else round(ev.accuracy, 3),
                        best_value=round(best["value"], 4), best_acc=round(best["acc"], 3))

    executor: Any = args.executor
    if args.executor == "process":
        from reram.search.executors import ProcessExecutor

        executor = ProcessExecutor(max_workers=args.workers)
    elif args.executor == "ray":
        from reram.search.executors import RayExecutor

        executor = RayExecutor(num_cpus=args.workers)
    try:
        result = minimize_binary(objective, dim=objective.num_sites, budget=settings["budget"],
                                 method=method, n_init=n_init if n_init > 0 else None, seed=settings["seed"],
                                 batch_size=args.workers, executor=executor, checkpoint=ckpt,
                                 callback=on_record)
    finally:
        bar.close()
        if not isinstance(executor, str):
            executor.close()
    rows = [_record_row(rec, objective.lookup(rec.x) if rec.ok else None) for rec in result.history]
    return result, rows


def _plot(out: Path, runs: dict[str, list[dict[str, Any]]], refs: dict[str, MaskEvaluation],
          front: list[MaskEvaluation], settings: dict[str, Any]) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    fig, (ax_v, ax_a) = plt.subplots(1, 2, figsize=(10, 4))
    for method, rows in runs.items():
        values = [r["value"] if r["value"] is not None else math.inf for r in rows]
        accs = [r.get("accuracy", -math.inf) for r in rows]
        x = np.arange(1, len(rows) + 1)
        ax_v.step(x, np.minimum.accumulate(values), where="post", label=method, marker="o", ms=3)
        ax_a.step(x, np.maximum.accumulate(accs), where="post", label=method, marker="o", ms=3)
    ax_a.axhline(refs["all"].accuracy, color="gray", ls="--", lw=1, label="all BN")
    ax_a.axhline(refs["none"].accuracy, color="gray", ls=":", lw=1, label="no BN")
    ax_v.set(xlabel="evaluation", ylabel=f"best objective so far ({settings['objective']})",
             title="objective (lower is better)")
    ax_a.set(xlabel="evaluation", ylabel="best test accuracy so far", title="accuracy")
    ax_v.legend(); ax_a.legend(fontsize=8)
    fig.suptitle(f"BN search: {settings['model']} on {settings['dataset']}, {settings['epochs']} epochs")
    fig.tight_layout()
    paths.append(out / "convergence.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4.2))
    markers = {"bo": "o", "random": "x", "greedy": "s", "anneal": "^", "exhaustive": "."}
    for method, rows in runs.items():
        pts = [(r["n_bn"], r["accuracy"]) for r in rows if "accuracy" in r]
        if pts:
            nb, acc = zip(*pts)
            jitter = 0.08 if method == "random" else -0.08
            ax.scatter(np.array(nb) + jitter, acc, marker=markers.get(method, "o"), label=method, alpha=0.8)
    if settings["pareto_metric"] == "n_bn" and front:
        ax.plot([e.n_bn for e in front], [e.accuracy for e in front], "k--", lw=1, label="Pareto front")
    for key, style in (("all", "v"), ("none", "D")):
        ax.scatter([refs[key].n_bn], [refs[key].accuracy], marker=style, s=70, c="red",
                   label="all BN" if key == "all" else "no BN")
    ax.set(xlabel=f"BN layers kept (of {settings['num_sites']})", ylabel="test accuracy",
           title="accuracy vs number of BN layers")
    ax.set_xticks(range(settings["num_sites"] + 1))
    ax.legend(fontsize=8)
    fig.tight_layout()
    paths.append(out / "accuracy_vs_bn.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    return paths


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None or (isinstance(value, float) and not math.isfinite(value)) else format(value, spec)


def format_table(rows: list[tuple[str, MaskEvaluation]]) -> str:
    """The final table: one line per (label, evaluation)."""
    head = f"{'':<16} {'mask':<{max(6, rows[0][1].num_sites)}} {'BN':>5} {'accuracy':>9} {'speedup':>8} {'samples/s':>10}"
    lines = [head, "-" * len(head)]
    for label, ev in rows:
        lines.append(f"{label:<16} {ev.mask:<{max(6, ev.num_sites)}} {ev.n_bn:>2}/{ev.num_sites:<2} "
                     f"{ev.accuracy:>9.3f} {_fmt(ev.speedup, '.2f') + 'x':>8} {_fmt(ev.throughput, '.0f'):>10}")
    return "\n".join(lines)


def run_search(args: argparse.Namespace) -> dict[str, Any]:
    """Run the whole search for parsed arguments; returns the JSON report (also written)."""
    from reram.models.train import set_threads

    started = time.perf_counter()
    objective, settings, out = _validate(args)
    set_threads(args.threads)
    if not args.resume:
        _clear_previous(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "settings.json", settings, indent=1)

    def log(msg: str) -> None:
        if not args.quiet:
            from tqdm.auto import tqdm

            tqdm.write(msg)

    refs: dict[str, MaskEvaluation] = {}
    for key, mask in (("all", np.ones(objective.num_sites, dtype=np.int64)),
                      ("none", np.zeros(objective.num_sites, dtype=np.int64))):
        was_cached = objective.lookup(mask) is not None
        refs[key] = objective.evaluate(mask)
        log(f"reference {key + ' BN':<8} {refs[key].mask}: accuracy {refs[key].accuracy:.3f}"
            f"{' (saved)' if was_cached else f' ({refs[key].train_time_s:.0f} s)'}")
    objective.reference_accuracy = refs["all"].accuracy
    objective.speedup_scale = refs["none"].speedup

    methods = [args.method] + (["random"] if args.compare_random and args.method != "random" else [])
    results: dict[str, Any] = {}
    runs: dict[str, list[dict[str, Any]]] = {}
    for method in methods:
        results[method], runs[method] = _run_method(method, objective, settings, out, args)

    evaluations: dict[str, MaskEvaluation] = {e.mask: e for e in refs.values()}
    for rows in runs.values():
        for r in rows:
            ev = objective.lookup(r["mask"]) if "accuracy" in r else None
            if ev is not None:
                evaluations[ev.mask] = ev
    front = pareto_front(evaluations.values(), settings["pareto_metric"])
    found: dict[str, MaskEvaluation | None] = {}
    for method, res in results.items():
        found[method] = None if res.best_x is None else objective.lookup(res.best_x)
    elapsed = time.perf_counter() - started
    report = {
        "settings": settings,
        "references": {k: v.to_dict() for k, v in refs.items()},
        "reference_accuracy": refs["all"].accuracy,
        "found": {m: (None if e is None else {**e.to_dict(), "value": results[m].best_y}) for m, e in found.items()},
        "runs": {m: {"history": rows, "best_value_so_far": results[m].best_so_far().tolist(),
                     "n_failures": results[m].n_failures, "info": results[m].info} for m, rows in runs.items()},
        "pareto_front": [e.to_dict() for e in front],
        "evaluations": {k: v.to_dict() for k, v in sorted(evaluations.items())},
        "wall_time_s": round(elapsed, 1),
    }
    atomic_write_json(out / "bn_search.json", report, indent=1)
    plots = _plot(out, runs, refs, front, settings)
    rows = [("all BN", refs["all"]), ("no BN", refs["none"])]
    rows += [(f"found ({m})", e) for m, e in found.items() if e is not None]
    print(format_table(rows))
    if settings["objective"] == "pareto":
        print("Pareto front (accuracy vs " + settings["pareto_metric"] + "): "
              + ", ".join(f"{e.mask} ({e.accuracy:.3f}, {e.n_bn} BN)" for e in front))
    print(f"{sum(len(r) for r in runs.values())} evaluations ({', '.join(methods)}), "
          f"{len(evaluations)} masks trained in all; {elapsed:.0f} s. "
          f"Wrote {out / 'bn_search.json'}, {', '.join(str(p) for p in plots)}")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``reram-bn-search``; returns the exit status (0 ok, 2 bad input, 130 interrupted)."""
    args = build_parser().parse_args(argv)

    def body() -> None:
        run_search(args)

    return run_cli("reram-bn-search", body, interrupted_hint="continue with --resume")


if __name__ == "__main__":
    sys.exit(main())
