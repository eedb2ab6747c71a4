"""Pareto dominance and exact hypervolume for minimization problems.

Every function here minimizes: a point `a` dominates `b` when ``a <= b`` in every objective
and ``a < b`` in at least one. The hypervolume of a set is the measure of the region it
dominates inside the box bounded above by a reference point; points that do not dominate the
reference point (not strictly below it in every objective) contribute nothing.

The hypervolume is exact: a sweep for two objectives, and for more a slicing recursion over
the last objective (the "hypervolume by slicing objectives" scheme of While et al., IEEE TEVC
2006), fast enough for the fronts a search of a few hundred evaluations produces.

Imports NumPy only.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["pareto_mask", "pareto_front", "nondominated_ranks", "hypervolume", "hypervolume_trace"]


def _as_points(Y: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    arr = np.asarray(Y, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"Y must be an n x m array of objective values, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("Y must be finite (failed evaluations are left out before this call)")
    return arr


def pareto_mask(Y: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """Which rows of `Y` are non-dominated (minimization).

    Args:
        Y: an `n x m` array of objective values.

    Returns:
        An `n`-array of bools; duplicated non-dominated rows are all kept.
    """
    arr = _as_points(Y)
    n = len(arr)
    keep = np.ones(n, dtype=bool)
    for i in range(n):
        if not keep[i]:
            continue
        # rows that i dominates are dropped; i is dropped if any row dominates it
        le = np.all(arr[i] <= arr, axis=1) & np.any(arr[i] < arr, axis=1)
        keep[le] = False
        dominated_by = np.all(arr <= arr[i], axis=1) & np.any(arr < arr[i], axis=1)
        if dominated_by.any():
            keep[i] = False
    return keep


def pareto_front(Y: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """The non-dominated rows of `Y`, duplicates removed, sorted by the first objective.

    Args:
        Y: an `n x m` array of objective values.

    Returns:
        A `k x m` array.
    """
    arr = _as_points(Y)
    front = np.unique(arr[pareto_mask(arr)], axis=0)
    return front[np.lexsort(front.T[::-1])] if len(front) else front


def _hv2(points: np.ndarray, ref: np.ndarray) -> float:
    """Hypervolume of 2-D points already strictly below `ref` (sweep over the first objective)."""
    pts = points[np.lexsort((points[:, 1], points[:, 0]))]
    volume = 0.0
    best_second = ref[1]
    for p0, p1 in pts:
        if p1 < best_second:
            volume += (ref[0] - p0) * (best_second - p1)
            best_second = p1
    return volume


def _hv(points: np.ndarray, ref: np.ndarray) -> float:
    m = points.shape[1]
    if len(points) == 0:
        return 0.0
    if m == 1:
        return float(ref[0] - points[:, 0].min())
    if m == 2:
        return _hv2(points, ref)
    pts = points[np.argsort(points[:, -1], kind="stable")]
    volume = 0.0
    for i in range(len(pts)):
        upper = pts[i + 1, -1] if i + 1 < len(pts) else ref[-1]
        depth = upper - pts[i, -1]
        if depth <= 0:
            continue
        slab = pts[: i + 1, :-1]
        slab = slab[pareto_mask(slab)]
        volume += depth * _hv(slab, ref[:-1])
    return volume


def nondominated_ranks(Y: np.ndarray) -> np.ndarray:
    """Front number of each row of `Y` (minimization): 0 for the non-dominated rows, 1 for
    those non-dominated once front 0 is removed, and so on.

    Args:
        Y: an `n x m` array.

    Returns:
        An `n`-array of ints.
    """
    n = len(Y)
    le = np.all(Y[:, None, :] <= Y[None, :, :], axis=2)
    lt = np.any(Y[:, None, :] < Y[None, :, :], axis=2)
    dominates = le & lt  # [i, j]: i dominates j
    n_dominators = dominates.sum(axis=0)
    ranks = np.full(n, -1, dtype=np.int64)
    front = np.flatnonzero(n_dominators == 0)
    rank = 0
    while len(front):
        ranks[front] = rank
        n_dominators = n_dominators - dominates[front].sum(axis=0)
        n_dominators[ranks >= 0] = -1
        front = np.flatnonzero(n_dominators == 0)
        rank += 1
    return ranks


def hypervolume(
    Y: np.ndarray | Sequence[Sequence[float]], ref_point: Sequence[float] | np.ndarray
) -> float:
    """Exact hypervolume dominated by `Y` and bounded by `ref_point` (minimization).

    Args:
        Y: an `n x m` array of objective values (`n` may be 0).
        ref_point: an `m`-vector; only points strictly below it in every objective count.

    Returns:
        The hypervolume, 0.0 when no point dominates the reference point.

    Example:
        >>> hypervolume([[1.0, 2.0], [2.0, 1.0]], [3.0, 3.0])
        3.0
    """
    ref = np.asarray(ref_point, dtype=float)
    arr = np.asarray(Y, dtype=float)
    if ref.ndim != 1 or not np.all(np.isfinite(ref)):
        raise ValueError(f"ref_point must be a finite vector, got {ref_point!r}")
    if arr.size == 0:
        return 0.0
    arr = _as_points(arr)
    if arr.shape[1] != len(ref):
        raise ValueError(
            f"ref_point must have one entry per objective ({arr.shape[1]}), got {len(ref)}"
        )
    inside = arr[np.all(arr < ref, axis=1)]
    if len(inside) == 0:
        return 0.0
    return float(_hv(inside[pareto_mask(inside)], ref))


def hypervolume_trace(
    Y: Sequence[Sequence[float] | None], ref_point: Sequence[float] | np.ndarray
) -> np.ndarray:
    """Hypervolume of the first `i + 1` evaluations, for every `i`.

    Args:
        Y: objective vectors in evaluation order; ``None`` for a failed evaluation.
        ref_point: the reference point (`m`-vector).

    Returns:
        An `n`-array, non-decreasing.
    """
    out = np.zeros(len(Y))
    front = np.zeros((0, len(ref_point)))
    value = 0.0
    ref = np.asarray(ref_point, dtype=float)
    for i, y in enumerate(Y):
        if y is not None:
            y_arr = np.asarray(y, dtype=float)
            if np.all(y_arr < ref) and not np.any(
                np.all(front <= y_arr, axis=1)
            ):  # improves the front: recompute on the new front only
                front = np.vstack([front, y_arr])
                front = front[pareto_mask(front)]
                value = hypervolume(front, ref)
        out[i] = value
    return out
