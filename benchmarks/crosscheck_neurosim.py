"""Cross-check of the training cost model against DNN+NeuroSim V2.1 on VGG-8, component by component.

DNN+NeuroSim V2.1 (github.com/neurosim/DNN_NeuroSim_V2.1, its own licence: nothing of it is copied
here) is fetched by whoever runs this script. The script

1. writes NeuroSim's network file and layer traces for its example network, VGG-8 (weights
   quantized to ``--weight-bits``, the weights after one SGD step, and the bit-serial input
   activations of one sample, all drawn from one seed: see :func:`write_traces`);
2. copies NeuroSim's estimator into a work folder, sets its cell to RRAM (``memcelltype = 2``;
   every other ``Param.cpp`` default is kept), builds it with ``make`` and runs it on the traces;
3. parses NeuroSim's per-component area, latency and energy (its breakdown CSV) for one training
   iteration (its per-epoch figures divided by ``numIteration``);
4. costs the same layers (the trace built from NeuroSim's own layer table, so both count the same
   positions) with ``reram.schedule`` on a chip configured as NeuroSim's defaults
   (:func:`neurosim_chip`) and the same write activity (the level changes of the traces);
5. writes ``benchmarks/results/neurosim_crosscheck.json``: ``components`` = [{name, neurosim,
   model, ratio}] with totals, and prints the table that docs/scheduler.md quotes.

No constant of the cost model is set from NeuroSim's results; the chip below is NeuroSim's
*configuration* (array size, bits, ADC, clock, write pulse, DRAM), not its outputs.

Usage::

    python benchmarks/crosscheck_neurosim.py --neurosim-dir /path/to/DNN_NeuroSim_V2.1
    python benchmarks/crosscheck_neurosim.py --neurosim-dir PATH --parse-only WORK  # reuse a run
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

#: NeuroSim's example network (its NetWork.csv): IFM H, IFM W, C_in, kH, kW, C_out,
#: followed by max-pooling, stride.
VGG8 = ((32, 32, 3, 3, 3, 128, 0, 1), (32, 32, 128, 3, 3, 128, 1, 1),
        (16, 16, 128, 3, 3, 256, 0, 1), (16, 16, 256, 3, 3, 256, 1, 1),
        (8, 8, 256, 3, 3, 512, 0, 1), (8, 8, 512, 3, 3, 512, 1, 1),
        (1, 1, 8192, 1, 1, 1024, 0, 1), (1, 1, 1024, 1, 1, 10, 0, 1))
RESULT = Path(__file__).resolve().parent / "results" / "neurosim_crosscheck.json"


def _positions(row: tuple) -> int:
    """Output positions NeuroSim counts for a layer (valid convolution: ``(H - k + 1)^2 / s^2``)."""
    h, w, _, kh, kw, _, _, s = row
    return max(1, ((h - kh + 1) // s) * ((w - kw + 1) // s))


def _quantize(x: np.ndarray, bits: int) -> np.ndarray:
    """Weights in [-1, 1] on a grid of ``2**(bits-1)`` steps per unit (NeuroSim's weight range)."""
    step = 2.0 ** (1 - bits)
    return np.clip(np.round(x / step) * step, -1 + step, 1 - step)


def write_traces(folder: Path, *, weight_bits: int = 8, input_bits: int = 8, seed: int = 0,
                 level_sigma: float = 1.0) -> dict:
    """Write NeuroSim's network file and per-layer traces into ``folder``.

    Weights: Gaussian, clipped to 3 sigma, scaled into [-1, 1] and quantized to ``weight_bits``.
    The weights after one step: each weight moved by ``round(N(0, level_sigma))`` grid steps (one
    SGD step of a converged-ish training moves most weights by 0 or 1 level). Inputs: ReLU outputs
    (half zero) quantized to ``input_bits``, written bit-serially as NeuroSim reads them.

    Returns:
        ``{"args": [...per-layer command-line arguments...], "level_changes": {...}}`` where the
        level changes (in NeuroSim's weight grid) are what the cost model's write model is given.
    """
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "NetWork.csv", "w", encoding="utf-8") as f:
        for row in VGG8:
            f.write(",".join(str(v) for v in row) + "\n")
    args, changed, total, abs_sum = [], 0, 0, 0.0
    step = 2.0 ** (1 - weight_bits)
    for i, row in enumerate(VGG8):
        h, w, cin, kh, kw, cout, _, _ = row
        rows = cin * kh * kw
        old = _quantize(np.clip(rng.standard_normal((rows, cout)) / 3.0, -1, 1), weight_bits)
        delta = np.round(rng.standard_normal((rows, cout)) * level_sigma)
        new = _quantize(old + delta * step, weight_bits)
        moved = np.abs(np.round((new - old) / step))
        changed += int((moved > 0).sum())
        total += moved.size
        abs_sum += float(moved.sum())
        np.savetxt(folder / f"weight{i}.csv", new, delimiter=",", fmt="%10.5f")
        np.savetxt(folder / f"weightOld{i}.csv", old, delimiter=",", fmt="%10.5f")
        positions = _positions(row)
        x = np.maximum(rng.standard_normal((rows, positions)), 0.0)
        codes = np.minimum(np.round(x / 3.0 * (2 ** input_bits - 1)), 2 ** input_bits - 1).astype(np.int64)
        bits = np.empty((rows, positions * input_bits), dtype=np.int8)
        for b in range(input_bits):  # most significant bit first, as NeuroSim's dec2bin
            bits[:, b::input_bits] = (codes >> (input_bits - 1 - b)) & 1
        activity = float(bits.mean())
        np.savetxt(folder / f"input{i}.csv", bits, delimiter=",", fmt="%d")
        args += [str(folder / f"weight{i}.csv"), str(folder / f"weightOld{i}.csv"),
                 str(folder / f"input{i}.csv"), f"{activity:.6f}"]
    return {"args": args, "level_changes": {"changed_fraction": changed / total,
                                            "mean_levels_per_changed_cell": abs_sum / max(1, changed)}}


def build_neurosim(neurosim_dir: Path, work: Path) -> Path:
    """Copy NeuroSim's estimator to ``work/NeuroSIM``, select the RRAM cell, build it; the binary."""
    src = neurosim_dir / "Training_pytorch" / "NeuroSIM"
    if not (src / "main.cpp").is_file():
        raise SystemExit(f"--neurosim-dir: no Training_pytorch/NeuroSIM/main.cpp under {neurosim_dir}")
    dst = work / "NeuroSIM"
    if not dst.exists():
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.o", "main"))
    param = dst / "Param.cpp"
    text = param.read_text(encoding="utf-8", errors="replace")
    text, n = re.subn(r"memcelltype\s*=\s*\d+;", "memcelltype = 2;", text, count=1)
    if n != 1:
        raise SystemExit("could not find 'memcelltype = ...;' in NeuroSim's Param.cpp")
    param.write_text(text, encoding="utf-8")
    subprocess.run(["nice", "-n", "10", "make", "-j2"], cwd=dst, check=True,
                   stdout=subprocess.DEVNULL)
    return dst / "main"


def run_neurosim(binary: Path, traces: Path, args: list[str], *, weight_bits: int,
                 input_bits: int) -> Path:
    """Run NeuroSim on the traces; the path of its breakdown CSV (stdout saved next to it)."""
    cwd = binary.parent
    (cwd / "NeuroSim_Results_Each_Epoch").mkdir(exist_ok=True)
    out = cwd / "NeuroSim_Results_Each_Epoch" / "NeuroSim_Breakdown_Epock_0.csv"
    if out.exists():
        out.unlink()
    cmd = ["nice", "-n", "10", str(binary), "0", str(traces / "NetWork.csv"), str(weight_bits),
           str(input_bits), *args]
    with open(cwd / "neurosim_stdout.txt", "w", encoding="utf-8") as log:
        subprocess.run(cmd, cwd=cwd, check=True, stdout=log, stderr=subprocess.STDOUT)
    return out
