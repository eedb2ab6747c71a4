"""The ``reram-bench`` console script.

Subcommands:

* ``speedup``: schedule VGG/ResNet models on a ReRAM + GPU chip for given BN masks and report
  speedup, energy ratio and throughput against the GPU-only baseline (``--sweep-bn`` adds the
  speedup as a function of the number of BN layers kept, and ``--png`` plots it).
* ``breakdown``: time each layer type of a real model on the local device (CPU, or CUDA when
  present) with the torch profiler, next to the roofline estimate of the same model's GPU side.
* ``kernels``: the crossbar layer forward-time benchmark of :mod:`reram.apps.layer_benchmark`.

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
from reram.cost.hardware import available_hardware, load_hardware
from reram.cost.scheduler import schedule
from reram.device import resolve_device
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
    sp.add_argument("--hardware", default="isaac",
                    help=f"a bundled config ({', '.join(available_hardware())}) or a JSON path")
    sp.add_argument("--elementwise-unit", choices=("digital", "gpu"), default="digital")
    sp.add_argument("--no-pipeline", action="store_true", help="run layers one after another")
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
    bp.add_argument("--hardware", default="isaac", help="for the roofline column")
    bp.add_argument("--json", help="write results as JSON here ('-' for stdout)")

    kp = sub.add_parser("kernels", help="crossbar layer forward-time benchmark")
    kp.add_argument("--threads", type=positive_int, default=1)
    kp.add_argument("--quick", action="store_true", help="small shapes, few repeats")
    kp.add_argument("--json", help="write results as JSON here ('-' for stdout)")
    return parser


def _cmd_speedup(args: argparse.Namespace) -> None:
    rows, plans = run_speedup(args.models, args.bn_masks, args.batch_size, args.mode,
                              args.hardware, elementwise_unit=args.elementwise_unit,
                              pipeline=not args.no_pipeline, gpu_baseline=args.gpu_baseline,
                              device=args.device, progress=not args.quiet)
    out: dict[str, Any] = {"rows": rows}
    print(speedup_table(rows))
    if args.sweep_bn or args.png:
        sweeps = {m: run_bn_sweep(m, args.batch_size, args.mode, args.hardware,
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
    plan = schedule(model, (3, 32, 32), args.batch_size, args.mode, hardware=args.hardware)
    result = measure_breakdown(model, (3, 32, 32), args.batch_size, args.mode, device=device,
                               repeats=args.repeats)
    result.update(model=args.model, bn_mask=mask, bn_sites=sites,
                  roofline_seconds_by_kind={k: v["gpu_only"] for k, v in plan.time_by_kind().items()},
                  roofline_gpu=load_hardware(args.hardware).gpu.name,
                  threads=torch.get_num_threads())
    print(breakdown_table(result))
    _write_json(result, args.json)


def _cmd_kernels(args: argparse.Namespace) -> None:
    from reram.apps.layer_benchmark import run_layer_benchmark

    rows = run_layer_benchmark(threads=args.threads, quick=args.quick)
    if rows:
        keys = list(rows[0])
        print("  ".join(keys))
        for row in rows:
            print("  ".join(f"{row.get(k):.4g}" if isinstance(row.get(k), float) else str(row.get(k))
                            for k in keys))
    _write_json(rows, args.json)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``reram-bench``; returns the exit status."""
    args = _parser().parse_args(argv)
    commands = {"speedup": _cmd_speedup, "breakdown": _cmd_breakdown, "kernels": _cmd_kernels}
    return run_cli("reram-bench", lambda: commands[args.command](args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
