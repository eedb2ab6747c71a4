"""numba kernels on plain NumPy arrays (installed as ``reram.kernels``).

Private ``@njit`` kernels do the arithmetic; the public wrappers here validate shapes and dtypes
and allocate outputs. Every kernel has a slow NumPy twin in ``tests/kernels``. This package
imports nothing from ``torch`` or from the rest of ``reram``.
"""
from __future__ import annotations

from .adc import adc_accumulate, split_input_cycles
from .programming import program_cells
from .pulsed import apply_pulses

__all__ = ["program_cells", "split_input_cycles", "adc_accumulate", "apply_pulses"]
