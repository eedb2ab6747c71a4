"""The crossbar layers' computation as autograd functions.

Signal chain steps 2-5 of DESIGN.md: input quantization (per-sample scale, sign in two phases),
then either one plain product with the effective weight (where the ADC cannot lose
information) or the tile engine of :mod:`reram.sim.tiles` (DAC cycles, products per row tile,
per-column ADC, shift-add) on the product path :func:`product_path` names. The weight gradient
is ``grad_y^T @ quantized_input``; the input gradient is straight-through
(``grad_y @ effective_weight``) or, with ``backward="analog"``, a transposed read of the same
tiles (:func:`reram.sim.tiles.transposed_read`). Under ``torch.autocast`` the crossbar computes
in float32 and returns the autocast dtype.

Imports ``reram.config``, ``reram.sim.mapping``, ``reram.sim.tiles`` and ``reram.sim.backends``
only.
"""
from __future__ import annotations

import contextlib
import math
import warnings
from typing import Optional

import torch
import torch.nn.functional as F

from reram.config import CrossbarConfig
from reram.sim.mapping import AdcParams, ProgrammedWeights
from reram.sim.backends import backend_for, channels_last_patches
from reram.sim.tiles import (CURRENT_BUFFER_BYTES, ConvPatches, code_dtype, input_phases,
                             needs_tiles, product_path, simulate_tiles, transposed_read,
                             weight_units)

__all__ = ["quantize_input", "crossbar_linear", "crossbar_conv2d", "simulate_tiles",
           "product_path", "CURRENT_BUFFER_BYTES"]

#: Bytes of im2col rows (and of their accumulators) held at once by the tiled convolution.
CONV_UNFOLD_BYTES = 8 << 20
#: A Linear layer's forward on the int8 path without autograd quantizes its input in one
#: kernel pass (:func:`_integer_codes`) instead of 15 torch steps; False: the torch steps (an
#: A/B switch for ``benchmarks/bench_forward_steps.py``; both give the same bits).
_KERNEL_QUANTIZE = True
#: A conv's forward on the int8 path without autograd quantizes its input in one kernel pass
#: straight into padded channels-last codes (:func:`_integer_conv`) instead of 15 torch steps,
#: a cast, a pad and a permuting copy; False: those steps (an A/B switch; same bits).
_KERNEL_QUANTIZE_CONV = True
#: A bias that needs no gradient is added by the output scaling pass (:func:`_fusable_bias`);
#: False: by a torch add after it (an A/B switch; both give the same bits).
_FUSE_BIAS = True

def quantize_input(x: torch.Tensor, config: CrossbarConfig, sample_dims: int
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale inputs per sample and quantize them to signed integer codes.

    Args:
        x: the input tensor; its last ``sample_dims`` dimensions form one sample.
        config: the crossbar config (``input_bits=None`` keeps continuous codes in [-1, 1]).
        sample_dims: how many trailing dimensions share one scale.

    Returns:
        ``(codes, scale)``: ``codes`` shaped like ``x`` (integers in ``[-L, L]``, ``L =
        2**(input_bits-1) - 1``; straight-through, so ``d codes / d x = L / scale``), and the
        detached per-sample scale ``max|x|`` shaped like ``x`` without its sample dims.
    """
    lead = x.shape[: x.dim() - sample_dims]
    flat = x.detach().reshape(*lead, math.prod(x.shape[len(lead):]))
    scale = flat.abs().amax(dim=-1) if flat.shape[-1] else flat.new_zeros(lead)
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))
    levels = config.input_levels or 1
    view = safe.reshape(*lead, *([1] * sample_dims))
    multiplier = levels / view
    if bool(torch.isfinite(multiplier).all()):
        codes = x * multiplier
    else:  # a subnormal scale: L / scale overflows; scale both by 2**100 first (exact)
        boost = torch.where(torch.isfinite(multiplier), 1.0, 2.0 ** 100).to(view.dtype)
        codes = (x * boost) * (levels / (view * boost))
    if config.input_levels is not None:
        if torch.is_grad_enabled() and x.requires_grad:
            codes = codes + (torch.round(codes).clamp(-levels, levels) - codes).detach()
        else:  # no gradient needed: quantize in place, one copy of the input
            codes.round_().clamp_(-levels, levels)
    return codes, scale


def _warn_if_no_signal(informative: int, codes: torch.Tensor, config: CrossbarConfig,
                       adc: AdcParams) -> None:
    """Warn (once per config, by the warnings registry) when no ADC code carried information.

    A lossless ADC converts every current exactly, so zero codes there are zero products (zero
    weights), not a config that loses the signal: no warning.
    """
    if adc.lossless:
        return
    if informative == 0 and codes.numel() and bool((codes != 0).any()):
        warnings.warn(f"every ADC code was zero or saturated on this batch: the crossbar config "
                      f"<{config.describe()}> leaves no signal (the output is the bias alone); "
                      f"check tile_size, adc_bits and adc_range", RuntimeWarning, stacklevel=4)


def _error_codes(grad_y: torch.Tensor, weight_unit: torch.Tensor, config: CrossbarConfig,
                 sample_dims: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The error as the input DAC scheme applies it: scaled per output by the weight scale,
    quantized per sample (``input_bits``, sign in two phases). Returns ``(codes, unit)``."""
    shape = [1] * grad_y.dim()
    shape[grad_y.dim() - sample_dims] = -1
    with torch.no_grad():
        codes, scale = quantize_input(grad_y.float() * weight_unit.reshape(shape), config,
                                      sample_dims)
    return codes, scale / float(config.input_levels or 1)


class _TiledLinear(torch.autograd.Function):
    """``y = ADC-simulated(codes @ W^T) * scales``; straight-through or analog input gradient."""

    @staticmethod
    def forward(ctx, codes, weight, unit_in, program, config, adc, path, n_phases=None,
                bias=None):
        # integer codes on the int8 path: a half or a quarter of the bytes (a NaN sample gives
        # arbitrary codes here, and NaN outputs through its NaN input scale); ``codes`` may
        # come already cast, with their input phases known (:func:`_integer_codes`); the
        # output takes ``unit_in``'s dtype; ``bias`` (one that needs no gradient) is added by
        # the scaling pass
        small = code_dtype(config) if path == "int8" else None
        acc, informative = simulate_tiles(codes.to(small) if small else codes, program,
                                          config, adc, path=path, n_phases=n_phases)
        _warn_if_no_signal(informative, codes, config, adc)
        if any(ctx.needs_input_grad):  # grad mode is always off inside forward
            ctx.program, ctx.config = program, config
            ctx.save_for_backward(codes, unit_in)
        y = acc.new_empty(acc.shape, dtype=unit_in.dtype)  # float32(acc * step*unit * w_unit)
        backend_for(acc.device).scale_into_nchw(acc, adc.step * unit_in.double(),
                                                weight_units(program, acc.device),
                                                y[:, :, None], bias)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        codes, unit_in = ctx.saved_tensors
        program, config = ctx.program, ctx.config
        grad_codes = grad_weight = None
        if ctx.needs_input_grad[0] and config.backward == "analog":
            weight_unit = program.scale.to(grad_y.device) / float(config.weight_levels or 1)
            err, unit_e = _error_codes(grad_y, weight_unit, config, 1)
            acc, adc = transposed_read(err, program, config)
            scale = adc.step * unit_e.double() * unit_in.double()
            grad_codes = acc.mul_(scale[:, None]).to(grad_y.dtype)
        elif ctx.needs_input_grad[0]:
            effective = program.effective_weight().to(grad_y.device, grad_y.dtype)
            grad_codes = (grad_y @ effective) * unit_in[:, None].to(grad_y.dtype)
        if ctx.needs_input_grad[1]:
            grad_weight = grad_y.t() @ (codes * unit_in[:, None]).to(grad_y.dtype)
        return grad_codes, grad_weight, None, None, None, None, None, None, None


def _conv_out_size(codes: torch.Tensor, geometry) -> tuple[int, int]:
    kernel_size, dilation, stride, _, padding = geometry
    return tuple((codes.shape[2 + i] + 2 * padding[i] - dilation[i] * (kernel_size[i] - 1) - 1)
                 // stride[i] + 1 for i in range(2))


def _sample_chunk(codes: torch.Tensor, geometry, n_pos: int, out_ch: int,
                  unfolded: bool = True) -> int:
    """Samples per chunk, so that neither the im2col rows (``unfolded``: they exist) nor the
    float64 accumulator get large."""
    kernel_size = geometry[0]
    im2col = math.prod(codes.shape[1:]) * kernel_size[0] * kernel_size[1] * 4 if unfolded else 0
    per_sample = max(1, im2col, n_pos * out_ch * 8)
    return max(1, CONV_UNFOLD_BYTES // per_sample)


class _TiledConv2d(torch.autograd.Function):
    """A conv whose im2col rows run through the simulated crossbars.

    ``codes`` are already padded; the forward pass unfolds chunks of samples so that the
    im2col matrix of the whole batch never exists at once. The input gradient is
    straight-through, or with ``backward="analog"`` a transposed read folded back (col2im).
    """

    @staticmethod
    def forward(ctx, codes, weight, unit_in, geometry, program, config, adc, path, bias=None):
        kernel_size, dilation, stride, groups, padding = geometry
        # integer codes on the int8 path: a half or a quarter of the bytes to stream (NaN
        # samples give arbitrary codes here, and NaN outputs through their NaN input scale);
        # an ungrouped conv's digits stream straight from the padded channels-last codes
        small = code_dtype(config) if path == "int8" else None
        source = codes.to(small) if small else codes
        n_phases = input_phases(source)  # once, not per chunk (a phase of zeros changes nothing)
        fused = small is not None and groups == 1 and program.row_order is not None
        if fused:
            source = F.pad(source, (padding[1], padding[1], padding[0], padding[0]))
            source = source.permute(0, 2, 3, 1).contiguous()
        y, informative = _read_conv(source, fused, n_phases, _conv_out_size(codes, geometry),
                                    unit_in, geometry, program, config, adc, path, bias,
                                    codes.dtype)
        if codes.shape[0]:
            _warn_if_no_signal(informative, codes, config, adc)
        if any(ctx.needs_input_grad):  # grad mode is always off inside forward
            ctx.program, ctx.geometry, ctx.config = program, geometry, config
            ctx.save_for_backward(codes, unit_in)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        codes, unit_in = ctx.saved_tensors
        kernel_size, dilation, stride, groups, padding = ctx.geometry
        program, config = ctx.program, ctx.config
        effective = program.effective_weight().to(grad_y.device, grad_y.dtype)
        effective = effective.reshape(grad_y.shape[1], -1, *kernel_size)
        unit = unit_in.to(grad_y.dtype)[:, None, None, None]
        grad_codes = grad_weight = None
        if ctx.needs_input_grad[0] and config.backward == "analog":
            grad_codes = _analog_conv_input_grad(grad_y, codes, unit_in, ctx.geometry, program,
                                                 config)
        elif ctx.needs_input_grad[0]:
            grad_codes = torch.nn.grad.conv2d_input(codes.shape, effective, grad_y, stride=stride,
                                                    padding=padding, dilation=dilation,
                                                    groups=groups) * unit
        if ctx.needs_input_grad[1]:
            grad_weight = torch.nn.grad.conv2d_weight(codes * unit, effective.shape, grad_y,
                                                      stride=stride, padding=padding,
                                                      dilation=dilation, groups=groups)
        return grad_codes, grad_weight, None, None, None, None, None, None, None


def _read_conv(source: torch.Tensor, fused: bool, n_phases: int, out_size: tuple[int, int],
               unit_in: torch.Tensor, geometry, program: ProgrammedWeights,
               config: CrossbarConfig, adc: AdcParams, path: str, bias: Optional[torch.Tensor],
               dtype: torch.dtype) -> tuple[torch.Tensor, int]:
    """``(y, informative)``: a conv's ``N x out x H_out x W_out`` output of ``dtype`` through
    the tiles, chunks of samples at a time, and its informative ADC conversions.

    ``source``: with ``fused`` the padded channels-last integer codes (``N x H x W x C``,
    streamed by the digit writer), else the unpadded NCHW codes (unfolded per chunk);
    ``n_phases`` their input phases; ``bias`` (or None) added by the output scaling pass."""
    kernel_size, dilation, stride, groups, padding = geometry
    n, (h_out, w_out) = source.shape[0], out_size
    n_pos, out_ch = h_out * w_out, program.weight2d.shape[0]
    y = torch.empty((n, out_ch, h_out, w_out), dtype=dtype, device=source.device)
    chunk = _sample_chunk(source, geometry, n_pos, out_ch, unfolded=not fused)
    backend = backend_for(source.device)
    col_scale = weight_units(program, source.device)
    informative = 0
    for start in range(0, n, chunk):
        part = source[start:start + chunk]
        if fused:
            rows = ConvPatches(part, ((h_out, w_out), kernel_size, dilation, stride))
        else:
            rows = _patches(part, kernel_size, dilation, padding, stride,
                            channels_last=program.row_order is not None)
        acc, seen = simulate_tiles(rows, program, config, adc, groups=groups, path=path,
                                   n_phases=n_phases)
        informative += seen
        unit_rows = unit_in[start:start + part.shape[0]].repeat_interleave(n_pos)
        backend.scale_into_nchw(acc, adc.step * unit_rows.double(), col_scale,
                                y[start:start + part.shape[0]].view(-1, out_ch, n_pos), bias)
    return y, informative


def _analog_conv_input_grad(grad_y: torch.Tensor, codes: torch.Tensor, unit_in: torch.Tensor,
                            geometry, program: ProgrammedWeights, config: CrossbarConfig
                            ) -> torch.Tensor:
    """``d loss / d codes`` of a conv from transposed reads of its tiles, folded (col2im)."""
    kernel_size, dilation, stride, groups, padding = geometry
    n, out_ch, h_out, w_out = grad_y.shape
    n_pos = h_out * w_out
    weight_unit = program.scale.to(grad_y.device) / float(config.weight_levels or 1)
    err, unit_e = _error_codes(grad_y, weight_unit, config, 3)
    grad_codes = torch.zeros(codes.shape, dtype=grad_y.dtype, device=grad_y.device)
    chunk = _sample_chunk(codes, geometry, n_pos, out_ch)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        rows = err[start:stop].permute(0, 2, 3, 1).reshape(-1, out_ch)
        acc, adc = transposed_read(rows, program, config, groups)
        scale = (unit_e.double() * unit_in.double())[start:stop].repeat_interleave(n_pos)
        acc.mul_((adc.step * scale)[:, None])
        if program.row_order is not None:  # crossbar rows back to (C, kh, kw) columns
            natural = torch.empty_like(acc)
            natural[:, program.row_order.to(acc.device)] = acc
            acc = natural
        cols = acc.to(grad_y.dtype).reshape(stop - start, n_pos, -1).permute(0, 2, 1)
        grad_codes[start:stop] = F.fold(cols, codes.shape[2:], kernel_size, dilation=dilation,
                                        padding=padding, stride=stride)
    return grad_codes


def _patches(x: torch.Tensor, kernel_size, dilation, padding, stride,
             channels_last: bool = False) -> torch.Tensor:
    """im2col rows ``(n * H_out * W_out) x K`` of ``x`` (one copy).

    Columns in ``(C, kh, kw)`` order, or ``(kh, kw, C)`` with ``channels_last`` (read from a
    channels-last view, with the channel innermost: several times faster to copy).
    """
    if padding[0] or padding[1]:
        x = F.pad(x, (padding[1], padding[1], padding[0], padding[0]))
    if channels_last:
        return channels_last_patches(x.permute(0, 2, 3, 1), kernel_size, dilation, stride)
    (kh, kw), (dh, dw), (sh, sw) = kernel_size, dilation, stride
    p = x.unfold(2, dh * (kh - 1) + 1, sh).unfold(3, dw * (kw - 1) + 1, sw)
    if dh > 1 or dw > 1:
        p = p[..., ::dh, ::dw]
    n, c, h_out, w_out = p.shape[:4]
    return p.permute(0, 2, 3, 1, 4, 5).reshape(n * h_out * w_out, c * kh * kw)


def _needs_tiles(config: CrossbarConfig, k: int, force: bool = False) -> Optional[AdcParams]:
    """The ADC parameters when the tiled simulation changes the result, else None (see
    :func:`reram.sim.tiles.needs_tiles`; the name :mod:`reram.sim.layers` imports)."""
    return needs_tiles(config, k, force)


def _no_autocast(x: torch.Tensor):
    """A context turning autocast off for ``x``'s device (the crossbar computes in float32)."""
    kind = x.device.type
    if kind in ("cpu", "cuda") and torch.is_autocast_enabled(kind):
        return torch.autocast(kind, enabled=False)
    return contextlib.nullcontext()


def _compute_dtype(x: torch.Tensor) -> tuple[torch.Tensor, torch.dtype]:
    """``(x in float32 if it is a half type, the dtype to return)``: under autocast the
    autocast dtype (as ``nn.Linear`` returns), else ``x``'s dtype."""
    kind = x.device.type
    out = x.dtype
    if kind in ("cpu", "cuda") and torch.is_autocast_enabled(kind):
        out = torch.get_autocast_dtype(kind)
    if x.dtype in (torch.float16, torch.bfloat16):
        x = x.float()
    return x, out


def _straight_through(weight: torch.Tensor, effective: torch.Tensor) -> torch.Tensor:
    effective = effective.to(weight.dtype).reshape(weight.shape)
    return weight + (effective - weight).detach()


def crossbar_linear(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor],
                    program: ProgrammedWeights, config: CrossbarConfig,
                    force_tiles: bool = False) -> torch.Tensor:
    """``y = x W^T + b`` computed through the crossbar described by ``config``.

    Args:
        x: a ``... x in`` tensor; each vector along the last dim is one sample (own scale).
        weight: the ``out x in`` weight Parameter (receives the straight-through gradient).
        bias: an ``out``-dim tensor or None.
        program: ``weight`` programmed onto the crossbar (:func:`reram.sim.mapping.program_weights`).
        config: the crossbar config.
        force_tiles: stream every cycle through every tile even where the ADC is provably
            lossless (by default such a layer computes the equal, cheaper plain product).

    Returns:
        A ``... x out`` tensor.
    """
    if config.is_ideal:
        return F.linear(x, weight, bias)
    x, out_dtype = _compute_dtype(x)
    with _no_autocast(x):
        y = _linear(x, weight.float(), None if bias is None else bias.float(), program, config,
                    force_tiles)
    return y if y.dtype == out_dtype else y.to(out_dtype)


def _analog_backward(config: CrossbarConfig, *tensors: torch.Tensor) -> bool:
    """True when this call's input gradient is a transposed read (then even a lossless forward
    runs through the tiles, whose autograd function does the read)."""
    return (config.backward == "analog" and torch.is_grad_enabled()
            and any(t.requires_grad for t in tensors))


def _integer_codes(x: torch.Tensor, weight: torch.Tensor, config: CrossbarConfig, path: str
                   ) -> Optional[tuple[torch.Tensor, torch.Tensor, int]]:
    """``(codes, scale, n_phases)``: :func:`quantize_input`'s codes and scale with the codes
    already in the int8 path's integer dtype, and their input phases (2 when some code is
    negative, as :func:`reram.sim.tiles.input_phases` finds), from one kernel pass
    (:meth:`reram.sim.backends.Backend.quantize_rows`) where no gradient is needed; None where
    the torch steps must run (autograd, a float64 input, a subnormal scale, a device without
    the kernel)."""
    small = code_dtype(config) if path == "int8" else None
    if (small is None or not _KERNEL_QUANTIZE or x.dtype != torch.float32
            or (torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad))):
        return None
    rows = backend_for(x.device).quantize_rows(x.reshape(-1, x.shape[-1]), config.input_levels,
                                               small)
    if rows is None:
        return None
    return rows[0].reshape(x.shape), rows[1].reshape(x.shape[:-1]), 2 if rows[2] else 1


def _linear(x, weight, bias, program, config, force_tiles) -> torch.Tensor:
    force_tiles = force_tiles or _analog_backward(config, x)
    adc = needs_tiles(config, weight.shape[1], force_tiles)
    path = product_path(config, weight.shape[1], force_tiles) if adc is not None else "plain"
    quantized = _integer_codes(x, weight, config, path)
    codes, scale, n_phases = quantized or (*quantize_input(x, config, sample_dims=1), None)
    unit_in = scale / float(config.input_levels or 1)
    if adc is None:
        x_q = x if config.input_bits is None else codes * unit_in[..., None]
        return F.linear(x_q.to(weight.dtype), _straight_through(weight, program.effective_weight()),
                        bias)  # float32 like the tiles (a float64 input is returned as float64)
    lead = x.shape[:-1]
    fused = _fusable_bias(bias)
    y = _TiledLinear.apply(codes.reshape(-1, x.shape[-1]), weight, unit_in.reshape(-1),
                           program, config, adc, path, n_phases, fused)
    y = y.reshape(*lead, weight.shape[0])
    return y if bias is None or fused is not None else y + bias


def _fusable_bias(bias: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
    """``bias`` when the output scaling pass may add it (no gradient needed for it: the same
    float32 sums as ``y + bias`` in one pass fewer and no copy), else None."""
    if bias is None or not _FUSE_BIAS or (torch.is_grad_enabled() and bias.requires_grad):
        return None
    return bias


def crossbar_conv2d(x: torch.Tensor, layer: torch.nn.Conv2d, program: ProgrammedWeights,
                    config: CrossbarConfig, force_tiles: bool = False) -> torch.Tensor:
    """A 2-D convolution computed through the crossbar (im2col rows streamed as inputs).

    Args:
        x: an ``N x C x H x W`` tensor (each sample has one input scale).
        layer: the conv module (geometry, ``weight`` Parameter and ``bias``).
        program: ``layer.weight`` programmed onto the crossbar.
        config: the crossbar config.
        force_tiles: as for :func:`crossbar_linear`.

    Returns:
        An ``N x out_channels x H_out x W_out`` tensor.
    """
    if config.is_ideal:
        return layer._conv_forward(x, layer.weight, layer.bias)
    x, out_dtype = _compute_dtype(x)
    with _no_autocast(x):
        y = _conv2d(x, layer, program, config, force_tiles)
    return y if y.dtype == out_dtype else y.to(out_dtype)


def _conv2d(x, layer, program, config, force_tiles) -> torch.Tensor:
    force_tiles = force_tiles or _analog_backward(config, x)
    weight = layer.weight.float()
    bias = None if layer.bias is None else layer.bias.float()
    k = weight[0].numel()
    adc = needs_tiles(config, k, force_tiles)
    if adc is not None:
        y = _integer_conv(x, layer, program, config, adc, product_path(config, k, force_tiles),
                          bias)
        if y is not None:
            return y
    codes, scale = quantize_input(x, config, sample_dims=3)
    unit_in = scale / float(config.input_levels or 1)
    if adc is None:
        x_q = x if config.input_bits is None else codes * unit_in[:, None, None, None]
        return layer._conv_forward(x_q.to(weight.dtype),
                                   _straight_through(weight, program.effective_weight()), bias)
    padding = layer.padding
    if layer.padding_mode != "zeros" or isinstance(padding, str):
        codes, padding = _explicit_padding(codes, layer), (0, 0)
    geometry = (layer.kernel_size, layer.dilation, layer.stride, layer.groups, tuple(padding))
    path = product_path(config, k, force_tiles)
    fused = _fusable_bias(bias)
    y = _TiledConv2d.apply(codes, weight, unit_in, geometry, program, config, adc, path, fused)
    if bias is not None and fused is None:
        y = y + bias[None, :, None, None]
    return y


def _integer_conv(x: torch.Tensor, layer: torch.nn.Conv2d, program: ProgrammedWeights,
                  config: CrossbarConfig, adc: AdcParams, path: str,
                  bias: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
    """An ungrouped conv's output on the int8 path where no gradient is needed, its input
    quantized by one kernel pass straight into the padded channels-last codes the digit writer
    reads (:meth:`reram.sim.backends.Backend.quantize_nhwc`: the bits of
    :func:`quantize_input`, a cast, a pad and a permuting copy, and the input phases from its
    negative-code flag); None where the autograd function must run (a gradient, a float64
    input, a subnormal scale, groups, padding modes other than zeros, a device without the
    kernel)."""
    small = code_dtype(config) if path == "int8" else None
    needs_grad = torch.is_grad_enabled() and (
        x.requires_grad or layer.weight.requires_grad
        or (layer.bias is not None and layer.bias.requires_grad))
    if (small is None or not _KERNEL_QUANTIZE_CONV or needs_grad or x.dtype != torch.float32
            or layer.groups != 1 or program.row_order is None or layer.padding_mode != "zeros"
            or isinstance(layer.padding, str)):
        return None
    padding = tuple(layer.padding)
    rows = backend_for(x.device).quantize_nhwc(x, config.input_levels, small, padding)
    if rows is None:
        return None
    xp, scale, negative = rows
    geometry = (layer.kernel_size, layer.dilation, layer.stride, layer.groups, padding)
    fused = _fusable_bias(bias)
    y, informative = _read_conv(xp, True, 2 if negative else 1, _conv_out_size(x, geometry),
                                scale / float(config.input_levels), geometry, program, config,
                                adc, path, fused, x.dtype)
    if x.shape[0]:
        _warn_if_no_signal(informative, xp, config, adc)
    return y if bias is None or fused is not None else y + bias[None, :, None, None]


def _explicit_padding(codes: torch.Tensor, layer: torch.nn.Conv2d) -> torch.Tensor:
    if isinstance(layer.padding, str):  # "same" / "valid"
        if layer.padding == "valid":
            return codes
        pads = []
        for d, k in zip(reversed(layer.dilation), reversed(layer.kernel_size)):
            total = d * (k - 1)
            pads += [total // 2, total - total // 2]
    else:
        pads = [p for p in reversed(layer.padding) for _ in range(2)]
        if not any(pads):
            return codes
    mode = "constant" if layer.padding_mode == "zeros" else layer.padding_mode
    return F.pad(codes, pads, mode=mode)
