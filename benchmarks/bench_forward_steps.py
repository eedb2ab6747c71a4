"""Before/after, in one run: the crossbar forward with and without issue 23's per-forward step cuts.

Six switches, all bit-identical (checked here on every case before timing), in two rounds:
- round 1: ``reram.sim.functional._KERNEL_QUANTIZE`` (a Linear layer's input quantized to
  integer codes in one kernel pass, ``reram.kernels.quantize``, instead of 15 torch steps, no
  autograd) and ``reram.sim.tiles._BATCH_TILES`` (a Linear layer's tiles read in one step per
  chunk of inputs: one digit-writer call, one batched product, one ADC call);
- round 2: ``reram.sim.backends._COUNT_UNTIL_FOUND`` (the ADC passes count informative codes
  only until an input has one), ``reram.sim.tiles._KEEP`` (the batched read's float32 cells and
  the output's weight units kept with the programmed cells, not made per forward) and
  ``reram.sim.functional._FUSE_BIAS`` (a bias that needs no gradient added by the output
  scaling kernel) and ``reram.sim.functional._KERNEL_QUANTIZE_CONV`` (a conv's input quantized
  by one kernel pass into the padded channels-last codes the digit writer reads).

"before" runs with every switch off, "round 1" with round 1's on, "after" with all on; float and
the three are interleaved in one process, 1 torch and numba thread, the process's CPU time
(other processes on a shared machine do not count in it), medians and fastest of the repeats;
ratios are to the float layer of the same repeat set. The host is printed and stored beside
the figures.

``--each`` adds the final state with each round-2 switch off in turn (one-slice cases): what each
cut gains on its own, in the same run.

Usage: python benchmarks/bench_forward_steps.py [--quick] [--isaac] [--each] [--repeats-scale F]
       [--out F]
"""
from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import torch
from torch import nn

#: Each round's switches: (module, attribute).
ROUNDS = {1: (("functional", "_KERNEL_QUANTIZE"), ("tiles", "_BATCH_TILES")),
          2: (("backends", "_COUNT_UNTIL_FOUND"), ("tiles", "_KEEP"), ("functional", "_FUSE_BIAS"),
              ("functional", "_KERNEL_QUANTIZE_CONV"))}
_ALL = tuple(sw for switches in ROUNDS.values() for sw in switches)
#: The states timed, in order: which switches are on.
STATES = {"before": (), "round 1": ROUNDS[1], "after": _ALL}


def _each_off() -> dict[str, tuple]:
    """``--each``: the final state with one round-2 switch off at a time (what each gains)."""
    return {f"after without {name}": tuple(sw for sw in _ALL if sw != (module, name))
            for module, name in ROUNDS[2]}


def _cases(quick: bool) -> list[tuple[str, Callable[[], nn.Module], tuple[int, ...], int]]:
    if quick:
        return [("Linear 256x256 b32", lambda: nn.Linear(256, 256), (32, 256), 10)]
    return [("Linear 512x512 b128", lambda: nn.Linear(512, 512), (128, 512), 40),
            ("Linear 1024x1024 b256", lambda: nn.Linear(1024, 1024), (256, 1024), 15),
            ("Conv2d 64->128 3x3 32x64x32x32", lambda: nn.Conv2d(64, 128, 3, padding=1),
             (32, 64, 32, 32), 4)]


def _switch(on: tuple) -> None:
    import reram.sim.backends as backends
    import reram.sim.functional as functional
    import reram.sim.tiles as tiles
    modules = {"backends": backends, "functional": functional, "tiles": tiles}
    for module, name in _ALL:
        setattr(modules[module], name, (module, name) in on)


def _time_case(layer: nn.Module, xbar: nn.Module, inp: torch.Tensor, n_rep: int,
               states: dict[str, tuple]) -> dict[str, list[float]]:
    """CPU seconds per call of the float layer and of the crossbar in each state, interleaved
    (after checking that every state gives the same bits)."""
    with torch.no_grad():
        outputs = []
        for on in states.values():
            _switch(on)
            outputs.append(xbar(inp))
        if not all(torch.equal(outputs[0], y) for y in outputs[1:]):
            raise AssertionError("the states' outputs differ")
        times: dict[str, list[float]] = {"float": [], **{key: [] for key in states}}
        for _ in range(n_rep):
            for key in times:
                call = layer if key == "float" else xbar
                if key != "float":
                    _switch(states[key])
                start = time.process_time()
                call(inp)
                times[key].append(time.process_time() - start)
    _switch(STATES["after"])
    return times


def run(quick: bool, isaac: bool, repeats_scale: float = 1.0, each: bool = False) -> list[dict]:
    """One row per (case, config, input sign): float / per-state times and ratios."""
    from reram.apps.layer_benchmark import benchmark_configs
    from reram.sim.convert import convert
    configs = {"one-slice": benchmark_configs()["one-slice"]}
    if isaac:
        configs["isaac"] = benchmark_configs()["isaac"]
    rows = []
    for case, build, shape, repeats in _cases(quick):
        torch.manual_seed(0)
        layer = build().eval()
        x = torch.randn(shape)
        for name, cfg in configs.items():
            if name == "isaac" and "Conv" in case:
                continue  # minutes per call here
            n_rep = max(1, round((repeats if name != "isaac" else 2) * repeats_scale))
            xbar = convert(layer, cfg).eval()
            states = {**STATES, **(_each_off() if each and name != "isaac" else {})}
            for sign, inp in (("signed", x), ("after a ReLU", x.relu())):
                times = _time_case(layer, xbar, inp, n_rep, states)
                med = {k: statistics.median(v) for k, v in times.items()}
                best = {k: min(v) for k, v in times.items()}
                ratio = {k: med[k] / med["float"] for k in states}
                ratio_best = {k: best[k] / best["float"] for k in states}
                rows.append({"case": case, "config": name, "input": sign, "repeats": n_rep,
                             "median_s": med, "fastest_s": best, "ratio": ratio,
                             "ratio_fastest": ratio_best})
                print(f"{case:32s} {name:9s} {sign:12s} float {med['float'] * 1e3:8.2f} ms  "
                      + "  ".join(f"{k} {ratio[k]:6.2f}x" for k in STATES)
                      + "  (fastest: " + " -> ".join(f"{ratio_best[k]:.2f}" for k in STATES)
                      + ")", flush=True)
                for k in states:
                    if k not in STATES:
                        print(f"{'':56s}{k}: {ratio[k]:6.2f}x (fastest {ratio_best[k]:.2f})",
                              flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one small case, seconds")
    parser.add_argument("--isaac", action="store_true", help="also the ISAAC preset (Linear only)")
    parser.add_argument("--repeats-scale", type=float, default=1.0,
                        help="multiply every case's repeats (default 1)")
    parser.add_argument("--each", action="store_true",
                        help="also the final state with each round-2 switch off in turn")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args()
    if not args.repeats_scale > 0:
        parser.error(f"--repeats-scale must be positive, got {args.repeats_scale}")
    import numba
    torch.set_num_threads(1)
    numba.set_num_threads(1)
    rows = run(args.quick, args.isaac, args.repeats_scale, args.each)
    from reram.apps.host import describe_host, format_host
    host = describe_host()
    print(format_host(host))
    if args.out:
        from reram.io import atomic_write_json
        states = {**STATES, **(_each_off() if args.each else {})}
        atomic_write_json(args.out, {"host": host, "rows": rows, "states": {
            key: [".".join(sw) for sw in on] for key, on in states.items()}})


if __name__ == "__main__":
    main()
