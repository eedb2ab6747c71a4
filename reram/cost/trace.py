"""Layer traces: the shapes a model's layers see for one input shape.

A :class:`Trace` is the only thing the cost model reads about a network: a list of
:class:`LayerTrace` records (plain dataclasses of ints and strings) in execution order. Tracing
runs the model once on a single random sample (fixed seed) with forward hooks on its leaf
modules; shapes are per sample, the batch size is applied later by the cost model, and each
conv/linear layer notes whether its input had both signs (``LayerTrace.input_signed``).

Recognised layers (``kind``):

* ``"conv"``: :class:`torch.nn.Conv2d` and subclasses (``reram.CrossbarConv2d`` included; a
  crossbar layer's ``crossbar_config`` is recorded, so each layer is costed with its own config).
* ``"linear"``: :class:`torch.nn.Linear` and subclasses (``reram.CrossbarLinear`` included).
* ``"bn"``: any :class:`torch.nn.modules.batchnorm._BatchNorm` (BatchNorm1d/2d/3d).
* ``"act"``: element-wise activations (ReLU, ReLU6, LeakyReLU, GELU, SiLU, Sigmoid, Tanh, ...).
* ``"pool"``: max/average pooling, adaptive ones included.

Everything else with no parameters (``nn.Identity`` left by ``apply_bn_mask``, ``nn.Dropout``,
``nn.Flatten``) costs nothing and is left out. Residual additions in ResNets are functional
(``out + identity``), invisible to hooks, and are also left out (one element-wise add per block,
a negligible share of the work). Nothing with weights is silently costed as free: a module of
an unknown type holding parameters of its own raises ``ValueError`` naming them, a leaf or a
container alike (``nn.MultiheadAttention``'s ``in_proj_weight``, a block computing
``x @ self.w`` with its own ``nn.Parameter``: the trace cannot see those products), and a
Conv2d/Linear that never runs as a module (its weight used functionally, as
``nn.MultiheadAttention`` uses its ``out_proj``, or a layer the forward skips) is reported with a
``UserWarning`` listing it as uncosted.

This module must not import the simulation (``reram.sim.layers``, ``reram.sim.functional``): it relies
on the crossbar layers subclassing ``nn.Conv2d``/``nn.Linear``.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = ["LayerTrace", "Trace", "trace_model", "LAYER_KINDS"]

LAYER_KINDS = ("conv", "linear", "bn", "act", "pool")

_ACTIVATIONS = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU,
    nn.Sigmoid, nn.Tanh, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Mish, nn.Softplus,
)
_POOLS = (
    nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d, nn.AdaptiveAvgPool1d,
    nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d,
)
_FREE = (nn.Identity, nn.Dropout, nn.Dropout2d, nn.Flatten, nn.Unflatten, nn.Softmax,
         nn.LogSoftmax)


@dataclass(frozen=True)
class LayerTrace:
    """One layer of a traced model, per sample.

    Attributes:
        name: dotted module name (``"features.0"``).
        kind: one of ``"conv"``, ``"linear"``, ``"bn"``, ``"act"``, ``"pool"``.
        module_type: the module's class name (``"CrossbarConv2d"``, ``"BatchNorm2d"``).
        input_shape: per-sample input shape, e.g. ``(C, H, W)`` or ``(F,)``.
        output_shape: per-sample output shape.
        in_channels: input channels (conv) or input features (linear); BN: channels; else 0.
        out_channels: output channels or features; BN: channels; else 0.
        kernel_size: ``(kh, kw)`` for conv and pooling, ``(1, 1)`` otherwise.
        stride: ``(sh, sw)`` for conv and pooling, ``(1, 1)`` otherwise.
        groups: convolution groups (1 for everything else).
        has_bias: whether the conv/linear layer has a bias.
        crossbar_config: the layer's own crossbar config when it is a crossbar layer (its
            ``crossbar_config`` attribute, read duck-typed), else ``None`` (a float layer, costed
            with the chip's config).
        input_signed: conv/linear: whether the layer's input held a negative value on the
            trace's sample (after a ReLU it cannot; after a BN, a Tanh or a plain conv it does),
            so a chip streaming inputs in sign phases needs two; ``None``: not known (a trace
            built by hand, or another kind).
    """

    name: str
    kind: str
    module_type: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    in_channels: int = 0
    out_channels: int = 0
    kernel_size: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    groups: int = 1
    has_bias: bool = False
    crossbar_config: Any = None
    input_signed: bool | None = None

    def __post_init__(self) -> None:
        if self.kind not in LAYER_KINDS:
            raise ValueError(f"LayerTrace.kind must be one of {LAYER_KINDS}, got {self.kind!r}")
        if self.groups < 1:
            raise ValueError(f"LayerTrace.groups must be >= 1, got {self.groups}")

    @property
    def input_numel(self) -> int:
        """Elements of one sample's input."""
        return math.prod(self.input_shape)

    @property
    def output_numel(self) -> int:
        """Elements of one sample's output."""
        return math.prod(self.output_shape)

    @property
    def weight_rows(self) -> int:
        """Rows of the weight matrix of one group as mapped on a crossbar (fan-in)."""
        if self.kind == "conv":
            return self.in_channels // self.groups * self.kernel_size[0] * self.kernel_size[1]
        if self.kind == "linear":
            return self.in_channels
        return 0

    @property
    def weight_cols(self) -> int:
        """Columns of the weight matrix of one group (outputs per MVM)."""
        if self.kind in ("conv", "linear"):
            return self.out_channels // self.groups
        return 0

    @property
    def weight_count(self) -> int:
        """Weights of the layer (no bias)."""
        return self.groups * self.weight_rows * self.weight_cols

    @property
    def mvms_per_sample(self) -> int:
        """Matrix-vector products per sample: output positions (conv) or 1 (linear)."""
        if self.kind == "conv":
            return math.prod(self.output_shape[1:]) if len(self.output_shape) > 1 else 1
        if self.kind == "linear":
            return math.prod(self.output_shape[:-1]) if len(self.output_shape) > 1 else 1
        return 0

    @property
    def macs_per_sample(self) -> int:
        """Multiply-accumulates of the forward pass per sample (conv/linear), else 0."""
        return self.mvms_per_sample * self.weight_count

    def to_dict(self) -> dict:
        """Plain-dict form (JSON-ready)."""
        return asdict(self)


@dataclass
class Trace:
    """The traced layers of a model, in execution order.

    Attributes:
        input_shape: per-sample model input shape, e.g. ``(3, 32, 32)``.
        layers: the recognised layers, in the order their forward ran.
        model_name: the model's class name.
    """

    input_shape: tuple[int, ...]
    layers: list[LayerTrace] = field(default_factory=list)
    model_name: str = ""

    def of_kind(self, *kinds: str) -> list[LayerTrace]:
        """The layers whose kind is one of ``kinds``."""
        return [layer for layer in self.layers if layer.kind in kinds]

    @property
    def bn_count(self) -> int:
        """Number of BatchNorm layers."""
        return len(self.of_kind("bn"))

    def to_dict(self) -> dict:
        """Plain-dict form (JSON-ready)."""
        return {"model_name": self.model_name, "input_shape": list(self.input_shape),
                "layers": [layer.to_dict() for layer in self.layers]}


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    value = tuple(int(v) for v in value)
    return (value[0], value[-1]) if value else (1, 1)


def _classify(module: nn.Module) -> str | None:
    if isinstance(module, nn.Conv2d):
        return "conv"
    if isinstance(module, nn.Linear):
        return "linear"
    if isinstance(module, _BatchNorm):
        return "bn"
    if isinstance(module, _ACTIVATIONS):
        return "act"
    if isinstance(module, _POOLS):
        return "pool"
    return None


def _record(name: str, module: nn.Module, kind: str, x: torch.Tensor,
            y: torch.Tensor) -> LayerTrace:
    common = dict(name=name, kind=kind, module_type=type(module).__name__,
                  input_shape=tuple(int(d) for d in x.shape[1:]),
                  output_shape=tuple(int(d) for d in y.shape[1:]))
    if kind in ("conv", "linear"):
        common["crossbar_config"] = getattr(module, "crossbar_config", None)
        common["input_signed"] = bool((x < 0).any())
    if kind == "conv":
        return LayerTrace(**common, in_channels=module.in_channels,
                          out_channels=module.out_channels,
                          kernel_size=_pair(module.kernel_size), stride=_pair(module.stride),
                          groups=module.groups, has_bias=module.bias is not None)
    if kind == "linear":
        return LayerTrace(**common, in_channels=module.in_features,
                          out_channels=module.out_features, has_bias=module.bias is not None)
    if kind == "bn":
        return LayerTrace(**common, in_channels=module.num_features,
                          out_channels=module.num_features)
    if kind == "pool":
        kernel = getattr(module, "kernel_size", None)
        stride = getattr(module, "stride", None)
        if kernel is None:  # adaptive pooling: the window the output size implies
            in_hw, out_hw = common["input_shape"][1:], common["output_shape"][1:]
            kernel = tuple(max(1, i // max(o, 1)) for i, o in zip(in_hw, out_hw)) or (1, 1)
            stride = kernel
        return LayerTrace(**common, kernel_size=_pair(kernel), stride=_pair(stride or kernel))
    return LayerTrace(**common)


def _warn_uncalled(layers: dict[str, nn.Module], seen: set[str]) -> None:
    """Warn about Conv2d/Linear modules that never ran as modules during the trace."""
    missing = [name for name in layers if name not in seen]
    if missing:
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        warnings.warn(f"{len(missing)} Conv2d/Linear layer(s) never ran as a module in the trace and "
                      f"are NOT costed: {shown} (their weights are used functionally, e.g. "
                      "nn.MultiheadAttention's out_proj, or the forward skips them)", stacklevel=3)


def trace_model(model: nn.Module, input_shape: Sequence[int]) -> Trace:
    """Trace the layers of ``model`` for one sample of shape ``input_shape``.

    The model runs once, in eval mode and without gradients, on one standard-normal sample of
    shape ``(1, *input_shape)`` (a fixed seed) on the device of its first parameter; its
    train/eval flags are restored afterwards. A module called twice (shared weights) appears
    twice. Each conv/linear layer records whether its input held a negative value
    (``input_signed``: the data path decides it, residual branches included).

    Args:
        model: any ``nn.Module`` built from the recognised leaf layers.
        input_shape: per-sample input shape, e.g. ``(3, 32, 32)``.

    Returns:
        The :class:`Trace`, layers in execution order.

    Raises:
        ValueError: if ``input_shape`` is empty or not positive, if the model does not run on it,
            or if a leaf module with parameters is of a type the cost model does not know.

    Example:
        >>> net = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
        >>> [l.kind for l in trace_model(net, (4,)).layers]
        ['linear', 'act']
    """
    shape = tuple(int(d) for d in input_shape)
    if not shape or any(d <= 0 for d in shape):
        raise ValueError(f"input_shape must be a non-empty tuple of positive ints, got {input_shape!r}")
    records: list[LayerTrace] = []
    handles = []
    compute_layers: dict[str, nn.Module] = {}
    for name, module in model.named_modules():
        kind = _classify(module)
        if kind is None:
            own = [p for p, _ in module.named_parameters(recurse=False)]
            if own and not isinstance(module, _FREE):
                raise ValueError(f"cannot trace layer {name!r} of type {type(module).__name__}: its "
                                 f"own parameters {own} are used in products the cost model cannot "
                                 "see (it knows Conv2d, Linear, BatchNorm, activations, pooling); "
                                 "they would be costed as free")
            continue  # containers: their leaves report
        if kind in ("conv", "linear"):
            compute_layers[name] = module

        def hook(mod: nn.Module, args: tuple, out: torch.Tensor, *, _name: str = name,
                 _kind: str = kind) -> None:
            records.append(_record(_name, mod, _kind, args[0], out))

        handles.append(module.register_forward_hook(hook))
    param = next(iter(model.parameters()), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    modes = {m: m.training for m in model.modules()}
    try:
        model.eval()
        with torch.no_grad():
            sample = torch.randn((1, *shape), generator=torch.Generator().manual_seed(0))
            model(sample.to(device=device, dtype=dtype))
    except (RuntimeError, ValueError) as err:
        if isinstance(err, ValueError) and str(err).startswith("cannot trace"):
            raise
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"model does not run on input_shape {shape}: {first_line}") from err
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes.items():
            module.training = training
    _warn_uncalled(compute_layers, {r.name for r in records})
    return Trace(input_shape=shape, layers=records, model_name=type(model).__name__)
