"""Building blocks shared by the VGG and ResNet builders: conv blocks and initialization.

Initialization is chosen per layer so that a network without BatchNorm still trains in full
precision: Kaiming-normal (fan-in, ReLU gain) for layers followed by a ReLU, Xavier-uniform for
the output layer, zero biases, and for a residual branch without a BN at its end a Fixup-style
down-scaling of its last conv by ``1/sqrt(number of residual blocks)`` so that the variance of
the residual stream does not double at every block. This module imports only torch.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterator

from torch import nn

__all__ = ["ConvBlock", "MaskBits", "init_relu_layer", "init_output_layer"]


class MaskBits:
    """Hands out the bits of a parsed BN mask one at a time, in forward order.

    Args:
        keep: one boolean per BN site (``True`` = keep the BN layer).
    """

    def __init__(self, keep: tuple[bool, ...]) -> None:
        self._keep = keep
        self._iter: Iterator[bool] = iter(keep)
        self.used = 0

    def next(self) -> bool:
        """Return the bit of the next BN site."""
        self.used += 1
        return next(self._iter)

    def check_consumed(self) -> None:
        """Raise if the builder consumed a different number of bits than the mask holds."""
        if self.used != len(self._keep):
            raise RuntimeError(
                f"internal error: builder used {self.used} BN bits of {len(self._keep)}"
            )


def init_relu_layer(layer: nn.Conv2d | nn.Linear, scale: float = 1.0) -> None:
    """Kaiming-normal (fan-in, ReLU) initialization, optionally scaled, and a zero bias."""
    nn.init.kaiming_normal_(layer.weight, mode="fan_in", nonlinearity="relu")
    if scale != 1.0:
        layer.weight.data.mul_(scale)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)


def init_output_layer(layer: nn.Linear) -> None:
    """Xavier-uniform initialization and a zero bias for a layer not followed by a ReLU."""
    nn.init.xavier_uniform_(layer.weight)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)


def fixup_scale(num_blocks: int) -> float:
    """Down-scaling of a residual branch's last conv when that branch ends without a BN."""
    return 1.0 / math.sqrt(max(num_blocks, 1))


def make_bn(channels: int, keep: bool) -> nn.Module:
    """A ``BatchNorm2d`` (weight 1, bias 0) if ``keep``, else ``nn.Identity``."""
    if not keep:
        return nn.Identity()
    bn = nn.BatchNorm2d(channels)
    nn.init.ones_(bn.weight)
    nn.init.zeros_(bn.bias)
    return bn


class ConvBlock(nn.Sequential):
    """``conv -> bn -> relu`` with named children (``conv``, ``bn``, ``relu``).

    Without BN (``use_bn=False``) the ``bn`` child is an ``nn.Identity`` and the conv gets a
    bias, which a BN layer would otherwise make redundant.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        use_bn: whether the BN site of this block is kept.
        stride: conv stride.
    """

    def __init__(self, in_channels: int, out_channels: int, use_bn: bool, stride: int = 1) -> None:
        conv = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=not use_bn)
        init_relu_layer(conv)
        super().__init__(
            OrderedDict(
                [("conv", conv), ("bn", make_bn(out_channels, use_bn)), ("relu", nn.ReLU(inplace=True))]
            )
        )
