"""``reram-bn-search``: search which BatchNorm layers a CNN needs to train on crossbars.

Parses the flags into one :class:`reram.apps.bn_search.BNSearchSettings`, runs
:func:`reram.apps.bn_search.run_search` and prints its table and summary. What a search does
and writes (``bn_search.json``, plots, ``settings.json``, checkpoints, ``evals/``) is documented
there and in docs/bn_search.md.

A folder that already holds a search is continued with ``--resume`` or replaced with
``--overwrite`` (only what a search wrote, and only in a folder a search wrote); without either
it is refused. One search per folder at a time. Exit status: 0 done, 2 bad input (one line on
stderr, before any training), 130 interrupted by Ctrl-C or SIGTERM (resume with ``--resume``),
1 a bug (with its traceback).
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from reram.apps._cli import OneLineParser, add_chip_flag, add_output_flags, run_cli

__all__ = ["build_parser", "settings_from_args", "main"]

PROG = "reram-bn-search"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``reram-bn-search`` (its defaults are ``BNSearchSettings``'s)."""
    from reram.apps.bn_search import MAIN_JOB_CHIP, MAIN_JOB_CONFIG, MODES, BNSearchSettings

    d = BNSearchSettings.__dataclass_fields__
    p = OneLineParser(
        prog=PROG,
        description="Search which BatchNorm layers a CNN needs to train on low-precision ReRAM "
        "crossbars: the fewest BN layers whose network trains within epsilon of all-BN (constrained "
        "BO, or a baseline; or a Pareto front against the chip's speedup with --mode multi); each "
        "evaluation trains the masked model on simulated crossbars; the references and the found "
        "masks are trained at every seed.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--model", default=d["model"].default, help="model name (reram.models.MODEL_NAMES)")
    p.add_argument("--dataset", default=d["dataset"].default, help="digits (bundled), cifar10, mnist or fashion-mnist")
    p.add_argument("--data-dir", default=None, help="folder holding CIFAR-10 / MNIST files")
    p.add_argument("--config", default=MAIN_JOB_CONFIG,
                   help="the crossbar the model trains on: 'float', a preset name, a JSON file or a JSON string "
                   "of CrossbarConfig fields")
    add_chip_flag(p, MAIN_JOB_CHIP)
    p.add_argument("--width", type=float, default=None,
                   help="channel multiplier of the CIFAR-size VGGs (default 0.25 for them, 1.0 for the others; "
                   "1.0 = full width)")
    p.add_argument("--epochs", type=int, default=d["epochs"].default, help="training epochs per mask")
    p.add_argument("--batch-size", type=int, default=d["batch_size"].default, help="training batch size")
    p.add_argument("--lr", type=float, default=d["lr"].default, help="SGD learning rate (cosine schedule)")
    p.add_argument("--seeds", default=",".join(map(str, d["seeds"].default)),
                   help="training seeds, comma-separated: the references and found masks train at each (mean "
                   "+- sd); the first is also the search's seed")
    p.add_argument("--search-seeds", type=int, default=d["search_seeds"].default,
                   help="how many of --seeds each searched mask trains at")
    p.add_argument("--noise-floor", type=float, default=d["noise_floor"].default,
                   help="smallest accuracy sd of one training that cbo assumes (fraction)")
    p.add_argument("--max-train", type=int, default=0, help="train on the first N images only (0: all)")
    p.add_argument("--max-test", type=int, default=0, help="test on the first N images only (0: all)")
    p.add_argument("--mode", default=d["mode"].default, choices=MODES,
                   help="multi: accuracy against --tradeoff (Pareto front, hypervolume); single: one scalar "
                   "(--scalarization)")
    p.add_argument("--methods", default=None,
                   help="methods, comma-separated, same budget each; single: cbo, bo, random, greedy, anneal, "
                   "exhaustive (default cbo,random); multi: mobo, nsga2, random (default all three)")
    p.add_argument("--tradeoff", default=d["tradeoff"].default, choices=("speedup", "n_bn"),
                   help="multi: what accuracy is traded against")
    p.add_argument("--scalarization", default=d["scalarization"].default, choices=("constrained", "scalarized"),
                   help="single: constrained: fewest BN with acc >= all-BN acc - epsilon; scalarized: "
                   "-acc + lam*n_bn/P")
    p.add_argument("--budget", type=int, default=d["budget"].default, help="masks each method trains")
    p.add_argument("--n-init", type=int, default=None,
                   help="initial design of mobo and nsga2 (nsga2's population; default 6), or of bo, greedy and "
                   "anneal (default: theirs); at most --budget")
    p.add_argument("--lam", type=float, default=d["lam"].default, help="single scalarized: weight of the BN fraction")
    p.add_argument("--epsilon", type=float, default=d["epsilon"].default,
                   help="accuracy (fraction) a found mask may lose against all-BN")
    p.add_argument("--ref-accuracy", type=float, default=d["ref_accuracy"].default,
                   help="multi: accuracy of the hypervolume's reference point (its speedup is 0, its BN count P + 1)")
    p.add_argument("--acquisition", default=d["acquisition"].default, choices=("qnehvi", "qnparego"),
                   help="acquisition of mobo")
    p.add_argument("--executor", default=d["executor"].default, choices=("process", "ray", "inprocess"),
                   help="where evaluations run")
    p.add_argument("--workers", type=int, default=d["workers"].default,
                   help="masks trained in parallel (process / ray executors; 1 with inprocess)")
    p.add_argument("--search-batch", type=int, default=None, help="masks a method proposes at a time; default --workers")
    p.add_argument("--worker-retries", type=int, default=d["worker_retries"].default,
                   help="extra attempts for a mask whose worker process died; then recorded as failed")
    p.add_argument("--device", default=None, help="torch device (default: CUDA when available)")
    p.add_argument("--threads", type=int, default=d["threads"].default, help="torch and numba CPU threads per training")
    add_output_flags(p, "results/bn_search", what="output folder")
    return p


def settings_from_args(args: argparse.Namespace):  # -> BNSearchSettings
    """The search's settings from parsed flags (raises InputError naming the flag's field)."""
    from reram.apps.bn_search import BNSearchSettings

    for name in ("max_train", "max_test"):
        if getattr(args, name) < 0:
            from reram.apps._cli import InputError

            raise InputError(f"--{name.replace('_', '-')} must be >= 0 (0: all images), got {getattr(args, name)}")
    from reram.apps._cli import InputError

    try:
        seeds = tuple(int(v) for v in str(args.seeds).split(","))
    except ValueError:
        raise InputError(f"--seeds must be integers separated by commas, got {args.seeds!r}") from None
    return BNSearchSettings(
        model=args.model, dataset=args.dataset, data_dir=args.data_dir, config=args.config, chip=args.chip,
        width=args.width, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seeds=seeds,
        search_seeds=args.search_seeds, noise_floor=args.noise_floor,
        max_train=args.max_train or None, max_test=args.max_test or None, mode=args.mode, methods=args.methods,
        tradeoff=args.tradeoff, scalarization=args.scalarization, budget=args.budget, n_init=args.n_init,
        lam=args.lam, epsilon=args.epsilon, ref_accuracy=args.ref_accuracy, acquisition=args.acquisition,
        executor=args.executor, workers=args.workers, search_batch=args.search_batch,
        worker_retries=args.worker_retries, device=args.device, threads=args.threads)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``reram-bn-search``; returns the exit status (0 ok, 2 bad input, 130 interrupted)."""
    args = build_parser().parse_args(argv)

    def body() -> None:
        from reram.apps import bn_report
        from reram.apps.bn_search import run_search

        settings = settings_from_args(args)

        def log(msg: str) -> None:
            if not args.quiet:
                from tqdm.auto import tqdm

                tqdm.write(msg)

        report = run_search(settings, args.out, resume=args.resume, overwrite=args.overwrite,
                            progress=not args.quiet, log=log)
        print(report.table())
        print("\n".join(bn_report.summary_lines(report)))

    return run_cli(PROG, body, interrupted_hint="continue with --resume")


if __name__ == "__main__":
    sys.exit(main())
