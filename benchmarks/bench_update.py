"""Cost of the weight update: a training step with update="pulsed" (each device preset) against
update="nearest" on the same model, measured in one run.

A step is forward, backward, SGD step and the re-programming of every crossbar layer (for
``pulsed`` that includes firing the pulses: the numba kernel on CPU). Steps of the configurations
are interleaved (round robin), so a change in machine load hits them alike; the figure is the
median step time, and the ratio is against ``nearest`` measured in the same run.

Usage::

    python benchmarks/bench_update.py                      # vgg-digits, batch 64, 30 steps
    python benchmarks/bench_update.py --model resnet20 --steps 20
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F

import reram
from reram.config import DEVICE_NAMES
from reram.io import atomic_write_json
from reram.models import build_model

RESULTS = Path(__file__).resolve().parent / "results"


def configs(weight_bits: int, tiled: bool) -> dict[str, reram.CrossbarConfig]:
    """``nearest`` and ``pulsed`` on every device; ``tiled``: 128-row tiles, 8-bit ADC (else
    weights-only: ideal ADC, no tiling, as in the BN-phenomenon benchmark)."""
    base = dict(weight_bits=weight_bits, input_bits=8)
    if not tiled:
        base.update(adc_bits=None, tile_size=None, cell_bits=None, dac_bits=None)
    out = {"nearest": reram.CrossbarConfig(update="nearest", **base)}
    for name in DEVICE_NAMES:
        out[f"pulsed {name}"] = reram.CrossbarConfig(update="pulsed", device=name, **base)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="vgg-digits", help="model (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=64, help="batch (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=30, help="timed steps per config (default: %(default)s)")
    parser.add_argument("--weight-bits", type=int, default=4, help="bits of nearest (default: %(default)s)")
    parser.add_argument("--tiled", action="store_true", help="128-row tiles and 8-bit ADCs")
    parser.add_argument("--out", default=str(RESULTS / "update.json"), help="JSON result")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.batch_size < 1:
        print("bench_update: error: --steps and --batch-size must be positive", file=sys.stderr)
        return 2
    import numba

    numba.set_num_threads(1)
    torch.set_num_threads(1)
    side, channels = (8, 1) if args.model == "vgg-digits" else (32, 3)
    x = torch.randn(args.batch_size, channels, side, side, generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 10, (args.batch_size,), generator=torch.Generator().manual_seed(1))
    runs = {}
    for label, cfg in configs(args.weight_bits, args.tiled).items():
        torch.manual_seed(0)
        net = reram.convert(build_model(args.model, num_classes=10, in_channels=channels, bn_mask="all"), cfg)
        runs[label] = (net, torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9), [])
    layers = {label: [m for m in net.modules() if isinstance(m, reram.CrossbarLayer)] for label, (net, _, _) in runs.items()}
    for step in range(args.steps + 2):  # two warm-up steps (numba compilation, allocator)
        for label, (net, opt, times) in runs.items():
            started = time.perf_counter()
            opt.zero_grad()
            F.cross_entropy(net(x), y).backward()
            opt.step()
            for layer in layers[label]:
                layer.programmed()
            if step >= 2:
                times.append(time.perf_counter() - started)
    base = statistics.median(runs["nearest"][2])
    rows = {label: {"median_step_s": statistics.median(t), "ratio_vs_nearest": statistics.median(t) / base}
            for label, (_, _, t) in runs.items()}
    command = "python benchmarks/bench_update.py " + " ".join(sys.argv[1:] if argv is None else argv)
    print(f"| config ({args.model}, batch {args.batch_size}, {'tiled 8-bit ADC' if args.tiled else 'weights only'}) "
          f"| median step (ms) | vs nearest |\n|---|---|---|")
    for label, row in rows.items():
        print(f"| {label} | {1000 * row['median_step_s']:.1f} | {row['ratio_vs_nearest']:.2f}x |")
    print(f"\nCommand: `{command.strip()}`; {args.steps} interleaved steps each on {platform.machine()} "
          f"(torch 1 / numba 1 threads; CPU shared with other jobs, so times are noisy).")
    atomic_write_json(Path(args.out), {"command": command.strip(), "args": vars(args), "results": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
