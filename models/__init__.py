"""Models, data and training for ReRAM crossbars (installed as ``reram.models``).

- Networks with a BN mask: :func:`vgg11`, :func:`vgg13`, :func:`vgg16`, :func:`vgg19`,
  :func:`resnet18`, :func:`resnet20`, :func:`resnet34` (CIFAR-size) and :func:`vgg_digits`
  (8x8 digits); :func:`build_model` picks one by name.
- BN sites: :func:`bn_sites`, :func:`apply_bn_mask`, :func:`parse_bn_mask`.
- Data: :mod:`reram.models.data`; training: :mod:`reram.models.train` (its command line
  ``reram-train`` is :mod:`reram.apps.train_cli`).

Example:
    >>> from reram.models import vgg11, bn_sites, apply_bn_mask
    >>> net = vgg11(bn_mask="10100000")
    >>> [site.name for site in bn_sites(net)]
    ['features.0.bn', 'features.4.bn']
"""
from __future__ import annotations

from .bn import BNSite, apply_bn_mask, bn_sites, format_bn_mask, parse_bn_mask
from .registry import MODEL_NAMES, build_model, num_bn_sites
from .resnet import ResNet, resnet18, resnet20, resnet34
from .vgg import VGG, vgg11, vgg13, vgg16, vgg19, vgg_digits

__all__ = [
    "BNSite",
    "MODEL_NAMES",
    "ResNet",
    "VGG",
    "apply_bn_mask",
    "bn_sites",
    "build_model",
    "format_bn_mask",
    "num_bn_sites",
    "parse_bn_mask",
    "resnet18",
    "resnet20",
    "resnet34",
    "vgg11",
    "vgg13",
    "vgg16",
    "vgg19",
    "vgg_digits",
]
