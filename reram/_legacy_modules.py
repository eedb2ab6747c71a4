"""Compatibility shim: the module paths of reram 0.1.0, before the sim/cost/apps layout.

Whole models saved with ``torch.save(model)`` by 0.1.0 name their classes by module path
(``reram.layers.CrossbarConv2d``, ``reram.mapping.ProgrammedWeights``, ...). Registering the old
names as aliases of the new modules lets such files, and old ``import reram.layers`` lines, load.
Only modules that :mod:`reram` imports anyway are aliased (no import cost).
"""
from __future__ import annotations

import importlib
import sys

#: old module path -> new module path.
LEGACY_MODULES = {
    "reram.layers": "reram.sim.layers",
    "reram.mapping": "reram.sim.mapping",
    "reram.functional": "reram.sim.functional",
    "reram.trace": "reram.cost.trace",
    "reram.hardware": "reram.cost.hardware",
    "reram.scheduler": "reram.cost.scheduler",
}


def register() -> None:
    """Make every old path in :data:`LEGACY_MODULES` import as its new module."""
    package = sys.modules["reram"]
    for old, new in LEGACY_MODULES.items():
        module = sys.modules.setdefault(old, importlib.import_module(new))
        name = old.rpartition(".")[2]
        if not hasattr(package, name):  # `reram.layers` as an attribute too
            setattr(package, name, module)
