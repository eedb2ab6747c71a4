"""Training-step benchmark: one SGD step of a converted CNN against the float model, one run.

VGG11 and ResNet20 on 32x32 inputs at batch 64 (CIFAR-10 shapes, random data), 1 thread. Each
model is timed in float and converted with: the ideal config (exact float through the crossbar
layers), the NeuroSim V2 preset, the ISAAC preset, and the main job's chip
(``CrossbarConfig.preset("neurosim-epiram")``: 128-row tiles, per-tile 8-bit ADCs, 8-bit
inputs in one 8-bit DAC phase, EpiRAM weights updated by pulses). One step is forward,
cross-entropy, backward and ``optimizer.step()`` (which re-programs the crossbars on the next
forward). On CPU, times are the process's CPU time (1 thread; other processes on a shared machine do not
count in it as they do in wall time). Ratios are of the fastest repeat to the float step's
fastest, measured in the same run, interleaved per repeat (medians are kept in the JSON).

Each row also gives the epoch time its step implies: ``ceil(epoch_samples / batch)`` steps
(CIFAR-10's 50,000 training images by default) of the measured step, data loading and
evaluation not included. ``--main-job-epoch`` also times whole training epochs of the main job
itself (``reram-bn-search``'s defaults: VGG11 on the bundled digits, batch 64, every BN kept),
float against the main job's chip, interleaved, ``--repeats`` of each. The
host (CPU, ISA flags, versions, product throughput: :mod:`reram.apps.host`) is printed and
stored beside the figures.

Usage: python benchmarks/bench_train_step.py [--models vgg11,resnet20] [--repeats N]
           [--configs float,ideal,neurosim,isaac,main-job] [--batch 64] [--epoch-samples N]
           [--main-job-epoch] [--out F]
"""
from __future__ import annotations

import argparse
import math
import statistics
from typing import Callable

import torch
from torch import nn

import reram
from reram import CrossbarConfig
from reram.apps.host import describe_host, format_host
from reram.apps.layer_benchmark import time_once
from reram.io import atomic_write_json
from reram.models import resnet20, vgg11
from reram.sim.tiles import product_path

#: The main job's chip (``reram-bn-search``'s default crossbar).
MAIN_JOB_CHIP = CrossbarConfig.preset("neurosim-epiram")
MODELS: dict[str, Callable[[], nn.Module]] = {"vgg11": lambda: vgg11(num_classes=10),
                                              "resnet20": lambda: resnet20(num_classes=10)}


def configs() -> dict[str, CrossbarConfig | None]:
    """The benchmark's configs (None: the float model)."""
    return {"float": None, "ideal": CrossbarConfig.ideal(), "neurosim": CrossbarConfig.preset("neurosim"),
            "isaac": CrossbarConfig.preset("isaac"), "main-job": MAIN_JOB_CHIP}


def _step_fn(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> Callable[[], None]:
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()
    return step


def _paths(model: nn.Module) -> dict[str, int]:
    """How many crossbar layers take each product path."""
    counts: dict[str, int] = {}
    for mod in model.modules():
        if isinstance(mod, reram.CrossbarLayer):
            k = mod.weight[0].numel()
            name = product_path(mod.crossbar_config, k)
            counts[name] = counts.get(name, 0) + 1
    return counts


def run(model_names: list[str], config_names: list[str], batch: int, repeats: int,
        device: str = "cpu", epoch_samples: int = 50_000) -> list[dict]:
    """Time one SGD step per (model, config); returns one row per pair (``ratio`` to float,
    ``epoch_s``: the step time times ``ceil(epoch_samples / batch)``)."""
    torch.set_num_threads(1)
    rows = []
    for model_name in model_names:
        torch.manual_seed(0)
        base = MODELS[model_name]().train().to(device)
        x = torch.randn(batch, 3, 32, 32, device=device)
        y = torch.randint(0, 10, (batch,), device=device)
        steps, paths = {}, {}
        for name in config_names:
            cfg = configs()[name]
            model = base if cfg is None else reram.convert(base, cfg)
            if cfg is not None:
                model.train()
                paths[name] = _paths(model)
            steps[name] = _step_fn(model, x, y)
        times: dict[str, list[float]] = {name: [] for name in config_names}
        warm = {}
        for name in config_names:          # warm-up: JIT compile, allocator, first programming
            warm[name] = time_once(steps[name], device)
        for rep in range(repeats):
            for name in config_names:
                if rep > 0 and warm[name] > 20.0:
                    continue               # steps of tens of seconds are timed once
                times[name].append(time_once(steps[name], device))
        # the fastest repeat: on a shared machine other processes only add time
        float_s = min(times["float"]) if "float" in times else None
        for name in config_names:
            sec = min(times[name])
            row = {"model": model_name, "config": name, "step_s": sec, "repeats": len(times[name]),
                   "median_s": statistics.median(times[name]), "paths": paths.get(name, {}),
                   "epoch_s": sec * math.ceil(epoch_samples / batch)}
            if float_s:
                row["ratio"] = sec / float_s
            rows.append(row)
            print(f"{model_name:9s} {name:9s} {sec:8.3f} s  {row.get('ratio', float('nan')):7.2f}x float"
                  f"  epoch {row['epoch_s'] / 60:6.1f} min  {row['paths']}", flush=True)
        if "main-job" in config_names and float_s:
            chip = next(r for r in rows if r["model"] == model_name and r["config"] == "main-job")
            print(f"{model_name:9s} epoch of {epoch_samples} samples at batch {batch}: main job's "
                  f"chip {chip['epoch_s'] / 60:.1f} min, float "
                  f"{float_s * math.ceil(epoch_samples / batch) / 60:.1f} min "
                  f"({chip['ratio']:.2f}x)", flush=True)
    return rows


def main_job_epoch(repeats: int, batch: int = 64) -> dict:
    """Seconds of one training epoch of the main job (VGG11 on the digits' training split,
    batch ``batch``, shuffled with a fixed seed), float and on the main job's chip: the fastest
    of ``repeats`` interleaved epochs of each (1 thread, process CPU time), and their ratio."""
    from reram.models.registry import build_model_for, load_model_data
    torch.set_num_threads(1)
    data = load_model_data("vgg11", "digits")
    torch.manual_seed(0)
    base = build_model_for("vgg11", data).train()
    chip = reram.convert(base, MAIN_JOB_CHIP).train()
    order = torch.randperm(len(data.train_labels), generator=torch.Generator().manual_seed(0))
    batches = [(data.train_images[idx], data.train_labels[idx]) for idx in order.split(batch)]

    def epoch_fn(model: nn.Module) -> Callable[[], None]:
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        loss_fn = nn.CrossEntropyLoss()

        def epoch() -> None:
            for x, y in batches:
                opt.zero_grad(set_to_none=True)
                loss_fn(model(x), y).backward()
                opt.step()
        return epoch
    runs = {"float": epoch_fn(base), "main-job": epoch_fn(chip)}
    times: dict[str, list[float]] = {name: [] for name in runs}
    for name, fn in runs.items():
        time_once(fn)                      # warm-up: JIT compile, first programming
    for _ in range(repeats):
        for name, fn in runs.items():
            times[name].append(time_once(fn))
    best = {name: min(t) for name, t in times.items()}
    return {"model": "vgg11", "dataset": "digits", "batch": batch, "steps": len(batches),
            "float_epoch_s": best["float"], "chip_epoch_s": best["main-job"],
            "ratio": best["main-job"] / best["float"],
            "medians_s": {name: statistics.median(t) for name, t in times.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="vgg11,resnet20")
    parser.add_argument("--configs", default=",".join(configs()))
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--main-job-epoch", action="store_true",
                        help="also time whole epochs of the main job (VGG11, digits)")
    parser.add_argument("--epoch-samples", type=int, default=50_000,
                        help="training samples per epoch for the epoch time (CIFAR-10: 50000)")
    parser.add_argument("--out", default=None, help="write the rows as JSON here")
    args = parser.parse_args()
    model_names = [m for m in args.models.split(",") if m]
    config_names = [c for c in args.configs.split(",") if c]
    for m in model_names:
        if m not in MODELS:
            parser.error(f"--models: {m!r} is not one of {sorted(MODELS)}")
    for c in config_names:
        if c not in configs():
            parser.error(f"--configs: {c!r} is not one of {sorted(configs())}")
    if "float" not in config_names:
        config_names.insert(0, "float")
    if args.epoch_samples < 1:
        parser.error(f"--epoch-samples must be >= 1, got {args.epoch_samples}")
    print(f"one SGD step, batch {args.batch}, 32x32, 1 thread; main-job chip = "
          f"<{MAIN_JOB_CHIP.describe()}>")
    rows = run(model_names, config_names, args.batch, args.repeats,
               epoch_samples=args.epoch_samples)
    result = {"rows": rows, "batch": args.batch, "epoch_samples": args.epoch_samples,
              "main_job_chip": MAIN_JOB_CHIP.to_dict()}
    if args.main_job_epoch:
        epoch = main_job_epoch(args.repeats, args.batch)
        print(f"main job epoch (vgg11 on the digits, {epoch['steps']} steps of batch "
              f"{epoch['batch']}): float {epoch['float_epoch_s']:.2f} s, main job's chip "
              f"{epoch['chip_epoch_s']:.2f} s ({epoch['ratio']:.2f}x float)", flush=True)
        result["main_job_epoch"] = epoch
    torch.set_num_threads(1)
    result["host"] = describe_host()  # after the run: it lists the products the layers chose
    print(format_host(result["host"]))
    if args.out:
        atomic_write_json(args.out, result)


if __name__ == "__main__":
    main()
