"""History records of a binary search and the result object returned by ``minimize_binary``.

Holds plain, JSON-serializable dataclasses only; imports neither torch nor BoTorch.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = ["EvalRecord", "SearchResult", "mask_key"]


def mask_key(x: Any) -> bytes:
    """Hashable key of a 0/1 mask.

    Args:
        x: a `dim`-vector of 0/1 values (list, tuple or array).

    Returns:
        The mask's bytes as ``uint8``; equal masks give equal keys.
    """
    return np.asarray(x, dtype=np.uint8).tobytes()


def _value_from_json(y: Any) -> float | list[float] | None:
    if y is None:
        return None
    if isinstance(y, (list, tuple)):
        return [float(v) for v in y]
    return float(y)


@dataclass
class EvalRecord:
    """One evaluation of the objective.

    Attributes:
        index: position of the evaluation in proposal order (0-based, unique).
        x: the mask evaluated, a list of `dim` ints in {0, 1}.
        y: the objective value (a float; for a multi-objective search a list of `m` floats),
            or ``None`` when the evaluation failed.
        error: ``None`` on success, else a one-line description of the failure.
        time_s: seconds the objective ran.
        started_at: wall-clock start, seconds since the Unix epoch.
        finished_at: wall-clock end, seconds since the Unix epoch.
        batch: number of the batch (ask) that proposed this mask.
    """

    index: int
    x: list[int]
    y: float | list[float] | None
    error: str | None
    time_s: float
    started_at: float
    finished_at: float
    batch: int = 0

    @property
    def ok(self) -> bool:
        """Whether the evaluation returned a finite value."""
        return self.error is None and self.y is not None

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON-serializable dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvalRecord:
        """Inverse of :meth:`to_dict`."""
        return cls(
            index=int(data["index"]),
            x=[int(v) for v in data["x"]],
            y=_value_from_json(data.get("y")),
            error=data.get("error"),
            time_s=float(data.get("time_s", 0.0)),
            started_at=float(data.get("started_at", 0.0)),
            finished_at=float(data.get("finished_at", 0.0)),
            batch=int(data.get("batch", 0)),
        )


@dataclass
class SearchResult:
    """What ``minimize_binary`` returns.

    Attributes:
        best_x: the best mask found, a `dim`-array of 0/1 ints, or ``None`` if every
            evaluation failed.
        best_y: its objective value (lower is better), or ``None`` if every evaluation failed.
        history: every evaluation in proposal order, failures included.
        method: the search method used.
        dim: the number of binary variables.
        seed: the seed of the search.
        wall_time_s: seconds the call took (for a resumed search, only the last call).
        info: method-specific diagnostics (e.g. BO fit and acquisition times per batch).
    """

    best_x: np.ndarray | None
    best_y: float | None
    history: list[EvalRecord]
    method: str
    dim: int
    seed: int
    wall_time_s: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def n_evaluations(self) -> int:
        """Number of evaluations in the history, failures included."""
        return len(self.history)

    @property
    def n_failures(self) -> int:
        """Number of failed evaluations."""
        return sum(not r.ok for r in self.history)

    def best_so_far(self) -> np.ndarray:
        """Running minimum of `y` over the history.

        Returns:
            A `len(history)`-array; entry `i` is the best value among evaluations `0..i`
            (``nan`` until the first success).
        """
        out = np.full(len(self.history), np.nan)
        best = math.inf
        for i, rec in enumerate(self.history):
            if rec.ok and rec.y < best:  # type: ignore[operator]
                best = rec.y  # type: ignore[assignment]
            out[i] = best if best < math.inf else np.nan
        return out

    def to_dict(self) -> dict[str, Any]:
        """The result as a JSON-serializable dict."""
        return {
            "best_x": None if self.best_x is None else [int(v) for v in self.best_x],
            "best_y": self.best_y,
            "history": [r.to_dict() for r in self.history],
            "method": self.method,
            "dim": self.dim,
            "seed": self.seed,
            "wall_time_s": self.wall_time_s,
            "info": self.info,
        }

    def to_json(self, path: str | None = None) -> str:
        """Serialize to JSON.

        Args:
            path: if given, also write the JSON text to this file.

        Returns:
            The JSON text.
        """
        text = json.dumps(self.to_dict())
        if path is not None:
            from reram.io import atomic_write_text

            atomic_write_text(path, text)
        return text

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchResult:
        """Inverse of :meth:`to_dict`."""
        best_x = data.get("best_x")
        return cls(
            best_x=None if best_x is None else np.asarray(best_x, dtype=np.int64),
            best_y=None if data.get("best_y") is None else float(data["best_y"]),
            history=[EvalRecord.from_dict(r) for r in data["history"]],
            method=str(data["method"]),
            dim=int(data["dim"]),
            seed=int(data["seed"]),
            wall_time_s=float(data.get("wall_time_s", 0.0)),
            info=dict(data.get("info", {})),
        )

    @classmethod
    def from_json(cls, text: str) -> SearchResult:
        """Inverse of :meth:`to_json` (takes the JSON text, not a path)."""
        return cls.from_dict(json.loads(text))
