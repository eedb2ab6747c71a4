"""The BN search's accuracy and speed come from one chip, and each mask is costed once."""
from __future__ import annotations

import pickle

import pytest

import reram.cost.scheduler as scheduler_module
import reram.models.train as train_module
from reram.apps._cli import InputError
from reram.apps.bn_cost import CostTable, MaskCost, search_chip
from reram.apps.bn_objective import MaskTrainer, MaskTraining
from reram.config import CrossbarConfig
from reram.cost.chip import Chip

TINY = dict(model="vgg-digits", epochs=1, max_train=32, max_test=16)


def test_the_chip_is_the_silicon_with_the_trained_config():
    training = MaskTraining(**TINY)
    chip = search_chip("neurosim", training.config)
    assert chip.config == CrossbarConfig.preset("neurosim-epiram")  # what the model trains with
    assert chip.hardware.name == "neurosim"
    puma = search_chip("puma", MaskTraining(config="isaac", **{k: v for k, v in TINY.items() if k != "config"}).config)
    assert puma.config == CrossbarConfig.preset("isaac") and puma.hardware.reram.mvm_extra_cycles == 2
    assert search_chip("isaac", "float").config == Chip.preset("isaac").config  # float: the preset's own
    with pytest.raises(InputError, match="chip 'tpu'"):
        search_chip("tpu", training.config)


def test_training_and_costs_use_the_same_config_and_each_mask_is_costed_once(monkeypatch):
    trainer = MaskTrainer(MaskTraining(**TINY))
    chip = search_chip("neurosim", trainer.training.config)
    costs = CostTable(trainer, chip)
    seen: dict = {"schedules": 0}

    def fake_training(**kwargs):
        seen["config"] = kwargs["config"]
        return {"history": [{"test_accuracy": 0.5}], "test_accuracy": 0.5, "train_accuracy": 0.5}

    real_schedule = scheduler_module.schedule

    def spy_schedule(*args, **kwargs):
        seen["schedules"] += 1
        seen["chip"] = kwargs["chip"]
        return real_schedule(*args, **kwargs)

    monkeypatch.setattr(train_module, "run_training", fake_training)
    monkeypatch.setattr(scheduler_module, "schedule", spy_schedule)
    trainer.evaluate("000000")
    assert seen["config"] == chip.config and seen["schedules"] == 0  # training costs nothing
    first = costs.cost("000000")
    assert seen["chip"] is chip and isinstance(first, MaskCost)
    assert first.speedup > 0 and first.throughput > 0 and first.energy_mj > 0 and first.energy_ratio > 0
    for _ in range(3):
        assert costs.cost("000000") is first
    assert seen["schedules"] == 1  # costed once
    copy = pickle.loads(pickle.dumps(costs))
    assert copy.cost("000000") == first and seen["schedules"] == 1  # the table travels to workers


def test_fewer_bn_layers_are_faster_and_the_speed_depends_on_the_config():
    trainer = MaskTrainer(MaskTraining(**TINY))
    costs = CostTable(trainer, search_chip("isaac", trainer.training.config))
    assert costs.cost("000000").speedup > costs.cost("111111").speedup
    isaac_trainer = MaskTrainer(MaskTraining(**{**TINY, "config": "isaac"}))
    isaac = CostTable(isaac_trainer, search_chip("isaac", isaac_trainer.training.config)).cost("000000").speedup
    assert isaac != pytest.approx(costs.cost("000000").speedup)
