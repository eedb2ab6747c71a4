"""Third-party imports that need care, in one place.

BoTorch imports ``linear_operator``, which calls ``torch.jit.script`` at import time; torch 2.14
deprecates that with a ``FutureWarning`` that every BO run would print. :func:`import_botorch`
imports BoTorch with exactly that warning silenced (any other warning still shows).

Imports nothing of reram.
"""
from __future__ import annotations

import importlib
import sys
import warnings

__all__ = ["import_botorch"]


def import_botorch() -> None:
    """Import BoTorch and GPyTorch once, without the ``torch.jit.script`` deprecation warning."""
    if "botorch" in sys.modules:
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated",
                                category=FutureWarning)
        importlib.import_module("gpytorch")
        importlib.import_module("botorch")
