"""``reram-size``: size a circuit from the command line and write the result as JSON.

Example:
    reram-size --circuit tia3 --method bo --budget 300 --backend ngspice --out results/tia3_bo.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from reram.apps._cli import OneLineParser, run_cli
from reram.io import atomic_write_json
from reram.analog.evaluate import BACKENDS
from reram.analog.library import circuits
from reram.analog.ngspice import NgspiceNotFoundError
from reram.analog.sizing import METHODS, size

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``reram-size``."""
    parser = OneLineParser(prog="reram-size", description="Size an analog circuit to meet its specs "
                                     "(random, grid, Bayesian optimization or RL) with ngspice or hand equations.")
    parser.add_argument("--circuit", required=True, choices=list(circuits), help="circuit to size")
    parser.add_argument("--method", default="bo", choices=METHODS, help="sizing method (default bo)")
    parser.add_argument("--budget", type=int, default=100, help="number of simulations (default 100)")
    parser.add_argument("--backend", default="ngspice", choices=BACKENDS, help="simulator (default ngspice)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--spec", action="append", default=[], metavar="METRIC>=VALUE",
                        help="override or add a hard spec, e.g. --spec 'bandwidth_hz>=100e6' (repeatable)")
    parser.add_argument("--out", default=None, help="result JSON (default results/size_<circuit>_<method>_<seed>.json)")
    parser.add_argument("--history", default=None, help="checkpoint JSON written after every simulation")
    parser.add_argument("--resume", action="store_true", help="continue the run saved in --history")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--list", action="store_true", help="print the circuits, variables and specs, then exit")
    return parser


def _parse_spec(text: str) -> tuple[str, tuple[str, float]]:
    for op in (">=", "<="):
        if op in text:
            metric, value = text.split(op, 1)
            try:
                return metric.strip(), (op, float(value))
            except ValueError:
                break
    raise ValueError(f"--spec must look like METRIC>=VALUE or METRIC<=VALUE, got {text!r}")


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (0 ok, 2 bad input or missing ngspice)."""
    if argv is not None and "--list" in argv or argv is None and "--list" in sys.argv[1:]:
        print(repr(circuits))
        return 0
    args = build_parser().parse_args(argv)
    return run_cli("reram-size", lambda: _run(args),
                   interrupted_hint="continue with --resume when --history was given")


def _run(args: argparse.Namespace) -> None:
    specs = None
    if args.spec:
        circuit = circuits[args.circuit]
        merged = {s.metric: (s.op, s.value) for s in circuit.specs}
        merged.update(dict(_parse_spec(s) for s in args.spec))
        specs = merged
    try:
        result = size(args.circuit, specs=specs, method=args.method, budget=args.budget,
                      backend=args.backend, seed=args.seed, history_path=args.history,
                      resume=args.resume, progress=not args.no_progress)
    except NgspiceNotFoundError as exc:
        raise ValueError(str(exc)) from None
    out = args.out or os.path.join("results", f"size_{args.circuit}_{args.method}_{args.seed}.json")
    atomic_write_json(out, result.to_json(), indent=1)
    status = "meets all specs" if result.meets_specs else "does NOT meet the specs"
    print(f"{args.circuit} {args.method}: best sizing {status} after {len(result.history)} simulations "
          f"({result.seconds:.1f} s); first feasible at {result.first_feasible}; written to {out}")
    print(json.dumps({"best_params": result.best_params, "best_metrics": result.to_json()["best_metrics"]}))


if __name__ == "__main__":
    sys.exit(main())
