"""What a BN search reports: :class:`BNSearchReport`, its JSON document, the table, the summary
lines and the plots.

Computes nothing the search (:mod:`reram.apps.bn_search`) did not
(every figure comes from the report's evaluations and its one cost table). Writes through
:mod:`reram.io` (atomic). Imports matplotlib only inside the plotting functions.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from reram.io import atomic_write_json, save_figure

if TYPE_CHECKING:
    from reram.apps.bn_cost import MaskCost
    from reram.apps.bn_objective import MaskEvaluation

__all__ = ["BNSearchReport", "report_dict", "within_reference", "table_rows", "format_table", "summary_lines", "write"]


@dataclass
class BNSearchReport:
    """What :func:`run_search` returns (and writes as ``bn_search.json``).

    Attributes:
        settings: the search's ``BNSearchSettings`` (a resumed search: with the budget it ran).
        chip: the chip (a ``reram.Chip``) costed.
        references: ``{"all": ..., "none": ...}``, the all-BN and no-BN evaluations.
        runs: per method, its history rows and result fields (JSON-ready).
        evaluations: every trained mask of the search, by mask.
        costs: the :class:`~reram.apps.bn_cost.MaskCost` of every mask in the report.
        front: the non-dominated masks of all methods together.
        found: per method, the mask it found (:func:`found_mask`) trained at every seed, or ``None``.
        searched: per method, the found mask's evaluation as the search saw it (its first
            ``search_seeds`` seeds).
        n_init: each method's initial design.
        ref_point: the hypervolume's reference point (multi), else ``None``.
        speedup_scale: the no-BN mask's speedup.
        hypervolume_all: hypervolume of everything evaluated (multi), else ``None``.
        wall_time_s: seconds of this call.
        out: the output folder; plots: the plot files written.
    """

    settings: Any
    chip: Any
    references: dict[str, MaskEvaluation]
    runs: dict[str, dict[str, Any]]
    evaluations: dict[str, MaskEvaluation]
    costs: dict[str, MaskCost]
    front: list[MaskEvaluation]
    found: dict[str, MaskEvaluation | None]
    n_init: dict[str, int]
    ref_point: list[float] | None
    speedup_scale: float | None
    hypervolume_all: float | None
    wall_time_s: float
    out: Path
    plots: list[Path] = field(default_factory=list)
    searched: dict[str, MaskEvaluation | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (``bn_search.json``)."""
        return report_dict(self)

    def table(self) -> str:
        """The table of the all-BN, no-BN and found masks (and the front, multi)."""
        return format_table(table_rows(self))


def _row(ev: MaskEvaluation, cost: MaskCost) -> dict[str, Any]:
    return {**ev.to_dict(), **cost.to_dict()}


def _replicated(ev: MaskEvaluation, cost: MaskCost) -> dict[str, Any]:
    """A replicated mask: mean, sd and seeds first, then everything of :func:`_row`."""
    return {"mask": ev.mask, "n_bn": ev.n_bn, "accuracy_mean": ev.accuracy, "accuracy_std": ev.accuracy_std,
            "seeds": list(ev.seeds), **_row(ev, cost)}


def within_reference(report: BNSearchReport, ev: MaskEvaluation) -> dict[str, Any]:
    """How far a found mask's mean lies below all-BN's and the margin it is judged by:
    ``max(epsilon, 2 sd)``, the sd the larger of the two masks' replicate spreads."""
    ref = report.references["all"]
    margin = max(report.settings.epsilon, 2 * max(ref.accuracy_std, ev.accuracy_std))
    gap = ref.accuracy - ev.accuracy
    return {"gap_to_all_bn": gap, "margin": margin, "within": bool(gap <= margin + 1e-12)}


def _found(report: BNSearchReport, method: str, ev: MaskEvaluation | None) -> dict[str, Any] | None:
    if ev is None:
        return None
    seen = report.searched.get(method)
    return {**_replicated(ev, report.costs[ev.mask]), **within_reference(report, ev),
            "search_accuracy": None if seen is None else seen.accuracy}


def report_dict(report: BNSearchReport) -> dict[str, Any]:
    """The JSON document of a search (``bn_search.json``)."""
    costs, refs = report.costs, report.references
    return {
        "settings": report.settings.to_dict(), "n_init": report.n_init, "ref_point": report.ref_point,
        "num_sites": refs["all"].num_sites,
        "chip": report.chip.name, "chip_config": report.chip.config.to_dict(),
        "references": {k: _replicated(v, costs[v.mask]) for k, v in refs.items()},
        "reference_accuracy": refs["all"].accuracy, "speedup_scale": report.speedup_scale,
        "found": {m: _found(report, m, e) for m, e in report.found.items()},
        "runs": report.runs,
        "pareto_front": [_row(e, costs[e.mask]) for e in report.front],
        "evaluations": {k: _row(v, costs[k]) for k, v in sorted(report.evaluations.items())},
        "hypervolume_all_methods": report.hypervolume_all,
        "wall_time_s": round(report.wall_time_s, 1),
    }


def table_rows(report: BNSearchReport) -> list[tuple[str, MaskEvaluation, MaskCost]]:
    """The rows of the final table: all-BN, no-BN, each method's found mask (and the front, multi)."""
    costs, refs = report.costs, report.references
    rows = [("all BN", refs["all"], costs[refs["all"].mask]), ("no BN", refs["none"], costs[refs["none"].mask])]
    rows += [(f"found ({m})", e, costs[e.mask]) for m, e in report.found.items() if e is not None]
    if report.settings.mode == "multi":
        rows += [("front", e, costs[e.mask]) for e in report.front]
    return rows


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None or (isinstance(value, float) and not math.isfinite(value)) else format(value, spec)


def format_table(rows: list[tuple[str, MaskEvaluation, MaskCost]]) -> str:
    """One line per (label, evaluation, cost): mask, BN count, accuracy, speedup, samples/s,
    energy per sample and energy against the GPU."""
    width = max(6, rows[0][1].num_sites)
    head = (f"{'':<16} {'mask':<{width}} {'BN':>5} {'accuracy (seeds)':>21} {'speedup':>8} {'samples/s':>10} "
            f"{'mJ/sample':>10} {'energy vs GPU':>13}")
    lines = [head, "-" * len(head)]
    for label, ev, cost in rows:
        n = len(ev.accuracies)
        acc = f"{ev.accuracy:.3f} +- {ev.accuracy_std:.3f} ({n})" if n > 1 else f"{ev.accuracy:.3f} (1)"
        lines.append(f"{label:<16} {ev.mask:<{width}} {ev.n_bn:>2}/{ev.num_sites:<2} {acc:>21} "
                     f"{_fmt(cost.speedup, '.2f') + 'x':>8} {_fmt(cost.throughput, '.0f'):>10} "
                     f"{_fmt(cost.energy_mj, '.3f'):>10} {_fmt(cost.energy_ratio, '.2f') + 'x':>13}")
    return "\n".join(lines)


def summary_lines(report: BNSearchReport) -> list[str]:
    """The lines printed after the table: hypervolumes (multi), failures, counts, files."""
    s, runs, lines = report.settings, report.runs, []
    if s.mode == "multi":
        unit = "(-accuracy, -speedup / no-BN speedup)" if s.tradeoff == "speedup" else "(-accuracy, BN / P)"
        lines.append(f"hypervolume, reference point {report.ref_point} in {unit}: "
                     + ", ".join(f"{m} {r['hypervolume']:.4f}" for m, r in runs.items())
                     + f"; all methods together {report.hypervolume_all:.4f}")
    failed = sum(r["n_failures"] for r in runs.values())
    if failed:
        lines.append(f"{failed} evaluation(s) failed (see bn_search.json)")
    for method, ev in report.found.items():
        if ev is not None and len(ev.accuracies) > 1:
            w = within_reference(report, ev)
            lines.append(f"found ({method}) {ev.mask}: {ev.n_bn}/{ev.num_sites} BN, {ev.accuracy:.3f} +- "
                         f"{ev.accuracy_std:.3f} over seeds {list(ev.seeds)}, {-w['gap_to_all_bn']:+.3f} against all BN "
                         f"(allowed -{w['margin']:.3f}): {'within' if w['within'] else 'NOT within'}")
    files = [report.out / "bn_search.json", *report.plots]
    lines.append(f"{sum(len(r['history']) for r in runs.values())} evaluations ({', '.join(runs)}), "
                 f"{len(report.evaluations)} masks trained in all; {report.wall_time_s:.0f} s. "
                 f"Wrote {', '.join(str(p) for p in files)}")
    return lines


def write(report: BNSearchReport) -> list[Path]:
    """Write ``bn_search.json`` and the plots into the report's folder; returns the plot files."""
    atomic_write_json(report.out / "bn_search.json", report_dict(report), indent=1)
    return _plot_multi(report) if report.settings.mode == "multi" else _plot_single(report)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plot_single(report: BNSearchReport) -> list[Path]:
    """Best value and accuracy so far per method; accuracy against the BN count."""
    plt, s, refs, out = _pyplot(), report.settings, report.references, report.out
    runs = {m: r["history"] for m, r in report.runs.items()}
    fig, (ax_v, ax_a) = plt.subplots(1, 2, figsize=(10, 4))
    bar = refs["all"].accuracy - s.epsilon
    for method, rows in runs.items():
        spent = np.cumsum([r.get("epochs", 0) for r in rows])
        accs = [r.get("accuracy", -math.inf) for r in rows]
        fewest = [r["n_bn"] if r.get("accuracy", -1.0) >= bar - 1e-12 else math.inf for r in rows]
        ax_v.step(spent, np.maximum.accumulate(accs), where="post", label=method, marker="o", ms=3)
        ax_a.step(spent, np.minimum.accumulate(fewest), where="post", label=method, marker="o", ms=3)
    ax_v.axhline(refs["all"].accuracy, color="gray", ls="--", lw=1, label="all BN (mean)")
    ax_v.axhline(bar, color="gray", ls=":", lw=1, label=f"all BN - {s.epsilon:g}")
    ax_v.set(xlabel="training epochs spent by the search", ylabel="best test accuracy so far (one seed)",
             title="accuracy")
    ax_a.set(xlabel="training epochs spent by the search", ylabel="fewest BN layers so far",
             title=f"fewest BN with accuracy >= all BN - {s.epsilon:g} (one seed)")
    ax_a.set_ylim(-0.5, refs["all"].num_sites + 0.5)
    ax_v.legend()
    ax_a.legend(fontsize=8)
    fig.suptitle(f"BN search: {s.model} (width {s.width:g}) on {s.dataset}, {s.epochs} epochs per mask")
    fig.tight_layout()
    paths = [out / "convergence.png"]
    save_figure(fig, paths[-1])

    fig, ax = plt.subplots(figsize=(6, 4.2))
    markers = {"bo": "o", "cbo": "o", "random": "x", "greedy": "s", "anneal": "^", "exhaustive": "."}
    for method, rows in runs.items():
        pts = [(r["n_bn"], r["accuracy"]) for r in rows if "accuracy" in r]
        if pts:
            nb, acc = zip(*pts)
            jitter = 0.08 if method == "random" else -0.08
            ax.scatter(np.array(nb) + jitter, acc, marker=markers.get(method, "o"), label=method, alpha=0.8)
    if report.front:
        ax.plot([e.n_bn for e in report.front], [e.accuracy for e in report.front], "k--", lw=1, label="Pareto front")
    for key, style in (("all", "v"), ("none", "D")):
        ax.scatter([refs[key].n_bn], [refs[key].accuracy], marker=style, s=70, c="red",
                   label="all BN" if key == "all" else "no BN")
    num_sites = refs["all"].num_sites
    ax.set(xlabel=f"BN layers kept (of {num_sites})", ylabel="test accuracy", title="accuracy vs number of BN layers")
    ax.set_xticks(range(num_sites + 1))
    ax.legend(fontsize=8)
    fig.tight_layout()
    paths.append(out / "accuracy_vs_bn.png")
    save_figure(fig, paths[-1])
    return paths


def _plot_multi(report: BNSearchReport) -> list[Path]:
    """Hypervolume against evaluations per method; accuracy against speedup (or BN) with the front."""
    plt, s, refs, out = _pyplot(), report.settings, report.references, report.out
    metric, costs = s.tradeoff, report.costs
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for method, run in report.runs.items():
        hv = run["hypervolume_history"]
        ax.step(np.arange(1, len(hv) + 1), hv, where="post", marker="o", ms=3, label=method)
    ax.set(xlabel="evaluation", ylabel="hypervolume of the front so far",
           title=f"{s.model}: hypervolume (ref. point {report.ref_point})")
    ax.legend()
    fig.tight_layout()
    paths = [out / "convergence.png"]
    save_figure(fig, paths[-1])

    def xval(ev: MaskEvaluation) -> float:
        return float(costs[ev.mask].speedup) if metric == "speedup" else float(ev.n_bn)  # type: ignore[arg-type]

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    markers = {"mobo": "o", "nsga2": "s", "random": "x"}
    for method, run in report.runs.items():
        pts = [report.evaluations[r["mask"]] for r in run["history"]
               if r["mask"] in report.evaluations and r["error"] is None]
        if pts:
            ax.scatter([xval(e) for e in pts], [e.accuracy for e in pts], marker=markers.get(method, "o"),
                       alpha=0.6, label=method)
    fx = [xval(e) for e in report.front]
    ax.step(fx, [e.accuracy for e in report.front], where="pre" if metric == "speedup" else "post",
            color="k", ls="--", lw=1)
    ax.scatter(fx, [e.accuracy for e in report.front], facecolors="none", edgecolors="k", s=90,
               label="Pareto front (all methods)")
    for key, style in (("all", "v"), ("none", "D")):
        ax.scatter([xval(refs[key])], [refs[key].accuracy], marker=style, s=70, c="red",
                   label=f"{key} BN" if key == "all" else "no BN")
    ax.set(xlabel="estimated training speedup vs GPU (same chip)" if metric == "speedup"
           else f"BN layers kept (of {refs['all'].num_sites})", ylabel="test accuracy",
           title=f"{s.model} on {s.dataset}: accuracy vs " + ("speedup" if metric == "speedup" else "BN count"))
    ax.legend(fontsize=8)
    fig.tight_layout()
    paths.append(out / ("accuracy_vs_speedup.png" if metric == "speedup" else "accuracy_vs_bn.png"))
    save_figure(fig, paths[-1])
    return paths
