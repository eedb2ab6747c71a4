"""Model names (as the CLI spells them), a builder that dispatches on them, and the rules that
fit a dataset to a model: :func:`input_pad_to`, :func:`load_model_data`, :func:`build_model_for`
(used alike by ``reram-train`` and the BN-search objective)."""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .bn import BNMaskLike, bn_sites
from .data import DataSplits, canonical_dataset_name, load_dataset
from .resnet import resnet18, resnet20, resnet34
from .vgg import vgg11, vgg13, vgg16, vgg19, vgg_digits

__all__ = ["MODEL_NAMES", "build_model", "build_model_for", "canonical_model_name", "input_pad_to",
           "load_model_data", "num_bn_sites"]

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
    key = name.strip().lower().replace("_", "-") if isinstance(name, str) else None
    if key not in _BUILDERS:
        raise ValueError(f"model must be one of {', '.join(MODEL_NAMES)}; got {name!r}")
    return key


#: Models that fit their max-pools to a given input size (``input_size``; see models/vgg.py).
SIZE_ADAPTIVE_MODELS: tuple[str, ...] = ("vgg11", "vgg13", "vgg16", "vgg19")


def build_model(
    name: str,
    num_classes: int = 10,
    bn_mask: BNMaskLike = None,
    in_channels: int | None = None,
    input_size: int | None = None,
    width: float = 1.0,
) -> nn.Module:
    """Build a model of this package by name.

    Args:
        name: one of :data:`MODEL_NAMES` (``vgg_digits`` is accepted for ``vgg-digits``).
        num_classes: number of outputs.
        bn_mask: one bit per BN site (bit string, ``"all"``, ``"none"``, sequence) or ``None``.
        in_channels: input channels; ``None`` = the model's default (1 for ``vgg-digits``,
            3 for the CIFAR models).
        input_size: side of the input images: the CIFAR VGGs leave out the max-pools a
            smaller image cannot take (VGG11 on the 8x8 digits keeps 3 of its 5); the other
            models take any size (adaptive pooling) and ignore it. ``None`` = 32x32.
        width: channel multiplier of the CIFAR VGGs (``0.25``: a quarter of every layer's
            channels, same BN sites); other models take only ``1.0``.

    Returns:
        The freshly initialized model (seed torch beforehand for a reproducible init).

    Raises:
        ValueError: on an unknown name or a bad mask.
    """
    key = canonical_model_name(name)
    kwargs: dict[str, float] = {} if in_channels is None else {"in_channels": in_channels}
    if input_size is not None and key in SIZE_ADAPTIVE_MODELS:
        kwargs["input_size"] = input_size
    if width != 1.0:
        if key not in SIZE_ADAPTIVE_MODELS:
            raise ValueError(f"width must be 1.0 for {key} (only {', '.join(SIZE_ADAPTIVE_MODELS)} "
                             f"scale their channels); got {width!r}")
        kwargs["width"] = width
    return _BUILDERS[key](num_classes=num_classes, bn_mask=bn_mask, **kwargs)


def num_bn_sites(name: str) -> int:
    """Number of BN sites of the named model (the length of its BN mask)."""
    return len(bn_sites(build_model(name)))


#: Models whose layers adapt to any input size (an adaptive pool before the classifier and few
#: enough max-pools for 8x8 images); the others are CIFAR-size (32x32 inputs).
SMALL_INPUT_MODELS: tuple[str, ...] = ("vgg-digits",)


def input_pad_to(model: str, dataset: str) -> int | None:
    """The side (Fashion-)MNIST images are zero-padded to for ``model``, or ``None`` for none.

    The CIFAR-size models (five 2x2 max-pools in the VGGs) take 32x32 inputs, so 28x28 MNIST is
    padded to 32x32 for them; ``vgg-digits`` takes the 28x28 images as they are. Other datasets
    are never padded.

    Raises:
        ValueError: naming ``model`` or ``dataset`` when either is unknown.
    """
    name, key = canonical_model_name(model), canonical_dataset_name(dataset)
    if key in ("mnist", "fashion-mnist") and name not in SMALL_INPUT_MODELS:
        return 32
    return None


def load_model_data(
    model: str,
    dataset: str,
    data_dir: str | None = None,
    seed: int = 0,
    augment: bool = False,
    max_train: int | None = None,
    max_test: int | None = None,
) -> DataSplits:
    """Load a dataset with its images fitted to ``model`` (:func:`input_pad_to`).

    Args:
        model: a name of :data:`MODEL_NAMES`.
        dataset, data_dir, seed, augment, max_train, max_test: as in
            :func:`reram.models.data.load_dataset`.

    Returns:
        The :class:`~reram.models.data.DataSplits`.

    Raises:
        ValueError: on an unknown model or dataset, or bad options; the loaders' errors for
            missing or malformed files.
    """
    return load_dataset(dataset, data_dir, seed=seed, augment=augment, pad_to=input_pad_to(model, dataset),
                        max_train=max_train, max_test=max_test)


def build_model_for(name: str, data: DataSplits, bn_mask: BNMaskLike = None, width: float = 1.0) -> nn.Module:
    """Build the named model for a dataset's images (channels, size, classes); check it takes them.

    The check is one forward pass of two training images in eval mode (no gradient, no random
    numbers drawn, no BN statistics changed); the model is returned in training mode, as built.

    Args:
        name: a name of :data:`MODEL_NAMES`.
        data: the dataset (as :func:`load_model_data` returns it).
        bn_mask: one bit per BN site (bit string, ``"all"``, ``"none"``, sequence) or ``None``.
        width: channel multiplier (see :func:`build_model`).

    Returns:
        The freshly initialized model (seed torch beforehand for a reproducible init).

    Raises:
        ValueError: naming the model and the image shape when the model cannot take them, or
            on a bad name or mask.
    """
    net = build_model(name, data.num_classes, bn_mask, in_channels=data.input_shape[0],
                      input_size=min(data.input_shape[1:]), width=width)
    try:
        net.eval()
        with torch.no_grad():
            net(data.train_images[:2])
    except RuntimeError as exc:
        raise ValueError(f"model {canonical_model_name(name)} cannot take {data.name} images of shape "
                         f"{tuple(data.input_shape)} ({str(exc).splitlines()[0]})") from None
    return net.train()
