"""Drop-in crossbar layers: :class:`CrossbarLinear` and :class:`CrossbarConv2d`.

They subclass ``nn.Linear``/``nn.Conv2d`` (same signature plus ``config=``), keep ``weight`` and
``bias`` as ordinary Parameters, and add two persistent buffers prefixed ``crossbar_`` (the frozen
weight scale and the update counter), so a float checkpoint loads into them and any torch
optimizer trains them. Programming is lazy: whenever ``weight`` has changed in place (an
optimizer step, ``load_state_dict``, ``reset_parameters``) the next forward re-programs the
crossbar, which for ``update="nearest"``/``"stochastic"`` first snaps ``weight`` onto the
conductance grid, so updates under half a level vanish as they would on the device.
"""
from __future__ import annotations

import zlib
from typing import Any, Optional

import numpy as np
import torch
from torch import nn

from reram.config import CrossbarConfig
from reram.sim.functional import _needs_tiles, crossbar_conv2d, crossbar_linear
from reram.sim.mapping import ProgrammedWeights, draw_defects, program_weights, snap_to_grid, weight_scale

__all__ = ["CrossbarLinear", "CrossbarConv2d", "CrossbarLayer", "default_config", "layer_seed"]


def default_config() -> CrossbarConfig:
    """The config used when none is given (a fresh :class:`CrossbarConfig` with defaults)."""
    return CrossbarConfig()


def layer_seed(seed: int, name: str) -> int:
    """A per-layer chip seed derived from a model seed and the layer's dotted name."""
    state = np.random.SeedSequence([seed, zlib.crc32(name.encode())]).generate_state(1)
    return int(state[0] & 0x7FFFFFFF)


class CrossbarLayer:
    """Behaviour shared by the crossbar layers (a mixin placed before the float class)."""

    crossbar_config: CrossbarConfig
    _FLOAT_CLASS: type

    def _init_crossbar(self, config: Optional[CrossbarConfig]) -> None:
        if config is None:
            config = default_config()
        if not isinstance(config, CrossbarConfig):
            raise TypeError(f"config must be a reram.CrossbarConfig, got {type(config).__name__}")
        self.crossbar_config = config
        w = self.weight
        self.register_buffer("crossbar_weight_scale",
                             torch.zeros(w.shape[0], dtype=torch.float32, device=w.device))
        self.register_buffer("crossbar_update_count",
                             torch.zeros((), dtype=torch.int64, device=w.device))
        self._programmed: Optional[ProgrammedWeights] = None
        self._programmed_key: Any = None
        self._defects: Optional[tuple] = None
        self._rescale = True
        self._reloaded = False
        if w.device.type != "meta":
            self.program()

    # -------------------------------------------------------------------- programming
    def _weight_key(self) -> tuple:
        w = self.weight
        return (w.data_ptr(), w._version, w.device, w.dtype, tuple(w.shape))

    def _weight_2d(self) -> torch.Tensor:
        return self.weight.detach().reshape(self.weight.shape[0], -1)

    def _row_order(self) -> Optional[torch.Tensor]:
        """Which weight column drives each crossbar row; None: the natural order."""
        return None

    def _grid_update(self) -> bool:
        cfg = self.crossbar_config
        return cfg.update in ("nearest", "stochastic") and cfg.weight_bits is not None

    @torch.no_grad()
    def program(self, rescale: bool = False) -> ProgrammedWeights:
        """(Re-)program the crossbar from the current ``weight``.

        With ``update="nearest"`` or ``"stochastic"`` the weight scale is frozen at the first
        programming (the conductance grid of the chip) and ``weight`` is snapped onto that grid
        in place; ``rescale=True`` (or loading a float checkpoint) sets a new scale from
        ``max|W|``. With ``"digital"`` the scale follows the full-precision master weights.

        Returns:
            The programmed state (scale, effective weight; tile cell levels on demand).
        """
        cfg = self.crossbar_config
        w2d = self._weight_2d()
        if self._grid_update():
            scale = self.crossbar_weight_scale
            if rescale or self._rescale:
                scale.copy_(weight_scale(w2d, cfg))
            elif not bool((scale > 0).all()):
                scale.copy_(torch.where(scale > 0, scale, weight_scale(w2d, cfg).to(scale.device)))
            if cfg.update == "stochastic":
                seq = np.random.SeedSequence([cfg.seed, int(self.crossbar_update_count)])
                generator = torch.Generator().manual_seed(int(seq.generate_state(1)[0]))
                w2d = snap_to_grid(w2d, scale, cfg, generator)
            if not self._reloaded:  # re-programming loaded weights is not an update
                self.crossbar_update_count += 1
        else:
            scale = weight_scale(w2d, cfg)
            self.crossbar_weight_scale.copy_(scale)
        self._rescale = self._reloaded = False
        if self._defects is None and cfg.has_defects:
            self._defects = draw_defects(cfg, tuple(w2d.shape), cfg.seed)
        faults, var = self._defects if self._defects is not None else (None, None)
        self._programmed = program_weights(w2d, self.crossbar_weight_scale, cfg, faults, var,
                                           row_order=self._row_order())
        if self._grid_update():  # the weight lives on the conductance grid
            self.weight.copy_(self._programmed.snapped.reshape(self.weight.shape))
        self._programmed.snapped = None
        if not self.training and _needs_tiles(cfg, w2d.shape[1]) is not None:
            # inference through the tiles does not need it; dropping it here (not only in
            # programmed()) keeps a converted eval-mode model at about the float model's size
            self._programmed.effective = None
        self._programmed_key = self._weight_key()
        return self._programmed

    def programmed(self) -> ProgrammedWeights:
        """The programmed state, re-programming first if ``weight`` changed since."""
        if self._programmed is None or self._programmed_key != self._weight_key():
            self.program()
        prog = self._programmed
        if (not self.training and prog.effective is not None
                and _needs_tiles(self.crossbar_config, prog.weight2d.shape[1]) is not None):
            prog.effective = None  # switched to eval after programming: release it now
        return prog

    def effective_weight(self) -> torch.Tensor:
        """The weight the crossbar realizes (quantization and defects), shaped like ``weight``."""
        return self.programmed().effective_weight().reshape(self.weight.shape).to(self.weight.dtype)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)
        scale_key = prefix + "crossbar_weight_scale"
        if scale_key not in state_dict:  # a float checkpoint: take a fresh grid from its weights
            self._rescale = True
        else:
            self._reloaded = True
        for key in (scale_key, prefix + "crossbar_update_count"):
            if key not in state_dict and key in missing_keys:
                missing_keys.remove(key)
        self._programmed = None

    # -------------------------------------------------------------------- conversion
    @classmethod
    def from_float(cls, module: nn.Module, config: Optional[CrossbarConfig] = None):
        """A crossbar copy of a float ``nn.Linear``/``nn.Conv2d`` (weights, device, mode, hooks).

        Raises:
            TypeError: if ``module`` is not an instance of the matching float class.
        """
        if not isinstance(module, cls._FLOAT_CLASS) or isinstance(module, CrossbarLayer):
            raise TypeError(f"{cls.__name__}.from_float expects an {cls._FLOAT_CLASS.__module__}."
                            f"{cls._FLOAT_CLASS.__name__}, got {type(module).__name__}")
        new = cls(**cls._constructor_args(module), config=config, device="meta")
        new._adopt(module)
        return new

    def to_float(self, effective: bool = False) -> nn.Module:
        """The float module with this layer's ``weight`` (or, with ``effective=True``, the
        weight the crossbar realizes), bias, device, mode and hooks."""
        new = self._FLOAT_CLASS(**self._constructor_args(self), device="meta")
        new = _adopt_parameters(new, self, effective_weight=self.effective_weight() if effective else None)
        return new

    def _adopt(self, module: nn.Module) -> None:
        _adopt_parameters(self, module)
        w = self.weight
        self.crossbar_weight_scale = torch.zeros(w.shape[0], dtype=torch.float32, device=w.device)
        self.crossbar_update_count = torch.zeros((), dtype=torch.int64, device=w.device)
        self._rescale = True
        self.program()

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, config=<{self.crossbar_config.describe()}>"


def _adopt_parameters(target: nn.Module, source: nn.Module,
                      effective_weight: Optional[torch.Tensor] = None) -> nn.Module:
    """Give ``target`` (built on the meta device) the parameters, mode and hooks of ``source``."""
    weight = source.weight.detach().clone() if effective_weight is None else effective_weight.detach().clone()
    target.weight = nn.Parameter(weight, requires_grad=source.weight.requires_grad)
    if source.bias is not None:
        target.bias = nn.Parameter(source.bias.detach().clone(), requires_grad=source.bias.requires_grad)
    else:
        target.bias = None
    target.train(source.training)
    for attr in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks",
                 "_backward_pre_hooks", "_forward_hooks_with_kwargs",
                 "_forward_pre_hooks_with_kwargs", "_forward_hooks_always_called",
                 "_state_dict_hooks", "_state_dict_pre_hooks", "_load_state_dict_pre_hooks",
                 "_load_state_dict_post_hooks"):
        if hasattr(source, attr):
            setattr(target, attr, type(getattr(source, attr))(getattr(source, attr)))
    return target


class CrossbarLinear(CrossbarLayer, nn.Linear):
    """``nn.Linear`` computed on simulated ReRAM crossbars.

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        bias: whether to add a learnable bias (computed digitally).
        device: device of the parameters.
        dtype: dtype of the parameters.
        config: the :class:`~reram.CrossbarConfig` (default :func:`default_config`).

    Example:
        >>> layer = CrossbarLinear(16, 4, config=CrossbarConfig(weight_bits=4))
        >>> layer(torch.randn(2, 16)).shape
        torch.Size([2, 4])
    """

    _FLOAT_CLASS = nn.Linear

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None,
                 dtype=None, config: Optional[CrossbarConfig] = None) -> None:
        super().__init__(in_features, out_features, bias=bias, device=device, dtype=dtype)
        self._init_crossbar(config)

    @staticmethod
    def _constructor_args(module: nn.Linear) -> dict:
        return dict(in_features=module.in_features, out_features=module.out_features,
                    bias=module.bias is not None, dtype=module.weight.dtype)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not isinstance(input, torch.Tensor) or input.dim() < 1 or input.shape[-1] != self.in_features:
            shape = tuple(input.shape) if isinstance(input, torch.Tensor) else type(input).__name__
            raise ValueError(f"CrossbarLinear expects input of shape (..., in_features="
                             f"{self.in_features}), got {shape}")
        if self.crossbar_config.is_ideal:  # exact: nothing to program
            return nn.Linear.forward(self, input)
        return crossbar_linear(input, self.weight, self.bias, self.programmed(),
                               self.crossbar_config)


class CrossbarConv2d(CrossbarLayer, nn.Conv2d):
    """``nn.Conv2d`` computed on simulated ReRAM crossbars (im2col rows as crossbar inputs).

    Takes ``nn.Conv2d``'s arguments (groups, stride, padding, dilation, bias, padding_mode)
    plus ``config``. Each group's ``(in_channels/groups * kh * kw) x (out_channels/groups)``
    matrix is mapped onto its own crossbars.

    Example:
        >>> conv = CrossbarConv2d(3, 8, 3, padding=1, config=CrossbarConfig(weight_bits=6))
        >>> conv(torch.randn(2, 3, 8, 8)).shape
        torch.Size([2, 8, 8, 8])
    """

    _FLOAT_CLASS = nn.Conv2d

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None, config: Optional[CrossbarConfig] = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                         dilation=dilation, groups=groups, bias=bias, padding_mode=padding_mode,
                         device=device, dtype=dtype)
        self._init_crossbar(config)

    def _row_order(self) -> Optional[torch.Tensor]:
        """``(kh, kw, C)`` row order for ungrouped convs (see ``ProgrammedWeights.row_order``)."""
        if self.groups != 1:
            return None
        c, kh, kw = self.weight.shape[1:]
        return torch.arange(c * kh * kw).reshape(c, kh, kw).permute(1, 2, 0).reshape(-1)

    @staticmethod
    def _constructor_args(module: nn.Conv2d) -> dict:
        return dict(in_channels=module.in_channels, out_channels=module.out_channels,
                    kernel_size=module.kernel_size, stride=module.stride, padding=module.padding,
                    dilation=module.dilation, groups=module.groups, bias=module.bias is not None,
                    padding_mode=module.padding_mode, dtype=module.weight.dtype)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if (not isinstance(input, torch.Tensor) or input.dim() not in (3, 4)
                or input.shape[-3] != self.in_channels):
            shape = tuple(input.shape) if isinstance(input, torch.Tensor) else type(input).__name__
            raise ValueError(f"CrossbarConv2d expects input of shape (N, in_channels="
                             f"{self.in_channels}, H, W) or (in_channels, H, W), got {shape}")
        if self.crossbar_config.is_ideal:  # exact: nothing to program
            return nn.Conv2d.forward(self, input)
        if input.dim() == 3:
            return self.forward(input.unsqueeze(0)).squeeze(0)
        return crossbar_conv2d(input, self, self.programmed(), self.crossbar_config)
