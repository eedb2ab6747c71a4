"""Model conversion: swap every ``nn.Conv2d``/``nn.Linear`` of a model for its crossbar twin.

Holds :func:`convert`, :func:`convert_to_float` and :func:`summarize`. Both conversions keep the
module graph: a module used in several places is converted once and stays shared, and a
Parameter tied between modules (``b.weight = a.weight``, an embedding tied to an output head)
stays one Parameter. Layers that compute weighted sums but have no crossbar version here
(Conv1d/Conv3d, transposed convs, RNNs, Bilinear, attention, subclasses of Linear/Conv2d) are
named in an :class:`UnconvertedLayerWarning` (an error with ``strict=True``) and listed by
:func:`summarize`. BatchNorm and every other module are left untouched (they run in full
precision, on the GPU in the heterogeneous design). Imports ``reram.config``,
``reram.sim.layers`` and ``reram.sim.tiles`` only.
"""
from __future__ import annotations

import copy
import fnmatch
import warnings
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional

from torch import nn

from reram.config import CrossbarConfig
from reram.io import shorten
from reram.sim.layers import CrossbarConv2d, CrossbarLayer, CrossbarLinear, default_config, layer_seed
from reram.sim.tiles import product_path

__all__ = ["convert", "convert_to_float", "summarize", "ConversionSummary", "default_mapping",
           "UnconvertedLayerWarning", "UNSUPPORTED_KINDS"]

ConfigFn = Callable[[str, nn.Module, CrossbarConfig], Optional[CrossbarConfig]]
#: ``swap(module, name)`` returns a replacement, None (keep it, look inside) or ``module``
#: itself (keep it, do not look inside).
SwapFn = Callable[[nn.Module, str], Optional[nn.Module]]

#: Modules that compute weighted sums a crossbar could hold but that have no crossbar version
#: (unless the mapping given to :func:`convert` names their exact class): they stay in float,
#: and :func:`convert` says so. Embedding lookups, normalization and activations are digital
#: by design and not listed.
UNSUPPORTED_KINDS: tuple[type, ...] = (
    nn.modules.conv._ConvNd, nn.Linear, nn.Bilinear, nn.modules.rnn.RNNBase,
    nn.modules.rnn.RNNCellBase, nn.MultiheadAttention)


class UnconvertedLayerWarning(UserWarning):
    """:func:`convert` left layers in float that compute weighted sums (no crossbar version)."""


def default_mapping() -> dict[type, type]:
    """Float class -> crossbar class used by :func:`convert` when no mapping is given."""
    return {nn.Linear: CrossbarLinear, nn.Conv2d: CrossbarConv2d}


def _excluded(name: str, patterns: tuple[str, ...]) -> bool:
    for p in patterns:
        if name == p or name.startswith(p + ".") or fnmatch.fnmatchcase(name, p):
            return True
    return False


def _check_exclude(exclude) -> tuple[str, ...]:
    if isinstance(exclude, str):
        exclude = (exclude,)
    exclude = tuple(exclude)
    for p in exclude:
        if not isinstance(p, str):
            raise TypeError(f"exclude must hold dotted module names or glob patterns, got {p!r}")
    return exclude


def _check_exclude_matches(model: nn.Module, exclude: tuple[str, ...]) -> None:
    """Refuse an ``exclude`` entry that matches no module (a typo would silently convert the
    layer it meant to keep in float)."""
    names = [name for name, _ in model.named_modules() if name]
    for p in exclude:
        if not any(_excluded(name, (p,)) for name in names):
            shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
            raise ValueError(f"exclude entry {shorten(repr(p))} matches no module of the model "
                             f"(its modules: {shown or 'none'})")


def _unsupported(module: nn.Module, mapping: dict[type, type]) -> bool:
    return (isinstance(module, UNSUPPORTED_KINDS) and type(module) not in mapping
            and not isinstance(module, CrossbarLayer))


def _layer_config(name: str, module: nn.Module, config: CrossbarConfig,
                  config_fn: Optional[ConfigFn]) -> Optional[CrossbarConfig]:
    layer_cfg = config
    if config_fn is not None:
        layer_cfg = config_fn(name, module, config)
        if layer_cfg is None:
            return None
        if not isinstance(layer_cfg, CrossbarConfig):
            raise TypeError(f"config_fn must return a CrossbarConfig or None for {name!r}, "
                            f"got {type(layer_cfg).__name__}")
    return layer_cfg.replace(seed=layer_seed(layer_cfg.seed, name))


def convert(model: nn.Module, config: Optional[CrossbarConfig] = None,
            exclude: Iterable[str] | str = (), config_fn: Optional[ConfigFn] = None,
            inplace: bool = False, mapping: Optional[dict[type, type]] = None,
            strict: bool = False) -> nn.Module:
    """Swap every ``nn.Conv2d``/``nn.Linear`` of ``model`` for a crossbar layer.

    Each converted layer gets its own copy of the config whose ``seed`` is derived from
    ``config.seed`` and the layer's dotted name, so layers of one chip have independent defect
    maps and the same seed always gives the same chip. Device, train/eval mode and hooks are kept.

    The module graph is kept: a module used in several places (``nn.Sequential(lin, act, lin)``)
    becomes one crossbar layer used in the same places (its name, for the seed and ``exclude``,
    is the first one); a Parameter shared by several modules stays one Parameter, held by
    every converted layer and every float module that shared it. Layers tied this way must get
    the same config (up to the seed). A layer that is already a crossbar layer is re-converted
    with the new config: its current weights are programmed onto a fresh chip (a new grid from
    ``max|W|``, defects from the new seed); an excluded crossbar layer is left as it is.

    Args:
        model: any ``nn.Module`` (a bare ``nn.Linear``/``nn.Conv2d`` too).
        config: the crossbar config (default :func:`reram.sim.layers.default_config`).
        exclude: dotted module names (a name also excludes its children) or glob patterns
            (``"features.*"``) to leave as they are; an entry that matches no module raises
            ``ValueError`` (a typo would silently convert the layer it meant to keep).
        config_fn: per-layer hook ``(name, module, config) -> config``; return a different
            config for that layer, or None to leave it as it is (in float, or a crossbar
            layer with its old config).
        inplace: modify ``model`` itself instead of a deep copy.
        mapping: float class -> crossbar class (default :func:`default_mapping`).
        strict: raise instead of warning when layers of :data:`UNSUPPORTED_KINDS` (not
            excluded) stay in float.

    Returns:
        The converted model (``model`` itself when ``inplace``). ``summarize(result)`` prints
        what was swapped and what was not.

    Raises:
        ValueError: with ``strict=True``, naming the layers that have no crossbar version;
            or when tied layers were given different configs.

    Warns:
        UnconvertedLayerWarning: naming the layers that have no crossbar version.

    Example:
        >>> net = nn.Sequential(nn.Linear(8, 4), nn.ReLU(), nn.Linear(4, 2))
        >>> xnet = convert(net, CrossbarConfig(weight_bits=6), exclude=("2",))
        >>> type(xnet[0]).__name__, type(xnet[2]).__name__
        ('CrossbarLinear', 'Linear')
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    config = default_config() if config is None else config
    if not isinstance(config, CrossbarConfig):
        raise TypeError(f"config must be a reram.CrossbarConfig, got {type(config).__name__}")
    exclude = _check_exclude(exclude)
    _check_exclude_matches(model, exclude)
    mapping = default_mapping() if mapping is None else mapping
    if not isinstance(strict, bool):
        raise TypeError(f"strict must be True or False, got {strict!r}")
    unsupported: list[tuple[str, str]] = []
    if strict:  # refuse before any work
        unsupported = _find_unsupported(model, exclude, mapping)
        _report_unsupported(unsupported, strict)
    if not inplace:
        model = copy.deepcopy(model)

    def swap(module: nn.Module, name: str) -> Optional[nn.Module]:
        if _excluded(name, exclude):
            return module if isinstance(module, CrossbarLayer) else None
        source = module
        if isinstance(module, CrossbarLayer):  # re-convert with the new config
            source = module.to_float()
            if type(source) not in mapping:
                return module
        elif type(module) not in mapping:
            if _unsupported(module, mapping):
                unsupported.append((name, _kind(module)))
                return module  # its insides (attention's out_proj) are part of it
            return None
        layer_cfg = _layer_config(name, source, config, config_fn)
        if layer_cfg is None:
            return module
        return mapping[type(source)].from_float(source, layer_cfg)

    result = _replace_modules(model, swap, check_tied=_check_tied_configs)
    if not strict:
        _report_unsupported(unsupported, strict)
    return result


def _find_unsupported(model: nn.Module, exclude: tuple[str, ...], mapping: dict[type, type]
                      ) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []

    def look(module: nn.Module, name: str) -> Optional[nn.Module]:
        if not _excluded(name, exclude) and _unsupported(module, mapping):
            found.append((name, _kind(module)))
            return module
        return None

    _walk(model, look)
    return found


def _report_unsupported(unsupported: list[tuple[str, str]], strict: bool) -> None:
    if not unsupported:
        return
    listed = ", ".join(f"{n or '<root>'} ({k})" for n, k in unsupported)
    if strict:
        raise ValueError(f"model has {len(unsupported)} layer(s) with no crossbar version, which "
                         f"would stay in float: {listed}; exclude them or pass strict=False")
    warnings.warn(f"{len(unsupported)} layer(s) with no crossbar version stay in float: {listed} "
                  f"(exclude=... silences this, strict=True makes it an error)",
                  UnconvertedLayerWarning, stacklevel=3)


def _check_tied_configs(owners: list[tuple[str, nn.Module]]) -> None:
    """Tied crossbar layers program one weight: they must share a grid (config up to seed)."""
    layers = [(n, m) for n, m in owners if isinstance(m, CrossbarLayer)]
    if not layers:
        return
    first_name, first = layers[0]
    base = first.crossbar_config.replace(seed=0)
    for name, layer in layers[1:]:
        if layer.crossbar_config.replace(seed=0) != base:
            raise ValueError(
                f"layers {first_name!r} and {name!r} share one weight Parameter but were given "
                f"different crossbar configs ({first.crossbar_config.describe()} vs "
                f"{layer.crossbar_config.describe()}); give tied layers one config")


def convert_to_float(model: nn.Module, inplace: bool = False, effective: bool = False) -> nn.Module:
    """Swap every crossbar layer back to its float class (weights, device, mode, hooks kept).

    Shared modules stay shared and tied Parameters stay tied, as in :func:`convert` (with
    ``effective=True`` the tied Parameter holds the first tied layer's effective weight).

    Args:
        model: a model holding crossbar layers.
        inplace: modify ``model`` itself instead of a deep copy.
        effective: bake each layer's effective (crossbar-realized) weight into the float layer.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not inplace:
        model = copy.deepcopy(model)

    def swap(module: nn.Module, name: str) -> Optional[nn.Module]:
        return module.to_float(effective=effective) if isinstance(module, CrossbarLayer) else None

    return _replace_modules(model, swap)


def _walk(model: nn.Module, visit: SwapFn
          ) -> tuple[nn.Module, dict[int, tuple[nn.Module, nn.Module]]]:
    """Visit every distinct module once, parents first, under the first name it is reached by.

    ``visit(module, name)`` returns a replacement (put in every place ``module`` is used),
    None (keep it and visit its children) or ``module`` itself (keep it, skip its children).

    Returns:
        ``(root, replaced)``: the (possibly replaced) root and ``id(old) -> (old, new)`` for
        every replaced module (holding ``old`` so that its id is not reused meanwhile).
    """
    decided: dict[int, tuple[nn.Module, Optional[nn.Module]]] = {}
    root = visit(model, "")
    decided[id(model)] = (model, root)

    def descend(module: nn.Module, prefix: str) -> None:
        for child_name, child in list(module._modules.items()):
            if child is None:
                continue
            if id(child) not in decided:
                name = f"{prefix}.{child_name}" if prefix else child_name
                decided[id(child)] = (child, visit(child, name))
                if decided[id(child)][1] is None:
                    descend(child, name)
            new = decided[id(child)][1]
            if new is not None and new is not child:
                setattr(module, child_name, new)

    if root is None:
        descend(model, "")
    replaced = {k: (old, new) for k, (old, new) in decided.items()
                if new is not None and new is not old}
    return (model if root is None else root), replaced


def _tied_parameters(model: nn.Module) -> list[list[tuple[str, nn.Module, str]]]:
    """Groups of ``(module name, module, parameter name)`` holding one shared Parameter."""
    owners: dict[int, list] = {}
    for name, module in model.named_modules():
        for pname, param in module._parameters.items():
            if param is not None:
                owners.setdefault(id(param), [param]).append((name, module, pname))
    return [group[1:] for group in owners.values() if len(group) > 2]


def _replace_modules(model: nn.Module, swap: SwapFn,
                     check_tied: Optional[Callable[[list[tuple[str, nn.Module]]], None]] = None
                     ) -> nn.Module:
    """Apply ``swap`` over the module graph (see :func:`_walk`), then tie again every
    Parameter that several modules shared: all its holders get the first replacement's copy."""
    tied = _tied_parameters(model)
    root, replaced = _walk(model, swap)
    for group in tied:
        current = [(name, replaced.get(id(m), (m, m))[1], pname) for name, m, pname in group]
        new = [(name, m, pname) for (name, m, pname), (_, old, _) in zip(current, group)
               if m is not old and m._parameters.get(pname) is not None]
        if not new:
            continue
        if check_tied is not None:
            check_tied([(name, m) for name, m, _ in new])
        shared = new[0][1]._parameters[new[0][2]]
        for _, m, pname in current:
            if m._parameters.get(pname) is not shared and pname in m._parameters:
                setattr(m, pname, shared)
    return root


@dataclass
class ConversionSummary:
    """What a model runs on: one row per layer that computes weighted sums.

    Attributes:
        rows: ``(name, kind, shape, on_crossbar, note, product)`` per layer: every
            Conv2d/Linear, and every layer of :data:`UNSUPPORTED_KINDS`; ``note`` is the config
            description of a crossbar layer, ``"no crossbar version"`` for an unsupported one,
            else empty; ``product`` is how a crossbar layer computes its outputs
            (:func:`reram.sim.tiles.product_path`: ``"plain"``, ``"int8"`` or ``"fp32"``),
            empty for a float one.
    """

    rows: list[tuple[str, str, str, bool, str, str]] = field(default_factory=list)

    @property
    def n_crossbar(self) -> int:
        """Number of layers computed on crossbars."""
        return sum(r[3] for r in self.rows)

    @property
    def n_float(self) -> int:
        """Number of listed layers left in float (unsupported ones included)."""
        return len(self.rows) - self.n_crossbar

    @property
    def unsupported(self) -> list[str]:
        """Names of the layers that have no crossbar version."""
        return [r[0] for r in self.rows if not r[3] and r[4] == _NO_CROSSBAR]

    def __str__(self) -> str:
        header = ("layer", "kind", "weight shape", "product", "runs on")
        table = [header] + [(n, k, s, p or "-",
                             f"crossbar ({c})" if x else f"float ({c})" if c else "float")
                            for n, k, s, x, c, p in self.rows]
        widths = [max(len(r[i]) for r in table) for i in range(4)]
        lines = ["  ".join(r[i].ljust(widths[i]) for i in range(4)) + "  " + r[4] for r in table]
        n_unsupported = len(self.unsupported)
        tail = f", {n_unsupported} of them with no crossbar version" if n_unsupported else ""
        lines.append(f"{self.n_crossbar} layer(s) on crossbars, {self.n_float} left in float{tail}")
        return "\n".join(lines)


_NO_CROSSBAR = "no crossbar version"


def _shape_text(module: nn.Module) -> str:
    if _is_lazy(module):
        return "uninitialized"
    weight = getattr(module, "weight", None)
    if isinstance(weight, nn.Parameter):
        return "x".join(map(str, weight.shape))
    return f"{sum(p.numel() for p in module.parameters())} params"


def _is_lazy(module: nn.Module) -> bool:
    return any(nn.parameter.is_lazy(p) for p in module.parameters())


def _kind(module: nn.Module) -> str:
    lazy = ", uninitialized: run one forward pass before convert" if _is_lazy(module) else ""
    return type(module).__name__ + lazy


def summarize(model: nn.Module) -> ConversionSummary:
    """List every layer of ``model`` that computes weighted sums and whether it runs on
    crossbars: each Conv2d/Linear (crossbar or float) and each layer with no crossbar version
    (:data:`UNSUPPORTED_KINDS`). A module used in several places is listed once."""
    summary = ConversionSummary()
    rows = summary.rows

    def look(module: nn.Module, name: str) -> Optional[nn.Module]:
        name = name or "<root>"
        if isinstance(module, CrossbarLayer):
            kind = "Conv2d" if isinstance(module, nn.Conv2d) else "Linear"
            # the config the forward pass simulates (update="pulsed" maps it; else the same)
            simulated = getattr(module, "_sim_config", module.crossbar_config)
            rows.append((name, kind, _shape_text(module), True, module.crossbar_config.describe(),
                         product_path(simulated, module.weight[0].numel())))
        elif type(module) in (nn.Linear, nn.Conv2d):
            rows.append((name, type(module).__name__, _shape_text(module), False, "", ""))
        elif _unsupported(module, {}):
            rows.append((name, _kind(module), _shape_text(module), False, _NO_CROSSBAR, ""))
            return module
        return None

    _walk(model, look)
    return summary
