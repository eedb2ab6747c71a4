"""``reram-train``: train one model (float or on simulated crossbars) and write its metrics.

Example::

    reram-train --model vgg-digits --dataset digits --bn-mask none \\
        --config '{"weight_bits": 4, "update": "nearest", "adc_bits": null}' \\
        --epochs 10 --out results/nobn.json

Re-running the same command after an interruption (Ctrl-C, SIGTERM, a kill) resumes from
``<out>.ckpt`` (``--out`` with ``.ckpt`` appended: ``run.json`` -> ``run.json.ckpt``, so ``--out
run.ckpt`` never overwrites its own checkpoint and ``a.json``/``a.log`` never share one). Bad
input, an output path that cannot be written included, ends the program with exit status 2 and
a one-line error before any training starts; an interrupt with 130. A training whose loss went
non-finite (NaN/inf) reports no accuracy: the JSON says ``"diverged": true`` with
``test_accuracy`` null, and the program exits with status 1.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from reram.apps._cli import OneLineParser, check_output_path, positive_int, run_cli
from reram.models.data import DATASET_NAMES
from reram.models.registry import MODEL_NAMES
from reram.models.train import TrainConfig, checkpoint_path, run_training
from reram.runtime import set_threads

__all__ = ["build_parser", "main"]

PROG = "reram-train"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``reram-train``."""
    parser = OneLineParser(
        prog=PROG,
        description="Train a VGG/ResNet (float, or converted to ReRAM crossbars with BatchNorm "
        "kept in full precision) and write a JSON of metrics (test_accuracy and per-epoch history).",
    )
    parser.add_argument("--model", default="vgg-digits", choices=MODEL_NAMES, help="network (default: %(default)s)")
    parser.add_argument("--dataset", default="digits", choices=DATASET_NAMES, help="dataset (default: %(default)s)")
    parser.add_argument("--data-dir", default=None,
                        help="folder with CIFAR-10 (cifar-10-python.tar.gz or cifar-10-batches-py/) or MNIST IDX files")
    parser.add_argument("--bn-mask", default="all",
                        help="one bit per BN site in forward order (e.g. 10100000), 'all' or 'none' (default: all)")
    parser.add_argument("--config", default="float",
                        help="'float', a CrossbarConfig preset name (e.g. isaac, neurosim, ideal), "
                        "or a JSON file/string of CrossbarConfig fields (default: float)")
    parser.add_argument("--epochs", type=int, default=10, help="training epochs (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=64, help="mini-batch size (default: %(default)s)")
    parser.add_argument("--lr", type=float, default=0.05, help="initial SGD learning rate (default: %(default)s)")
    parser.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (default: %(default)s)")
    parser.add_argument("--weight-decay", type=float, default=0.0, help="L2 penalty (default: %(default)s)")
    parser.add_argument("--schedule", default="cosine", choices=("cosine", "constant"),
                        help="learning-rate schedule over the epochs (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of init, data order and digits split (default: %(default)s)")
    parser.add_argument("--augment", action="store_true", help="random crop + flip (CIFAR-10 only)")
    parser.add_argument("--max-train", type=int, default=None, help="use only the first N training images")
    parser.add_argument("--max-test", type=int, default=None, help="use only the first N test images")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="CPU threads of torch and numba (default: OMP_NUM_THREADS when set, else torch's default)")
    parser.add_argument("--out", default="results/train.json",
                        help="metrics JSON; the checkpoint goes to the same path with .ckpt appended (default: %(default)s)")
    parser.add_argument("--no-resume", action="store_true", help="start afresh even if the checkpoint exists")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``reram-train``; returns the exit status (0 ok, 2 bad input, 130 interrupted)."""
    args = build_parser().parse_args(argv)
    config = TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, momentum=args.momentum,
        weight_decay=args.weight_decay, schedule=args.schedule, seed=args.seed, device=args.device,
        resume=not args.no_resume, progress=not args.quiet,
    )
    hint = f"rerun the same command to resume from {checkpoint_path(args.out)}"
    outcome: dict = {}

    def body() -> None:
        check_output_path(args.out)
        check_output_path(checkpoint_path(args.out), field="--out's checkpoint")
        if os.path.realpath(args.out) == os.path.realpath(checkpoint_path(args.out)):
            raise ValueError(f"--out {args.out} is its own checkpoint {checkpoint_path(args.out)} "
                             "(a symlink to it); give another --out")
        set_threads(args.threads)
        outcome.update(run_training(
            model=args.model, dataset=args.dataset, data_dir=args.data_dir, bn_mask=args.bn_mask,
            config=args.config, train_config=config, augment=args.augment,
            max_train=args.max_train, max_test=args.max_test, out=args.out,
        ))

    status = run_cli(PROG, body, interrupted_hint=hint, input_errors=(ValueError, OSError))
    if status:
        return status
    result = outcome
    if result.get("diverged"):
        print(f"{PROG}: training diverged (the loss became NaN or infinite); no accuracy is reported "
              f"-> {args.out}", file=sys.stderr)
        return 1
    print(f"{PROG}: test_accuracy {result['test_accuracy']:.4f} after {result['epochs_done']} epochs "
          f"-> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
