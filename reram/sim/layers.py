"""Drop-in crossbar layers: :class:`CrossbarLinear` and :class:`CrossbarConv2d`.

They subclass ``nn.Linear``/``nn.Conv2d`` (same signature plus ``config=``), keep ``weight`` and
``bias`` as ordinary Parameters, and add persistent buffers prefixed ``crossbar_`` (the frozen
weight scale and the update counter; with ``update="pulsed"`` also the devices' conductances and,
with device-to-device variation, each device's curve), so a float checkpoint loads into them,
any torch optimizer trains them and a checkpoint resumes bit-identically. Programming is lazy:
whenever ``weight`` has changed in place (an optimizer step, ``load_state_dict``,
``reset_parameters``) the next forward re-programs the crossbar, which for
``update="nearest"``/``"stochastic"`` first snaps ``weight`` onto the conductance grid, so updates
under half a level vanish as they would on the device, and for ``"pulsed"`` fires the pulses that
move each device toward the new weight (:mod:`reram.sim.devices`) and stores back the weight the
devices hold. A layer built on the meta device (``convert`` of a meta model) is programmed on
first real use (after ``to_empty()`` and ``load_state_dict`` or at its first forward).

Inputs, as for ``nn.Linear``/``nn.Conv2d``: a floating-point tensor (float16/bfloat16 computed in
float32; float64 accepted, computed in float32 like the hardware's fixed-point chain and returned
as float64); an integer or bool tensor (e.g. uint8 images) is refused with a one-line
``TypeError``, as ``nn.Linear`` refuses it, rather than silently returning zeros. A layer with
no weights (``in_features=0`` or ``out_features=0``) computes what ``nn.Linear`` does (an empty
sum: the bias). Layers built under ``torch.inference_mode`` work (their weights have no version
counter, so an in-place change of them under inference mode is not noticed: call
:meth:`CrossbarLayer.program` after one). The simulated forward runs NumPy/numba kernels:
``torch.compile`` treats it as a graph break (``torch.compiler.disable``), and
``torch.jit.trace``/``torch.export`` raise a one-line ``RuntimeError`` saying it cannot be
traced (trace the float model, :func:`reram.convert_to_float`, instead).
"""
from __future__ import annotations

import math
import warnings
import zlib
from typing import Any, Optional

import numpy as np
import torch
from torch import nn

from reram.config import CrossbarConfig
from reram.sim.devices import (draw_device_nonlinearity, get_device, initial_state, pulsed_update,
                               state_to_weight)
from reram.sim.functional import _needs_tiles, crossbar_conv2d, crossbar_linear
from reram.sim.tiles import product_path
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
    #: True until the buffers hold a real state (construction, ``to_empty()`` of a meta layer);
    #: a class default so that layers pickled before it existed load as programmed.
    _fresh_buffers: bool = False

    @property
    def _sim_config(self) -> CrossbarConfig:
        """The config the forward pass simulates (see :func:`_simulated_config`), cached."""
        cached = self.__dict__.get("_sim_config_cache")
        if cached is None or cached[0] is not self.crossbar_config:
            cached = (self.crossbar_config, _simulated_config(self.crossbar_config))
            self.__dict__["_sim_config_cache"] = cached
        return cached[1]

    def _init_crossbar(self, config: Optional[CrossbarConfig]) -> None:
        if config is None:
            config = default_config()
        if not isinstance(config, CrossbarConfig):
            raise TypeError(f"config must be a reram.CrossbarConfig, got {type(config).__name__}")
        self.crossbar_config = config
        self._register_crossbar_buffers()
        self._programmed: Optional[ProgrammedWeights] = None
        self._programmed_key: Any = None
        self._defects: Optional[tuple] = None
        self._rescale = True
        self._reloaded = False
        self._fresh_buffers = True
        _warn_inexact_currents(self)
        if self.weight.device.type != "meta":
            self.program()

    def _register_crossbar_buffers(self) -> None:
        """(Re-)create the ``crossbar_`` buffers for the current ``weight`` (zeros; the device
        state is filled at the first programming)."""
        w = self.weight
        self.register_buffer("crossbar_weight_scale",
                             torch.zeros(w.shape[0], dtype=torch.float32, device=w.device))
        self.register_buffer("crossbar_update_count",
                             torch.zeros((), dtype=torch.int64, device=w.device))
        cfg = self.crossbar_config
        if cfg.update == "pulsed":
            shape = (w.shape[0], w[0].numel() if w.shape[0] else 0)
            self.register_buffer("crossbar_device_state",
                                 torch.zeros(shape, dtype=torch.float32, device=w.device))
            # pulses fired since construction (read by the cost model, reram.cost.writes):
            # updates, SET pulses, RESET pulses, device writes, row-serial pulse steps
            self.register_buffer("crossbar_pulse_record",
                                 torch.zeros(5, dtype=torch.int64, device=w.device), persistent=False)
            if get_device(cfg.device).d2d > 0:
                self.register_buffer("crossbar_device_a",
                                     torch.zeros((2, *shape), dtype=torch.float32, device=w.device))

    # -------------------------------------------------------------------- programming
    def _weight_key(self) -> tuple:
        w = self.weight
        version = -1 if w.is_inference() else w._version  # inference tensors have no counter
        return (w.data_ptr(), version, w.device, w.dtype, tuple(w.shape))

    def _weight_2d(self) -> torch.Tensor:
        shape = self.weight.shape
        return self.weight.detach().reshape(shape[0], math.prod(shape[1:]))

    def _row_order(self) -> Optional[torch.Tensor]:
        """Which weight column drives each crossbar row; None: the natural order."""
        return None

    def _grid_update(self) -> bool:
        cfg = self.crossbar_config
        return cfg.update in ("nearest", "stochastic") and cfg.weight_bits is not None

    def _start_fresh(self) -> None:
        """First programming after construction or ``to_empty()`` without a loaded state:
        the buffers hold zeros or uninitialized memory, so set them from the weights."""
        self.crossbar_update_count.zero_()
        self._rescale = True
        self._fresh_buffers = False
        if self.crossbar_config.update == "pulsed":
            dev = get_device(self.crossbar_config.device)
            a = draw_device_nonlinearity(dev, tuple(self.crossbar_device_state.shape),
                                         self.crossbar_config.seed)
            if a is not None:
                self.crossbar_device_a.copy_(torch.from_numpy(a))

    def _pulsed_program(self, w2d: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """``update="pulsed"``: program the devices at the first programming (or a rescale),
        otherwise fire the pulses toward ``w2d``; returns the weights the devices hold."""
        cfg = self.crossbar_config
        dev = get_device(cfg.device)
        state = self.crossbar_device_state
        if self._rescale:
            scale.copy_(weight_scale(w2d, cfg))
            state.copy_(initial_state(w2d, scale, dev, cfg))
        elif not self._reloaded:
            self._program_unscaled_rows(w2d, scale, dev)
            if not bool(torch.isfinite(w2d).all()):
                raise ValueError("weight contains NaN or infinity; a crossbar cannot be programmed with it")
            pulses = pulsed_update(state, w2d, scale, dev, cfg,
                                   getattr(self, "crossbar_device_a", None),
                                   int(self.crossbar_update_count))
            self._count_pulses(pulses)
        return state_to_weight(state, scale)

    def _count_pulses(self, pulses: torch.Tensor) -> None:
        """Add one update's pulses (``out x K``, positive: SET) to ``crossbar_pulse_record``; a
        crossbar row is one of the ``K`` inputs, written in a SET and a RESET phase."""
        ltp, ltd = pulses.long().clamp(min=0), (-pulses.long()).clamp(min=0)
        one = torch.ones((), dtype=torch.int64, device=pulses.device)
        rows = (ltp.amax(dim=0).sum() + ltd.amax(dim=0).sum()) if pulses.numel() else 0 * one
        counts = torch.stack([one, ltp.sum(), ltd.sum(), (pulses != 0).sum(), rows])
        self.crossbar_pulse_record += counts.to(self.crossbar_pulse_record.device)

    def pulse_record(self) -> dict[str, int]:
        """Pulses fired since construction (``update="pulsed"``, else empty): ``{"updates",
        "set_pulses", "reset_pulses", "cells_written", "row_steps"}``."""
        record = getattr(self, "crossbar_pulse_record", None)
        if record is None:
            return {}
        keys = ("updates", "set_pulses", "reset_pulses", "cells_written", "row_steps")
        return dict(zip(keys, (int(v) for v in record.tolist())))

    def _program_unscaled_rows(self, w2d: torch.Tensor, scale: torch.Tensor, dev) -> None:
        """Rows whose weights were all zero when the scale was frozen get a scale (and devices
        programmed to their weights) once they hold a nonzero weight."""
        if bool((scale > 0).all()):
            return
        fresh = weight_scale(w2d, self.crossbar_config).to(scale.device)
        rows = (scale <= 0) & (fresh > 0)
        if bool(rows.any()):
            scale[rows] = fresh[rows]
            self.crossbar_device_state[rows] = initial_state(w2d[rows], scale[rows], dev,
                                                             self.crossbar_config)

    @torch.no_grad()
    def program(self, rescale: bool = False) -> ProgrammedWeights:
        """(Re-)program the crossbar from the current ``weight``.

        With ``update="nearest"`` or ``"stochastic"`` the weight scale is frozen at the first
        programming (the conductance grid of the chip) and ``weight`` is snapped onto that grid
        in place; ``rescale=True`` (or loading a float checkpoint) sets a new scale from
        ``max|W|``. With ``"digital"`` the scale follows the full-precision master weights.
        With ``"pulsed"`` the scale is frozen the same way (the devices' range), the first
        programming sets each device to the state nearest its weight, and every later one fires
        the pulses toward the new ``weight`` and stores back the weight the devices hold.

        Returns:
            The programmed state (scale, effective weight; tile cell levels on demand).
        """
        cfg = self.crossbar_config
        if self._fresh_buffers:
            self._start_fresh()
        w2d = self._weight_2d()
        if cfg.update == "pulsed":
            scale = self.crossbar_weight_scale
            if rescale:
                self._rescale = True
            held = self._pulsed_program(w2d, scale)
            self.weight.copy_(held.reshape(self.weight.shape).to(self.weight.dtype))
            w2d = self._weight_2d()
            if not self._reloaded:
                self.crossbar_update_count += 1
        elif self._grid_update():
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
            self._defects = draw_defects(self._sim_config, tuple(w2d.shape), cfg.seed)
        faults, var = self._defects if self._defects is not None else (None, None)
        self._programmed = program_weights(w2d, self.crossbar_weight_scale, self._sim_config,
                                           faults, var, row_order=self._row_order())
        if self._grid_update():  # the weight lives on the conductance grid
            self.weight.copy_(self._programmed.snapped.reshape(self.weight.shape))
        self._programmed.snapped = None
        if not self.training and _needs_tiles(self._sim_config, w2d.shape[1]) is not None:
            # inference through the tiles does not need it; dropping it here (not only in
            # programmed()) keeps a converted eval-mode model at about the float model's size
            self._programmed.effective = None
        self._programmed_key = self._weight_key()
        return self._programmed

    def programmed(self) -> ProgrammedWeights:
        """The programmed state, re-programming first if ``weight`` changed since (an update)
        or ``crossbar_config`` was replaced (the same weights programmed under the new config,
        not an update; defects drawn again from it). What a forward keeps with the programmed
        state (tile cells) goes with it."""
        if self._programmed is not None and self._programmed.config is not self._sim_config:
            if self._programmed_key == self._weight_key():
                self._reloaded = True  # re-programming unchanged weights is not an update
            self._defects = None
            self._programmed = None
        if self._programmed is None or self._programmed_key != self._weight_key():
            self.program()
        prog = self._programmed
        if (not self.training and prog.effective is not None
                and _needs_tiles(self._sim_config, prog.weight2d.shape[1]) is not None):
            prog.effective = None  # switched to eval after programming: release it now
        return prog

    def effective_weight(self) -> torch.Tensor:
        """The weight the crossbar realizes (quantization and defects), shaped like ``weight``."""
        return self.programmed().effective_weight().reshape(self.weight.shape).to(self.weight.dtype)

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        """Program a pending weight change first, so a checkpoint taken right after
        ``optimizer.step()`` holds what the next forward would have made of it: with
        ``update="pulsed"`` the pulses of that step fired (device state, the weight the devices
        hold), with ``"stochastic"`` the step rounded and the update counter advanced. Loading
        it into a fresh converted model then resumes bit-identically."""
        if (self._programmed is not None and not self._fresh_buffers
                and not self.crossbar_config.is_ideal and self.weight.device.type != "meta"):
            self.programmed()
        super()._save_to_state_dict(destination, prefix, keep_vars)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)
        scale_key = prefix + "crossbar_weight_scale"
        state_key = prefix + "crossbar_device_state"
        own = [scale_key, prefix + "crossbar_update_count"]
        if self.crossbar_config.update == "pulsed":
            own += [state_key] + ([prefix + "crossbar_device_a"]
                                  if hasattr(self, "crossbar_device_a") else [])
        if scale_key not in state_dict or (self.crossbar_config.update == "pulsed"
                                           and state_key not in state_dict):
            # a float (or other-update) checkpoint: take a fresh grid / device state from its weights
            if self._fresh_buffers:
                self._start_fresh()
            self._rescale = True
        else:
            self._reloaded = True
            self._fresh_buffers = False
        for key in own:
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
        self._register_crossbar_buffers()
        self._rescale = True
        self._fresh_buffers = True
        _warn_inexact_currents(self)
        if self.weight.device.type != "meta":  # a meta model is programmed on first real use
            self.program()

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, config=<{self.crossbar_config.describe()}>"


_NOT_TRACEABLE = ("the crossbar simulation runs NumPy/numba kernels and cannot be traced; trace "
                  "the float model (reram.convert_to_float) or use torch.compile, which runs the "
                  "crossbar eagerly")


def _eagerly(forward, input: torch.Tensor) -> torch.Tensor:
    """``forward(input)``; under ``torch.compile`` through ``torch.compiler.disable`` (a graph
    break; ``torch.export`` shows the reason where this torch takes one). The wrapper is built
    only then: importing the compiler at ``import reram`` would double its time."""
    if not torch.compiler.is_compiling():
        return forward(input)
    try:
        disabled = torch.compiler.disable(forward, reason=_NOT_TRACEABLE)
    except TypeError:  # an older torch without ``reason``
        disabled = torch.compiler.disable(forward)
    return disabled(input)


#: Largest integer every float32 holds exactly.
_FP32_EXACT = 1 << 24


def _warn_inexact_currents(layer: "CrossbarLayer") -> None:
    """Warn when the layer's integer column currents go through float32 products (the int8
    path does not fit) and can exceed ``2**24``: past it float32 sums round, so an ADC code
    near a step boundary may be off by one step."""
    cfg = layer._sim_config
    if cfg.weight_bits is None or cfg.input_bits is None or cfg.variation > 0 or cfg.read_noise > 0:
        return  # currents are not integers: float32 rounding is below the modelled noise
    k = math.prod(layer.weight.shape[1:])
    if k == 0 or product_path(cfg, k) != "fp32":
        return
    rows = min(cfg.tile_size or k, k)
    largest = rows * ((1 << cfg.cycle_bits) - 1) * ((1 << cfg.slice_bits) - 1)
    if largest > _FP32_EXACT:
        warnings.warn(f"{type(layer).__name__}: column currents reach {largest} > 2**24 on the "
                      f"float32 product path ({cfg.describe()}); float32 sums are not exact "
                      "there, so an ADC code may be off by one step (fewer rows per tile, "
                      "dac_bits or cell_bits keep them exact)", stacklevel=4)


def _check_floating(layer: nn.Module, input: torch.Tensor) -> None:
    """Refuse integer and bool inputs, as ``nn.Linear``/``nn.Conv2d`` do (one line)."""
    if not input.is_floating_point():
        raise TypeError(f"{type(layer).__name__} expects a floating-point input, as "
                        f"{layer._FLOAT_CLASS.__name__} does, got {input.dtype} (convert it, e.g. "
                        "x.float() / 255 for uint8 images)")


def _refuse_tracing(layer: nn.Module) -> None:
    """The simulated forward runs NumPy/numba kernels and Python control flow on tensor values:
    a tracer would record garbage, so it is refused in one line."""
    if torch.jit.is_tracing() or torch.compiler.is_exporting():
        raise RuntimeError(f"{type(layer).__name__} (torch.jit.trace / torch.export): "
                           f"{_NOT_TRACEABLE}")


def _simulated_config(config: CrossbarConfig) -> CrossbarConfig:
    """The config the forward pass simulates. With ``update="pulsed"`` each weight is one analog
    device (its conductance is whatever the pulses left), so the weights are programmed
    unquantized (``weight_bits=None``) onto the differential pair, with the device's on/off
    ratio setting ``g_min``; otherwise the config itself."""
    if config.update != "pulsed":
        return config
    return config.replace(weight_bits=None, cell_bits=None, update="digital", device=None,
                          g_min=config.g_max / get_device(config.device).on_off)


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
        _check_floating(self, input)
        if self.crossbar_config.is_ideal or self.weight.numel() == 0:  # exact: nothing to program
            return nn.Linear.forward(self, input)
        return _eagerly(self._simulated_forward, input)

    def _simulated_forward(self, input: torch.Tensor) -> torch.Tensor:
        _refuse_tracing(self)
        return crossbar_linear(input, self.weight, self.bias, self.programmed(), self._sim_config)


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
        _check_floating(self, input)
        if self.crossbar_config.is_ideal or self.weight.numel() == 0:  # exact: nothing to program
            return nn.Conv2d.forward(self, input)
        if input.dim() == 3:
            return self.forward(input.unsqueeze(0)).squeeze(0)
        return _eagerly(self._simulated_forward, input)

    def _simulated_forward(self, input: torch.Tensor) -> torch.Tensor:
        _refuse_tracing(self)
        return crossbar_conv2d(input, self, self.programmed(), self._sim_config)
