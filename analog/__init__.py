"""reram.analog: size analog circuits (the crossbar's peripherals) with SPICE or hand equations.

Device models (:class:`SquareLawMOSFET`, active-load and cascode gains), circuits
(:data:`circuits`: ``cs``, ``two_stage``, ``three_stage``, ``tia3``), simulator backends
(``analytic``, ``ngspice``), :func:`evaluate` for one sizing and :func:`size` for the optimizers
(random, grid, BO, RL), :func:`train_policy` / :func:`deploy` for a spec-conditioned policy
trained once and deployed on many specs, and :func:`evaluate_corners` / ``size(corners=...)`` for
process, supply and temperature corners. Torch/BoTorch load only when a BO or RL sizing runs or a
policy is trained or loaded.

Example:
    >>> from reram.analog import circuits, evaluate, size
    >>> evaluate("tia3", circuits["tia3"].reference)["transimpedance_ohm"]
    >>> result = size("tia3", method="bo", budget=100, seed=0)
"""
from __future__ import annotations

from .circuit import Circuit, Mosfet, Spec, Target, Variable
from .devices import SquareLawMOSFET, active_load_gain, cascode_gain, cascode_output_resistance, parallel
from .evaluate import BACKENDS, evaluate
from .library import circuits, get_circuit
from .ngspice import NgspiceNotFoundError, NgspiceSimulator, SimulationError, SimulationTimeout
from .process import L2DC_PROCESS, Level1Process, MosParams, SpiceModelCards
from .corners import PVT_CORNERS, Corner, CornerResult, corner_grid, evaluate_corners
from .sizing import METHODS, SizingResult, deploy, size

__all__ = [
    "SquareLawMOSFET", "active_load_gain", "cascode_gain", "cascode_output_resistance", "parallel",
    "Circuit", "Mosfet", "Spec", "Target", "Variable", "circuits", "get_circuit",
    "evaluate", "BACKENDS", "size", "SizingResult", "METHODS", "deploy", "train_policy", "load_policy",
    "Corner", "CornerResult", "PVT_CORNERS", "corner_grid", "evaluate_corners",
    "NgspiceSimulator", "NgspiceNotFoundError", "SimulationError", "SimulationTimeout",
    "L2DC_PROCESS", "Level1Process", "MosParams", "SpiceModelCards",
]


def __getattr__(name: str):
    """``train_policy`` and ``load_policy`` import torch, so they load on first use."""
    if name in ("train_policy", "load_policy"):
        from . import transfer

        return getattr(transfer, name)
    raise AttributeError(f"module 'reram.analog' has no attribute {name!r}")
