"""numba kernels on plain NumPy arrays (installed as ``reram.kernels``).

Private ``@njit`` kernels do the arithmetic; the public wrappers here validate shapes and dtypes
and allocate outputs. Every kernel has a slow NumPy twin in ``tests/kernels``. This package
imports nothing from ``torch`` or from the rest of ``reram``.
"""
from __future__ import annotations

from .adc import (adc_accumulate, adc_accumulate_int, int_adc_fits, int_adc_multiplier,
                  split_input_cycles)
from .conv import scale_into_nchw, stream_patches
from .programming import program_cells
from .quantize import quantize_nhwc, quantize_rows
from .pulsed import apply_pulses

__all__ = ["program_cells", "split_input_cycles", "adc_accumulate", "adc_accumulate_int",
           "int_adc_fits", "int_adc_multiplier", "apply_pulses", "stream_patches",
           "scale_into_nchw", "quantize_rows", "quantize_nhwc"]
