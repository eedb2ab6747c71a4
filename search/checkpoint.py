"""Checkpoint files of a binary search: one JSON document rewritten atomically after every
evaluation, so a killed search can resume without re-running anything finished.

File layout (``version`` 1)::

    {"version": 1,
     "meta": {"method", "dim", "seed", "n_init", "budget", "batch_size",
              "n_objectives", "ref_point"},                # the last two: multi-objective
     "history": [EvalRecord.to_dict(), ...],        # finished evaluations
     "pending": [{"index", "x", "batch"}, ...],      # proposed, not finished yet
     "state": {...}}                                 # the method's state_dict()

Imports neither torch nor BoTorch.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reram.io import atomic_write_json

from .records import EvalRecord

__all__ = ["CheckpointState", "load_checkpoint", "save_checkpoint", "CHECKPOINT_VERSION"]

CHECKPOINT_VERSION = 1

#: Meta fields that must match between a checkpoint and the call that resumes it (the last
#: two only exist for multi-objective searches).
MATCHING_FIELDS = ("method", "dim", "seed", "n_init", "n_objectives", "ref_point")


@dataclass
class CheckpointState:
    """Contents of a checkpoint file.

    Attributes:
        meta: the search settings (see the module docstring).
        history: finished evaluations.
        pending: proposals that were in flight, each ``{"index", "x", "batch"}``.
        state: the proposer's ``state_dict()``.
    """

    meta: dict[str, Any]
    history: list[EvalRecord] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)


def save_checkpoint(path: str | os.PathLike[str], ckpt: CheckpointState) -> None:
    """Write the checkpoint atomically (temporary file in the same folder, then rename).

    A reader, or a search killed mid-write, sees either the old or the new file, never a
    partial one.
    """
    target = Path(path)
    doc = {
        "version": CHECKPOINT_VERSION,
        "meta": ckpt.meta,
        "history": [r.to_dict() for r in ckpt.history],
        "pending": ckpt.pending,
        "state": ckpt.state,
    }
    atomic_write_json(target, doc, indent=None, keep_nonfinite=True)


def load_checkpoint(path: str | os.PathLike[str]) -> CheckpointState | None:
    """Read a checkpoint.

    Returns:
        The ``CheckpointState``, or ``None`` if the file does not exist.

    Raises:
        ValueError: if the file is not a checkpoint of this version.
    """
    target = Path(path)
    if not target.exists():
        return None
    try:
        doc = json.loads(target.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"checkpoint {str(target)!r} is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("version") != CHECKPOINT_VERSION:
        raise ValueError(
            f"checkpoint {str(target)!r} is not a version-{CHECKPOINT_VERSION} search checkpoint"
        )
    return CheckpointState(
        meta=dict(doc["meta"]),
        history=[EvalRecord.from_dict(r) for r in doc.get("history", [])],
        pending=list(doc.get("pending", [])),
        state=dict(doc.get("state", {})),
    )


def check_compatible(path: str | os.PathLike[str], saved: dict[str, Any], wanted: dict[str, Any]) -> None:
    """Raise ``ValueError`` if a checkpoint was written by a different search.

    Args:
        path: the checkpoint path (for the message).
        saved: the checkpoint's meta.
        wanted: the meta of the resuming call.
    """
    for key in MATCHING_FIELDS:
        if saved.get(key) != wanted.get(key):
            raise ValueError(
                f"checkpoint {str(path)!r} was written with {key}={saved.get(key)!r}, "
                f"but this call has {key}={wanted.get(key)!r}; use another checkpoint path"
            )
