"""The runtime a job runs in: its torch device, its CPU threads, and third-party imports that
need care.

* :func:`resolve_device`: a user's device string to a checked ``torch.device``.
* :func:`set_threads` / :func:`thread_counts`: torch's and numba's CPU threads (CPU results are
  bit-identical only for equal counts).
* :func:`import_botorch`: BoTorch without the ``torch.jit.script`` deprecation warning that
  ``linear_operator`` triggers at import (torch 2.14); any other warning still shows.
* :func:`quiet_library_logs`: import the modules that log a line at import time with that
  line silenced (torch's ``cpp_extension``, which BoTorch loads).

Imports nothing of reram, and torch and numba only inside the functions that use them.
"""
from __future__ import annotations

import importlib
import logging
import sys
import warnings
from typing import Any

__all__ = ["resolve_device", "set_threads", "thread_counts", "import_botorch", "quiet_library_logs"]


def resolve_device(device: Any = None, field: str = "device") -> Any:
    """The ``torch.device`` for ``device``; ``None`` or ``"auto"`` = CUDA when available, else CPU.

    Raises:
        ValueError: naming ``field``, for a malformed name or a device this machine lacks.
    """
    import torch

    if device is None or str(device).strip().lower() == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"{field} must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {device!r}") from None
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"{field} {str(device)!r} requested but CUDA is not available")
        if (resolved.index or 0) >= torch.cuda.device_count():
            raise ValueError(f"{field} {str(device)!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif resolved.type != "cpu":
        raise ValueError(f"{field} must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {device!r}")
    return resolved


def _launch_numba_threads() -> int | None:
    """Start numba's thread pool (if not yet started) without changing torch's thread count.

    Starting numba's OpenMP pool sets OpenMP's thread count, which torch shares, to numba's
    (all cores): torch's count set from ``OMP_NUM_THREADS`` or ``torch.set_num_threads`` would
    silently rise. Returns numba's thread count, ``None`` without numba.
    """
    import torch

    before = torch.get_num_threads()
    try:
        import numba
    except ImportError:  # numba is a dependency of reram, but keep this module importable
        return None
    count = numba.get_num_threads()  # starts the pool on the first call
    if torch.get_num_threads() != before:
        torch.set_num_threads(before)
    return int(count)


def thread_counts() -> dict[str, int]:
    """The torch and numba thread counts (CPU results are bit-identical only for equal counts).

    Reading them changes neither (numba's pool is started first, torch's count kept).
    """
    import torch

    numba_threads = _launch_numba_threads()
    counts = {"torch": torch.get_num_threads()}
    if numba_threads is not None:
        counts["numba"] = numba_threads
    return counts


def set_threads(threads: int | None = None) -> dict[str, int]:
    """Set the CPU threads of torch and numba, and start numba's pool so it changes nothing later.

    Args:
        threads: threads for torch and numba (numba's capped at ``NUMBA_NUM_THREADS``, the pool
            size it started with); ``None`` = keep torch's count (``OMP_NUM_THREADS`` when set,
            else torch's default) and give numba the same.

    Returns:
        :func:`thread_counts` after the change.

    Raises:
        ValueError: naming ``threads`` when it is not a positive integer.
    """
    import torch

    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    wanted = torch.get_num_threads() if threads is None else threads
    _launch_numba_threads()
    try:
        import numba

        numba.set_num_threads(min(wanted, int(numba.config.NUMBA_NUM_THREADS)))
    except ImportError:
        pass
    torch.set_num_threads(wanted)
    return thread_counts()


def import_botorch() -> None:
    """Import BoTorch and GPyTorch once, without the ``torch.jit.script`` deprecation warning."""
    if "botorch" in sys.modules:
        return
    quiet_library_logs()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated",
                                category=FutureWarning)
        importlib.import_module("gpytorch")
        importlib.import_module("botorch")


#: Modules that log a line when they are imported, and why: ``torch.utils.cpp_extension`` logs
#: "No CUDA runtime is found, using CUDA_HOME=..." on a machine with a CUDA toolkit but no GPU;
#: BoTorch imports it the first time a qLogNEHVI acquisition is built (to load its fused C++
#: kernel), which printed that line amid the BN search's progress bars.
NOISY_IMPORTS = ("torch.utils.cpp_extension",)


def quiet_library_logs() -> None:
    """Import the modules of :data:`NOISY_IMPORTS` with their loggers disabled (once), so their
    import-time log lines are never printed; later imports of them are no-ops."""
    for name in NOISY_IMPORTS:
        if name in sys.modules:
            continue
        logger = logging.getLogger(name)
        was_disabled, logger.disabled = logger.disabled, True
        try:
            importlib.import_module(name)
        finally:
            logger.disabled = was_disabled
