"""The training loop of reram.models.train: learning, determinism, checkpoint and resume."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import reram
from reram.models import bn_sites, vgg_digits
from reram.models.data import load_digits
from reram.models.train import TrainConfig, run_training, train

NEAREST4 = {"weight_bits": 4, "update": "nearest", "adc_bits": None, "input_bits": 8,
            "tile_size": None, "cell_bits": None, "dac_bits": None}


@pytest.fixture(scope="module")
def digits():
    data = load_digits(seed=0)
    data.train_images, data.train_labels = data.train_images[:400], data.train_labels[:400]
    data.test_images, data.test_labels = data.test_images[:200], data.test_labels[:200]
    return data


def _tiny(mask="all", config=None, seed=0):
    torch.manual_seed(seed)
    net = vgg_digits(bn_mask=mask, width=4)
    return net if config is None else reram.convert(net, reram.CrossbarConfig.from_dict(config))


def _cfg(**kw) -> TrainConfig:
    base = dict(epochs=3, batch_size=32, lr=0.05, progress=False, device="cpu")
    base.update(kw)
    return TrainConfig(**base)


def _strip_time(history):
    return [{k: v for k, v in h.items() if k != "time_s"} for h in history]


def _assert_same_state(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


def test_float_training_learns_and_is_deterministic(digits) -> None:
    first = train(_tiny(), digits, _cfg())
    second = train(_tiny(), digits, _cfg())
    assert len(first.history) == 3
    assert first.test_accuracy > 0.5  # chance is 0.1
    assert first.history[-1]["train_loss"] < first.history[0]["train_loss"]
    assert _strip_time(first.history) == _strip_time(second.history)
    _assert_same_state(first.model, second.model)


@pytest.mark.parametrize("config", [None, NEAREST4], ids=["float", "nearest4"])
def test_resume_after_interruption_equals_uninterrupted_run(digits, tmp_path: Path, config) -> None:
    reference = train(_tiny(config=config), digits, _cfg(checkpoint=tmp_path / "ref.ckpt"))

    class Killed(Exception):
        pass

    def kill_after_first_epoch(history):
        if len(history) == 1:
            raise Killed

    ckpt = tmp_path / "run.ckpt"
    with pytest.raises(Killed):
        train(_tiny(config=config), digits, _cfg(checkpoint=ckpt), on_epoch_end=kill_after_first_epoch)
    assert ckpt.exists() and not list(tmp_path.glob(".run.ckpt.*"))  # atomic: no temp file left
    resumed = train(_tiny(config=config), digits, _cfg(checkpoint=ckpt))
    assert resumed.resumed_from_epoch == 1
    assert _strip_time(resumed.history) == _strip_time(reference.history)
    _assert_same_state(resumed.model, reference.model)
    # a finished run resumed again does nothing more and reports the same result
    again = train(_tiny(config=config), digits, _cfg(checkpoint=ckpt))
    assert again.resumed_from_epoch == 3 and _strip_time(again.history) == _strip_time(reference.history)


def test_checkpoint_of_another_run_is_refused(digits, tmp_path: Path) -> None:
    ckpt = tmp_path / "a.ckpt"
    train(_tiny(), digits, _cfg(epochs=1, checkpoint=ckpt), run_info={"bn_mask": "111111"})
    with pytest.raises(ValueError, match="belongs to another run .*lr"):
        train(_tiny(), digits, _cfg(epochs=1, lr=0.1, checkpoint=ckpt), run_info={"bn_mask": "111111"})
    with pytest.raises(ValueError, match="bn_mask: '111111' there, '000000' now"):
        train(_tiny(), digits, _cfg(epochs=1, checkpoint=ckpt), run_info={"bn_mask": "000000"})
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot be read"):
        train(_tiny(), digits, _cfg(epochs=1, checkpoint=tmp_path / "junk.ckpt"))


def test_nearest_updates_keep_weights_on_grid_and_bn_float(digits) -> None:
    result = train(_tiny(config=NEAREST4), digits, _cfg(epochs=1))
    layers = [m for m in result.model.modules() if isinstance(m, reram.CrossbarLayer)]
    assert len(layers) == 8  # 6 convs + 2 linear
    for layer in layers:
        step = layer.crossbar_weight_scale[0] / 7  # 4 bits: 7 magnitude levels
        codes = layer.weight.detach().reshape(layer.weight.shape[0], -1) / step
        assert torch.allclose(codes, codes.round(), atol=1e-3)
        assert int(layer.crossbar_update_count) > 1  # re-programmed during training
    sites = bn_sites(result.model)
    assert len(sites) == 6 and all(s.module.weight.dtype == torch.float32 for s in sites)
    assert all(not isinstance(s.module, reram.CrossbarLayer) for s in sites)


def test_train_config_validation() -> None:
    for kwargs, message in [({"epochs": 0}, "epochs must be a positive integer"),
                            ({"lr": -1.0}, "lr must be a positive number"),
                            ({"momentum": 1.0}, r"momentum must be in \[0, 1\)"),
                            ({"schedule": "step"}, "schedule must be one of cosine, constant"),
                            ({"batch_size": 2.5}, "batch_size must be a positive integer")]:
        with pytest.raises(ValueError, match=message):
            TrainConfig(**kwargs).validate()


def test_run_training_writes_metrics_json(tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    payload = run_training(bn_mask="101000", config=NEAREST4, out=out, max_train=200, max_test=100,
                           train_config=_cfg(epochs=2))
    written = json.loads(out.read_text())
    assert written["complete"] and written["epochs_done"] == 2
    assert written["test_accuracy"] == payload["test_accuracy"] and 0.0 <= written["test_accuracy"] <= 1.0
    assert [h["epoch"] for h in written["history"]] == [1, 2]
    assert written["bn_mask"] == "101000" and written["bn_sites_kept"] == ["features.0.bn", "features.3.bn"]
    assert written["config"]["weight_bits"] == 4 and (tmp_path / "m.json.ckpt").exists()


def test_run_training_rejects_bad_input_before_work(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="has 3 bits but the model has 6 BN sites"):
        run_training(bn_mask="101", data_dir=tmp_path / "never-read")
    from dataclasses import replace

    from reram.models.data import load_digits

    full = load_digits()
    one_pixel = replace(full, train_images=full.train_images[..., :1, :1], test_images=full.test_images[..., :1, :1])
    with pytest.raises(ValueError, match="model vgg-digits cannot take digits images of shape \\(1, 1, 1\\)"):
        run_training(model="vgg-digits", train_config=_cfg(epochs=1), data=one_pixel)


def test_resume_with_other_thread_count_warns(digits, tmp_path: Path) -> None:
    ckpt = tmp_path / "t.ckpt"
    train(_tiny(), digits, _cfg(epochs=1, checkpoint=ckpt))
    before = torch.get_num_threads()
    torch.set_num_threads(before + 1)
    try:
        with pytest.warns(UserWarning, match="may differ in the last bits"):
            train(_tiny(), digits, _cfg(epochs=1, checkpoint=ckpt))
    finally:
        torch.set_num_threads(before)
