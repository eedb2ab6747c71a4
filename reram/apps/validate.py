"""``reram-bench validate`` and ``reram-bench sensitivity``: the cost model against the papers.

:func:`validation_rows` puts each published figure next to the model's figure under the paper's
assumptions (ISAAC peak TOPS and TOPS/W and its speedup over a DaDianNao-like chip, PUMA's peak,
PipeLayer's and DeepTrain's training speedups); where a paper leaves an assumption unpublished
the row says so and a sensitivity row shows the range instead of a chosen value. No constant is
tuned toward a published figure: the chips are the bundled presets with their cited numbers.
:func:`run_sensitivity` sweeps chip size, link bandwidth and BN count.

Joins the model zoo (``reram.models``, torchvision for ImageNet-size VGG16) and the cost model.
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Callable, Sequence

from reram.io import save_figure
from reram.cost.chip import Chip, peak_ops_per_s, peak_power_w
from reram.cost.hardware import LinkSpec
from reram.cost.scheduler import Plan, schedule
from reram.cost.trace import Trace, trace_model

__all__ = ["validation_rows", "validation_table", "validation_markdown", "run_sensitivity",
           "sensitivity_table", "plot_sensitivity", "DADIANNAO"]

#: DaDianNao (Chen et al., MICRO 2014), one node: peak 16-bit throughput and area.
#: The review whose Table 3 lists ISAAC's, PUMA's and DaDianNao's peak figures side by side.
REVIEW = ("Aguirre et al., 'Hardware implementation of memristor-based artificial neural "
          "networks', Nature Communications 15 (2024), Table 3")
DADIANNAO = {"peak_ops_per_s": 5.58e12, "area_mm2": 67.73,
             "source": "DaDianNao (Chen et al., MICRO 2014): 5.58 TeraOps/s peak (16-bit), 67.73 mm2 "
                       "per node at 28 nm (5.58 TOPS, 0.08 TOPS/mm2 also in Nature Communications "
                       "15 (2024), Table 3)"}
ISAAC_AREA_MM2 = 85.4  # ISAAC Table 'ISAAC parameters': chip 85.4 mm2 (tiles + HyperTransport)


def _paper_isaac(chip: Chip) -> Any:
    """ISAAC's own crossbar encoding: offset-encoded sign (one crossbar per 2-bit slice) and
    16 one-bit input cycles; the simulation's G+/G- pair needs twice the crossbars."""
    return dataclasses.replace(chip.hardware.reram, differential_weights=False,
                               signed_input_phases=False)


def _row(name: str, published: float, model: float, unit: str, assumptions: str,
         source: str, *, like_for_like: bool, why: str) -> dict[str, Any]:
    """One validation row: ``like_for_like`` says whether the model figure is computed for the
    same chip, workload and accounting as the published one; ``why`` says what is (not) the
    same. Rows that are not like for like are context, not validation."""
    return {"figure": name, "published": published, "model": model, "unit": unit,
            "ratio": model / published if published else math.nan,
            "like_for_like": bool(like_for_like), "why": why, "assumptions": assumptions,
            "source": source}


ISAAC_TABLE = "ISAAC (Shafiee et al., ISCA 2016) Table 'ISAAC parameters'"
PUMA_PAPER = ("PUMA (Ankit et al., ASPLOS 2019): a 138-tile node at 32 nm, 90.638 mm2, 62.5 W; "
              "577 GOPS/s/mm2 and 837 GOPS/s/W (abstract), i.e. 52.31 TOPS")


#: Why the PUMA peak rows are context (the arithmetic in docs/scheduler.md, "PUMA's peak").
PUMA_PEAK_WHY = (
    "not like for like: PUMA's 52.31 TOPS (577 GOPS/s/mm2 x 90.6 mm2 = 837 GOPS/s/W x 62.5 W) "
    "on its 2,208 MVMUs of 128x128 16-bit weights (2 ops per MAC, the convention of ISAAC's "
    "41.3 TOPS) implies one MVM per 1.38 us; PUMA's simulator at the paper's code takes 1.80 us "
    "((16 + 2) x 100 ns) and 1.60 us even with the fill of one MVM hidden under the previous "
    "one (45.2 TOPS, 0.86x); no constant of the simulator or of the parts of the paper we read "
    "gives 1.38 us (1 op per MAC would give 0.69 us), so what the published peak counts is "
    "unknown: context, nothing tuned to close it")


def _node_without_link(chip: Chip) -> tuple[float, float]:
    """(area mm2, peak W) of a chip's tiles, the link PHY left out."""
    rows = [c for c in chip.components(training=False) if c.name != "link_phy"]
    return sum(c.area_mm2 for c in rows), sum(c.power_w for c in rows)


def _peak_rows() -> list[dict[str, Any]]:
    """ISAAC's and PUMA's stated size and peak, one op convention (2 ops per MAC) throughout."""
    isaac = Chip.preset("isaac")
    tops = peak_ops_per_s(_paper_isaac(isaac)) / 1e12
    simulated = isaac.peak_ops_per_s() / 1e12
    puma = Chip.preset("puma")
    puma_tops = peak_ops_per_s(_paper_isaac(puma)) / 1e12
    puma_area, puma_w = _node_without_link(puma)
    consistency = ("same chip and accounting: ISAAC's own component table summed over the "
                   "model's unit counts (a check of the counting and of Chip.area_mm2/power_w, "
                   "not an independent prediction)")
    puma_why = ("same node (138 tiles, 32 nm) rebuilt from the PUMA simulator's component "
                "figures (puma.json), the HyperTransport PHY left out as PUMA's node figures do "
                "(our reading): an independent reconstruction")
    return [
        _row("ISAAC chip area", ISAAC_AREA_MM2, isaac.area_mm2(training=False), "mm2",
             "Chip.preset('isaac').area_mm2(training=False) (ISAAC is an inference chip): 168 "
             "tiles x 12 IMAs x 8 arrays with their ADCs, DACs, S+H, registers; eDRAM, bus, "
             "router share, digital units; HyperTransport",
             f"{ISAAC_TABLE}: 85.4 mm2", like_for_like=True, why=consistency),
        _row("ISAAC chip power", 65.8, isaac.power_w(training=False), "W",
             "Chip.preset('isaac').power_w(): every unit at its table power (peak)",
             f"{ISAAC_TABLE}: 65.8 W", like_for_like=True, why=consistency),
        _row("ISAAC peak throughput", 41.3, tops, "TOPS",
             "ISAAC's constants (isaac.json): 168 tiles x 96 arrays of 128x128 2-bit cells, 16-bit "
             "weights offset-encoded over 8 arrays, 16 one-bit input cycles of 100 ns; 2 ops per MAC",
             "ISAAC (Shafiee et al., ISCA 2016), 41.3 TOPS peak; listed so in " + REVIEW,
             like_for_like=True, why="same chip, encoding and op convention (2 per MAC): a "
             "consistency check of the peak arithmetic"),
        _row("ISAAC peak efficiency", 41.3 / 65.8, tops / isaac.power_w(training=False), "TOPS/W",
             "model peak TOPS over Chip.power_w() (the chip's peak power, HyperTransport included)",
             f"{ISAAC_TABLE}: 41.3 TOPS at 65.8 W", like_for_like=True,
             why="same chip, convention and power accounting (peak over the table's total)"),
        _row("ISAAC-sized chip as simulated (G+/G- pair, 15+sign cycles)", 41.3, simulated, "TOPS",
             "Chip.preset('isaac'): the simulation keeps the sign on a G+/G- pair (16 arrays per "
             "16-bit weight block) and streams 15 magnitude bits per sign phase",
             "not a paper figure: the ISAAC chip the simulation trains, against ISAAC's peak",
             like_for_like=False, why="the simulated encoding (G+/G- pair, sign phases) is not "
             "ISAAC's offset encoding: context for what the simulation's chip gives up"),
        _row("PUMA node area", 90.638, puma_area, "mm2",
             "Chip.preset('puma') components without the link PHY", PUMA_PAPER,
             like_for_like=True, why=puma_why),
        _row("PUMA node power", 62.5, puma_w, "W",
             "Chip.preset('puma') peak power without the link PHY", PUMA_PAPER,
             like_for_like=True, why=puma_why),
        _row("PUMA peak throughput", 52.31, puma_tops, "TOPS",
             "PUMA's simulator timing at the paper's code (d98bbe9): (16 + 2) x 100 ns per 16-bit "
             "MVM (3-stage pipeline per input bit, ADC of bit k beside the read of bit k+1, 2 steps "
             "of fill per MVM) on 138 tiles x 8 cores x 2 MVMUs of 8 crossbars; 2 ops per MAC",
             PUMA_PAPER, like_for_like=False, why=PUMA_PEAK_WHY),
        _row("PUMA peak efficiency", 0.837, puma_tops / puma_w, "TOPS/W",
             "model peak TOPS over the model's node peak power (no link)", PUMA_PAPER,
             like_for_like=False, why="inherits the throughput row's unknown accounting (the "
             "node power itself is like for like, row above): context"),
    ]


def _vgg16_imagenet_trace() -> Trace:
    import torchvision

    return trace_model(torchvision.models.vgg16(), (3, 224, 224))


def _chips_to_fit(trace: Trace, chip: Chip, mode: str = "inference", **kwargs: Any) -> int:
    """The smallest whole number of ``chip``s (scaled tiles) that holds ``trace``."""
    needed = 0
    for scale in range(1, 65):
        try:
            schedule(trace, batch_size=1, mode=mode, chip=chip.replace(scale=scale),
                     replicate=False, **kwargs)
            return scale
        except ValueError as err:
            if "crossbars" not in str(err):
                raise
            needed = scale
    raise ValueError(f"the model does not fit on {needed} chips")


def _isaac_vs_dadiannao(trace: Trace) -> list[dict[str, Any]]:
    chip = Chip.preset("isaac")
    paper = Chip(config=None, hardware=dataclasses.replace(chip.hardware, reram=_paper_isaac(chip),
                                                             crossbar=None))
    fit = _chips_to_fit(trace, paper)
    ops = sum(2.0 * l.macs_per_sample for l in trace.layers if l.kind in ("conv", "linear"))
    rows = []
    for chips, utilization in ((fit, 1.0), (fit, 0.5), (4 * fit, 1.0)):
        plan = schedule(trace, batch_size=64, mode="inference", chip=paper.replace(scale=chips))
        nodes = chips * ISAAC_AREA_MM2 / DADIANNAO["area_mm2"]  # the same silicon area
        dadiannao = nodes * DADIANNAO["peak_ops_per_s"] * utilization / ops
        rows.append(_row(f"ISAAC speedup over DaDianNao, {chips} ISAAC chips, DaDianNao at "
                         f"{utilization:.0%}",
                         14.8, plan.throughput / dadiannao, "x",
                         f"VGG-16 (ImageNet, torchvision) inference, batch 64, on {chips} ISAAC "
                         f"chips ({fit}: the fewest that hold it; ISAAC's encoding) vs DaDianNao nodes of "
                         f"the same area ({nodes:.1f}) at {utilization:.0%} of peak; the paper's "
                         "iso-area rule and DaDianNao's utilization are not in what we read",
                         "ISAAC (ISCA 2016) abstract: 14.8x throughput over DaDianNao; "
                         + DADIANNAO["source"], like_for_like=False,
                         why="the iso-area rule and DaDianNao's utilization are assumed: at "
                         "equal area ISAAC's peak is at most 41.3 / 85.4 over 5.58 / 67.7 = 5.9x "
                         "DaDianNao's, so 14.8x is out of reach by construction; context only"))
    return rows


def _training_rows(name: str, published: float, energy_published: float | None, chip: Chip,
                   trace: Trace, scales: Sequence[float], assumptions: str, source: str,
                   why: str, **kwargs: Any) -> list[dict[str, Any]]:
    fit = _chips_to_fit(trace, chip, "train", **kwargs)
    rows = []
    for scale in scales:
        plan = schedule(trace, batch_size=64, mode="train", chip=chip.replace(scale=fit * scale),
                        **kwargs)
        size = f"{fit * scale:g}x the preset's tiles ({plan.crossbars_available:,} crossbars)"
        rows.append(_row(f"{name} training speedup, {size}", published, plan.speedup_vs_gpu, "x",
                         assumptions, source, like_for_like=False, why=why))
        if energy_published is not None:
            rows.append(_row(f"{name} training energy saving, {size}", energy_published,
                             plan.energy_ratio_vs_gpu, "x", assumptions, source,
                             like_for_like=False, why=why))
    return rows


def validation_rows(*, imagenet: bool = True, progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """The validation table: one row per (published figure, model figure under its assumptions).

    Args:
        imagenet: include the rows that trace ImageNet-size VGG-16 (about 10 s).
        progress: called with a short note before each group of rows.

    Returns:
        Rows ``{"figure", "published", "model", "unit", "ratio", "like_for_like", "why",
        "assumptions", "source"}``.
    """
    note = progress or (lambda text: None)
    note("peaks")
    rows = _peak_rows()
    import reram.models as zoo

    cifar = {mask: trace_model(zoo.build_model("vgg16", bn_mask=mask), (3, 32, 32))
             for mask in ("0" * 13, "1100000000000")}
    if imagenet:
        note("ISAAC vs DaDianNao (VGG-16, ImageNet)")
        rows += _isaac_vs_dadiannao(_vgg16_imagenet_trace())
    note("PipeLayer")
    rows += _training_rows(
        "PipeLayer", 42.45, 7.17, Chip.preset("pipelayer"), cifar["0" * 13], (1, 4, 16),
        "VGG-16 without BN (CIFAR size, reram.models), batch 64, pipeline='pipelayer' (forward and "
        "backward overlapped on a second array set), GTX 1080 FP32 roofline; PipeLayer's array "
        "count is not published in what we read: the chip is scaled from the fewest ISAAC-sized "
        "chips that hold the model (1x) to 16x; PipeLayer's networks are ImageNet/MNIST ones",
        "PipeLayer (Song et al., HPCA 2017) abstract: 42.45x speedup and 7.17x energy saving "
        "over a GPU on average",
        "PipeLayer differs in hardware (spiking inputs, 4-bit cells, its own array count), "
        "networks (ImageNet/MNIST ones) and baseline (Caffe measured on a GTX 1080): context",
        pipeline="pipelayer")
    note("DeepTrain")
    rows += _training_rows(
        "DeepTrain (2 BN kept)", 15.0, None, Chip.preset("deeptrain-3d"), cifar["1100000000000"],
        (1, 4, 16),
        "VGG-16 (CIFAR size) with its first 2 BN layers kept, batch 64, ISAAC tiles and a V100 on "
        "one package with a 900 GB/s link (deeptrain-3d.json), V100 FP32 roofline; DeepTrain's "
        "tile count and link are not in what we read: chip scaled 1x-16x",
        "DeepTrain (Joardar et al., IEEE TCAD 2022) abstract: up to 15x speedup over a GPU with "
        "only a few normalization layers",
        "DeepTrain keeps BN layers chosen by its own BO, on a GPU and chip size not in what we "
        "read: context")
    rows.append({"figure": "NeuroSim / MNSIM whole-network figure", "published": math.nan,
                 "model": math.nan, "unit": "", "ratio": math.nan,
                 "assumptions": "not in this table: DNN+NeuroSim V2.1's VGG-8 training "
                                "iteration is compared component by component by "
                                "benchmarks/crosscheck_neurosim.py (docs/scheduler.md, 'Cross-check "
                                "against DNN+NeuroSim V2.1'; its committed result re-derived by "
                                "--recompare); no MNSIM whole-network figure was compared",
                 "source": "DNN+NeuroSim V2.1 (github.com/neurosim/DNN_NeuroSim_V2.1)",
                 "like_for_like": False,
                 "why": "compared elsewhere (NeuroSim, component by component); MNSIM not compared"})
    return rows


def _fmt(value: float) -> str:
    if value != value:  # NaN
        return "-"
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def validation_table(rows: Sequence[dict[str, Any]]) -> str:
    """Fixed-width text: figure, published, model, ratio, unit."""
    head = f"{'figure':<62} {'published':>10} {'model':>10} {'ratio':>7} {'like':>5}  unit"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['figure'][:62]:<62} {_fmt(r['published']):>10} {_fmt(r['model']):>10} "
                     f"{_fmt(r['ratio']):>7} {'yes' if r['like_for_like'] else 'no':>5}  {r['unit']}")
    lines.append("like = like for like (same chip, workload and accounting); 'no' rows are "
                 "context, not validation. Why, assumptions and sources: --json or --md")
    return "\n".join(lines)


def validation_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """The table as markdown, with each row's assumptions and source."""
    lines = ["| figure | published | model | ratio | like for like | why | assumptions | source |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        unit = f" {r['unit']}" if r["unit"] else ""
        lines.append(f"| {r['figure']} | {_fmt(r['published'])}{unit} | {_fmt(r['model'])}{unit} | "
                     f"{_fmt(r['ratio'])} | {'yes' if r['like_for_like'] else 'no'} | {r['why']} | "
                     f"{r['assumptions']} | {r['source']} |")
    return "\n".join(lines)


def run_sensitivity(model: str = "vgg16", chip: str | Chip = "isaac", batch_size: int = 64, *,
                    scales: Sequence[float] = (1, 2, 4, 8, 16),
                    bandwidths: Sequence[float] = (2.56e10, 1e11, 9e11, 4e12),
                    bn_counts: Sequence[int] | None = None, bn_kept: int | None = None,
                    idle_powers: Sequence[float] = (0.0, 20.0, 40.0, 80.0),
                    idle_policies: Sequence[str] = ("idle", "off", "shared"),
                    progress: Callable[[str], None] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Speedup and energy ratio of one model's training against chip size, link bandwidth, the
    GPU's idle power and the number of BN layers kept (the first K).

    Args:
        model: a ``reram.models`` name (CIFAR-size input).
        chip: a preset name or a :class:`Chip`.
        batch_size: training batch.
        scales: multiples of the chip's tiles.
        bandwidths: ReRAM-GPU link bandwidths, bytes/s (the chip's link energy and latency
            kept), on the largest chip of ``scales``.
        bn_counts: numbers of BN layers kept (first K) for the BN sweep (on the fewest chips
            that hold the model); default all 0..P.
        bn_kept: BN layers kept (first K) in the size and bandwidth sweeps; default all.
        idle_powers: GPU idle powers, W (an assumption of the GPU specs), on the largest chip.
        idle_policies: GPU idle policies (``GpuSpec.idle_policy``), on the fewest chips that
            hold the model.
        progress: called with a short note before each sweep.

    Returns:
        ``{"scale": rows, "bandwidth": rows, "gpu_idle": rows, "idle_policy": rows, "bn": rows}``;
        each row has the varied value, ``speedup``, ``energy_ratio``, ``crossbars`` and
        ``area_mm2`` (the ReRAM side's, when the chip states its silicon).
    """
    import reram.models as zoo

    note = progress or (lambda text: None)
    base = Chip.from_hardware(chip)
    sites = zoo.num_bn_sites(model)
    kept = sites if bn_kept is None else bn_kept
    for k in [kept, *(bn_counts or [])]:
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= sites:
            raise ValueError(f"BN counts must be ints in 0..{sites} for {model}, got {k!r}")
    traces: dict[int, Trace] = {}

    def trace_for(k: int) -> Trace:
        if k not in traces:
            mask = "1" * k + "0" * (sites - k)
            traces[k] = trace_model(zoo.build_model(model, bn_mask=mask), (3, 32, 32))
        return traces[k]

    def row(key: str, value: float, plan: Plan, k: int) -> dict[str, Any]:
        return {key: value, "bn_kept": k, "speedup": plan.speedup_vs_gpu,
                "energy_ratio": plan.energy_ratio_vs_gpu, "crossbars": plan.crossbars_available,
                "area_mm2": areas.get(plan.crossbars_available, math.nan)}

    areas: dict[int, float] = {}

    def sized(c: Chip) -> Chip:
        if c.hardware.silicon is not None:
            areas[c.total_crossbars] = c.area_mm2()
        return c

    fit = _chips_to_fit(trace_for(kept), base, "train")
    out: dict[str, list[dict[str, Any]]] = {"scale": [], "bandwidth": [], "gpu_idle": [],
                                            "idle_policy": [], "bn": []}
    note("chip size")
    for scale in scales:
        plan = schedule(trace_for(kept), batch_size=batch_size,
                        chip=sized(base.replace(scale=fit * scale)))
        out["scale"].append(row("scale", fit * scale, plan, kept))
    note("link bandwidth")
    big = fit * max(scales)  # on the largest chip, where the crossbars no longer hide the link
    for bandwidth in bandwidths:
        link = dataclasses.replace(base.hardware.link, bandwidth_bytes_per_s=bandwidth)
        plan = schedule(trace_for(kept), batch_size=batch_size,
                        chip=base.replace(scale=big, link=link))
        out["bandwidth"].append(row("bandwidth_bytes_per_s", bandwidth, plan, kept))
    note("GPU idle power")  # an assumption (no datasheet figure): its range, on the largest chip
    for idle in idle_powers:
        gpu = dataclasses.replace(base.hardware.gpu, idle_power_w=idle)
        chip_idle = Chip(base.config, dataclasses.replace(base.hardware, gpu=gpu),
                         training=base.training).replace(scale=big)
        plan = schedule(trace_for(kept), batch_size=batch_size, chip=chip_idle)
        out["gpu_idle"].append(row("idle_power_w", idle, plan, kept))
    note("GPU idle policy")
    for policy in idle_policies:
        plan = schedule(trace_for(kept), batch_size=batch_size,
                        chip=sized(base.replace(scale=fit, gpu_idle_policy=policy)))
        out["idle_policy"].append(row("idle_policy", policy, plan, kept))
    note("BN count")
    for k in (range(sites + 1) if bn_counts is None else bn_counts):
        plan = schedule(trace_for(k), batch_size=batch_size, chip=sized(base.replace(scale=fit)))
        out["bn"].append(row("bn_kept", k, plan, k))
    return out


def sensitivity_table(result: dict[str, list[dict[str, Any]]]) -> str:
    """Markdown tables of the sweeps."""
    parts = []
    for key, label, fmt in (("scale", "chip tiles (x preset)", "{:g}x"),
                            ("bandwidth_bytes_per_s", "link bandwidth", "{:.3g} GB/s"),
                            ("idle_power_w", "GPU idle power", "{:g} W"),
                            ("idle_policy", "GPU idle policy", "{}"),
                            ("bn_kept", "BN layers kept (first K)", "{:d}")):
        sweep = {"scale": "scale", "bandwidth_bytes_per_s": "bandwidth", "idle_power_w": "gpu_idle",
                 "idle_policy": "idle_policy", "bn_kept": "bn"}[key]
        if not result.get(sweep):
            continue
        lines = [f"| {label} | crossbars | ReRAM mm2 | BN kept | speedup vs GPU | "
                 "energy ratio (GPU / chip) |", "|---|---|---|---|---|---|"]
        for r in result[sweep]:
            value = r[key] / 1e9 if key == "bandwidth_bytes_per_s" else r[key]
            area = r.get("area_mm2", math.nan)
            lines.append(f"| {fmt.format(value)} | {r['crossbars']:,} | "
                         f"{'-' if area != area else f'{area:,.0f}'} | {r['bn_kept']} | "
                         f"{r['speedup']:.2f}x | {r['energy_ratio']:.2f}x |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def plot_sensitivity(result: dict[str, list[dict[str, Any]]], path: str | Path, title: str = "") -> Path:
    """PNG: speedup and energy ratio against chip size, link bandwidth, GPU idle power and BN
    count (one panel each)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(16, 3.8))
    panels = (("scale", "scale", "chip tiles (x preset)", True),
              ("bandwidth", "bandwidth_bytes_per_s", "link bandwidth, bytes/s", True),
              ("gpu_idle", "idle_power_w", "GPU idle power, W", False),
              ("bn", "bn_kept", "BN layers kept (first K)", False))
    for ax, (sweep, key, label, log) in zip(axes, panels):
        rows = result.get(sweep, [])
        if rows:
            ax.set_title(f"{rows[0]['crossbars']:,} crossbars" if sweep != "scale" else
                         f"{rows[0]['bn_kept']} BN kept", fontsize=9)
        xs = [r[key] for r in rows]
        ax.plot(xs, [r["speedup"] for r in rows], "o-", label="speedup vs GPU")
        ax.plot(xs, [r["energy_ratio"] for r in rows], "s--", label="energy ratio")
        ax.axhline(1.0, color="grey", lw=0.8)
        if log:
            ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)
