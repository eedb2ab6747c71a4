"""Binary optimization for the BN search: ``minimize_binary`` with Bayesian optimization
(BoTorch) and baselines, checkpoint/resume, parallel executors, and standard binary test
problems.

Generic: it knows nothing of crossbars, models or training (the BN objective that joins them
is :mod:`reram.apps.bn_objective`) and imports nothing of reram but :mod:`reram.io`.

Example:
    >>> from reram.search import minimize_binary, Contamination
    >>> problem = Contamination(seed=0)
    >>> res = minimize_binary(problem, dim=problem.dim, budget=50, method="random")

BoTorch/GPyTorch are imported only when ``method="bo"`` runs (``reram.search.bo``), and Ray
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
from .optimize import METHODS, default_n_init, minimize_binary
from .problems import Contamination, HammingTarget, Ising, TestProblem
from .records import EvalRecord, SearchResult

__all__ = [
    "minimize_binary",
    "METHODS",
    "default_n_init",
    "SearchResult",
    "EvalRecord",
    "AnnealOptions",
    "BOOptions",
    "Executor",
    "InProcessExecutor",
    "ProcessExecutor",
    "RayExecutor",
    "Outcome",
    "TestProblem",
    "Contamination",
    "Ising",
    "HammingTarget",
]


def __getattr__(name: str):  # lazy: keeps torch/BoTorch out of `import reram.search`
    if name == "BOOptions":
        from .bo import BOOptions

        return BOOptions
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
