"""Binary optimization for the BN search: ``minimize_binary`` with Bayesian optimization
(BoTorch) and baselines, ``minimize_binary_multi`` (multi-objective BO, NSGA-II, random) with
Pareto fronts and hypervolume, checkpoint/resume, parallel fault-tolerant executors, and
standard binary test problems.

Generic: it knows nothing of crossbars, models or training (the BN objective that joins them
is :mod:`reram.apps.bn_objective`) and imports nothing of reram but :mod:`reram.io` and
:mod:`reram.runtime`.

Example:
    >>> from reram.search import minimize_binary, Contamination
    >>> problem = Contamination(seed=0)
    >>> res = minimize_binary(problem, dim=problem.dim, budget=50, method="random")

BoTorch/GPyTorch are imported only when ``method="bo"`` or ``"mobo"`` runs, and Ray
only when a ``RayExecutor`` is built.
"""
from __future__ import annotations

from .baselines import AnnealOptions
from .executors import (
    Executor,
    InProcessExecutor,
    Outcome,
    ProcessExecutor,
    RayExecutor,
)
from .multi import MULTI_METHODS, MultiSearchResult, default_n_init_multi, minimize_binary_multi
from .nsga2 import NSGA2Options
from .optimize import METHODS, default_n_init, minimize_binary
from .pareto import hypervolume, hypervolume_trace, pareto_front, pareto_mask
from .problems import (
    BiObjectiveKnapsack,
    Contamination,
    HammingTarget,
    Ising,
    MultiObjectiveProblem,
    SparseTradeoff,
    TestProblem,
)
from .records import EvalRecord, SearchResult

__all__ = [
    "minimize_binary",
    "METHODS",
    "default_n_init",
    "minimize_binary_multi",
    "MULTI_METHODS",
    "default_n_init_multi",
    "MultiSearchResult",
    "MOBOOptions",
    "NSGA2Options",
    "pareto_mask",
    "pareto_front",
    "hypervolume",
    "hypervolume_trace",
    "SearchResult",
    "EvalRecord",
    "AnnealOptions",
    "BOOptions",
    "CBOOptions",
    "Executor",
    "InProcessExecutor",
    "ProcessExecutor",
    "RayExecutor",
    "Outcome",
    "TestProblem",
    "Contamination",
    "Ising",
    "HammingTarget",
    "MultiObjectiveProblem",
    "BiObjectiveKnapsack",
    "SparseTradeoff",
]


def __getattr__(name: str):  # lazy: keeps torch/BoTorch out of `import reram.search`
    if name == "BOOptions":
        from .bo import BOOptions

        return BOOptions
    if name == "MOBOOptions":
        from .mobo import MOBOOptions

        return MOBOOptions
    if name == "CBOOptions":
        from .sparsest import CBOOptions

        return CBOOptions
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
