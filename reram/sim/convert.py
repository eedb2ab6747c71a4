"""Model conversion: swap every ``nn.Conv2d``/``nn.Linear`` of a model for its crossbar twin.

Holds :func:`convert`, :func:`convert_to_float` and :func:`summarize`. BatchNorm and every other
module are left untouched (they run in full precision, on the GPU in the heterogeneous design).
"""
from __future__ import annotations

import copy
import fnmatch
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional

from torch import nn

from reram.config import CrossbarConfig
from reram.sim.layers import CrossbarConv2d, CrossbarLayer, CrossbarLinear, default_config, layer_seed

__all__ = ["convert", "convert_to_float", "summarize", "ConversionSummary", "default_mapping"]

ConfigFn = Callable[[str, nn.Module, CrossbarConfig], Optional[CrossbarConfig]]


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


def convert(model: nn.Module, config: Optional[CrossbarConfig] = None,
            exclude: Iterable[str] | str = (), config_fn: Optional[ConfigFn] = None,
            inplace: bool = False, mapping: Optional[dict[type, type]] = None) -> nn.Module:
    """Swap every ``nn.Conv2d``/``nn.Linear`` of ``model`` for a crossbar layer.

    Each converted layer gets its own copy of the config whose ``seed`` is derived from
    ``config.seed`` and the layer's dotted name, so layers of one chip have independent defect
    maps and the same seed always gives the same chip. Device, train/eval mode and hooks are kept.

    Args:
        model: any ``nn.Module`` (a bare ``nn.Linear``/``nn.Conv2d`` too).
        config: the crossbar config (default :func:`reram.sim.layers.default_config`).
        exclude: dotted module names (a name also excludes its children) or glob patterns
            (``"features.*"``) to leave in float.
        config_fn: per-layer hook ``(name, module, config) -> config``; return a different
            config for that layer, or None to leave it in float.
        inplace: modify ``model`` itself instead of a deep copy.
        mapping: float class -> crossbar class (default :func:`default_mapping`).

    Returns:
        The converted model (``model`` itself when ``inplace``). ``summarize(result)`` prints
        what was swapped.

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
    mapping = default_mapping() if mapping is None else mapping
    if not inplace:
        model = copy.deepcopy(model)

    def swap(module: nn.Module, name: str) -> Optional[nn.Module]:
        if isinstance(module, CrossbarLayer) or type(module) not in mapping:
            return None
        if _excluded(name, exclude):
            return None
        layer_cfg = config
        if config_fn is not None:
            layer_cfg = config_fn(name, module, config)
            if layer_cfg is None:
                return None
            if not isinstance(layer_cfg, CrossbarConfig):
                raise TypeError(f"config_fn must return a CrossbarConfig or None for {name!r}, "
                                f"got {type(layer_cfg).__name__}")
        layer_cfg = layer_cfg.replace(seed=layer_seed(layer_cfg.seed, name))
        return mapping[type(module)].from_float(module, layer_cfg)

    return _replace_modules(model, swap)


def convert_to_float(model: nn.Module, inplace: bool = False, effective: bool = False) -> nn.Module:
    """Swap every crossbar layer back to its float class (weights, device, mode, hooks kept).

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


def _replace_modules(model: nn.Module, swap: Callable[[nn.Module, str], Optional[nn.Module]]
                     ) -> nn.Module:
    root = swap(model, "")
    if root is not None:
        return root
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            full = f"{name}.{child_name}" if name else child_name
            new = swap(child, full)
            if new is not None:
                setattr(module, child_name, new)
    return model


@dataclass
class ConversionSummary:
    """What a model runs on: one row per Conv2d/Linear layer.

    Attributes:
        rows: ``(name, kind, shape, on_crossbar, config description)`` per layer.
    """

    rows: list[tuple[str, str, str, bool, str]] = field(default_factory=list)

    @property
    def n_crossbar(self) -> int:
        """Number of layers computed on crossbars."""
        return sum(r[3] for r in self.rows)

    @property
    def n_float(self) -> int:
        """Number of Conv2d/Linear layers left in float."""
        return len(self.rows) - self.n_crossbar

    def __str__(self) -> str:
        header = ("layer", "kind", "weight shape", "runs on")
        table = [header] + [(n, k, s, f"crossbar ({c})" if x else "float") for n, k, s, x, c in self.rows]
        widths = [max(len(r[i]) for r in table) for i in range(3)]
        lines = ["  ".join(r[i].ljust(widths[i]) for i in range(3)) + "  " + r[3] for r in table]
        lines.append(f"{self.n_crossbar} layer(s) on crossbars, {self.n_float} left in float")
        return "\n".join(lines)


def summarize(model: nn.Module) -> ConversionSummary:
    """List every Conv2d/Linear of ``model`` and whether it runs on crossbars."""
    summary = ConversionSummary()
    for name, module in model.named_modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            on_xbar = isinstance(module, CrossbarLayer)
            desc = module.crossbar_config.describe() if on_xbar else ""
            kind = "Conv2d" if isinstance(module, nn.Conv2d) else "Linear"
            summary.rows.append((name or "<root>", kind, "x".join(map(str, module.weight.shape)),
                                 on_xbar, desc))
    return summary
