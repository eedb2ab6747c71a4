"""Weight mapping: how a weight matrix is programmed onto a differential pair of crossbars.

Holds the programming step of the signal chain (DESIGN.md, step 1): the weight scale, the
hardware weight update (snapping onto the conductance grid), the per-chip defect draw, the
per-cell levels (numba on CPU, a torch twin for CUDA tensors) and the effective weight, plus the
tiled cell layout and ADC parameters the forward pass uses. Imports ``reram.config`` and
``reram.kernels`` only.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from reram.config import CrossbarConfig
from reram.kernels import program_cells

__all__ = [
    "ProgrammedWeights", "weight_scale", "snap_to_grid", "draw_defects", "program_weights",
    "AdcParams", "adc_params",
]


def weight_scale(w2d: torch.Tensor, config: CrossbarConfig) -> torch.Tensor:
    """``s_w = max|W|`` per layer or per output row, as an ``out``-dim float32 tensor."""
    w = w2d.detach().abs()
    if config.weight_scaling == "channel":
        s = w.amax(dim=1) if w.shape[1] else w.new_zeros(w.shape[0])
    else:
        s = (w.amax() if w.numel() else w.new_zeros(())).expand(w.shape[0])
    return s.float().contiguous()


def snap_to_grid(w2d: torch.Tensor, scale: torch.Tensor, config: CrossbarConfig,
                 generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Round weights onto the conductance grid ``s_w / L * {-L..L}`` (clipping at ``+-s_w``).

    ``update="nearest"`` rounds to the nearest level, ``"stochastic"`` rounds up with
    probability equal to the fractional part (``generator`` draws it). Rows with zero scale
    are left unchanged. Returns a new tensor shaped like ``w2d``.
    """
    levels = config.weight_levels
    if levels is None:
        return w2d.detach().clone()
    s = scale.to(w2d.device, torch.float32)[:, None]
    safe = torch.where(s > 0, s, torch.ones_like(s))
    q = w2d.detach().float() / safe * levels
    if config.update == "stochastic":
        noise = torch.rand(q.shape, generator=generator, device="cpu" if generator is None
                           else generator.device).to(q.device)
        q = torch.floor(q + noise)
    else:
        q = torch.round(q)
    q = q.clamp_(-levels, levels)
    snapped = q * safe / levels
    return torch.where(s > 0, snapped, w2d.detach().float()).to(w2d.dtype)


def draw_defects(config: CrossbarConfig, shape: tuple[int, int], seed: int
                 ) -> tuple[Optional[np.ndarray], Optional[np.ndarray]]:
    """Draw the fixed defect map of one layer's cells (a fixed chip) from ``seed``.

    Returns:
        ``(faults, var_factor)``: a ``2 x n_slices x out x in`` int8 map (0 ok, 1 stuck at
        g_min, 2 stuck at g_max) or None without stuck-at faults, and a float32 array of
        multiplicative conductance factors ``exp(variation * N(0,1))`` or None without variation.
    """
    cells_shape = (2, config.n_slices, *shape)
    rng = np.random.default_rng(seed)
    faults = var = None
    if config.saf0_rate > 0 or config.saf1_rate > 0:
        u = rng.random(cells_shape, dtype=np.float32)
        faults = np.zeros(cells_shape, np.int8)
        faults[u < config.saf0_rate] = 1
        faults[(u >= config.saf0_rate) & (u < config.saf0_rate + config.saf1_rate)] = 2
    if config.variation > 0:
        var = np.exp(config.variation * rng.standard_normal(cells_shape, dtype=np.float32))
    return faults, var


def _cell_max(config: CrossbarConfig) -> int:
    return 1 if config.slice_bits is None else (1 << config.slice_bits) - 1


def _r_min(config: CrossbarConfig) -> float:
    """``g_min`` expressed in conductance steps of one cell."""
    return config.g_min * _cell_max(config) / (config.g_max - config.g_min)


def _program_cells_torch(w2d: torch.Tensor, inv_scale: torch.Tensor, config: CrossbarConfig,
                         faults: Optional[torch.Tensor], var: Optional[torch.Tensor]
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """Torch twin of :func:`reram.kernels.program_cells` (used for CUDA tensors)."""
    levels = config.weight_levels
    a = w2d.abs().double() * inv_scale[:, None]
    if levels is not None:
        a = torch.round(a).clamp_(max=levels)
    neg = w2d < 0
    magnitude = torch.where(neg, -a, a).float()
    n_slices = config.n_slices
    cells = torch.zeros((2, n_slices, *w2d.shape), dtype=torch.float32, device=w2d.device)
    if levels is not None:
        q = a.long()
        cell_max = _cell_max(config)
        for k in range(n_slices):
            digit = ((q >> (k * config.slice_bits)) & cell_max).float()
            cells[0, k] = torch.where(neg, torch.zeros_like(digit), digit)
            cells[1, k] = torch.where(neg, digit, torch.zeros_like(digit))
    else:
        lvl = a.clamp(max=1.0).float()
        cells[0, 0] = torch.where(neg, torch.zeros_like(lvl), lvl)
        cells[1, 0] = torch.where(neg, lvl, torch.zeros_like(lvl))
    if faults is not None:
        cells = torch.where(faults == 1, torch.zeros_like(cells), cells)
        cells = torch.where(faults == 2, torch.full_like(cells, float(_cell_max(config))), cells)
    if var is not None:
        r = _r_min(config)
        cells = (r + cells) * var - r
    return cells, magnitude


@dataclass
class AdcParams:
    """ADC of one column conversion: ``code = clip(round(I / step), code_lo, code_hi)``.

    Currents ``I`` are in units of one input code times one conductance step. ``lossless`` is
    True when every possible current converts exactly (then the tiled simulation equals a
    plain product and may be skipped).
    """

    step: float
    code_lo: float
    code_hi: float
    full_scale: float
    lossless: bool


def adc_params(config: CrossbarConfig, rows: int) -> Optional[AdcParams]:
    """ADC step and code range for a ``rows``-row tile; None for an ideal ADC.

    The full scale is ``adc_range * rows * x_max * cell_max`` (``x_max`` the largest digit one
    DAC cycle applies, ``cell_max`` the top cell level). With ``differential="digital"`` the
    ADC is unipolar, codes ``0 .. 2**adc_bits - 1``; with ``"analog"`` it is bipolar, codes
    ``-2**(adc_bits-1) .. 2**(adc_bits-1) - 1``. When the currents are integers (quantized
    weights and inputs, no variation) and the ADC has more codes than needed, the step is
    ``1/n`` so conversion is exact.
    """
    if config.adc_bits is None:
        return None
    x_max = 1 if config.cycle_bits is None else (1 << config.cycle_bits) - 1
    largest = rows * x_max * _cell_max(config)
    full = config.adc_range * largest
    if config.differential == "digital":
        lo, hi = 0.0, float((1 << config.adc_bits) - 1)
        step = full / hi
    else:
        lo, hi = -float(1 << (config.adc_bits - 1)), float((1 << (config.adc_bits - 1)) - 1)
        step = full / (-lo)
    integer = (config.weight_bits is not None and config.input_bits is not None
               and config.variation == 0)
    if integer and step < 1:
        step = 1.0 / math.floor(1.0 / step)
    lossless = integer and step <= 1 and hi * step >= largest
    return AdcParams(step=step, code_lo=lo, code_hi=hi, full_scale=full, lossless=lossless)


@dataclass
class ProgrammedWeights:
    """The state of a programmed crossbar pair for one weight matrix (``out x K``).

    Attributes:
        scale: an ``out``-dim float32 tensor, the weight scale ``s_w`` of each output row.
        cells: a ``2 x n_slices x out x K`` float32 tensor of effective cell levels (None once
            laid out by :meth:`tiled`, or when not kept).
        effective: an ``out x K`` float32 tensor, the weight the crossbar realizes.
        snapped: an ``out x K`` float32 tensor, the weights rounded onto the conductance grid
            (before defects): what ``update="nearest"`` stores back into ``weight``.
    """

    scale: torch.Tensor
    cells: Optional[torch.Tensor]
    effective: torch.Tensor
    snapped: Optional[torch.Tensor] = None
    _tiled: Optional[list] = None

    def tiled(self, config: CrossbarConfig, groups: int = 1) -> list[torch.Tensor]:
        """Cell levels laid out for the batched tile product, one tensor per conv group.

        Each is ``T x tile x (G * out_g)``: rows tiled (zero-padded to whole tiles), columns
        grouped by (array, slice) for ``differential="digital"`` (``G = 2 * n_slices``) or by
        slice with ``G+ - G-`` already subtracted for ``"analog"`` (``G = n_slices``).
        """
        if self._tiled is None:
            if self.cells is None:
                raise RuntimeError("cell levels were not kept at programming time")
            out_features, k = self.effective.shape
            tile = config.tile_size or max(k, 1)
            n_tiles = max(1, -(-k // tile))
            per_group = out_features // groups
            result = []
            for g in range(groups):
                c = self.cells[:, :, g * per_group:(g + 1) * per_group]
                if config.differential == "analog":
                    c = (c[0] - c[1])[None]
                c = c.reshape(-1, per_group, k)             # (G, out_g, K)
                c = c.permute(2, 0, 1).reshape(k, -1)       # (K, G * out_g)
                padded = c.new_zeros((n_tiles * tile, c.shape[1]))
                padded[:k] = c
                result.append(padded.reshape(n_tiles, tile, -1).contiguous())
            self._tiled = result
            self.cells = None  # the tiled copy replaces it
        return self._tiled


def column_coefficients(config: CrossbarConfig) -> np.ndarray:
    """Shift-add weight of each column group (array, slice), matching :meth:`tiled`."""
    bits = config.slice_bits or 0
    shifts = np.array([float(1 << (k * bits)) for k in range(config.n_slices)])
    if config.differential == "analog":
        return shifts
    return np.concatenate([shifts, -shifts])


def program_weights(w2d: torch.Tensor, scale: torch.Tensor, config: CrossbarConfig,
                    faults: Optional[np.ndarray] = None, var: Optional[np.ndarray] = None,
                    keep_cells: bool = True) -> ProgrammedWeights:
    """Program an ``out x K`` weight matrix with per-row scale ``scale``.

    CPU tensors go through the numba kernel, other devices through its torch twin; both give
    the same levels. ``keep_cells=False`` drops the per-cell levels once the effective weight
    is known (the forward pass then cannot take the tiled ADC path).

    Raises:
        ValueError: if the weights contain NaN or infinity.
    """
    w = w2d.detach().float()
    if not bool(torch.isfinite(w).all()):
        raise ValueError("weight contains NaN or infinity; a crossbar cannot be programmed with it")
    levels = config.weight_levels
    norm = float(levels) if levels is not None else 1.0
    s = scale.to(w.device, torch.float64)
    inv = torch.where(s > 0, norm / torch.where(s > 0, s, torch.ones_like(s)), torch.zeros_like(s))
    if w.device.type == "cpu":
        cells_np, magnitude_np, effective_np = program_cells(
            w.numpy(), inv.numpy(), levels or 0, config.n_slices, config.slice_bits or 0,
            faults, var, _r_min(config), keep_cells=keep_cells)
        cells = None if cells_np is None else torch.from_numpy(cells_np)
        magnitude, effective = torch.from_numpy(magnitude_np), torch.from_numpy(effective_np)
    else:
        ft = None if faults is None else torch.as_tensor(faults, device=w.device)
        vt = None if var is None else torch.as_tensor(var, device=w.device)
        cells, magnitude = _program_cells_torch(w, inv, config, ft, vt)
        shifts = torch.tensor(column_coefficients(config.replace(differential="analog")),
                              dtype=torch.float64, device=w.device)
        net = torch.einsum("k,koi->oi", shifts, (cells[0] - cells[1]).double())
        effective = (net * (s / norm)[:, None]).float()
    if levels is None and faults is None and var is None:
        effective = w.clone()  # unquantized, defect-free cells realize the weight exactly
    snapped = magnitude * (s / norm).float()[:, None] if levels is not None else w
    return ProgrammedWeights(scale=scale.float(), cells=cells if keep_cells else None,
                             effective=effective, snapped=snapped)
