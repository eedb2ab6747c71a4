"""Model names (as the CLI spells them) and a builder that dispatches on them."""
from __future__ import annotations

from collections.abc import Callable

from torch import nn

from .bn import BNMaskLike, bn_sites
from .resnet import resnet18, resnet20, resnet34
from .vgg import vgg11, vgg13, vgg16, vgg19, vgg_digits

__all__ = ["MODEL_NAMES", "build_model", "canonical_model_name", "num_bn_sites"]

_BUILDERS: dict[str, Callable[..., nn.Module]] = {
    "vgg11": vgg11,
    "vgg13": vgg13,
    "vgg16": vgg16,
    "vgg19": vgg19,
    "resnet18": resnet18,
    "resnet20": resnet20,
    "resnet34": resnet34,
    "vgg-digits": vgg_digits,
}

#: Names accepted by :func:`build_model` and ``reram-train --model``.
MODEL_NAMES: tuple[str, ...] = tuple(_BUILDERS)


def canonical_model_name(name: str) -> str:
    """Normalize a model name (``vgg_digits`` -> ``vgg-digits``); raise ``ValueError`` if unknown."""
    key = name.strip().lower().replace("_", "-")
    if key not in _BUILDERS:
        raise ValueError(f"model must be one of {', '.join(MODEL_NAMES)}; got {name!r}")
    return key


def build_model(
    name: str, num_classes: int = 10, bn_mask: BNMaskLike = None, in_channels: int | None = None
) -> nn.Module:
    """Build a model of this package by name.

    Args:
        name: one of :data:`MODEL_NAMES` (``vgg_digits`` is accepted for ``vgg-digits``).
        num_classes: number of outputs.
        bn_mask: one bit per BN site (bit string, ``"all"``, ``"none"``, sequence) or ``None``.
        in_channels: input channels; ``None`` = the model's default (1 for ``vgg-digits``,
            3 for the CIFAR models).

    Returns:
        The freshly initialized model (seed torch beforehand for a reproducible init).

    Raises:
        ValueError: on an unknown name or a bad mask.
    """
    builder = _BUILDERS[canonical_model_name(name)]
    kwargs = {} if in_channels is None else {"in_channels": in_channels}
    return builder(num_classes=num_classes, bn_mask=bn_mask, **kwargs)


def num_bn_sites(name: str) -> int:
    """Number of BN sites of the named model (the length of its BN mask)."""
    return len(bn_sites(build_model(name)))
