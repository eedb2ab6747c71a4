"""The TIA's specs derived from a crossbar tile's read (no simulation)."""
from __future__ import annotations

import math

import pytest

from reram.analog.frontend import NEUROSIM_ISAAC_TILE, CrossbarTile, energy_per_read, frontend_specs


def test_specs_follow_the_tile():
    tile = CrossbarTile(rows=64, g_max_s=1e-5, v_read=0.5, read_time_s=100e-9, adc_bits=8, adc_range=0.5)
    z_high, z_low, bandwidth, power = frontend_specs(tile, settle_fraction=0.5, power_w=1e-3, fill=0.8)
    assert tile.full_scale_current_a == pytest.approx(64 * 0.5 * 1e-5 * 0.5)
    assert (z_high.op, z_high.value) == ("<=", pytest.approx(1.0 / 160e-6))
    assert (z_low.op, z_low.value) == (">=", pytest.approx(0.8 / 160e-6))
    # a first-order output settles to 1/2 LSB of 8 bits in 9 ln 2 time constants within 50 ns
    assert bandwidth.value == pytest.approx(9 * math.log(2) / (2 * math.pi * 50e-9))
    assert power.value == 1e-3
    faster = CrossbarTile(64, 1e-5, 0.5, 10e-9, 8, 0.5)
    assert frontend_specs(faster)[2].value == pytest.approx(10 * bandwidth.value)
    more_rows = CrossbarTile(128, 1e-5, 0.5, 100e-9, 8, 0.5)
    assert frontend_specs(more_rows)[0].value == pytest.approx(z_high.value / 2)
    assert energy_per_read(1e-3, NEUROSIM_ISAAC_TILE) == pytest.approx(1e-10)


@pytest.mark.parametrize("field,value,match", [("rows", 0, "rows must be an integer >= 1"),
                                               ("v_read", -0.1, "v_read must be a positive number"),
                                               ("adc_range", 1.5, "adc_range must be in")])
def test_bad_tiles_are_rejected(field, value, match):
    kwargs = dict(rows=128, g_max_s=1e-5, v_read=0.5, read_time_s=1e-7, adc_bits=8)
    kwargs[field] = value
    with pytest.raises(ValueError, match=match):
        CrossbarTile(**kwargs)
