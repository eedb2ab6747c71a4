"""Compile flags shared by every kernel.

``cache=True`` keeps compiled code between runs. ``fastmath`` leaves out ``nnan``/``ninf`` so NaN
checks and NaN propagation still work, and leaves out ``reassoc`` so results do not depend on
vectorization. ``prange`` loops run in parallel only with ``RERAM_NUMBA_PARALLEL=1`` (they
write disjoint output rows, so results are the same either way): off by default because the
heavy work is torch's matrix products, which torch already parallelizes, and because numba's
OpenMP layer would reset torch's thread count when it starts.

Where numba finds no writable cache folder (a read-only install and a read-only ``HOME``, no
``NUMBA_CACHE_DIR``), :func:`jit` caches in a per-user folder under the system temp folder, and
where that is not writable either, compiles without a cache.
"""
from __future__ import annotations

import os
import tempfile
from typing import Callable

import numba

PARALLEL = os.environ.get("RERAM_NUMBA_PARALLEL", "0") == "1"
FASTMATH = {"nsz", "arcp", "contract", "afn"}


def jit(parallel: bool = False) -> Callable[[Callable], Callable]:
    """``numba.njit`` with the project's flags; ``parallel`` only when the switch allows.

    Parallel builds are not cached: numba's on-disk cache does not key on the ``parallel``
    flag, so a cached build of one kind would be loaded for the other.
    """
    par = parallel and PARALLEL

    def decorate(fn: Callable) -> Callable:
        options = dict(nogil=True, fastmath=FASTMATH, parallel=par)
        if par:
            return numba.njit(cache=False, **options)(fn)
        try:
            return numba.njit(cache=True, **options)(fn)
        except RuntimeError as exc:  # numba: "cannot cache function ...: no locator available"
            if "no locator" not in str(exc):
                raise
        folder = fallback_cache_dir()
        if folder is not None:
            previous = numba.config.CACHE_DIR
            numba.config.CACHE_DIR = folder  # read when the locator is chosen, just below
            try:
                return numba.njit(cache=True, **options)(fn)
            except RuntimeError:
                pass
            finally:
                numba.config.CACHE_DIR = previous
        return numba.njit(cache=False, **options)(fn)
    return decorate


def fallback_cache_dir() -> str | None:
    """A writable per-user cache folder under the system temp folder, or None."""
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    folder = os.path.join(tempfile.gettempdir(), f"reram-numba-cache-{uid}")
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
    except OSError:
        return None
    return folder if os.access(folder, os.W_OK) else None
