"""program_cells (numba) against a slow, obviously-correct NumPy twin."""
import numpy as np
import pytest

from reram.kernels import program_cells


def program_cells_twin(w, inv_scale, levels, n_slices, slice_bits, faults=None, var=None, r_min=0.0):
    w = np.asarray(w, np.float64)
    out, inp = w.shape
    cell_max = (1 << slice_bits) - 1 if levels > 0 else 1
    cells = np.zeros((2, n_slices, out, inp))
    magnitude = np.zeros((out, inp))
    for o in range(out):
        for i in range(inp):
            a = abs(w[o, i]) * inv_scale[o]
            if levels > 0:
                a = min(float(np.rint(a)), levels)
            magnitude[o, i] = a if w[o, i] >= 0 else -a
            side = 0 if w[o, i] >= 0 else 1
            for k in range(n_slices):
                if levels > 0:
                    digit = (int(a) // (2 ** (k * slice_bits))) % (2 ** slice_bits)
                else:
                    digit = min(a, 1.0)
                cells[side, k, o, i] = digit
    if faults is not None:
        cells[faults == 1] = 0
        cells[faults == 2] = cell_max
    if var is not None:
        cells = (r_min + cells) * var - r_min
    shifts = np.array([2.0 ** (k * slice_bits) if levels > 0 else 1.0 for k in range(n_slices)])
    unit = np.where(inv_scale > 0, 1.0 / np.where(inv_scale > 0, inv_scale, 1.0), 0.0)
    effective = np.einsum("k,koi->oi", shifts, cells[0] - cells[1]) * unit[:, None]
    return cells.astype(np.float32), magnitude.astype(np.float32), effective.astype(np.float32)


def _case(rng, out, inp, dtype):
    w = rng.standard_normal((out, inp)).astype(dtype)
    s = np.abs(w).max(axis=1) if w.size else np.zeros(out)
    return w, s


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (17, 33), (0, 4), (4, 0)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bits", [(7, 3, 1), (7, 2, 2), (127, 7, 1), (127, 2, 4), (32767, 2, 8), (0, 0, 1)])
def test_matches_twin(shape, dtype, bits):
    levels, slice_bits, n_slices = bits
    rng = np.random.default_rng(1)
    w, s = _case(rng, *shape, dtype)
    inv = np.where(s > 0, (levels or 1) / np.where(s > 0, s, 1), 0)
    got = program_cells(w, inv, levels, n_slices, slice_bits)
    want = program_cells_twin(w, inv, levels, n_slices, slice_bits)
    for g, x in zip(got, want):
        np.testing.assert_allclose(g, x, rtol=1e-6, atol=1e-6)
    lean = program_cells(w, inv, levels, n_slices, slice_bits, keep_cells=False)
    assert lean[0] is None
    np.testing.assert_array_equal(lean[2], got[2])


def test_defects_and_variation_match_twin():
    rng = np.random.default_rng(2)
    w, s = _case(rng, 9, 13, np.float32)
    levels, slice_bits, n_slices = 127, 2, 4
    inv = levels / s
    faults = rng.integers(0, 3, size=(2, n_slices, 9, 13)).astype(np.int8)
    var = np.exp(0.2 * rng.standard_normal((2, n_slices, 9, 13))).astype(np.float32)
    got = program_cells(w, inv, levels, n_slices, slice_bits, faults, var, r_min=0.03)
    want = program_cells_twin(w, inv, levels, n_slices, slice_bits, faults, var, r_min=0.03)
    for g, x in zip(got, want):
        np.testing.assert_allclose(g, x, rtol=1e-5, atol=1e-5)


def test_non_contiguous_input():
    rng = np.random.default_rng(3)
    w = rng.standard_normal((12, 10)).astype(np.float32)[::2, ::3]
    inv = 7 / np.abs(w).max(axis=1)
    got = program_cells(w, inv, 7, 2, 2)
    want = program_cells_twin(np.ascontiguousarray(w), inv, 7, 2, 2)
    np.testing.assert_array_equal(got[0], want[0])


def test_slices_reassemble_the_code():
    rng = np.random.default_rng(4)
    w, s = _case(rng, 6, 6, np.float32)
    cells, magnitude, effective = program_cells(w, 127 / s, 127, 4, 2)
    net = sum((cells[0, k] - cells[1, k]) * 4 ** k for k in range(4))
    np.testing.assert_array_equal(net, magnitude)
    assert np.abs(magnitude).max() == 127
    np.testing.assert_allclose(effective, magnitude * (s / 127)[:, None], rtol=1e-6)


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="inv_scale"):
        program_cells(np.zeros((3, 4), np.float32), np.ones(2), 7, 1, 3)
    with pytest.raises(ValueError, match="slices"):
        program_cells(np.zeros((3, 4), np.float32), np.ones(3), 127, 2, 2)
    with pytest.raises(ValueError, match="faults"):
        program_cells(np.zeros((3, 4), np.float32), np.ones(3), 7, 1, 3, faults=np.zeros((2, 1, 3, 3), np.int8))
