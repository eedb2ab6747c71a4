"""split_input_cycles and adc_accumulate (numba) against NumPy twins."""
import numpy as np
import pytest

from reram.kernels import adc_accumulate, split_input_cycles


def split_input_cycles_twin(codes, n_cycles, cycle_bits, n_phases, tile):
    m, k = codes.shape
    n_tiles = max(1, -(-k // tile))
    out = np.zeros((n_tiles, n_phases * n_cycles * m, tile), np.float32)
    for b in range(m):
        for i in range(k):
            c = float(codes[b, i])
            t, col = divmod(i, tile)
            if np.isnan(c):
                for j in range(n_cycles):
                    out[t, j * m + b, col] = np.nan
                continue
            phase = 1 if (c < 0 and n_phases == 2) else 0
            mag = abs(c)
            for j in range(n_cycles):
                if cycle_bits == 0:
                    digit = mag
                else:
                    digit = (int(mag) >> (j * cycle_bits)) & ((1 << cycle_bits) - 1)
                out[t, (phase * n_cycles + j) * m + b, col] = digit
    return out


def adc_accumulate_twin(currents, m, row_coef, col_coef, n_out, step, lo, hi):
    t, rows, cols = currents.shape
    c = np.clip(np.rint(currents.astype(np.float64) / step), lo, hi)
    c = c.reshape(t, len(row_coef), m, len(col_coef), n_out)
    return np.einsum("trmgo,r,g->mo", c, np.asarray(row_coef, float), np.asarray(col_coef, float))


@pytest.mark.parametrize("m,k,tile", [(1, 1, 1), (3, 10, 4), (5, 16, 16), (0, 7, 3), (4, 0, 2), (2, 300, 128)])
@pytest.mark.parametrize("cycles", [(1, 7), (7, 1), (4, 2), (1, 0)])
@pytest.mark.parametrize("n_phases", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_split_matches_twin(m, k, tile, cycles, n_phases, dtype):
    n_cycles, cycle_bits = cycles
    rng = np.random.default_rng(0)
    if cycle_bits == 0:
        codes = rng.uniform(-1, 1, (m, k))
    else:
        codes = rng.integers(-127, 128, (m, k)).astype(float)
    if n_phases == 1:
        codes = np.abs(codes)
    codes = codes.astype(dtype)
    got = split_input_cycles(codes, n_cycles, cycle_bits, n_phases, tile)
    want = split_input_cycles_twin(codes, n_cycles, cycle_bits, n_phases, tile)
    np.testing.assert_array_equal(got, want)


def test_split_cycles_reassemble_and_nan_propagates():
    codes = np.array([[5, -3, 0, np.nan]], np.float32)
    got = split_input_cycles(codes, 3, 1, 2, 4)[0]           # (2 * 3 * 1, 4)
    pos = sum(got[j] * 2 ** j for j in range(3))
    neg = sum(got[3 + j] * 2 ** j for j in range(3))
    np.testing.assert_array_equal((pos - neg)[:3], [5, -3, 0])
    assert np.isnan(got[0, 3])


def test_split_non_contiguous():
    codes = np.arange(-20, 20, dtype=np.float32).reshape(8, 5)[::2, ::2]
    np.testing.assert_array_equal(split_input_cycles(codes, 3, 2, 2, 2),
                                  split_input_cycles_twin(np.ascontiguousarray(codes), 3, 2, 2, 2))


@pytest.mark.parametrize("t,r,m,g,n_out", [(1, 1, 1, 1, 1), (3, 2, 5, 4, 7), (2, 8, 3, 16, 33), (1, 1, 0, 2, 3), (2, 2, 3, 2, 0)])
@pytest.mark.parametrize("adc", [(3.7, 0, 255), (1.0, -128, 127), (0.5, 0, 15)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_accumulate_matches_twin(t, r, m, g, n_out, adc, dtype):
    step, lo, hi = adc
    rng = np.random.default_rng(5)
    currents = rng.uniform(-200, 900, (t, r * m, g * n_out)).astype(dtype)
    row_coef = rng.choice([-4.0, -1.0, 1.0, 2.0], r)
    col_coef = rng.choice([-16.0, 1.0, 4.0], g)
    got = adc_accumulate(currents, m, row_coef, col_coef, n_out, step, lo, hi)
    want = adc_accumulate_twin(currents, m, row_coef, col_coef, n_out, step, lo, hi)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9)


def test_accumulate_clips_rounds_and_propagates_nan():
    currents = np.array([[[0.4, 0.6, 1000.0, np.nan]]], np.float32)
    got = adc_accumulate(currents, 1, np.array([1.0]), np.array([1.0, 10.0]), 2, 1.0, 0, 255)
    # column group 0: codes 0 and 1; group 1 (x10): 255 (clipped) and NaN
    assert got[0, 0] == 0 + 10 * 255
    assert np.isnan(got[0, 1])


def test_accumulate_non_contiguous():
    rng = np.random.default_rng(6)
    big = rng.uniform(0, 50, (2, 12, 16)).astype(np.float32)
    view = big[:, ::2, ::2]                                      # (2, 6, 8)
    got = adc_accumulate(view, 3, np.array([1.0, 2.0]), np.array([1.0, -1.0]), 4, 2.0, 0, 31)
    want = adc_accumulate_twin(np.ascontiguousarray(view), 3, [1.0, 2.0], [1.0, -1.0], 4, 2.0, 0, 31)
    np.testing.assert_allclose(got, want)


def test_accumulate_bad_shape_raises():
    with pytest.raises(ValueError, match="does not match"):
        adc_accumulate(np.zeros((1, 4, 6), np.float32), 3, np.ones(1), np.ones(2), 3, 1.0, 0, 7)
    with pytest.raises(ValueError, match="step"):
        adc_accumulate(np.zeros((1, 3, 6), np.float32), 3, np.ones(1), np.ones(2), 3, 0.0, 0, 7)


def informative_twin(currents, step, lo, hi):
    c = np.rint(currents.astype(np.float64) * (1.0 / step))
    return int(((c > lo) & (c < hi) & (c != 0)).sum())


@pytest.mark.parametrize("m,k,tile", [(1, 1, 1), (3, 10, 4), (0, 7, 3), (4, 0, 2), (2, 300, 128)])
@pytest.mark.parametrize("cycles", [(1, 7), (7, 1), (4, 2), (2, 4)])
@pytest.mark.parametrize("n_phases", [1, 2])
def test_split_int8_digits_match_twin(m, k, tile, cycles, n_phases):
    n_cycles, cycle_bits = cycles
    rng = np.random.default_rng(1)
    codes = rng.integers(-127, 128, (m, k)).astype(np.float32)
    if n_phases == 1:
        codes = np.abs(codes)
    if codes.size:
        codes.flat[0] = np.nan   # NaN: zero digits (the caller marks its row)
    got = split_input_cycles(codes, n_cycles, cycle_bits, n_phases, tile, dtype=np.int8)
    want = np.nan_to_num(split_input_cycles_twin(codes, n_cycles, cycle_bits, n_phases, tile))
    assert got.dtype == np.int8
    np.testing.assert_array_equal(got, want.astype(np.int8))
    np.testing.assert_array_equal(split_input_cycles(codes[:, ::-1], n_cycles, cycle_bits,
                                                     n_phases, tile, dtype=np.int8),
                                  split_input_cycles_twin(np.nan_to_num(codes[:, ::-1].copy()),
                                                          n_cycles, cycle_bits, n_phases,
                                                          tile).astype(np.int8))


def test_split_int8_refuses_digits_that_do_not_fit():
    with pytest.raises(ValueError, match="int8"):
        split_input_cycles(np.zeros((2, 3), np.float32), 1, 8, 1, 4, dtype=np.int8)
    with pytest.raises(ValueError, match="dtype"):
        split_input_cycles(np.zeros((2, 3), np.float32), 1, 3, 1, 4, dtype=np.int16)


@pytest.mark.parametrize("t,r,m,g,n_out", [(1, 1, 1, 1, 1), (3, 2, 5, 4, 7), (1, 1, 0, 2, 3), (2, 2, 3, 2, 0)])
@pytest.mark.parametrize("adc", [(3.7, 0, 255), (1.0, -128, 127), (1 / 3, 0, 15)])
def test_accumulate_reads_int32_currents_exactly(t, r, m, g, n_out, adc):
    step, lo, hi = adc
    rng = np.random.default_rng(7)
    currents = rng.integers(-300, 2000, (t, r * m, g * n_out)).astype(np.int32)
    row_coef = rng.choice([-4.0, -1.0, 1.0, 2.0], r)
    col_coef = rng.choice([-16.0, 1.0, 4.0], g)
    counts = np.zeros(1, np.int64)
    got = adc_accumulate(currents, m, row_coef, col_coef, n_out, step, lo, hi, counts=counts)
    as_float = adc_accumulate(currents.astype(np.float32), m, row_coef, col_coef, n_out, step,
                              lo, hi)
    np.testing.assert_array_equal(got, as_float)     # the same bits as the float32 copy
    c = np.clip(np.rint(currents.astype(np.float64) * (1.0 / step)), lo, hi)
    c = c.reshape(t, r, m, g, n_out)
    np.testing.assert_array_equal(got, np.einsum("trmgo,r,g->mo", c, row_coef, col_coef))
    assert counts[0] == (informative_twin(currents, step, lo, hi) if m and n_out else 0)


def test_accumulate_counts_informative_codes():
    currents = np.array([[[0.2, 3.0, 1000.0, -5.0, np.nan]]], np.float32)
    counts = np.zeros(1, np.int64)
    adc_accumulate(currents, 1, np.array([1.0]), np.array([1.0]), 5, 1.0, 0, 255, counts=counts)
    assert counts[0] == 1     # 0.2 rounds to 0, 1000 and -5 saturate, NaN is no code


# ------------------------------------------------------------------ the integer ADC pass
from reram.kernels import adc_accumulate_int, int_adc_fits, int_adc_multiplier  # noqa: E402

ADCS = [(1.5058823529411764, 0.0, 255.0, 384),      # ISAAC preset, 128 rows
        (61.935483870967744, 0.0, 31.0, 1920),      # NeuroSim preset
        (3.7, -128.0, 127.0, 5000),                 # a bipolar ADC (differential="analog")
        (0.5, 0.0, 15.0, 100), (1.0, 0.0, 255.0, 1000), (7.0, 0.0, 7.0, 3)]


@pytest.mark.parametrize("step,lo,hi,max_current", ADCS)
def test_int_multiplier_gives_the_float64_codes_for_every_current(step, lo, hi, max_current):
    mult = int_adc_multiplier(step, lo, hi, max_current)
    assert mult is not None and mult.dtype == np.float32
    currents = np.arange(-max_current - 10, max_current + 11)
    want = np.clip(np.rint(currents.astype(np.float64) * (1.0 / step)), lo, hi)
    got = np.clip(np.rint(currents.astype(np.float32) * mult), np.float32(lo), np.float32(hi))
    inside = np.abs(currents) <= max_current
    np.testing.assert_array_equal(got[inside], want[inside])


def test_int_multiplier_refuses_what_float32_cannot_hold():
    assert int_adc_multiplier(1.0, 0.0, float(1 << 25), 1 << 25) is None   # past 2**24
    assert int_adc_multiplier(0.0, 0.0, 255.0, 100) is None
    # the one-slice benchmark config: 2M reachable currents, float32 products misround some
    assert int_adc_multiplier(8096.125490196078, 0.0, 255.0, 128 * 127 * 127) is None


def test_int_fits_bounds_the_sums():
    rows, cols = np.array([1.0, 2.0, -1.0, -2.0]), np.array([1.0, 16.0, -1.0, -16.0])
    assert int_adc_fits(rows, cols, 0.0, 255.0, 4)
    assert not int_adc_fits(rows, np.array([0.5, -0.5]), 0.0, 255.0, 4)  # not integers
    assert not int_adc_fits(rows, np.array([2.0 ** 20, -2.0 ** 20]), 0.0, 255.0, 4)  # > 2**24
    assert not int_adc_fits(np.array([2.0 ** 40]), cols, 0.0, 255.0, 1 << 10)        # > 2**53


@pytest.mark.parametrize("t,r,m,g,n_out", [(1, 1, 1, 1, 1), (3, 2, 5, 4, 7), (2, 30, 9, 16, 33),
                                           (1, 1, 0, 2, 3), (2, 2, 3, 2, 0), (1, 2, 130, 2, 5)])
@pytest.mark.parametrize("adc", ADCS)
def test_int_pass_is_bit_identical_to_float64_pass(t, r, m, g, n_out, adc):
    step, lo, hi, max_current = adc
    rng = np.random.default_rng(t * 31 + r + m)
    low = -max_current if lo < 0 else 0
    currents = rng.integers(low, max_current + 1, (t, r * m, g * n_out)).astype(np.int32)
    row_coef = rng.choice([-4.0, -1.0, 1.0, 2.0], r)
    col_coef = rng.choice([-16.0, 1.0, 4.0], g)
    assert int_adc_fits(row_coef, col_coef, lo, hi, t)
    mult = int_adc_multiplier(step, lo, hi, max_current)
    counts = np.zeros(1, np.int64)
    want = adc_accumulate(currents, m, row_coef, col_coef, n_out, step, lo, hi, counts=counts)
    got = np.zeros((m, n_out))
    seen = adc_accumulate_int(currents, m, row_coef, col_coef, n_out, mult, lo, hi, got)
    np.testing.assert_array_equal(got, want)
    assert seen == counts[0]
    again = np.zeros((m, n_out))
    assert adc_accumulate_int(currents, m, row_coef, col_coef, n_out, mult, lo, hi, again,
                              count=False) == 0
    np.testing.assert_array_equal(again, want)
    as_float = np.zeros((m, n_out))   # a float32 product's exact currents: the same bits
    assert adc_accumulate_int(currents.astype(np.float32), m, row_coef, col_coef, n_out, mult,
                              lo, hi, as_float) == counts[0]
    np.testing.assert_array_equal(as_float, want)


def test_int_pass_non_contiguous_and_into_a_view():
    rng = np.random.default_rng(9)
    big = rng.integers(0, 385, (2, 12, 16)).astype(np.int32)
    view = big[:, ::2, ::2]                                          # (2, 6, 8)
    mult = int_adc_multiplier(1.5058823529411764, 0.0, 255.0, 384)
    out = np.zeros((3, 9))
    adc_accumulate_int(view, 3, np.array([1.0, 2.0]), np.array([1.0, -1.0]), 4, mult, 0.0,
                       255.0, out[:, 2:6])
    want = adc_accumulate_twin(np.ascontiguousarray(view), 3, [1.0, 2.0], [1.0, -1.0], 4,
                               1.5058823529411764, 0, 255)
    np.testing.assert_array_equal(out[:, 2:6], want)
    assert not out[:, :2].any() and not out[:, 6:].any()


def test_int_pass_bad_input_raises():
    mult = np.float32(1.0)
    with pytest.raises(ValueError, match="int32 or float32"):
        adc_accumulate_int(np.zeros((1, 3, 6), np.float64), 3, np.ones(1), np.ones(2), 3, mult,
                           0, 7, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="does not match"):
        adc_accumulate_int(np.zeros((1, 4, 6), np.int32), 3, np.ones(1), np.ones(2), 3, mult,
                           0, 7, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="out must be"):
        adc_accumulate_int(np.zeros((1, 3, 6), np.int32), 3, np.ones(1), np.ones(2), 3, mult,
                           0, 7, np.zeros((3, 2)))


def test_float64_pass_without_counting_gives_the_same_sums():
    rng = np.random.default_rng(10)
    currents = rng.uniform(-50, 900, (2, 6, 8)).astype(np.float32)
    currents[0, 0, 0] = np.nan
    counts = np.zeros(1, np.int64)
    want = adc_accumulate(currents, 3, np.array([1.0, 2.0]), np.array([1.0, -1.0]), 4, 3.0, 0, 255)
    got = adc_accumulate(currents, 3, np.array([1.0, 2.0]), np.array([1.0, -1.0]), 4, 3.0, 0, 255,
                         counts=counts, count=False)
    np.testing.assert_array_equal(got, want)                     # NaN in the same place
    assert counts[0] == 0


# ------------------------------------------------------------------ counting until found
def informative_until_found_twin(currents, m, n_row_groups, step, lo, hi):
    """The informative conversions of the first input (in order) that has one, else 0."""
    if not currents.size:
        return 0
    c = np.rint(currents.astype(np.float64) * (1.0 / step))
    hits = ((c > lo) & (c < hi) & (c != 0)).reshape(currents.shape[0], n_row_groups, m, -1)
    per_input = hits.sum(axis=(0, 1, 3))
    found = np.flatnonzero(per_input)
    return int(per_input[found[0]]) if found.size else 0


def _until_found_cases():
    """(currents, m, row_coef, col_coef, n_out, step, lo, hi) over shapes and edge cases."""
    rng = np.random.default_rng(11)
    cases = []
    for t, r, m, g, n_out in [(1, 1, 1, 1, 1), (3, 2, 5, 4, 7), (2, 8, 3, 16, 33),
                              (1, 2, 130, 2, 5), (1, 1, 0, 2, 3), (2, 2, 3, 2, 0)]:
        currents = rng.integers(0, 385, (t, r * m, g * n_out)).astype(np.int32)
        cases.append((currents, m, rng.choice([-2.0, -1.0, 1.0, 2.0], r),
                      rng.choice([-16.0, 1.0, 4.0], g), n_out, 1.5058823529411764, 0.0, 255.0))
    # no informative code before the last input: zeros and saturated currents first
    late = np.zeros((2, 2 * 6, 2 * 4), np.int32)
    late[:, :, ::2] = 10_000                               # saturated
    late[1, 2 * 6 - 1, 3] = 30                             # input 5, row group 1: code 20
    cases.append((late, 6, np.array([1.0, 2.0]), np.array([1.0, -1.0]), 4, 1.5, 0.0, 255.0))
    # nothing informative at all: every input converted, count 0
    cases.append((np.full((1, 4, 6), 10_000, np.int32), 4, np.array([1.0]),
                  np.array([1.0, -1.0]), 3, 1.5, 0.0, 255.0))
    # a bipolar ADC with negative currents
    cases.append((rng.integers(-5000, 5001, (2, 2 * 9, 2 * 5)).astype(np.int32), 9,
                  np.array([1.0, -1.0]), np.array([1.0, 4.0]), 5, 3.7, -128.0, 127.0))
    return cases


@pytest.mark.parametrize("case", range(len(_until_found_cases())))
@pytest.mark.parametrize("dtype", [np.int32, np.float32, np.float64])
def test_float64_pass_counting_until_found_matches_twin(case, dtype):
    currents, m, row_coef, col_coef, n_out, step, lo, hi = _until_found_cases()[case]
    currents = currents.astype(dtype)
    counts = np.zeros(1, np.int64)
    got = adc_accumulate(currents, m, row_coef, col_coef, n_out, step, lo, hi, counts=counts,
                         until_found=True)
    np.testing.assert_array_equal(got, adc_accumulate(currents, m, row_coef, col_coef, n_out,
                                                      step, lo, hi))   # the same sums
    np.testing.assert_allclose(got, adc_accumulate_twin(currents, m, row_coef, col_coef, n_out,
                                                        step, lo, hi), rtol=1e-12, atol=1e-9)
    want = informative_until_found_twin(currents, m, len(row_coef), step, lo, hi)
    assert counts[0] == want
    assert (want == 0) == (informative_twin(currents, step, lo, hi) == 0)


@pytest.mark.parametrize("case", range(len(_until_found_cases())))
@pytest.mark.parametrize("dtype", [np.int32, np.float32])
def test_int_pass_counting_until_found_matches_twin(case, dtype):
    currents, m, row_coef, col_coef, n_out, step, lo, hi = _until_found_cases()[case]
    currents = currents.astype(dtype)
    mult = int_adc_multiplier(step, lo, hi, int(np.abs(currents).max(initial=0)))
    assert mult is not None
    want = adc_accumulate(currents, m, row_coef, col_coef, n_out, step, lo, hi)
    got = np.zeros((m, n_out))
    seen = adc_accumulate_int(currents, m, row_coef, col_coef, n_out, mult, lo, hi, got,
                              until_found=True)
    np.testing.assert_array_equal(got, want)
    assert seen == informative_until_found_twin(currents, m, len(row_coef), step, lo, hi)
    again = np.zeros((m, n_out))   # count=False wins over until_found
    assert adc_accumulate_int(currents, m, row_coef, col_coef, n_out, mult, lo, hi, again,
                              count=False, until_found=True) == 0
    np.testing.assert_array_equal(again, want)


def test_counting_until_found_keeps_nan():
    currents = np.array([[[0.2, 3.0, 1000.0], [np.nan, 4.0, 0.0]]], np.float32)  # m=2
    counts = np.zeros(1, np.int64)
    got = adc_accumulate(currents, 2, np.array([1.0]), np.array([1.0]), 3, 1.0, 0, 255,
                         counts=counts, until_found=True)
    assert counts[0] == 1                       # input 0: the code 3 only; input 1 not counted
    assert np.isnan(got[1, 0]) and got[1, 1] == 4 and got[0, 2] == 255
