"""The ``reram-bench`` console script and the measured per-layer-type breakdown.

Subcommands:

* ``speedup``: schedule VGG/ResNet models on a ReRAM + GPU chip for given BN masks and report
  speedup, energy ratio and throughput against the GPU-only baseline (``--sweep-bn`` adds the
  speedup as a function of the number of BN layers kept, and ``--png`` plots it).
* ``breakdown``: time each layer type of a real model on the local device (CPU, or CUDA when
  present) with the torch profiler, next to the roofline estimate of the same model's GPU side.
* ``kernels``: the crossbar layer forward-time benchmark of ``reram.layer_benchmark``.

Every subcommand prints a table, writes JSON with ``--json PATH`` (``-`` for stdout), and exits
with status 2 and a one-line error on bad input.

This module imports torch and :mod:`reram.scheduler`; models come from ``reram.models``.
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from reram.hardware import HardwareSpec, available_hardware, load_hardware
from reram.scheduler import Plan, schedule

__all__ = ["main", "measure_breakdown", "classify_op", "bn_mask_for", "run_speedup",
           "run_bn_sweep", "plot_speedup", "BENCH_MODELS"]

BENCH_MODELS = ("vgg11", "vgg16", "vgg19", "resnet18", "resnet34")
_KINDS = ("conv", "linear", "bn", "act", "pool", "other")


# --- measured breakdown ---------------------------------------------------------------------

def classify_op(name: str) -> str:
    """Layer kind of a profiler op name (``"aten::mkldnn_convolution"`` -> ``"conv"``).

    Returns one of ``"conv"``, ``"linear"``, ``"bn"``, ``"act"``, ``"pool"``, ``"other"``.
    """
    low = name.lower()
    if "batch_norm" in low or "batchnorm" in low:
        return "bn"
    if "conv" in low:
        return "conv"
    if ("addmm" in low or low in ("aten::mm", "aten::linear", "aten::matmul", "aten::bmm")
            or "mmbackward" in low or "linear" in low):
        return "linear"
    if "pool" in low:
        return "pool"
    if any(k in low for k in ("relu", "threshold", "gelu", "silu", "sigmoid", "tanh", "hardtanh")):
        return "act"
    return "other"


def measure_breakdown(model: nn.Module, input_shape: Sequence[int], batch_size: int = 32,
                      mode: str = "train", device: str | torch.device = "cpu",
                      repeats: int = 3, warmup: int = 1) -> dict[str, Any]:
    """Time each layer type of ``model`` on ``device`` with the torch profiler.

    Each iteration is one forward pass (inference, no grad) or one forward, backward and SGD
    step (train). The self time of every profiled operator (device time on CUDA, CPU time
    otherwise) is assigned to a layer kind by :func:`classify_op`.

    Args:
        model: the model; a deep copy is timed, so its weights and device do not change.
        input_shape: per-sample input shape.
        batch_size: samples per batch.
        mode: ``"train"`` or ``"inference"``.
        device: ``"cpu"`` or ``"cuda"`` (or a ``torch.device``).
        repeats: profiled iterations (results are per iteration).
        warmup: unprofiled iterations first.

    Returns:
        ``{"device", "mode", "batch_size", "seconds_by_kind", "fraction_by_kind", "total_s"}``;
        seconds are per batch.

    Raises:
        ValueError: on a bad argument or an unavailable device.
    """
    from torch.profiler import ProfilerActivity, profile

    if mode not in ("train", "inference"):
        raise ValueError(f"mode must be 'train' or 'inference', got {mode!r}")
    if batch_size < 1 or repeats < 1 or warmup < 0:
        raise ValueError(f"batch_size and repeats must be >= 1 and warmup >= 0, got "
                         f"{batch_size}, {repeats}, {warmup}")
    try:
        device = torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"device must be 'cpu' or 'cuda[:N]', got {str(device)!r}") from err
    if device.type == "cuda" and (not torch.cuda.is_available()
                                  or (device.index or 0) >= torch.cuda.device_count()):
        raise ValueError(f"device {str(device)!r} is not available on this machine")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda[:N]', got {str(device)!r}")
    model = copy.deepcopy(model).to(device)
    x = torch.randn(batch_size, *input_shape, device=device)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3) if mode == "train" else None

    def step() -> None:
        if optimizer is None:
            model.eval()
            with torch.no_grad():
                model(x)
        else:
            model.train()
            optimizer.zero_grad(set_to_none=True)
            model(x).float().sum().backward()
            optimizer.step()

    for _ in range(warmup):
        step()
    cuda = device.type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    if cuda:
        torch.cuda.synchronize(device)
    with profile(activities=activities) as prof:
        for _ in range(repeats):
            step()
        if cuda:
            torch.cuda.synchronize(device)
    seconds = {kind: 0.0 for kind in _KINDS}
    for event in prof.key_averages():
        if str(getattr(event, "device_type", "")).endswith("CUDA"):
            continue  # kernel rows: their time is already in the op that launched them
        micros = (getattr(event, "self_device_time_total", 0.0) if cuda
                  else event.self_cpu_time_total)
        seconds[classify_op(event.key)] += micros * 1e-6 / repeats
    total = sum(seconds.values())
    return {"device": str(device), "mode": mode, "batch_size": batch_size,
            "seconds_by_kind": seconds,
            "fraction_by_kind": {k: (v / total if total > 0 else 0.0) for k, v in seconds.items()},
            "total_s": total}


# --- models and BN masks --------------------------------------------------------------------

def _models_module():
    try:
        import reram.models as models
    except ImportError as err:  # pragma: no cover - depends on the installed tree
        raise ValueError(f"reram.models is not available: {err}") from err
    return models


def bn_mask_for(spec: str, num_sites: int) -> str:
    """Bit string for a mask spec: ``all``, ``none``, ``half`` (every other site, starting with
    the first), ``first:K`` (the first K sites), or an explicit bit string.
    """
    spec = spec.strip().lower()
    if spec == "all":
        return "1" * num_sites
    if spec == "none":
        return "0" * num_sites
    if spec == "half":
        return "".join("1" if i % 2 == 0 else "0" for i in range(num_sites))
    if spec.startswith("first:"):
        try:
            kept = int(spec.split(":", 1)[1])
        except ValueError:
            kept = -1
        if not 0 <= kept <= num_sites:
            raise ValueError(f"bn mask {spec!r}: K must be an int in 0..{num_sites}")
        return "1" * kept + "0" * (num_sites - kept)
    if set(spec) <= {"0", "1"} and len(spec) == num_sites:
        return spec
    raise ValueError(f"bn mask must be all, none, half, first:K or {num_sites} bits of 0/1, "
                     f"got {spec!r}")


def _build(name: str, mask_spec: str) -> tuple[nn.Module, str, int]:
    models = _models_module()
    if name not in BENCH_MODELS:
        raise ValueError(f"model must be one of {', '.join(BENCH_MODELS)}, got {name!r}")
    sites = models.num_bn_sites(name)
    mask = bn_mask_for(mask_spec, sites)
    return models.build_model(name, bn_mask=mask), mask, sites


def _row(name: str, mask: str, sites: int, plan: Plan) -> dict[str, Any]:
    return {"model": name, "bn_mask": mask, "bn_kept": mask.count("1"), "bn_sites": sites,
            "mode": plan.mode, "batch_size": plan.batch_size, "hardware": plan.hardware,
            "speedup_vs_gpu": plan.speedup_vs_gpu, "energy_ratio_vs_gpu": plan.energy_ratio_vs_gpu,
            "throughput": plan.throughput, "gpu_throughput": plan.gpu_throughput,
            "latency_s": plan.latency_s, "gpu_latency_s": plan.gpu_latency_s,
            "energy_j": plan.energy_j, "gpu_energy_j": plan.gpu_energy_j,
            "gpu_utilization": plan.gpu_utilization, "barriers": plan.barriers,
            "bottleneck": plan.bottleneck, "crossbars_used": plan.crossbars_used,
            "crossbars_available": plan.crossbars_available}


def run_speedup(models: Sequence[str], masks: Sequence[str], batch_size: int = 64,
                mode: str = "train", hardware: str | HardwareSpec = "isaac", *,
                elementwise_unit: str = "digital", pipeline: bool = True,
                gpu_baseline: str = "roofline", device: str | None = None,
                progress: bool = True) -> tuple[list[dict], list[Plan]]:
    """Schedule every (model, BN mask) pair; return table rows and the plans."""
    from tqdm import tqdm

    hw = load_hardware(hardware)
    rows, plans = [], []
    jobs = [(m, k) for m in models for k in masks]
    for name, mask_spec in tqdm(jobs, desc="speedup", disable=not progress, file=sys.stderr):
        model, mask, sites = _build(name, mask_spec)
        plan = schedule(model, (3, 32, 32), batch_size, mode, hardware=hw,
                        elementwise_unit=elementwise_unit, pipeline=pipeline,
                        gpu_baseline=gpu_baseline, device=device)
        plan.model_name = name
        rows.append(_row(name, mask, sites, plan))
        plans.append(plan)
    return rows, plans


def run_bn_sweep(model: str, batch_size: int = 64, mode: str = "train", hardware: str = "isaac",
                 *, progress: bool = True) -> list[dict]:
    """Speedup with the first K BN sites kept, K = 0..P (nested masks)."""
    sites = _models_module().num_bn_sites(model)
    rows, _ = run_speedup([model], [f"first:{k}" for k in range(sites + 1)], batch_size, mode,
                          hardware, progress=progress)
    return rows


def plot_speedup(plan: Plan, sweeps: dict[str, list[dict]], path: str | Path) -> Path:
    """PNG: per-layer-type time of ``plan`` (GPU-only vs heterogeneous) and speedup vs BN kept."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    by_kind = plan.time_by_kind()
    labels = ["GPU only", "ReRAM+GPU\n(layer busy time)", "ReRAM+GPU\n(pipelined batch)"]
    bottoms = [0.0, 0.0, 0.0]
    for kind in sorted(by_kind):
        values = [by_kind[kind]["gpu_only"] * 1e3, by_kind[kind]["heterogeneous"] * 1e3, 0.0]
        left.bar(labels, values, bottom=bottoms, label=kind)
        bottoms = [b + v for b, v in zip(bottoms, values)]
    left.bar(labels[2:], [plan.latency_s * 1e3], color="grey", label="batch latency")
    left.set_ylabel("ms per batch")
    left.set_title(f"{plan.model_name} {plan.mode}, batch {plan.batch_size}, {plan.hardware}, "
                   f"{plan.bn_count} BN")
    left.legend(fontsize=8)
    for name, rows in sweeps.items():
        right.plot([r["bn_kept"] for r in rows], [r["speedup_vs_gpu"] for r in rows], "o-",
                   label=name)
    right.set_xlabel("BN layers kept (the first K)")
    right.set_ylabel("speedup vs GPU-only")
    right.set_title("speedup vs BN layers kept")
    right.grid(alpha=0.3)
    right.legend()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# --- formatting -----------------------------------------------------------------------------

def _speedup_table(rows: Sequence[dict]) -> str:
    head = (f"{'model':<9} {'BN kept':>8} {'mode':<9} {'batch':>5} {'speedup':>8} "
            f"{'energy x':>9} {'samples/s':>10} {'GPU samples/s':>13}  bottleneck")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['model']:<9} {r['bn_kept']:>3}/{r['bn_sites']:<4} {r['mode']:<9} "
                     f"{r['batch_size']:>5} {r['speedup_vs_gpu']:>7.2f}x {r['energy_ratio_vs_gpu']:>8.2f}x "
                     f"{r['throughput']:>10.0f} {r['gpu_throughput']:>13.0f}  "
                     f"{r['bottleneck']['name']} ({r['bottleneck']['phase']})")
    return "\n".join(lines)


def _breakdown_table(result: dict[str, Any]) -> str:
    lines = [f"{'kind':<7} {'measured ms':>12} {'share':>7} {'roofline ms':>12} {'share':>7}"]
    roof = result.get("roofline_seconds_by_kind", {})
    roof_total = sum(roof.values()) or 1.0
    for kind in _KINDS:
        seconds = result["seconds_by_kind"].get(kind, 0.0)
        lines.append(f"{kind:<7} {seconds * 1e3:>12.3f} {result['fraction_by_kind'].get(kind, 0):>7.1%} "
                     f"{roof.get(kind, 0.0) * 1e3:>12.4f} {roof.get(kind, 0.0) / roof_total:>7.1%}")
    lines.append(f"total {result['total_s'] * 1e3:.3f} ms per batch on {result['device']} "
                 f"({result['mode']}, batch {result['batch_size']})")
    return "\n".join(lines)


def _write_json(data: Any, target: str | None) -> None:
    if target is None:
        return
    text = json.dumps(data, indent=2, default=float)
    if target == "-":
        print(text)
    else:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        Path(target).write_text(text + "\n", encoding="utf-8")


# --- CLI ------------------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line."""

    def error(self, message: str) -> None:  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {message}\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive int, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive int, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="reram-bench", description="Speedup, breakdown and kernel benchmarks "
                     "for ReRAM + GPU chips.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sp = sub.add_parser("speedup", help="estimated speedup/energy vs a GPU for BN masks")
    sp.add_argument("--models", nargs="+", default=["vgg11", "vgg16", "resnet18"],
                    choices=BENCH_MODELS, metavar="MODEL", help=f"of {', '.join(BENCH_MODELS)}")
    sp.add_argument("--bn-masks", nargs="+", default=["all", "none", "half"], metavar="MASK",
                    help="all, none, half (every other BN), first:K, or a bit string")
    sp.add_argument("--batch-size", type=_positive_int, default=64)
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
    bp.add_argument("--batch-size", type=_positive_int, default=32)
    bp.add_argument("--mode", choices=("train", "inference"), default="train")
    bp.add_argument("--device", default=None, help="cpu or cuda (default: cuda if present)")
    bp.add_argument("--repeats", type=_positive_int, default=3)
    bp.add_argument("--hardware", default="isaac", help="for the roofline column")
    bp.add_argument("--json", help="write results as JSON here ('-' for stdout)")

    kp = sub.add_parser("kernels", help="crossbar layer forward-time benchmark")
    kp.add_argument("--threads", type=_positive_int, default=1)
    kp.add_argument("--quick", action="store_true", help="small shapes, few repeats")
    kp.add_argument("--json", help="write results as JSON here ('-' for stdout)")
    return parser


def _cmd_speedup(args: argparse.Namespace) -> None:
    rows, plans = run_speedup(args.models, args.bn_masks, args.batch_size, args.mode,
                              args.hardware, elementwise_unit=args.elementwise_unit,
                              pipeline=not args.no_pipeline, gpu_baseline=args.gpu_baseline,
                              device=args.device, progress=not args.quiet)
    out: dict[str, Any] = {"rows": rows}
    print(_speedup_table(rows))
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
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    model, mask, sites = _build(args.model, args.bn_mask)
    plan = schedule(model, (3, 32, 32), args.batch_size, args.mode, hardware=args.hardware)
    result = measure_breakdown(model, (3, 32, 32), args.batch_size, args.mode, device=device,
                               repeats=args.repeats)
    result.update(model=args.model, bn_mask=mask, bn_sites=sites,
                  roofline_seconds_by_kind={k: v["gpu_only"] for k, v in plan.time_by_kind().items()},
                  roofline_gpu=load_hardware(args.hardware).gpu.name,
                  threads=torch.get_num_threads())
    print(_breakdown_table(result))
    _write_json(result, args.json)


def _cmd_kernels(args: argparse.Namespace) -> None:
    try:
        from reram.layer_benchmark import run_layer_benchmark
    except ImportError as err:
        raise ValueError(f"the kernels benchmark needs reram.layer_benchmark, which is missing "
                         f"({err})") from err
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
    try:
        {"speedup": _cmd_speedup, "breakdown": _cmd_breakdown, "kernels": _cmd_kernels}[
            args.command](args)
    except (ValueError, OSError) as err:
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(f"reram-bench: error: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
