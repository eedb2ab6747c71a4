"""The crossbar forward pass as functions with straight-through gradients.

Signal chain steps 2-5 of DESIGN.md: input quantization (per-sample scale, sign in two phases),
bit-serial DAC cycles, the analog product per row tile, the per-column ADC and the digital
shift-add. The arithmetic is the device's backend (:func:`reram.sim.backends.backend_for`:
numba kernels on CPU, torch elsewhere), chosen once per call. Gradients are straight-through: the input gradient is
``grad_y @ effective_weight`` and the weight gradient ``grad_y^T @ quantized_input``.

Imports ``reram.config``, ``reram.sim.mapping`` and ``reram.sim.backends`` only.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

from reram.config import CrossbarConfig
from reram.sim.backends import backend_for
from reram.sim.mapping import (AdcParams, ProgrammedWeights, adc_params, column_coefficients,
                               row_coefficients)

__all__ = ["quantize_input", "crossbar_linear", "crossbar_conv2d", "simulate_tiles"]

#: Bytes of column currents held at once by the tiled simulation (chunked over inputs).
CURRENT_BUFFER_BYTES = 8 << 20
#: Bytes of im2col rows (and of their accumulators) held at once by the tiled convolution.
CONV_UNFOLD_BYTES = 8 << 20

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
    codes = x * (levels / view)
    if config.input_levels is not None:
        if torch.is_grad_enabled() and x.requires_grad:
            codes = codes + (torch.round(codes).clamp(-levels, levels) - codes).detach()
        else:  # no gradient needed: quantize in place, one copy of the input
            codes.round_().clamp_(-levels, levels)
    return codes, scale


def simulate_tiles(codes: torch.Tensor, program: ProgrammedWeights, config: CrossbarConfig,
                   adc: AdcParams, groups: int = 1) -> torch.Tensor:
    """Run inputs through the tiled crossbars with per-tile ADCs and shift-add the codes.

    Loops over conv groups and row tiles; for each tile it takes the tile's cell levels
    (:meth:`ProgrammedWeights.tile_cells`), and over chunks of inputs it streams the DAC
    cycles (:func:`reram.kernels.split_input_cycles`), computes the column currents with one
    matrix product (BLAS) and digitizes and accumulates them
    (:func:`reram.kernels.adc_accumulate`). At most :data:`CURRENT_BUFFER_BYTES` of currents
    exist at a time.

    Args:
        codes: an ``m x (groups * K)`` tensor of signed input codes.
        program: the programmed weights (``out x K``).
        config: the crossbar config.
        adc: the ADC parameters for one tile.
        groups: conv groups (group ``g`` sees input columns ``g*K:(g+1)*K``).

    Returns:
        An ``m x out`` float64 tensor in units of (input code x weight level): multiply by
        the ADC step and the input and weight scales to get the layer output.
    """
    m = codes.shape[0]
    out_features, k = program.weight2d.shape
    per_group = out_features // groups
    acc = torch.zeros((m, out_features), dtype=torch.float64, device=codes.device)
    if m == 0 or out_features == 0:
        return acc
    codes = codes.detach().float()
    n_phases = 2 if bool((codes < 0).any()) else 1
    row_coef = row_coefficients(config, n_phases)
    col_coef = column_coefficients(config)
    n_cycles, cycle_bits = config.n_cycles, config.cycle_bits or 0
    size = config.tile_size or max(k, 1)
    cols = per_group * len(col_coef)
    chunk = max(1, CURRENT_BUFFER_BYTES // (len(row_coef) * cols * 4))
    backend = backend_for(codes.device)
    for g in range(groups):
        for t in range(program.n_tiles()):
            cells = program.tile_cells(g, groups, t).to(codes.device)
            lo, hi = g * k + t * size, g * k + min((t + 1) * size, k)
            for start in range(0, m, chunk):
                stop = min(m, start + chunk)
                part = codes[start:stop, lo:hi]
                if n_cycles == 1 and n_phases == 1:  # the codes are the DAC inputs
                    streamed = part
                else:
                    streamed = backend.stream(part, n_cycles, cycle_bits, n_phases, hi - lo)[0]
                currents = backend.currents(streamed, cells)
                backend.adc_accumulate(currents[None], stop - start, row_coef, col_coef,
                                       per_group, adc.step, adc.code_lo, adc.code_hi,
                                       out=acc[start:stop, g * per_group:(g + 1) * per_group])
    return acc


def _scaled_output(acc: torch.Tensor, adc: AdcParams, unit_in: torch.Tensor,
                   weight_unit: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    acc.mul_((adc.step * unit_in.double())[:, None]).mul_(weight_unit.double()[None, :])
    return acc.to(dtype)


class _TiledLinear(torch.autograd.Function):
    """``y = ADC-simulated(codes @ W^T) * scales`` with straight-through gradients."""

    @staticmethod
    def forward(ctx, codes, weight, unit_in, program, config, adc):
        acc = simulate_tiles(codes, program, config, adc)
        weight_unit = program.scale.to(codes.device) / float(config.weight_levels or 1)
        if any(ctx.needs_input_grad):  # grad mode is always off inside forward
            ctx.program = program
            ctx.save_for_backward(codes, unit_in)
        return _scaled_output(acc, adc, unit_in, weight_unit, codes.dtype)

    @staticmethod
    def backward(ctx, grad_y):
        codes, unit_in = ctx.saved_tensors
        effective = ctx.program.effective_weight().to(grad_y.device, grad_y.dtype)
        grad_codes = grad_weight = None
        if ctx.needs_input_grad[0]:
            grad_codes = (grad_y @ effective) * unit_in[:, None].to(grad_y.dtype)
        if ctx.needs_input_grad[1]:
            grad_weight = grad_y.t() @ (codes * unit_in[:, None]).to(grad_y.dtype)
        return grad_codes, grad_weight, None, None, None, None


class _TiledConv2d(torch.autograd.Function):
    """A conv whose im2col rows run through the simulated crossbars (straight-through grads).

    ``codes`` are already padded; the forward pass unfolds chunks of samples so that the
    im2col matrix of the whole batch never exists at once.
    """

    @staticmethod
    def forward(ctx, codes, weight, unit_in, geometry, program, config, adc):
        kernel_size, dilation, stride, groups, padding = geometry
        n = codes.shape[0]
        h_out = (codes.shape[2] + 2 * padding[0] - dilation[0] * (kernel_size[0] - 1) - 1) // stride[0] + 1
        w_out = (codes.shape[3] + 2 * padding[1] - dilation[1] * (kernel_size[1] - 1) - 1) // stride[1] + 1
        n_pos = h_out * w_out
        out_ch = weight.shape[0]
        y = codes.new_empty((n, out_ch, h_out, w_out))
        weight_unit = program.scale.to(codes.device) / float(config.weight_levels or 1)
        # chunk samples so that neither the im2col rows nor the float64 accumulator get large
        per_sample = max(1, codes[0].numel() * kernel_size[0] * kernel_size[1] * 4,
                         n_pos * out_ch * 8)
        chunk = max(1, CONV_UNFOLD_BYTES // per_sample)
        for start in range(0, n, chunk):
            part = codes[start:start + chunk]
            rows = _patches(part, kernel_size, dilation, padding, stride,
                            channels_last=program.row_order is not None)
            acc = simulate_tiles(rows, program, config, adc, groups=groups)
            unit_rows = unit_in[start:start + part.shape[0]].repeat_interleave(n_pos)
            out = _scaled_output(acc, adc, unit_rows, weight_unit, codes.dtype)
            y[start:start + part.shape[0]] = out.reshape(part.shape[0], h_out, w_out, out_ch).permute(0, 3, 1, 2)
        if any(ctx.needs_input_grad):  # grad mode is always off inside forward
            ctx.program, ctx.geometry = program, geometry
            ctx.save_for_backward(codes, unit_in)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        codes, unit_in = ctx.saved_tensors
        kernel_size, dilation, stride, groups, padding = ctx.geometry
        effective = ctx.program.effective_weight().to(grad_y.device, grad_y.dtype)
        effective = effective.reshape(grad_y.shape[1], -1, *kernel_size)
        unit = unit_in.to(grad_y.dtype)[:, None, None, None]
        grad_codes = grad_weight = None
        if ctx.needs_input_grad[0]:
            grad_codes = torch.nn.grad.conv2d_input(codes.shape, effective, grad_y, stride=stride,
                                                    padding=padding, dilation=dilation,
                                                    groups=groups) * unit
        if ctx.needs_input_grad[1]:
            grad_weight = torch.nn.grad.conv2d_weight(codes * unit, effective.shape, grad_y,
                                                      stride=stride, padding=padding,
                                                      dilation=dilation, groups=groups)
        return grad_codes, grad_weight, None, None, None, None, None


def _patches(x: torch.Tensor, kernel_size, dilation, padding, stride,
             channels_last: bool = False) -> torch.Tensor:
    """im2col rows ``(n * H_out * W_out) x K`` of ``x`` (one copy).

    Columns in ``(C, kh, kw)`` order, or ``(kh, kw, C)`` with ``channels_last`` (read from a
    channels-last view, with the channel innermost: several times faster to copy).
    """
    if padding[0] or padding[1]:
        x = F.pad(x, (padding[1], padding[1], padding[0], padding[0]))
    (kh, kw), (dh, dw), (sh, sw) = kernel_size, dilation, stride
    if channels_last:
        p = x.permute(0, 2, 3, 1).unfold(1, dh * (kh - 1) + 1, sh).unfold(2, dw * (kw - 1) + 1, sw)
        if dh > 1 or dw > 1:
            p = p[..., ::dh, ::dw]
        n, h_out, w_out, c = p.shape[:4]
        return p.permute(0, 1, 2, 4, 5, 3).reshape(n * h_out * w_out, c * kh * kw)
    p = x.unfold(2, dh * (kh - 1) + 1, sh).unfold(3, dw * (kw - 1) + 1, sw)
    if dh > 1 or dw > 1:
        p = p[..., ::dh, ::dw]
    n, c, h_out, w_out = p.shape[:4]
    return p.permute(0, 2, 3, 1, 4, 5).reshape(n * h_out * w_out, c * kh * kw)


#: ADC parameters that convert every current exactly (an ideal ADC forced through the tiles).
_EXACT_ADC = AdcParams(step=1e-9, code_lo=-1e30, code_hi=1e30, full_scale=1e30, lossless=True)


def _needs_tiles(config: CrossbarConfig, k: int, force: bool = False) -> Optional[AdcParams]:
    """The ADC parameters when the tiled simulation changes the result, else None.

    With ``force=True`` every non-ideal config runs through the tiles, even where the ADC is
    provably lossless (how the tests check that the tiles equal the plain product).
    """
    rows = config.tile_size or max(k, 1)
    adc = adc_params(config, rows)
    if force and not config.is_ideal:
        return _EXACT_ADC if adc is None else adc
    return None if adc is None or adc.lossless else adc


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
    codes, scale = quantize_input(x, config, sample_dims=1)
    unit_in = scale / float(config.input_levels or 1)
    adc = _needs_tiles(config, weight.shape[1], force_tiles)
    if adc is None:
        x_q = x if config.input_bits is None else codes * unit_in[..., None]
        return F.linear(x_q, _straight_through(weight, program.effective_weight()), bias)
    lead = x.shape[:-1]
    y = _TiledLinear.apply(codes.reshape(-1, x.shape[-1]), weight, unit_in.reshape(-1),
                           program, config, adc)
    y = y.reshape(*lead, weight.shape[0])
    return y if bias is None else y + bias


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
    weight = layer.weight
    codes, scale = quantize_input(x, config, sample_dims=3)
    unit_in = scale / float(config.input_levels or 1)
    k = weight[0].numel()
    adc = _needs_tiles(config, k, force_tiles)
    if adc is None:
        x_q = x if config.input_bits is None else codes * unit_in[:, None, None, None]
        return layer._conv_forward(x_q, _straight_through(weight, program.effective_weight()),
                                   layer.bias)
    padding = layer.padding
    if layer.padding_mode != "zeros" or isinstance(padding, str):
        codes, padding = _explicit_padding(codes, layer), (0, 0)
    geometry = (layer.kernel_size, layer.dilation, layer.stride, layer.groups, tuple(padding))
    y = _TiledConv2d.apply(codes, weight, unit_in, geometry, program, config, adc)
    if layer.bias is not None:
        y = y + layer.bias[None, :, None, None]
    return y


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
