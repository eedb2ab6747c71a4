"""CrossbarConfig: validation, presets, JSON round trip, repr."""
import json

import pytest

from reram import CrossbarConfig


@pytest.mark.parametrize("field,value", [
    ("saf0_rate", -0.1), ("saf1_rate", 1.5), ("variation", -1.0), ("tile_size", 0),
    ("weight_bits", 1), ("input_bits", 0), ("adc_bits", 0), ("dac_bits", 0), ("update", "sgd"),
    ("g_max", 0.0), ("g_min", -1e-6), ("weight_scaling", "row"), ("differential", "both"),
    ("seed", -1), ("adc_range", 0.0), ("tile_size", 2.5),
])
def test_bad_values_name_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        CrossbarConfig(**{field: value})


def test_cell_bits_above_weight_bits():
    with pytest.raises(ValueError, match="cell_bits"):
        CrossbarConfig(weight_bits=4, cell_bits=5)


def test_fault_rates_sum_and_conductance_order():
    with pytest.raises(ValueError, match="saf0_rate \\+ saf1_rate"):
        CrossbarConfig(saf0_rate=0.6, saf1_rate=0.6)
    with pytest.raises(ValueError, match="g_min"):
        CrossbarConfig(g_min=1e-4, g_max=1e-5)


def test_presets():
    isaac = CrossbarConfig.preset("isaac")
    assert (isaac.tile_size, isaac.cell_bits, isaac.weight_bits, isaac.input_bits,
            isaac.dac_bits, isaac.adc_bits) == (128, 2, 16, 16, 1, 8)
    assert isaac.n_slices == 8 and isaac.n_cycles == 15
    ns = CrossbarConfig.preset("neurosim")
    assert (ns.tile_size, ns.cell_bits, ns.weight_bits, ns.input_bits, ns.adc_bits) == (128, 4, 8, 8, 5)
    assert CrossbarConfig.preset("ideal").is_ideal
    assert CrossbarConfig.ideal().is_ideal
    assert CrossbarConfig.preset("isaac", adc_bits=6).adc_bits == 6
    with pytest.raises(ValueError, match="preset"):
        CrossbarConfig.preset("prime")


def test_json_round_trip(tmp_path):
    cfg = CrossbarConfig(weight_bits=5, saf1_rate=0.01, update="stochastic", tile_size=None)
    assert CrossbarConfig.from_json(cfg.to_json()) == cfg
    path = tmp_path / "c.json"
    cfg.to_json(str(path))
    assert CrossbarConfig.from_json(str(path)) == cfg
    assert CrossbarConfig.from_dict({"weight_bits": 4, "update": "nearest"}).weight_bits == 4
    with pytest.raises(ValueError, match="unknown CrossbarConfig field"):
        CrossbarConfig.from_dict({"weight_bit": 4})
    with pytest.raises(ValueError, match="JSON"):
        CrossbarConfig.from_json("{not json")
    assert json.loads(cfg.to_json())["saf1_rate"] == 0.01


def test_repr_shows_only_changed_fields():
    assert repr(CrossbarConfig()) == "CrossbarConfig()"
    assert repr(CrossbarConfig(adc_bits=4)) == "CrossbarConfig(adc_bits=4)"
    assert "adc=4b" in CrossbarConfig(adc_bits=4).describe()


def test_derived_counts():
    cfg = CrossbarConfig(weight_bits=8, cell_bits=2, input_bits=8, dac_bits=1)
    assert cfg.weight_levels == 127 and cfg.n_slices == 4 and cfg.n_cycles == 7
    assert CrossbarConfig(weight_bits=8, cell_bits=3).n_slices == 3
    assert CrossbarConfig(weight_bits=None, cell_bits=2).n_slices == 1


def test_fields_added_after_0_1_0_are_validated_and_left_out_of_to_dict_at_default():
    cfg = CrossbarConfig()
    assert cfg.read_noise == 0.0 and cfg.backward == "ideal"
    assert cfg.to_dict()["read_noise"] == 0.0 and cfg.to_dict()["backward"] == "ideal"  # every field
    noisy = CrossbarConfig(read_noise=0.02, backward="analog")
    assert noisy.to_dict()["read_noise"] == 0.02 and noisy.to_dict()["backward"] == "analog"
    assert CrossbarConfig.from_dict(noisy.to_dict()) == noisy
    assert not CrossbarConfig.ideal(read_noise=0.01).is_ideal
    with pytest.raises(ValueError, match="read_noise must be"):
        CrossbarConfig(read_noise=-1)
    with pytest.raises(ValueError, match="backward must be one of"):
        CrossbarConfig(backward="digital")


def test_pulsed_update_needs_a_known_device_and_only_then():
    from reram.config import DEVICE_NAMES, UPDATE_MODES

    assert "pulsed" in UPDATE_MODES
    cfg = CrossbarConfig(update="pulsed", device="ag-a-si")
    assert cfg.to_dict()["device"] == "ag-a-si" and "device=ag-a-si" in cfg.describe()
    assert CrossbarConfig.from_json(cfg.to_json()) == cfg
    assert CrossbarConfig().to_dict()["device"] is None
    assert not CrossbarConfig.ideal(update="pulsed", device="pcmo").is_ideal  # updates need programming
    for kwargs, match in [(dict(update="pulsed"), "device must be one of"),
                          (dict(update="pulsed", device="nope"), "device must be one of"),
                          (dict(device="pcmo"), "device must be None unless update='pulsed'"),
                          (dict(update="pulsed", device="linear", weight_bits=None, cell_bits=None),
                           "weight_bits must be an integer with device='linear'")]:
        with pytest.raises(ValueError, match=match):
            CrossbarConfig(**kwargs)
    assert len(DEVICE_NAMES) >= 6
