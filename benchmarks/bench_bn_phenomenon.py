"""The BN phenomenon: low-precision crossbar training with and without BatchNorm.

On a ReRAM crossbar with ``update="nearest"`` a weight update smaller than half a conductance
level is rounded away, so a CNN whose gradients are small (no BatchNorm) barely trains, while
a few full-precision BN layers (run on the GPU of a heterogeneous chip) make it train. This
script trains the small VGG on the bundled 8x8 digits for every combination of

    {float, crossbar update="digital", crossbar update="nearest"} x {BN masks}

(``digital`` and ``nearest`` at the same weight precision differ only in the update rule; a
column such as ``nearest@5`` adds another precision) and writes a Markdown table and the full JSON (per-epoch histories) to
``benchmarks/results/bn_phenomenon.{md,json}``. With ``--data-dir`` pointing at CIFAR-10 it
also runs VGG11 and ResNet18 on it (``--cifar-*`` options size that part).

Usage::

    python benchmarks/bench_bn_phenomenon.py --sweep-lrs 0.01,0.02,0.05,0.1 --diagnose-steps 20
        # the table of docs/models.md: digits only, about 5 min on one core
    python benchmarks/bench_bn_phenomenon.py --data-dir ~/data --cifar-epochs 5 --cifar-max-train 5000
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from reram.models import format_bn_mask, num_bn_sites, parse_bn_mask
from reram.models.data import load_dataset
from reram.io import atomic_write_json
from reram.models.train import TrainConfig, run_training

RESULTS = Path(__file__).resolve().parent / "results"


def crossbar_config(update: str, weight_bits: int) -> dict[str, Any]:
    """The crossbar of the experiment: only weights quantized (8-bit inputs, ideal ADC), so
    the update rule is the variable. ``update`` is ``"digital"`` or ``"nearest"``."""
    return {"weight_bits": weight_bits, "update": update, "input_bits": 8, "adc_bits": None,
            "tile_size": None, "cell_bits": None, "dac_bits": None}


def columns(configs: Sequence[str], weight_bits: int) -> list[tuple[str, Any]]:
    """``(label, config)`` for the requested columns: ``float``, ``digital`` or ``nearest``,
    the crossbar ones optionally with their own weight bits (``nearest@5``)."""
    out: list[tuple[str, Any]] = []
    for token in configs:
        name, _, bits_text = token.partition("@")
        if name == "float" and not bits_text:
            out.append(("float", "float"))
            continue
        if name not in ("digital", "nearest") or (bits_text and not bits_text.isdigit()):
            raise ValueError(f"config must be float, digital[@bits] or nearest[@bits]; got {token!r}")
        bits = int(bits_text) if bits_text else weight_bits
        out.append((f"crossbar {name} {bits}b", crossbar_config(name, bits)))
    return out


def run_grid(
    model: str,
    dataset: str,
    data: Any,
    masks: Sequence[str],
    configs: Sequence[tuple[str, Any]],
    seeds: Sequence[int],
    train: dict[str, Any],
    log: Any,
    on_record: Any = None,
) -> list[dict[str, Any]]:
    """Train every (config, mask, seed) combination; return one record per run.

    ``on_record(record)`` is called after each run (the caller saves partial results)."""
    records = []
    for label, config in configs:
        for mask in masks:
            for seed in seeds:
                started = time.perf_counter()
                metrics = run_training(model=model, dataset=dataset, bn_mask=mask, config=config, data=data,
                                       train_config=TrainConfig(seed=seed, progress=False, **train))
                record = {
                    "model": model, "dataset": dataset, "column": label, "bn_mask": metrics["bn_mask"],
                    "seed": seed, "test_accuracy": metrics["test_accuracy"],
                    "best_test_accuracy": max(h["test_accuracy"] for h in metrics["history"]),
                    "history": metrics["history"], "config": metrics["config"],
                    "time_s": round(time.perf_counter() - started, 1),
                }
                records.append(record)
                if on_record is not None:
                    on_record(record)
                print(f"{model:10s} {label:22s} mask {record['bn_mask']:>20s} seed {seed}: "
                      f"test acc {record['test_accuracy']:.3f} ({record['time_s']:.0f} s)", file=log, flush=True)
    return records


def update_survival(mask: str, weight_bits: int, lr: float, momentum: float, batch_size: int, steps: int,
                    seed: int = 0) -> list[dict[str, Any]]:
    """Why no-BN nets stall: per crossbar layer, over the first ``steps`` SGD steps of a
    ``nearest`` crossbar vgg-digits, the median proposed update ``|lr * step|`` in units of one
    weight level and the fraction of weights that actually moved after snapping to the grid."""
    import reram
    import torch.nn.functional as F

    from reram.models import vgg_digits

    data = load_dataset("digits", seed=seed)
    torch.manual_seed(seed)
    net = reram.convert(vgg_digits(bn_mask=mask), reram.CrossbarConfig.from_dict(crossbar_config("nearest", weight_bits)))
    layers = [(name, m) for name, m in net.named_modules() if isinstance(m, reram.CrossbarLayer)]
    optimizer = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum)
    order = torch.randperm(len(data.train_images), generator=torch.Generator().manual_seed(seed))
    ratio = [0.0] * len(layers)
    moved = [0.0] * len(layers)
    net.train()
    for step in range(steps):
        index = order[step * batch_size: (step + 1) * batch_size]
        optimizer.zero_grad()
        F.cross_entropy(net(data.train_images[index]), data.train_labels[index]).backward()
        before = [m.weight.detach().clone() for _, m in layers]
        optimizer.step()
        proposed = [m.weight.detach().clone() for _, m in layers]
        for i, (_, m) in enumerate(layers):
            m.programmed()  # snap onto the grid, as the next forward would
            level = float(m.crossbar_weight_scale.max()) / (2 ** (weight_bits - 1) - 1)
            ratio[i] += float((proposed[i] - before[i]).abs().median()) / level / steps
            moved[i] += float((m.weight.detach() != before[i]).float().mean()) / steps
    return [{"layer": name, "median_update_in_levels": r, "fraction_moved": f}
            for (name, _), r, f in zip(layers, ratio, moved)]


def survival_table(rows: dict[str, list[dict[str, Any]]]) -> str:
    """Markdown: one row per layer, for each mask the median update (levels) and % moved."""
    masks = list(rows)
    lines = ["| layer | " + " | ".join(f"{m}: median update / level | {m}: weights moved" for m in masks) + " |",
             "|" + "---|" * (1 + 2 * len(masks))]
    for i, first in enumerate(rows[masks[0]]):
        cells = []
        for m in masks:
            cells += [f"{rows[m][i]['median_update_in_levels']:.3f}", f"{100 * rows[m][i]['fraction_moved']:.2f} %"]
        lines.append(f"| `{first['layer']}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def table(records: list[dict[str, Any]], masks: Sequence[str], labels: Sequence[str], model: str) -> str:
    """A Markdown table: rows = masks, columns = configs, cells = mean (min-max) accuracy."""
    n_sites = num_bn_sites(model)
    header = f"| BN mask ({n_sites} sites) | " + " | ".join(labels) + " |"
    lines = [header, "|" + "---|" * (len(labels) + 1)]
    for mask in masks:
        bits = format_bn_mask(parse_bn_mask(mask, n_sites))
        cells = []
        for label in labels:
            accs = [r["test_accuracy"] for r in records if r["column"] == label and r["bn_mask"] == bits
                    and r["model"] == model]
            if not accs:
                cells.append("-")
            elif len(accs) == 1:
                cells.append(f"{accs[0]:.3f}")
            else:
                cells.append(f"{sum(accs) / len(accs):.3f} ({min(accs):.2f}-{max(accs):.2f})")
        name = {"all": "all BN", "none": "no BN"}.get(mask, f"{bits.count('1')} BN")
        lines.append(f"| {name} `{bits}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10, help="digits epochs (default: %(default)s)")
    parser.add_argument("--lr", type=float, default=0.03, help="SGD learning rate (default: %(default)s)")
    parser.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=64, help="batch size (default: %(default)s)")
    parser.add_argument("--weight-bits", type=int, default=4, help="crossbar weight bits (default: %(default)s)")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default: %(default)s)")
    parser.add_argument("--configs", default="float,digital,nearest,nearest@5", help="columns (default: %(default)s)")
    parser.add_argument("--masks", default="all,none,100000,000001,100001",
                        help="comma-separated BN masks for vgg-digits (default: %(default)s)")
    parser.add_argument("--skip-digits", action="store_true", help="only run the CIFAR-10 part")
    parser.add_argument("--data-dir", default=None, help="CIFAR-10 location; adds VGG11 and ResNet18 runs")
    parser.add_argument("--cifar-epochs", type=int, default=5, help="CIFAR-10 epochs (default: %(default)s)")
    parser.add_argument("--cifar-max-train", type=int, default=None, help="first N CIFAR-10 training images")
    parser.add_argument("--cifar-max-test", type=int, default=None, help="first N CIFAR-10 test images")
    parser.add_argument("--cifar-configs", default="float,nearest", help="CIFAR-10 columns (default: %(default)s)")
    parser.add_argument("--cifar-masks", default="all,none", help="CIFAR-10 masks, all/none or bit strings "
                        "(the same strings for both models; default: %(default)s)")
    parser.add_argument("--sweep-lrs", default="",
                        help="comma-separated learning rates: also run float and the crossbar columns "
                        "with all/no BN at each (seed of the first --seeds)")
    parser.add_argument("--diagnose-steps", type=int, default=0,
                        help="also measure, over this many first steps, how many nearest updates survive")
    parser.add_argument("--out-dir", default=str(RESULTS), help="where bn_phenomenon.{md,json} go")
    parser.add_argument("--name", default="bn_phenomenon", help="file stem of the results (default: %(default)s)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; returns the exit status."""
    args = parse_args(argv)
    import numba

    # One thread for both: numba's OpenMP layer would otherwise reset torch's thread count to
    # numba's at the first crossbar kernel, and results depend on thread counts.
    numba.set_num_threads(1)
    torch.set_num_threads(1)
    started = time.perf_counter()
    seeds = [int(s) for s in args.seeds.split(",")]
    train = dict(epochs=args.epochs, lr=args.lr, momentum=args.momentum, batch_size=args.batch_size)
    sections: list[str] = []
    records: list[dict[str, Any]] = []
    out_dir = Path(args.out_dir)
    partial = out_dir / f"{args.name}.partial.json"
    diagnosis: dict[str, Any] = {}

    def save_partial(record: dict[str, Any]) -> None:
        done = records + [record]
        atomic_write_json(partial, {"args": vars(args), "runs": done})
        records.append(record)
    try:
        if not args.skip_digits:
            masks = args.masks.split(",")
            cols = columns(args.configs.split(","), args.weight_bits)
            for mask in masks:
                parse_bn_mask(mask, num_bn_sites("vgg-digits"))
            digits = load_dataset("digits", seed=0)
            recs = run_grid("vgg-digits", "digits", digits, masks, cols, seeds, train, sys.stdout, save_partial)
            sections.append(
                f"### vgg-digits on digits ({len(digits.train_images)} train / {len(digits.test_images)} test, "
                f"{args.epochs} epochs, seeds {args.seeds}; mean (min-max) final test accuracy)\n\n"
                + table(recs, masks, [c[0] for c in cols], "vgg-digits"))
        if args.sweep_lrs:
            digits = load_dataset("digits", seed=0)
            cols = columns(args.configs.split(","), args.weight_bits)
            lrs = [float(v) for v in args.sweep_lrs.split(",")]
            sweep: dict[float, list[dict[str, Any]]] = {}
            for lr in lrs:
                sweep[lr] = run_grid("vgg-digits", "digits", digits, ["all", "none"], cols, seeds[:1],
                                     dict(train, lr=lr), sys.stdout, save_partial)
            header = "| lr | " + " | ".join(f"{label}: all BN / no BN" for label, _ in cols) + " |"
            lines = [header, "|" + "---|" * (len(cols) + 1)]
            for lr in lrs:
                cells = []
                for label, _ in cols:
                    acc = {r["bn_mask"]: r["test_accuracy"] for r in sweep[lr] if r["column"] == label}
                    cells.append(f"{acc['111111']:.3f} / {acc['000000']:.3f}")
                lines.append(f"| {lr:g} | " + " | ".join(cells) + " |")
            sections.append(f"### Learning-rate sweep, vgg-digits on digits ({args.epochs} epochs, seed {seeds[0]})"
                            "\n\n" + "\n".join(lines))
        if args.diagnose_steps > 0:
            rows = {mask: update_survival(mask, args.weight_bits, args.lr, args.momentum, args.batch_size,
                                          args.diagnose_steps) for mask in ("all", "none")}
            diagnosis = rows
            sections.append(
                f"### Surviving updates: crossbar nearest {args.weight_bits}b, first {args.diagnose_steps} steps "
                f"(lr {args.lr}, momentum {args.momentum}, batch {args.batch_size})\n\n" + survival_table(rows))
        if args.data_dir is not None:
            cifar = load_dataset("cifar10", args.data_dir, max_train=args.cifar_max_train, max_test=args.cifar_max_test)
            cols = columns(args.cifar_configs.split(","), args.weight_bits)
            cifar_train = dict(train, epochs=args.cifar_epochs)
            for model in ("vgg11", "resnet18"):
                masks = args.cifar_masks.split(",")
                for mask in masks:
                    parse_bn_mask(mask, num_bn_sites(model))
                recs = run_grid(model, "cifar10", cifar, masks, cols, seeds, cifar_train, sys.stdout, save_partial)
                sections.append(
                    f"### {model} on CIFAR-10 ({len(cifar.train_images)} train / {len(cifar.test_images)} test, "
                    f"{args.cifar_epochs} epochs)\n\n" + table(recs, masks, [c[0] for c in cols], model))
    except (ValueError, FileNotFoundError) as exc:
        print(f"bench_bn_phenomenon: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - started
    command = "python benchmarks/bench_bn_phenomenon.py " + " ".join(sys.argv[1:] if argv is None else argv)
    footer = (f"Command: `{command.strip()}`; {elapsed / 60:.1f} min on {platform.machine()} "
              f"(torch {torch.get_num_threads()} / numba {numba.get_num_threads()} threads, torch {torch.__version__}; "
              f"CPU shared with other jobs, so times are upper bounds).")
    markdown = "\n\n".join(sections + [footer]) + "\n"
    atomic_write_json(out_dir / f"{args.name}.json", {
        "command": command.strip(), "time_s": round(elapsed, 1), "args": vars(args), "runs": records,
        "update_survival": diagnosis})
    (out_dir / f"{args.name}.md").write_text(markdown)
    partial.unlink(missing_ok=True)
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
