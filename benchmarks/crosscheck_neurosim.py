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
    python benchmarks/crosscheck_neurosim.py --neurosim-dir PATH --work-dir WORK --parse-only  # reuse a run
    python benchmarks/crosscheck_neurosim.py --neurosim-output WORK/NeuroSIM/NeuroSim_Results_Each_Epoch/NeuroSim_Breakdown_Epock_0.csv
    python benchmarks/crosscheck_neurosim.py --recompare  # from the committed NeuroSim output

The comparison costs our side with NeuroSim's *dataflow* (per-sample weight-gradient accumulation
in DRAM, buffer and interconnect latency added to compute), then, beside it, with our defaults
(batch-blocked accumulation, transfers overlapped with compute): ``our_defaults`` in the result.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import json
import math
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
#: NeuroSim's own output of the run :data:`RESULT` compares with (its breakdown CSV, kept so the
#: comparison can be re-derived without rebuilding NeuroSim: ``--recompare``).
NEUROSIM_CSV = RESULT.parent / "neurosim_vgg8_breakdown.csv"


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
    args, olds, news = [], [], []
    step = 2.0 ** (1 - weight_bits)
    for i, row in enumerate(VGG8):
        h, w, cin, kh, kw, cout, _, _ = row
        rows = cin * kh * kw
        old = _quantize(np.clip(rng.standard_normal((rows, cout)) / 3.0, -1, 1), weight_bits)
        delta = np.round(rng.standard_normal((rows, cout)) * level_sigma)
        new = _quantize(old + delta * step, weight_bits)
        olds.append(old)
        news.append(new)
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
    return {"args": args, "level_changes": level_stats(olds, news, weight_bits)}


def level_stats(olds: list[np.ndarray], news: list[np.ndarray], weight_bits: int) -> dict[str, float]:
    """The weight update's level changes (in weight LSB levels) over all layers: the fraction of
    weights that change, their mean ``|delta|``, and the mean over the array rows (fan-in rows of
    each ``rows x cols`` matrix) of the row's largest ``|delta|``."""
    step = 2.0 ** (1 - weight_bits)
    changed = total = 0
    abs_sum = row_max_sum = 0.0
    rows = 0
    for old, new in zip(olds, news):
        moved = np.abs(np.round((np.asarray(new) - np.asarray(old)) / step))
        changed += int((moved > 0).sum())
        total += moved.size
        abs_sum += float(moved.sum())
        row_max_sum += float(moved.max(axis=1).sum())
        rows += moved.shape[0]
    return {"changed_fraction": changed / total, "mean_levels_per_changed_cell": abs_sum / max(1, changed),
            "row_max_levels": row_max_sum / max(1, rows)}


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


# ----------------------------------------------------------------------------------------------
# NeuroSim's results
# ----------------------------------------------------------------------------------------------
#: Param.cpp defaults the comparison depends on (read from the checkout by :func:`neurosim_params`).
PARAMS = ("numRowSubArray", "numColSubArray", "cellBit", "levelOutput", "numColMuxed", "clkFreq",
          "technode", "readPulseWidth", "writePulseWidth", "writeVoltage", "resistanceOn",
          "maxNumLevelLTP", "maxNumLevelLTD", "batchSize", "numIteration", "dramType",
          "levelOutputWG", "numRowSubArrayWG")

#: Param.cpp values of DNN_NeuroSim_V2.1 (commit 18289cb, the version the committed run used) for
#: parameters a result written before they were recorded lacks (``--recompare`` of an old JSON).
PARAMS_V21 = {"levelOutputWG": 16.0, "numRowSubArrayWG": 128.0, "batchSize": 200.0, "clkFreq": 1e9}


def neurosim_params(neurosim_src: Path) -> dict[str, float]:
    """The first assignment of each of :data:`PARAMS` in NeuroSim's ``Param.cpp``."""
    text = (neurosim_src / "Param.cpp").read_text(encoding="utf-8", errors="replace")
    text = re.sub(r"//[^\n]*", "", text)
    out = {}
    for name in PARAMS:
        match = re.search(rf"\b{name}\s*=\s*([0-9.eE+-]+)\s*;", text)
        if match is None:
            raise SystemExit(f"Param.cpp: no plain number for {name}")
        out[name] = float(match.group(1))
    return out


#: DNN+NeuroSim V2.1's "Weight Gradient Area" of the committed VGG-8 run, 1.00204e-5 m^2, split
#: into its parts by a scratch copy of NeuroSim with print statements added (not part of this
#: project; the same run's figures): the compute-in-memory unit itself (56 SRAM arrays of
#: 128 x 128 with their sense amplifiers, encoders, shift-adders, muxes and adder tree) and
#: ``gradientAccum`` (Chip.cpp), a bank of 131,072 23-bit adders that adds a batch's gradients
#: of ``numArrayWriteParallel`` arrays at once. The two sum to the committed figure (checked
#: in :func:`parse_breakdown`). Our digital unit accumulates in its MACs' adders (no bank), so
#: the unit is what is compared.
NEUROSIM_WG_AREA_SPLIT = {"unit_m2": 6.380e-7, "gradient_accumulator_m2": 9.382e-6}

#: NeuroSim V2.1's weight-gradient unit for VGG-8 (WeightGradientUnit.cpp, Chip.cpp: sized for
#: the layer with the largest input, 900 positions x 128 channels x 8 bits): arrays of
#: ``numRowSubArrayWG`` x ``numColSubArrayWG`` = 128 x 128 one-bit SRAM cells, positions on the
#: rows, each 8-bit activation over 8 columns; floor(900 / 128) = 7 arrays along the positions,
#: floor(1024 / 128) = 8 along the channels.
NEUROSIM_WG_ARRAYS = {"rows": 128, "cols": 128, "in_row": 7, "in_col": 8}


def neurosim_wg_capacity(input_bits: int = 8) -> list[dict]:
    """Per VGG-8 layer, the speed-up NeuroSim's weight-gradient latency takes (Chip.cpp: the
    unit's arrays over those a layer needs, ``floor(available / needed)`` along the positions
    and along the channels, each set to 1 where it comes out 0; a fully connected layer takes
    ``floor(8 C / 128)`` along the channels whatever the unit has) against the one its
    capacity allows: a layer needing more arrays than the unit has along a side makes
    ``ceil(needed / available)`` passes; where it needs fewer, ``floor(available / needed)``
    copies work side by side. ``factor`` = the time it should take / the time it is charged."""
    unit = NEUROSIM_WG_ARRAYS
    out = []
    for row in VGG8:
        positions, channels = _positions(row), row[2] * input_bits
        need_row = max(1, math.ceil(positions / unit["rows"]))
        need_col = max(1, math.ceil(channels / unit["cols"]))
        if positions != 1:
            charged = (max(1, unit["in_row"] // need_row)) * (max(1, unit["in_col"] // need_col))
        else:  # a fully connected layer
            charged = unit["in_row"] * max(1, channels // unit["cols"])
        # the time its capacity allows, in units of one pass: passes where the layer needs more
        # arrays than the unit has along a side, 1 / copies where it needs fewer
        passes = 1.0
        for need, have in ((need_row, unit["in_row"]), (need_col, unit["in_col"])):
            passes *= math.ceil(need / have) if need > have else 1 / (have // need)
        out.append({"positions": positions, "arrays_needed": [need_row, need_col],
                    "speedup_charged": charged, "time_factor": passes * charged,
                    "fully_connected": positions == 1})
    return out


def parse_layers(path: Path, iterations: float) -> list[dict[str, float]]:
    """NeuroSim's per-layer rows of the breakdown CSV: its weight-gradient unit latency of one
    training iteration, s (the ``Weight_gradient_latency`` column: the unit and its batch
    accumulator, no DRAM or buffer time)."""
    rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
    layers = []
    for r in rows:
        if r and r[0].strip().isdigit():
            vals = [float(v) for v in r[1:] if v.strip() not in ("",)]
            layers.append({"layer": int(r[0]), "latency_weight_gradient_unit_s": vals[16 + 5] / iterations})
    return layers


def wg_capacity_correction(path: Path, iterations: float, input_bits: int = 8) -> dict:
    """NeuroSim's weight-gradient unit latency of one iteration as it reports it, and with each
    layer charged the passes its unit's capacity needs (:func:`neurosim_wg_capacity`): the
    convolutions only, and every layer."""
    layers = parse_layers(path, iterations)
    factors = neurosim_wg_capacity(input_bits)
    reported = sum(l["latency_weight_gradient_unit_s"] for l in layers)
    conv = sum(l["latency_weight_gradient_unit_s"] * (f["time_factor"] if not f["fully_connected"] else 1)
               for l, f in zip(layers, factors))
    every = sum(l["latency_weight_gradient_unit_s"] * f["time_factor"] for l, f in zip(layers, factors))
    return {"reported_s": reported, "convolutions_corrected_s": conv, "all_corrected_s": every,
            "layers": [{**l, **f} for l, f in zip(layers, factors)]}


def _split_applies(area_m2: float) -> bool:
    """The run's weight-gradient area is the committed run's (:data:`NEUROSIM_WG_AREA_SPLIT`
    sums to it within 0.1%), so its split applies."""
    return abs(sum(NEUROSIM_WG_AREA_SPLIT.values()) - area_m2) <= 1e-3 * area_m2


def parse_breakdown(path: Path, iterations: float) -> dict[str, float]:
    """NeuroSim's per-epoch breakdown CSV -> one training iteration's figures (SI units)."""
    rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
    area = [float(v) for v in rows[1] if v.strip()]
    total = next(r for r in rows if r and r[0].strip() == "Total")
    vals = [float(v) for v in total[1:] if v.strip() not in ("",)]
    (lat_fw, lat_ag, lat_wg, lat_wu, e_fw, e_ag, e_wg, e_wu) = vals[:8]
    tail = vals[16:]
    (lat_adc, lat_accum, lat_other, lat_buf, lat_ic, lat_wg_unit, _, lat_dram, e_adc, e_accum,
     e_other, e_buf, e_ic, e_wg_unit, _, e_dram) = tail[:16]
    per = 1.0 / iterations
    return {
        "area_total_m2": area[0], "area_cim_m2": area[1], "area_adc_m2": area[3],
        # the unit apart from its adder bank where the split of the committed run applies
        "area_weight_gradient_m2": (NEUROSIM_WG_AREA_SPLIT["unit_m2"] if _split_applies(area[6])
                                    else area[6]),
        "area_weight_gradient_with_accumulator_m2": area[6],
        "latency_forward_s": lat_fw * per, "latency_input_gradient_s": lat_ag * per,
        "latency_weight_gradient_s": lat_wg * per, "latency_weight_update_s": lat_wu * per,
        "energy_forward_j": e_fw * per, "energy_input_gradient_j": e_ag * per,
        "energy_weight_gradient_j": e_wg * per, "energy_weight_update_j": e_wu * per,
        "energy_adc_j": e_adc * per, "energy_accumulation_j": e_accum * per,
        "energy_buffer_j": e_buf * per, "energy_interconnect_j": e_ic * per,
        "energy_dram_j": e_dram * per, "latency_dram_s": lat_dram * per,
        "latency_buffer_s": lat_buf * per, "latency_interconnect_s": lat_ic * per,
        "latency_compute_fw_ig_s": (lat_adc + lat_accum + lat_other) * per,
        "latency_weight_gradient_unit_s": lat_wg_unit * per,
        "energy_weight_gradient_unit_j": e_wg_unit * per,
        "latency_total_s": (lat_fw + lat_ag + lat_wg + lat_wu) * per,
        "energy_total_j": (e_fw + e_ag + e_wg + e_wu) * per,
    }


# ----------------------------------------------------------------------------------------------
# Our model on the same layers and a chip configured as NeuroSim's defaults
# ----------------------------------------------------------------------------------------------
def vgg8_trace():
    """VGG-8 as NeuroSim counts it: each conv valid (``H - k + 1`` positions), ReLU after every
    layer but the last, 2x2 max-pooling where NetWork.csv says so."""
    from reram.cost.trace import LayerTrace, Trace

    layers = []
    for i, (h, w, cin, kh, kw, cout, pool, s) in enumerate(VGG8):
        conv = kh > 1 or h > 1
        out_hw = ((h - kh + 1) // s, (w - kw + 1) // s)
        if conv:
            layers.append(LayerTrace(f"conv{i}", "conv", "Conv2d", (cin, h, w), (cout, *out_hw),
                                     cin, cout, (kh, kw), (s, s)))
        else:
            layers.append(LayerTrace(f"fc{i}", "linear", "Linear", (cin,), (cout,), cin, cout))
        shape = (cout, *out_hw) if conv else (cout,)
        if i < len(VGG8) - 1:
            layers.append(LayerTrace(f"relu{i}", "act", "ReLU", shape, shape))
        if pool:
            pooled = (cout, out_hw[0] // 2, out_hw[1] // 2)
            layers.append(LayerTrace(f"pool{i}", "pool", "MaxPool2d", shape, pooled,
                                     kernel_size=(2, 2), stride=(2, 2)))
    return Trace(input_shape=(3, 32, 32), layers=layers, model_name="VGG8")


#: How a signed weight and a signed vector are mapped (see :func:`neurosim_chip`).
ENCODINGS = ("offset", "differential")

#: Whose architecture the chip has: NeuroSim's where ours can express it, or the preset's.
ARCHITECTURES = ("neurosim", "ours")

#: DNN+NeuroSim V2.1's floorplan of VGG-8 at the Param.cpp defaults, the facts its buffer
#: hierarchy and activation block are configured from (read in its sources, commit 18289cb; none
#: is one of its results). Each register-file line is taken to move in one cycle of its clock
#: (``clkFreq``; our assumption, the one ISAAC's eDRAM figure is derived with; NeuroSim's own
#: register-file model gives 0.97 ns a line for a tile's 32 x 32 core and 2.13 ns for the global
#: buffer's 128 x 128 core).
NEUROSIM_FLOORPLAN = {
    # Chip.cpp ChipFloorPlan: tiles of 1024 x 1024 cells (conventional mapping) for layers 1, 7
    # and 8, of 9 PEs of 512 x 512 (novel mapping, 3x3 kernels) for layers 2-6;
    # numTileEachLayer 1, 1, 1, 1, 2, 2, 16, 1
    "tiles": 25,
    # Chip.cpp globalBusWidth: 1024 + 1024 / numColMuxed per conventional layer, 3 x 512 + 192
    # per novel one, 12,096 bits for VGG-8, halved under its 8,192-bit cap; its bus is shared by
    # all tiles, each layer's transfers scaled by ceil(tiles / the layer's tiles)
    "global_bus_bits": 6048,
    # Tile.cpp: the input buffer two register-file cores of 32-bit lines accessed in parallel,
    # the output buffer one (its layer-1 buffer has 38-bit lines)
    "tile_input_buffer_bits": 2 * 32,
    "tile_output_buffer_bits": 32,
    # Chip.cpp GreLu (chipActivation = true): ceil(max(1024, 3 x 512) / numColMuxed) ReLU units,
    # one element a unit a cycle (its 1,024 max-pooling units are faster; one rate is charged)
    "activation_units": 192,
    # Tile.cpp: with chipActivation a tile's output is a partial sum of log2(levelOutput) 6 +
    # numBitInput 8 + numColPerSynapse 2 + 1 + log2(arrays added in a PE) 2 = 19 bits, stored
    # with one more
    "partial_sum_bits": 20,
    # Chip.cpp: a layer's global-buffer reads are C k^2 x numBitInput x numInVector bits, its
    # tiles' input buffers take rows x numInVector: the inputs go to the tiles unrolled (its
    # novel mapping then divides them by k, Chip.cpp; not expressed here)
    "unrolled_inputs": True,
    # Param.cpp: globalBufferType, tileBufferType and peBufferType false, "register file"
    "buffers": "register files",
}

#: Energy of a register-file access relative to a large on-chip buffer's: Eyeriss (Chen, Emer
#: and Sze, ISCA 2016, Table IV, a commercial 65 nm process, normalized to a MAC): a 0.5 KB
#: register file 1x, a 100-plus KB global buffer 6x. The cross-check chip's buffers are register
#: files (NeuroSim's Param.cpp), so every buffer byte is charged the preset's per-byte figure
#: (ISAAC's 64 KB eDRAM) times this.
REGISTER_FILE_ENERGY_RATIO = 1 / 6


def neurosim_chip(params: dict[str, float], level_changes: dict[str, float], *, weight_bits: int,
                  input_bits: int, accumulation: str = "per-sample", overlap: bool = False,
                  encoding: str = "offset", architecture: str = "neurosim"):
    """Our ``neurosim`` chip preset set to NeuroSim's configuration: array size, cell bits, ADC
    levels, input bits, clock, read and write pulses, device pulse levels (``maxNumLevel``), no
    verify read (NeuroSim's pulses are open-loop), its DRAM (HBM2), the digital weight-gradient
    dataflow, its accumulation order and latency accounting (``accumulation="per-sample"``,
    ``overlap=False``; pass ours to cost our defaults), its weight and input mapping
    (``encoding``), its architecture (``architecture``), and the write activity of the traces.
    Every energy per operation stays our own.

    ``encoding="offset"`` (NeuroSim's: its ``LoadInWeightData`` shifts each weight from [-1, 1]
    onto the unsigned integers [0, 2^synapseBit] and slices that over ``ceil(synapseBit /
    cellBit)`` cells of one array; every vector, errors included, is read bit-serially in
    ``numBitInput`` cycles): :meth:`reram.cost.chip.Chip.with_offset_encoding`, a cost-only chip.
    ``"differential"``: the simulation's G+/G- pairs and sign phases (the preset's own chip).

    ``architecture="neurosim"`` (:data:`NEUROSIM_ARCHITECTURE`, facts read in its sources, none
    set from its results): as many tiles as the layers occupy (NeuroSim floorplans its chip to
    the network: "# of tile used for each layer", no spare tiles); its chip-level interconnect,
    an H-tree from the global buffer to every tile (Chip.cpp ``GhTree``, HTree.cpp), the wire
    from our floorplan (``InterconnectSpec(topology="htree")``); its buffer hierarchy (a global
    buffer at the root whose bus its tiles share, tile input and output buffers) and its
    chip-level activation block, so partial sums leave the tiles (:data:`NEUROSIM_FLOORPLAN`);
    and its weight-gradient sums at its ``gradientAccum`` width
    (:func:`neurosim_accumulator_bits`); its inputs sent to the tiles unrolled; its buffers'
    technology, register files (:data:`REGISTER_FILE_ENERGY_RATIO`). Not expressed: its PE
    buffers (0.4% of its buffer time), its novel mapping, and its SRAM compute-in-memory
    weight-gradient unit (docs/scheduler.md). ``"ours"``: the preset's (ISAAC's 168 tiles,
    c-mesh, one eDRAM buffer a tile, activation in the tiles, 32-bit accumulators).
    """
    from reram.cost.chip import Chip
    from reram.cost.interconnect import InterconnectSpec
    from reram.cost.layer_cost import map_layer
    from reram.cost.memory import MemorySpec
    from reram.cost.training import TrainingSpec
    from reram.cost.writes import WriteActivity, WriteModel

    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
    params = {**PARAMS_V21, **params}
    adc_bits = int(round(math.log2(params["levelOutput"])))
    chip = Chip.preset("neurosim", tile_size=int(params["numRowSubArray"]),
                       cell_bits=int(params["cellBit"]), weight_bits=weight_bits,
                       input_bits=input_bits, adc_bits=adc_bits)
    if encoding == "offset":
        chip = chip.with_offset_encoding()
    reram = chip.reram_for(None)
    levels = int(max(params["maxNumLevelLTP"], params["maxNumLevelLTD"]))
    mean_levels = level_changes["mean_levels_per_changed_cell"]
    writes = WriteModel(device_levels=levels, verify_read_s=0.0, activity=WriteActivity(
        # a weight's change by a few LSB levels lands on one of its cells (its least significant
        # slice; with G+/G- pairs on one side of the pair)
        changed_fraction=level_changes["changed_fraction"] / (reram.slices * reram.signs),
        mean_level_change=mean_levels, row_max_level_change=float(level_changes["row_max_levels"]),
        set_fraction=0.5))
    # DRAM.cpp's HBM2: 15.2e12 bit/s (as NeuroSim sets it) at 3.9 pJ/bit (our default, the same
    # source). NeuroSim's dataflow, not its results: each sample's weight gradient goes to DRAM and
    # back (Chip.cpp: "the weight gradient will be sent to DRAM and then grab back to be
    # accumulated across batch"), and a layer's buffer and interconnect latencies are added to its
    # compute latency (no overlap). Our defaults (batch-blocked, overlapped) are costed beside it.
    network = InterconnectSpec(overlap=overlap)
    memory = MemorySpec(dram_bandwidth_bytes_per_s=15.2e12 / 8, accumulation=accumulation,
                        interconnect=network)
    if architecture == "neurosim":
        # its buffer hierarchy (a chip-level global buffer, tile input and output buffers) and
        # its chip-level activation block, partial sums leaving the tiles
        plan = NEUROSIM_FLOORPLAN
        clock = params["clkFreq"]
        network = dataclasses.replace(
            network, topology="htree",
            buffer_bytes_per_s_per_tile=plan["tile_input_buffer_bits"] / 8 * clock,
            output_buffer_bytes_per_s_per_tile=plan["tile_output_buffer_bits"] / 8 * clock,
            global_buffer_bytes_per_s_per_tile=plan["global_bus_bits"] / 8 * clock / plan["tiles"],
            activation_site="chip", activation_ops_per_s=plan["activation_units"] * clock,
            partial_sum_bits=plan["partial_sum_bits"], unrolled_inputs=plan["unrolled_inputs"])
        chip = _with_register_file_buffers(chip)
        memory = dataclasses.replace(memory, interconnect=network,
                                     gradient_bits=neurosim_accumulator_bits(params, input_bits))
        tiles = sum(-(-map_layer(layer, reram).crossbars // reram.crossbars_per_tile)
                    for layer in vgg8_trace().layers if layer.kind in ("conv", "linear"))
        chip = chip.replace(tiles=tiles)
    return chip.replace(training=TrainingSpec(weight_gradient="digital", writes=writes, memory=memory))


def _with_register_file_buffers(chip):
    """``chip`` with its buffers' energy per byte at :data:`REGISTER_FILE_ENERGY_RATIO` of its
    own (every buffer access: the MVMs' operands, the transfers, the weight gradient's operands
    and accumulators, the element-wise layers')."""
    from reram.cost.chip import Chip

    reram = chip.hardware.reram
    reram = dataclasses.replace(reram, buffer_energy_per_byte_j=reram.buffer_energy_per_byte_j
                                * REGISTER_FILE_ENERGY_RATIO)
    return Chip(config=chip.config, hardware=dataclasses.replace(chip.hardware, reram=reram),
                training=chip.training)


def neurosim_accumulator_bits(params: dict[str, float], input_bits: int) -> int:
    """The width of NeuroSim's weight-gradient accumulators (Chip.cpp ``gradientAccum``):
    ``outPrecision + ceil(log2(batchSize))``, where its weight-gradient unit's per-sample output
    (WeightGradientUnit.cpp, ``parallelBP``) has ``outPrecision = log2(levelOutputWG) +
    numBitInput + ceil(log2(numArrayInRow))`` bits, ``numArrayInRow = floor(P / numRowSubArrayWG)``
    for the positions ``P`` of the layer with the largest input (its unit is sized for that one).
    VGG-8 at the defaults: 4 + 8 + 3 = 15, plus 8 for a batch of 200: 23 bits."""
    params = {**PARAMS_V21, **params}
    largest = max(VGG8, key=lambda row: row[0] * row[1] * row[2])
    rows_in_array = int(params["numRowSubArrayWG"])
    arrays_in_row = max(1, _positions(largest) // rows_in_array)
    out_precision = (math.log2(params["levelOutputWG"]) + input_bits
                     + math.ceil(math.log2(arrays_in_row)))
    return int(round(out_precision)) + math.ceil(math.log2(params["batchSize"]))


def model_figures(chip, batch: int) -> dict[str, float]:
    """Our figures for one training iteration of ``batch`` samples on ``chip``, layer by layer
    (NeuroSim's default ``pipeline = false``) with no replication (NeuroSim's ``speedUpDegree =
    1``): the plan from ``reram.schedule`` and its forward / input-gradient / weight-gradient
    split from the same per-layer cost functions."""
    from reram.cost.interconnect import (buffer_times, kept_operand_bytes, layer_traffic,
                                         network_seconds, transfer_cost, with_transfers)
    from reram.cost.layer_cost import crossbar_phase_cost, crossbar_update_cost
    from reram.cost.scheduler import schedule
    from reram.cost.training import weight_gradient_cost, weight_gradient_operand_bytes

    trace = vgg8_trace()
    plan = schedule(trace, batch_size=batch, mode="train", chip=chip, pipeline=False, replicate=False)
    reram = chip.reram_for(None)
    per_tile = reram.crossbars_per_tile
    out = dict.fromkeys(("latency_forward_s", "latency_input_gradient_s", "latency_weight_gradient_s",
                         "latency_weight_update_s", "energy_forward_j", "energy_input_gradient_j",
                         "energy_weight_gradient_j", "energy_weight_update_j", "energy_adc_j"), 0.0)
    costed = chip.costed_training()  # what the scheduler charges: wires on the floorplan, MACs at the node
    network = costed.memory.interconnect
    for key in ("latency_buffer_s", "latency_interconnect_s", "energy_interconnect_j",
                "latency_compute_fw_ig_s", "_wg_unit_s", "network_bytes"):
        out[key] = 0.0
    first = True
    for layer, cost in zip(trace.layers, plan.layers):
        if cost.unit != "reram":
            continue
        tiles = -(-cost.crossbars // per_tile)
        fwd = crossbar_phase_cost(layer, reram, batch, "forward", signed_input=first)
        grad_in = crossbar_phase_cost(layer, reram, batch, "backward", needs_input_grad=not first)
        grad_w = weight_gradient_cost(layer, reram, costed, batch, tiles=tiles,
                                      signed_input=first)
        update = crossbar_update_cost(layer, reram, writes=chip.training.writes)
        # data movement, phase by phase: the same functions the scheduler charges; the buffers'
        # time apart (in the backward phase the input gradient's transfers and the weight
        # gradient's operands, which the scheduler charges in the same stage)
        wg_operands = weight_gradient_operand_bytes(layer, reram)
        moved = {}
        wg_buffer_s = 0.0
        for phase in ("forward", "backward"):
            traffic = layer_traffic(layer, reram, network, phase, tiles=tiles,
                                    needs_input_grad=not first)
            extra = wg_operands if phase == "backward" else 0.0
            kept = kept_operand_bytes(layer, reram, network, phase)
            moved[phase] = transfer_cost(layer, reram, network, batch, phase, tiles=tiles,
                                         needs_input_grad=not first)
            net = traffic.incoming + traffic.partial
            out["network_bytes"] += batch * net
            out["latency_buffer_s"] += batch * sum(buffer_times(traffic, network, tiles))
            if extra or kept:  # the weight gradient's share of the backward buffers
                wg_buffer_s = batch * (sum(buffer_times(traffic, network, tiles, extra, kept))
                                       - sum(buffer_times(traffic, network, tiles)))
            out["latency_interconnect_s"] += batch * network_seconds(traffic, network, tiles)
        out["latency_buffer_s"] += wg_buffer_s
        out["latency_compute_fw_ig_s"] += fwd.batch_s + grad_in.batch_s
        out["_wg_unit_s"] += grad_w.batch_s
        fwd = with_transfers(fwd, moved["forward"], network, batch)
        grad_in = with_transfers(grad_in, moved["backward"], network, batch)
        out["energy_interconnect_j"] += (moved["forward"].parts["interconnect"]
                                         + moved["backward"].parts["interconnect"])
        out["latency_forward_s"] += fwd.batch_s
        out["latency_input_gradient_s"] += grad_in.batch_s
        out["latency_weight_gradient_s"] += (grad_w.batch_s + wg_buffer_s if not network.overlap
                                             else max(grad_w.batch_s, wg_buffer_s))
        out["latency_weight_update_s"] += update.batch_s
        out["energy_forward_j"] += fwd.energy_j
        out["energy_input_gradient_j"] += grad_in.energy_j
        out["energy_weight_gradient_j"] += grad_w.energy_j
        out["energy_weight_update_j"] += update.energy_j
        out["energy_adc_j"] += fwd.parts.get("adc", 0.0) + grad_in.parts.get("adc", 0.0)
        first = False
    _add_digital_forward(out, trace, plan, reram, batch)
    out["latency_weight_gradient_unit_s"] = out.pop("_wg_unit_s")
    out["energy_weight_gradient_unit_j"] = out["energy_weight_gradient_j"]
    parts = plan.energy_breakdown
    # NeuroSim charges its DRAM traffic inside the weight gradient; ours is the accumulators and
    # kept activations of the same computation: add it, like for like
    out["latency_weight_gradient_s"] += plan.dram_s
    out["energy_weight_gradient_j"] += parts.get("dram", 0.0)
    out["energy_buffer_j"] = parts.get("buffer", 0.0)
    out["energy_dram_j"] = parts.get("dram", 0.0)
    out["latency_dram_s"] = plan.dram_s
    out["latency_total_s"] = plan.latency_s
    out["energy_total_j"] = sum(v for k, v in parts.items() if k not in ("reram_static", "gpu_idle"))
    out["area_weight_gradient_m2"] = plan.training_area_mm2.get("weight_gradient_unit", 0.0) * 1e-6
    out["plan"] = {"crossbars_used": plan.crossbars_used, "memory": plan.memory,
                   "energy_breakdown": parts, "latency_s": plan.latency_s}
    return out


def neurosim_corrections(breakdown: Path, params: dict, neurosim: dict, as_neurosim: dict) -> dict:
    """NeuroSim's figures with its errors in the weight-gradient unit corrected
    (:func:`wg_capacity_correction`), its area split (:data:`NEUROSIM_WG_AREA_SPLIT`), and the
    total latency of both sides counted alike: ours with the input gradient's transfers counted
    its way (:func:`backward_counted_as_forward`), NeuroSim's with its convolutions' weight
    gradients charged the passes its unit's capacity needs."""
    capacity = wg_capacity_correction(breakdown, params["numIteration"])
    total = neurosim["latency_total_s"] + capacity["convolutions_corrected_s"] - capacity["reported_s"]
    return {
        "weight_gradient_capacity": capacity,
        "weight_gradient_area_split_m2": {
            **NEUROSIM_WG_AREA_SPLIT,
            "applies": _split_applies(neurosim["area_weight_gradient_with_accumulator_m2"]),
            "why": "a scratch copy of NeuroSim with print statements (not part of this project), "
                   "the committed run's configuration: the unit 0.638 mm2, its gradientAccum "
                   "(131,072 23-bit adders) 9.38 mm2"},
        "total_latency_alike": {
            "neurosim_convolutions_corrected_s": total,
            "model_backward_counted_as_forward_s": as_neurosim["latency_total_s"],
            "ratio": as_neurosim["latency_total_s"] / total}}


@contextlib.contextmanager
def backward_counted_as_forward():
    """NeuroSim's convention for the input gradient's transfers, for a diagnostic only: its
    Tile.cpp charges the activation-gradient phase the forward's buffer and H-tree latencies
    (the unrolled ``rows x P`` vector in the input buffer at the input's bits, ``cols x P``
    sums in the output buffer), where the transposed read takes ``cols`` errors in and puts
    ``rows`` partial sums a position out. Inside this context every layer's backward transfers
    are costed with its forward volumes (the weight gradient's operands as before)."""
    from reram.cost import interconnect

    real = interconnect.layer_traffic

    def as_forward(layer, reram, spec, phase, *, tiles=1, needs_input_grad=True):
        if phase == "backward" and needs_input_grad:
            phase = "forward"
        return real(layer, reram, spec, phase, tiles=tiles, needs_input_grad=needs_input_grad)

    interconnect.layer_traffic = as_forward
    try:
        yield
    finally:
        interconnect.layer_traffic = real


def _add_digital_forward(out: dict, trace, plan, reram, batch: int) -> None:
    """Our activation and pooling layers' forward time and energy, added to ``out``'s forward
    and compute figures. NeuroSim charges its chip-level ReLU and max-pooling units inside a
    layer's forward latency and energy and its "Synaptic Array w/o ADC" compute (Chip.cpp,
    ChipCalculatePerformance: GreLu and maxPool added to readLatency and coreLatencyOther), and
    no activation or pooling work in the activation gradient; their backward work (ReLU masks,
    un-pooling) has no NeuroSim counterpart and stays in our total only."""
    from reram.cost.layer_cost import digital_phase_cost

    out["latency_digital_forward_s"] = out["latency_digital_backward_s"] = 0.0
    for layer, cost in zip(trace.layers, plan.layers):
        if cost.unit != "digital":
            continue
        forward = digital_phase_cost(layer, reram, batch, "forward")  # energy: tiles do not matter
        out["latency_digital_forward_s"] += cost.phases["forward"]
        out["latency_digital_backward_s"] += cost.phases.get("backward", 0.0)
        for key in ("latency_forward_s", "latency_compute_fw_ig_s"):
            out[key] += cost.phases["forward"]
        out["energy_forward_j"] += forward.energy_j


#: The components compared (key, label, unit).
COMPONENTS = (
    ("latency_compute_fw_ig_s", "forward + input-gradient compute latency (arrays, ADC, accumulation, activation and pooling; no buffer or interconnect)", "s"),
    ("latency_weight_gradient_unit_s", "weight-gradient unit latency (no DRAM)", "s"),
    ("energy_weight_gradient_unit_j", "weight-gradient unit energy (no DRAM)", "J"),
    ("latency_forward_s", "forward latency", "s"),
    ("latency_input_gradient_s", "input-gradient latency", "s"),
    ("latency_weight_gradient_s", "weight-gradient latency (unit + DRAM)", "s"),
    ("latency_weight_update_s", "weight-update latency", "s"),
    ("latency_dram_s", "DRAM latency", "s"),
    ("energy_forward_j", "forward energy", "J"),
    ("energy_input_gradient_j", "input-gradient energy", "J"),
    ("energy_weight_gradient_j", "weight-gradient energy (unit + DRAM)", "J"),
    ("energy_weight_update_j", "weight-update energy", "J"),
    ("energy_adc_j", "ADC energy (forward + input gradient)", "J"),
    ("energy_buffer_j", "buffer energy", "J"),
    ("latency_buffer_s", "buffer latency (all phases)", "s"),
    ("latency_interconnect_s", "interconnect latency (forward + input gradient)", "s"),
    ("energy_interconnect_j", "interconnect energy", "J"),
    ("energy_dram_j", "DRAM energy", "J"),
    ("area_weight_gradient_m2", "weight-gradient unit area (NeuroSim's without its gradientAccum adder bank)", "m^2"),
    ("latency_total_s", "total latency", "s"),
    ("energy_total_j", "total dynamic energy", "J"),
)


#: Components shown for our defaults beside NeuroSim's dataflow (those the settings change).
DEFAULTS_SHOWN = ("latency_forward_s", "latency_input_gradient_s", "latency_weight_gradient_s",
                  "energy_weight_gradient_j", "energy_dram_j", "latency_dram_s", "latency_total_s",
                  "energy_total_j")

#: Components shown for the diagnostic of NeuroSim's input-gradient transfer volumes.
BACKWARD_SHOWN = ("latency_input_gradient_s", "energy_input_gradient_j", "latency_buffer_s",
                  "energy_buffer_j", "latency_interconnect_s", "energy_interconnect_j",
                  "latency_total_s", "energy_total_j")

#: Components shown for the simulation's encoding beside NeuroSim's (those the encoding changes).
ENCODING_SHOWN = ("latency_compute_fw_ig_s", "latency_forward_s", "latency_input_gradient_s",
                  "energy_forward_j", "energy_input_gradient_j", "energy_adc_j",
                  "energy_interconnect_j", "latency_weight_gradient_unit_s",
                  "area_weight_gradient_m2", "energy_weight_update_j", "latency_total_s",
                  "energy_total_j")


def compare(neurosim: dict[str, float], model: dict[str, float]) -> list[dict]:
    """``[{name, unit, neurosim, model, ratio}]`` (ratio = model / NeuroSim)."""
    rows = []
    for key, label, unit in COMPONENTS:
        ns, ours = neurosim.get(key, 0.0), model.get(key, 0.0)
        rows.append({"name": label, "key": key, "unit": unit, "neurosim": ns, "model": ours,
                     "ratio": ours / ns if ns else None})
    return rows


def table(rows: list[dict]) -> str:
    """A Markdown table of the comparison."""
    lines = ["| component | NeuroSim V2.1 | this model | model / NeuroSim |", "|---|---:|---:|---:|"]
    for r in rows:
        ratio = "n/a" if r["ratio"] is None else f"{r['ratio']:.3g}"
        lines.append(f"| {r['name']} | {r['neurosim']:.3g} {r['unit']} | {r['model']:.3g} {r['unit']} "
                     f"| {ratio} |")
    return "\n".join(lines)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--neurosim-dir", type=Path, default=None,
                        help="a checkout of github.com/neurosim/DNN_NeuroSim_V2.1")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="where traces and the build go (default: a new temporary folder)")
    parser.add_argument("--parse-only", action="store_true",
                        help="reuse the traces and NeuroSim results already in --work-dir")
    parser.add_argument("--neurosim-output", type=Path, default=None,
                        help="an existing NeuroSim breakdown CSV (NeuroSim_Breakdown_Epock_0.csv) "
                             "to parse instead of running NeuroSim; its Param.cpp is read from the "
                             "NeuroSIM folder above it, the traces' info.json from --traces")
    parser.add_argument("--recompare", action="store_true",
                        help="re-derive the comparison from the committed NeuroSim output "
                             f"(results/{NEUROSIM_CSV.name}) and the parameters and write activity "
                             f"recorded in the committed results/{RESULT.name}: no NeuroSim needed")
    parser.add_argument("--traces", type=Path, default=None,
                        help="with --neurosim-output: the traces folder (default: 'traces' beside "
                             "the NeuroSIM folder)")
    parser.add_argument("--weight-bits", type=int, default=8)
    parser.add_argument("--input-bits", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args(argv)
    if args.recompare:
        if args.neurosim_output is not None or args.neurosim_dir is not None or args.parse_only:
            parser.error("--recompare takes no --neurosim-dir, --neurosim-output or --parse-only")
        for path in (NEUROSIM_CSV, RESULT):
            if not path.is_file():
                parser.error(f"--recompare: no file {path}")
        return args
    if args.neurosim_output is None and args.neurosim_dir is None:
        parser.error("--neurosim-dir is required (or --neurosim-output FILE to parse a past run, "
                     "or --recompare)")
    if args.neurosim_output is not None and not args.neurosim_output.is_file():
        parser.error(f"--neurosim-output: no file {args.neurosim_output}")
    if args.parse_only and args.work_dir is None:
        parser.error("--parse-only needs --work-dir")
    return args


def _neurosim_run(args: argparse.Namespace) -> tuple[dict, dict, Path, float | None]:
    """NeuroSim's parameters, the traces' info, the breakdown CSV and the run's seconds: from a
    past run (``--recompare``, ``--neurosim-output`` or ``--parse-only``) or a new one."""
    if args.recompare:
        past = json.loads(RESULT.read_text(encoding="utf-8"))
        missing = [k for k in ("neurosim_params", "write_activity") if k not in past]
        if missing:
            raise SystemExit(f"--recompare: {RESULT} has no {missing[0]!r}")
        params = {**PARAMS_V21, **past["neurosim_params"]}
        return (params, {"level_changes": past["write_activity"]}, NEUROSIM_CSV,
                past.get("neurosim_run_s"))
    if args.neurosim_output is not None:
        breakdown = args.neurosim_output.resolve()
        ns_folder = breakdown.parent.parent
        src = ns_folder if (ns_folder / "Param.cpp").is_file() else \
            args.neurosim_dir / "Training_pytorch" / "NeuroSIM"
        traces = args.traces or ns_folder.parent / "traces"
        timing = ns_folder / "run_seconds.txt"
        run_s = float(timing.read_text(encoding="utf-8")) if timing.exists() else None
        info = json.loads((traces / "info.json").read_text(encoding="utf-8"))
        return neurosim_params(src), info, breakdown, run_s
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="neurosim_crosscheck_"))
    params = neurosim_params(args.neurosim_dir / "Training_pytorch" / "NeuroSIM")
    traces = work / "traces"
    timing = work / "NeuroSIM" / "run_seconds.txt"
    if args.parse_only:
        run_s = float(timing.read_text(encoding="utf-8")) if timing.exists() else None
        info = json.loads((traces / "info.json").read_text(encoding="utf-8"))
        breakdown = work / "NeuroSIM" / "NeuroSim_Results_Each_Epoch" / "NeuroSim_Breakdown_Epock_0.csv"
        return params, info, breakdown, run_s
    print(f"writing traces to {traces}", flush=True)
    info = write_traces(traces, weight_bits=args.weight_bits, input_bits=args.input_bits,
                        seed=args.seed)
    (traces / "info.json").write_text(json.dumps(info), encoding="utf-8")
    print("building NeuroSim", flush=True)
    binary = build_neurosim(args.neurosim_dir, work)
    print("running NeuroSim (nice -n 10; minutes)", flush=True)
    start = time.perf_counter()
    breakdown = run_neurosim(binary, traces, info["args"], weight_bits=args.weight_bits,
                             input_bits=args.input_bits)
    run_s = time.perf_counter() - start
    timing.write_text(f"{run_s:.1f}\n", encoding="utf-8")
    return params, info, breakdown, run_s


def _rows(rows: list[dict], keys: tuple[str, ...] | None = None) -> list[dict]:
    """The JSON form of comparison rows (those of ``keys`` when given)."""
    return [{k: r[k] for k in ("name", "unit", "neurosim", "model", "ratio")}
            for r in rows if keys is None or r["key"] in keys]


def summary(rows: list[dict]) -> dict:
    """How many components (totals aside) are within 2x, and the totals' ratios."""
    parts = [r for r in rows if r["key"] not in ("latency_total_s", "energy_total_j")]
    within = [r for r in parts if r["ratio"] is not None and 0.5 <= r["ratio"] <= 2]
    totals = {r["key"]: r["ratio"] for r in rows if r["key"] in ("latency_total_s", "energy_total_j")}
    return {"within_2x": len(within), "components": len(parts),
            "total_latency_ratio": totals.get("latency_total_s"),
            "total_energy_ratio": totals.get("energy_total_j")}


def _said(counts: dict) -> str:
    return (f"{counts['within_2x']} of {counts['components']} components within 2x; total "
            f"latency {counts['total_latency_ratio']:.3g}, total dynamic energy "
            f"{counts['total_energy_ratio']:.3g}")


def _report(result: dict, rows: list, as_neurosim_rows: list, differential_rows: list,
            default_rows: list, ours: dict) -> None:
    """Print the comparison's tables and the figures counted alike."""
    print(table(rows))
    print(_said(result["summary"]))
    print("diagnostic: the input gradient's transfers counted with the forward's volumes, as "
          "NeuroSim counts them:")
    print(table([r for r in as_neurosim_rows if r["key"] in BACKWARD_SHOWN]))
    print(_said(result["backward_counted_as_forward"]["summary"]))
    fixes = result["neurosim_corrections"]
    capacity = fixes["weight_gradient_capacity"]
    if capacity["layers"]:  # a breakdown with its per-layer rows
        print(f"NeuroSim's weight-gradient unit, its capacity charged: {capacity['reported_s']:.3g} s "
              f"as reported, {capacity['convolutions_corrected_s']:.3g} s with its convolutions' "
              f"passes (ours {ours['latency_weight_gradient_unit_s']:.3g} s, "
              f"{ours['latency_weight_gradient_unit_s'] / capacity['convolutions_corrected_s']:.3g}x), "
              f"{capacity['all_corrected_s']:.3g} s with its fully connected layers' too")
        alike = fixes["total_latency_alike"]
        print(f"total latency counted alike: ours {alike['model_backward_counted_as_forward_s']:.3g} "
              f"s, NeuroSim {alike['neurosim_convolutions_corrected_s']:.3g} s, {alike['ratio']:.3g}x")
    print("the simulation's encoding (G+/G- pairs, sign phases), NeuroSim's dataflow:")
    print(table([r for r in differential_rows if r["key"] in ENCODING_SHOWN]))
    print(_said(result["differential_encoding"]["summary"]))
    print("our defaults (G+/G- pairs, batch-blocked accumulation, transfers overlapped, ISAAC's "
          "architecture):")
    print(table([r for r in default_rows if r["key"] in DEFAULTS_SHOWN]))


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    params, info, breakdown, run_s = _neurosim_run(args)
    neurosim = parse_breakdown(breakdown, params["numIteration"])
    batch = int(params["batchSize"])
    setting = dict(params=params, level_changes=info["level_changes"], weight_bits=args.weight_bits,
                   input_bits=args.input_bits)
    chip = neurosim_chip(**setting)  # NeuroSim's mapping and dataflow
    ours = model_figures(chip, batch)
    rows = compare(neurosim, ours)
    # a diagnostic: the input gradient's transfers counted with the forward's volumes, as
    # NeuroSim's Tile.cpp counts them
    with backward_counted_as_forward():
        as_neurosim = model_figures(chip, batch)
    as_neurosim_rows = compare(neurosim, as_neurosim)
    # the simulation's mapping (G+/G- pairs, sign phases) with NeuroSim's dataflow
    differential = model_figures(neurosim_chip(**setting, encoding="differential"), batch)
    differential_rows = compare(neurosim, differential)
    # our own defaults: the simulation's mapping, batch-blocked accumulation, transfers overlapped
    defaults = model_figures(neurosim_chip(**setting, accumulation="batch-blocked", overlap=True,
                                           encoding="differential", architecture="ours"), batch)
    default_rows = compare(neurosim, defaults)
    preset = neurosim_chip(**setting, encoding="differential")
    costed = chip.costed_training()
    network = costed.memory.interconnect
    result = {"network": "VGG-8 (NeuroSim's NetWork.csv)", "batch_size": batch,
              "iteration": "one training iteration (NeuroSim's per-epoch figures / numIteration)",
              "neurosim_params": params, "neurosim_changes": {"memcelltype": 2},
              "write_activity": info["level_changes"], "neurosim_run_s": run_s,
              "neurosim_breakdown": NEUROSIM_CSV.name,
              "chip": chip.name, "chip_config": preset.config.to_dict(),
              "components": _rows(rows), "summary": summary(rows), "model_plan": ours["plan"],
              "model_settings": {
                  "encoding": "offset", "accumulation": "per-sample", "overlap": False,
                  "architecture": {
                      "tiles": chip.hardware.reram.tiles, "topology": network.topology,
                      "buffer_bytes_per_s_per_tile": network.buffer_bytes_per_s_per_tile,
                      "gradient_bits": costed.memory.gradient_bits,
                      "why": "NeuroSim's architecture where ours can express it: its chip "
                             "floorplanned to the network (as many tiles as the layers occupy), "
                             "its H-tree from the global buffer to the tiles (Chip.cpp GhTree, "
                             "HTree.cpp; the wire from our floorplan), its buffer hierarchy "
                             "and chip-level activation (Chip.cpp, Tile.cpp: a global buffer on "
                             "a 6,048-bit bus shared by 25 tiles, tile input and output register "
                             "files, 192 ReLU units, 20-bit partial sums, inputs sent "
                             "unrolled), its buffers' technology (Param.cpp: register files, "
                             "charged a sixth of the preset's eDRAM energy a byte, Eyeriss's "
                             "ratio), its gradientAccum "
                             "width outPrecision + ceil(log2(batchSize)) (Chip.cpp, "
                             "WeightGradientUnit.cpp)",
                      "buffers_bytes_per_s_per_tile": {
                          "input": network.buffer_bytes_per_s_per_tile,
                          "output": network.output_buffer_bytes_per_s_per_tile,
                          "global": network.global_buffer_bytes_per_s_per_tile},
                      "buffer_energy_per_byte_j": chip.reram_for(None).buffer_energy_per_byte_j,
                      "unrolled_inputs": network.unrolled_inputs,
                      "activation": {"site": network.activation_site,
                                     "ops_per_s": network.activation_ops_per_s,
                                     "partial_sum_bits": network.partial_sum_bits}},
                  "wire": {"router_spacing_mm": network.router_spacing_mm,
                           "wire_supply_v": network.wire_supply_v,
                           "wire_energy_per_bit_hop_j": network.wire_energy_per_bit_hop_j,
                           # what a hop charges besides its wire (no router on an H-tree)
                           "router_energy_per_bit_hop_j": network.hop_energy_per_bit_j
                           - network.wire_energy_per_bit_hop_j,
                           "network_bytes": ours["network_bytes"]},
                  "why": "NeuroSim's mapping (LoadInWeightData: each weight offset to unsigned "
                         "and sliced over the cells of one array; every vector read bit-serially "
                         "in one phase) and dataflow (Chip.cpp: each sample's weight gradient to "
                         "DRAM and back; buffer and interconnect latency added to compute), "
                         "configured, not fitted"},
              "neurosim_corrections": neurosim_corrections(breakdown, params, neurosim, as_neurosim),
              "backward_counted_as_forward": {
                  "why": "a diagnostic, not our model: NeuroSim's Tile.cpp charges the activation-"
                         "gradient phase the forward's tile-buffer and H-tree latencies (the "
                         "unrolled rows x P vector in the input buffer, cols x P sums in the "
                         "output buffer); the transposed read takes cols errors in and puts rows "
                         "partial sums a position out. Our model, each layer's backward transfers "
                         "costed with its forward volumes",
                  "components": _rows(as_neurosim_rows, BACKWARD_SHOWN),
                  "summary": summary(as_neurosim_rows)},
              "differential_encoding": {
                  "settings": {"encoding": "differential", "accumulation": "per-sample",
                               "overlap": False, "architecture": "neurosim"},
                  "components": _rows(differential_rows, ENCODING_SHOWN),
                  "summary": summary(differential_rows)},
              "our_defaults": {"settings": {"encoding": "differential",
                                            "accumulation": "batch-blocked", "overlap": True,
                                            "architecture": "ours"},
                               "components": _rows(default_rows, DEFAULTS_SHOWN),
                               "model_plan": defaults["plan"]}}
    from reram.io import atomic_write_text

    atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    if args.out.resolve().parent == NEUROSIM_CSV.parent and breakdown.resolve() != NEUROSIM_CSV:
        atomic_write_text(NEUROSIM_CSV, breakdown.read_text(encoding="utf-8"))
    _report(result, rows, as_neurosim_rows, differential_rows, default_rows, ours)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
