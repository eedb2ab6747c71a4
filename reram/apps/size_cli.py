"""``reram-size``: size a circuit from the command line and write the result as JSON.

Examples:
    reram-size --circuit tia3 --method bo --budget 300 --backend ngspice --out results/tia3_bo.json
    reram-size --circuit tia3 --method bo --budget 100 --corners pvt          # worst case over 7 corners
    reram-size --circuit tia3 --train-policy tia3_policy.pt --budget 2000 --checkpoint ckpt.pt
    reram-size --circuit tia3 --method rl-transfer --policy tia3_policy.pt --budget 50 \
        --spec 'bandwidth_hz>=80e6'

Output paths (``--out``, ``--history``, ``--train-policy``, ``--checkpoint``) are checked before
any simulation; a ``--history`` to resume that is not valid JSON is an error naming the file.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from reram.apps._cli import OneLineParser, check_output_path, positive_int, run_cli
from reram.io import atomic_write_json, read_json
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
    parser.add_argument("--budget", type=int, default=100,
                        help="number of simulations (sizings with --corners; training simulations with "
                             "--train-policy) (default 100)")
    parser.add_argument("--backend", default="ngspice", choices=BACKENDS, help="simulator (default ngspice)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--spec", action="append", default=[], metavar="METRIC>=VALUE",
                        help="override or add a hard spec, e.g. --spec 'bandwidth_hz>=100e6' (repeatable)")
    parser.add_argument("--out", default=None, help="result JSON (default results/size_<circuit>_<method>_<seed>.json)")
    parser.add_argument("--history", default=None, help="checkpoint JSON written after every simulation")
    parser.add_argument("--resume", action="store_true", help="continue the run saved in --history")
    parser.add_argument("--corners", default=None, metavar="LIST",
                        help="size for the worst case over corners: 'pvt' (7 corners), 'grid' (45) or a "
                             "comma list such as 'tt,ss/0.9/125,ff/1.1/-40'")
    parser.add_argument("--workers", type=positive_int, default=None,
                        help="worker processes for the corner simulations (default one per CPU)")
    parser.add_argument("--policy", default=None, help="policy file for --method rl-transfer")
    parser.add_argument("--stop-at-feasible", action="store_true",
                        help="stop at the first sizing that meets every spec")
    parser.add_argument("--train-policy", default=None, metavar="PATH",
                        help="train a spec-conditioned policy with --budget simulations and write it to PATH")
    parser.add_argument("--checkpoint", default=None,
                        help="training checkpoint for --train-policy (with --resume: continue it)")
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
                   interrupted_hint="continue with --resume when --history was given", input_errors=(ValueError, OSError))


def _check_paths(args: argparse.Namespace) -> str:
    """Check every file the run will write, before any work; returns the result path."""
    if args.train_policy:
        check_output_path(args.train_policy, "--train-policy")
        if args.checkpoint:
            check_output_path(args.checkpoint, "--checkpoint")
        return args.train_policy
    out = args.out or os.path.join("results", f"size_{args.circuit}_{args.method}_{args.seed}.json")
    check_output_path(out, "--out")
    if args.history:
        check_output_path(args.history, "--history")
        if args.resume and os.path.exists(args.history):
            read_json(args.history, "--history")  # a damaged checkpoint names itself, before any work
    if args.method == "rl-transfer" and not args.policy:
        raise ValueError("--method rl-transfer needs --policy FILE (train one with --train-policy)")
    return out


def _train(args: argparse.Namespace) -> None:
    from reram.analog.transfer import train_policy

    policy = train_policy(args.circuit, budget=args.budget, backend=args.backend, seed=args.seed,
                          checkpoint_path=args.checkpoint, resume=args.resume, out=args.train_policy,
                          progress=not args.no_progress)
    ranges = ", ".join(f"{s} (x{lo:g}..{hi:g})" for s, (lo, hi) in zip(policy.spec_range.base,
                                                                         policy.spec_range.factors))
    print(f"{args.circuit}: policy trained with {policy.training_simulations} simulations on specs {ranges}; "
          f"written to {args.train_policy}")


def _run(args: argparse.Namespace) -> None:
    specs = None
    if args.spec:
        circuit = circuits[args.circuit]
        merged = {s.metric: (s.op, s.value) for s in circuit.specs}
        merged.update(dict(_parse_spec(s) for s in args.spec))
        specs = merged
    out = _check_paths(args)
    if args.train_policy:
        _train(args)
        return
    options = {"policy": args.policy} if args.method == "rl-transfer" else None
    try:
        result = size(args.circuit, specs=specs, method=args.method, budget=args.budget,
                      backend=args.backend, seed=args.seed, history_path=args.history,
                      resume=args.resume, progress=not args.no_progress, options=options,
                      corners=args.corners, workers=args.workers, stop_at_feasible=args.stop_at_feasible)
    except NgspiceNotFoundError as exc:
        raise ValueError(str(exc)) from None
    atomic_write_json(out, result.to_json(), indent=1)
    status = "meets all specs" if result.meets_specs else "does NOT meet the specs"
    where = f" (worst case over corners {args.corners})" if args.corners else ""
    print(f"{args.circuit} {args.method}: best sizing {status}{where} after {len(result.history)} sizings "
          f"({result.seconds:.1f} s); first feasible at {result.first_feasible}; written to {out}")
    best_metrics = {k: v for k, v in result.to_json()["best_metrics"].items() if k != "corners"}
    print(json.dumps({"best_params": result.best_params, "best_metrics": best_metrics}))


if __name__ == "__main__":
    sys.exit(main())
