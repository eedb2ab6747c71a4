"""The BN search studied at scale: the pieces ``benchmarks/bench_bn_search.py`` (and any other
study of the search) runs, kept in the package so a study and the main job share them.

* :func:`exhaustive_order`: the order in which every mask of a model is trained (all-BN first,
  then by BN count), so an interrupted enumeration is exhaustive up to the count it reached.
* :func:`study_run`: one search (one method, one seed) over a trainer or a stored table, the
  masks it evaluated with their accuracy, BN count and speedup.
* :func:`code_version` / :func:`command_line`: the provenance a stored result carries (git
  commit, local edits, the command with paths relative to the repository).

Imports the search and torch only inside the functions that run.
"""
from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from reram.apps.bn_objective import (Scorer, SingleObjective, StoredEvaluations, TwoObjectives,
                                     reference_point)

__all__ = ["exhaustive_order", "study_run", "code_version", "command_line"]


def exhaustive_order(num_sites: int, seed: int = 12345) -> list[str]:
    """Every mask of ``num_sites`` bits: the all-BN mask first (it sets the accuracy bar), then by
    BN count (0, 1, 2, ...), in a seeded random order within a count."""
    rng = np.random.default_rng(seed)
    masks = sorted((format(i, f"0{num_sites}b") for i in range(2 ** num_sites)),
                   key=lambda m: (m.count("1"), rng.random()))
    masks.insert(0, masks.pop())
    return masks


def study_run(evaluator: Any, costs: Any, mode: str, method: str, seed: int, budget: int,
              scalarization: str = "constrained", epsilon: float = 0.02, lam: float = 0.1) -> dict[str, Any]:
    """One search (one seed) of a study; the masks it evaluated, in order, with their scores.

    Args:
        evaluator: a :class:`~reram.apps.bn_objective.MaskTrainer` or
            :class:`~reram.apps.bn_objective.StoredEvaluations`.
        costs: the chip's :class:`~reram.apps.bn_cost.CostTable`.
        mode: ``"single"`` (the ``scalarization``) or ``"multi"`` (accuracy against speedup).
        method, seed, budget: of the search. ``bo``'s initial design is ``min(20, P)`` at most
            half the budget, like mobo's (nsga2's population).
        scalarization, epsilon, lam: of the single-objective scorer.
    """
    from reram.search import NSGA2Options, default_n_init, minimize_binary, minimize_binary_multi
    from reram.search.multi import default_n_init_multi

    started = time.perf_counter()
    p = evaluator.num_sites
    if mode == "single":
        n_init = min(default_n_init("bo", p, budget), max(1, budget // 2)) if method == "bo" else None
        reference = evaluator.evaluate("1" * p).accuracy if scalarization == "constrained" else None
        scorer = Scorer(scalarization, lam=lam, epsilon=epsilon, reference_accuracy=reference)
        if isinstance(evaluator, StoredEvaluations):
            evaluator.calls.clear()
        res = minimize_binary(SingleObjective(evaluator, scorer), dim=p, budget=budget, method=method, seed=seed,
                              n_init=n_init)
        hv = None
    else:
        scale = costs.cost("0" * p).speedup
        n_init = None if method == "random" else max(2, min(default_n_init_multi("mobo", p, budget), budget // 2))
        res = minimize_binary_multi(TwoObjectives(evaluator, "speedup", costs, scale), dim=p, budget=budget,
                                    ref_point=reference_point("speedup", p), method=method, seed=seed,
                                    n_init=n_init, options=NSGA2Options(pop_size=n_init) if method == "nsga2" else None)
        hv = res.hypervolume_history.tolist()
    evs = [evaluator.evaluate(r.x) if r.ok else None for r in res.history]
    return {"masks": ["".join(map(str, r.x)) for r in res.history],
            "accuracy": [None if e is None else e.accuracy for e in evs],
            "n_bn": [None if e is None else e.n_bn for e in evs],
            "speedup": [None if e is None else costs.cost(e.mask).speedup for e in evs],
            "errors": [r.error for r in res.history if not r.ok],
            "hypervolume_history": hv, "n_init": n_init, "time_s": round(time.perf_counter() - started, 2)}


def code_version(root: str | Path) -> dict[str, Any]:
    """The git commit of the code in ``root`` and its local edits under ``reram/``."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {"commit": git("rev-parse", "HEAD"),
            "uncommitted_changes": git("status", "--short", "--", "reram").splitlines()}


def command_line(script: str, argv: Sequence[str], root: str | Path) -> str:
    """``python <script> <argv>`` with absolute paths inside ``root`` made relative to it (results
    committed to the repository never carry the paths of the machine that made them)."""
    def relative(arg: str) -> str:
        if not os.path.isabs(arg):
            return arg
        try:
            return str(Path(arg).resolve().relative_to(Path(root).resolve()))
        except ValueError:
            return arg

    return " ".join(["python", script, *(relative(a) for a in argv)])
