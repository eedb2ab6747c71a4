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
* ``sensitivity``: speedup and energy ratio against chip size, link bandwidth, GPU idle power
  and policy, and BN count (table and PNG).
* ``chip``: a chip's components with their area, peak and always-on power and sources.

Every subcommand prints a table, writes JSON with ``--json PATH`` (``-`` for stdout), and exits
with status 2 and a one-line error on bad input.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Sequence

import torch

from reram.apps._cli import OneLineParser, check_output_path, positive_int, run_cli
from reram.apps.speedup import (BENCH_MODELS, breakdown_table, build_bench_model, plot_speedup,
                                run_bn_sweep, run_speedup, speedup_table)
from reram.cost.gpu_profile import measure_breakdown
from reram.cost.chip import Chip, available_chips
from reram.cost.gpu import bundled_gpu_of, measured_figures, with_measured_gpu
from reram.cost.hardware import (GPU_IDLE_POLICIES, GPU_PRECISIONS, GPU_RATES, available_gpus,
                                 gpu_file, is_spec_path)
from reram.cost.scheduler import PIPELINES
from reram.cost.scheduler import schedule
from reram.runtime import resolve_device
from reram.io import atomic_write_json

__all__ = ["main", "load_chip", "chip_summary"]


def _table_stream(args: argparse.Namespace) -> Any:
    """Where tables go: stderr when ``--json -`` makes stdout the JSON's."""
    return sys.stderr if getattr(args, "json", None) == "-" else sys.stdout


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
    bp.add_argument("--chip", default="isaac", help=_CHIP_HELP + "; its GPU gives the roofline column")
    bp.add_argument("--json", help="write results as JSON here ('-' for stdout)")

    vp = sub.add_parser("validate", help="published figures vs the model under the papers' assumptions")
    vp.add_argument("--no-imagenet", action="store_true",
                    help="skip the rows that trace ImageNet-size VGG-16 (about 10 s)")
    vp.add_argument("--md", help="write the table with assumptions and sources as markdown here")
    vp.add_argument("--json", help="write results as JSON here ('-' for stdout)")

    tp = sub.add_parser("sensitivity", help="speedup and energy vs chip size, link bandwidth, GPU "
                        "idle power, BN count")
    tp.add_argument("--model", default="vgg16", choices=BENCH_MODELS)
    _chip_arguments(tp)
    tp.add_argument("--batch-size", type=positive_int, default=64)
    tp.add_argument("--scales", nargs="+", type=float, default=[1, 2, 4, 8, 16], metavar="X",
                    help="multiples of the tiles of the fewest chips that hold the model")
    tp.add_argument("--bandwidths", nargs="+", type=float, default=[2.56e10, 1e11, 9e11, 4e12],
                    metavar="B/S", help="link bandwidths, bytes/s")
    tp.add_argument("--idle-powers", nargs="+", type=float, default=[0.0, 20.0, 40.0, 80.0],
                    metavar="W", help="GPU idle powers to sweep, W (an assumption of the GPU specs)")
    tp.add_argument("--idle-policies", nargs="+", choices=GPU_IDLE_POLICIES,
                    default=list(GPU_IDLE_POLICIES), metavar="POLICY",
                    help=f"GPU idle policies to sweep ({', '.join(GPU_IDLE_POLICIES)})")
    tp.add_argument("--bn-counts", nargs="+", type=int, default=None, metavar="K",
                    help="BN layers kept (first K) in the BN sweep (default 0..all)")
    tp.add_argument("--bn-kept", type=int, default=None,
                    help="BN layers kept (first K) in the size and bandwidth sweeps (default all)")
    tp.add_argument("--png", help="save the four-panel plot here (size, link, GPU idle power, "
                    "BN count)")
    tp.add_argument("--json", help="write results as JSON here ('-' for stdout)")

    cp = sub.add_parser("chip", help="a chip's components: area and power with sources")
    cp.add_argument("--chip", default="isaac", help=_CHIP_HELP)
    cp.add_argument("--node-nm", type=float, default=None, help="report at this node")
    cp.add_argument("--frontend", action="store_true",
                    help="size a TIA per column (reram.analog, ngspice) for the chip's tile and "
                         "cycle and show it beside the survey-model figures")
    cp.add_argument("--tia-budget", type=positive_int, default=200, help="TIA sizing simulations")
    cp.add_argument("--g-max", type=float, default=None,
                    help="cell g_max for the TIA's full scale, S (default the chip config's)")
    cp.add_argument("--adc-range", type=float, default=None,
                    help="ADC full scale as a share of the largest column current (default the "
                         "config's)")
    cp.add_argument("--json", help="write results as JSON here ('-' for stdout)")

    kp = sub.add_parser("kernels", help="crossbar layer forward-time benchmark")
    kp.add_argument("--threads", type=positive_int, default=1)
    kp.add_argument("--quick", action="store_true", help="small shapes, few repeats")
    kp.add_argument("--json", help="write results as JSON here ('-' for stdout)")
    return parser


_CHIP_HELP = (f"a chip preset ({', '.join(available_chips())}) or a chip file (a path with a "
              "'/' or a .json suffix, e.g. ./isaac.json)")


def _chip_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--chip", default="isaac", help=_CHIP_HELP)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--chip-scale", type=float, default=None, metavar="X",
                      help="multiply the chip's tiles by X (a sensitivity, not a stated size)")
    size.add_argument("--equal-area", action="store_true",
                      help="size the ReRAM part to the GPU's die area, built at the GPU's node")
    size.add_argument("--equal-power", action="store_true",
                      help="size the ReRAM part so its peak power is the GPU's TDP, at the GPU's node")
    parser.add_argument("--gpu", choices=available_gpus(), default=None,
                        help="GPU of the chip and of the baseline (default: the chip's)")
    parser.add_argument("--gpu-precision", choices=GPU_PRECISIONS, default="mixed",
                        help="mixed (tensor cores; the default for a fixed-point chip; fp32 where "
                             "the GPU has none) or fp32")
    parser.add_argument("--gpu-rate", choices=GPU_RATES, default="measured",
                        help="measured (published training rates; the roofline where none is "
                             "bundled) or roofline (datasheet peaks)")
    parser.add_argument("--gpu-idle-policy", choices=GPU_IDLE_POLICIES, default="idle",
                        help="idle: the GPU is on all batch; off: powered only while it works; "
                             "shared: other jobs pay its idle power")


def load_chip(text: str) -> Chip:
    """A preset name or a chip file (:func:`reram.cost.hardware.is_spec_path`)."""
    if is_spec_path(text):
        return Chip.from_json(text)
    return Chip.preset(text)


def _chip_of(args: argparse.Namespace) -> tuple[Chip, list[str]]:
    """The chip the arguments describe and notes on what was substituted."""
    chip = load_chip(args.chip)
    notes: list[str] = []
    gpu_name = args.gpu or bundled_gpu_of(chip)
    if gpu_name is not None:
        precision, rate = args.gpu_precision, args.gpu_rate
        if precision == "mixed" and "mixed" not in gpu_file(gpu_name)["peak_flops"]:
            notes.append(f"{gpu_name} has no tensor cores: fp32 baseline")
            precision = "fp32"
        if rate == "measured" and precision not in ((measured_figures(gpu_name) or {})
                                                    .get("img_per_s", {})):
            notes.append(f"no measured {precision} rate bundled for {gpu_name}: roofline baseline")
            rate = "roofline"
        chip = with_measured_gpu(chip, gpu_name, precision, rate)
    elif args.gpu_precision != "fp32" or args.gpu_rate != "roofline":
        notes.append("the chip's GPU is no bundled one: its own figures are used")
    chip = chip.replace(gpu_idle_policy=args.gpu_idle_policy)
    gpu = chip.hardware.gpu
    if args.chip_scale is not None:
        chip = chip.replace(scale=args.chip_scale)
    elif args.equal_area or args.equal_power:
        if gpu.die_area_mm2 is None or gpu.tdp_w is None or gpu.node_nm is None:
            raise ValueError(f"--equal-area/--equal-power need the GPU's die area, TDP and node; "
                             f"{gpu.name} has none (use --gpu)")
        chip = (chip.at_area(gpu.die_area_mm2, node_nm=gpu.node_nm) if args.equal_area
                else chip.at_power(gpu.tdp_w, node_nm=gpu.node_nm))
        notes.append(f"sized to the GPU ({gpu.die_area_mm2:g} mm2, {gpu.tdp_w:g} W) at "
                     f"{gpu.node_nm:g} nm")
    if chip.hardware.silicon is not None:
        notes.append(f"ReRAM part: {chip.area_mm2():,.0f} mm2, {chip.power_w():,.0f} W peak, "
                     f"{chip.hardware.reram.static_power_w:.1f} W static, "
                     f"{chip.hardware.reram.tiles:,} tiles at {chip.hardware.silicon.node_nm:g} nm")
    else:
        notes.append(f"chip {chip.name!r} states no silicon: its size is not known")
    notes += chip.notes()
    notes.append(f"GPU baseline: {chip.hardware.gpu.name}, idle policy "
                 f"{chip.hardware.gpu.idle_policy}")
    return chip, notes


def _print_notes(notes: list[str]) -> None:
    """The chip's notes (size, ADC bits, GPU baseline), after the work, on stderr."""
    for note in notes:
        print(f"note: {note}", file=sys.stderr)


def _check_outputs(args: argparse.Namespace) -> None:
    """Every output path the command will write, checked before any work."""
    for flag in ("json", "png", "md"):
        target = getattr(args, flag, None)
        if target and target != "-":
            check_output_path(target, f"--{flag}")


def _cmd_speedup(args: argparse.Namespace) -> None:
    chip, notes = _chip_of(args)
    pipeline = args.pipeline or ("none" if args.no_pipeline else "layer")
    rows, plans = run_speedup(args.models, args.bn_masks, args.batch_size, args.mode,
                              chip, elementwise_unit=args.elementwise_unit,
                              pipeline=pipeline, gpu_baseline=args.gpu_baseline,
                              device=args.device, progress=not args.quiet)
    out: dict[str, Any] = {"rows": rows, "notes": notes, "chip": chip_summary(chip)}
    print(speedup_table(rows), file=_table_stream(args))
    _print_notes(notes)
    if args.sweep_bn or args.png:
        sweeps = {m: run_bn_sweep(m, args.batch_size, args.mode, chip,
                                  progress=not args.quiet) for m in args.models}
        out["bn_sweep"] = sweeps
        for name, sweep in sweeps.items():
            print(f"{name}: speedup with first K BN kept: " + ", ".join(
                f"{r['bn_kept']}:{r['speedup_vs_gpu']:.2f}x" for r in sweep), file=_table_stream(args))
        if args.png:
            out["png"] = str(plot_speedup(plans[0], sweeps, args.png))
            print(f"plot: {out['png']}", file=_table_stream(args))
    out["plans"] = [p.to_dict() for p in plans]
    _write_json(out, args.json)


def _cmd_breakdown(args: argparse.Namespace) -> None:
    device = resolve_device(args.device, "--device")
    model, mask, sites = build_bench_model(args.model, args.bn_mask)
    chip = load_chip(args.chip)
    plan = schedule(model, (3, 32, 32), args.batch_size, args.mode, chip=chip)
    result = measure_breakdown(model, (3, 32, 32), args.batch_size, args.mode, device=device,
                               repeats=args.repeats)
    result.update(model=args.model, bn_mask=mask, bn_sites=sites,
                  roofline_seconds_by_kind={k: v["gpu_only"] for k, v in plan.time_by_kind().items()},
                  roofline_gpu=chip.hardware.gpu.name,
                  threads=torch.get_num_threads())
    print(breakdown_table(result), file=_table_stream(args))
    _write_json(result, args.json)


def _cmd_validate(args: argparse.Namespace) -> None:
    from reram.apps.validate import validation_markdown, validation_rows, validation_table

    rows = validation_rows(imagenet=not args.no_imagenet,
                           progress=lambda text: print(f"... {text}", file=sys.stderr))
    print(validation_table(rows), file=_table_stream(args))
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
    chip, notes = _chip_of(args)
    result = run_sensitivity(args.model, chip, args.batch_size, scales=args.scales,
                             bandwidths=args.bandwidths, bn_kept=args.bn_kept,
                             bn_counts=args.bn_counts, idle_powers=args.idle_powers,
                             idle_policies=args.idle_policies,
                             progress=lambda text: print(f"... {text}", file=sys.stderr))
    print(sensitivity_table(result), file=_table_stream(args))
    _print_notes(notes)
    if args.png:
        title = f"{args.model} training, batch {args.batch_size}, {chip.name}"
        print(f"plot: {plot_sensitivity(result, args.png, title)}", file=_table_stream(args))
    _write_json(result, args.json)


def chip_summary(chip: Chip, node_nm: float | None = None) -> dict[str, Any]:
    """A chip's size as JSON: name, tiles, crossbars, area, peak and static power, components."""
    out: dict[str, Any] = {"name": chip.name, "tiles": chip.hardware.reram.tiles,
                           "crossbars": chip.total_crossbars,
                           "static_power_w": chip.hardware.reram.static_power_w,
                           "gpu": chip.hardware.gpu.name, "notes": chip.notes()}
    if chip.hardware.silicon is not None:
        out.update(area_mm2=chip.area_mm2(node_nm), power_w=chip.power_w(node_nm),
                   inference_area_mm2=chip.area_mm2(node_nm, training=False),
                   inference_power_w=chip.power_w(node_nm, training=False),
                   node_nm=node_nm or chip.hardware.silicon.node_nm,
                   components=[c.to_dict() for c in chip.components(node_nm)])
    return out


def _cmd_chip(args: argparse.Namespace) -> None:
    chip = load_chip(args.chip)
    frontend = None
    if args.frontend:
        from reram.apps.frontend_chip import frontend_chip

        frontend = frontend_chip(chip, budget=args.tia_budget, g_max_s=args.g_max,
                                 adc_range=args.adc_range)
        chip = frontend.chip
    summary = chip_summary(chip, args.node_nm)
    if frontend is not None:
        summary["frontend"] = {"specs": frontend.specs, "metrics": frontend.metrics,
                               "rows": frontend.rows}
    if "components" not in summary:
        raise ValueError(f"chip {chip.name!r} has no silicon section: no stated area or power")
    head = f"{'component':<24} {'count':>10} {'area mm2':>10} {'peak W':>9} {'static W':>9}"
    lines = [head, "-" * len(head)]
    for c in summary["components"]:
        lines.append(f"{c['name']:<24} {c['count']:>10,} {c['area_mm2']:>10.3f} "
                     f"{c['power_w']:>9.3f} {c['static_w']:>9.3f}")
    lines.append(f"{'total':<24} {'':>10} {summary['area_mm2']:>10.2f} {summary['power_w']:>9.2f} "
                 f"{summary['static_power_w']:>9.3f}  ({summary['node_nm']:g} nm, "
                 f"{summary['tiles']} tiles, {summary['crossbars']:,} crossbars)")
    lines.append(f"{'without training silicon':<24} {'':>10} {summary['inference_area_mm2']:>10.2f} "
                 f"{summary['inference_power_w']:>9.2f}")
    lines += [f"note: {n}" for n in summary["notes"]]
    if frontend is not None:
        lines += ["", "TIA specs: " + "; ".join(frontend.specs),
                  f"{'per column read':<42} {'energy pJ':>10} {'area um2':>10}"]
        lines += [f"{r['what']:<42} {r['energy_per_read_j'] * 1e12:>10.3g} {r['area_um2']:>10.4g}"
                  for r in frontend.rows]
    print("\n".join(lines), file=_table_stream(args))
    _write_json(summary, args.json)


def _cmd_kernels(args: argparse.Namespace) -> None:
    from reram.apps.host import describe_host, format_host
    from reram.apps.layer_benchmark import run_layer_benchmark

    rows = run_layer_benchmark(threads=args.threads, quick=args.quick)
    host = describe_host()  # the host beside the figures: CPU, ISA, versions, product speeds
    print(format_host(host), file=_table_stream(args))
    if rows:
        keys = list(rows[0])
        print("  ".join(keys), file=_table_stream(args))
        for row in rows:
            print("  ".join(f"{row.get(k):.4g}" if isinstance(row.get(k), float) else str(row.get(k))
                            for k in keys), file=_table_stream(args))
    _write_json({"host": host, "layers": rows}, args.json)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``reram-bench``; returns the exit status."""
    args = _parser().parse_args(argv)
    commands = {"speedup": _cmd_speedup, "breakdown": _cmd_breakdown, "kernels": _cmd_kernels,
                "validate": _cmd_validate, "sensitivity": _cmd_sensitivity, "chip": _cmd_chip}

    def body() -> None:
        _check_outputs(args)
        commands[args.command](args)

    return run_cli("reram-bench", body, input_errors=(ValueError, OSError))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
