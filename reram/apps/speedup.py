"""Speedup estimates of the benchmark models for BN masks (``reram-bench speedup``), and plots.

Joins the model zoo (``reram.models``) and the cost model (``reram.cost``); the command line
lives in :mod:`reram.apps.bench_cli`.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Sequence

from torch import nn

import reram.models as models_zoo
from reram.io import save_figure
from reram.cost.gpu_profile import MEASURED_KINDS
from reram.cost.chip import Chip
from reram.cost.hardware import HardwareSpec
from reram.cost.scheduler import Plan, schedule

__all__ = ["BENCH_MODELS", "bn_mask_for", "build_bench_model", "run_speedup", "run_bn_sweep",
           "plot_speedup", "speedup_table", "breakdown_table"]

BENCH_MODELS = ("vgg11", "vgg16", "vgg19", "resnet18", "resnet34")


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


def build_bench_model(name: str, mask_spec: str) -> tuple[nn.Module, str, int]:
    if name not in BENCH_MODELS:
        raise ValueError(f"model must be one of {', '.join(BENCH_MODELS)}, got {name!r}")
    sites = models_zoo.num_bn_sites(name)
    mask = bn_mask_for(mask_spec, sites)
    return models_zoo.build_model(name, bn_mask=mask), mask, sites


def _row(name: str, mask: str, sites: int, plan: Plan) -> dict[str, Any]:
    return {"model": name, "bn_mask": mask, "bn_kept": mask.count("1"), "bn_sites": sites,
            "mode": plan.mode, "batch_size": plan.batch_size, "hardware": plan.hardware,
            "speedup_vs_gpu": plan.speedup_vs_gpu, "energy_ratio_vs_gpu": plan.energy_ratio_vs_gpu,
            "throughput": plan.throughput, "gpu_throughput": plan.gpu_throughput,
            "latency_s": plan.latency_s, "gpu_latency_s": plan.gpu_latency_s,
            "energy_j": plan.energy_j, "gpu_energy_j": plan.gpu_energy_j,
            "gpu_utilization": plan.gpu_utilization, "barriers": plan.barriers,
            "bottleneck": plan.bottleneck, "crossbars_used": plan.crossbars_used,
            "crossbars_available": plan.crossbars_available, "gpu": plan.gpu_name,
            "pipeline": plan.pipeline, "energy_breakdown": plan.energy_breakdown,
            "gpu_energy_breakdown": plan.gpu_energy_breakdown}


def run_speedup(models: Sequence[str], masks: Sequence[str], batch_size: int = 64,
                mode: str = "train", hardware: str | HardwareSpec | Chip = "isaac", *,
                elementwise_unit: str = "digital", pipeline: bool | str = True,
                gpu_baseline: str = "roofline", device: str | None = None,
                progress: bool = True) -> tuple[list[dict], list[Plan]]:
    """Schedule every (model, BN mask) pair on one chip (a preset name, a JSON path, a spec or
    a :class:`~reram.cost.chip.Chip`); return table rows and the plans."""
    from tqdm import tqdm

    chip = Chip.from_hardware(hardware)
    rows, plans = [], []
    jobs = [(m, k) for m in models for k in masks]
    for name, mask_spec in tqdm(jobs, desc="speedup", disable=not progress, file=sys.stderr):
        model, mask, sites = build_bench_model(name, mask_spec)
        plan = schedule(model, (3, 32, 32), batch_size, mode, chip=chip,
                        elementwise_unit=elementwise_unit, pipeline=pipeline,
                        gpu_baseline=gpu_baseline, device=device)
        plan.model_name = name
        rows.append(_row(name, mask, sites, plan))
        plans.append(plan)
    return rows, plans


def run_bn_sweep(model: str, batch_size: int = 64, mode: str = "train",
                 hardware: str | HardwareSpec | Chip = "isaac", *, progress: bool = True) -> list[dict]:
    """Speedup with the first K BN sites kept, K = 0..P (nested masks)."""
    sites = models_zoo.num_bn_sites(model)
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
    return save_figure(fig, path)


def speedup_table(rows: Sequence[dict]) -> str:
    head = (f"{'model':<9} {'BN kept':>8} {'mode':<9} {'batch':>5} {'speedup':>8} "
            f"{'energy x':>9} {'samples/s':>10} {'GPU samples/s':>13}  bottleneck")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['model']:<9} {r['bn_kept']:>3}/{r['bn_sites']:<4} {r['mode']:<9} "
                     f"{r['batch_size']:>5} {r['speedup_vs_gpu']:>7.2f}x {r['energy_ratio_vs_gpu']:>8.2f}x "
                     f"{r['throughput']:>10.0f} {r['gpu_throughput']:>13.0f}  "
                     f"{r['bottleneck']['name']} ({r['bottleneck']['phase']})")
    return "\n".join(lines)


def breakdown_table(result: dict[str, Any]) -> str:
    lines = [f"{'kind':<7} {'measured ms':>12} {'share':>7} {'roofline ms':>12} {'share':>7}"]
    roof = result.get("roofline_seconds_by_kind", {})
    roof_total = sum(roof.values()) or 1.0
    for kind in MEASURED_KINDS:
        seconds = result["seconds_by_kind"].get(kind, 0.0)
        lines.append(f"{kind:<7} {seconds * 1e3:>12.3f} {result['fraction_by_kind'].get(kind, 0):>7.1%} "
                     f"{roof.get(kind, 0.0) * 1e3:>12.4f} {roof.get(kind, 0.0) / roof_total:>7.1%}")
    lines.append(f"total {result['total_s'] * 1e3:.3f} ms per batch on {result['device']} "
                 f"({result['mode']}, batch {result['batch_size']})")
    return "\n".join(lines)
