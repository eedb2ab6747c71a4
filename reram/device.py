"""The one device resolver: a user's device string to a ``torch.device``, checked.

Imports nothing of reram.
"""
from __future__ import annotations

import torch

__all__ = ["resolve_device"]


def resolve_device(device: str | torch.device | None = None, field: str = "device") -> torch.device:
    """The ``torch.device`` for ``device``; ``None`` or ``"auto"`` = CUDA when available, else CPU.

    Raises:
        ValueError: naming ``field``, for a malformed name or a device this machine lacks.
    """
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
