"""Training on crossbars: update="digital" reaches the float net's accuracy on the digits."""
import torch

import reram
from reram.apps.demo import small_cnn, train_on_digits


def test_digital_update_matches_float_accuracy():
    float_acc, _ = train_on_digits(small_cnn(), epochs=8)
    cfg = reram.CrossbarConfig(tile_size=64, weight_bits=8, cell_bits=2, input_bits=8,
                               dac_bits=1, adc_bits=None, update="digital")
    xbar = reram.convert(small_cnn(), cfg)
    xbar_acc, losses = train_on_digits(xbar, epochs=8)   # a stock Adam, nothing special
    assert float_acc > 0.9
    assert xbar_acc >= float_acc - 0.02, (xbar_acc, float_acc)
    assert losses[-1] < losses[0]
    # the master weights stayed full precision while the crossbar realizes 8-bit weights
    layer = xbar[3]
    assert torch.unique(layer.effective_weight()).numel() <= 2 ** 8 - 1
    assert torch.unique(layer.weight.detach()).numel() > 2 ** 8


def test_pulsed_training_resumes_bit_identically(tmp_path, monkeypatch):
    """A killed pulsed run resumed from its checkpoint equals the uninterrupted run: the device
    conductances, their per-device curves (device-to-device variation) and the pulse noise
    (seeded by the update counter) all travel in the state_dict."""
    import pytest

    from reram.models import vgg_digits
    from reram.models.data import load_digits
    from reram.models.train import TrainConfig, train
    from reram.sim.devices import DEVICE_PRESETS, DeviceModel

    dev = DEVICE_PRESETS["alox-hfo2"]
    fields = {f: getattr(dev, f) for f in DeviceModel.__dataclass_fields__}
    monkeypatch.setitem(DEVICE_PRESETS, "alox-hfo2", DeviceModel(**{**fields, "d2d": 0.2}))
    data = load_digits(seed=0)
    data.train_images, data.train_labels = data.train_images[:192], data.train_labels[:192]
    data.test_images, data.test_labels = data.test_images[:64], data.test_labels[:64]
    cfg = reram.CrossbarConfig(weight_bits=4, input_bits=8, adc_bits=None, tile_size=None, cell_bits=None,
                               dac_bits=None, update="pulsed", device="alox-hfo2", seed=3)

    def model(init_seed: int):
        torch.manual_seed(init_seed)
        return reram.convert(vgg_digits(bn_mask="none", width=4), cfg)

    def tc(path):
        return TrainConfig(epochs=2, batch_size=32, lr=0.05, progress=False, device="cpu", checkpoint=path)

    reference = train(model(0), data, tc(tmp_path / "ref.ckpt"))

    class Killed(Exception):
        pass

    def kill(history):
        if len(history) == 1:
            raise Killed

    with pytest.raises(Killed):
        train(model(0), data, tc(tmp_path / "run.ckpt"), on_epoch_end=kill)
    # the resumed model starts from other random weights: everything must come from the checkpoint
    resumed = train(model(1), data, tc(tmp_path / "run.ckpt"))
    assert resumed.resumed_from_epoch == 1
    ref_state, res_state = reference.model.state_dict(), resumed.model.state_dict()
    assert any(k.endswith("crossbar_device_a") for k in ref_state)
    for key in ref_state:
        assert torch.equal(ref_state[key], res_state[key]), key
