"""The ``reram-bench`` console script.

Subcommands:

* ``speedup``: schedule VGG/ResNet models on a ReRAM + GPU chip for given BN masks and report
  speedup, energy ratio and throughput against the GPU-only baseline (``--sweep-bn`` adds the
  speedup as a function of the number of BN layers kept, and ``--png`` plots it).
* ``breakdown``: time each layer type of a real model on the local device (CPU, or CUDA when
  present) with the torch profiler, next to the roofline estimate of the same model's GPU side.
* ``kernels``: the crossbar layer forward-time benchmark of :mod:`reram.apps.layer_benchmark`.
* ``validate``: published figures (ISAAC, PUMA, PipeLayer, DeepTrain) next to the model's
  figures under the papers' assumptions, with their ratio and source (:mod:`reram.apps.validate`).
* ``sensitivity``: speedup and energy ratio against chip size, link bandwidth and BN count
  (table and PNG).

Every subcommand prints a table, writes JSON with ``--json PATH`` (``-`` for stdout), and exits
with status 2 and a one-line error on bad input.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Sequence

import torch

from reram.apps._cli import OneLineParser, positive_int, run_cli
from reram.apps.speedup import (BENCH_MODELS, breakdown_table, build_bench_model, plot_speedup,
                                run_bn_sweep, run_speedup, speedup_table)
from reram.cost.gpu_profile import measure_breakdown
from reram.cost.chip import Chip, available_chips
from reram.cost.hardware import GPU_PRECISIONS, available_gpus, available_hardware
from reram.cost.scheduler import PIPELINES
from reram.cost.scheduler import schedule
from reram.runtime import resolve_device
from reram.io import atomic_write_json

__all__ = ["main"]


def _write_json(data: Any, target: str | None) -> None:
    if target is None:
        return
    if target == "-":
        print(json.dumps(data, indent=2, default=float))
    else:
        atomic_write_json(target, data)


def _parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="reram-bench", description="Speedup, breakdown and kernel benchmarks "
                     "for ReRAM + GPU chips.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    sp = sub.add_parser("speedup", help="estimated speedup/energy vs a GPU for BN masks")
    sp.add_argument("--models", nargs="+", default=["vgg11", "vgg16", "resnet18"],
                    choices=BENCH_MODELS, metavar="MODEL", help=f"of {', '.join(BENCH_MODELS)}")
    sp.add_argument("--bn-masks", nargs="+", default=["all", "none", "half"], metavar="MASK",
                    help="all, none, half (every other BN), first:K, or a bit string")
    sp.add_argument("--batch-size", type=positive_int, default=64)
    sp.add_argument("--mode", choices=("train", "inference"), default="train")
    _chip_arguments(sp)
    sp.add_argument("--elementwise-unit", choices=("digital", "gpu"), default="digital")
    sp.add_argument("--no-pipeline", action="store_true", help="run layers one after another")
    sp.add_argument("--pipeline", choices=PIPELINES, default=None,
                    help="layer: pipeline per phase (default); none; pipelayer: forward and "
                         "backward overlapped on a second array set")
    sp.add_argument("--gpu-baseline", choices=("roofline", "measured"), default="roofline",
                    help="cost the GPU-only baseline by a roofline or by timing it on --device")
    sp.add_argument("--device", default=None,
                    help="device for --gpu-baseline measured (default: cuda)")
    sp.add_argument("--sweep-bn", action="store_true",
                    help="also sweep the number of BN layers kept (first K) per model")
    sp.add_argument("--png", help="save the breakdown and BN-sweep plot here (implies --sweep-bn)")
    sp.add_argument("--json", help="write results as JSON here ('-' for stdout)")
    sp.add_argument("--quiet", action="store_true", help="no progress bar")

    bp = sub.add_parser("breakdown", help="measured time per layer type (torch profiler)")
    bp.add_argument("--model", default="vgg16", choices=BENCH_MODELS)
    bp.add_argument("--bn-mask", default="all")
    bp.add_argument("--batch-size", type=positive_int, default=32)
    bp.add_argument("--mode", choices=("train", "inference"), default="train")
    bp.add_argument("--device", default=None, help="cpu or cuda (default: cuda if present)")
    bp.add_argument("--repeats", type=positive_int, default=3)
    bp.add_argument("--hardware", "--chip", dest="hardware", default="isaac",
                    help="chip whose GPU gives the roofline column")
    bp.add_argument("--json", help="write results as JSON here ('-' for stdout)")

    vp = sub.add_parser("validate", help="published figures vs the model under the papers' assumptions")
    vp.add_argument("--no-imagenet", action="store_true",
                    help="skip the rows that trace ImageNet-size VGG-16 (about 10 s)")
    vp.add_argument("--md", help="write the table with assumptions and sources as markdown here")
    vp.add_argument("--json", help="write results as JSON here ('-' for stdout)")

    tp = sub.add_parser("sensitivity", help="speedup and energy vs chip size, link bandwidth, GPU "
                        "idle power, BN count")
    tp.add_argument("--model", default="vgg16", choices=BENCH_MODELS)
    tp.add_argument("--chip", default="isaac", help=f"a chip preset ({', '.join(available_chips())}) "
                    "or a JSON path")
    tp.add_argument("--batch-size", type=positive_int, default=64)
    tp.add_argument("--scales", nargs="+", type=float, default=[1, 2, 4, 8, 16], metavar="X",
                    help="multiples of the tiles of the fewest chips that hold the model")
    tp.add_argument("--bandwidths", nargs="+", type=float, default=[2.56e10, 1e11, 9e11, 4e12],
                    metavar="B/S", help="link bandwidths, bytes/s")
    tp.add_argument("--idle-powers", nargs="+", type=float, default=[0.0, 20.0, 40.0, 80.0],
                    metavar="W", help="GPU idle powers to sweep, W (an assumption of the GPU specs)")
    tp.add_argument("--bn-counts", nargs="+", type=int, default=None, metavar="K",
                    help="BN layers kept (first K) in the BN sweep (default 0..all)")
    tp.add_argument("--bn-kept", type=int, default=None,
                    help="BN layers kept (first K) in the size and bandwidth sweeps (default all)")
    tp.add_argument("--png", help="save the three-panel plot here")
    tp.add_argument("--json", help="write results as JSON here ('-' for stdout)")

    kp = sub.add_parser("kernels", help="crossbar layer forward-time benchmark")
    kp.add_argument("--threads", type=positive_int, default=1)
    kp.add_argument("--quick", action="store_true", help="small shapes, few repeats")
    kp.add_argument("--json", help="write results as JSON here ('-' for stdout)")
    return parser


def _chip_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--chip", "--hardware", dest="hardware", default="isaac",
                        help=f"a chip preset ({', '.join(available_hardware())}) or a JSON path "
                             "(--hardware is the older name)")
    parser.add_argument("--chip-scale", type=float, default=None, metavar="X",
                        help="multiply the chip's tiles by X")
    parser.add_argument("--gpu", choices=available_gpus(), default=None,
                        help="GPU of the chip and of the baseline (default: the chip's)")
    parser.add_argument("--gpu-precision", choices=GPU_PRECISIONS, default="fp32",
                        help="fp32, or mixed (tensor cores; needs --gpu)")


def _chip_of(args: argparse.Namespace) -> Chip:
    if args.gpu_precision != "fp32" and args.gpu is None:
        raise ValueError("--gpu-precision mixed needs --gpu (v100 or a100)")
    chip = Chip.from_hardware(args.hardware)
    if args.chip_scale is not None:
        chip = chip.replace(scale=args.chip_scale)
    if args.gpu is not None:
        chip = chip.replace(gpu=args.gpu, gpu_precision=args.gpu_precision)
    return chip


def _cmd_speedup(args: argparse.Namespace) -> None:
    chip = _chip_of(args)
    pipeline = args.pipeline or ("none" if args.no_pipeline else "layer")
    rows, plans = run_speedup(args.models, args.bn_masks, args.batch_size, args.mode,
                              chip, elementwise_unit=args.elementwise_unit,
                              pipeline=pipeline, gpu_baseline=args.gpu_baseline,
                              device=args.device, progress=not args.quiet)
    out: dict[str, Any] = {"rows": rows}
    print(speedup_table(rows))
    if args.sweep_bn or args.png:
        sweeps = {m: run_bn_sweep(m, args.batch_size, args.mode, chip,
                                  progress=not args.quiet) for m in args.models}
        out["bn_sweep"] = sweeps
        for name, sweep in sweeps.items():
            print(f"{name}: speedup with first K BN kept: " + ", ".join(
                f"{r['bn_kept']}:{r['speedup_vs_gpu']:.2f}x" for r in sweep))
        if args.png:
            out["png"] = str(plot_speedup(plans[0], sweeps, args.png))
            print(f"plot: {out['png']}")
    out["plans"] = [p.to_dict() for p in plans]
    _write_json(out, args.json)


def _cmd_breakdown(args: argparse.Namespace) -> None:
    device = resolve_device(args.device, "--device")
    model, mask, sites = build_bench_model(args.model, args.bn_mask)
    plan = schedule(model, (3, 32, 32), args.batch_size, args.mode, chip=args.hardware)
    result = measure_breakdown(model, (3, 32, 32), args.batch_size, args.mode, device=device,
                               repeats=args.repeats)
    result.update(model=args.model, bn_mask=mask, bn_sites=sites,
                  roofline_seconds_by_kind={k: v["gpu_only"] for k, v in plan.time_by_kind().items()},
                  roofline_gpu=Chip.from_hardware(args.hardware).hardware.gpu.name,
                  threads=torch.get_num_threads())
    print(breakdown_table(result))
    _write_json(result, args.json)


def _cmd_validate(args: argparse.Namespace) -> None:
    from reram.apps.validate import validation_markdown, validation_rows, validation_table

    rows = validation_rows(imagenet=not args.no_imagenet,
                           progress=lambda text: print(f"... {text}", file=sys.stderr))
    print(validation_table(rows))
    if args.md:
        from reram.io import atomic_write_text

        atomic_write_text(args.md, validation_markdown(rows) + "\n")
    _write_json(rows, args.json)


def _cmd_sensitivity(args: argparse.Namespace) -> None:
    from reram.apps.validate import plot_sensitivity, run_sensitivity, sensitivity_table

    if any(x <= 0 for x in args.scales) or any(b <= 0 for b in args.bandwidths):
        raise ValueError("--scales and --bandwidths must be positive numbers")
    if any(w < 0 for w in args.idle_powers):
        raise ValueError("--idle-powers must be numbers >= 0")
    chip = Chip.from_hardware(args.chip)
    result = run_sensitivity(args.model, chip, args.batch_size, scales=args.scales,
                             bandwidths=args.bandwidths, bn_kept=args.bn_kept,
                             bn_counts=args.bn_counts, idle_powers=args.idle_powers,
                             progress=lambda text: print(f"... {text}", file=sys.stderr))
    print(sensitivity_table(result))
    if args.png:
        title = f"{args.model} training, batch {args.batch_size}, {chip.name}"
        print(f"plot: {plot_sensitivity(result, args.png, title)}")
    _write_json(result, args.json)


def _cmd_kernels(args: argparse.Namespace) -> None:
    from reram.apps.host import describe_host, format_host
    from reram.apps.layer_benchmark import run_layer_benchmark

    rows = run_layer_benchmark(threads=args.threads, quick=args.quick)
    host = describe_host()  # the host beside the figures: CPU, ISA, versions, product speeds
    print(format_host(host))
    if rows:
        keys = list(rows[0])
        print("  ".join(keys))
        for row in rows:
            print("  ".join(f"{row.get(k):.4g}" if isinstance(row.get(k), float) else str(row.get(k))
                            for k in keys))
    _write_json({"host": host, "layers": rows}, args.json)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``reram-bench``; returns the exit status."""
    args = _parser().parse_args(argv)
    commands = {"speedup": _cmd_speedup, "breakdown": _cmd_breakdown, "kernels": _cmd_kernels,
                "validate": _cmd_validate, "sensitivity": _cmd_sensitivity}
    return run_cli("reram-bench", lambda: commands[args.command](args), input_errors=(ValueError, OSError))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
