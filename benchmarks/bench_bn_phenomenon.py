"""The BN phenomenon: training on low-precision / real-device crossbars with and without BatchNorm.

The claim under test: on ReRAM crossbars a CNN without BatchNorm trains badly because small
weight updates are lost (rounded away on a coarse grid, or distorted by a device's nonlinear,
asymmetric, noisy pulse response), and a few BN layers (in full precision, on the GPU) recover
it. The script trains each model on the bundled 8x8 digits under

    {float, crossbar update="nearest" at 4 bits, update="pulsed" on each device preset}
      x {all BN, no BN, the best single BN site, the best pair of sites} x seeds

plus a learning-rate sweep (all / no BN, first seed), and writes a Markdown table, the full JSON
(every run's per-epoch history) and a plot.

The best one and two sites are found by a screen that is kept apart from the evaluation: every
single site, then the best single site paired with each of the next best ones, trained with
``--screen-column`` and ``--screen-seed`` (a seed not among the evaluation seeds) for
``--screen-epochs`` epochs. The same masks are then used for every column.

The crossbar quantizes only what matters here: weights (4-bit grid for ``nearest``; the device's
own levels for ``pulsed``), inputs at 8 bits, ideal ADC, no tiling. Every finished run is saved
to ``<name>.partial.json`` at once; rerunning the same command skips the runs already there, so
a killed run resumes.

Usage::

    python benchmarks/bench_bn_phenomenon.py            # the table of docs/models.md
    python benchmarks/bench_bn_phenomenon.py --dataset cifar10 --data-dir ~/data \\
        --models vgg11,resnet18 --epochs 5 --max-train 5000
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from reram.config import DEVICE_NAMES
from reram.io import atomic_write_json, read_json
from reram.models import format_bn_mask, num_bn_sites, parse_bn_mask
from reram.models.data import load_dataset
from reram.models.train import TrainConfig, run_training

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
PLOT = ROOT / "docs" / "img" / "bn_phenomenon.png"
UPDATES = ("nearest", "stochastic", "digital")
#: Options that change what one run (model, column, mask, seed, lr, epochs) computes.
RUN_SETTINGS = ("dataset", "data_dir", "max_train", "max_test", "momentum", "batch_size", "weight_bits")


def crossbar_config(update: str, weight_bits: int, device: str | None = None) -> dict[str, Any]:
    """The crossbar of the experiment: weights on the crossbar, 8-bit inputs, ideal ADC, no
    tiling, so the update rule (or the device) is the variable."""
    cfg = {"weight_bits": weight_bits, "update": update, "input_bits": 8, "adc_bits": None,
           "tile_size": None, "cell_bits": None, "dac_bits": None}
    if device is not None:
        cfg["device"] = device
    return cfg


def columns(tokens: Sequence[str], weight_bits: int) -> list[tuple[str, Any]]:
    """``(label, config)`` per column token: ``float``; ``nearest``/``stochastic``/``digital``,
    optionally ``@bits``; or a device preset name (``update="pulsed"`` on that device).

    Raises:
        ValueError: naming a token that is none of these.
    """
    out: list[tuple[str, Any]] = []
    for token in tokens:
        name, _, bits_text = token.partition("@")
        if name == "float" and not bits_text:
            out.append(("float", "float"))
        elif name in DEVICE_NAMES and not bits_text:
            out.append((f"pulsed {name}", crossbar_config("pulsed", weight_bits, name)))
        elif name in UPDATES and (not bits_text or bits_text.isdigit()):
            bits = int(bits_text) if bits_text else weight_bits
            out.append((f"{name} {bits}b", crossbar_config(name, bits)))
        else:
            raise ValueError(f"column must be float, nearest|stochastic|digital[@bits] or a device "
                             f"of {list(DEVICE_NAMES)}; got {token!r}")
    return out


class RunStore:
    """Finished runs, saved to ``path`` after each one; a rerun whose run-defining ``settings``
    (data, batch, momentum, weight bits) match skips them, also those of a finished run's
    ``final`` JSON, so a rerun with more seeds or learning rates trains only what is new."""

    def __init__(self, path: Path, settings: dict[str, Any], final: Path | None = None) -> None:
        self.path, self.settings = path, settings
        self.runs: list[dict[str, Any]] = []
        for source in (path, final):
            saved = read_json(source) if source is not None and source.exists() else {}
            old = saved.get("settings", {})
            if all(old.get(k) == v for k, v in settings.items()):
                self.runs = saved["runs"]
                break

    @staticmethod
    def key(run: dict[str, Any]) -> tuple:
        return (run["phase"], run["model"], run["column"], run["bn_mask"], run["seed"], run["lr"],
                run["epochs"])

    def find(self, **key: Any) -> dict[str, Any] | None:
        wanted = self.key(key)
        return next((r for r in self.runs if self.key(r) == wanted), None)

    def add(self, run: dict[str, Any]) -> None:
        self.runs.append(run)
        atomic_write_json(self.path, {"settings": self.settings, "runs": self.runs})


def train_one(store: RunStore, data: Any, dataset: str, phase: str, model: str, column: tuple[str, Any],
              mask: str, seed: int, lr: float, epochs: int, train: dict[str, Any], log: Any) -> dict[str, Any]:
    """One training (or its saved record): final/best test accuracy, history, time."""
    bits = format_bn_mask(parse_bn_mask(mask, num_bn_sites(model)))
    label, config = column
    done = store.find(phase=phase, model=model, column=label, bn_mask=bits, seed=seed, lr=lr, epochs=epochs)
    if done is not None:
        return done
    started = time.perf_counter()
    metrics = run_training(model=model, dataset=dataset, bn_mask=bits, config=config, data=data,
                           train_config=TrainConfig(seed=seed, progress=False, lr=lr, epochs=epochs, **train))
    run = {"phase": phase, "model": model, "column": label, "bn_mask": bits, "seed": seed, "lr": lr,
           "epochs": epochs, "test_accuracy": metrics["test_accuracy"],
           "best_test_accuracy": max(h["test_accuracy"] for h in metrics["history"]),
           "history": metrics["history"], "config": metrics["config"],
           "time_s": round(time.perf_counter() - started, 1)}
    store.add(run)
    print(f"{phase:6s} {model:10s} {label:20s} {bits:>22s} seed {seed} lr {lr:g}: "
          f"{run['test_accuracy']:.3f} ({run['time_s']:.0f} s)", file=log, flush=True)
    return run


def screen_masks(run: Callable[..., dict[str, Any]], model: str, column: tuple[str, Any], seed: int,
                 lr: float, epochs: int, pairs: int) -> tuple[str, str, list[dict[str, Any]]]:
    """The best single BN site and the best pair (the best single with each of the next ``pairs``
    best singles), by final test accuracy of one screening run each."""
    n = num_bn_sites(model)
    singles = []
    for site in range(n):
        bits = "".join("1" if i == site else "0" for i in range(n))
        singles.append(run("screen", model, column, bits, seed, lr, epochs))
    ranked = sorted(singles, key=lambda r: -r["test_accuracy"])
    best1 = ranked[0]["bn_mask"]
    first = best1.index("1")
    doubles = []
    for other in ranked[1:1 + pairs]:
        bits = "".join("1" if i in (first, other["bn_mask"].index("1")) else "0" for i in range(n))
        doubles.append(run("screen", model, column, bits, seed, lr, epochs))
    best2 = max(doubles, key=lambda r: r["test_accuracy"])["bn_mask"] if doubles else best1
    return best1, best2, singles + doubles


def update_survival(model: str, column: tuple[str, Any], mask: str, data: Any, lr: float, momentum: float,
                    batch_size: int, steps: int, seed: int = 0) -> dict[str, float]:
    """Why small updates are lost: over the first ``steps`` SGD steps, the median proposed
    update ``|lr * step|`` in units of the hardware's smallest weight change (one grid level for
    ``nearest``, one nominal pulse ``2 s_w / N`` for ``pulsed``) and the fraction of crossbar
    weights that actually changed, averaged over the crossbar layers; and, after the last step,
    the drift of the mean crossbar weight (in units of ``s_w``, averaged over layers) and the
    standard deviation of the last crossbar layer's input on one batch (how much signal is left
    at the end of the network)."""
    import reram
    import torch.nn.functional as F

    from reram.models import build_model

    torch.manual_seed(seed)
    net = reram.convert(build_model(model, num_classes=10, bn_mask=mask, in_channels=data.train_images.shape[1]),
                        reram.CrossbarConfig.from_dict(column[1]))
    layers = [m for m in net.modules() if isinstance(m, reram.CrossbarLayer)]
    start_mean = [float(m.weight.detach().mean() / m.crossbar_weight_scale.max()) for m in layers]
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum)
    order = torch.randperm(len(data.train_images), generator=torch.Generator().manual_seed(seed))
    ratio = moved = 0.0
    net.train()
    for step in range(steps):
        index = order[(step * batch_size) % len(order):][:batch_size]
        opt.zero_grad()
        F.cross_entropy(net(data.train_images[index]), data.train_labels[index]).backward()
        before = [m.weight.detach().clone() for m in layers]
        opt.step()
        for m, old in zip(layers, before):
            proposed = m.weight.detach().clone()
            m.programmed()
            cfg = m.crossbar_config
            if cfg.update == "pulsed":
                from reram.sim.devices import device_levels, get_device
                unit = 2 * float(m.crossbar_weight_scale.max()) / device_levels(get_device(cfg.device), cfg)[0]
            else:
                unit = float(m.crossbar_weight_scale.max()) / (2 ** (cfg.weight_bits - 1) - 1)
            ratio += float((proposed - old).abs().median()) / unit / steps / len(layers)
            moved += float((m.weight.detach() != old).float().mean()) / steps / len(layers)
    drift = sum(float(m.weight.detach().mean() / m.crossbar_weight_scale.max()) - s0
                for m, s0 in zip(layers, start_mean)) / len(layers)
    seen: list[float] = []
    hook = layers[-1].register_forward_pre_hook(lambda mod, inp: seen.append(float(inp[0].detach().std())))
    net.eval()
    with torch.no_grad():
        net(data.test_images[:256])
    hook.remove()
    return {"median_update_in_steps": ratio, "fraction_moved": moved, "mean_weight_drift": drift,
            "last_layer_input_std": seen[0]}


def _cell(accs: list[float]) -> str:
    if not accs:
        return "-"
    if len(accs) == 1:
        return f"{accs[0]:.3f}"
    return f"{sum(accs) / len(accs):.3f} ({min(accs):.2f}-{max(accs):.2f})"


def grid_table(runs: list[dict[str, Any]], model: str, masks: Sequence[tuple[str, str]],
               labels: Sequence[str], lr: float) -> str:
    """Markdown: rows = masks, columns = crossbar columns, cells = mean (min-max) over seeds."""
    lines = [f"| BN mask ({num_bn_sites(model)} sites) | " + " | ".join(labels) + " |",
             "|" + "---|" * (len(labels) + 1)]
    for name, bits in masks:
        cells = [_cell([r["test_accuracy"] for r in runs if r["phase"] == "grid" and r["model"] == model
                        and r["column"] == label and r["bn_mask"] == bits and r["lr"] == lr]) for label in labels]
        lines.append(f"| {name} `{bits}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def sweep_table(runs: list[dict[str, Any]], model: str, labels: Sequence[str], lrs: Sequence[float],
                seed: int) -> str:
    """Markdown: rows = learning rates, cells = all-BN / no-BN accuracy of one seed."""
    n = num_bn_sites(model)
    lines = ["| lr | " + " | ".join(f"{label}: all / no BN" for label in labels) + " |",
             "|" + "---|" * (len(labels) + 1)]
    for lr in lrs:
        cells = []
        for label in labels:
            acc = {r["bn_mask"]: r["test_accuracy"] for r in runs if r["model"] == model and r["lr"] == lr
                   and r["column"] == label and r["seed"] == seed and r["phase"] in ("grid", "sweep")}
            cells.append(" / ".join(f"{acc[b]:.3f}" if b in acc else "-" for b in ("1" * n, "0" * n)))
        lines.append(f"| {lr:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(runs: list[dict[str, Any]], models: Sequence[str], masks: dict[str, list[tuple[str, str]]],
         labels: Sequence[str], lr: float, path: Path) -> None:
    """One panel per model: grouped bars (mask) per column, mean over seeds, min-max whiskers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(models), 1, figsize=(11, 3.6 * len(models)), squeeze=False)
    for ax, model in zip(axes[:, 0], models):
        width = 0.8 / max(1, len(masks[model]))
        for m, (name, bits) in enumerate(masks[model]):
            means, lo, hi = [], [], []
            for label in labels:
                accs = [r["test_accuracy"] for r in runs if r["phase"] == "grid" and r["model"] == model
                        and r["column"] == label and r["bn_mask"] == bits and r["lr"] == lr] or [float("nan")]
                mean = sum(accs) / len(accs)
                means.append(mean)
                lo.append(mean - min(accs))
                hi.append(max(accs) - mean)
            xs = [i + (m - (len(masks[model]) - 1) / 2) * width for i in range(len(labels))]
            ax.bar(xs, means, width, yerr=[lo, hi], capsize=2, label=f"{name} {bits}")
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels(labels, rotation=15, fontsize=8)
        ax.set_ylim(0, 1.18)
        ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
        ax.axhline(0.1, color="grey", lw=0.5, ls=":")
        ax.set_ylabel("test accuracy")
        ax.set_title(f"{model} on digits, lr {lr:g} (bars: mean of seeds, whiskers: min-max)", fontsize=9)
        ax.legend(fontsize=7, ncol=4, loc="upper center")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--models", default="vgg-digits,resnet20", help="comma-separated models (default: %(default)s)")
    add("--dataset", default="digits", help="digits, cifar10, mnist, fashion-mnist (default: %(default)s)")
    add("--data-dir", default=None, help="folder of the data set (not needed for digits)")
    add("--max-train", type=int, default=None, help="first N training images")
    add("--max-test", type=int, default=None, help="first N test images")
    add("--epochs", default="8,5", help="epochs per model, one value or one per model (default: %(default)s)")
    add("--lr", type=float, default=0.05, help="learning rate of the main grid (default: %(default)s, "
        "reram-train's default)")
    add("--momentum", type=float, default=0.9, help="SGD momentum (default: %(default)s)")
    add("--batch-size", type=int, default=64, help="batch size (default: %(default)s)")
    add("--weight-bits", type=int, default=4, help="weight bits of nearest/stochastic/digital "
        "columns (default: %(default)s)")
    add("--seeds", default="0,1,2", help="comma-separated evaluation seeds (default: %(default)s)")
    add("--columns", default="float,nearest," + ",".join(d for d in DEVICE_NAMES if d != "linear"),
        help="columns (default: %(default)s)")
    add("--masks", default="all,none,best1,best2", help="all, none, best1, best2 (from the screen) "
        "or bit strings (default: %(default)s)")
    add("--screen-column", default="nearest", help="column the screen trains (default: %(default)s)")
    add("--screen-seed", type=int, default=100, help="seed of the screen (default: %(default)s)")
    add("--screen-epochs", default="4,3", help="screen epochs per model (default: %(default)s)")
    add("--screen-pairs", type=int, default=5, help="pairs tried with the best single site (default: %(default)s)")
    add("--sweep-lrs", default="0.01,0.03,0.1", help="extra learning rates, all/no BN, first seed "
        "(default: %(default)s; empty: none)")
    add("--sweep-models", default="vgg-digits", help="models of the sweep (default: %(default)s)")
    add("--diagnose-steps", type=int, default=0, help="also measure, over this many first steps of the "
        "first model, how large the proposed updates are against one hardware step and how many "
        "weights move (all / no BN, every crossbar column)")
    add("--out-dir", default=str(RESULTS), help="where <name>.{md,json} go")
    add("--name", default="bn_phenomenon", help="file stem of the results (default: %(default)s)")
    add("--plot", default=str(PLOT), help="PNG of the grid (default: docs/img/bn_phenomenon.png; empty: none)")
    return parser.parse_args(argv)


def _per_model(text: str, models: Sequence[str], what: str) -> dict[str, int]:
    values = [int(v) for v in text.split(",")]
    if len(values) == 1:
        values = values * len(models)
    if len(values) < len(models) or any(v < 1 for v in values):
        raise ValueError(f"{what} must be one positive integer or one per model ({len(models)}), got {text!r}")
    return dict(zip(models, values))


def _validate(args: argparse.Namespace) -> dict[str, Any]:
    """Check every option before any training; return the parsed plan."""
    models = [m for m in args.models.split(",") if m]
    plan = {"models": models, "epochs": _per_model(args.epochs, models, "--epochs"),
            "screen_epochs": _per_model(args.screen_epochs, models, "--screen-epochs"),
            "seeds": [int(s) for s in args.seeds.split(",")],
            "columns": columns(args.columns.split(","), args.weight_bits),
            "screen_column": columns([args.screen_column], args.weight_bits)[0],
            "sweep_lrs": [float(v) for v in args.sweep_lrs.split(",") if v],
            "sweep_models": [m for m in args.sweep_models.split(",") if m in models]}
    for model in models:
        for mask in args.masks.split(","):
            if mask not in ("best1", "best2"):
                parse_bn_mask(mask, num_bn_sites(model))
    return plan


def _masks_for(model: str, tokens: Sequence[str], screened: tuple[str, str] | None) -> list[tuple[str, str]]:
    n = num_bn_sites(model)
    out = []
    for token in tokens:
        if token in ("best1", "best2"):
            out.append((f"best {token[-1]} BN", screened[int(token[-1]) - 1]))  # type: ignore[index]
        else:
            bits = format_bn_mask(parse_bn_mask(token, n))
            out.append(({"all": "all BN", "none": "no BN"}.get(token, f"{bits.count('1')} BN"), bits))
    return out


def _digits(max_train: int | None, max_test: int | None) -> Any:
    data = load_dataset("digits", seed=0)
    data.train_images, data.train_labels = data.train_images[:max_train], data.train_labels[:max_train]
    data.test_images, data.test_labels = data.test_images[:max_test], data.test_labels[:max_test]
    return data


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; returns the exit status."""
    args = parse_args(argv)
    import numba

    # One thread for both: numba's OpenMP layer would otherwise reset torch's thread count, and
    # results depend on thread counts.
    numba.set_num_threads(1)
    torch.set_num_threads(1)
    started = time.perf_counter()
    try:
        plan = _validate(args)
        data = load_dataset(args.dataset, args.data_dir, max_train=args.max_train, max_test=args.max_test) \
            if args.dataset != "digits" else _digits(args.max_train, args.max_test)
    except (ValueError, FileNotFoundError) as exc:
        print(f"bench_bn_phenomenon: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    out_dir = Path(args.out_dir)
    settings = {k: getattr(args, k) for k in RUN_SETTINGS}
    store = RunStore(out_dir / f"{args.name}.partial.json", settings, out_dir / f"{args.name}.json")
    train = dict(momentum=args.momentum, batch_size=args.batch_size)
    labels = [c[0] for c in plan["columns"]]

    def run(phase: str, model: str, column: tuple[str, Any], mask: str, seed: int, lr: float,
            epochs: int) -> dict[str, Any]:
        return train_one(store, data, args.dataset, phase, model, column, mask, seed, lr, epochs, train, sys.stdout)

    tokens = args.masks.split(",")
    masks: dict[str, list[tuple[str, str]]] = {}
    screens: dict[str, Any] = {}
    sections = []
    for model in plan["models"]:
        screened = None
        if "best1" in tokens or "best2" in tokens:
            best1, best2, screen_runs = screen_masks(run, model, plan["screen_column"], args.screen_seed, args.lr,
                                                     plan["screen_epochs"][model], args.screen_pairs)
            screened = (best1, best2)
            screens[model] = {"best1": best1, "best2": best2,
                              "runs": [(r["bn_mask"], r["test_accuracy"]) for r in screen_runs]}
        masks[model] = _masks_for(model, tokens, screened)
        for column in plan["columns"]:
            for _, bits in masks[model]:
                for seed in plan["seeds"]:
                    run("grid", model, column, bits, seed, args.lr, plan["epochs"][model])
        note = (f"; best sites screened with {plan['screen_column'][0]}, seed {args.screen_seed}, "
                f"{plan['screen_epochs'][model]} epochs" if screened else "")
        sections.append(f"### {model} on {args.dataset} ({len(data.train_images)} train / {len(data.test_images)} "
                        f"test, {plan['epochs'][model]} epochs, lr {args.lr:g}, seeds {args.seeds}{note}; mean "
                        f"(min-max) final test accuracy)\n\n" + grid_table(store.runs, model, masks[model], labels, args.lr))
    for model in plan["sweep_models"]:
        n = num_bn_sites(model)
        for lr in plan["sweep_lrs"]:
            for column in plan["columns"]:
                for bits in ("1" * n, "0" * n):
                    run("sweep", model, column, bits, plan["seeds"][0], lr, plan["epochs"][model])
        lrs = sorted(set(plan["sweep_lrs"]) | {args.lr})
        sections.append(f"### Learning-rate sweep, {model} ({plan['epochs'][model]} epochs, seed "
                        f"{plan['seeds'][0]})\n\n" + sweep_table(store.runs, model, labels, lrs, plan["seeds"][0]))
    survival: dict[str, Any] = {}
    if args.diagnose_steps > 0:
        model = plan["models"][0]
        n = num_bn_sites(model)
        lines = ["| column | mask | median update / step | weights moved per step | mean weight drift (s_w) "
                 "| last layer input std |", "|---|---|---|---|---|---|"]
        for label, config in plan["columns"]:
            if config == "float":
                continue
            row = {bits: update_survival(model, (label, config), bits, data, args.lr, args.momentum,
                                         args.batch_size, args.diagnose_steps) for bits in ("1" * n, "0" * n)}
            survival[label] = row
            for name, b in (("all BN", "1" * n), ("no BN", "0" * n)):
                r = row[b]
                lines.append(f"| {label} | {name} | {r['median_update_in_steps']:.3f} | {100 * r['fraction_moved']:.2f} % "
                             f"| {r['mean_weight_drift']:+.3f} | {r['last_layer_input_std']:.3g} |")
        sections.append(f"### Surviving updates, {model}, first {args.diagnose_steps} steps (lr {args.lr:g}, "
                        f"momentum {args.momentum:g}, batch {args.batch_size}; mean over crossbar layers)\n\n"
                        + "\n".join(lines))
    elapsed = time.perf_counter() - started
    command = "python benchmarks/bench_bn_phenomenon.py " + " ".join(sys.argv[1:] if argv is None else argv)
    train_time = sum(r["time_s"] for r in store.runs)
    footer = (f"Command: `{command.strip()}`; {len(store.runs)} trainings, {train_time / 60:.1f} min of training "
              f"({elapsed / 60:.1f} min in this invocation) on {platform.machine()} (torch {torch.get_num_threads()} / "
              f"numba {numba.get_num_threads()} threads, torch {torch.__version__}; CPU shared with other jobs, "
              f"so times are upper bounds).")
    markdown = "\n\n".join(sections + [footer]) + "\n"
    atomic_write_json(out_dir / f"{args.name}.json", {
        "command": command.strip(), "training_time_s": round(train_time, 1), "settings": settings, "args": vars(args),
        "masks": masks, "screens": screens, "update_survival": survival, "runs": store.runs})
    (out_dir / f"{args.name}.md").write_text(markdown)
    if args.plot:
        plot(store.runs, plan["models"], masks, labels, args.lr, Path(args.plot))
    (out_dir / f"{args.name}.partial.json").unlink(missing_ok=True)
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
