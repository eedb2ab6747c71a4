"""Data-parallel training of a converted model with torch's DistributedDataParallel.

Run one process per device with torchrun (CPU processes talk over gloo, GPUs over NCCL)::

    torchrun --standalone --nproc_per_node=2 examples/ddp_train.py --update nearest --verify

Every process converts the same seeded CNN (the same chip: defects and grid come from the
config's seed), takes its contiguous share of each global batch of the scikit-learn digits and
DDP averages the gradients, so each step is the step one process would take on the whole global
batch. The weight update then runs on every replica (snapping onto the conductance grid for
``update="nearest"``/``"stochastic"``); DDP broadcasts the crossbar buffers (weight scale,
update counter) from rank 0 before every forward, so the replicas stay one chip. With
``--verify`` rank 0 also trains a single-process copy on the whole global batches and prints
the largest weight difference, and every rank's weights are compared with rank 0's.

Imports torch, scikit-learn and :mod:`reram`; it is an example, nothing imports it.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import sys
from typing import Optional

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

import reram
from reram.io import atomic_write_json

UPDATE_MODES = ("nearest", "stochastic", "digital")


def build_model(update: str, seed: int = 0) -> nn.Module:
    """A small conv net for 1x8x8 digits, converted onto crossbars whose 6-bit ADC is lossy
    (so the tiled simulation runs), with the given weight update."""
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(8 * 4 * 4, 10))
    config = reram.CrossbarConfig(tile_size=32, weight_bits=6, cell_bits=2, input_bits=6,
                                  dac_bits=1, adc_bits=6, update=update, seed=seed)
    return reram.convert(net, config)


def digits_batches(steps: int, batch: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``steps`` global batches of standardized digits: ``steps x batch x 1 x 8 x 8`` images
    and ``steps x batch`` labels, drawn with a seeded generator (every process draws the same)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32)[:, None]
    images = (images - images.mean()) / images.std()
    labels = torch.tensor(digits.target)
    generator = torch.Generator().manual_seed(seed)
    order = torch.randint(0, len(images), (steps, batch), generator=generator)
    return images[order], labels[order]


def train(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, lr: float) -> float:
    """Plain SGD over the given batches; returns the last loss."""
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    loss = torch.zeros(())
    for x, y in zip(images, labels):
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(loss.detach())


def programmed_weights(model: nn.Module) -> torch.Tensor:
    """All parameters after programming the last update, flattened into one vector."""
    for layer in model.modules():
        if isinstance(layer, reram.CrossbarLayer):
            layer.effective_weight()  # re-programs (snaps onto the grid) if weight changed
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def max_diff_to_rank0(weights: torch.Tensor, world: int) -> float:
    """The largest difference between any rank's ``weights`` and rank 0's (0.0 on one rank)."""
    gathered = [torch.empty_like(weights) for _ in range(world)]
    dist.all_gather(gathered, weights)
    return max(float((g - gathered[0]).abs().max()) for g in gathered)


def run_mode(update: str, args: argparse.Namespace, rank: int, world: int,
             device: torch.device) -> dict:
    """Train one update mode under DDP; with ``--verify`` compare with one process."""
    images, labels = digits_batches(args.steps, args.batch, args.seed)
    images, labels = images.to(device), labels.to(device)
    share = args.batch // world
    mine = slice(rank * share, (rank + 1) * share)
    local = build_model(update, args.seed).to(device)
    start = max_diff_to_rank0(programmed_weights(local), world)
    if start > 0:
        raise RuntimeError(f"rank {rank} built a different model than rank 0 (max weight "
                           f"difference {start}); build it from one seed on every rank")
    # Every rank built the same chip from one seed, so DDP's initial broadcast is not needed;
    # skipping it matters for update="stochastic": the broadcast rewrites the weights in place,
    # the layers count the re-programming it triggers as an update, and the stochastic rounding
    # (seeded by the update count) runs one step ahead of a single process's.
    model = DistributedDataParallel(local, init_sync=args.init_sync,
                                    device_ids=[device.index] if device.type == "cuda" else None)
    loss = train(model, images[:, mine], labels[:, mine], args.lr)
    weights = programmed_weights(model.module)
    result = {"update": update, "loss": loss, "init_sync": args.init_sync}
    if args.verify:
        result["max_diff_between_ranks"] = max_diff_to_rank0(weights, world)
        if rank == 0:
            single = build_model(update, args.seed).to(device)
            train(single, images, labels, args.lr)
            diff = (programmed_weights(single) - weights).abs().max()
            result["max_diff_vs_one_process"] = float(diff)
    return result


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", default="nearest",
                        help=f"comma-separated weight update modes from {UPDATE_MODES}")
    parser.add_argument("--steps", type=int, default=20, help="optimizer steps (>= 1)")
    parser.add_argument("--batch", type=int, default=64, help="global batch size, split over ranks")
    parser.add_argument("--lr", type=float, default=0.1, help="SGD learning rate")
    parser.add_argument("--seed", type=int, default=0, help="seed of the model, chip and batches")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="cpu: processes talk over gloo; cuda: one GPU per process "
                        "(LOCAL_RANK), NCCL")
    parser.add_argument("--verify", action="store_true",
                        help="also train one process on the global batches and compare weights")
    parser.add_argument("--init-sync", action="store_true",
                        help="let DDP broadcast rank 0's weights at start (not needed: every rank "
                        "builds the same model; with update=stochastic it shifts the rounding)")
    parser.add_argument("--out", default=None, help="rank 0 writes the results as JSON here")
    args = parser.parse_args(argv)
    modes = args.update.split(",")
    bad = [m for m in modes if m not in UPDATE_MODES]
    if bad:
        parser.error(f"--update must name modes from {UPDATE_MODES}, got {bad}")
    if args.steps < 1:
        parser.error(f"--steps must be >= 1, got {args.steps}")
    args.modes = modes
    return args


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    if "RANK" not in os.environ:  # run directly: a world of one process
        os.environ.update(RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1", MASTER_PORT="29517")
    device = torch.device("cpu")
    if args.device == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    if args.batch % world:
        if rank == 0:
            print(f"--batch ({args.batch}) must be a multiple of the world size ({world})",
                  file=sys.stderr)
        dist.destroy_process_group()
        return 2
    results = [run_mode(update, args, rank, world, device) for update in args.modes]
    if rank == 0:
        for r in results:
            print(json.dumps(r))
        if args.out:
            atomic_write_json(args.out, {"world_size": world, "results": results})
    gc.collect()  # free the DDP wrappers (their reducers hold the process group) first
    dist.barrier()  # no rank tears its connections down while another still uses them
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
