"""``reram-bn-search``: search which BatchNorm layers a CNN needs to train on crossbars.

Two kinds of search over 0/1 masks of a model's BN sites, each evaluation training the masked
model on the simulated chip (``--config`` + ``--hardware``: one ``reram.Chip``, whose accuracy is
measured and whose speed and energy are estimated):

* multi-objective (``--objectives accuracy,speedup`` (the default) or ``accuracy,n_bn``):
  ``reram.search.minimize_binary_multi`` with each of ``--methods`` (``mobo``, ``nsga2``,
  ``random``; same budget), reporting the Pareto front of everything evaluated and its
  hypervolume below a stated reference point;
* single-objective (``--objectives single``): ``minimize_binary`` with ``--method`` on the
  ``--objective`` scalar (and, with ``--compare-random``, random search with the same budget).

It trains the all-BN and no-BN masks first (references), then the searches, sharing every
trained mask (a per-mask cache). Evaluations run in ``--executor`` with ``--workers``; search
methods propose ``--search-batch`` masks at a time (default: one per worker) so the workers stay
busy; a worker that dies mid-training costs that evaluation only (retried ``--worker-retries``
times, then recorded as failed). It writes to ``--out``:

* ``bn_search.json``: the settings, the references, every evaluation of every method, the
  found masks, the Pareto front and (multi-objective) the hypervolume after each evaluation;
* ``convergence.png``: hypervolume (multi) or best objective and accuracy (single) against
  evaluations, per method;
* ``accuracy_vs_speedup.png`` (or ``accuracy_vs_bn.png``): every evaluated mask, the front marked;
* ``settings.json``, ``checkpoint_<method>.json`` and ``evals/`` (one file per trained mask),
  which ``--resume`` continues from without re-training anything finished.

A folder that already holds a search (its ``settings.json``) is continued with ``--resume`` or
replaced with ``--overwrite``; without either it is refused, so a finished search is never
retrained and overwritten by accident.

It ends by printing a table of the all-BN, no-BN and found masks (accuracy, BN count, estimated
speedup and energy on the same chip). Exit status: 0 done, 2 bad input (one line on stderr,
before any training; an ``--out`` that cannot be written included), 130 interrupted by Ctrl-C or
SIGTERM (resume with ``--resume``).
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
from reram.io import atomic_write_json, save_figure
from reram.apps.bn_objective import (
    BN_OBJECTIVE_MODES,
    PARETO_METRICS,
    BNObjective,
    BNObjectiveConfig,
    MaskEvaluation,
    pareto_front,
)

__all__ = ["build_parser", "main", "run_search", "REALISTIC_CHIP", "DEFAULT_HARDWARE",
           "OBJECTIVE_SETS", "TwoObjectives", "objective_pair", "reference_point", "chip_costs",
           "format_table"]

#: The main job's crossbar config (the simulated half of its chip): 128x128 tiles, each column
#: read by its own 8-bit ADC per tile (partial sums digitized per tile, then added), 8-bit inputs
#: in one 8-bit DAC phase, and EpiRAM weights updated by pulses (``update="pulsed"``, H4's
#: preset: 64 states, nonlinearity 0.5/-0.5, 2 % cycle-to-cycle variation, on/off 50.2; NeuroSim's
#: device table). ``weight_bits=cell_bits=6`` (64 levels, one device per weight) is what the cost
#: model charges for a cell. Why these: see docs/bn_search.md ("The main job").
REALISTIC_CHIP: dict[str, Any] = {
    "tile_size": 128, "weight_bits": 6, "cell_bits": 6, "input_bits": 8, "dac_bits": 8,
    "adc_bits": 8, "update": "pulsed", "device": "epiram",
}
#: The silicon of the main job's chip (timing, energy, size, link): the NeuroSim V2 preset.
DEFAULT_HARDWARE = "neurosim"
#: Values of ``--objectives``.
OBJECTIVE_SETS = ("accuracy,speedup", "accuracy,n_bn", "single")

#: Settings that a ``--resume`` must share with the search it continues.
_RESUME_FIELDS = ("model", "dataset", "data_dir", "config", "epochs", "batch_size", "lr", "seed",
                  "method", "methods", "objectives", "objective", "pareto_metric", "lam",
                  "epsilon", "max_train", "max_test", "hardware", "ref_point")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``reram-bn-search``."""
    from reram.search.executors import EXECUTOR_NAMES
    from reram.search.optimize import METHODS

    p = OneLineParser(
        prog="reram-bn-search",
        description="Search which BatchNorm layers a CNN needs to train on low-precision ReRAM "
        "crossbars: multi-objective BO (or a baseline) over 0/1 masks of its BN layers, accuracy "
        "against the chip's estimated training speedup; each evaluation trains the masked model "
        "on simulated crossbars.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--model", default="vgg11", help="model name (reram.models.MODEL_NAMES)")
    p.add_argument("--dataset", default="digits", help="digits (bundled), cifar10, mnist or fashion-mnist")
    p.add_argument("--data-dir", default=None, help="folder holding CIFAR-10 / MNIST files")
    p.add_argument("--config", default=json.dumps(REALISTIC_CHIP),
                   help="crossbar: 'float', a preset name, a JSON file or a JSON string of CrossbarConfig fields")
    p.add_argument("--hardware", default=DEFAULT_HARDWARE,
                   help="silicon of the chip whose speed and energy are estimated (a reram.Chip preset: "
                   "isaac, puma, neurosim, ...; or a JSON file); its crossbar is --config")
    p.add_argument("--epochs", type=int, default=1, help="training epochs per mask")
    p.add_argument("--batch-size", type=int, default=64, help="training batch size")
    p.add_argument("--lr", type=float, default=0.05, help="SGD learning rate (cosine schedule)")
    p.add_argument("--seed", type=int, default=0, help="seed of the training and of the search")
    p.add_argument("--max-train", type=int, default=0, help="train on the first N images only (0: all)")
    p.add_argument("--max-test", type=int, default=0, help="test on the first N images only (0: all)")
    p.add_argument("--objectives", default="accuracy,speedup", choices=OBJECTIVE_SETS,
                   help="accuracy,speedup / accuracy,n_bn: multi-objective search (Pareto front, "
                   "hypervolume); single: one scalar objective (--objective) with --method")
    p.add_argument("--methods", default="mobo,nsga2,random",
                   help="multi-objective methods, comma-separated (mobo, nsga2, random), same budget each")
    p.add_argument("--ref-accuracy", type=float, default=0.1,
                   help="accuracy of the hypervolume's reference point (0.1: chance on 10 classes); "
                   "its speedup is 0 (its BN count P + 1)")
    p.add_argument("--acquisition", default="qnehvi", choices=("qnehvi", "qnparego"),
                   help="acquisition of mobo")
    p.add_argument("--budget", type=int, default=12, help="evaluations (trainings) of each method")
    p.add_argument("--n-init", type=int, default=6,
                   help="initial design of mobo and nsga2 (nsga2's population size), at most --budget")
    p.add_argument("--method", default="bo", choices=METHODS, help="method of --objectives single")
    p.add_argument("--objective", default="constrained", choices=BN_OBJECTIVE_MODES,
                   help="of --objectives single: scalarized: -acc + lam*n_bn/P; constrained: fewest BN "
                   "with acc >= all-BN acc - epsilon; pareto: record accuracy vs --pareto-metric")
    p.add_argument("--pareto-metric", default="n_bn", choices=PARETO_METRICS,
                   help="second objective of --objective pareto")
    p.add_argument("--lam", type=float, default=0.1, help="weight of the BN fraction (scalarized, pareto)")
    p.add_argument("--epsilon", type=float, default=0.02,
                   help="accuracy (fraction) a found mask may lose against all-BN (constrained; "
                   "the 'found' mask of a front)")
    p.add_argument("--compare-random", action=argparse.BooleanOptionalAction, default=True,
                   help="--objectives single: also run random search with the same budget")
    p.add_argument("--executor", default="process", choices=EXECUTOR_NAMES, help="where evaluations run")
    p.add_argument("--workers", type=int, default=2,
                   help="masks trained in parallel (process / ray executors; 1 with inprocess)")
    p.add_argument("--search-batch", type=int, default=None,
                   help="masks a method proposes at a time (q); default: --workers")
    p.add_argument("--worker-retries", type=int, default=1,
                   help="extra attempts for a mask whose worker process died; then recorded as failed")
    p.add_argument("--device", default=None, help="torch device (default: CUDA when available)")
    p.add_argument("--threads", type=int, default=1, help="torch and numba CPU threads per training")
    p.add_argument("--out", default="results/bn_search", help="output folder")
    p.add_argument("--resume", action="store_true", help="continue the search saved in --out")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the search saved in --out (its trained masks are deleted)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or log lines")
    return p


def _multi_methods(args: argparse.Namespace) -> list[str]:
    from reram.search.multi import MULTI_METHODS

    methods = [m.strip() for m in str(args.methods).split(",") if m.strip()]
    bad = [m for m in methods if m not in MULTI_METHODS]
    if not methods or bad or len(set(methods)) != len(methods):
        raise ValueError(f"--methods must be distinct names of {', '.join(MULTI_METHODS)} separated by "
                         f"commas, got {args.methods!r}")
    return methods


def _settings(args: argparse.Namespace, objective: BNObjective) -> dict[str, Any]:
    fp = objective.fingerprint()
    multi = args.objectives != "single"
    return {
        **{k: fp[k] for k in ("model", "dataset", "data_dir", "config", "epochs", "batch_size", "lr",
                              "seed", "max_train", "max_test", "hardware")},
        "objectives": args.objectives,
        "methods": _multi_methods(args) if multi else None,
        "method": None if multi else args.method, "objective": None if multi else args.objective,
        "pareto_metric": args.objectives.split(",")[1] if multi else args.pareto_metric,
        "lam": float(args.lam), "epsilon": float(args.epsilon), "budget": int(args.budget),
        "acquisition": args.acquisition if multi else None,
        "ref_point": (reference_point(args.objectives.split(",")[1], objective.num_sites, args.ref_accuracy)
                      if multi else None),
        "num_sites": objective.num_sites, "executor": args.executor, "workers": args.workers,
        "search_batch": int(args.search_batch or args.workers),
    }


def _check_args(args: argparse.Namespace) -> Path:
    for name in ("budget", "workers", "threads", "n_init"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be a positive integer, got {getattr(args, name)}")
    if args.objectives != "single" and args.n_init < 2:
        raise ValueError(f"--n-init must be >= 2 (nsga2's population), got {args.n_init}")
    if args.search_batch is not None and args.search_batch < 1:
        raise ValueError(f"--search-batch must be a positive integer, got {args.search_batch}")
    if not 0.0 <= args.ref_accuracy < 1.0:
        raise ValueError(f"--ref-accuracy must be a fraction in [0, 1), got {args.ref_accuracy}")
    if args.worker_retries < 0:
        raise ValueError(f"--worker-retries must be an integer >= 0, got {args.worker_retries}")
    for name in ("max_train", "max_test"):
        if getattr(args, name) < 0:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 0 (0: all images), got {getattr(args, name)}")
    if args.executor == "inprocess" and args.workers != 1:
        raise ValueError(f"--workers must be 1 with --executor inprocess, got {args.workers}")
    if args.objectives != "single":
        _multi_methods(args)
    out = check_output_dir(args.out)
    if args.resume and args.overwrite:
        raise ValueError("--resume and --overwrite exclude each other: continue the search in --out or replace it")
    if not args.resume and not args.overwrite and (out / "settings.json").is_file():
        raise ValueError(f"--out {str(out)!r} holds a search already: continue it with --resume or "
                         "replace it with --overwrite")
    return out


def _validate(args: argparse.Namespace) -> tuple[BNObjective, dict[str, Any], Path]:
    """Check every input and build the objective; raises ValueError naming the bad field."""
    from reram.search.multi import default_n_init_multi
    from reram.search.optimize import default_n_init

    out = _check_args(args)
    objective = BNObjective(BNObjectiveConfig(
        model=args.model, dataset=args.dataset, data_dir=args.data_dir, config=args.config,
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
        mode=args.objective, lam=args.lam, epsilon=args.epsilon, pareto_metric=args.pareto_metric,
        hardware=args.hardware, max_train=args.max_train or None, max_test=args.max_test or None,
        cache_dir=str(out / "evals"), device=args.device, torch_threads=args.threads,
    ))
    settings = _settings(args, objective)
    if args.objectives == "single" and args.method == "exhaustive" and objective.num_sites > 20:
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
        settings["n_init"] = saved["n_init"]
        if settings["budget"] < int(saved.get("budget", 0)):
            settings["budget"] = int(saved["budget"])  # never shrink a resumed search
    elif args.objectives == "single":
        settings["n_init"] = {args.method: default_n_init(args.method, objective.num_sites, args.budget)}
    else:
        settings["n_init"] = {m: min(args.n_init, args.budget) if m in ("mobo", "nsga2")
                              else default_n_init_multi(m, objective.num_sites, args.budget)
                              for m in settings["methods"]}
    objective.prepare()  # reads the data, checks the model takes it: still no training
    return objective, settings, out


def _clear_previous(out: Path) -> None:
    """Remove the files of an earlier search in ``out`` (only the ones this CLI writes)."""
    if not (out / "settings.json").is_file():
        return
    for path in out.glob("checkpoint_*.json"):
        path.unlink()
    for name in ("bn_search.json", "convergence.png", "accuracy_vs_bn.png", "accuracy_vs_speedup.png",
                 "settings.json"):
        (out / name).unlink(missing_ok=True)
    shutil.rmtree(out / "evals", ignore_errors=True)


# ---------------------------------------------------------------- the two objectives
def objective_pair(ev: MaskEvaluation, metric: str, speedup_scale: float | None = None) -> list[float]:
    """The two values a multi-objective search minimizes for one trained mask.

    ``metric="speedup"``: ``[-accuracy, -speedup / speedup_scale]`` (``speedup_scale`` the no-BN
    mask's speedup, so the second value is in ``[-1, 0)``); ``metric="n_bn"``:
    ``[-accuracy, n_bn / P]``.

    Raises:
        ValueError: for another metric, or a mask without a speedup estimate.
    """
    if metric == "n_bn":
        return [-float(ev.accuracy), ev.n_bn / max(ev.num_sites, 1)]
    if metric != "speedup":
        raise ValueError(f"metric must be 'speedup' or 'n_bn', got {metric!r}")
    if ev.speedup is None or not speedup_scale or speedup_scale <= 0:
        raise ValueError(f"mask {ev.mask} has no speedup estimate (or the scale {speedup_scale!r} is not positive)")
    return [-float(ev.accuracy), -float(ev.speedup) / float(speedup_scale)]


def reference_point(metric: str, num_sites: int, accuracy: float = 0.1) -> list[float]:
    """The hypervolume's reference point in the minimized units of :func:`objective_pair`:
    ``accuracy`` (default 0.1, chance on 10 classes) and speedup 0 (``[-accuracy, 0]``), or
    ``accuracy`` and ``P + 1`` BN layers (``[-accuracy, (P + 1) / P]``, so the all-BN mask
    counts). A mask counts only if it trains better than the reference accuracy, so a fast mask
    at chance level adds nothing."""
    return [-float(accuracy), 0.0] if metric == "speedup" else [-float(accuracy), (num_sites + 1) / num_sites]


class TwoObjectives:
    """Accuracy and speedup (or BN count) of a mask, as ``minimize_binary_multi`` minimizes them.

    Picklable (a process or Ray worker gets a copy of the BN objective without its data)."""

    def __init__(self, objective: Any, metric: str, speedup_scale: float | None = None) -> None:
        if metric not in ("speedup", "n_bn"):
            raise ValueError(f"metric must be 'speedup' or 'n_bn', got {metric!r}")
        self.objective, self.metric, self.speedup_scale = objective, metric, speedup_scale

    def __call__(self, x: np.ndarray) -> list[float]:
        return objective_pair(self.objective.evaluate(x), self.metric, self.speedup_scale)


class _Train:
    """Train a mask (in a worker); returns its accuracy. Used for the references."""

    def __init__(self, objective: BNObjective) -> None:
        self.objective = objective

    def __call__(self, x: np.ndarray) -> float:
        return float(self.objective.evaluate(x).accuracy)


def chip_costs(objective: BNObjective, bits: str) -> dict[str, float | None]:
    """Speedup, throughput and energy of one mask's training on the objective's chip
    (:meth:`BNObjective.plan_of`, the chip whose accuracy was measured): ``energy_mj`` per
    training sample on the chip, ``energy_ratio`` = GPU-only energy / chip energy."""
    plan = objective.plan_of(bits)
    if plan is None:
        return {"speedup": None, "throughput": None, "energy_mj": None, "energy_ratio": None}
    return {"speedup": float(plan.speedup_vs_gpu), "throughput": float(plan.throughput),
            "energy_mj": 1e3 * float(plan.energy_j) / plan.batch_size,
            "energy_ratio": float(plan.energy_ratio_vs_gpu)}


def _make_executor(args: argparse.Namespace) -> Any:
    from reram.search.executors import InProcessExecutor, ProcessExecutor, RayExecutor

    if args.executor == "process":
        return ProcessExecutor(max_workers=args.workers, max_retries=args.worker_retries)
    if args.executor == "ray":
        return RayExecutor(num_cpus=args.workers, max_retries=args.worker_retries)
    return InProcessExecutor()


def _references(objective: BNObjective, executor: Any, log: Any) -> dict[str, MaskEvaluation]:
    """Train the all-BN and no-BN masks (in parallel on the executor's workers)."""
    masks = {"all": np.ones(objective.num_sites, dtype=np.int64),
             "none": np.zeros(objective.num_sites, dtype=np.int64)}
    cached = {k: objective.lookup(m) is not None for k, m in masks.items()}
    todo = [k for k in masks if not cached[k]]
    for i, outcome in executor.run(_Train(objective), [masks[k] for k in todo]):
        if outcome.error is not None:
            raise RuntimeError(f"training the {todo[i]}-BN reference failed: {outcome.error}")
    refs = {}
    for key, mask in masks.items():
        refs[key] = objective.evaluate(mask)  # from the cache the workers wrote
        log(f"reference {key + ' BN':<8} {refs[key].mask}: accuracy {refs[key].accuracy:.3f}"
            f"{' (saved)' if cached[key] else f' ({refs[key].train_time_s:.0f} s)'}")
    return refs


def _record_row(rec: Any, ev: MaskEvaluation | None) -> dict[str, Any]:
    row = {"index": rec.index, "mask": "".join(str(v) for v in rec.x), "value": rec.y,
           "error": rec.error, "time_s": round(rec.time_s, 3)}
    if ev is not None:
        row.update(accuracy=ev.accuracy, n_bn=ev.n_bn, speedup=ev.speedup, throughput=ev.throughput,
                   train_time_s=ev.train_time_s)
    return row


def _plot_single(out: Path, runs: dict[str, list[dict[str, Any]]], refs: dict[str, MaskEvaluation],
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
    save_figure(fig, paths[-1])

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
    save_figure(fig, paths[-1])
    return paths


def _plot_multi(out: Path, runs: dict[str, dict[str, Any]], refs: dict[str, MaskEvaluation],
                evaluations: dict[str, MaskEvaluation], front: list[MaskEvaluation],
                settings: dict[str, Any]) -> list[Path]:
    """Hypervolume against evaluations per method; accuracy against speedup (or BN) with the front."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metric = settings["pareto_metric"]
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for method, run in runs.items():
        hv = run["hypervolume_history"]
        ax.step(np.arange(1, len(hv) + 1), hv, where="post", marker="o", ms=3, label=method)
    ax.set(xlabel="evaluation", ylabel="hypervolume of the front so far",
           title=f"{settings['model']}: hypervolume (ref. point {settings['ref_point']})")
    ax.legend()
    fig.tight_layout()
    paths = [out / "convergence.png"]
    save_figure(fig, paths[-1])

    def xval(ev: MaskEvaluation) -> float:
        return float(ev.speedup) if metric == "speedup" else float(ev.n_bn)

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    markers = {"mobo": "o", "nsga2": "s", "random": "x"}
    for method, run in runs.items():
        pts = [evaluations[r["mask"]] for r in run["history"] if r["mask"] in evaluations and r["error"] is None]
        if pts:
            ax.scatter([xval(e) for e in pts], [e.accuracy for e in pts], marker=markers.get(method, "o"),
                       alpha=0.6, label=method)
    fx = [xval(e) for e in front]
    ax.step(fx, [e.accuracy for e in front], where="pre" if metric == "speedup" else "post",
            color="k", ls="--", lw=1)
    ax.scatter(fx, [e.accuracy for e in front], facecolors="none", edgecolors="k", s=90,
               label="Pareto front (all methods)")
    for key, style in (("all", "v"), ("none", "D")):
        ax.scatter([xval(refs[key])], [refs[key].accuracy], marker=style, s=70, c="red",
                   label=f"{key} BN" if key == "all" else "no BN")
    ax.set(xlabel="estimated training speedup vs GPU (same chip)" if metric == "speedup"
           else f"BN layers kept (of {settings['num_sites']})", ylabel="test accuracy",
           title=f"{settings['model']} on {settings['dataset']}: accuracy vs "
                 + ("speedup" if metric == "speedup" else "BN count"))
    ax.legend(fontsize=8)
    fig.tight_layout()
    paths.append(out / ("accuracy_vs_speedup.png" if metric == "speedup" else "accuracy_vs_bn.png"))
    save_figure(fig, paths[-1])
    return paths


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None or (isinstance(value, float) and not math.isfinite(value)) else format(value, spec)


def format_table(rows: list[tuple[str, MaskEvaluation, dict[str, float | None]]]) -> str:
    """The final table: one line per (label, evaluation, chip costs of :func:`chip_costs`)."""
    width = max(6, rows[0][1].num_sites)
    head = (f"{'':<16} {'mask':<{width}} {'BN':>5} {'accuracy':>9} {'speedup':>8} {'samples/s':>10} "
            f"{'mJ/sample':>10} {'energy vs GPU':>13}")
    lines = [head, "-" * len(head)]
    for label, ev, cost in rows:
        lines.append(f"{label:<16} {ev.mask:<{width}} {ev.n_bn:>2}/{ev.num_sites:<2} {ev.accuracy:>9.3f} "
                     f"{_fmt(cost.get('speedup'), '.2f') + 'x':>8} {_fmt(cost.get('throughput'), '.0f'):>10} "
                     f"{_fmt(cost.get('energy_mj'), '.3f'):>10} {_fmt(cost.get('energy_ratio'), '.2f') + 'x':>13}")
    return "\n".join(lines)


def _progress(method: str, budget: int, done: int, quiet: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=budget, initial=done, desc=f"bn-search[{method}]", unit="eval", disable=quiet,
                dynamic_ncols=True)


def _run_single(method: str, objective: BNObjective, settings: dict[str, Any], out: Path,
                executor: Any, quiet: bool) -> tuple[Any, list[dict[str, Any]]]:
    """One ``minimize_binary`` run with a tqdm bar; returns the result and per-evaluation rows."""
    from reram.search.checkpoint import load_checkpoint
    from reram.search.optimize import default_n_init, minimize_binary

    ckpt = out / f"checkpoint_{method}.json"
    saved = load_checkpoint(ckpt)
    n_init = settings["n_init"].get(method, default_n_init(method, objective.num_sites, settings["budget"]))
    best = {"acc": -math.inf, "value": math.inf}
    bar = _progress(method, settings["budget"], 0 if saved is None else len(saved.history), quiet)

    def note(rec: Any) -> MaskEvaluation | None:
        ev = objective.lookup(rec.x) if rec.ok else None
        if ev is not None:
            best["acc"], best["value"] = max(best["acc"], ev.accuracy), min(best["value"], rec.y)
        return ev

    for rec in [] if saved is None else saved.history:
        note(rec)

    def on_record(rec: Any) -> None:
        ev = note(rec)
        bar.update(1)
        bar.set_postfix(mask="".join(map(str, rec.x)), acc=None if ev is None else round(ev.accuracy, 3),
                        best_value=round(best["value"], 4), best_acc=round(best["acc"], 3))

    try:
        result = minimize_binary(objective, dim=objective.num_sites, budget=settings["budget"],
                                 method=method, n_init=n_init if n_init > 0 else None, seed=settings["seed"],
                                 batch_size=settings["search_batch"], executor=executor, checkpoint=ckpt,
                                 callback=on_record)
    finally:
        bar.close()
    rows = [_record_row(rec, objective.lookup(rec.x) if rec.ok else None) for rec in result.history]
    return result, rows


def _run_multi(method: str, objective: BNObjective, settings: dict[str, Any], out: Path,
               executor: Any, quiet: bool) -> Any:
    """One ``minimize_binary_multi`` run with a tqdm bar showing the hypervolume so far."""
    from reram.search.checkpoint import load_checkpoint
    from reram.search.multi import minimize_binary_multi
    from reram.search.pareto import hypervolume

    ckpt = out / f"checkpoint_{method}.json"
    saved = load_checkpoint(ckpt)
    ref = settings["ref_point"]
    ys = [] if saved is None else [r.y for r in saved.history if r.ok]
    bar = _progress(method, settings["budget"], 0 if saved is None else len(saved.history), quiet)

    def on_record(rec: Any) -> None:
        if rec.ok:
            ys.append(rec.y)
        bar.update(1)
        bar.set_postfix(mask="".join(map(str, rec.x)), acc=None if not rec.ok else round(-rec.y[0], 3),
                        hv=round(hypervolume(np.asarray(ys), ref), 4) if ys else 0.0,
                        failed=None if rec.ok else "yes")

    options = None
    if method == "mobo":
        from reram.search.mobo import MOBOOptions

        options = MOBOOptions(acquisition=settings["acquisition"])
    elif method == "nsga2":
        from reram.search.nsga2 import NSGA2Options

        options = NSGA2Options(pop_size=max(2, settings["n_init"][method]))
    metric = settings["pareto_metric"]
    fn = TwoObjectives(objective, metric, objective.speedup_scale if metric == "speedup" else None)
    try:
        return minimize_binary_multi(fn, dim=objective.num_sites, budget=settings["budget"], ref_point=ref,
                                     method=method, n_init=settings["n_init"][method] or None,
                                     seed=settings["seed"], batch_size=settings["search_batch"],
                                     executor=executor, checkpoint=ckpt, callback=on_record, options=options)
    finally:
        bar.close()


def _found_on_front(front: list[MaskEvaluation], reference: float, epsilon: float,
                    metric: str) -> MaskEvaluation | None:
    """The mask a front offers: the fastest (fewest BN) with accuracy >= all-BN - epsilon; if none
    clears that bar, the most accurate."""
    if not front:
        return None
    ok = [e for e in front if e.accuracy >= reference - epsilon - 1e-12]
    if not ok:
        return max(front, key=lambda e: e.accuracy)
    if metric == "speedup":
        return max(ok, key=lambda e: (e.speedup or 0.0, e.accuracy))
    return min(ok, key=lambda e: (e.n_bn, -e.accuracy))


def _search_multi(objective: BNObjective, settings: dict[str, Any], out: Path, executor: Any,
                  refs: dict[str, MaskEvaluation], quiet: bool) -> dict[str, Any]:
    """Every method of ``settings["methods"]``; returns the report's runs, front and found masks."""
    metric = settings["pareto_metric"]
    runs: dict[str, dict[str, Any]] = {}
    evaluations: dict[str, MaskEvaluation] = {e.mask: e for e in refs.values()}
    found: dict[str, MaskEvaluation | None] = {}
    for method in settings["methods"]:
        res = _run_multi(method, objective, settings, out, executor, quiet)
        rows = [_record_row(rec, objective.lookup(rec.x) if rec.ok else None) for rec in res.history]
        mine = [objective.lookup(x) for x in res.pareto_x]
        for ev in mine:
            evaluations[ev.mask] = ev
        for r in rows:
            if "accuracy" in r:
                evaluations[r["mask"]] = objective.lookup(r["mask"])
        found[method] = _found_on_front(pareto_front(mine, metric), refs["all"].accuracy,
                                        settings["epsilon"], metric)
        runs[method] = {"history": rows, "hypervolume": res.hypervolume,
                        "hypervolume_history": res.hypervolume_history.tolist(),
                        "front": ["".join(map(str, x)) for x in res.pareto_x],
                        "front_values": res.pareto_y.tolist(), "n_failures": res.n_failures,
                        "info": res.info}
    return {"runs": runs, "evaluations": evaluations, "found": found,
            "front": pareto_front(evaluations.values(), metric)}


def _search_single(objective: BNObjective, settings: dict[str, Any], out: Path, executor: Any,
                   refs: dict[str, MaskEvaluation], args: argparse.Namespace) -> dict[str, Any]:
    """``--method`` (and random search with ``--compare-random``) on the scalar objective."""
    methods = [args.method] + (["random"] if args.compare_random and args.method != "random" else [])
    runs: dict[str, dict[str, Any]] = {}
    evaluations: dict[str, MaskEvaluation] = {e.mask: e for e in refs.values()}
    found: dict[str, MaskEvaluation | None] = {}
    for method in methods:
        res, rows = _run_single(method, objective, settings, out, executor, args.quiet)
        for r in rows:
            if "accuracy" in r:
                evaluations[r["mask"]] = objective.lookup(r["mask"])
        found[method] = None if res.best_x is None else objective.lookup(res.best_x)
        runs[method] = {"history": rows, "best_value_so_far": res.best_so_far().tolist(),
                        "best_value": res.best_y, "n_failures": res.n_failures, "info": res.info}
    return {"runs": runs, "evaluations": evaluations, "found": found,
            "front": pareto_front(evaluations.values(), settings["pareto_metric"])}


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

    executor = _make_executor(args)
    try:
        refs = _references(objective, executor, log)
        objective.reference_accuracy = refs["all"].accuracy
        objective.speedup_scale = refs["none"].speedup
        multi = settings["objectives"] != "single"
        if multi:
            done = _search_multi(objective, settings, out, executor, refs, args.quiet)
        else:
            done = _search_single(objective, settings, out, executor, refs, args)
    finally:
        executor.close()
    return _finish(objective, settings, out, refs, done, time.perf_counter() - started)


def _finish(objective: BNObjective, settings: dict[str, Any], out: Path, refs: dict[str, MaskEvaluation],
            done: dict[str, Any], elapsed: float) -> dict[str, Any]:
    """Write the report and plots, print the table."""
    multi = settings["objectives"] != "single"
    costs = {bits: chip_costs(objective, bits) for bits in
             [refs["all"].mask, refs["none"].mask] + [e.mask for e in done["found"].values() if e is not None]
             + [e.mask for e in done["front"]]}
    runs, front, found = done["runs"], done["front"], done["found"]
    report = {
        "settings": settings, "chip": objective.chip.name, "chip_config": objective.chip.config.to_dict(),
        "references": {k: {**v.to_dict(), **costs[v.mask]} for k, v in refs.items()},
        "reference_accuracy": refs["all"].accuracy, "speedup_scale": objective.speedup_scale,
        "found": {m: (None if e is None else {**e.to_dict(), **costs[e.mask]}) for m, e in found.items()},
        "runs": runs,
        "pareto_front": [{**e.to_dict(), **costs[e.mask]} for e in front],
        "evaluations": {k: v.to_dict() for k, v in sorted(done["evaluations"].items())},
        "wall_time_s": round(elapsed, 1),
    }
    if multi:
        from reram.search.pareto import hypervolume

        pts = [objective_pair(e, settings["pareto_metric"], objective.speedup_scale)
               for e in done["evaluations"].values()]
        report["hypervolume_all_methods"] = hypervolume(np.asarray(pts), settings["ref_point"])
    atomic_write_json(out / "bn_search.json", report, indent=1)
    if multi:
        plots = _plot_multi(out, runs, refs, done["evaluations"], front, settings)
    else:
        plots = _plot_single(out, {m: r["history"] for m, r in runs.items()}, refs, front, settings)
    rows = [("all BN", refs["all"], costs[refs["all"].mask]), ("no BN", refs["none"], costs[refs["none"].mask])]
    rows += [(f"found ({m})", e, costs[e.mask]) for m, e in found.items() if e is not None]
    if multi:
        rows += [("front", e, costs[e.mask]) for e in front]
    print(format_table(rows))
    _print_summary(settings, runs, report, front, len(done["evaluations"]), elapsed, out, plots)
    return report


def _print_summary(settings: dict[str, Any], runs: dict[str, Any], report: dict[str, Any],
                   front: list[MaskEvaluation], n_masks: int, elapsed: float, out: Path,
                   plots: list[Path]) -> None:
    if settings["objectives"] != "single":
        unit = ("(-accuracy, -speedup / no-BN speedup)" if settings["pareto_metric"] == "speedup"
                else "(-accuracy, BN / P)")
        print(f"hypervolume, reference point {settings['ref_point']} in {unit}: "
              + ", ".join(f"{m} {r['hypervolume']:.4f}" for m, r in runs.items())
              + f"; all methods together {report['hypervolume_all_methods']:.4f}")
        failed = sum(r["n_failures"] for r in runs.values())
        if failed:
            print(f"{failed} evaluation(s) failed (see bn_search.json)")
    elif settings["objective"] == "pareto":
        print("Pareto front (accuracy vs " + settings["pareto_metric"] + "): "
              + ", ".join(f"{e.mask} ({e.accuracy:.3f}, {e.n_bn} BN)" for e in front))
    print(f"{sum(len(r['history']) for r in runs.values())} evaluations ({', '.join(runs)}), "
          f"{n_masks} masks trained in all; {elapsed:.0f} s. "
          f"Wrote {out / 'bn_search.json'}, {', '.join(str(p) for p in plots)}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``reram-bn-search``; returns the exit status (0 ok, 2 bad input, 130 interrupted)."""
    args = build_parser().parse_args(argv)

    def body() -> None:
        run_search(args)

    return run_cli("reram-bn-search", body, interrupted_hint="continue with --resume")


if __name__ == "__main__":
    sys.exit(main())
