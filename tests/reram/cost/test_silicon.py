"""Chips of a stated size: component area and power, scaling by physics, budgets."""
from __future__ import annotations

import pytest
from torch import nn

from reram.cost.chip import Chip
from reram.cost.hardware import load_hardware
from reram.cost.scheduler import schedule
from reram.cost.silicon import (ADC_SURVEY, adc_energy_j, adc_energy_scale, dac_scale,
                                node_factors)


def test_isaac_preset_reproduces_its_stated_area_and_power():
    chip = Chip.preset("isaac")  # ISAAC is an inference chip: its table has no training silicon
    assert chip.area_mm2(training=False) == pytest.approx(85.4, rel=0.15)
    assert chip.power_w(training=False) == pytest.approx(65.8, rel=0.15)
    names = {c.name for c in chip.components()}
    assert {"array", "adc", "dac", "sample_hold", "shift_add", "edram", "router", "link_phy"} <= names
    assert all(c.source.strip() for c in chip.components())


def test_puma_node_within_15_percent_of_its_stated_area_and_power():
    rows = [c for c in Chip.preset("puma").components(training=False) if c.name != "link_phy"]
    assert sum(c.area_mm2 for c in rows) == pytest.approx(90.638, rel=0.15)
    assert sum(c.power_w for c in rows) == pytest.approx(62.5, rel=0.15)


def test_a_preset_with_many_adcs_is_much_larger_and_says_so():
    assert Chip.preset("neurosim").area_mm2() > 3 * Chip.preset("isaac").area_mm2()
    assert any("reference array" in note for note in Chip.preset("neurosim").notes())
    assert not any("reference array" in note for note in Chip.preset("isaac").notes())
    assert not any("reference array" in note for note in Chip.preset("isaac", tile_size=512).notes())


def test_training_adds_its_silicon():
    chip = Chip.preset("isaac")
    extra = {c.name: c for c in chip.training_components()}
    assert set(extra) == {"transposed_periphery", "weight_gradient_unit"}
    assert chip.area_mm2() == pytest.approx(chip.area_mm2(training=False) + sum(
        c.area_mm2 for c in extra.values()))
    assert extra["transposed_periphery"].area_mm2 == pytest.approx(
        chip.training.transposed_area_mm2(chip.total_crossbars, chip.hardware.reram))
    import dataclasses

    in_array = Chip(chip.config, chip.hardware,
                    training=dataclasses.replace(chip.training, weight_gradient="in-array"))
    assert "weight_gradient_unit" not in {c.name for c in in_array.training_components()}


def test_twice_the_chip_has_twice_the_static_power_and_write_budget():
    chip = Chip.preset("isaac")
    double = chip.replace(scale=2)
    assert double.hardware.reram.static_power_w == pytest.approx(2 * chip.hardware.reram.static_power_w)
    assert double.hardware.reram.max_write_power_w == pytest.approx(2 * 65.8)
    assert chip.replace(tiles=84).hardware.reram.static_power_w == pytest.approx(
        chip.hardware.reram.static_power_w / 2)
    # ISAAC's always-on units: 36.99 mW a tile
    assert chip.hardware.reram.static_power_w == pytest.approx(168 * 0.03699, rel=1e-6)


def test_edram_refresh_and_always_on_link_are_stated_options():
    import dataclasses

    chip = Chip.preset("isaac")
    silicon = chip.hardware.silicon
    refresh = chip.replace(silicon=dataclasses.replace(silicon, edram_refresh=True))
    assert refresh.hardware.reram.static_power_w == pytest.approx(
        chip.hardware.reram.static_power_w + 168 * silicon.edram_refresh_w_per_tile)
    link = chip.replace(silicon=dataclasses.replace(silicon, link_always_on=True))
    assert link.hardware.reram.static_power_w == pytest.approx(
        chip.hardware.reram.static_power_w + 10.4)
    # the component table shows what is charged: its always-on column sums to the static power
    # (the always-on link's row once said 0 W while the total counted its 10.4 W)
    both = chip.replace(silicon=dataclasses.replace(silicon, link_always_on=True, edram_refresh=True))
    for c in (chip, refresh, link, both):
        assert sum(r.static_w for r in c.components()) == pytest.approx(c.hardware.reram.static_power_w)
    (phy,) = [r for r in link.components() if r.name == "link_phy"]
    assert phy.static_w == pytest.approx(10.4) == pytest.approx(phy.power_w)


def test_always_on_link_is_charged_once():
    """With ``link_always_on`` the PHY's 10.4 W is static power for the whole batch *instead of*
    per byte (the module's word): the batch's link bytes then cost no energy of their own, and
    the peak power counts the link once (both charged it twice)."""
    import dataclasses

    chip = Chip.preset("isaac")
    on = chip.replace(silicon=dataclasses.replace(chip.hardware.silicon, link_always_on=True))
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                        nn.Linear(4 * 6 * 6, 10))
    per_byte = schedule(net, (3, 8, 8), batch_size=4, mode="train", chip=chip)
    static = schedule(net, (3, 8, 8), batch_size=4, mode="train", chip=on)
    moved = sum(l.bytes_moved for l in per_byte.layers)
    assert moved > 0 and per_byte.energy_breakdown["link"] == pytest.approx(moved * 4.06e-10)
    assert static.energy_breakdown["link"] == 0.0
    assert sum(l.bytes_moved for l in static.layers) == moved  # the bytes still cross, in time
    assert static.latency_s == pytest.approx(per_byte.latency_s)
    assert static.energy_breakdown["reram_static"] == pytest.approx(
        on.hardware.reram.static_power_w * static.latency_s)
    # the PHY's 10.4 W as static power in place of 25.6 GB/s x 406 pJ/B at full rate
    assert on.peak_power_w() == pytest.approx(chip.peak_power_w() - 25.6e9 * 4.06e-10 + 10.4)


def test_at_area_and_at_power_fill_the_budget():
    chip = Chip.preset("isaac")
    big = chip.at_area(4 * 85.4)
    one_tile = big.area_mm2() / big.hardware.reram.tiles
    assert 4 * 85.4 - one_tile < big.area_mm2() <= 4 * 85.4
    assert big.hardware.reram.tiles > 2 * 168  # with its training silicon a tile is 0.66 mm2
    capped = chip.at_power(300.0)
    assert capped.power_w() <= 300.0 < capped.replace(tiles=capped.hardware.reram.tiles + 1).power_w()
    shrunk = chip.at_area(815.0, node_nm=12)
    assert shrunk.hardware.silicon.node_nm == 12 and shrunk.area_mm2() <= 815.0
    assert shrunk.hardware.reram.tiles > big.hardware.reram.tiles
    with pytest.raises(ValueError, match="area budget"):
        chip.at_area(20.0)  # the link PHY alone is 22.9 mm2


def test_adc_energy_follows_the_survey_not_a_halving_per_bit():
    assert 1 < adc_energy_j(8) / adc_energy_j(4) < 10
    assert adc_energy_j(4) > 0.3e-12  # a floor, not 0.098 pJ
    for a, b in zip(range(1, 14), range(2, 15)):
        assert adc_energy_j(b) >= adc_energy_j(a)  # more bits never cheaper
    fitted = [adc_energy_j(a.bits) / a.energy_j for a in ADC_SURVEY]
    assert all(0.3 < f < 3 for f in fitted)  # within the survey's scatter
    chip = Chip.preset("isaac")
    four = chip.replace(adc_bits=4).hardware.reram
    assert four.adc_energy_per_conversion_j == pytest.approx(1.5625e-12 * adc_energy_scale(8, 4))


def test_more_adc_bits_never_cheaper_on_a_network():
    net = nn.Sequential(nn.Linear(256, 64), nn.ReLU(), nn.Linear(64, 10))
    energies = [schedule(net, (256,), 8, "inference", chip=Chip.preset("isaac", adc_bits=b),
                         replicate=False).energy_breakdown["adc"] for b in (4, 6, 8, 10)]
    assert energies == sorted(energies)


def test_dac_and_array_energy_follow_resolution_and_size():
    chip = Chip.preset("isaac")
    base = chip.hardware.reram
    eight = chip.replace(dac_bits=8, input_bits=16).hardware.reram
    assert eight.dac_energy_per_cycle_j == pytest.approx(base.dac_energy_per_cycle_j * dac_scale(1, 8))
    wide = chip.replace(tile_size=512).hardware.reram
    assert wide.crossbar_energy_per_cycle_j == pytest.approx(16 * base.crossbar_energy_per_cycle_j)
    assert wide.dac_energy_per_cycle_j == pytest.approx(4 * base.dac_energy_per_cycle_j)


def test_array_read_energy_follows_the_cells_conductance():
    chip = Chip.preset("isaac")
    g = (chip.config.g_min + chip.config.g_max) / 2
    hot = Chip.preset("isaac", g_max=2e-4)
    ratio = (hot.config.g_min + hot.config.g_max) / 2 / g
    assert hot.hardware.reram.crossbar_energy_per_cycle_j == pytest.approx(
        chip.hardware.reram.crossbar_energy_per_cycle_j * ratio)
    assert chip.replace(g_max=2e-4).hardware.reram == hot.hardware.reram
    back = chip.replace(g_max=2e-4).replace(g_max=1e-4).hardware.reram
    assert back.crossbar_energy_per_cycle_j == pytest.approx(chip.hardware.reram.crossbar_energy_per_cycle_j)
    array = {c.name: c for c in hot.components()}["array"]
    assert array.power_w == pytest.approx({c.name: c for c in chip.components()}["array"].power_w * ratio)


def test_tile_size_keeps_a_tiles_area_not_its_array_count():
    chip = Chip.preset("isaac")
    wide = chip.replace(tile_size=512)
    assert wide.hardware.reram.crossbars_per_tile < 96
    assert wide.area_mm2() <= chip.area_mm2() * 1.001
    back = wide.replace(tile_size=128)
    assert back.hardware.reram.crossbars_per_tile == 96  # no drift through a round trip


def test_node_factors():
    assert node_factors("digital", 32, 16) == (0.25, 0.5)
    assert node_factors("analog", 32, 16) == (0.5, 1.0)
    assert node_factors("io", 32, 16) == (1.0, 1.0)
    with pytest.raises(ValueError, match="unit kind"):
        node_factors("magic", 32, 16)


def test_preset_names_are_never_looked_up_on_disk(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "isaac").mkdir()
    (tmp_path / "puma").write_text("not json")
    assert Chip.preset("isaac").name == "isaac"
    assert load_hardware("puma").name == "puma"
    assert Chip.from_hardware("isaac").name == "isaac"
    import json

    (tmp_path / "mine.json").write_text(json.dumps(Chip.preset("isaac").to_dict()))
    assert load_hardware("./mine.json").name == "isaac"
    with pytest.raises(ValueError, match="does not exist"):
        load_hardware("./isaac.json")
    with pytest.raises(ValueError, match="unknown hardware config"):
        load_hardware("nope")
