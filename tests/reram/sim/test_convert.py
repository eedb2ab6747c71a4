"""reram.convert / convert_to_float on hand-built and torchvision models."""
import pytest
import torch
import torchvision
from torch import nn

import reram
from reram import CrossbarConfig, CrossbarConv2d, CrossbarLinear

CFG = CrossbarConfig(weight_bits=6, input_bits=8, adc_bits=None, cell_bits=None)


def _count(model, cls):
    return sum(isinstance(m, cls) for m in model.modules())


@pytest.mark.parametrize("builder,n_conv,n_lin", [
    (torchvision.models.resnet18, 20, 1), (torchvision.models.vgg11_bn, 8, 3)])
def test_torchvision_models(builder, n_conv, n_lin):
    torch.manual_seed(0)
    model = builder(weights=None, num_classes=10).eval()
    converted = reram.convert(model, CFG)
    assert _count(converted, CrossbarConv2d) == n_conv
    assert _count(converted, CrossbarLinear) == n_lin
    assert _count(converted, nn.BatchNorm2d) == _count(model, nn.BatchNorm2d)
    assert _count(model, CrossbarConv2d) == 0            # the original is untouched
    assert not converted.training
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        y, ref = converted(x), model(x)
    assert y.shape == ref.shape
    rel = float((y - ref).norm() / ref.norm())
    assert rel < 0.5
    back = reram.convert_to_float(converted)
    assert _count(back, CrossbarConv2d) == 0 and _count(back, nn.Conv2d) == n_conv
    summary = reram.summarize(converted)
    assert summary.n_crossbar == n_conv + n_lin and f"{n_conv + n_lin} layer(s) on crossbars" in str(summary)


def test_exclude_config_fn_inplace_and_seeds():
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 8), nn.Linear(8, 2))
    out = reram.convert(net, CFG, exclude=("4",))
    assert isinstance(out[0], CrossbarConv2d) and isinstance(out[3], CrossbarLinear)
    assert type(out[4]) is nn.Linear
    out = reram.convert(net, CFG, exclude="*")
    assert _count(out, reram.CrossbarLayer) == 0

    def per_layer(name, module, cfg):
        if isinstance(module, nn.Conv2d):
            return cfg.replace(weight_bits=3)
        return None if name == "3" else cfg
    out = reram.convert(net, CFG, config_fn=per_layer)
    assert out[0].crossbar_config.weight_bits == 3 and type(out[3]) is nn.Linear
    assert out[4].crossbar_config.weight_bits == 6
    assert out[0].crossbar_config.seed != out[4].crossbar_config.seed   # independent chips
    same = reram.convert(net, CFG)
    again = reram.convert(net, CFG)
    assert same[0].crossbar_config.seed == again[0].crossbar_config.seed
    res = reram.convert(net, CFG, inplace=True)
    assert res is net and isinstance(net[0], CrossbarConv2d)
    with pytest.raises(TypeError, match="config_fn"):
        reram.convert(nn.Linear(2, 2), CFG, config_fn=lambda *a: {"weight_bits": 3})


def test_hooks_mode_and_bare_layer_kept():
    lin = nn.Linear(4, 2)
    seen = []
    lin.register_forward_hook(lambda m, i, o: seen.append(o.shape))
    lin.eval()
    out = reram.convert(lin, CFG)
    assert isinstance(out, CrossbarLinear) and not out.training
    out(torch.randn(3, 4))
    assert seen == [torch.Size([3, 2])]


def test_bad_arguments():
    with pytest.raises(TypeError, match="model"):
        reram.convert("resnet", CFG)
    with pytest.raises(TypeError, match="config"):
        reram.convert(nn.Linear(2, 2), {"weight_bits": 4})
