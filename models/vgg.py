"""VGG networks with a BN mask: CIFAR-size VGG11/13/16/19 and a small VGG for 8x8 digits.

Every conv is followed by one BN site (so VGG11 has 8 sites, VGG16 13); the fully-connected
classifier has none. For inputs smaller than 32x32 (``input_size``, e.g. the 8x8 digits) the
CIFAR VGGs keep every conv and BN site but only the max-pools the image can take: a pool that
would shrink a 1x1 map is an ``nn.Identity`` (VGG11 on 8x8: pools after convs 1, 2 and 4, then
convs 5-8 on 1x1 maps). This keeps the 8..16 BN sites searchable on the digits at the cost of
an 8x8 image (about 13 M multiply-accumulates per VGG11 forward instead of 150 M for the
digits upsampled to 32x32); module names and BN-site names do not change. A site whose mask bit is 0 is built as ``nn.Identity`` and its conv gets a
bias. Names of the sites: ``features.<i>.bn``. This module imports only torch and the BN/block
helpers of this package.
"""
from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from ._blocks import ConvBlock, MaskBits, init_output_layer, init_relu_layer
from .bn import BNMaskLike, parse_bn_mask

__all__ = ["VGG", "VGG_LAYOUTS", "scaled_layout", "vgg11", "vgg13", "vgg16", "vgg19", "vgg_digits"]

#: Conv widths per VGG depth; "M" is a 2x2 max-pool.
VGG_LAYOUTS: dict[str, list[int | str]] = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
              512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
              512, 512, 512, 512, "M"],
}


class VGG(nn.Module):
    """A VGG: conv blocks (``features``), adaptive average pooling, an MLP classifier.

    Args:
        layout: conv widths and ``"M"`` (max-pool) markers, in order.
        num_classes: number of outputs.
        bn_mask: one bit per conv (see :func:`reram.models.parse_bn_mask`); ``None`` = all on.
        in_channels: channels of the input images.
        pooled_size: spatial size after the adaptive average pool (1 for CIFAR VGGs, whose
            32x32 input is already 1x1 after five pools).
        hidden: widths of the hidden fully-connected layers of the classifier.
        input_size: side of the input images; max-pools that would shrink a 1x1 map are left
            out (``nn.Identity``). ``None``: every pool kept (inputs large enough for them).

    Input: a ``batch x in_channels x H x W``-dim tensor. Output: ``batch x num_classes`` logits.
    """

    def __init__(
        self,
        layout: Sequence[int | str],
        num_classes: int = 10,
        bn_mask: BNMaskLike = None,
        in_channels: int = 3,
        pooled_size: int = 1,
        hidden: Sequence[int] = (512, 512),
        input_size: int | None = None,
    ) -> None:
        super().__init__()
        _check_positive(num_classes=num_classes, in_channels=in_channels, pooled_size=pooled_size)
        if input_size is not None:
            _check_positive(input_size=input_size)
        num_convs = sum(1 for item in layout if item != "M")
        bits = MaskBits(parse_bn_mask(bn_mask, num_convs))
        layers: list[nn.Module] = []
        channels, size = in_channels, input_size
        for item in layout:
            if item == "M":
                if size is not None and size < 2:
                    layers.append(nn.Identity())  # the map is 1x1 already: no pool
                else:
                    layers.append(nn.MaxPool2d(2))
                    size = None if size is None else size // 2
            else:
                layers.append(ConvBlock(channels, int(item), bits.next()))
                channels = int(item)
        bits.check_consumed()
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(pooled_size)
        classifier: list[nn.Module] = []
        width = channels * pooled_size * pooled_size
        for size in hidden:
            linear = nn.Linear(width, size)
            init_relu_layer(linear)
            classifier += [linear, nn.ReLU(inplace=True)]
            width = size
        output = nn.Linear(width, num_classes)
        init_output_layer(output)
        classifier.append(output)
        self.classifier = nn.Sequential(*classifier)

    def forward(self, x: Tensor) -> Tensor:
        """Logits for a ``batch x C x H x W`` batch."""
        x = self.pool(self.features(x))
        return self.classifier(x.flatten(1))


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def scaled_layout(layout: Sequence[int | str], width: float) -> list[int | str]:
    """``layout`` with every conv width multiplied by ``width`` (rounded, at least 1 channel).

    The number of convs, and so of BN sites, does not change: a width-scaled VGG11 has the same
    8 sites as the full one.
    """
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not 0.0 < width <= 4.0:
        raise ValueError(f"width must be a number in (0, 4], got {width!r}")
    return [item if item == "M" else max(1, round(int(item) * width)) for item in layout]


def _vgg(depth: str, num_classes: int, bn_mask: BNMaskLike, in_channels: int, input_size: int | None,
         width: float = 1.0) -> VGG:
    hidden = max(1, round(512 * width))
    return VGG(scaled_layout(VGG_LAYOUTS[depth], width), num_classes, bn_mask, in_channels,
               input_size=input_size, hidden=(hidden, hidden))


def vgg11(
    num_classes: int = 10, bn_mask: BNMaskLike = None, in_channels: int = 3, input_size: int | None = None,
    width: float = 1.0,
) -> VGG:
    """VGG11 for 32x32 images, or smaller with ``input_size`` (8 BN sites). See :class:`VGG`.

    ``width`` scales every conv and hidden layer (0.25: a quarter of the channels, about
    1/16 of the multiply-accumulates); the BN sites stay the same.
    """
    return _vgg("vgg11", num_classes, bn_mask, in_channels, input_size, width)


def vgg13(
    num_classes: int = 10, bn_mask: BNMaskLike = None, in_channels: int = 3, input_size: int | None = None,
    width: float = 1.0,
) -> VGG:
    """VGG13 for 32x32 images, or smaller with ``input_size`` (10 BN sites). See :class:`VGG`.

    ``width`` scales every conv and hidden layer (0.25: a quarter of the channels, about
    1/16 of the multiply-accumulates); the BN sites stay the same.
    """
    return _vgg("vgg13", num_classes, bn_mask, in_channels, input_size, width)


def vgg16(
    num_classes: int = 10, bn_mask: BNMaskLike = None, in_channels: int = 3, input_size: int | None = None,
    width: float = 1.0,
) -> VGG:
    """VGG16 for 32x32 images, or smaller with ``input_size`` (13 BN sites). See :class:`VGG`.

    ``width`` scales every conv and hidden layer (0.25: a quarter of the channels, about
    1/16 of the multiply-accumulates); the BN sites stay the same.
    """
    return _vgg("vgg16", num_classes, bn_mask, in_channels, input_size, width)


def vgg19(
    num_classes: int = 10, bn_mask: BNMaskLike = None, in_channels: int = 3, input_size: int | None = None,
    width: float = 1.0,
) -> VGG:
    """VGG19 for 32x32 images, or smaller with ``input_size`` (16 BN sites). See :class:`VGG`.

    ``width`` scales every conv and hidden layer (0.25: a quarter of the channels, about
    1/16 of the multiply-accumulates); the BN sites stay the same.
    """
    return _vgg("vgg19", num_classes, bn_mask, in_channels, input_size, width)


def vgg_digits(
    num_classes: int = 10, bn_mask: BNMaskLike = None, in_channels: int = 1, width: int = 16
) -> VGG:
    """A small VGG for the 8x8 scikit-learn digits (6 BN sites).

    Layout ``[w, w, M, 2w, 2w, M, 4w, 4w, M]`` (8x8 -> 1x1), then ``Linear(4w, 4w)`` and the
    output layer. With the default ``width=16`` it has about 0.1 M parameters. Inputs of other
    sizes (e.g. 28x28 MNIST) work too: an adaptive average pool precedes the classifier.

    Args:
        num_classes: number of outputs.
        bn_mask: one bit per conv (6 bits); ``None`` = all on.
        in_channels: channels of the input images.
        width: channels of the first conv (the others are 2x and 4x).

    Returns:
        A :class:`VGG`.
    """
    _check_positive(width=width)
    layout: list[int | str] = [width, width, "M", 2 * width, 2 * width, "M", 4 * width, 4 * width, "M"]
    return VGG(layout, num_classes, bn_mask, in_channels, pooled_size=1, hidden=(4 * width,))
