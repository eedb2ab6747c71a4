"""Before/after, in one run: the crossbar forward with and without the per-forward step cuts.

Two switches, both bit-identical (checked here on every case before timing):
- ``reram.sim.functional._KERNEL_QUANTIZE``: a Linear layer's input quantized to integer codes
  in one kernel pass (``reram.kernels.quantize``) instead of 15 torch steps (no autograd);
- ``reram.sim.tiles._BATCH_TILES``: a Linear layer's tiles read in one step per chunk of inputs
  (one digit-writer call, one batched product, one ADC call) instead of one tile at a time.

"before" runs with both off, "after" with both on; float, before and after are interleaved in
one process, 1 torch and numba thread, the process's CPU time (other processes on a shared
machine do not count in it), medians and fastest of the repeats; ratios are to the float layer
of the same repeat set. The host is printed and stored beside the figures.

Usage: python benchmarks/bench_forward_steps.py [--quick] [--isaac] [--out F]
"""
from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import torch
from torch import nn


def _cases(quick: bool) -> list[tuple[str, Callable[[], nn.Module], tuple[int, ...], int]]:
    if quick:
        return [("Linear 256x256 b32", lambda: nn.Linear(256, 256), (32, 256), 10)]
    return [("Linear 512x512 b128", lambda: nn.Linear(512, 512), (128, 512), 40),
            ("Linear 1024x1024 b256", lambda: nn.Linear(1024, 1024), (256, 1024), 15),
            ("Conv2d 64->128 3x3 32x64x32x32", lambda: nn.Conv2d(64, 128, 3, padding=1),
             (32, 64, 32, 32), 4)]


def _switch(on: bool) -> None:
    import reram.sim.functional as functional
    import reram.sim.tiles as tiles
    functional._KERNEL_QUANTIZE = on
    tiles._BATCH_TILES = on


def run(quick: bool, isaac: bool) -> list[dict]:
    """One row per (case, config, input sign): float / before / after times and ratios."""
    from reram.apps.layer_benchmark import benchmark_configs
    from reram.sim.convert import convert
    configs = {"one-slice": benchmark_configs()["one-slice"]}
    if isaac:
        configs["isaac"] = benchmark_configs()["isaac"]
    rows = []
    for case, build, shape, repeats in _cases(quick):
        torch.manual_seed(0)
        layer = build().eval()
        x = torch.randn(shape)
        for name, cfg in configs.items():
            if name == "isaac" and "Conv" in case:
                continue  # minutes per call here
            n_rep = repeats if name != "isaac" else 2
            xbar = convert(layer, cfg).eval()
            for sign, inp in (("signed", x), ("after a ReLU", x.relu())):
                with torch.no_grad():
                    _switch(False)
                    before = xbar(inp)
                    _switch(True)
                    after = xbar(inp)
                    if not torch.equal(before, after):
                        raise AssertionError(f"{case} {name} {sign}: outputs differ")
                    times: dict[str, list[float]] = {"float": [], "before": [], "after": []}
                    for _ in range(n_rep):
                        for key in times:
                            _switch(key == "after")
                            call = (lambda: layer(inp)) if key == "float" else (lambda: xbar(inp))
                            start = time.process_time()
                            call()
                            times[key].append(time.process_time() - start)
                _switch(True)
                med = {k: statistics.median(v) for k, v in times.items()}
                best = {k: min(v) for k, v in times.items()}
                rows.append({"case": case, "config": name, "input": sign, "repeats": n_rep,
                             "median_s": med, "fastest_s": best,
                             "before_ratio": med["before"] / med["float"],
                             "after_ratio": med["after"] / med["float"],
                             "before_ratio_fastest": best["before"] / best["float"],
                             "after_ratio_fastest": best["after"] / best["float"]})
                r = rows[-1]
                print(f"{case:32s} {name:9s} {sign:12s} float {med['float'] * 1e3:8.2f} ms  "
                      f"before {r['before_ratio']:6.2f}x  after {r['after_ratio']:6.2f}x  "
                      f"(fastest: {r['before_ratio_fastest']:.2f}x -> {r['after_ratio_fastest']:.2f}x)",
                      flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one small case, seconds")
    parser.add_argument("--isaac", action="store_true", help="also the ISAAC preset (Linear only)")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args()
    import numba
    torch.set_num_threads(1)
    numba.set_num_threads(1)
    rows = run(args.quick, args.isaac)
    from reram.apps.host import describe_host, format_host
    host = describe_host()
    print(format_host(host))
    if args.out:
        from reram.io import atomic_write_json
        atomic_write_json(args.out, {"host": host, "rows": rows})


if __name__ == "__main__":
    main()
