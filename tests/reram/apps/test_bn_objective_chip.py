"""The BN search's accuracy and speed come from one chip: ``BNObjective.chip``."""
from __future__ import annotations

import pickle

import pytest

import reram.cost.scheduler as scheduler_module
import reram.models.train as train_module
from reram.apps.bn_objective import DEFAULT_CROSSBAR, BNObjective
from reram.config import CrossbarConfig
from reram.cost.chip import Chip

TINY = dict(epochs=1, max_train=32, max_test=16, torch_threads=1)


def test_training_and_speed_estimate_receive_the_same_chip_object(monkeypatch):
    obj = BNObjective(**TINY)
    chip = obj.chip
    assert isinstance(chip, Chip) and chip is obj.chip  # one object, built once
    assert chip.config == CrossbarConfig.from_dict(DEFAULT_CROSSBAR)  # what the model trains with
    assert chip.hardware.name == "isaac"  # the silicon of the hardware setting
    seen: dict = {}

    def fake_training(**kwargs):
        seen["config"] = kwargs["config"]
        return {"history": [{"test_accuracy": 0.5}], "test_accuracy": 0.5, "train_accuracy": 0.5}

    real_schedule = scheduler_module.schedule

    def spy_schedule(*args, **kwargs):
        seen["chip"] = kwargs["chip"]
        plan = real_schedule(*args, **kwargs)
        seen["plan_config"] = plan.config
        return plan

    monkeypatch.setattr(train_module, "run_training", fake_training)
    monkeypatch.setattr(scheduler_module, "schedule", spy_schedule)
    ev = obj.evaluate("000000")
    assert seen["config"] is chip.config   # accuracy: simulated on the chip's config
    assert seen["chip"] is chip            # speed: costed on the same chip object
    assert seen["plan_config"] == chip.config.to_dict()
    assert ev.speedup is not None and ev.speedup > 0


def test_the_chip_follows_the_config_and_hardware_settings():
    obj = BNObjective(config="isaac", hardware="puma", **TINY)
    assert obj.chip.config == CrossbarConfig.preset("isaac")
    assert obj.chip.hardware.name == "puma" and obj.chip.hardware.reram.mvm_extra_cycles == 2
    assert pickle.loads(pickle.dumps(obj)).chip.config == obj.chip.config
    float_obj = BNObjective(config="float", **TINY)
    assert float_obj.chip.config == Chip.preset("isaac").config  # float: the preset's own


def test_speedup_depends_on_the_trained_config():
    four = BNObjective(config=dict(DEFAULT_CROSSBAR), **TINY).speedup_of("000000")[0]
    isaac = BNObjective(config="isaac", **TINY).speedup_of("000000")[0]
    assert four is not None and isaac is not None and four != pytest.approx(isaac)
