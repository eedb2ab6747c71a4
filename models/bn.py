"""BatchNorm sites of a model and binary masks over them.

The one mask type (:data:`BNMaskLike`) and the one mask parser (:func:`parse_bn_mask`, with
:func:`format_bn_mask` for the bit string) of the package: the BN search, the training and the
benchmarks all read masks through them.

A *BN site* is one BatchNorm layer (any subclass of ``torch.nn.modules.batchnorm._BatchNorm``:
``BatchNorm1d/2d/3d``, ``SyncBatchNorm``, lazy variants) of a model, named by its dotted module
path. A *BN mask* holds one bit per site, in forward order: 1 keeps the layer, 0 replaces it by
``nn.Identity``. This is the search space of the BN search (``reram.search``).

This module must not import the crossbar layers (``reram.sim.layers``) or the data/training code:
it works on any ``nn.Module``, torchvision's included.
"""
from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import NamedTuple, Union

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = ["BNSite", "BNMaskLike", "bn_sites", "parse_bn_mask", "apply_bn_mask", "format_bn_mask"]

#: What a BN mask may be given as: a bit string (``"10100000"``), ``"all"``, ``"none"``, a
#: sequence of 0/1 (ints or bools), a 1-D tensor or NumPy array of 0/1, or ``None`` (all on).
BNMaskLike = Union[str, Sequence[int], Sequence[bool], torch.Tensor, None]


class BNSite(NamedTuple):
    """One BatchNorm layer of a model.

    Attributes:
        name: dotted module path, e.g. ``"layer1.0.bn2"`` (usable with ``model.get_submodule``).
        module: the BatchNorm module itself.
    """

    name: str
    module: nn.Module


def bn_sites(model: nn.Module, example_input: torch.Tensor | None = None) -> list[BNSite]:
    """List the BatchNorm layers of ``model`` in forward order.

    Without ``example_input`` the order is the module registration order
    (``model.named_modules()``), which is the forward order for the models of this package and
    for torchvision's VGG and ResNet (their ``downsample`` branch is registered after ``bn2``
    and runs after it). With ``example_input`` the model is run once (in eval mode, no grad,
    its state restored afterwards) and the sites are ordered by when they first execute; BN
    layers that never run are appended at the end in registration order.

    Args:
        model: any module.
        example_input: optional input batch, e.g. a ``1 x 3 x 32 x 32``-dim tensor.

    Returns:
        A list of ``BNSite(name, module)``; empty if the model has no BatchNorm layer. A module
        reachable under two names is listed once, under its first name.

    Example:
        >>> from reram.models import vgg11
        >>> len(bn_sites(vgg11()))
        8
    """
    sites: list[BNSite] = []
    seen: set[int] = set()
    for name, module in model.named_modules():
        if isinstance(module, _BatchNorm) and id(module) not in seen:
            seen.add(id(module))
            sites.append(BNSite(name, module))
    if example_input is None or not sites:
        return sites

    order: list[int] = []
    hooks = []

    def record(module: nn.Module, _inputs: object, _output: object) -> None:
        if id(module) not in order:
            order.append(id(module))

    for site in sites:
        hooks.append(site.module.register_forward_hook(record))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(example_input)
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    rank = {module_id: i for i, module_id in enumerate(order)}
    return sorted(sites, key=lambda s: (rank.get(id(s.module), len(order)), sites.index(s)))


def parse_bn_mask(mask: BNMaskLike, num_sites: int) -> tuple[bool, ...]:
    """Turn any accepted mask form into a tuple of ``num_sites`` booleans.

    Args:
        mask: a bit string such as ``"10100000"`` (spaces, ``_`` and ``,`` are ignored),
            ``"all"``, ``"none"``, a sequence / 1-D tensor / array of 0 and 1, or ``None``
            (all sites on).
        num_sites: number of BN sites of the model.

    Returns:
        A tuple of ``num_sites`` booleans, ``True`` = keep the BN layer.

    Raises:
        ValueError: if the mask length differs from ``num_sites`` or a value is not 0/1.
        TypeError: if the mask is of an unsupported type.
    """
    if num_sites < 0:
        raise ValueError(f"num_sites must be >= 0, got {num_sites}")
    if mask is None:
        return (True,) * num_sites
    if isinstance(mask, str):
        text = mask.strip().lower()
        if text == "all":
            return (True,) * num_sites
        if text == "none":
            return (False,) * num_sites
        bits = [c for c in text if c not in " _,"]
        bad = [c for c in bits if c not in "01"]
        if bad:
            raise ValueError(
                f"bn_mask must be a string of 0 and 1, 'all' or 'none'; got {mask!r} "
                f"(bad character {bad[0]!r})"
            )
        values: list[object] = [int(c) for c in bits]
    elif hasattr(mask, "tolist") and hasattr(mask, "ndim"):  # a NumPy array or a torch tensor
        if mask.ndim != 1:  # type: ignore[union-attr]
            raise ValueError(f"bn_mask array must be 1-D, got shape {tuple(mask.shape)}")  # type: ignore[union-attr]
        values = mask.tolist()  # type: ignore[union-attr]
    elif isinstance(mask, Sequence):
        values = list(mask)
    else:
        raise TypeError(
            f"bn_mask must be a bit string, 'all', 'none', a sequence of 0/1 or None; "
            f"got {type(mask).__name__}"
        )
    for position, value in enumerate(values):
        if isinstance(value, bool):
            continue
        if not isinstance(value, (int, float)) or value not in (0, 1):
            raise ValueError(
                f"bn_mask must contain only 0 and 1; got {value!r} at position {position}"
            )
    if len(values) != num_sites:
        raise ValueError(
            f"bn_mask has {len(values)} bits but the model has {num_sites} BN sites"
        )
    return tuple(bool(v) for v in values)


def format_bn_mask(mask: Sequence[bool] | Sequence[int]) -> str:
    """Format a mask as a bit string, e.g. ``(True, False, True)`` -> ``"101"``."""
    return "".join("1" if bool(bit) else "0" for bit in mask)


def _set_submodule(model: nn.Module, dotted_name: str, new: nn.Module) -> None:
    parent_name, _, child_name = dotted_name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child_name, new)


def apply_bn_mask(
    model: nn.Module, mask: BNMaskLike, example_input: torch.Tensor | None = None
) -> nn.Module:
    """Return a copy of ``model`` whose masked-out BatchNorm layers are ``nn.Identity``.

    The original model is left untouched. Only the BN layers change; the other layers keep
    their weights (use the builders of this package, e.g. ``vgg11(bn_mask=...)``, to also get
    conv biases and an initialization chosen for the missing BN layers).

    Args:
        model: any module with at least one BatchNorm layer.
        mask: one bit per BN site in the order of :func:`bn_sites` (see :func:`parse_bn_mask`
            for the accepted forms).
        example_input: passed to :func:`bn_sites` to order the sites by execution.

    Returns:
        A deep copy of ``model`` with every site whose bit is 0 replaced by ``nn.Identity()``.

    Raises:
        ValueError: if the model has no BatchNorm layer, or the mask length or values are wrong.

    Example:
        >>> import torchvision
        >>> net = apply_bn_mask(torchvision.models.vgg11_bn(), "10000000")
        >>> len(bn_sites(net))
        1
    """
    sites = bn_sites(model, example_input)
    if not sites:
        raise ValueError(
            f"model {type(model).__name__} has no BatchNorm layers, so there is nothing to mask"
        )
    keep = parse_bn_mask(mask, len(sites))
    new_model = copy.deepcopy(model)
    for site, bit in zip(sites, keep):
        if not bit:
            _set_submodule(new_model, site.name, nn.Identity())
    return new_model
