"""Weight mapping: how a weight matrix is programmed onto a differential pair of crossbars.

Holds the programming step of the signal chain (DESIGN.md, step 1): the weight scale, the
hardware weight update (snapping onto the conductance grid), the per-chip defect draw, the
per-cell levels and the effective weight (computed by the device's backend,
:mod:`reram.sim.backends`), plus the tiled cell layout, the shift-add coefficients and the ADC
parameters the forward pass uses. Imports ``reram.config``, ``reram.sim.backends`` and
``reram.kernels`` only.
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch

from reram.config import CrossbarConfig
from reram.kernels.programming import FAULT_SA0, FAULT_SA1
from reram.sim.backends import backend_for

__all__ = [
    "ProgrammedWeights", "weight_scale", "snap_to_grid", "draw_defects", "program_weights",
    "AdcParams", "adc_params", "lay_out_cells", "shift_coefficients", "column_coefficients",
    "row_coefficients",
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
        faults[u < config.saf0_rate] = FAULT_SA0
        faults[(u >= config.saf0_rate) & (u < config.saf0_rate + config.saf1_rate)] = FAULT_SA1
    if config.variation > 0:
        var = np.exp(config.variation * rng.standard_normal(cells_shape, dtype=np.float32))
    return faults, var


def _cell_max(config: CrossbarConfig) -> int:
    return 1 if config.slice_bits is None else (1 << config.slice_bits) - 1


def _r_min(config: CrossbarConfig) -> float:
    """``g_min`` expressed in conductance steps of one cell."""
    return config.g_min * _cell_max(config) / (config.g_max - config.g_min)


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
               and config.variation == 0 and config.read_noise == 0)
    if integer and step < 1:
        step = 1.0 / math.floor(1.0 / step)
    lossless = integer and step <= 1 and hi * step >= largest
    return AdcParams(step=step, code_lo=lo, code_hi=hi, full_scale=full, lossless=lossless)


#: A layer's tile cell levels are kept between forward passes when they take at most this
#: many bytes; larger layers regenerate each tile from the weights when it is needed (cheap next
#: to the tile products), so a converted model needs little more memory than the float one.
TILE_CACHE_BYTES = 8 << 20


@dataclass
class ProgrammedWeights:
    """The state of a programmed crossbar pair for one weight matrix (``out x K``).

    Attributes:
        weight2d: the ``out x K`` weights as programmed (a view of the layer's weight; on the
            conductance grid for ``update="nearest"``/``"stochastic"``).
        scale: an ``out``-dim float32 tensor, the weight scale ``s_w`` of each output row.
        config: the crossbar config.
        faults: the layer's stuck-at fault map or None (see :func:`draw_defects`).
        var: the layer's variation factors or None.
        effective: the ``out x K`` float32 weight the crossbar realizes, or None until
            :meth:`effective_weight` computes it.
        snapped: the weights rounded onto the conductance grid (before defects): what
            ``update="nearest"`` stores back into ``weight``; None once consumed.
        row_order: which weight column drives each crossbar row (a permutation of ``K``), or
            None for the natural order. Conv layers use ``(kh, kw, C)`` order, so that one tile
            holds consecutive channels of one kernel position (and im2col rows can be cut from
            a channels-last input without a gather).
        reads: reads with read noise so far; the noise of read ``i`` is drawn from the chip
            seed, a digest of the programmed weights and ``i`` (one seed, one sequence).
    """

    weight2d: torch.Tensor
    scale: torch.Tensor
    config: CrossbarConfig
    faults: Optional[np.ndarray] = None
    var: Optional[np.ndarray] = None
    effective: Optional[torch.Tensor] = None
    snapped: Optional[torch.Tensor] = None
    row_order: Optional[torch.Tensor] = None
    _tile_cache: dict = field(default_factory=dict)
    reads: int = 0

    @property
    def inv_scale(self) -> torch.Tensor:
        """``L / s_w`` per output row (0 where the scale is 0), float64."""
        s = self.scale.to(self.weight2d.device, torch.float64)
        norm = float(self.config.weight_levels or 1)
        return torch.where(s > 0, norm / torch.where(s > 0, s, torch.ones_like(s)), torch.zeros_like(s))

    def effective_weight(self) -> torch.Tensor:
        """The weight the crossbar realizes (computed once, then cached)."""
        if self.effective is None:
            cfg = self.config
            if cfg.weight_levels is None and self.faults is None and self.var is None:
                self.effective = self.weight2d.clone()  # realized exactly
            else:
                self.effective = _run_programming(self.weight2d, self.inv_scale, cfg,
                                                  self.faults, self.var, cells=False)[2]
        return self.effective

    def n_tiles(self) -> int:
        """Row tiles of the input dimension ``K``."""
        k = self.weight2d.shape[1]
        return max(1, -(-k // (self.config.tile_size or max(k, 1))))

    def tile_levels(self, group: int, groups: int, tile: int) -> torch.Tensor:
        """Cell levels of one row tile of one conv group, as programmed (not cached).

        Returns:
            A ``2 x n_slices x out_g x k_t`` float32 tensor (see
            :func:`reram.kernels.program_cells`; ``k_t`` the tile's rows, in ``row_order``).
        """
        cfg = self.config
        out_features, k = self.weight2d.shape
        per_group = out_features // groups
        size = cfg.tile_size or max(k, 1)
        rows = slice(group * per_group, (group + 1) * per_group)
        cols = slice(tile * size, min((tile + 1) * size, k))
        w = self.weight2d[rows]
        faults = None if self.faults is None else self.faults[:, :, rows]
        var = None if self.var is None else self.var[:, :, rows]
        if self.row_order is None:
            w = w[:, cols]
            faults = None if faults is None else faults[..., cols]
            var = None if var is None else var[..., cols]
        else:  # index_select and np.take: far faster than advanced indexing here
            order = self.row_order[cols]
            w = w.index_select(1, order.to(w.device))
            order = order.cpu().numpy()
            faults = None if faults is None else np.take(faults, order, axis=-1)
            var = None if var is None else np.take(var, order, axis=-1)
        return _run_programming(w, self.inv_scale[rows], cfg, faults, var, cells=True)[0]

    def tile_cells(self, group: int, groups: int, tile: int, dtype: torch.dtype = torch.float32
                   ) -> torch.Tensor:
        """Cell levels of one row tile of one conv group, laid out for the tile product.

        Kept between forward passes (one copy per ``dtype``) when the layer's cells take at
        most :data:`TILE_CACHE_BYTES`, else generated per call.

        Args:
            group, groups, tile: which conv group (of how many) and which row tile.
            dtype: float32, or int8 for the integer product (exact only when every level is an
                integer that fits: see :func:`reram.sim.functional.product_path`).

        Returns:
            A ``k_t x (G * out_g)`` tensor (``k_t`` the tile's rows): see :func:`lay_out_cells`.
        """
        key = (group, groups, tile, dtype)
        if key in self._tile_cache:
            return self._tile_cache[key]
        cfg = self.config
        laid = lay_out_cells(self.tile_levels(group, groups, tile), cfg).to(dtype).contiguous()
        per_layer = self.weight2d.numel() * laid.element_size() * len(column_coefficients(cfg))
        if per_layer <= TILE_CACHE_BYTES:
            self._tile_cache[key] = laid
        return laid

    def next_read_generator(self) -> torch.Generator:
        """A CPU generator for the read noise of the next read (see ``reads``)."""
        self.reads += 1
        digest = zlib.crc32(self.weight2d.detach().sum(dim=0).float().cpu().numpy().tobytes())
        seq = np.random.SeedSequence([self.config.seed, digest, self.reads])
        return torch.Generator().manual_seed(int(seq.generate_state(1)[0]))


def lay_out_cells(cells: torch.Tensor, config: CrossbarConfig) -> torch.Tensor:
    """Lay ``2 x n_slices x out_g x k_t`` cell levels out for the tile product.

    Returns:
        A ``k_t x (G * out_g)`` float32 tensor: columns grouped by (array, slice) for
        ``differential="digital"`` (``G = 2 * n_slices``, matching
        :func:`column_coefficients`) or by slice with ``G+ - G-`` subtracted for ``"analog"``
        (``G = n_slices``).
    """
    if config.differential == "analog":
        cells = (cells[0] - cells[1])[None]
    per_group, k_t = cells.shape[-2:]
    return cells.reshape(-1, per_group, k_t).permute(2, 0, 1).reshape(k_t, -1).contiguous()


def shift_coefficients(bits: int, count: int, paired: bool) -> np.ndarray:
    """Shift-add weights ``2**(j * bits)`` for ``j < count``; ``paired`` appends their
    negatives (a second group subtracted: the G- array, or the negative input phase)."""
    shifts = np.array([float(1 << (j * bits)) for j in range(count)])
    return np.concatenate([shifts, -shifts]) if paired else shifts


def column_coefficients(config: CrossbarConfig) -> np.ndarray:
    """Shift-add weight of each column group (array, slice), matching :meth:`tile_cells`."""
    return shift_coefficients(config.slice_bits or 0, config.n_slices,
                              paired=config.differential != "analog")


def row_coefficients(config: CrossbarConfig, n_phases: int) -> np.ndarray:
    """Shift-add weight of each row group (input phase, DAC cycle), matching
    :func:`reram.kernels.split_input_cycles`."""
    return shift_coefficients(config.cycle_bits or 0, config.n_cycles, paired=n_phases == 2)


def _run_programming(w2d: torch.Tensor, inv: torch.Tensor, config: CrossbarConfig,
                     faults: Optional[np.ndarray], var: Optional[np.ndarray], cells: bool
                     ) -> tuple[Optional[torch.Tensor], torch.Tensor, torch.Tensor]:
    """``(cells, magnitude, effective)`` of a weight block, by the device's backend."""
    w = w2d.detach().float()
    return backend_for(w.device).program(
        w, inv, config.weight_levels or 0, config.n_slices, config.slice_bits or 0,
        _r_min(config), faults, var, keep_cells=cells)


def program_weights(w2d: torch.Tensor, scale: torch.Tensor, config: CrossbarConfig,
                    faults: Optional[np.ndarray] = None, var: Optional[np.ndarray] = None,
                    row_order: Optional[torch.Tensor] = None) -> ProgrammedWeights:
    """Program an ``out x K`` weight matrix with per-row scale ``scale``.

    Computes the effective weight and the grid-snapped weights in one pass (by the device's
    backend); tile cell levels are produced later, per tile, when a forward
    pass simulates the tiles.

    Raises:
        ValueError: if the weights contain NaN or infinity.
    """
    w = w2d.detach()
    if not bool(torch.isfinite(w).all()):
        raise ValueError("weight contains NaN or infinity; a crossbar cannot be programmed with it")
    prog = ProgrammedWeights(weight2d=w if w.dtype == torch.float32 else w.float(),
                             scale=scale.float(), config=config, faults=faults, var=var,
                             row_order=row_order)
    levels = config.weight_levels
    if levels is None:
        prog.effective_weight()
        return prog
    _, magnitude, prog.effective = _run_programming(prog.weight2d, prog.inv_scale, config,
                                                    faults, var, cells=False)
    prog.snapped = magnitude * (prog.scale.to(magnitude.device) / levels)[:, None]
    return prog
