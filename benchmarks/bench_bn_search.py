"""The BN search at scale (issue 13): vgg11 (8 BN sites) and resnet20 (21) on the digits, on the
main job's realistic chip (``reram.apps.bn_search.BNSearchSettings``' defaults: the
``neurosim-epiram`` crossbar preset (per-tile 8-bit ADC, EpiRAM pulsed updates) costed on the
``neurosim`` silicon).

Every trained mask goes to a per-mask cache on disk (``--cache-dir``, one JSON file per mask,
written atomically), so a killed run loses at most the masks in training, and every method and
seed reuses every mask trained once. Parts:

* ``time``: train the all-BN and no-BN masks of a model once and print wall and CPU time.
* ``enumerate``: train all 2^P masks of a model (``--workers`` processes sharing the cache) and
  store the table with a header (command, settings, date, commit, wall and CPU time) as
  ``tests/fixtures/<model>_digits_exhaustive.json``.
* ``study``: single-objective ``bo``, ``random``, ``greedy``, ``anneal`` (``--objective
  constrained``, the default, or ``scalarized``: ``-accuracy + 0.1 * n_bn / P``; stored in the
  study file, which refuses to be extended with the other) and multi-objective ``mobo``,
  ``nsga2``, ``random`` (accuracy against the chip's estimated speedup) over seeds. With
  ``--lookup`` the masks are read from the stored exhaustive table (no training); otherwise each
  new mask is trained (and cached). One JSON file per (model, part, method) under
  ``benchmarks/results/bn_search_study/``.
* ``report``: the table (seeds reaching the target, median evaluations) and the hypervolume plot
  from the study files: ``benchmarks/results/bn_search_study.md`` and
  ``docs/img/bn_search_hypervolume.png``.

The target of the single-objective comparison is the best fewest-BN mask (constrained optimum:
fewest BN with accuracy >= all-BN - epsilon, then the most accurate): for vgg11 the true one from
the exhaustive table, for resnet20 the best found by any method in any seed. A seed reaches it at
the first evaluation of a mask with no more BN layers and accuracy within ``--tolerance``. On the
scalarized objective (resnet20: on this chip all-BN trains worse than no BN, so the constrained
optimum is the no-BN mask) the target is the best scalarized value found by any method in any
seed, reached at the first evaluation within ``--tolerance`` of it. Seeds run seed-major (seed 0
of every method, then seed 1, ...), so an interrupted study has whole seeds for every method.

Usage::

    python benchmarks/bench_bn_search.py time --model vgg11
    python benchmarks/bench_bn_search.py enumerate --model vgg11 --workers 2
    python benchmarks/bench_bn_search.py study --model vgg11 --lookup --seeds 10 --budget 25
    python benchmarks/bench_bn_search.py study --model resnet20 --seeds 10 --budget 20 --objective scalarized
    python benchmarks/bench_bn_search.py report
"""
from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from reram.apps import bn_study
from reram.apps.bn_cost import CostTable, search_chip
from reram.apps.bn_objective import (MaskEvaluation, MaskTrainer, MaskTraining, StoredEvaluations, objective_pair,
                                     reference_point)
from reram.io import atomic_write_json, atomic_write_text
from reram.runtime import set_threads

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
RESULTS = Path(__file__).resolve().parent / "results"
STUDY = RESULTS / "bn_search_study"
DEFAULT_CACHE = ROOT / "results" / "bn_search_study_evals"
SINGLE = ("bo", "random", "greedy", "anneal")
MULTI = ("mobo", "nsga2", "random")
OBJECTIVES = ("constrained", "scalarized")
STUDY_LAM = 0.1  # weight of the BN fraction in the scalarized objective


def fixture_path(model: str) -> Path:
    """Where the exhaustive table of a model is stored (``vgg-digits``: the 64-mask table of the
    earlier main job: 4-bit nearest crossbar, ideal ADC, 3 epochs; see docs/bn_search.md)."""
    if model == "vgg-digits":
        return FIXTURES / "digits_exhaustive.json"
    return FIXTURES / f"{model}_digits_exhaustive.json"


def study_settings(model: str) -> dict[str, Any]:
    """The training of one mask in the study: the main job's chip and training
    (``BNSearchSettings``' defaults), for ``model``; for ``vgg-digits`` those its stored table
    was trained with."""
    from reram.apps.bn_search import BNSearchSettings

    if model == "vgg-digits":
        doc = json.loads(fixture_path(model).read_text(encoding="utf-8"))
        return {**doc["header"]["objective_settings"], "epsilon": 0.02}
    d = BNSearchSettings(model=model)
    return {"model": model, "dataset": d.dataset, "config": d.config, "epochs": d.epochs,
            "batch_size": d.batch_size, "lr": d.lr, "seed": d.seed, "hardware": d.chip,
            "max_train": d.max_train, "max_test": d.max_test, "epsilon": d.epsilon}


def make_trainer(model: str, cache_dir: str | Path | None, threads: int = 1) -> MaskTrainer:
    """The study's trainer of ``model`` with its per-mask cache."""
    s = study_settings(model)
    return MaskTrainer(MaskTraining(model=model, dataset=s["dataset"], config=s["config"], epochs=s["epochs"],
                                    batch_size=s["batch_size"], lr=s["lr"], seeds=(s["seed"],),
                                    max_train=s["max_train"], max_test=s["max_test"]),
                       cache_dir=cache_dir, threads=threads)


def make_costs(model: str, trainer: MaskTrainer) -> CostTable:
    """The cost table of the study's chip (the settings' hardware with the trained config)."""
    return CostTable(trainer, search_chip(study_settings(model)["hardware"], trainer.training.config))


def command_line() -> str:
    """This run's command, with paths inside the repository made relative."""
    return bn_study.command_line("benchmarks/bench_bn_search.py", sys.argv[1:], ROOT)


# ---------------------------------------------------------------- time and enumerate
def time_masks(model: str, cache_dir: str, threads: int) -> int:
    """Train the all-BN and no-BN masks (into the cache, if not there) and print wall and CPU time."""
    set_threads(threads)
    obj = make_trainer(model, cache_dir, threads)
    costs = make_costs(model, obj)
    for mask in ("1" * obj.num_sites, "0" * obj.num_sites):
        wall, cpu = time.perf_counter(), time.process_time()
        ev = obj.evaluate(mask)
        print(f"{model} {mask}: accuracy {ev.accuracy:.3f}, speedup {costs.cost(mask).speedup:.2f}x, "
              f"wall {time.perf_counter() - wall:.1f} s, CPU {time.process_time() - cpu:.1f} s"
              f"{' (cached: training time ' + format(ev.train_time_s, '.1f') + ' s wall)' if time.process_time() - cpu < 0.5 else ''}, "
              f"load {os.getloadavg()[0]:.1f}", flush=True)
    return 0


def _train_one(job: tuple[str, str, str, int]) -> dict[str, Any]:
    """Worker: train one mask (or read it from the cache); returns its row and CPU time."""
    model, cache_dir, mask, threads = job
    set_threads(threads)
    obj = make_trainer(model, cache_dir, threads)
    cached = obj.lookup(mask) is not None
    cpu = time.process_time()
    ev = obj.evaluate(mask)
    return {"evaluation": ev.to_dict(), "cached": cached, "cpu_s": time.process_time() - cpu}


def _fixture_header(model: str, obj: MaskTrainer, workers: int, threads: int, wall: float,
                    cpu_total: float, reused: int, rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    done = len(rows)
    p = obj.num_sites
    return {
        "what": f"test accuracy and estimated speedup of every BN mask of {model} on the digits, "
                "each trained once on the main job's simulated chip (the exhaustive ground truth "
                "of the BN search)",
        "complete": done == 2 ** p,
        "masks_done": done,
        "order": "all-BN first, then by BN count (0, 1, 2, ... BN layers), random within a count "
                 "(seed 12345): an incomplete table is exhaustive up to the BN count it reached",
        "command": command_line(),
        "objective_settings": {**obj.training.fingerprint(), "hardware": study_settings(model)["hardware"]},
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "wall_time_s_this_run": round(wall, 1),
        "cpu_time_s_of_trainings_this_run": round(cpu_total, 1),
        "masks_reused_from_cache": int(reused),
        "sum_of_train_time_s": round(sum(float(e.get("train_time_s", 0.0)) for e in rows.values()), 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores shared with other jobs (load "
                   f"average {os.getloadavg()[0]:.1f} at writing), {workers} worker process(es), "
                   f"{threads} torch thread(s) each",
        "num_sites": p,
        "code": bn_study.code_version(ROOT),
        "note": "files already in the cache (same training fingerprint) are reused; wall times "
                "are slowed by other jobs on the machine, CPU time is the figure to read",
    }


def enumerate_masks(model: str, cache_dir: str, threads: int, workers: int, train: bool = True,
                    note: str = "") -> int:
    """Train all 2^P masks (by BN count, `workers` processes) and write the fixture, also every
    16 masks while it runs (``"complete": false``). ``train=False``: write it from the masks in
    the cache only."""
    import signal

    obj = make_trainer(model, cache_dir, threads)
    p = obj.num_sites
    if p > 12:
        raise ValueError(f"--model {model} has {p} BN sites: 2^{p} masks are too many to enumerate")
    masks = bn_study.exhaustive_order(p)
    jobs = [(model, cache_dir, m, threads) for m in masks]
    started, cpu_total, reused = time.perf_counter(), 0.0, 0
    rows: dict[str, dict[str, Any]] = {}
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM: the pool is terminated

    def write() -> None:
        header = _fixture_header(model, obj, workers, threads, time.perf_counter() - started, cpu_total,
                                 reused, rows)
        table = [rows[m] for m in sorted(rows)]
        if note:
            header["how_the_cache_was_filled"] = note
        atomic_write_json(fixture_path(model), {"header": header, "evaluations": table}, indent=1)

    if not train:
        for m in masks:
            ev = obj.lookup(m)
            if ev is not None:
                rows[m] = ev.to_dict()
                reused += 1
        write()
        print(f"wrote {fixture_path(model)} from the cache: {len(rows)} of {len(masks)} masks")
        return 0
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers, maxtasksperchild=64) as pool:
        for k, out in enumerate(pool.imap(_train_one, jobs), 1):
            ev = out["evaluation"]
            rows[ev["mask"]] = ev
            reused += out["cached"]
            cpu_total += 0.0 if out["cached"] else out["cpu_s"]
            took = "(cached)" if out["cached"] else f"({ev['train_time_s']:.0f} s wall, {out['cpu_s']:.0f} s CPU)"
            print(f"[{k:3d}/{len(masks)}] {ev['mask']} BN {ev['n_bn']}: accuracy {ev['accuracy']:.3f} {took}"
                  f" load {os.getloadavg()[0]:.1f}", flush=True)
            if k % 16 == 0:
                write()
    write()
    wall = time.perf_counter() - started
    print(f"wrote {fixture_path(model)} ({len(rows)} masks, {wall:.0f} s wall, {cpu_total:.0f} s CPU "
          f"of trainings, {reused} from cache)")
    return 0


# ---------------------------------------------------------------- study
_TABLES: dict[str, tuple[list[MaskEvaluation], dict[str, Any], CostTable]] = {}


def _load_table(model: str) -> tuple[list[MaskEvaluation], dict[str, Any], CostTable]:
    """The stored table of a model, and the cost table of the chip it was trained on (today's
    cost model: speeds are never read from the file)."""
    if model in _TABLES:
        return _TABLES[model]
    doc = json.loads(fixture_path(model).read_text(encoding="utf-8"))
    header, table = doc["header"], [MaskEvaluation.from_dict(e) for e in doc["evaluations"]]
    header.setdefault("num_sites", table[0].num_sites)
    header.setdefault("complete", len({e.mask for e in table}) == 2 ** table[0].num_sites)
    fp = dict(header["objective_settings"])
    trainer = MaskTrainer(MaskTraining(**{k: fp[k] for k in ("model", "dataset", "config", "epochs", "batch_size",
                                                             "lr", "max_train", "max_test") if k in fp},
                                       seeds=(fp.get("seed", 0),)))
    _TABLES[model] = (table, header, CostTable(trainer, search_chip(fp["hardware"], trainer.training.config)))
    return _TABLES[model]


def _objective(model: str, cache_dir: str, lookup: bool, threads: int) -> tuple[Any, CostTable]:
    """The masks of the study (the stored table, or training, cached) and the chip's costs."""
    if lookup:
        table, header, costs = _load_table(model)
        if not header.get("complete"):
            raise ValueError(f"--lookup: {fixture_path(model)} is incomplete ({header.get('masks_done')} masks)")
        return StoredEvaluations(table), costs
    if model == "vgg-digits":
        raise ValueError("vgg-digits is studied on its stored table only (--lookup)")
    trainer = make_trainer(model, cache_dir, threads)
    return trainer, make_costs(model, trainer)


def study_objective(doc: dict[str, Any]) -> str | None:
    """The single objective a study file was made with (files without one: ``constrained``);
    ``None`` for multi-objective files."""
    if doc["kind"] != "single":
        return None
    return doc["settings"].get("objective", "constrained")


def _study_doc(model: str, kind: str, method: str, budget: int, lookup: bool,
               objective: str | None) -> tuple[Path, dict[str, Any]]:
    """The study file of (model, kind, method), or a new one; refuses other settings."""
    path = STUDY / f"{model}_{kind}_{method}.json"
    settings = study_settings(model)
    if objective is not None:
        settings.update(objective=objective, lam=STUDY_LAM)
    doc = json.loads(path.read_text()) if path.is_file() else {
        "model": model, "kind": kind, "method": method, "budget": budget, "lookup": lookup,
        "settings": settings, "runs": {}}
    if doc["budget"] != budget or doc["lookup"] != lookup:
        raise ValueError(f"{path} holds budget {doc['budget']}, lookup {doc['lookup']}; got "
                         f"{budget}, {lookup}: use the same or remove the file")
    if study_objective(doc) != objective:
        raise ValueError(f"{path} was made with --objective {study_objective(doc)}; got "
                         f"{objective}: use the same or remove the file")
    return path, doc


def run_study(model: str, kind: str, methods: Sequence[str], seeds: int, budget: int, cache_dir: str,
              lookup: bool, threads: int, objective: str | None = None) -> int:
    """Every (method, seed) not yet in the study files; one file per (model, kind, method).

    Seed-major: seed 0 of every method, then seed 1, ..., so an interrupted study has whole
    seeds for every method. ``objective``: ``constrained`` (default) or ``scalarized`` for
    ``kind="single"``; must be ``None`` for ``"multi"``."""
    allowed = SINGLE if kind == "single" else MULTI
    for method in methods:
        if method not in allowed:
            raise ValueError(f"--methods of {kind} must be among {', '.join(allowed)}, got {method!r}")
    if kind == "single":
        objective = objective or "constrained"
        if objective not in OBJECTIVES:
            raise ValueError(f"--objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    elif objective is not None:
        raise ValueError("--objective applies to --kind single only")
    docs = {m: _study_doc(model, kind, m, budget, lookup, objective) for m in methods}
    set_threads(threads)
    for seed in range(seeds):
        for method, (path, doc) in docs.items():
            if str(seed) in doc["runs"]:
                continue
            obj, costs = _objective(model, cache_dir, lookup, threads)
            run = bn_study.study_run(obj, costs, kind, method, seed, budget, objective or "constrained",
                                     study_settings(model)["epsilon"], STUDY_LAM)
            doc["runs"][str(seed)] = run
            doc["command"] = command_line()
            atomic_write_json(path, doc, indent=None)
            last = run["hypervolume_history"][-1] if run["hypervolume_history"] else None
            print(f"{model} {kind} {method} seed {seed}: {run['time_s']:.0f} s"
                  + (f", hypervolume {last:.4f}" if last is not None else "")
                  + f", load {os.getloadavg()[0]:.1f}", flush=True)
    return 0


# ---------------------------------------------------------------- report
def _constrained_target(evs: Sequence[MaskEvaluation], reference: float, epsilon: float
                        ) -> MaskEvaluation | None:
    feasible = [e for e in evs if e.accuracy >= reference - epsilon - 1e-12]
    return min(feasible, key=lambda e: (e.n_bn, -e.accuracy, e.mask)) if feasible else None


def _single_target(model: str, docs: list[dict[str, Any]]) -> tuple[MaskEvaluation | None, str]:
    """The target of the single-objective table and where it comes from."""
    eps = study_settings(model)["epsilon"]
    known: dict[str, MaskEvaluation] = {}
    exhaustive_to = -1
    if fixture_path(model).is_file():
        table, header, _ = _load_table(model)
        known.update({e.mask: e for e in table})
        p = header["num_sites"]
        from math import comb

        counts = [sum(e.n_bn == k for e in table) for k in range(p + 1)]
        while exhaustive_to + 1 <= p and counts[exhaustive_to + 1] == comb(p, exhaustive_to + 1):
            exhaustive_to += 1
    for doc in docs:
        for run in doc["runs"].values():
            for m, a, n, sp in zip(run["masks"], run["accuracy"], run["n_bn"], run["speedup"]):
                if a is not None:
                    known.setdefault(m, MaskEvaluation(mask=m, n_bn=n, num_sites=len(m), accuracy=a, speedup=sp))
    full = next((e for e in known.values() if e.n_bn == e.num_sites), None)
    if full is None:
        return None, "no all-BN evaluation"
    target = _constrained_target(list(known.values()), full.accuracy, eps)
    if target is not None and target.n_bn <= exhaustive_to:
        return target, f"exact: every mask with <= {exhaustive_to} BN layers was trained (exhaustive table)"
    return target, ("the best among all masks evaluated by any method in any seed and in the stored table "
                    "(not exact: not every mask with fewer BN layers was trained)")


def _reach(run: dict[str, Any], target: MaskEvaluation, tolerance: float) -> int | None:
    for k, (a, n) in enumerate(zip(run["accuracy"], run["n_bn"]), 1):
        if a is not None and n <= target.n_bn and a >= target.accuracy - tolerance - 1e-12:
            return k
    return None


def scalarized_value(accuracy: float, n_bn: int, num_sites: int, lam: float) -> float:
    """The scalarized objective of one evaluation: ``-accuracy + lam * n_bn / P``."""
    return -accuracy + lam * n_bn / num_sites


def _run_values(run: dict[str, Any], lam: float) -> list[float | None]:
    """The scalarized value of each evaluation of a run (``None``: failed)."""
    return [None if a is None else scalarized_value(a, n, len(m), lam)
            for m, a, n in zip(run["masks"], run["accuracy"], run["n_bn"])]


def _scalarized_lines(model: str, docs: list[dict[str, Any]], tolerance: float,
                      others: Sequence[dict[str, Any]] = ()) -> list[str]:
    """The single-objective table on the scalarized objective: the target is the best value found
    by any method in any seed; a seed reaches it at its first evaluation within ``tolerance``.
    ``others``: more study files of the model (the multi-objective runs), for context only."""
    lam = float(docs[0]["settings"]["lam"])
    best: dict[str, tuple[float, float, int]] = {}
    for doc in docs:
        for run in doc["runs"].values():
            for m, a, n, v in zip(run["masks"], run["accuracy"], run["n_bn"], _run_values(run, lam)):
                if v is not None:
                    best[m] = (v, a, n)
    if not best:
        return [f"{model}: no target (no evaluation)"]
    mask, (target, acc, n_bn) = min(best.items(), key=lambda kv: (kv[1][0], kv[0]))
    budget = docs[0]["budget"]
    lines = [f"**{model}**, scalarized objective `-accuracy + {lam} * n_bn / {len(mask)}` (lower is better); "
             f"target: its best value found by any method in any seed, {target:.4f} (`{mask}`, {n_bn} BN, "
             f"accuracy {acc:.3f}; not exact: 2^{len(mask)} masks, {len(best)} distinct ones evaluated by these "
             f"runs); reached = the first "
             f"evaluation with a value within {tolerance:.3f} of it; budget {budget}:", "",
             "| method | seeds reaching the target | median evaluations (seeds that reach it) | "
             "median best value found | per seed |", "|---|---|---|---|---|"]
    for doc in sorted(docs, key=lambda d: SINGLE.index(d["method"])):
        hits, finals = [], []
        for k in sorted(doc["runs"], key=int):
            values = _run_values(doc["runs"][k], lam)
            hits.append(next((i for i, v in enumerate(values, 1)
                              if v is not None and v <= target + tolerance + 1e-12), None))
            finals.append(min(v for v in values if v is not None))
        ok = [h for h in hits if h is not None]
        med = f"{float(np.median(ok)):.0f}" if ok else "-"
        lines.append(f"| {doc['method']} | {len(ok)}/{len(hits)} | {med} | {float(np.median(finals)):.4f} | "
                     + ", ".join("-" if h is None else str(h) for h in hits) + " |")
    extra = {m: scalarized_value(a, n, len(m), lam) for d in others for r in d["runs"].values()
             for m, a, n in zip(r["masks"], r["accuracy"], r["n_bn"]) if a is not None}
    if extra:
        m = min(extra, key=lambda k: (extra[k], k))
        lines += ["", f"For context: the best value among the {len(extra)} masks the multi-objective runs of "
                  f"{model} evaluated is {extra[m]:.4f} (`{m}`, {m.count('1')} BN); "
                  f"{len(set(extra) | set(best))} distinct masks in both."]
    return lines


def _single_lines(model: str, docs: list[dict[str, Any]], tolerance: float,
                  others: Sequence[dict[str, Any]] = ()) -> list[str]:
    """The single-objective table of a model (constrained or scalarized, as its files say)."""
    objectives = {study_objective(d) for d in docs}
    if len(objectives) > 1:
        raise ValueError(f"the single-objective files of {model} mix objectives {sorted(objectives)}")
    if objectives == {"scalarized"}:
        return _scalarized_lines(model, docs, tolerance, others)
    target, source = _single_target(model, docs)
    if target is None:
        return [f"{model}: no target ({source})"]
    budget = docs[0]["budget"]
    lines = [f"**{model}**, target `{target.mask}` ({target.n_bn} BN, accuracy {target.accuracy:.3f}; "
             f"{source}; reached = a mask with <= {target.n_bn} BN and accuracy within "
             f"{tolerance:.3f}), budget {budget}:", "",
             "| method | seeds reaching the target | median evaluations (seeds that reach it) | per seed |",
             "|---|---|---|---|"]
    for doc in sorted(docs, key=lambda d: SINGLE.index(d["method"])):
        hits = [_reach(doc["runs"][k], target, tolerance) for k in sorted(doc["runs"], key=int)]
        ok = [h for h in hits if h is not None]
        med = f"{float(np.median(ok)):.0f}" if ok else "-"
        lines.append(f"| {doc['method']} | {len(ok)}/{len(hits)} | {med} | "
                     + ", ".join("-" if h is None else str(h) for h in hits) + " |")
    return lines


def _multi_lines(model: str, docs: list[dict[str, Any]], ax: Any) -> list[str]:
    true_hv = None
    if fixture_path(model).is_file():
        from reram.search import hypervolume

        table, header, costs = _load_table(model)
        if header.get("complete"):
            scale = costs.cost(next(e for e in table if e.n_bn == 0).mask).speedup
            true_hv = hypervolume(np.asarray([objective_pair(e, "speedup", costs.cost(e.mask).speedup, scale)
                                              for e in table]),
                                  reference_point("speedup", header["num_sites"]))
    budget = docs[0]["budget"]
    lines = [f"**{model}**, hypervolume (reference point: accuracy 0.1 (chance), speedup 0; units "
             f"accuracy x speedup / no-BN speedup), mean over seeds (min-max)"
             + (f"; the true front of all {len(table)} masks: {true_hv:.4f}" if true_hv is not None else "") + ":", "",
             f"| method | seeds | after {budget // 4} evals | after {budget // 2} evals | after {budget} evals |",
             "|---|---|---|---|---|"]
    for doc in sorted(docs, key=lambda d: MULTI.index(d["method"])):
        hv = np.array([doc["runs"][k]["hypervolume_history"] for k in sorted(doc["runs"], key=int)])
        x = np.arange(1, hv.shape[1] + 1)
        line, = ax.plot(x, hv.mean(axis=0), label=f"{doc['method']} ({len(hv)} seeds)")
        ax.fill_between(x, hv.min(axis=0), hv.max(axis=0), color=line.get_color(), alpha=0.15)
        cells = [f"{hv[:, n - 1].mean():.4f} ({hv[:, n - 1].min():.4f}-{hv[:, n - 1].max():.4f})"
                 for n in (max(budget // 4, 1), max(budget // 2, 1), budget)]
        lines.append(f"| {doc['method']} | {len(hv)} | " + " | ".join(cells) + " |")
    if true_hv is not None:
        ax.axhline(true_hv, color="k", ls="--", lw=1, label="true front (exhaustive)")
    ax.set(xlabel="evaluations", ylabel="hypervolume", title=model)
    ax.legend(fontsize=8)
    return lines


def _table_lines(model: str) -> list[str]:
    """Best mask per BN count of a stored (possibly partial) exhaustive table."""
    from math import comb

    table, header, costs = _load_table(model)
    p = header["num_sites"]
    full = next((e for e in table if e.n_bn == p), None)
    lines = [f"**{model}** stored table `{fixture_path(model).relative_to(ROOT)}`: {len(table)} of {2 ** p} "
             f"masks ({'complete' if header.get('complete') else 'incomplete'}); sum of training wall "
             f"times {header.get('sum_of_train_time_s', '?')} s (shared machine).", "",
             "| BN kept | masks trained | best mask | accuracy | median accuracy | est. speedup |",
             "|---|---|---|---|---|---|"]
    for k in range(p + 1):
        group = [e for e in table if e.n_bn == k]
        if not group:
            lines.append(f"| {k} | 0 of {comb(p, k)} | - | - | - | - |")
            continue
        best = max(group, key=lambda e: (e.accuracy, e.mask))
        lines.append(f"| {k} | {len(group)} of {comb(p, k)} | `{best.mask}` | {best.accuracy:.3f} | "
                     f"{float(np.median([e.accuracy for e in group])):.3f} | "
                     f"{'-' if costs.cost(best.mask).speedup is None else format(costs.cost(best.mask).speedup, '.2f') + 'x'} |")
    if full is not None:
        target, source = _single_target(model, [])
        if target is not None:
            lines += ["", f"Constrained optimum (fewest BN with accuracy >= all-BN {full.accuracy:.3f} - "
                      f"{study_settings(model)['epsilon']}) among the trained masks: `{target.mask}` "
                      f"({target.n_bn} BN, {target.accuracy:.3f}); {source}."]
    return lines


def report(tolerance: float) -> int:
    """The tables (markdown) and the hypervolume plot from the study files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    docs = [json.loads(p.read_text()) for p in sorted(STUDY.glob("*.json"))]
    models = sorted({d["model"] for d in docs}, key=lambda m: (m != "vgg11", m))
    lines = ["## Stored tables", ""]
    for model in ("vgg11", "resnet20"):
        if fixture_path(model).is_file():
            lines += _table_lines(model) + [""]
    lines += ["## Single-objective: evaluations to reach the target", "",
              "Target: the best fewest-BN mask (constrained objective) or the best scalarized value "
              "(scalarized objective), as each model's study files say.", ""]
    for model in models:
        group = [d for d in docs if d["model"] == model and d["kind"] == "single"]
        if group:
            others = [d for d in docs if d["model"] == model and d["kind"] == "multi"]
            lines += _single_lines(model, group, tolerance, others) + [""]
    multi_models = [m for m in models if any(d["model"] == m and d["kind"] == "multi" for d in docs)]
    lines += ["## Multi-objective: hypervolume against evaluations", ""]
    if multi_models:
        fig, axes = plt.subplots(1, len(multi_models), figsize=(5.5 * len(multi_models), 4), squeeze=False)
        for ax, model in zip(axes[0], multi_models):
            lines += _multi_lines(model, [d for d in docs if d["model"] == model and d["kind"] == "multi"], ax) + [""]
        fig.suptitle("BN search, accuracy vs estimated speedup: hypervolume\n(line: mean over seeds; band: min-max)",
                     fontsize=10)
        fig.tight_layout()
        from reram.io import atomic_write

        for path in (RESULTS / "bn_search_hypervolume.png", ROOT / "docs" / "img" / "bn_search_hypervolume.png"):
            atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
        plt.close(fig)
        lines.append("Plot: `docs/img/bn_search_hypervolume.png`.")
    lines += ["", "Commands: " + "; ".join(sorted({f"`{d.get('command', '')}`" for d in docs}))]
    atomic_write_text(RESULTS / "bn_search_study.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="part", required=True)
    for name, text in (("time", "time the all-BN and no-BN masks"),
                       ("enumerate", "train every mask and write the fixture"),
                       ("study", "the methods over seeds")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--model", default="vgg11")
        p.add_argument("--cache-dir", default=str(DEFAULT_CACHE), help="per-mask result files")
        p.add_argument("--threads", type=int, default=1, help="torch threads per training")
        p.add_argument("--workers", type=int, default=2, help="training processes (enumerate)")
        p.add_argument("--kind", choices=("single", "multi"), default="single", help="study: which search")
        p.add_argument("--methods", default=None, help="study: comma-separated (default: all of the kind)")
        p.add_argument("--seeds", type=int, default=10)
        p.add_argument("--budget", type=int, default=25)
        p.add_argument("--lookup", action="store_true", help="study: read masks from the exhaustive table")
        p.add_argument("--objective", choices=OBJECTIVES, default=None,
                       help="study --kind single: the objective (default constrained; scalarized: "
                            f"-accuracy + {STUDY_LAM} * n_bn / P)")
        p.add_argument("--no-train", action="store_true", help="enumerate: write the table from the cache only")
        p.add_argument("--note", default="", help="enumerate: how the cache was filled (kept in the header)")
    r = sub.add_parser("report", help="tables and plot from the study files")
    r.add_argument("--tolerance", type=float, default=0.01, help="accuracy tolerance of the target")
    args = parser.parse_args(argv)
    if args.part == "report":
        return report(args.tolerance)
    if args.part == "time":
        return time_masks(args.model, args.cache_dir, args.threads)
    if args.part == "enumerate":
        return enumerate_masks(args.model, args.cache_dir, args.threads, args.workers, not args.no_train, args.note)
    methods = (args.methods.split(",") if args.methods else list(SINGLE if args.kind == "single" else MULTI))
    try:
        return run_study(args.model, args.kind, methods, args.seeds, args.budget, args.cache_dir, args.lookup,
                         args.threads, args.objective)
    except ValueError as err:  # bad input (checked before any training): one line, status 2
        print(f"bench_bn_search.py study: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
