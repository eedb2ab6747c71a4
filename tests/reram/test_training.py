"""Training on crossbars: update="digital" reaches the float net's accuracy on the digits."""
import torch
from sklearn.datasets import load_digits
from torch import nn

import reram


def _data():
    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32)[:, None] / 16.0
    y = torch.tensor(d.target)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    return x, y, perm[:1400], perm[1400:]


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(32 * 4, 10))


def _train(model, epochs=8):
    x, y, tr, te = _data()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)   # a stock optimizer, nothing special
    for epoch in range(epochs):
        idx = tr[torch.randperm(len(tr), generator=torch.Generator().manual_seed(epoch))]
        for i in range(0, len(idx), 64):
            b = idx[i:i + 64]
            loss = nn.functional.cross_entropy(model(x[b]), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        return float((model(x[te]).argmax(1) == y[te]).float().mean())


def test_digital_update_matches_float_accuracy():
    float_acc = _train(_net())
    cfg = reram.CrossbarConfig(tile_size=64, weight_bits=8, cell_bits=2, input_bits=8,
                               dac_bits=1, adc_bits=None, update="digital")
    xbar = reram.convert(_net(), cfg)
    xbar_acc = _train(xbar)
    assert float_acc > 0.9
    assert xbar_acc >= float_acc - 0.02, (xbar_acc, float_acc)
    # the master weights stayed full precision while the crossbar realizes 8-bit weights
    layer = xbar[3]
    assert torch.unique(layer.effective_weight()).numel() <= 2 ** 8 - 1
    assert torch.unique(layer.weight.detach()).numel() > 2 ** 8
