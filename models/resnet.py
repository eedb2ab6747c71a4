"""CIFAR-size ResNets with a BN mask: ResNet18/34 (64..512 channels) and ResNet20 (16..64).

3x3 stem with stride 1 and no max-pool (32x32 inputs), basic blocks, and a projection shortcut
(1x1 conv + BN) wherever the shape changes. BN sites in forward order: ``bn1`` of the stem, then
per block ``bn1``, ``bn2`` and, where present, ``downsample.bn`` (ResNet18: 1 + 16 + 3 = 20;
ResNet20: 1 + 18 + 2 = 21; ResNet34: 1 + 32 + 3 = 36). A masked-out site is ``nn.Identity``, its
conv gets a bias, and a block whose ``bn2`` is removed gets a Fixup-style scaled init of
``conv2``. This module imports only torch and the BN/block helpers of this package.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from torch import Tensor, nn

from ._blocks import MaskBits, fixup_scale, init_output_layer, init_relu_layer, make_bn
from .bn import BNMaskLike, parse_bn_mask

__all__ = ["BasicBlock", "ResNet", "resnet18", "resnet20", "resnet34"]


class BasicBlock(nn.Module):
    """Two 3x3 convs with a residual connection: ``relu(bn2(conv2(relu(bn1(conv1 x)))) + s(x))``.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        stride: stride of ``conv1`` (and of the shortcut).
        bits: the BN mask bits, consumed in order ``bn1``, ``bn2``, ``downsample.bn``.
        num_blocks: residual blocks in the whole network (for the Fixup scaling).
    """

    def __init__(
        self, in_channels: int, out_channels: int, stride: int, bits: MaskBits, num_blocks: int
    ) -> None:
        super().__init__()
        use_bn1, use_bn2 = bits.next(), bits.next()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=not use_bn1)
        init_relu_layer(self.conv1)
        self.bn1 = make_bn(out_channels, use_bn1)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=not use_bn2)
        init_relu_layer(self.conv2, 1.0 if use_bn2 else fixup_scale(num_blocks))
        self.bn2 = make_bn(out_channels, use_bn2)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != out_channels:
            use_bn = bits.next()
            conv = nn.Conv2d(in_channels, out_channels, 1, stride, bias=not use_bn)
            nn.init.kaiming_normal_(conv.weight, mode="fan_in", nonlinearity="linear")
            if conv.bias is not None:
                nn.init.zeros_(conv.bias)
            self.downsample = nn.Sequential(OrderedDict([("conv", conv), ("bn", make_bn(out_channels, use_bn))]))

    def forward(self, x: Tensor) -> Tensor:
        """Output of the block for a ``batch x in_channels x H x W`` input."""
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


def _count_sites(stages: Sequence[int], widths: Sequence[int], stem_width: int) -> int:
    count, channels = 1, stem_width
    for stage, (blocks, width) in enumerate(zip(stages, widths)):
        for block in range(blocks):
            stride = 2 if stage > 0 and block == 0 else 1
            count += 2 + (1 if stride != 1 or channels != width else 0)
            channels = width
    return count


class ResNet(nn.Module):
    """A CIFAR-style ResNet of basic blocks.

    Args:
        stages: blocks per stage, e.g. ``(2, 2, 2, 2)`` for ResNet18.
        widths: channels per stage, e.g. ``(64, 128, 256, 512)``.
        num_classes: number of outputs.
        bn_mask: one bit per BN site in forward order; ``None`` = all on.
        in_channels: channels of the input images.

    Input: a ``batch x in_channels x H x W``-dim tensor. Output: ``batch x num_classes`` logits.
    """

    def __init__(
        self,
        stages: Sequence[int],
        widths: Sequence[int],
        num_classes: int = 10,
        bn_mask: BNMaskLike = None,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        for name, value in (("num_classes", num_classes), ("in_channels", in_channels)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if len(stages) != len(widths) or not stages:
            raise ValueError(f"stages and widths must be non-empty and of equal length, got {stages}, {widths}")
        stem_width = widths[0]
        bits = MaskBits(parse_bn_mask(bn_mask, _count_sites(stages, widths, stem_width)))
        num_blocks = sum(stages)
        use_bn = bits.next()
        self.conv1 = nn.Conv2d(in_channels, stem_width, 3, 1, 1, bias=not use_bn)
        init_relu_layer(self.conv1)
        self.bn1 = make_bn(stem_width, use_bn)
        self.relu = nn.ReLU(inplace=True)
        channels = stem_width
        for stage, (blocks, width) in enumerate(zip(stages, widths)):
            layer = []
            for block in range(blocks):
                stride = 2 if stage > 0 and block == 0 else 1
                layer.append(BasicBlock(channels, width, stride, bits, num_blocks))
                channels = width
            self.add_module(f"layer{stage + 1}", nn.Sequential(*layer))
        bits.check_consumed()
        self.num_stages = len(stages)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)
        init_output_layer(self.fc)

    def forward(self, x: Tensor) -> Tensor:
        """Logits for a ``batch x C x H x W`` batch."""
        x = self.relu(self.bn1(self.conv1(x)))
        for stage in range(self.num_stages):
            x = getattr(self, f"layer{stage + 1}")(x)
        return self.fc(self.avgpool(x).flatten(1))


def resnet18(num_classes: int = 10, bn_mask: BNMaskLike = None, in_channels: int = 3) -> ResNet:
    """ResNet18 for 32x32 images (20 BN sites). See :class:`ResNet` for the arguments."""
    return ResNet((2, 2, 2, 2), (64, 128, 256, 512), num_classes, bn_mask, in_channels)


def resnet20(num_classes: int = 10, bn_mask: BNMaskLike = None, in_channels: int = 3) -> ResNet:
    """ResNet20 for 32x32 images (21 BN sites; projection shortcuts). See :class:`ResNet`."""
    return ResNet((3, 3, 3), (16, 32, 64), num_classes, bn_mask, in_channels)


def resnet34(num_classes: int = 10, bn_mask: BNMaskLike = None, in_channels: int = 3) -> ResNet:
    """ResNet34 for 32x32 images (36 BN sites). See :class:`ResNet` for the arguments."""
    return ResNet((3, 4, 6, 3), (64, 128, 256, 512), num_classes, bn_mask, in_channels)
