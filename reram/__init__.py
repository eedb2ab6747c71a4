"""reram: simulate ReRAM crossbar accelerators for CNN training and inference.

Public API (names are a contract, see DESIGN.md): :class:`CrossbarConfig`,
:class:`CrossbarLinear`, :class:`CrossbarConv2d`, :func:`convert`, :func:`convert_to_float`,
:func:`schedule`, :class:`Chip` (a crossbar config plus the silicon it is costed on). The
layout: :mod:`reram.config` (the one crossbar config), :mod:`reram.sim` (the simulation),
:mod:`reram.cost` (the cost model), :mod:`reram.apps` (console scripts, demo, the BN search),
and the sub-packages ``reram.kernels``, ``reram.models``, ``reram.search`` and
``reram.analog``; :mod:`reram.io` (the atomic writer) and :mod:`reram.runtime` (devices,
threads, optional dependencies) are shared utilities.

Importing the package is light: the names below load their module on first use (a
module-level ``__getattr__``), so ``import reram`` (or ``reram.search.pareto``) loads neither
torch's simulation, the cost model, numba nor BoTorch until they are used.
"""
from __future__ import annotations

import importlib as _importlib
import os as _os
import sys as _sys
from typing import Any as _Any


def _one_line_interrupt(kind, value, tb):  # noqa: ANN001 - sys.excepthook signature
    """Ctrl-C while a console script starts (importing torch takes seconds): one line, not a
    traceback; Python still exits with status 130 (killed by SIGINT)."""
    if issubclass(kind, KeyboardInterrupt):
        print(f"{_os.path.basename(_sys.argv[0])}: interrupted", file=_sys.stderr)
    else:
        _sys.__excepthook__(kind, value, tb)


if _os.path.basename(_sys.argv[0] if _sys.argv else "").startswith("reram-"):
    _sys.excepthook = _one_line_interrupt

# Running from a source checkout without installing: the sub-packages live in sibling folders
# (kernels/, models/, ...), so let ``reram.kernels`` etc. resolve there. An installed copy has
# them inside this folder and this does nothing.
_root = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if _os.path.isfile(_os.path.join(_root, "setup.py")) and _os.path.isdir(_os.path.join(_root, "kernels")):
    if _root not in __path__:
        __path__.append(_root)

__version__ = "0.2.0"

#: Public name -> the module that defines it (loaded on first use).
_LAZY = {
    "CrossbarConfig": "reram.config", "PRESETS": "reram.config",
    "Chip": "reram.cost", "HardwareSpec": "reram.cost", "LayerCost": "reram.cost", "Plan": "reram.cost",
    "Trace": "reram.cost", "load_hardware": "reram.cost", "schedule": "reram.cost", "trace_model": "reram.cost",
    "DEVICE_PRESETS": "reram.sim", "ConversionSummary": "reram.sim", "CrossbarConv2d": "reram.sim",
    "CrossbarLayer": "reram.sim", "CrossbarLinear": "reram.sim", "DeviceModel": "reram.sim",
    "UnconvertedLayerWarning": "reram.sim", "convert": "reram.sim", "convert_to_float": "reram.sim",
    "default_config": "reram.sim", "summarize": "reram.sim",
}

__all__ = [
    "CrossbarConfig", "PRESETS", "CrossbarLinear", "CrossbarConv2d", "CrossbarLayer",
    "convert", "convert_to_float", "summarize", "ConversionSummary", "default_config",
    "schedule", "Plan", "LayerCost", "HardwareSpec", "load_hardware", "Trace", "trace_model",
    "Chip", "UnconvertedLayerWarning", "DeviceModel", "DEVICE_PRESETS",
]


def __getattr__(name: str) -> _Any:
    """Load a public name's module on first use (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'reram' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
