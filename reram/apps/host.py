"""The host a benchmark figure was measured on: CPU, ISA flags, library versions and the
measured speed of the products the crossbar simulation runs.

Every benchmark that prints a ratio (``benchmarks/bench_layers.py``,
``benchmarks/bench_train_step.py``, ``reram-bench kernels``) prints and stores
:func:`describe_host` beside it: the same code runs several times faster or slower on another
CPU (``torch._int_mm`` is oneDNN's VNNI/AMX GEMM on one CPU and a reference loop on another),
so a figure without its host cannot be compared.
"""
from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
from typing import Optional, Sequence

import numba
import numpy as np
import torch

from reram.sim.products import PRODUCTS, chosen_products, measure_products, runs_on

__all__ = ["describe_host", "format_host", "onednn_isa_rates", "PRODUCT_SHAPES"]

#: ISA flags that decide which product kernels a CPU has (``/proc/cpuinfo`` names).
ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile",
             "amx_int8", "amx_bf16")
#: ``(rows, k, cols)`` of the tile products of the layer benchmark's cases (one-slice config:
#: 128-row tiles, G+ and G- side by side): Linear 512 b128 signed (2 phases), Linear 1024
#: b256 signed, a conv chunk after a ReLU.
PRODUCT_SHAPES = ((256, 128, 1024), (512, 128, 2048), (2048, 128, 256))


def _cpuinfo() -> tuple[str, list[str]]:
    model, flags = platform.processor() or platform.machine(), []
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            text = fh.read()
    except OSError:
        return model, flags
    found = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    if found:
        model = found.group(1).strip()
    family = re.search(r"^cpu family\s*:\s*(\d+)$", text, re.M)
    number = re.search(r"^model\s*:\s*(\d+)$", text, re.M)
    if family and number:
        model += f" (family {family.group(1)}, model {number.group(1)})"
    line = re.search(r"^flags\s*:\s*(.+)$", text, re.M)
    if line:
        flags = line.group(1).split()
    return model, flags


def _onednn_version() -> Optional[str]:
    found = re.search(r"MKL-DNN v([\d.]+)", torch.__config__.show())
    return found.group(1) if found else None


#: oneDNN ISA caps tried for ``torch._int_mm`` where oneDNN runs it (VNNI or AMX): oneDNN picks
#: AMX where present, which is slow at the crossbar's short, wide products (issue 23: 2.2x fp32
#: against 3.7x capped at AVX512_CORE_VNNI on an AMX Xeon).
ONEDNN_ISA_CAPS = ("DEFAULT", "AVX512_CORE_VNNI", "AVX2_VNNI")
_ISA_PROBE = r"""
import json, sys, torch
torch.set_num_threads(1)
from reram.sim.products import PRODUCTS, measure_products
rows, k, cols = (int(v) for v in sys.argv[1:4])
t = measure_products(rows, k, cols, [PRODUCTS["int_mm"]])["int_mm"]
print(json.dumps(2.0 * rows * k * cols / max(t, 1e-9) / 1e9))
"""


def onednn_isa_rates(caps: Sequence[str] = ONEDNN_ISA_CAPS, shape: tuple[int, int, int] = (256, 128, 1024)
                     ) -> dict[str, Optional[float]]:
    """``torch._int_mm`` GOP/s on ``shape`` with oneDNN capped at each ISA of ``caps``
    (``ONEDNN_MAX_CPU_ISA``, read once per process: each cap is measured in a fresh
    subprocess; ``"DEFAULT"``: no cap). None where the probe failed. To use a cap, set
    ``ONEDNN_MAX_CPU_ISA`` before starting Python."""
    rates: dict[str, Optional[float]] = {}
    for cap in caps:
        env = dict(os.environ, OMP_NUM_THREADS="1", ONEDNN_MAX_CPU_ISA=cap)
        try:
            out = subprocess.run([sys.executable, "-c", _ISA_PROBE, *map(str, shape)],
                                 capture_output=True, text=True, env=env, timeout=300, check=True)
            rates[cap] = round(float(json.loads(out.stdout.strip().splitlines()[-1])), 1)
        except (subprocess.SubprocessError, ValueError, IndexError):
            rates[cap] = None
    return rates


def describe_host(measure: bool = True) -> dict:
    """The host as a JSON-ready dict: CPU model, cores, the ISA flags of :data:`ISA_FLAGS`
    present, torch / oneDNN / numba / NumPy versions, threads, ``ONEDNN_MAX_CPU_ISA``, the
    products this process chose (:func:`reram.sim.products.chosen_products`) and, with
    ``measure``, each product's measured throughput on :data:`PRODUCT_SHAPES` (GOP/s, process
    CPU time, median of 5, 1 thread as set by the caller); where oneDNN runs ``_int_mm``
    (VNNI or AMX flags) also its rate under each oneDNN ISA cap (:func:`onednn_isa_rates`)."""
    model, flags = _cpuinfo()
    host = {"cpu": model, "cores": os.cpu_count(),
            "isa_flags": [f for f in ISA_FLAGS if f in flags],
            "torch": torch.__version__, "onednn": _onednn_version(),
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "numba": numba.__version__, "numpy": np.__version__,
            "torch_threads": torch.get_num_threads(),
            "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA", "(default)"),
            "cpu_products": [n for n, p in PRODUCTS.items() if runs_on(p, torch.device("cpu"))]}
    if measure:
        rates = {}
        for rows, k, cols in PRODUCT_SHAPES:
            times = measure_products(rows, k, cols)
            ops = 2.0 * rows * k * cols
            rates[f"{rows}x{k}x{cols}"] = {name: round(ops / max(t, 1e-9) / 1e9, 1)
                                           for name, t in times.items()}
        host["product_gops"] = rates
        if {"avx512_vnni", "avx_vnni", "amx_int8"} & set(host["isa_flags"]):
            shape = PRODUCT_SHAPES[0]
            host["int_mm_gops_by_onednn_isa"] = {
                "shape": "x".join(map(str, shape)), **onednn_isa_rates(shape=shape)}
    host["chosen_products"] = chosen_products()
    return host


def format_host(host: dict) -> str:
    """A few readable lines of :func:`describe_host`'s dict."""
    lines = [f"host: {host['cpu']}, {host['cores']} cores; ISA: "
             f"{' '.join(host['isa_flags']) or '-'}; torch {host['torch']} "
             f"(oneDNN {host['onednn']}, {host['torch_cpu_capability']}, ONEDNN_MAX_CPU_ISA "
             f"{host['onednn_max_cpu_isa']}), numba {host['numba']}, NumPy {host['numpy']}, "
             f"{host['torch_threads']} torch thread(s)"]
    for shape, rates in host.get("product_gops", {}).items():
        lines.append(f"  products {shape} (GOP/s, CPU time): "
                     + ", ".join(f"{name} {rate}" for name, rate in rates.items()))
    if host.get("int_mm_gops_by_onednn_isa"):
        isa = dict(host["int_mm_gops_by_onednn_isa"])
        lines.append(f"  int_mm {isa.pop('shape')} by ONEDNN_MAX_CPU_ISA (GOP/s): "
                     + ", ".join(f"{cap} {rate}" for cap, rate in isa.items()))
    if host.get("chosen_products"):
        lines.append("  chosen: " + "; ".join(f"{k} -> {v}"
                                              for k, v in host["chosen_products"].items()))
    return "\n".join(lines)
