"""``CrossbarConfig.parse``: a command line's config value (moved from models/train.py)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from reram.config import CrossbarConfig


def test_parse_accepts_float_presets_files_and_json(tmp_path: Path) -> None:
    assert CrossbarConfig.parse("float") is None and CrossbarConfig.parse(None) is None
    assert CrossbarConfig.parse("isaac") == CrossbarConfig.preset("isaac")
    cfg = CrossbarConfig(weight_bits=5)
    assert CrossbarConfig.parse(cfg) is cfg and CrossbarConfig.parse({"weight_bits": 5}) == cfg
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"weight_bits": 4, "update": "nearest"}))
    parsed = CrossbarConfig.parse(str(path))
    assert parsed.weight_bits == 4 and parsed.update == "nearest" and parsed.adc_bits == CrossbarConfig().adc_bits
    assert CrossbarConfig.parse(path).weight_bits == 4  # a Path too
    assert CrossbarConfig.parse('{"weight_bits": 5}').weight_bits == 5


def test_the_main_jobs_crossbar_is_a_named_sourced_preset() -> None:
    from reram.config import PRESETS

    cfg = CrossbarConfig.parse("neurosim-epiram")
    assert (cfg.tile_size, cfg.weight_bits, cfg.cell_bits, cfg.input_bits, cfg.dac_bits, cfg.adc_bits,
            cfg.update, cfg.device) == (128, 6, 6, 8, 8, 8, "pulsed", "epiram")
    assert "NeuroSim" in PRESETS["neurosim-epiram"]["_source"]


@pytest.mark.parametrize("spec, message", [
    ("foo", "--config must be one of float, ideal, isaac, neurosim, neurosim-epiram, <file>.json; got 'foo'"),
    ("missing.json", "--config file missing.json does not exist"),
    ("{weight_bits: 4", "not valid JSON"),
    ("[1, 2]", "must hold a JSON object"),
    ('{"bits": 4}', "unknown CrossbarConfig field"),
    (3, "--config must be 'float', a preset name"),
])
def test_parse_errors_name_the_field(spec, message) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("{", r"\{")):
        CrossbarConfig.parse(spec, field="--config")
