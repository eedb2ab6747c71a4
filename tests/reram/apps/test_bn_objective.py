"""Tests of training one BN mask and scoring it: real (tiny) crossbar trainings of the digits VGG."""
from __future__ import annotations

import json
import math
import pickle
import time
from pathlib import Path

import numpy as np
import pytest

from reram.apps._cli import InputError
from reram.apps.bn_objective import (
    MaskEvaluation,
    MaskTrainer,
    MaskTraining,
    Scorer,
    SingleObjective,
    StoredEvaluations,
    TwoObjectives,
    mask_bits,
    objective_pair,
    objective_value,
    reference_point,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
TINY = dict(model="vgg-digits", epochs=1, max_train=96, max_test=64)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("bn_cache")


@pytest.fixture(scope="module")
def trainer(cache_dir):
    return MaskTrainer(MaskTraining(**TINY), cache_dir, threads=1)


def test_evaluate_returns_accuracy_and_bn_count(trainer):
    ev = trainer.evaluate(np.array([1, 0, 0, 0, 0, 1]))
    assert ev.mask == "100001" and ev.n_bn == 2 and ev.num_sites == 6
    assert 0.0 <= ev.accuracy <= 1.0 and len(ev.history) == 1
    assert ev.history[-1] == ev.accuracy and ev.accuracies == (ev.accuracy,)  # one training seed
    assert ev.train_time_s > 0
    assert trainer(np.array([1, 0, 0, 0, 0, 1])) == ev.accuracy


def test_several_seeds_are_trained_once_each_and_averaged(trainer, cache_dir):
    one = trainer.evaluate("010001")  # seed 0, trained (or cached) by the trainer of one seed
    both = trainer.replicate((0, 1))
    assert both.lookup("010001") is None  # seed 1 not trained yet
    ev = both.evaluate("010001")
    assert ev.seeds == (0, 1) and ev.accuracies[0] == one.accuracy
    assert ev.accuracy == pytest.approx(np.mean(ev.accuracies))
    assert ev.accuracy_std == pytest.approx(np.std(ev.accuracies, ddof=1))
    assert len(ev.history) == 1 and ev.train_time_s == pytest.approx(sum(
        both.replicate((s,)).evaluate("010001").train_time_s for s in (0, 1)))
    # one file per (mask, seed), read back by a fresh trainer of the same seeds
    assert len(list(cache_dir.rglob("010001.json"))) == 2
    again = MaskTrainer(MaskTraining(**{**TINY, "seeds": (0, 1)}), cache_dir).lookup("010001")
    assert again is not None and again.accuracies == ev.accuracies and again.seeds == (0, 1)
    # a different seed gives a different training
    assert both.replicate((1,)).evaluate("010001").accuracies == (ev.accuracies[1],)


def test_width_is_part_of_the_training_and_its_cache_key():
    quarter = MaskTraining(model="vgg11", width=0.25)
    assert quarter.fingerprint()["width"] == 0.25
    assert "width" not in MaskTraining(model="vgg11").fingerprint()  # full width: earlier caches stay valid
    assert MaskTrainer(quarter).fingerprint_hash() != MaskTrainer(MaskTraining(model="vgg11")).fingerprint_hash()


def test_masks_are_cached_in_memory_and_on_disk(trainer, cache_dir):
    first = trainer.evaluate("100001")
    started = time.perf_counter()
    assert trainer.evaluate([1, 0, 0, 0, 0, 1]) is first  # no second training
    assert time.perf_counter() - started < 0.5
    fresh = MaskTrainer(MaskTraining(**TINY), cache_dir)
    assert fresh.lookup("100001") == first
    files = list(cache_dir.rglob("100001.json"))
    assert len(files) == 1 and json.loads(files[0].read_text())["evaluation"]["mask"] == "100001"
    other = MaskTrainer(MaskTraining(**{**TINY, "epochs": 2}), cache_dir)  # another training: no hit
    assert other.lookup("100001") is None


@pytest.mark.parametrize("damage", [
    lambda p: p.unlink(),                                         # missing
    lambda p: p.write_text(p.read_text()[:40]),                   # truncated
    lambda p: p.write_text("[1, 2, 3]"),                          # edited: not an object
    lambda p: p.write_text(json.dumps({**json.loads(p.read_text()), "evaluation": {"mask": "100001"}})),
    lambda p: p.write_bytes(b"\xff\xfe\x00garbage"),             # not text
])
def test_a_damaged_cache_file_counts_as_not_trained_and_is_retrained(trainer, cache_dir, damage):
    """Issue 24: a missing, truncated or edited eval file gave AttributeError on resume."""
    trainer.evaluate("100001")
    path = next(cache_dir.rglob("100001.json"))
    damage(path)
    fresh = MaskTrainer(MaskTraining(**TINY), cache_dir, threads=1)
    assert fresh.lookup("100001") is None
    ev = fresh.evaluate("100001")  # trained again and rewritten
    assert 0.0 <= ev.accuracy <= 1.0
    assert MaskTrainer(MaskTraining(**TINY), cache_dir).lookup("100001") == ev


def test_trainer_is_picklable_without_its_data(trainer):
    trainer.load_data()
    copy = pickle.loads(pickle.dumps(trainer))
    assert copy._data is None
    assert copy.lookup("100001") == trainer.lookup("100001")


@pytest.mark.parametrize("mask, match", [
    (np.ones(5), "6 BN sites"), ("1111111", "6 BN sites"), ([1, 0, 2, 0, 0, 1], "only 0 and 1"),
    (np.ones((2, 3)), "1-D"), ("all", "0 and 1"),
])
def test_bad_mask_is_a_value_error(trainer, mask, match):
    with pytest.raises(ValueError, match=match):
        trainer.evaluate(mask)


@pytest.mark.parametrize("kwargs, field", [
    ({"dataset": "imagenet"}, "dataset"), ({"dataset": "cifar10"}, "data_dir"),
    ({"model": "vgg7"}, "model"), ({"epochs": 0}, "epochs"), ({"config": "nonsense"}, "config"),
    ({"max_test": 0}, "max_test"), ({"seeds": (0, 0)}, "seeds"), ({"seeds": ()}, "seeds"), ({"seeds": (-1,)}, "seed"),
    ({"model": "resnet20", "width": 0.5}, "width"), ({"width": 0}, "width"),
])
def test_bad_training_settings_are_input_errors_at_construction(kwargs, field):
    with pytest.raises(InputError, match=field):
        MaskTraining(**kwargs)


def test_training_is_a_validated_documented_frozen_dataclass(tmp_path):
    import dataclasses

    assert all(f.metadata.get("doc") for f in dataclasses.fields(MaskTraining))
    cfg = MaskTraining(model="VGG_Digits", dataset="CIFAR-10", data_dir=tmp_path, epochs=2)
    assert (cfg.model, cfg.dataset, cfg.data_dir) == ("vgg-digits", "cifar10", str(tmp_path.resolve()))
    assert cfg.config == MaskTraining(config="neurosim-epiram").config  # stored as a dict of fields
    assert cfg.config["device"] == "epiram" and cfg.config["update"] == "pulsed"
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.epochs = 3  # type: ignore[misc]
    with pytest.raises(InputError, match="epochs"):
        dataclasses.replace(cfg, epochs=0)  # a copy is validated too
    a, b = MaskTrainer(MaskTraining(**TINY)), MaskTrainer(MaskTraining(**{**TINY, "model": "vgg_digits"}))
    assert a.fingerprint_hash() == b.fingerprint_hash()
    assert a.fingerprint_hash() != MaskTrainer(MaskTraining(**{**TINY, "seeds": (1,)})).fingerprint_hash()


def test_mnist_images_are_fitted_to_the_model_by_the_models_rule(tmp_path, writers):
    writers.mnist(tmp_path)
    small = MaskTrainer(MaskTraining(model="vgg-digits", dataset="mnist", data_dir=tmp_path))
    cifar_size = MaskTrainer(MaskTraining(model="vgg11", dataset="MNIST", data_dir=tmp_path))
    assert small.load_data().input_shape == (1, 28, 28)
    assert cifar_size.load_data().input_shape == (1, 32, 32)


def _ev(mask: str, acc: float) -> MaskEvaluation:
    return MaskEvaluation(mask=mask, n_bn=mask.count("1"), num_sites=len(mask), accuracy=acc)


def test_constrained_value_prefers_fewest_bn_among_feasible_masks():
    ref = 0.90
    feasible_few, feasible_many, infeasible = _ev("0001", 0.895), _ev("0111", 0.95), _ev("0000", 0.50)
    values = [objective_value(e, "constrained", epsilon=0.01, reference_accuracy=ref)
              for e in (feasible_few, feasible_many, infeasible)]
    assert values[0] == pytest.approx((1 - 0.5 * 0.005) / 4) and values[1] == pytest.approx((3 - 0.5 * 0.06) / 4)
    assert values[2] > 1.0  # every infeasible mask is worse than every feasible one
    more_accurate = objective_value(_ev("0010", 0.93), "constrained", epsilon=0.01, reference_accuracy=ref)
    assert more_accurate < values[0] < values[1]  # same BN count: the more accurate wins
    closer = objective_value(_ev("0000", 0.85), "constrained", epsilon=0.01, reference_accuracy=ref)
    assert 1.0 < closer < values[2]
    with pytest.raises(ValueError, match="reference_accuracy"):
        objective_value(feasible_few, "constrained")


def test_scorer_is_frozen_and_needs_its_reference():
    import dataclasses

    with pytest.raises(InputError, match="reference_accuracy"):
        Scorer("constrained")
    with pytest.raises(InputError, match="scalarization"):
        Scorer("pareto", reference_accuracy=0.5)
    with pytest.raises(InputError, match="lam"):
        Scorer("scalarized", lam=-1.0)
    scorer = Scorer("constrained", epsilon=0.05, reference_accuracy=0.9)
    with pytest.raises(dataclasses.FrozenInstanceError):
        scorer.reference_accuracy = 0.5  # type: ignore[misc]


def test_stored_table_scores_like_the_trainer():
    table = [_ev(format(i, "03b"), acc) for i, acc in enumerate([0.2, 0.5, 0.6, 0.9, 0.3, 0.8, 0.85, 0.9])]
    stored = StoredEvaluations(table)
    score = SingleObjective(stored, Scorer("constrained", epsilon=0.05, reference_accuracy=stored.evaluate("111").accuracy))
    assert score(np.array([0, 1, 1])) == pytest.approx((2 - 0.5 * 0.05) / 3)  # 0.9 >= 0.9 - 0.05
    assert score(np.array([0, 0, 1])) > 1.0  # 0.5: infeasible
    assert stored.calls == ["111", "011", "001"]
    scalar = SingleObjective(StoredEvaluations([e.to_dict() for e in table]), Scorer("scalarized", lam=0.3))
    assert scalar("001") == pytest.approx(-0.5 + 0.1)
    with pytest.raises(KeyError):
        StoredEvaluations(table[:2]).evaluate("111")


class _Costs:
    def __init__(self, speedups):
        self.speedups, self.asked = speedups, []

    def cost(self, bits):
        from reram.apps.bn_cost import MaskCost

        self.asked.append(bits)
        return MaskCost(speedup=self.speedups[bits])


def test_objective_pair_reference_point_and_two_objectives():
    ev = MaskEvaluation(mask="0110", n_bn=2, num_sites=4, accuracy=0.8)
    assert objective_pair(ev, "speedup", 3.0, 6.0) == [-0.8, -0.5]
    assert objective_pair(ev, "n_bn") == [-0.8, 0.5]
    assert reference_point("speedup", 4) == [-0.1, 0.0]  # chance accuracy on 10 classes, speedup 0
    assert reference_point("n_bn", 4, accuracy=0.0) == [0.0, 1.25]
    with pytest.raises(ValueError, match="speedup estimate"):
        objective_pair(ev, "speedup", None, 6.0)
    costs = _Costs({"0110": 3.0})
    two = TwoObjectives(StoredEvaluations([ev]), "speedup", costs, 6.0)
    assert two("0110") == [-0.8, -0.5] and costs.asked == ["0110"]
    with pytest.raises(ValueError, match="cost table"):
        TwoObjectives(StoredEvaluations([ev]), "speedup")


def test_mask_bits_and_evaluation_round_trip():
    assert mask_bits("10_01", 4) == "1001" and mask_bits(np.array([True, False]), 2) == "10"
    assert math.isclose(objective_value(_ev("10", 0.5), "scalarized", lam=0.2), -0.4)
    ev = MaskEvaluation(mask="10", n_bn=1, num_sites=2, accuracy=0.5, accuracies=(0.4, 0.6), history=[float("nan")])
    assert MaskEvaluation.from_dict(json.loads(json.dumps(ev.to_dict()))).accuracies == (0.4, 0.6)
    assert ev.to_dict()["history"] == [None]
    with pytest.raises(ValueError, match="not a mask evaluation"):
        MaskEvaluation.from_dict({"mask": "10"})


def test_digits_ground_truth_fixture_records_how_it_was_made():
    """The 64-mask table of an earlier main job (vgg-digits, 4-bit nearest crossbars with an
    ideal ADC, 3 epochs, isaac silicon): its header names the training, which rebuilds."""
    doc = json.loads((FIXTURES / "digits_exhaustive.json").read_text())
    header, table = doc["header"], doc["evaluations"]
    assert header["command"].startswith("python benchmarks/bench_bn_search.py enumerate")
    assert {"date", "wall_time_s_this_run", "objective_settings", "code"} <= set(header)
    fp = header["objective_settings"]
    training = MaskTraining(model=fp["model"], config=fp["config"], epochs=fp["epochs"], seeds=(fp["seed"],))
    assert training.epochs == 3 and training.config["weight_bits"] == 4 and fp["hardware"] == "isaac"
    masks = sorted(e["mask"] for e in table)
    assert masks == [format(i, "06b") for i in range(64)]  # every mask, once
    stored = StoredEvaluations(table)
    assert all(0.0 <= stored.evaluate(m).accuracy <= 1.0 for m in masks)
