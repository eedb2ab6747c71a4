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
cut gains on its own, in the same run; ``--steps`` times each round-2 cut alone against the
steps it replaces (same bits, checked), where a layer's run-to-run noise hides a small gain.

Usage: python benchmarks/bench_forward_steps.py [--quick] [--isaac] [--each] [--steps]
       [--repeats-scale F] [--out F]
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


def _step_pairs() -> dict[str, tuple[Callable[[], object], Callable[[], object]]]:
    """Round 2's cuts against the steps they replace, on the benchmark's one-slice shapes:
    ``name -> (old steps, new step)``, each pair giving the same bits (checked)."""
    import numpy as np
    import torch.nn.functional as F

    from reram.apps.layer_benchmark import benchmark_configs
    from reram.kernels import adc_accumulate, quantize_nhwc, scale_into_nchw
    from reram.sim.functional import quantize_input
    from reram.sim.tiles import input_phases
    cfg = benchmark_configs()["one-slice"]
    gen = torch.Generator().manual_seed(0)
    x = torch.randn((32, 64, 32, 32), generator=gen)

    def conv_input_steps():
        codes, _ = quantize_input(x, cfg, 3)
        small = codes.to(torch.int8)
        input_phases(small)
        return F.pad(small, (1, 1, 1, 1)).permute(0, 2, 3, 1).contiguous()

    def output(rows: int, channels: int, positions: int):
        acc = torch.randint(-9000, 9000, (rows * positions, channels), generator=gen).double()
        rs = torch.rand(rows * positions, generator=gen, dtype=torch.float64) * 1e-3
        cs, bias = torch.rand(channels, generator=gen, dtype=torch.float64), torch.randn(channels)

        def scaled(with_bias: bool):
            y = torch.empty(rows, channels, positions)
            scale_into_nchw(acc.numpy(), rs.numpy(), cs.numpy(), y.numpy(),
                            bias.numpy() if with_bias else None)
            return y if with_bias else y + bias[None, :, None]
        return (lambda: scaled(False)), (lambda: scaled(True))

    currents = torch.randint(0, 300000, (4, 256, 1024), generator=gen).float().numpy()
    coef = np.array([1.0, -1.0])

    def adc(until_found: bool):
        out = np.zeros((128, 512))
        return adc_accumulate(currents, 128, coef, coef, 512, 8096.125490196078, 0.0, 255.0,
                              out=out, counts=np.zeros(1, np.int64), until_found=until_found)
    cells = torch.randint(0, 128, (4, 128, 1024), generator=gen, dtype=torch.int8)
    kept = cells.float()
    return {"conv input 32x64x32x32: quantize, cast, pad, channels last":
            (conv_input_steps, lambda: torch.from_numpy(quantize_nhwc(x.numpy(), 127, np.int8,
                                                                      (1, 1))[0])),
            "conv output 32x128x32x32: scale, + bias": output(32, 128, 1024),
            "Linear output 128x512: scale, + bias": output(128, 512, 1),
            "ADC pass, 1M float64 codes: count all / until found": (lambda: adc(False),
                                                                    lambda: adc(True)),
            "batched read's cells 4x128x1024: stack + convert / kept": (
                lambda: torch.stack(list(cells)).to(torch.float32), lambda: kept)}


def step_costs(repeats: int = 30) -> list[dict]:
    """CPU time of each round-2 cut against the steps it replaces, interleaved in one process,
    each family of shapes timed on its own (a conv's 16 MiB tensors evict a Linear's)."""
    rows = []
    for name, (old, new) in _step_pairs().items():
        if not torch.equal(torch.as_tensor(old()), torch.as_tensor(new())):
            raise AssertionError(f"{name}: the cut gives other bits")
        times: dict[str, list[float]] = {"old": [], "new": []}
        for _ in range(repeats):
            for key, call in (("old", old), ("new", new)):
                start = time.process_time()
                call()
                times[key].append(time.process_time() - start)
        med = {k: statistics.median(v) for k, v in times.items()}
        rows.append({"step": name, "median_s": med,
                     "fastest_s": {k: min(v) for k, v in times.items()}})
        print(f"{name:58s} {med['old'] * 1e3:8.3f} ms -> {med['new'] * 1e3:8.3f} ms", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one small case, seconds")
    parser.add_argument("--isaac", action="store_true", help="also the ISAAC preset (Linear only)")
    parser.add_argument("--repeats-scale", type=float, default=1.0,
                        help="multiply every case's repeats (default 1)")
    parser.add_argument("--each", action="store_true",
                        help="also the final state with each round-2 switch off in turn")
    parser.add_argument("--steps", action="store_true",
                        help="also each round-2 cut against the steps it replaces, alone")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args()
    if not args.repeats_scale > 0:
        parser.error(f"--repeats-scale must be positive, got {args.repeats_scale}")
    import numba
    torch.set_num_threads(1)
    numba.set_num_threads(1)
    steps = step_costs() if args.steps else []
    rows = run(args.quick, args.isaac, args.repeats_scale, args.each)
    from reram.apps.host import describe_host, format_host
    host = describe_host()
    print(format_host(host))
    if args.out:
        from reram.io import atomic_write_json
        states = {**STATES, **(_each_off() if args.each else {})}
        atomic_write_json(args.out, {"host": host, "rows": rows, "steps": steps, "states": {
            key: [".".join(sw) for sw in on] for key, on in states.items()}})


if __name__ == "__main__":
    main()
