"""GPU check: the CUDA tests, the layer benchmark and the train-step benchmark on one GPU, one JSON.

Prepared for a machine with a CUDA device (none was available when it was written, so it has
not been run yet). It runs, in order, each step under its own time limit so that one slow step
cannot eat the others' time:

1. ``pytest`` on the tests that need CUDA (they skip on a machine without one): the CUDA layer
   against the CPU layer, the integer product path on CUDA against the CPU path;
2. the layer benchmark (:func:`reram.apps.layer_benchmark.run_layer_benchmark`) on ``cuda``,
   signed inputs, quick shapes unless ``--full``;
3. one training step of VGG11 and ResNet20 at batch 64 (``benchmarks/bench_train_step.py``'s
   ``run``) on ``cuda`` for float, ideal, neurosim and the main job's chip (``--isaac`` adds
   the ISAAC preset);

and writes the GPU's name, torch/CUDA versions, each step's result or error and its wall time
to ``--out`` (default ``benchmarks/results/gpu_check.json``).

Usage: python benchmarks/gpu_check.py [--out F] [--full] [--isaac] [--skip-tests]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CUDA_TESTS = ["tests/reram/sim/test_layers.py::test_cuda_matches_cpu",
              "tests/reram/sim/test_backends.py"]


def _step(name: str, fn, results: dict) -> None:
    start = time.perf_counter()
    try:
        results[name] = {"result": fn(), "ok": True}
    except Exception as exc:  # recorded, so the other steps still run
        results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}",
                         "traceback": traceback.format_exc()}
    results[name]["wall_s"] = time.perf_counter() - start
    print(f"[gpu_check] {name}: {'ok' if results[name]['ok'] else results[name]['error']} "
          f"({results[name]['wall_s']:.1f} s)", flush=True)


def _tests(timeout: int) -> dict:
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", *CUDA_TESTS], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
    tail = proc.stdout.strip().splitlines()[-15:]
    if proc.returncode != 0:
        raise RuntimeError("CUDA tests failed:\n" + "\n".join(tail))
    return {"returncode": proc.returncode, "summary": tail}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(HERE, "results", "gpu_check.json"))
    parser.add_argument("--full", action="store_true", help="full layer-benchmark shapes")
    parser.add_argument("--isaac", action="store_true", help="add the ISAAC preset to the train step")
    parser.add_argument("--skip-tests", action="store_true")
    parser.add_argument("--test-timeout", type=int, default=240)
    args = parser.parse_args()

    import torch
    if not torch.cuda.is_available():
        sys.exit("gpu_check: no CUDA device is available (torch.cuda.is_available() is False)")
    sys.path.insert(0, HERE)
    import bench_train_step
    from reram.apps.host import describe_host
    from reram.apps.layer_benchmark import format_table, run_layer_benchmark
    from reram.io import atomic_write_json

    results: dict = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__,
                     "cuda": torch.version.cuda, "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
                     "host": describe_host(measure=False)}  # the CPU beside the card
    if not args.skip_tests:
        _step("cuda_tests", lambda: _tests(args.test_timeout), results)

    def layers() -> list[dict]:
        rows = run_layer_benchmark(threads=1, quick=not args.full, repeats=5, device="cuda")
        print(format_table(rows), flush=True)
        return rows
    _step("layer_benchmark", layers, results)
    configs = ["float", "ideal", "neurosim", "main-job"] + (["isaac"] if args.isaac else [])
    _step("train_step", lambda: bench_train_step.run(["vgg11", "resnet20"], configs, batch=64,
                                                     repeats=3, device="cuda"), results)
    atomic_write_json(args.out, results)
    print(f"[gpu_check] wrote {args.out}")


if __name__ == "__main__":
    main()
