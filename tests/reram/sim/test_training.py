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
