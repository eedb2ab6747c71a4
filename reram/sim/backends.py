"""One arithmetic backend per device kind, chosen once: numba kernels on CPU, torch elsewhere.

The signal chain (:mod:`reram.sim.mapping`, :mod:`reram.sim.functional`) calls the same
operations whatever the device; a backend supplies them:

- :meth:`Backend.program`: weights -> per-cell levels, signed magnitude codes, effective weight;
- :meth:`Backend.stream`: signed input codes -> DAC digits per (phase, cycle), tiled over rows;
  :meth:`Backend.stream_patches` the same for the int8 path, one row tile at a time, straight
  from (padded, channels-last) conv input codes or from a Linear layer's codes;
- :meth:`Backend.currents`: the column currents of one tile (an fp32 product, or an integer
  product with int8 operands and int32 sums where that is exact);
- :meth:`Backend.adc_accumulate`: ADC conversion of every current and the shift-add;
- :meth:`Backend.scale_into_nchw`: the shift-added codes of a conv scaled into its output;
- :meth:`Backend.quantize_rows`: input quantization to integer codes in one pass (None where
  the torch steps run instead); :meth:`Backend.quantize_nhwc` the same for a conv's input,
  written padded and channels last.

:class:`NumbaBackend` runs the :mod:`reram.kernels` kernels on CPU arrays; :class:`TorchBackend`
computes the same thing with torch ops (used for CUDA and any other device). Both give the same
bits: every ADC code is an integer and every shift-add sum an integer below ``2**53``.

Imports ``reram.kernels`` and torch only; never the cost model or the applications.
"""
from __future__ import annotations

import functools
from typing import Optional

import numpy as np
import torch

from reram.kernels import (adc_accumulate, adc_accumulate_int, int_adc_fits, int_adc_multiplier,
                           program_cells, quantize_nhwc, quantize_rows, scale_into_nchw,
                           split_input_cycles, stream_patches)
from reram.kernels.programming import FAULT_SA0, FAULT_SA1
from reram.sim.products import multiply

__all__ = ["Backend", "NumbaBackend", "TorchBackend", "backend_for", "INT_PRODUCT_DTYPE",
           "exact_int_adc", "channels_last_patches", "PatchGeometry", "LINEAR_GEOMETRY"]

#: ``(out_size, kernel_size, dilation, stride)`` of the windows :meth:`Backend.stream_patches`
#: reads (padding already applied to its input).
PatchGeometry = tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int]]
#: A Linear layer's codes as a conv input: ``m x 1 x 1 x K``, one 1x1 window per row.
LINEAR_GEOMETRY: PatchGeometry = ((1, 1), (1, 1), (1, 1), (1, 1))

#: dtype of the integer product's operands (cell levels and DAC digits).
INT_PRODUCT_DTYPE = torch.int8
#: The numba ADC passes count informative conversions only up to the first input that has one
#: (the callers ask whether any was; the count's test halves the pass's speed: 1.25 -> 0.82 ms
#: on a Linear 512 one-slice read's 1M currents, AVX2 host); False: every input is counted (an
#: A/B switch for ``benchmarks/bench_forward_steps.py``; both give the same sums).
_COUNT_UNTIL_FOUND = True


class Backend:
    """The device-specific arithmetic of the signal chain (see the module docstring)."""

    name = "abstract"

    def program(self, w: torch.Tensor, inv_scale: torch.Tensor, levels: int, n_slices: int,
                slice_bits: int, r_min: float, faults: Optional[np.ndarray],
                var: Optional[np.ndarray], keep_cells: bool
                ) -> tuple[Optional[torch.Tensor], torch.Tensor, torch.Tensor]:
        """``(cells, magnitude, effective)`` of an ``out x in`` float32 weight block.

        Arguments and results as :func:`reram.kernels.program_cells` (``levels=0``:
        unquantized), as tensors on ``w``'s device.
        """
        raise NotImplementedError

    def stream(self, codes: torch.Tensor, n_cycles: int, cycle_bits: int, n_phases: int,
               tile: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """DAC digits of ``m x k`` signed codes (float32, or int8 when within +-127):
        ``T x (n_phases * n_cycles * m) x tile``.

        Layout as :func:`reram.kernels.split_input_cycles`; ``dtype`` float32 or int8 (int8
        only for integer codes whose digits fit, and without NaN).
        """
        raise NotImplementedError

    def stream_patches(self, xp: torch.Tensor, geometry: PatchGeometry, lo: int, hi: int,
                       start: int, stop: int, n_cycles: int, cycle_bits: int, n_phases: int,
                       width: int, dtype: torch.dtype = INT_PRODUCT_DTYPE) -> torch.Tensor:
        """DAC digits of rows ``start:stop`` and crossbar rows ``lo:hi`` of the im2col
        matrix of ``xp`` (``N x H x W x C`` int8 or int16 codes, padded, channels last; rows
        in ``(kh, kw, C)`` order): ``(n_phases * n_cycles * (stop - start)) x width``, as
        :func:`reram.kernels.stream_patches`, of ``dtype`` (the product's operand dtype:
        int8, float32 or bfloat16)."""
        raise NotImplementedError

    def quantize_rows(self, x: torch.Tensor, levels: int, dtype: torch.dtype
                      ) -> Optional[tuple[torch.Tensor, torch.Tensor, bool]]:
        """``(codes, scale, negative)`` of ``m x k`` float32 ``x``, one sample per row: the
        bits of :func:`reram.sim.functional.quantize_input` with the codes cast to ``dtype``
        (int8 or int16), and whether some code is negative
        (:func:`reram.kernels.quantize.quantize_rows`); None where this backend has no such
        kernel or a scale is subnormal (then the caller runs the torch steps)."""
        return None

    def quantize_nhwc(self, x: torch.Tensor, levels: int, dtype: torch.dtype,
                      padding: tuple[int, int]
                      ) -> Optional[tuple[torch.Tensor, torch.Tensor, bool]]:
        """``(codes, scale, negative)`` of ``N x C x H x W`` float32 ``x``, one sample per
        scale: :meth:`quantize_rows`'s bits, the codes zero-padded by ``padding`` and channels
        last (``N x H' x W' x C``, :func:`reram.kernels.quantize.quantize_nhwc`); None as
        :meth:`quantize_rows`."""
        return None

    def scale_into_nchw(self, acc: torch.Tensor, row_scale: torch.Tensor,
                        col_scale: torch.Tensor, out: torch.Tensor,
                        bias: Optional[torch.Tensor] = None) -> None:
        """``out[s, c, p] = float32((acc[s * P + p, c] * row_scale[s * P + p]) * col_scale[c])``
        (float64 products), into the ``N x C x P`` view ``out`` (float32; another float dtype
        rounds to it instead), plus ``bias[c]`` added in ``out``'s dtype when given (the bits
        of ``y + bias``)."""
        rows = (acc * row_scale[:, None]) * col_scale[None, :]
        n, channels, positions = out.shape
        out.copy_(rows.to(out.dtype).reshape(n, positions, channels).permute(0, 2, 1))
        if bias is not None:
            out.add_(bias.reshape(1, channels, 1))

    def currents(self, digits: torch.Tensor, cells: torch.Tensor,
                 out: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Column currents ``digits @ cells`` (:func:`reram.sim.products.multiply`): int8
        operands give exact int32 sums (the caller checks they fit), bfloat16 operands float32
        sums, float32 operands an fp32 product. ``out``: where to write them (int32 or float32,
        matching)."""
        return multiply(digits, cells, out)

    def adc_accumulate(self, currents: torch.Tensor, m: int, row_coef: np.ndarray,
                       col_coef: np.ndarray, n_out: int, step: float, code_lo: float,
                       code_hi: float, out: torch.Tensor, count: bool = True,
                       mult: Optional[np.float32] = None) -> int:
        """Add ``sum_t,r,g row_coef[r] col_coef[g] clip(round(I / step))`` to ``out``.

        ``currents`` is ``T x (R * m) x (G * n_out)`` (float32 or int32); ``out`` an
        ``m x n_out`` float64 tensor (a view is fine), updated in place. Returns a count of
        informative conversions (codes strictly inside the ADC range and not zero), zero
        exactly when none is (0 with ``count=False``, which skips counting; the numba
        backend counts only up to the first input that has one). ``mult``: for integer
        currents (int32, or the exact float32 sums of a float32 product on the integer path),
        a float32 multiplier that gives every code exactly
        (:func:`reram.kernels.adc.int_adc_multiplier`, with
        :func:`reram.kernels.adc.int_adc_fits` checked): the integer pass may use it.
        """
        raise NotImplementedError


class NumbaBackend(Backend):
    """CPU tensors: the numba kernels of :mod:`reram.kernels` on their NumPy views."""

    name = "numba"

    def program(self, w, inv_scale, levels, n_slices, slice_bits, r_min, faults, var, keep_cells):
        c, magnitude, effective = program_cells(
            w.numpy(), inv_scale.cpu().numpy(), levels, n_slices, slice_bits, faults, var,
            r_min, keep_cells=keep_cells)
        return (None if c is None else torch.from_numpy(c)), torch.from_numpy(magnitude), \
            torch.from_numpy(effective)

    def stream(self, codes, n_cycles, cycle_bits, n_phases, tile, dtype=torch.float32):
        out_dtype = np.int8 if dtype == INT_PRODUCT_DTYPE else np.float32
        return torch.from_numpy(split_input_cycles(codes.numpy(), n_cycles, cycle_bits, n_phases,
                                                   tile, dtype=out_dtype))

    def stream_patches(self, xp, geometry, lo, hi, start, stop, n_cycles, cycle_bits, n_phases,
                       width, dtype=INT_PRODUCT_DTYPE):
        out_dtype = np.int8 if dtype == INT_PRODUCT_DTYPE else np.float32
        digits = torch.from_numpy(stream_patches(xp.numpy(), *geometry, lo, hi, start, stop,
                                                 n_cycles, cycle_bits, n_phases, width,
                                                 dtype=out_dtype))
        return digits if digits.dtype == dtype else digits.to(dtype)

    def quantize_rows(self, x, levels, dtype):
        rows = quantize_rows(x.detach().numpy(), levels,
                             np.int8 if dtype == torch.int8 else np.int16)
        if rows is None:
            return None
        return torch.from_numpy(rows[0]), torch.from_numpy(rows[1]), rows[2]

    def quantize_nhwc(self, x, levels, dtype, padding):
        rows = quantize_nhwc(x.detach().numpy(), levels,
                             np.int8 if dtype == torch.int8 else np.int16, padding)
        if rows is None:
            return None
        return torch.from_numpy(rows[0]), torch.from_numpy(rows[1]), rows[2]

    def scale_into_nchw(self, acc, row_scale, col_scale, out, bias=None):
        if out.dtype != torch.float32 or (bias is not None and bias.dtype != torch.float32):
            return super().scale_into_nchw(acc, row_scale, col_scale, out, bias)
        scale_into_nchw(acc.numpy(), row_scale.numpy(), col_scale.numpy(), out.numpy(),
                        None if bias is None else bias.detach().numpy())

    def adc_accumulate(self, currents, m, row_coef, col_coef, n_out, step, code_lo, code_hi, out,
                       count=True, mult=None):
        if mult is not None and currents.dtype in (torch.int32, torch.float32):
            return adc_accumulate_int(currents.numpy(), m, row_coef, col_coef, n_out, mult,
                                      code_lo, code_hi, out.numpy(), count=count,
                                      until_found=_COUNT_UNTIL_FOUND)
        counts = np.zeros(1, np.int64)
        adc_accumulate(currents.numpy(), m, row_coef, col_coef, n_out, step, code_lo, code_hi,
                       out=out.numpy(), counts=counts, count=count,
                       until_found=_COUNT_UNTIL_FOUND)
        return int(counts[0])


class TorchBackend(Backend):
    """Any device: torch ops computing what the numba kernels compute."""

    name = "torch"

    def program(self, w, inv_scale, levels, n_slices, slice_bits, r_min, faults, var, keep_cells):
        device = w.device
        a = w.abs().double() * inv_scale[:, None]
        if levels:
            a = torch.round(a).clamp_(max=levels)
        neg = w < 0
        magnitude = torch.where(neg, -a, a).float()
        cells = torch.zeros((2, n_slices, *w.shape), dtype=torch.float32, device=device)
        cell_max = (1 << slice_bits) - 1 if levels else 1
        if levels:
            q = a.long()
            for k in range(n_slices):
                digit = ((q >> (k * slice_bits)) & cell_max).float()
                cells[0, k] = torch.where(neg, torch.zeros_like(digit), digit)
                cells[1, k] = torch.where(neg, digit, torch.zeros_like(digit))
        else:
            lvl = a.clamp(max=1.0).float()
            cells[0, 0] = torch.where(neg, torch.zeros_like(lvl), lvl)
            cells[1, 0] = torch.where(neg, lvl, torch.zeros_like(lvl))
        if faults is not None:
            ft = torch.as_tensor(np.ascontiguousarray(faults), device=device)
            cells = torch.where(ft == FAULT_SA0, torch.zeros_like(cells), cells)
            cells = torch.where(ft == FAULT_SA1, torch.full_like(cells, float(cell_max)), cells)
        if var is not None:
            vt = torch.as_tensor(np.ascontiguousarray(var), device=device)
            cells = (r_min + cells) * vt - r_min
        shifts = torch.tensor([float(1 << (k * slice_bits)) if levels else 1.0
                               for k in range(n_slices)], dtype=torch.float64, device=device)
        net = torch.einsum("k,koi->oi", shifts, (cells[0] - cells[1]).double())
        unit = torch.where(inv_scale > 0, 1.0 / torch.where(inv_scale > 0, inv_scale,
                                                            torch.ones_like(inv_scale)),
                           torch.zeros_like(inv_scale))
        effective = (net * unit[:, None]).float()
        return (cells if keep_cells else None), magnitude, effective

    def stream(self, codes, n_cycles, cycle_bits, n_phases, tile, dtype=torch.float32):
        codes = codes.float()
        m, k = codes.shape
        n_tiles = max(1, -(-k // tile))
        mag = codes.abs()
        phases = [torch.where(codes >= 0, mag, torch.zeros_like(mag))]
        if n_phases == 2:
            phases.append(torch.where(codes < 0, mag, torch.zeros_like(mag)))
        nan = torch.isnan(codes)
        rows = []
        for p, part in enumerate(phases):
            rem = part
            for _ in range(n_cycles):
                if cycle_bits == 0:
                    digit, rem = rem, rem
                else:
                    higher = torch.floor(rem / (1 << cycle_bits))
                    digit, rem = rem - higher * (1 << cycle_bits), higher
                if p == 0:
                    digit = torch.where(nan, codes, digit)
                rows.append(digit)
        stacked = torch.cat(rows, dim=0)                        # (R*m, k)
        padded = stacked.new_zeros((stacked.shape[0], n_tiles * tile))
        padded[:, :k] = stacked
        out = padded.reshape(-1, n_tiles, tile).permute(1, 0, 2).contiguous()
        return out if dtype == torch.float32 else out.to(dtype)

    def stream_patches(self, xp, geometry, lo, hi, start, stop, n_cycles, cycle_bits, n_phases,
                       width, dtype=INT_PRODUCT_DTYPE):
        (h_out, w_out), kernel_size, dilation, stride = geometry
        positions = h_out * w_out
        first, last = start // positions, -(-stop // positions)  # the samples holding the rows
        p = channels_last_patches(xp[first:last], kernel_size, dilation, stride)
        rows = p[start - first * positions:stop - first * positions, lo:hi]
        return self.stream(rows, n_cycles, cycle_bits, n_phases, width, INT_PRODUCT_DTYPE)[0].to(dtype)

    def currents(self, digits, cells, out=None):
        if digits.dtype == INT_PRODUCT_DTYPE and digits.device.type == "cuda":
            # torch._int_mm on CUDA wants m > 16 and k, n multiples of 8: pad with zeros
            result = _padded_int_mm(digits, cells)
            return result if out is None else out.copy_(result)
        return super().currents(digits, cells, out)

    def adc_accumulate(self, currents, m, row_coef, col_coef, n_out, step, code_lo, code_hi, out,
                       count=True, mult=None):
        # the float64 operations of the numba kernel (the codes a valid ``mult`` gives too):
        # round(I * (1/step)), clip, shift-add
        codes = torch.round(currents.double() * (1.0 / step))
        informative = (int(((codes > code_lo) & (codes < code_hi) & (codes != 0)).sum())
                       if count else 0)
        codes = codes.clamp_(code_lo, code_hi)
        n_tiles = currents.shape[0]
        codes = codes.reshape(n_tiles, len(row_coef), m, len(col_coef), n_out)
        rc = torch.as_tensor(row_coef, dtype=torch.float64, device=currents.device)
        cc = torch.as_tensor(col_coef, dtype=torch.float64, device=currents.device)
        out += torch.einsum("trmgo,r,g->mo", codes, rc, cc)
        return informative


def _padded_int_mm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    m, k = a.shape
    n = b.shape[1]
    mp, kp, np_ = max(m, 17), -(-k // 8) * 8, -(-n // 8) * 8
    if (mp, kp, np_) == (m, k, n):
        return torch._int_mm(a, b)
    ap = a.new_zeros((mp, kp))
    ap[:m, :k] = a
    bp = b.new_zeros((kp, np_))
    bp[:k, :n] = b
    return torch._int_mm(ap, bp)[:m, :n]


def channels_last_patches(xp: torch.Tensor, kernel_size, dilation, stride) -> torch.Tensor:
    """im2col rows ``(N * H_out * W_out) x (kh * kw * C)`` of padded channels-last ``xp``
    (``N x H x W x C``), columns in ``(kh, kw, C)`` order (one copy; the channel innermost
    makes it several times faster than from NCHW)."""
    (kh, kw), (dh, dw), (sh, sw) = kernel_size, dilation, stride
    p = xp.unfold(1, dh * (kh - 1) + 1, sh).unfold(2, dw * (kw - 1) + 1, sw)
    if dh > 1 or dw > 1:
        p = p[..., ::dh, ::dw]
    n, h_out, w_out, c = p.shape[:4]
    return p.permute(0, 1, 2, 4, 5, 3).reshape(n * h_out * w_out, c * kh * kw)


def exact_int_adc(row_coef: np.ndarray, col_coef: np.ndarray, step: float, code_lo: float,
                  code_hi: float, n_tiles: int, max_current: int) -> Optional[np.float32]:
    """The float32 multiplier with which the integer ADC pass gives the float64 pass's bits
    for int32 currents ``|I| <= max_current`` (checked over every such current), or None
    where it cannot (then the float64 pass runs). Cached: a layer pays the check once."""
    return _exact_int_adc(tuple(np.asarray(row_coef, np.float64).tolist()),
                          tuple(np.asarray(col_coef, np.float64).tolist()), float(step),
                          float(code_lo), float(code_hi), int(n_tiles), int(max_current))


@functools.lru_cache(maxsize=1024)
def _exact_int_adc(row_coef: tuple, col_coef: tuple, step: float, code_lo: float,
                   code_hi: float, n_tiles: int, max_current: int) -> Optional[np.float32]:
    if not int_adc_fits(np.array(row_coef), np.array(col_coef), code_lo, code_hi, n_tiles):
        return None
    return int_adc_multiplier(step, code_lo, code_hi, max_current)


_BACKENDS: dict[str, Backend] = {"numba": NumbaBackend(), "torch": TorchBackend()}


def backend_for(device: torch.device | str) -> Backend:
    """The backend for tensors on ``device``: numba on CPU, torch everywhere else."""
    kind = torch.device(device).type
    return _BACKENDS["numba" if kind == "cpu" else "torch"]
