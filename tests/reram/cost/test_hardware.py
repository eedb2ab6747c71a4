"""Tests of the hardware specs and the bundled, sourced configurations."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from reram.cost.silicon import adc_energy_scale

from reram.cost.hardware import (HardwareSpec, ReramSpec, available_gpus, available_hardware,
                                 geometry_from_config, load_gpu, load_hardware)

LEGACY_PATH = Path(__file__).parent / "data" / "isaac_0_1_0.json"


def test_bundled_configs_load_and_every_field_has_a_source():
    names = available_hardware()
    assert {"isaac", "puma"} <= set(names)
    for name in names:
        hw = load_hardware(name)
        assert hw.name == name
        for side in ("reram", "gpu", "link"):
            for f in dataclasses.fields(getattr(hw, side)):
                if f.name != "name":
                    assert hw.sources[f"{side}.{f.name}"].strip()


def test_isaac_derived_quantities():
    reram = load_hardware("isaac").reram
    # the geometry is the chip's crossbar config's, as the simulation computes it: the sign on
    # a G+/G- pair (15 magnitude bits over 8 slices x 2), 15 one-bit cycles per input phase
    assert (reram.slices, reram.signs, reram.differential_weights) == (8, 2, True)
    assert reram.input_cycles == 15 and reram.mvm_cycles(signed=True) == 30
    legacy = load_hardware(LEGACY_PATH).reram  # 0.1.0: ISAAC's offset encoding, 16 cycles
    assert (legacy.slices, legacy.signs, legacy.input_cycles) == (8, 1, 16)
    assert reram.total_crossbars == 168 * 96
    assert reram.activation_bytes == 2
    # ISAAC: 16 mW for 8 ADCs at 1.28 GSps -> 1.5625 pJ per conversion
    assert reram.adc_energy_per_conversion_j == pytest.approx(16e-3 / 8 / 1.28e9)


def test_differential_pair_uses_one_bit_for_the_sign():
    reram = dataclasses.replace(load_hardware("isaac").reram, differential_weights=True)
    assert reram.slices == 8  # ceil(15 / 2)
    reram = dataclasses.replace(reram, weight_bits=8, cell_bits=4)
    assert reram.slices == 2  # ceil(7 / 4)


def test_with_adc_bits_scales_rate_and_energy():
    reram = load_hardware("isaac").reram
    ten = reram.with_adc_bits(10)
    assert ten.adc_conversions_per_s == pytest.approx(1.28e9 * 8 / 10)
    # the survey model (floor + Walden term), not x4 for two more bits
    assert ten.adc_energy_per_conversion_j == pytest.approx(
        reram.adc_energy_per_conversion_j * adc_energy_scale(8, 10))
    assert 1.5 < ten.adc_energy_per_conversion_j / reram.adc_energy_per_conversion_j < 4


@pytest.mark.parametrize("field,value", [("adc_bits", 0), ("crossbar_rows", 1.5),
                                         ("read_latency_s", -1.0), ("tiles", True),
                                         ("write_energy_per_cell_j", float("nan"))])
def test_bad_reram_value_names_the_field(field, value):
    reram = load_hardware("isaac").reram
    with pytest.raises(ValueError, match=f"ReramSpec.{field}"):
        dataclasses.replace(reram, **{field: value})


def test_replace_with_dotted_paths():
    hw = load_hardware("isaac")
    small = hw.replace(**{"reram.tiles": 2, "gpu.peak_flops": 1e12, "reram.adc_bits": 6})
    assert small.reram.tiles == 2 and small.gpu.peak_flops == 1e12
    assert small.reram.adc_conversions_per_s == pytest.approx(1.28e9 * 8 / 6)
    with pytest.raises(ValueError, match="reram.nope"):
        hw.replace(**{"reram.nope": 1})


def test_loader_rejects_missing_source_unknown_field_and_unknown_name(tmp_path):
    data = load_hardware("isaac").to_dict()
    del data["_sources"]["crossbar.adc_bits"]
    path = tmp_path / "x.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="crossbar.adc_bits has no entry in _sources"):
        load_hardware(path)
    data = load_hardware("isaac").to_dict()
    data["reram"]["cell_bits"] = 4  # the geometry is the crossbar config's: never given twice
    with pytest.raises(ValueError, match="reram.cell_bits is decided by the 'crossbar' section"):
        HardwareSpec.from_dict(data)
    data = load_hardware("isaac").to_dict()
    data["gpu"]["flux"] = 3
    with pytest.raises(ValueError, match="gpu.flux"):
        HardwareSpec.from_dict(data)
    data = load_hardware("isaac").to_dict()
    del data["link"]["latency_s"]
    with pytest.raises(ValueError, match="link.latency_s"):
        HardwareSpec.from_dict(data)
    with pytest.raises(ValueError, match="unknown hardware config 'tpu'"):
        load_hardware("tpu")


def test_round_trip_through_dict():
    hw = load_hardware("puma")
    assert HardwareSpec.from_dict(hw.to_dict()) == hw
    assert isinstance(hw.reram, ReramSpec)


def test_legacy_spec_still_loads_and_round_trips():
    hw = load_hardware(LEGACY_PATH)
    assert hw.crossbar is None and hw.reram.shift_add_energy_j == hw.reram.digital_energy_per_op_j
    assert (hw.reram.static_power_w, hw.gpu.idle_power_w) == (0.0, 0.0)
    assert HardwareSpec.from_dict(hw.to_dict()) == hw


def test_gpu_baselines_and_their_energy_per_flop():
    assert {"v100", "gtx1080", "a100"} <= set(available_gpus())
    gpu, sources = load_gpu("v100")
    # dynamic energy: board power above idle at peak over the peak rate
    assert gpu.energy_per_flop_j == pytest.approx((300 - 40) / 15.7e12)
    assert gpu.bytes_per_value == 4 and sources["gpu.peak_flops"].startswith("NVIDIA")
    mixed, _ = load_gpu("v100", "mixed")
    assert (mixed.peak_flops, mixed.bytes_per_value, mixed.precision) == (125e12, 2, "mixed")
    with pytest.raises(ValueError, match="no tensor cores"):
        load_gpu("gtx1080", "mixed")
    with pytest.raises(ValueError, match="unknown gpu 'p100'"):
        load_gpu("p100")


def test_geometry_from_config_refuses_ideal_precisions():
    from reram.config import CrossbarConfig

    geometry = geometry_from_config(CrossbarConfig(weight_bits=4, cell_bits=2, dac_bits=None))
    assert geometry["dac_bits"] == 7 and geometry["differential_weights"] is True
    for name in ("tile_size", "adc_bits", "weight_bits", "input_bits", "cell_bits"):
        with pytest.raises(ValueError, match=f"CrossbarConfig.{name}=None"):
            geometry_from_config(CrossbarConfig(**{name: None}))
