"""BN sites, masks and the model builders of reram.models."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from reram.models import (
    MODEL_NAMES, apply_bn_mask, bn_sites, build_model, format_bn_mask, num_bn_sites, parse_bn_mask,
    resnet18, resnet20, vgg11, vgg16, vgg_digits,
)


@pytest.mark.parametrize(
    "name, count",
    [("vgg11", 8), ("vgg13", 10), ("vgg16", 13), ("vgg19", 16), ("resnet18", 20), ("resnet20", 21),
     ("resnet34", 36), ("vgg-digits", 6)],
)
def test_bn_site_counts(name: str, count: int) -> None:
    assert num_bn_sites(name) == count


def test_resnet18_sites_include_downsample_in_forward_order() -> None:
    net = resnet18()
    names = [site.name for site in bn_sites(net)]
    assert names[:5] == ["bn1", "layer1.0.bn1", "layer1.0.bn2", "layer1.1.bn1", "layer1.1.bn2"]
    assert [n for n in names if "downsample" in n] == [
        "layer2.0.downsample.bn", "layer3.0.downsample.bn", "layer4.0.downsample.bn"]
    traced = [site.name for site in bn_sites(net, torch.randn(1, 3, 32, 32))]
    assert traced == names


@pytest.mark.parametrize("builder, count", [(torchvision.models.vgg11_bn, 8), (torchvision.models.resnet18, 20)])
def test_torchvision_bn_sites(builder, count: int) -> None:
    net = builder(weights=None)
    sites = bn_sites(net)
    assert len(sites) == count
    assert all(isinstance(s.module, nn.BatchNorm2d) for s in sites)
    assert all(net.get_submodule(s.name) is s.module for s in sites)
    traced = bn_sites(net, torch.randn(1, 3, 64, 64))
    assert [s.name for s in traced] == [s.name for s in sites]


def test_bn_sites_orders_by_execution_when_registration_differs() -> None:
    class Reversed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.late = nn.BatchNorm1d(4)
            self.early = nn.BatchNorm1d(4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.late(self.early(x))

    net = Reversed()
    assert [s.name for s in bn_sites(net)] == ["late", "early"]
    assert [s.name for s in bn_sites(net, torch.randn(3, 4))] == ["early", "late"]
    assert net.training  # mode restored


def test_builder_mask_keeps_chosen_sites_and_adds_biases() -> None:
    net = vgg11(bn_mask="10100000")
    assert [s.name for s in bn_sites(net)] == ["features.0.bn", "features.4.bn"]
    convs = [m for m in net.features if hasattr(m, "conv")]
    assert [c.conv.bias is None for c in convs] == [True, False, True, False, False, False, False, False]
    assert isinstance(net.features[2].bn, nn.Identity)
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_builder_mask_forms_agree() -> None:
    bits = [1, 0, 1, 0, 0, 0]
    expected = ["features.0.bn", "features.3.bn"]
    for mask in ("101000", bits, [bool(b) for b in bits], torch.tensor(bits), np.array(bits)):
        assert [s.name for s in bn_sites(vgg_digits(bn_mask=mask))] == expected
    assert bn_sites(vgg_digits(bn_mask="none")) == []
    assert len(bn_sites(vgg_digits(bn_mask="all"))) == 6


def test_resnet_mask_removes_downsample_bn() -> None:
    mask = ["1"] * 20
    mask[7] = "0"  # layer2.0.downsample.bn: bn1, (l1.0 bn1 bn2), (l1.1 bn1 bn2), l2.0 bn1 bn2 ds
    net = resnet18(bn_mask="".join(mask))
    names = [s.name for s in bn_sites(net)]
    assert "layer2.0.downsample.bn" not in names and len(names) == 19
    assert net.layer2[0].downsample.conv.bias is not None


def test_apply_bn_mask_on_torchvision_models() -> None:
    vgg = torchvision.models.vgg11_bn(weights=None)
    masked = apply_bn_mask(vgg, "10000000")
    assert len(bn_sites(vgg)) == 8  # original untouched
    kept = bn_sites(masked)
    assert [s.name for s in kept] == ["features.1"]
    assert isinstance(masked.features[5], nn.Identity)
    masked.eval()
    assert masked(torch.randn(1, 3, 32, 32)).shape == (1, 1000)

    res = torchvision.models.resnet18(weights=None)
    bits = [0] * 20
    bits[-1] = 1
    masked_res = apply_bn_mask(res, bits)
    assert [s.name for s in bn_sites(masked_res)] == [bn_sites(res)[-1].name]
    assert isinstance(masked_res.layer1[0].bn1, nn.Identity)


def test_apply_bn_mask_keeps_other_weights() -> None:
    net = vgg_digits()
    masked = apply_bn_mask(net, "011111")
    assert torch.equal(masked.features[0].conv.weight, net.features[0].conv.weight)
    assert masked.features[0].conv.weight is not net.features[0].conv.weight


@pytest.mark.parametrize(
    "mask, message",
    [("1010000", "has 7 bits but the model has 8 BN sites"),
     ([1, 0, 2, 0, 0, 0, 0, 0], "only 0 and 1; got 2 at position 2"),
     ("1010000x", "bad character 'x'"),
     ([0.5] * 8, "only 0 and 1"),
     (torch.ones(2, 4), "must be 1-D")],
)
def test_apply_bn_mask_rejects_bad_masks(mask, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        apply_bn_mask(vgg11(), mask)


def test_apply_bn_mask_rejects_model_without_bn() -> None:
    with pytest.raises(ValueError, match="has no BatchNorm layers"):
        apply_bn_mask(nn.Sequential(nn.Linear(3, 3), nn.ReLU()), "1")
    with pytest.raises(TypeError, match="bn_mask must be"):
        parse_bn_mask(3.0, 1)  # type: ignore[arg-type]


def test_builders_reject_bad_masks_before_building() -> None:
    with pytest.raises(ValueError, match="has 3 bits but the model has 20"):
        resnet18(bn_mask="101")
    with pytest.raises(ValueError, match="model must be one of"):
        build_model("alexnet")


def test_parse_and_format_roundtrip() -> None:
    assert parse_bn_mask("1_0 1", 3) == (True, False, True)
    assert parse_bn_mask(None, 2) == (True, True)
    assert parse_bn_mask("NONE", 2) == (False, False)
    assert format_bn_mask(parse_bn_mask("0110", 4)) == "0110"


@pytest.mark.parametrize("name", ["vgg11", "resnet18", "resnet20"])
def test_init_without_bn_keeps_signal_scale(name: str) -> None:
    torch.manual_seed(0)
    net = build_model(name, bn_mask="none").eval()
    with torch.no_grad():
        out = net(torch.randn(8, 3, 32, 32))
    # Kaiming (ReLU layers) + Xavier (output) + Fixup scaling keeps logits O(1):
    # neither vanishing (default PyTorch init gives 0.03-0.06 here) nor exploding.
    assert 0.1 < out.std().item() < 10.0


def test_num_classes_and_channels() -> None:
    assert vgg16(num_classes=100)(torch.randn(1, 3, 32, 32)).shape == (1, 100)
    assert resnet20(num_classes=7, in_channels=1)(torch.randn(2, 1, 32, 32)).shape == (2, 7)
    assert vgg_digits(num_classes=3)(torch.randn(2, 1, 8, 8)).shape == (2, 3)
    assert set(MODEL_NAMES) == {"vgg11", "vgg13", "vgg16", "vgg19", "resnet18", "resnet20", "resnet34", "vgg-digits"}
    with pytest.raises(ValueError, match="num_classes must be a positive integer"):
        vgg11(num_classes=0)


@pytest.mark.parametrize("name, pools", [("vgg11", 3), ("vgg16", 3)])
def test_cifar_vggs_fit_their_pools_to_8x8_digits(name: str, pools: int) -> None:
    """8x8 inputs keep every conv and BN site (same names) and the pools the image can take."""
    small = build_model(name, in_channels=1, input_size=8)
    full = build_model(name, in_channels=1)
    assert [s.name for s in bn_sites(small)] == [s.name for s in bn_sites(full)]
    assert small.state_dict().keys() == full.state_dict().keys()
    assert sum(isinstance(m, torch.nn.MaxPool2d) for m in small.modules()) == pools
    assert small(torch.randn(2, 1, 8, 8)).shape == (2, 10)
    same = build_model(name, in_channels=1, input_size=32)
    assert [type(m) for m in same.modules()] == [type(m) for m in full.modules()]  # 32x32: unchanged
    with pytest.raises(ValueError, match="input_size must be a positive integer"):
        build_model(name, input_size=0)


def test_resnet20_and_vgg_digits_take_8x8_and_ignore_input_size() -> None:
    assert build_model("resnet20", in_channels=1, input_size=8)(torch.randn(2, 1, 8, 8)).shape == (2, 10)
    assert len(bn_sites(build_model("resnet20", input_size=8))) == 21
    assert len(bn_sites(build_model("vgg-digits", input_size=8))) == 6


def test_width_scaled_vgg11_keeps_its_bn_sites_and_scales_every_layer():
    from reram.models import build_model
    from reram.models.vgg import vgg11

    full, quarter = vgg11(input_size=8), vgg11(input_size=8, width=0.25)
    assert len(bn_sites(quarter)) == len(bn_sites(full)) == 8
    convs = [m.out_channels for m in quarter.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs == [16, 32, 64, 64, 128, 128, 128, 128]
    assert [m.out_features for m in quarter.classifier if isinstance(m, torch.nn.Linear)] == [128, 128, 10]
    assert sum(p.numel() for p in vgg11(width=1.0).parameters()) == sum(p.numel() for p in vgg11().parameters())
    assert quarter(torch.zeros(2, 3, 8, 8)).shape == (2, 10)
    with pytest.raises(ValueError, match="width"):
        vgg11(width=0)
    with pytest.raises(ValueError, match="width must be 1.0 for resnet20"):
        build_model("resnet20", width=0.5)
