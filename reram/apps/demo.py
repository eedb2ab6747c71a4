"""``reram-demo``: convert a small CNN, train it on the bundled digits on simulated crossbars.

Trains the same network (same seed) in float and converted with several crossbar configs, and
prints test accuracy per config: ideal crossbars; a realistic chip (8-bit weights on 2-bit
cells, 8-bit inputs streamed 1 bit per cycle, 8-bit per-tile ADCs, stuck-at faults and variation,
digital weight update); the same chip with 4-bit cells and 4-bit DACs, whose column currents
need 15 bits, so the 8-bit ADC drops the low ones; and a 4-bit chip with the hardware's
nearest-level update and no BatchNorm.

Bad input (an ``--out`` that cannot be written included) exits with status 2 and one line on
stderr before any training; Ctrl-C or SIGTERM with 130.
"""
from __future__ import annotations

import sys
import time

import torch
from sklearn.datasets import load_digits
from torch import nn
from tqdm.auto import tqdm

import reram
from reram.apps._cli import OneLineParser, check_output_path, positive_int, run_cli
from reram.io import atomic_write_json
from reram.runtime import set_threads

__all__ = ["build_parser", "demo_configs", "main", "run_demo", "small_cnn", "train_on_digits"]

PROG = "reram-demo"


def demo_configs() -> dict[str, reram.CrossbarConfig | None]:
    """The configs compared by the demo (None: the float network)."""
    return {
        "float": None,
        "ideal crossbar": reram.CrossbarConfig.ideal(),
        "realistic, digital update": reram.CrossbarConfig(
            tile_size=128, weight_bits=8, cell_bits=2, input_bits=8, dac_bits=1, adc_bits=8,
            saf0_rate=0.005, saf1_rate=0.005, variation=0.05, update="digital"),
        "coarse ADC, digital update": reram.CrossbarConfig(
            tile_size=128, weight_bits=8, cell_bits=4, input_bits=8, dac_bits=4, adc_bits=8,
            saf0_rate=0.005, saf1_rate=0.005, variation=0.05, update="digital"),
        "4-bit, nearest update": reram.CrossbarConfig(
            tile_size=128, weight_bits=4, cell_bits=2, input_bits=8, dac_bits=None,
            adc_bits=None, update="nearest"),
    }


def small_cnn() -> nn.Module:
    """A two-conv CNN for 1x8x8 digits (no BatchNorm), seeded."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(32 * 4, 10))


def train_on_digits(model: nn.Module, epochs: int, label: str = "train") -> tuple[float, list[float]]:
    """Train with Adam on 1400 digits (fixed split and shuffles), return test accuracy and
    per-epoch training loss."""
    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32)[:, None] / 16.0
    y = torch.tensor(d.target)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    train_idx, test_idx = perm[:1400], perm[1400:]
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for epoch in tqdm(range(epochs), desc=label, leave=False):
        idx = train_idx[torch.randperm(len(train_idx), generator=torch.Generator().manual_seed(epoch))]
        total = 0.0
        for i in range(0, len(idx), 64):
            b = idx[i:i + 64]
            loss = nn.functional.cross_entropy(model(x[b]), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(b)
        losses.append(total / len(idx))
    with torch.no_grad():
        acc = float((model(x[test_idx]).argmax(1) == y[test_idx]).float().mean())
    return acc, losses


def build_parser() -> OneLineParser:
    """The argument parser of ``reram-demo``."""
    parser = OneLineParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=positive_int, default=6, help="training epochs per config (>= 1)")
    parser.add_argument("--threads", type=positive_int, default=1, help="CPU threads of torch and numba")
    parser.add_argument("--out", default=None, help="write the results as JSON to this file")
    return parser


def run_demo(epochs: int, out: str | None = None) -> list[dict]:
    """Train the network with every config of :func:`demo_configs`, print and return the results
    (and write them as JSON to ``out``)."""
    results = []
    for name, cfg in demo_configs().items():
        start = time.time()
        model = small_cnn() if cfg is None else reram.convert(small_cnn(), cfg)
        acc, losses = train_on_digits(model, epochs, name)
        results.append({"config": name, "crossbar": None if cfg is None else cfg.to_dict(),
                        "test_accuracy": acc, "train_loss": losses, "seconds": time.time() - start})
        print(f"{name:28s} test accuracy {acc:6.1%}   ({time.time() - start:5.1f} s)")
    if out:
        atomic_write_json(out, {"epochs": epochs, "results": results})
        print(f"results written to {out}")
    return results


def main(argv: list[str] | None = None) -> int:
    """Run ``reram-demo``; returns the exit status (0 ok, 2 bad input, 130 interrupted)."""
    args = build_parser().parse_args(argv)

    def body() -> None:
        if args.out:
            check_output_path(args.out)  # before any training
        set_threads(args.threads)
        run_demo(args.epochs, args.out)

    return run_cli(PROG, body, input_errors=(ValueError, OSError))


if __name__ == "__main__":
    sys.exit(main())
