"""Compile flags shared by every kernel.

``cache=True`` keeps compiled code between runs. ``fastmath`` leaves out ``nnan``/``ninf`` so NaN
checks and NaN propagation still work, and leaves out ``reassoc`` so results do not depend on
vectorization. ``prange`` loops run in parallel only with ``RERAM_NUMBA_PARALLEL=1`` (they
write disjoint output rows, so results are the same either way): off by default because the
heavy work is torch's matrix products, which torch already parallelizes, and because numba's
OpenMP layer would reset torch's thread count when it starts.
"""
from __future__ import annotations

import os

import numba

PARALLEL = os.environ.get("RERAM_NUMBA_PARALLEL", "0") == "1"
FASTMATH = {"nsz", "arcp", "contract", "afn"}


def jit(parallel: bool = False):
    """``numba.njit`` with the project's flags; ``parallel`` only when the switch allows.

    Parallel builds are not cached: numba's on-disk cache does not key on the ``parallel``
    flag, so a cached build of one kind would be loaded for the other.
    """
    par = parallel and PARALLEL
    return numba.njit(cache=not par, nogil=True, fastmath=FASTMATH, parallel=par)
