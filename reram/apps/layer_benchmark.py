"""Forward-time ratios of crossbar layers to their float layers, measured in one run.

Used by ``benchmarks/bench_layers.py`` and ``reram-bench kernels``. Each case times the float
layer, the crossbar layer and, for the bit-sliced configs, the matrix products alone doing the
same multiply-adds as the tile simulation on its product path (on the integer path the
product this host chose, :mod:`reram.sim.products`; its lower bound), interleaved so that machine noise hits all three alike. On CPU the times are the
process's CPU time (1 thread: other processes on a shared machine do not count in it, as they
do in wall time); the ratios are of the fastest repeat, with medians kept in the rows.
"""
from __future__ import annotations

import statistics
import time
from typing import Callable

import numba
import torch
from torch import nn

from reram.config import CrossbarConfig
from reram.sim.convert import convert
from reram.sim.tiles import product_path

__all__ = ["run_layer_benchmark", "benchmark_configs", "format_table"]


def benchmark_configs() -> dict[str, CrossbarConfig]:
    """The configs of the layer benchmark: ideal, one slice and one cycle with per-tile ADCs
    (G+ and G- converted separately, as DESIGN.md's signal chain; and subtracted before one
    bipolar ADC, ``differential="analog"``), and the ISAAC preset."""
    one_slice = CrossbarConfig(tile_size=128, weight_bits=8, cell_bits=7, input_bits=8,
                               dac_bits=8, adc_bits=8)
    return {
        "ideal": CrossbarConfig.ideal(),
        "one-slice": one_slice,
        "one-slice/analog-diff": one_slice.replace(differential="analog"),
        "isaac": CrossbarConfig.preset("isaac"),
    }


def _cases(quick: bool) -> list[tuple[str, Callable[[], nn.Module], tuple[int, ...]]]:
    if quick:
        return [("Linear 256x256 b32", lambda: nn.Linear(256, 256), (32, 256)),
                ("Conv2d 16->32 3x3 8x16x16x16", lambda: nn.Conv2d(16, 32, 3, padding=1), (8, 16, 16, 16))]
    return [("Linear 512x512 b128", lambda: nn.Linear(512, 512), (128, 512)),
            ("Linear 1024x1024 b256", lambda: nn.Linear(1024, 1024), (256, 1024)),
            ("Conv2d 64->128 3x3 32x64x32x32", lambda: nn.Conv2d(64, 128, 3, padding=1), (32, 64, 32, 32))]


def _gemm_equivalent(layer: nn.Module, x: torch.Tensor, cfg: CrossbarConfig
                     ) -> tuple[Callable[[], None], str]:
    """The tile simulation's matrix products alone, on its product path, and the product's
    name: on the integer path the product this host chose for the layer's shapes
    (:func:`reram.sim.products.choose_product`: ``int_mm`` or ``fp32``, exact integer sums),
    fp32 ``mm`` otherwise; one product per row tile and chunk of inputs, with the same shapes
    and chunking (so the same multiply-adds)."""
    from reram.sim.functional import quantize_input
    from reram.sim.mapping import column_coefficients
    from reram.sim.products import choose_product, multiply
    from reram.sim.tiles import (CURRENT_BUFFER_BYTES, int_chunk_inputs, int_tile_widths,
                                 product_path)
    if isinstance(layer, nn.Conv2d):
        k = layer.weight[0].numel()
        rows = x.shape[0] * (x.shape[2] * x.shape[3])  # stride 1, same padding in the cases
    else:
        k, rows = layer.in_features, x.shape[0]
    integer = product_path(cfg, k, force_tiles=True) == "int8"
    codes, _ = quantize_input(x, cfg, 3 if x.dim() == 4 else 1)
    row_groups = (2 if bool((codes < 0).any()) else 1) * cfg.n_cycles
    tile = cfg.tile_size or k
    cols = len(column_coefficients(cfg)) * layer.weight.shape[0]
    chunk = max(1, CURRENT_BUFFER_BYTES // (row_groups * cols * 4))
    widths = [min(tile, k - t) for t in range(0, k, tile)]
    if integer:  # the integer path's own chunking, tile widths and product
        chunk = int_chunk_inputs(row_groups, cols, layer.weight.shape[0])
        tile, widths = int_tile_widths(k, tile)
        max_current = tile * ((1 << cfg.slice_bits) - 1) * ((1 << cfg.cycle_bits) - 1)
        chosen = choose_product(row_groups * min(chunk, rows), tile, cols, max_current, x.device)
        a = torch.randint(0, 2, (row_groups * min(chunk, rows), tile), device=x.device)
        b = torch.randint(0, 2, (tile, cols), device=x.device)
        a, b = a.to(chosen.operand_dtype), b.to(chosen.operand_dtype)
        out = torch.empty((a.shape[0], cols), dtype=chosen.current_dtype, device=x.device)
        name = chosen.name
    else:
        a = torch.randn(row_groups * min(chunk, rows), tile, device=x.device)
        b = torch.randn(tile, cols, device=x.device)
        out = torch.empty((a.shape[0], cols), device=x.device)
        name = "fp32"

    def run() -> None:
        for start in range(0, rows, chunk):
            m = min(chunk, rows - start) * row_groups
            for width in widths:
                multiply(a[:m, :width], b[:width], out[:m])
    return run, name


def time_once(fn: Callable[[], object], device: str = "cpu") -> float:
    """Seconds ``fn`` takes: on CPU the CPU time of this (single-threaded) process, which other
    processes on a shared machine do not inflate as they do wall time; on CUDA, wall time
    between synchronizations."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        return time.perf_counter() - start
    start = time.process_time()
    fn()
    return time.process_time() - start


def run_layer_benchmark(threads: int = 1, quick: bool = False, repeats: int = 5,
                        nonnegative_input: bool = False, device: str = "cpu") -> list[dict]:
    """Time crossbar layers against float layers.

    Args:
        threads: torch and numba threads for the measurement.
        quick: small shapes (seconds instead of minutes).
        repeats: timed repetitions per case (the fastest is reported, medians kept beside it).
        nonnegative_input: feed ReLU'd inputs (hidden layers of a CNN) instead of signed ones;
            non-negative inputs need one input phase instead of two.
        device: where layers and inputs live (``"cuda"`` times the torch backend on a GPU).

    Returns:
        One dict per (case, config): ``case, config, float_s, crossbar_s, ratio`` and, for
        bit-sliced configs, ``gemm_s`` and ``ratio_vs_gemm``.
    """
    torch.set_num_threads(threads)
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    results = []
    for case, build, shape in _cases(quick):
        torch.manual_seed(0)
        float_layer = build().eval().to(device)
        x = torch.randn(shape).to(device)
        if nonnegative_input:
            x = x.relu()
        for name, cfg in benchmark_configs().items():
            xbar = convert(float_layer, cfg).eval()
            gemm, product = (None, None) if name == "ideal" else _gemm_equivalent(float_layer, x, cfg)
            with torch.no_grad():
                float_layer(x)
                warm = time_once(lambda: xbar(x), device)  # warm-up (JIT compile, allocator)
                # cases taking seconds per call (ISAAC on the conv) are timed once, cases
                # under 50 ms four times as often as asked
                n_rep = 1 if warm >= 5.0 else (4 * repeats if warm < 0.05 else repeats)
                times: dict[str, list[float]] = {"float": [], "xbar": [], "gemm": []}
                for _ in range(n_rep):
                    times["float"].append(time_once(lambda: float_layer(x), device))
                    times["xbar"].append(time_once(lambda: xbar(x), device))
                    if gemm is not None:
                        times["gemm"].append(time_once(gemm, device))
            k = float_layer.weight[0].numel()
            # the fastest repeat (as timeit reports): on a shared machine other processes only
            # ever add time; medians are kept beside it
            row = {"case": case, "config": name, "path": product_path(cfg, k),
                   "product": product, "repeats": n_rep,
                   "float_s": min(times["float"]), "crossbar_s": min(times["xbar"]),
                   "float_median_s": statistics.median(times["float"]),
                   "crossbar_median_s": statistics.median(times["xbar"])}
            row["ratio"] = row["crossbar_s"] / row["float_s"]
            if gemm is not None:
                row["gemm_s"] = min(times["gemm"])
                row["ratio_vs_gemm"] = row["crossbar_s"] / row["gemm_s"]
            results.append(row)
    return results


def format_table(rows: list[dict]) -> str:
    """A plain-text table of :func:`run_layer_benchmark` rows."""
    lines = [f"{'case':31s} {'config':21s} {'path':5s} {'product':7s} {'float ms':>9s} "
             f"{'xbar ms':>9s} {'xbar/float':>10s} {'GEMM ms':>9s} {'xbar/GEMM':>9s}"]
    for r in rows:
        gemm = f"{r['gemm_s'] * 1e3:9.2f} {r['ratio_vs_gemm']:9.2f}" if "gemm_s" in r else f"{'-':>9s} {'-':>9s}"
        lines.append(f"{r['case']:31s} {r['config']:21s} {r.get('path', '-'):5s} "
                     f"{r.get('product') or '-':7s} {r['float_s'] * 1e3:9.2f} "
                     f"{r['crossbar_s'] * 1e3:9.2f} {r['ratio']:10.2f} {gemm}")
    return "\n".join(lines)
