"""reram.analog: size analog circuits (the crossbar's peripherals) with SPICE or hand equations.

Device models (:class:`SquareLawMOSFET`, active-load and cascode gains), circuits
(:data:`circuits`: ``cs``, ``two_stage``, ``three_stage``, ``tia3``), simulator backends
(``analytic``, ``ngspice``), :func:`evaluate` for one sizing and :func:`size` for the optimizers
(random, grid, BO, RL). Torch/BoTorch load only when a BO or RL sizing runs.

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
from .sizing import METHODS, SizingResult, size

__all__ = [
    "SquareLawMOSFET", "active_load_gain", "cascode_gain", "cascode_output_resistance", "parallel",
    "Circuit", "Mosfet", "Spec", "Target", "Variable", "circuits", "get_circuit",
    "evaluate", "BACKENDS", "size", "SizingResult", "METHODS",
    "NgspiceSimulator", "NgspiceNotFoundError", "SimulationError", "SimulationTimeout",
    "L2DC_PROCESS", "Level1Process", "MosParams", "SpiceModelCards",
]
