"""Pareto dominance, exact hypervolume and NSGA-II ranking against hand values and slow twins."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from reram.search import hypervolume, hypervolume_trace, pareto_front, pareto_mask
from reram.search.nsga2 import crowding_distance
from reram.search.pareto import nondominated_ranks


def _dominates(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.all(a <= b) and np.any(a < b))


def _pareto_twin(Y: np.ndarray) -> np.ndarray:
    return np.array([not any(_dominates(Y[j], Y[i]) for j in range(len(Y))) for i in range(len(Y))])


def _grid_hypervolume_twin(Y: np.ndarray, ref: np.ndarray) -> int:
    """Count the unit cells below `ref` that some integer point dominates (exact for integers)."""
    count = 0
    for cell in itertools.product(*[range(int(r)) for r in ref]):
        if np.any(np.all(Y <= np.asarray(cell), axis=1)):
            count += 1
    return count


def test_hypervolume_2d_hand_values() -> None:
    # two boxes 2x1 and 1x2 overlapping in a 1x1 square: 2 + 2 - 1
    assert hypervolume([[1.0, 2.0], [2.0, 1.0]], [3.0, 3.0]) == 3.0
    # a dominated point, a duplicate and a point outside the box change nothing
    assert hypervolume([[1, 2], [2, 1], [2.5, 2.5], [1, 2], [0, 5]], [3, 3]) == 3.0
    # a point on the reference boundary is not strictly below it: no volume
    assert hypervolume([[3.0, 0.0]], [3.0, 3.0]) == 0.0
    assert hypervolume(np.zeros((0, 2)), [1.0, 1.0]) == 0.0
    # staircase 0..4 against (5, 5): 5*1 + 4*1 + 3*1 + 2*1 + 1*1
    assert hypervolume([[k, 4 - k] for k in range(5)], [5, 5]) == 15.0
    assert hypervolume([[0.5, 0.25]], [1.0, 1.0]) == pytest.approx(0.375)


def test_hypervolume_3d_hand_values() -> None:
    ref = [4.0, 4.0, 4.0]
    a, b, c = [1, 1, 3], [2, 2, 1], [1, 3, 2]
    assert hypervolume([a], ref) == 9.0  # 3 * 3 * 1
    # inclusion-exclusion: |A| + |B| - |A and B| = 9 + 12 - (2*2*1)
    assert hypervolume([a, b], ref) == 17.0
    # + |C| = 6, - |A and C| = 3, - |B and C| = 4, + |A and B and C| = 2
    assert hypervolume([a, b, c], ref) == 18.0
    assert hypervolume([a, b, c, [3, 3, 3]], ref) == 18.0  # dominated by a


@pytest.mark.parametrize("m", [2, 3, 4])
def test_hypervolume_matches_grid_twin(m: int) -> None:
    rng = np.random.default_rng(m)
    ref = np.full(m, 6 if m < 4 else 5)
    for _ in range(5):
        Y = rng.integers(0, 7, size=(rng.integers(1, 9), m)).astype(float)
        assert hypervolume(Y, ref) == _grid_hypervolume_twin(Y, ref)


def test_hypervolume_matches_botorch_on_real_values() -> None:
    torch = pytest.importorskip("torch")
    from botorch.utils.multi_objective.hypervolume import Hypervolume
    from botorch.utils.multi_objective.pareto import is_non_dominated

    rng = np.random.default_rng(0)
    for m in (2, 3):
        Y = rng.random((30, m))
        ref = np.full(m, 1.1)
        neg = -torch.as_tensor(Y)  # BoTorch maximizes
        front = neg[is_non_dominated(neg)]
        expected = Hypervolume(-torch.as_tensor(ref)).compute(front)
        assert hypervolume(Y, ref) == pytest.approx(float(expected), rel=1e-12)


def test_pareto_mask_and_front_match_twin() -> None:
    rng = np.random.default_rng(1)
    for m in (2, 3):
        Y = rng.integers(0, 5, size=(40, m)).astype(float)  # many ties and duplicates
        mask = pareto_mask(Y)
        assert np.array_equal(mask, _pareto_twin(Y))
        front = pareto_front(Y)
        assert len(np.unique(front, axis=0)) == len(front)
        assert all(not _dominates(p, q) for p in front for q in front)
    assert pareto_mask(np.zeros((0, 2))).shape == (0,)


def test_hypervolume_trace_is_running_hypervolume() -> None:
    rng = np.random.default_rng(2)
    Y = [list(v) for v in rng.random((25, 2))]
    Y[3] = None
    Y[10] = None
    trace = hypervolume_trace(Y, [1.0, 1.0])
    assert np.all(np.diff(trace) >= 0)
    for i in range(len(Y)):
        ok = [y for y in Y[: i + 1] if y is not None]
        assert trace[i] == pytest.approx(hypervolume(np.array(ok), [1.0, 1.0]))


def test_bad_hypervolume_input() -> None:
    with pytest.raises(ValueError, match="one entry per objective"):
        hypervolume([[1.0, 2.0]], [3.0, 3.0, 3.0])
    with pytest.raises(ValueError, match="finite"):
        hypervolume([[1.0, np.nan]], [3.0, 3.0])
    with pytest.raises(ValueError, match="ref_point must be a finite vector"):
        hypervolume([[1.0, 2.0]], [np.inf, 3.0])


def test_nondominated_ranks_and_crowding() -> None:
    Y = np.array([[1, 4], [2, 2], [4, 1], [3, 3], [4, 4], [5, 5], [2, 2]], dtype=float)
    assert nondominated_ranks(Y).tolist() == [0, 0, 0, 1, 2, 3, 0]
    rng = np.random.default_rng(3)
    Z = rng.integers(0, 6, size=(30, 3)).astype(float)
    ranks = nondominated_ranks(Z)
    remaining = np.arange(len(Z))
    for r in range(ranks.max() + 1):  # twin: peel fronts off one by one
        front = remaining[_pareto_twin(Z[remaining])]
        assert set(np.flatnonzero(ranks == r)) == set(front)
        remaining = np.setdiff1d(remaining, front)
    # boundary points infinite; middle point (2, 2): (4-1)/3 + (4-1)/3 = 2
    dist = crowding_distance(np.array([[1, 4], [2, 2], [4, 1]], dtype=float))
    assert dist[0] == np.inf and dist[2] == np.inf and dist[1] == pytest.approx(2.0)
