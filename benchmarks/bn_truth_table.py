"""The converged truth table of the BN search: every BN mask of a net trained at a stated fidelity,
replicated over training seeds, on the main job's chip (issue 22).

Each (mask, seed) training is one run of ``--epochs`` epochs (cosine schedule over those epochs)
from a fresh model; its test accuracy after every epoch is kept too (``curves``), so the table
also answers "what would a shorter run of the same schedule have shown" (a prefix of the same
run: the multi-fidelity screen of the search). The data split is fixed (seed 0, as the BN
search's objective loads it); a replicate changes the training seed: weight init, batch order,
the pulses' noise. The chip (its defect and variation draws) is the config's and stays fixed.

Resumable and safe to kill at any moment: the table file is rewritten atomically after every
training, a run with other settings is refused, and finished (mask, seed) pairs are never
retrained. Trainings run seed-major (every mask at the first seed, then at the next), masks in a
fixed shuffled order, so a partial table is an unbiased sample with whole seeds.

Usage (background, resumable; commit the partial file as it grows)::

    nice -n 10 python benchmarks/bn_truth_table.py --out benchmarks/results/bn_truth_vgg11.json --workers 2

Output: ``{"settings": {...}, "provenance": {...}, "masks": {"01101101": {"accuracies": [...],
"seeds": [...], "epochs": E, "curves": [[...], ...], "train_time_s": [...]}, ...}}``.
"""
from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import platform
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

#: The main job's chip (the simulated half): 128-row tiles, per-tile 8-bit ADCs, 8-bit inputs in
#: one 8-bit DAC phase, EpiRAM weights updated by pulses (docs/bn_search.md, "The main job").
MAIN_CHIP: dict[str, Any] = {
    "tile_size": 128, "weight_bits": 6, "cell_bits": 6, "input_bits": 8, "dac_bits": 8,
    "adc_bits": 8, "update": "pulsed", "device": "epiram",
}
FORMAT = "reram-bn-truth-table/1"


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    return {"format": FORMAT, "model": args.model, "width": args.width, "dataset": "digits",
            "data_seed": 0, "config": MAIN_CHIP, "epochs": args.epochs, "batch_size": 64,
            "lr": args.lr, "schedule": "cosine", "momentum": 0.9}


def _provenance() -> dict[str, Any]:
    import numba
    import torch

    def git(*cmd: str) -> str:
        try:
            return subprocess.run(["git", *cmd], capture_output=True, text=True,
                                  cwd=Path(__file__).parent, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return "unknown"

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"commit": git("rev-parse", "HEAD"), "cpu": cpu, "python": platform.python_version(),
            "torch": torch.__version__, "numba": numba.__version__, "numpy": np.__version__,
            "threads": 1}


def _load(out: Path, settings: dict[str, Any]) -> dict[str, Any]:
    from reram.io import read_json

    if not out.exists():
        return {"settings": settings, "provenance": {}, "masks": {}}
    table = read_json(out, "truth table")
    if table.get("settings") != settings:
        raise SystemExit(f"{out}: made with other settings ({table.get('settings')}); "
                         "use another --out or the same settings")
    return table


def _order(num_sites: int, seeds: list[int]) -> list[tuple[str, int]]:
    masks = ["".join(bits) for bits in itertools.product("01", repeat=num_sites)]
    shuffled = [masks[i] for i in np.random.default_rng(12345).permutation(len(masks))]
    return [(mask, seed) for seed in seeds for mask in shuffled]


def _done(table: dict[str, Any], mask: str, seed: int) -> bool:
    entry = table["masks"].get(mask)
    return entry is not None and seed in entry["seeds"]


def _train_one(settings: dict[str, Any], data: Any, mask: str, seed: int) -> dict[str, Any]:
    from reram.models.train import TrainConfig, run_training

    config = TrainConfig(epochs=settings["epochs"], batch_size=settings["batch_size"],
                         lr=settings["lr"], momentum=settings["momentum"], seed=seed,
                         progress=False, device="cpu")
    started = time.process_time()
    result = run_training(model=settings["model"], dataset="digits", bn_mask=mask,
                          config=settings["config"], train_config=config, data=data,
                          width=settings["width"])
    curve = [round(float(h["test_accuracy"]), 6) for h in result["history"]]
    diverged = any(h.get("nonfinite_steps", 0) for h in result["history"])
    return {"accuracy": curve[-1], "curve": curve, "cpu_s": round(time.process_time() - started, 2),
            "diverged": diverged}


_DATA: dict[str, Any] = {}


def _worker(settings: dict[str, Any], mask: str, seed: int) -> dict[str, Any]:
    """One training in a worker process (the data loaded once per process, 1 thread)."""
    import torch

    from reram.models.registry import load_model_data

    torch.set_num_threads(1)
    if settings["model"] not in _DATA:
        _DATA[settings["model"]] = load_model_data(settings["model"], "digits", seed=0)
    return _train_one(settings, _DATA[settings["model"]], mask, seed)


def _record(table: dict[str, Any], mask: str, seed: int, run: dict[str, Any], epochs: int) -> None:
    entry = table["masks"].setdefault(mask, {"accuracies": [], "seeds": [], "epochs": epochs,
                                             "curves": [], "train_time_s": [], "diverged": []})
    entry["accuracies"].append(run["accuracy"])
    entry["seeds"].append(seed)
    entry["curves"].append(run["curve"])
    entry["train_time_s"].append(run["cpu_s"])
    entry["diverged"].append(run["diverged"])


def import_cache(table: dict[str, Any], folder: Path, settings: dict[str, Any]) -> int:
    """Add the trainings a BN search cached under ``folder`` (``<out>/evals/<hash>/<mask>.json``,
    ``reram.apps.bn_objective.MaskTrainer``) that are this table's training at some seed and not
    in the table yet; returns how many. The same training through either runner gives the same
    bits on one machine (checked: docs/bn_search.md, "Reproducibility")."""
    import json

    from reram.config import CrossbarConfig

    chip = CrossbarConfig.from_dict(settings["config"])

    def same_chip(config: Any) -> bool:
        try:
            return isinstance(config, dict) and CrossbarConfig.from_dict(config) == chip
        except (TypeError, ValueError):
            return False

    added = 0
    for path in sorted(folder.glob("*/*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            fp, ev = doc["fingerprint"], doc["evaluation"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        same = (fp.get("model") == settings["model"] and fp.get("width", 1.0) == settings["width"]
                and fp.get("dataset") == settings["dataset"] and same_chip(fp.get("config"))
                and fp.get("epochs") == settings["epochs"] and fp.get("batch_size") == settings["batch_size"]
                and fp.get("lr") == settings["lr"] and fp.get("max_train") is None and fp.get("max_test") is None)
        mask, seed = ev.get("mask"), fp.get("seed")
        if not same or _done(table, mask, seed):
            continue
        curve = [round(float(v), 6) for v in ev["history"]]
        _record(table, mask, int(seed), {"accuracy": curve[-1], "curve": curve, "cpu_s": None,
                                         "diverged": bool(ev.get("diverged", False))}, settings["epochs"])
        table.setdefault("imported", []).append({"mask": mask, "seed": int(seed), "from": path.parent.parent.name})
        added += 1
    return added


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="benchmarks/results/bn_truth_vgg11.json")
    p.add_argument("--model", default="vgg11")
    p.add_argument("--width", type=float, default=0.25, help="channel multiplier of the VGG")
    p.add_argument("--epochs", type=int, default=8,
                   help="epochs per training (8: all-BN within 2 points of 20; bn_curves_vgg11.json)")
    p.add_argument("--lr", type=float, default=0.2)
    p.add_argument("--workers", type=int, default=2, help="training processes")
    p.add_argument("--seeds", default="0,1", help="training seeds, comma-separated")
    p.add_argument("--limit", type=int, default=0, help="stop after N new trainings (0: all)")
    p.add_argument("--import-cache", default=None, metavar="EVALS",
                   help="first add the matching trainings a BN search cached in this folder (<out>/evals)")
    p.add_argument("--masks", default="",
                   help="only these masks, comma-separated (e.g. the robustness runs at other learning "
                   "rates; use another --out); default every mask")
    args = p.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    from reram.io import atomic_write_json
    from reram.models import num_bn_sites

    torch.set_num_threads(1)
    out = Path(args.out)
    settings = _settings(args)
    table = _load(out, settings)
    table["provenance"] = _provenance()
    if args.import_cache:
        added = import_cache(table, Path(args.import_cache), settings)
        atomic_write_json(out, table, indent=None)
        print(f"imported {added} trainings from {args.import_cache}", flush=True)
    seeds = [int(s) for s in args.seeds.split(",")]
    order = _order(num_bn_sites(args.model), seeds)
    if args.masks:
        wanted = [m.strip() for m in args.masks.split(",")]
        bad = [m for m in wanted if len(m) != num_bn_sites(args.model) or set(m) - {"0", "1"}]
        if bad:
            raise SystemExit(f"--masks: {bad} are not {num_bn_sites(args.model)}-bit masks of 0 and 1")
        order = [(m, s) for s in seeds for m in wanted]
    todo = [(m, s) for m, s in order if not _done(table, m, s)]
    print(f"{len(todo)} trainings to go -> {out}", flush=True)
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=args.workers, mp_context=ctx) as pool:
        futures = {}
        for mask, seed in todo[: args.limit or None]:
            futures[pool.submit(_worker, settings, mask, seed)] = (mask, seed)
        for count, future in enumerate(as_completed(futures), 1):
            mask, seed = futures[future]
            run = future.result()
            _record(table, mask, seed, run, args.epochs)
            atomic_write_json(out, table, indent=None)
            print(f"[{count}/{len(futures)}] {mask} seed {seed}: {run['accuracy']:.4f} "
                  f"({run['cpu_s']:.0f} cpu-s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
