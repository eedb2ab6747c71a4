"""Compile flags shared by every kernel.

``cache=True`` keeps compiled code between runs. ``fastmath`` leaves out ``nnan``/``ninf`` so NaN
checks and NaN propagation still work, and leaves out ``reassoc`` so results do not depend on
vectorization. ``RERAM_NUMBA_PARALLEL=0`` turns off ``prange`` (the parallel loops write
disjoint output rows, so they are bit-reproducible either way).
"""
from __future__ import annotations

import os

import numba

PARALLEL = os.environ.get("RERAM_NUMBA_PARALLEL", "1") != "0"
FASTMATH = {"nsz", "arcp", "contract", "afn"}


def jit(parallel: bool = False):
    """``numba.njit`` with the project's flags; ``parallel`` only when the switch allows."""
    return numba.njit(cache=True, nogil=True, fastmath=FASTMATH, parallel=parallel and PARALLEL)
