"""reram: simulate ReRAM crossbar accelerators for CNN training and inference.

Public API (names are a contract, see DESIGN.md): :class:`CrossbarConfig`,
:class:`CrossbarLinear`, :class:`CrossbarConv2d`, :func:`convert`, :func:`convert_to_float`,
:func:`schedule`, :class:`Chip` (a crossbar config plus the silicon it is costed on). The
layout: :mod:`reram.config` (the one crossbar config), :mod:`reram.sim` (the simulation),
:mod:`reram.cost` (the cost model), :mod:`reram.apps` (console scripts, demo, BN objective), and the sub-packages ``reram.kernels``, ``reram.models``, ``reram.search`` and
``reram.analog``; :mod:`reram.io` and :mod:`reram.device` are shared utilities.
"""
from __future__ import annotations

import os as _os
import sys as _sys


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

__version__ = "0.1.0"

from reram.config import PRESETS, CrossbarConfig
from reram.cost import (Chip, HardwareSpec, LayerCost, Plan, Trace, load_hardware, schedule,
                        trace_model)
from reram.sim import (DEVICE_PRESETS, ConversionSummary, CrossbarConv2d, CrossbarLayer,
                       CrossbarLinear, DeviceModel, UnconvertedLayerWarning, convert,
                       convert_to_float, default_config, summarize)

from reram import _legacy_modules

_legacy_modules.register()

__all__ = [
    "CrossbarConfig", "PRESETS", "CrossbarLinear", "CrossbarConv2d", "CrossbarLayer",
    "convert", "convert_to_float", "summarize", "ConversionSummary", "default_config",
    "schedule", "Plan", "LayerCost", "HardwareSpec", "load_hardware", "Trace", "trace_model",
    "Chip", "UnconvertedLayerWarning", "DeviceModel", "DEVICE_PRESETS",
]
