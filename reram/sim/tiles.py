"""The tile engine: inputs streamed through tiled crossbars, per-tile ADCs and the shift-add.

Signal chain steps 2-5 of DESIGN.md on integer input codes, for the forward read
(:func:`simulate_tiles`, rows driven, column currents converted) and the transposed read of the
analog backward pass (:func:`transposed_read`, columns driven, row currents converted).
:func:`product_path` names the product a layer uses, chosen once per layer from its config:

- ``"plain"``: the ADC cannot lose information (or is ideal) and reads are noiseless, so the
  result equals one ordinary product with the effective weight, which the caller computes;
- ``"int8"``: cell levels and DAC digits are small integers, so column currents are exact
  integers, read by the ADC kernel directly; the product that computes them (int8 operands
  with int32 sums, or fp32 / bf16 operands where every sum is below ``2**24``) is chosen by
  measurement on this host, once per shape class (:func:`reram.sim.products.choose_product`);
- ``"fp32"``: levels are not integers (programming variation, read noise, unquantized weights
  or inputs) or do not fit (cells or digits above 127, sums past int32): fp32 products.

Both tiled paths give the same bits wherever the fp32 sums are exact (below ``2**24``, which
holds for every preset): each ADC code is then a function of an exact integer current.
The arithmetic is the device's backend (:func:`reram.sim.backends.backend_for`).

Imports ``reram.config``, ``reram.sim.mapping``, ``reram.sim.backends`` and
``reram.sim.products`` only.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, Optional, Union

import numpy as np
import torch

from reram.config import CrossbarConfig
from reram.sim import mapping
from reram.sim.backends import (INT_PRODUCT_DTYPE, LINEAR_GEOMETRY, Backend, PatchGeometry,
                                backend_for, exact_int_adc)
from reram.sim.mapping import (AdcParams, ProgrammedWeights, _r_min, adc_params,
                               column_coefficients, lay_out_cells, row_coefficients)
from reram.sim.products import choose_product

__all__ = ["product_path", "integer_product_fits", "code_dtype", "input_phases", "needs_tiles",
           "simulate_tiles", "transposed_read", "kept", "weight_units", "ConvPatches",
           "PRODUCT_PATHS", "CURRENT_BUFFER_BYTES", "EXACT_ADC"]

#: The names :func:`product_path` returns.
PRODUCT_PATHS = ("plain", "int8", "fp32")
#: Bytes of column currents held at once by the tiled simulation (chunked over inputs).
CURRENT_BUFFER_BYTES = 8 << 20
#: Bytes of one tile's int32 currents and their float64 accumulator rows on the integer path
#: (one chunk of inputs). Measured on the layer benchmark's conv (1 thread, one run): 512 KiB
#: 1.68x float, 1 MiB 1.48x, 2 MiB 1.37x, 4 MiB 1.33x: fewer, larger products and fewer
#: Python steps outweigh keeping the currents in L2.
INT_CURRENT_BUFFER_BYTES = 4 << 20
#: The integer path visits every tile for one chunk of inputs before the next chunk (the
#: accumulator rows stay hot) when all tiles' int8 cells fit in this many bytes (in L2 beside
#: the currents); else one tile at a time for every chunk (that tile's cells stay hot).
INT_CELL_BYTES = 512 << 10
#: A Linear layer on the integer path with a float32 product reads every tile of a chunk in
#: one step (:func:`_read_tiles_batched`) where all tiles' cells fit; False: one tile at a time
#: (an A/B switch; both give the same bits). Measured on the AVX2 host (1 thread, in-process
#: interleaved medians, one-slice): Linear 512 5.56x -> 5.30x float signed, 3.64x -> 3.33x
#: after a ReLU; Linear 1024 about 1% faster; a conv 5-7% slower (its streamed rows span
#: every tile), so convs keep one tile at a time.
_BATCH_TILES = True
#: Values a read needs that depend only on the programmed weights are kept with the layer's
#: programmed cells (:func:`kept`: the batched read's float32 cells, at most 4x the int8 cells'
#: bytes, which the batched read caps at :data:`INT_CELL_BYTES`: 2 MiB; the output's weight
#: units); False: made at every read (an A/B switch for
#: ``benchmarks/bench_forward_steps.py``; both give the same bits).
_KEEP = True
#: Bytes of every tile's currents (and the float64 accumulator rows) held at once by that
#: batched read: its chunks of inputs are cut to fit (a Linear 512's one-slice batch of 128,
#: 4 MiB, is one chunk; a layer of many narrow tiles gets shorter chunks, not a huge buffer).
_BATCH_CURRENT_BYTES = 16 << 20
#: ... but each integer product has at least this many rows (below it GEMMs lose efficiency;
#: ISAAC's Linear 1024 ran 1.53x its products' time at 256, 1.39x at 128, 1.48x at 32: its 16
#: column groups make every row 64 KiB of currents).
_MIN_PRODUCT_ROWS = 128
#: ADC parameters that convert every current exactly (an ideal ADC forced through the tiles).
EXACT_ADC = AdcParams(step=1e-9, code_lo=-1e30, code_hi=1e30, full_scale=1e30, lossless=True)
_INT32_MAX = (1 << 31) - 1
_INT8_MAX = 127

#: ``matrix(tile, dtype)`` -> the ``rows x (G * n_out)`` cells one tile read drives.
MatrixFn = Callable[[int, torch.dtype], torch.Tensor]
#: ``stacked(matrix, n_tiles, width)`` -> :func:`_stack_cells`'s result (perhaps kept).
StackedFn = Callable[[MatrixFn, int, int], torch.Tensor]


@dataclass(frozen=True)
class ConvPatches:
    """The im2col rows of an ungrouped convolution on the int8 path, never materialized: the
    tiles stream each row tile's digits straight from the input (rows in ``(kh, kw, C)``
    order, the crossbar's channels-last row order). A Linear layer's integer codes are the
    ``m x 1 x 1 x K`` case (:data:`reram.sim.backends.LINEAR_GEOMETRY`).

    Attributes:
        xp: the padded input codes, ``N x H x W x C`` int8 (channels last, contiguous).
        geometry: ``(out_size, kernel_size, dilation, stride)``.
    """

    xp: torch.Tensor
    geometry: PatchGeometry

    @property
    def device(self) -> torch.device:
        """Where the input codes live."""
        return self.xp.device

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, K)``: one row per output position, ``kh * kw * C`` columns."""
        (h_out, w_out), (kh, kw) = self.geometry[0], self.geometry[1]
        return self.xp.shape[0] * h_out * w_out, kh * kw * self.xp.shape[3]


#: What the tiles stream: an ``m x K`` tensor of codes, or a conv's unmaterialized patches.
Rows = Union[torch.Tensor, ConvPatches]


def _int_digits(rows: Rows, backend: Backend, start: int, stop: int, lo: int, hi: int,
                n_cycles: int, cycle_bits: int, n_phases: int, width: int,
                dtype: torch.dtype = INT_PRODUCT_DTYPE) -> torch.Tensor:
    """The digits of rows ``start:stop``, crossbar rows ``lo:hi`` (one tile), as the product's
    operand ``dtype``: ``(n_phases * n_cycles * (stop - start)) x width``."""
    if isinstance(rows, ConvPatches):  # a conv's input, or a Linear layer's integer codes
        return backend.stream_patches(rows.xp, rows.geometry, lo, hi, start, stop, n_cycles,
                                      cycle_bits, n_phases, width, dtype=dtype)
    return backend.stream(rows[start:stop, lo:hi], n_cycles, cycle_bits, n_phases, width,
                          INT_PRODUCT_DTYPE)[0].to(dtype)


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def int_tile_widths(n_in: int, size: int) -> tuple[int, list[int]]:
    """``(width, widths)`` of the integer path: tile ``t`` holds rows ``t * width`` on (``width``
    is ``size``, or for a lone narrow tile its rows rounded up to 16) and its digits are
    streamed ``widths[t]`` wide (the last tile's rows rounded up to 16, not to ``size``)."""
    n_tiles = max(1, -(-n_in // size))
    width = size if n_tiles > 1 else min(size, _round_up(max(n_in, 1), 16))
    return width, [min(width, _round_up(n_in - t * width, 16)) for t in range(n_tiles)]


def int_chunk_inputs(n_row_groups: int, cols: int, n_out: int = 0,
                     buffer_bytes: Optional[int] = None, min_rows: Optional[int] = None) -> int:
    """Inputs per chunk on the integer path: one tile's int32 currents (and the ``n_out``
    float64 accumulator columns) within ``buffer_bytes`` (default
    :data:`INT_CURRENT_BUFFER_BYTES`), but at least ``min_rows`` (``_MIN_PRODUCT_ROWS``)
    product rows."""
    buffer_bytes = INT_CURRENT_BUFFER_BYTES if buffer_bytes is None else buffer_bytes
    min_rows = _MIN_PRODUCT_ROWS if min_rows is None else min_rows
    return max(-(-min_rows // n_row_groups), buffer_bytes // (n_row_groups * cols * 4 + n_out * 8))


def _pad_rows(mat: torch.Tensor, rows: int) -> torch.Tensor:
    if mat.shape[0] >= rows:
        return mat
    return torch.cat([mat, mat.new_zeros((rows - mat.shape[0], mat.shape[1]))])


def needs_tiles(config: CrossbarConfig, k: int, force: bool = False) -> Optional[AdcParams]:
    """The ADC parameters when the tiled simulation changes the result, else None.

    Reads with noise always run through the tiles. With ``force=True`` every non-ideal config
    does, even where the ADC is provably lossless (how tests check the tiles against the
    plain product).
    """
    rows = config.tile_size or max(k, 1)
    adc = adc_params(config, rows)
    if (force or config.read_noise > 0) and not config.is_ideal:
        return EXACT_ADC if adc is None else adc
    return None if adc is None or adc.lossless else adc


def integer_product_fits(config: CrossbarConfig, rows: int) -> bool:
    """True when a ``rows``-row tile read is exact in int8 operands with int32 sums: quantized
    weights and inputs, no variation or read noise, cell levels and DAC digits at most 127,
    and ``rows * digit_max * cell_max`` within int32."""
    if config.weight_bits is None or config.input_bits is None:
        return False
    if config.variation > 0 or config.read_noise > 0:
        return False
    cell_max = (1 << config.slice_bits) - 1
    digit_max = (1 << config.cycle_bits) - 1
    if cell_max > _INT8_MAX or digit_max > _INT8_MAX:
        return False
    return max(rows, 1) * cell_max * digit_max <= _INT32_MAX


#: Integer dtypes input codes may take on the int8 path, narrowest first.
_CODE_DTYPES = (torch.int8, torch.int16)


def code_dtype(config: CrossbarConfig) -> Optional[torch.dtype]:
    """The narrowest integer dtype that holds every input code (int8 up to ``input_bits=8``,
    int16 up to 16), or None: the int8 path's digit writer streams such codes."""
    if config.input_levels is None:
        return None
    return next((d for d in _CODE_DTYPES if config.input_levels <= torch.iinfo(d).max), None)


def input_phases(codes: torch.Tensor) -> int:
    """2 when some input code is negative (a second input phase), else 1. Integer codes: one
    min-reduction (they hold no NaN); float codes: NaN is not negative."""
    if not codes.numel():
        return 1
    if codes.dtype in _CODE_DTYPES:
        return 2 if int(codes.amin()) < 0 else 1
    return 2 if bool((codes < 0).any()) else 1


def product_path(config: CrossbarConfig, k: int, force_tiles: bool = False) -> str:
    """Which product computes a layer's outputs: ``"plain"``, ``"int8"`` or ``"fp32"``.

    Args:
        config: the layer's crossbar config.
        k: rows of the layer's weight matrix (``in_features``, or
            ``in_channels / groups * kh * kw``).
        force_tiles: as :func:`reram.sim.functional.crossbar_linear`'s argument.

    Example:
        >>> product_path(CrossbarConfig.preset("isaac"), 576)
        'int8'
        >>> product_path(CrossbarConfig.preset("neurosim"), 576)
        'int8'
        >>> product_path(CrossbarConfig.preset("isaac").replace(variation=0.1), 576)
        'fp32'
    """
    if config.is_ideal or needs_tiles(config, k, force_tiles) is None:
        return "plain"
    rows = min(config.tile_size or max(k, 1), max(k, 1))
    return "int8" if integer_product_fits(config, rows) else "fp32"


@functools.lru_cache(maxsize=256)
def _coefficients(config: CrossbarConfig, n_phases: int) -> tuple[np.ndarray, np.ndarray]:
    """``(row_coefficients, column_coefficients)`` of ``config``, computed once per config
    (shared by every read: not to be written)."""
    return row_coefficients(config, n_phases), column_coefficients(config)


@functools.lru_cache(maxsize=1024)
def _int_read_plan(config: CrossbarConfig, n_phases: int, n_in: int, size: int, n_out: int,
                   buffer_bytes: int, min_rows: int) -> tuple[int, tuple[int, ...], int, int]:
    """``(width, widths, chunk, max_current)`` of an integer-path read of ``n_in`` rows in
    ``size``-row tiles (:func:`int_tile_widths`, :func:`int_chunk_inputs` with the current
    buffer size and minimum product rows passed in, so that they are part of the key), once
    per layer shape and config."""
    n_row_groups = len(_coefficients(config, n_phases)[0])
    cols = len(_coefficients(config, n_phases)[1]) * n_out
    width, widths = int_tile_widths(n_in, size)
    chunk = int_chunk_inputs(n_row_groups, cols, n_out, buffer_bytes, min_rows)
    max_current = width * ((1 << config.slice_bits) - 1) * ((1 << (config.cycle_bits or 0)) - 1)
    return width, tuple(widths), chunk, max_current


def _noisy(levels: torch.Tensor, config: CrossbarConfig, generator: torch.Generator
           ) -> torch.Tensor:
    """One read of cell levels: each conductance times ``1 + read_noise * N(0, 1)``, clipped at
    0 (a conductance is never negative)."""
    r = _r_min(config)
    noise = torch.randn(levels.shape, generator=generator).to(levels.device)
    return (r + levels) * (1.0 + config.read_noise * noise).clamp_(min=0.0) - r


def _read_tiles(codes: Rows, n_tiles: int, size: int, matrix: MatrixFn, n_out: int,
                config: CrossbarConfig, adc: AdcParams, integer: bool, out: torch.Tensor,
                backend: Backend, n_phases: Optional[int] = None,
                stacked: Optional[StackedFn] = None) -> int:
    """Drive ``m x n_in`` codes (``n_in <= n_tiles * size``) through ``n_tiles`` tiles and add
    the shift-added ADC codes to ``out`` (``m x n_out`` float64). Returns the informative
    conversions (codes inside the ADC range and not zero) counted until the first read that
    finds one (the caller only asks whether any was). ``n_phases``: 2 when some code may be
    negative (None: look); a second phase of zeros changes no result. ``stacked``: the
    batched read's float32 cells of every tile, kept between reads (None: built per read)."""
    m, n_in = codes.shape
    if isinstance(codes, ConvPatches) and not (integer and n_phases):
        raise ValueError("conv patches stream on the int8 path only, with n_phases given")
    if n_phases is None:
        n_phases = input_phases(codes)
    row_coef, col_coef = _coefficients(config, n_phases)
    n_cycles, cycle_bits = config.n_cycles, config.cycle_bits or 0
    cols = len(col_coef) * n_out
    adc_args = (row_coef, col_coef, n_out, adc.step, adc.code_lo, adc.code_hi)
    informative = 0
    if integer:
        width, widths, chunk, max_current = _int_read_plan(
            config, n_phases, n_in, size, n_out, INT_CURRENT_BUFFER_BYTES, _MIN_PRODUCT_ROWS)
        mult = exact_int_adc(row_coef, col_coef, adc.step, adc.code_lo, adc.code_hi, n_tiles,
                             max_current)
        product = choose_product(len(row_coef) * min(chunk, m), width, cols, max_current,
                                 codes.device)
        operand = product.operand_dtype
        if isinstance(codes, torch.Tensor) and codes.dtype in _CODE_DTYPES:
            # a Linear layer's codes as 1x1 windows of an m x 1 x 1 x K input, once, not per
            # tile (a conv group's columns: one contiguous copy)
            codes = ConvPatches(codes.contiguous().view(m, 1, 1, n_in), LINEAR_GEOMETRY)
        starts = range(0, m, chunk)

        def cells(t: int) -> torch.Tensor:  # from the (4x smaller) int8 cells kept per layer
            mat = matrix(t, INT_PRODUCT_DTYPE)
            return _pad_rows(mat if operand == INT_PRODUCT_DTYPE else mat.to(operand), widths[t])
        fits = n_tiles * width * cols <= INT_CELL_BYTES
        if (fits and _BATCH_TILES and n_tiles > 1 and operand == torch.float32
                and isinstance(codes, ConvPatches) and codes.geometry == LINEAR_GEOMETRY):
            mats = (stacked or _stack_cells)(matrix, n_tiles, width)
            return _read_tiles_batched(codes, mats, chunk, len(row_coef), cols,
                                       (n_cycles, cycle_bits, n_phases), adc_args, mult, out,
                                       backend)
        buffer = torch.empty((1, len(row_coef) * min(chunk, m), cols),
                             dtype=product.current_dtype, device=codes.device)
        if fits:  # every tile per chunk: acc rows stay hot
            mats = [cells(t) for t in range(n_tiles)]
            order = [(t, start) for start in starts for t in range(n_tiles)]
        else:  # one tile's cells at a time
            mats = None
            order = [(t, start) for t in range(n_tiles) for start in starts]
        mat, mat_tile = None, -1
        for t, start in order:
            if mats is not None:
                mat = mats[t]
            elif t != mat_tile:
                mat, mat_tile = cells(t), t
            lo, hi = t * width, min((t + 1) * width, n_in)
            stop = min(m, start + chunk)
            digits = _int_digits(codes, backend, start, stop, lo, hi, n_cycles, cycle_bits,
                                 n_phases, widths[t], operand)
            currents = buffer[:, :digits.shape[0]]
            backend.currents(digits, mat, out=currents[0])
            informative += backend.adc_accumulate(currents, stop - start, *adc_args,
                                                  out=out[start:stop],
                                                  count=informative == 0, mult=mult)
        return informative
    chunk = max(1, CURRENT_BUFFER_BYTES // (len(row_coef) * cols * 4))
    for t in range(n_tiles):
        mat = matrix(t, torch.float32)
        lo, hi = t * size, min((t + 1) * size, n_in)
        for start in range(0, m, chunk):
            stop = min(m, start + chunk)
            part = codes[start:stop, lo:hi]
            if n_cycles == 1 and n_phases == 1:  # the codes are the DAC inputs
                streamed = part
            else:
                streamed = backend.stream(part, n_cycles, cycle_bits, n_phases, hi - lo)[0]
            currents = backend.currents(streamed, mat)
            informative += backend.adc_accumulate(currents[None], stop - start, *adc_args,
                                                  out=out[start:stop], count=informative == 0)
    return informative


def _stack_cells(matrix: MatrixFn, n_tiles: int, width: int) -> torch.Tensor:
    """Every tile's int8 cells as one ``n_tiles x width x cols`` float32 tensor (the last
    tile's padded with zero rows to ``width``): the batched read's operand."""
    mats = torch.stack([_pad_rows(matrix(t, INT_PRODUCT_DTYPE), width) for t in range(n_tiles)])
    return mats.to(torch.float32)


def kept(program: ProgrammedWeights, key: tuple, make: Callable[[], torch.Tensor]
         ) -> torch.Tensor:
    """``make()``, a tensor that depends only on ``program``'s programmed cells, scale and
    config, kept with its tile cells (within :data:`reram.sim.mapping.TILE_CACHE_BYTES`), so
    a read computes it once per programming, not per forward: re-programming (an optimizer
    step, a pulsed update, ``load_state_dict``, a new config, ``.to()``) makes a new
    ``program`` with an empty cache. ``key`` starts with a name (the tile cells' keys start
    with a group number). With ``_KEEP`` off, made at every call."""
    cache = program._tile_cache
    value = cache.get(key) if _KEEP else None
    if value is None:
        value = make()
        if _KEEP and value.numel() * value.element_size() <= mapping.TILE_CACHE_BYTES:
            cache[key] = value
    return value


def _kept_stack(program: ProgrammedWeights, group: int, groups: int, matrix: MatrixFn
                ) -> StackedFn:
    """:func:`_stack_cells` for one conv group of ``program``, :func:`kept` with it."""
    def stacked(_matrix: MatrixFn, n_tiles: int, width: int) -> torch.Tensor:
        return kept(program, ("stacked", group, groups, width),
                    lambda: _stack_cells(matrix, n_tiles, width))
    return stacked


def weight_units(program: ProgrammedWeights, device: torch.device) -> torch.Tensor:
    """``scale / weight_levels`` per output row on ``device``, float64 (the column scale of
    the output), :func:`kept` with ``program``."""
    levels = float(program.config.weight_levels or 1)
    return kept(program, ("weight_units", device),
                lambda: (program.scale.to(device) / levels).double())


def _read_tiles_batched(codes: ConvPatches, mats: torch.Tensor, chunk: int, n_row_groups: int,
                        cols: int, stream: tuple[int, int, int], adc_args: tuple,
                        mult: Optional[float], out: torch.Tensor, backend: Backend) -> int:
    """:func:`_read_tiles`'s integer path with a float32 product, every tile in one step per
    chunk of inputs: one digit-writer call streams all the tiles' rows (``n_tiles * width``
    columns, zero-padded), one batched product (``torch.bmm`` over the tiles, the digits read
    in place as ``n_tiles`` column blocks) gives every tile's currents, one ADC call converts
    and shift-adds them. The same products (the last tile's cells padded with zero rows to
    ``width``: zero digits times zero cells) and the same ADC codes as one tile at a time, in
    a third of the Python steps per tile. ``mats``: :func:`_stack_cells`'s ``n_tiles x width
    x cols`` float32 cells."""
    n_cycles, cycle_bits, n_phases = stream
    n_tiles, width = mats.shape[:2]
    m = codes.shape[0]
    per_input = n_tiles * n_row_groups * cols * 4 + out.shape[1] * 8
    chunk = min(chunk, max(-(-_MIN_PRODUCT_ROWS // n_row_groups),
                           _BATCH_CURRENT_BYTES // per_input))
    rows = n_row_groups * min(chunk, m)
    buffer = torch.empty((n_tiles, rows, cols), dtype=torch.float32, device=codes.device)
    informative = 0
    for start in range(0, m, chunk):
        stop = min(m, start + chunk)
        digits = backend.stream_patches(codes.xp, codes.geometry, 0, codes.shape[1], start, stop,
                                        n_cycles, cycle_bits, n_phases, n_tiles * width,
                                        dtype=torch.float32)
        per_tile = digits.view(digits.shape[0], n_tiles, width).transpose(0, 1)
        currents = buffer.view(-1)[:n_tiles * digits.shape[0] * cols].view(n_tiles, -1, cols)
        torch.bmm(per_tile, mats, out=currents)
        informative += backend.adc_accumulate(currents, stop - start, *adc_args,
                                              out=out[start:stop], count=informative == 0,
                                              mult=mult)
    return informative


def simulate_tiles(codes: Rows, program: ProgrammedWeights, config: CrossbarConfig,
                   adc: AdcParams, groups: int = 1, path: Optional[str] = None,
                   n_phases: Optional[int] = None) -> tuple[torch.Tensor, int]:
    """Run inputs through the tiled crossbars with per-tile ADCs and shift-add the codes.

    Per conv group, the DAC digits of each chunk of inputs (both phases stacked along rows)
    meet the cell levels of each row tile (G+ and G- slices side by side along columns) in
    one product per tile; the ADC kernel converts and shift-adds every current. At most
    :data:`CURRENT_BUFFER_BYTES` of currents exist at a time.

    Args:
        codes: an ``m x (groups * K)`` tensor of signed input codes (int8 when the codes fit
            and ``path`` is ``"int8"``: a quarter of the bytes to unfold and stream), or
            :class:`ConvPatches` (``path="int8"``, one group, ``n_phases`` given).
        program: the programmed weights (``out x K``).
        config: the crossbar config.
        adc: the ADC parameters for one tile.
        groups: conv groups (group ``g`` sees input columns ``g*K:(g+1)*K``).
        path: ``"int8"`` or ``"fp32"``; None: :func:`product_path`'s choice.
        n_phases: 1 when no code is negative, 2 when some may be (None: look at ``codes``).

    Returns:
        ``(acc, informative)``: an ``m x out`` float64 tensor in units of (input code x weight
        level) (multiply by the ADC step and the input and weight scales to get the layer
        output), and the number of informative ADC conversions (counted per group until the
        first tile read that finds one: zero exactly when no conversion was informative).
    """
    m = codes.shape[0]
    out_features, k = program.weight2d.shape
    per_group = out_features // groups
    patches = isinstance(codes, ConvPatches)
    device = codes.device
    acc = torch.zeros((m, out_features), dtype=torch.float64, device=device)
    if m == 0 or out_features == 0:
        return acc, 0
    path = path or product_path(config, k, force_tiles=True)
    if patches and (path != "int8" or groups != 1):
        raise ValueError("conv patches stream on the int8 path of an ungrouped conv only")
    if not patches:
        codes = codes.detach()
        if not (path == "int8" and codes.dtype in _CODE_DTYPES):  # integer codes: the int8 path
            codes = codes.float()
    size = config.tile_size or max(k, 1)
    backend = backend_for(device)
    generator = program.next_read_generator() if config.read_noise > 0 else None
    informative = 0
    for g in range(groups):
        def matrix(t: int, dtype: torch.dtype, g: int = g) -> torch.Tensor:
            if generator is None:
                return program.tile_cells(g, groups, t, dtype).to(device)
            levels = _noisy(program.tile_levels(g, groups, t), config, generator)
            return lay_out_cells(levels, config).to(device)
        part = codes if patches else codes[:, g * k:(g + 1) * k]
        stacked = _kept_stack(program, g, groups, matrix) if generator is None else None
        informative += _read_tiles(part, program.n_tiles(), size, matrix,
                                   per_group, config, adc, path == "int8",
                                   acc[:, g * per_group:(g + 1) * per_group], backend, n_phases,
                                   stacked)
    return acc, informative


def transposed_read(codes: torch.Tensor, program: ProgrammedWeights, config: CrossbarConfig,
                    groups: int = 1) -> tuple[torch.Tensor, AdcParams]:
    """The transposed read of the analog backward pass: codes drive the columns, row currents
    go through the per-tile ADC (one conversion per row, tile, column group and cycle).

    Args:
        codes: an ``m x out`` tensor of signed error codes (already scaled per output row by
            the weight scale, so that every column shares one unit).
        program: the programmed weights (``out x K``).
        config: the crossbar config (its DAC scheme quantizes the error, its ADC converts).
        groups: conv groups.

    Returns:
        ``(acc, adc)``: an ``m x (groups * K)`` float64 tensor in units of (error code x weight
        level), crossbar rows in ``program.row_order``; and the ADC used (multiply ``acc`` by
        its step).
    """
    m = codes.shape[0]
    out_features, k = program.weight2d.shape
    per_group = out_features // groups
    size = config.tile_size or max(k, 1)
    col_size = config.tile_size or max(per_group, 1)
    adc = adc_params(config, col_size) or EXACT_ADC
    acc = torch.zeros((m, groups * k), dtype=torch.float64, device=codes.device)
    if m == 0 or out_features == 0 or k == 0:
        return acc, adc
    integer = integer_product_fits(config, min(col_size, per_group))
    # integer error codes on the integer path: streamed by the digit writer (a NaN error
    # gives arbitrary codes here, and NaN gradients through its NaN scale)
    small = code_dtype(config) if integer else None
    codes = codes.detach().to(small) if small else codes.detach().float()
    backend = backend_for(codes.device)
    generator = program.next_read_generator() if config.read_noise > 0 else None
    n_groups = len(column_coefficients(config))
    n_col_tiles = -(-per_group // col_size)
    for g in range(groups):
        for t in range(program.n_tiles()):
            k_lo = t * size
            k_t = min(size, k - k_lo)
            if generator is None:
                base = program.tile_cells(g, groups, t, INT_PRODUCT_DTYPE if integer
                                          else torch.float32)
            else:
                base = lay_out_cells(_noisy(program.tile_levels(g, groups, t), config,
                                            generator), config)
            base = base.to(codes.device).reshape(k_t, n_groups, per_group)

            def matrix(c: int, dtype: torch.dtype, base=base, k_t=k_t):
                block = base[:, :, c * col_size:min((c + 1) * col_size, per_group)]
                mat = block.permute(2, 1, 0).reshape(-1, n_groups * k_t)
                return mat.to(dtype).contiguous()
            _read_tiles(codes[:, g * per_group:(g + 1) * per_group], n_col_tiles, col_size,
                        matrix, k_t, config, adc, integer,
                        acc[:, g * k + k_lo:g * k + k_lo + k_t], backend)
    return acc, adc
