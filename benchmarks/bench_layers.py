"""Crossbar layer benchmark: forward-time ratios to float layers and peak memory of VGG11.

Prints, from one run with 1 thread:
- the forward-time ratio crossbar / float for Linear 512 (b128), Linear 1024 (b256) and
  Conv2d 64->128 3x3 on 32x64x32x32, for the ideal, one-slice and ISAAC configs, with each
  layer's product path (plain / int8 / fp32), and for the sliced configs the ratio to the
  matrix products alone doing the same multiply-adds on that path (CPU time of the process:
  see :mod:`reram.apps.layer_benchmark`);
- the host (CPU, ISA flags, library versions, measured int8 / fp32 product throughput on
  the crossbar's shapes, the products chosen: :mod:`reram.apps.host`);
- the peak memory of a VGG11 forward at batch 64 (model and activations: peak RSS during the
  forward over the RSS after imports), float vs converted, each in a fresh subprocess.

Usage: python benchmarks/bench_layers.py [--quick] [--nonnegative] [--skip-memory] [--out F]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys

MEMORY_PROBE = r"""
import ctypes, gc, sys, torch
torch.set_num_threads(1)
import reram
from reram.models import vgg11

def rss(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field):
                return int(line.split()[1]) / 1024.0

x = torch.randn(64, 3, 32, 32)
# load the numba runtime and compiled kernels first: a fixed cost, not the model's memory
reram.convert(torch.nn.Conv2d(2, 2, 3), reram.CrossbarConfig())(torch.randn(1, 2, 4, 4))
gc.collect()
base = rss("VmRSS")
model = vgg11(num_classes=10).eval()
cfg = sys.argv[1]
if cfg != "float":
    config = reram.CrossbarConfig() if cfg == "default" else reram.CrossbarConfig.preset(cfg)
    model = reram.convert(model, config)
gc.collect()
ctypes.CDLL("libc.so.6").malloc_trim(0)  # hand freed heap back, as a long-running process would
with open("/proc/self/clear_refs", "w") as fh:  # reset the peak: measure the forward alone
    fh.write("5")
with torch.no_grad():
    model(x)
print(rss("VmHWM") - base)
"""


def memory(config: str) -> float:
    """Peak RSS in MiB during a VGG11 batch-64 forward (model included, conversion
    excluded), over the process's RSS after imports, in a fresh process."""
    env = dict(os.environ, OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, config], capture_output=True,
                         text=True, env=env, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small shapes, seconds")
    parser.add_argument("--nonnegative", action="store_true",
                        help="ReLU'd inputs (hidden CNN layers: one input phase)")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args()
    from reram.apps.host import describe_host, format_host
    from reram.apps.layer_benchmark import format_table, run_layer_benchmark
    rows = run_layer_benchmark(threads=1, quick=args.quick, nonnegative_input=args.nonnegative)
    host = describe_host()  # after the run: it lists the products the layers chose
    print(format_host(host))
    print(f"forward time, 1 thread, {'non-negative' if args.nonnegative else 'signed'} inputs")
    print(format_table(rows))
    result = {"host": host, "layers": rows, "nonnegative_input": args.nonnegative}
    if not args.skip_memory:
        mem = {name: memory(name) for name in ("float", "default", "neurosim", "isaac")}
        print("\npeak memory of a VGG11 forward at batch 64 (model + activations, MiB)")
        for name, mib in mem.items():
            print(f"  {name:9s} {mib:8.1f}  ({mib / mem['float']:.2f}x float)")
        result["memory_mib"] = mem
    if args.out:
        from reram.io import atomic_write_json
        atomic_write_json(args.out, result)


if __name__ == "__main__":
    main()
