"""One training loop for float and crossbar-converted models, with checkpoint and resume.

The loop is plain PyTorch (SGD with momentum, cross-entropy, a cosine or constant learning
rate computed from the epoch number), so it trains a float model and a model converted with
``reram.convert`` alike: crossbar layers re-program themselves after every optimizer step
(``update="nearest"`` snaps the weights onto the conductance grid, so updates below half a level
vanish), while BatchNorm layers stay ordinary full-precision modules (on CUDA when present),
which is the heterogeneous ReRAM + GPU split of the project.

Reproducibility: the shuffling, augmentation and global torch RNG of epoch ``e`` are seeded from
``(seed, e)``, and a checkpoint (model, optimizer, history; written atomically) is saved after
every epoch. A run killed at any point and restarted with the same arguments continues from its
last finished epoch and ends, on CPU, bit-identical to an uninterrupted run.

This module imports ``reram`` (the crossbar API) only inside the functions that convert models.
"""
from __future__ import annotations

import json
import math
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from reram.config import CrossbarConfig
from reram.io import atomic_write, atomic_write_json, json_safe
from reram.runtime import resolve_device, thread_counts

from .bn import BNMaskLike, bn_sites, format_bn_mask, parse_bn_mask
from .data import DataSplits, augment_crop_flip
from .registry import build_model_for, canonical_model_name, load_model_data, num_bn_sites

__all__ = [
    "CHECKPOINT_FORMAT",
    "TrainConfig",
    "TrainResult",
    "checkpoint_path",
    "evaluate",
    "run_training",
    "train",
]

CHECKPOINT_FORMAT = 1
_SCHEDULES = ("cosine", "constant")


@dataclass
class TrainConfig:
    """Hyper-parameters of :func:`train`.

    Attributes:
        epochs: passes over the training set (>= 1).
        batch_size: training mini-batch size (>= 1).
        lr: initial learning rate of SGD (> 0).
        momentum: SGD momentum in ``[0, 1)``.
        weight_decay: L2 penalty (>= 0).
        schedule: ``"cosine"`` (anneal to 0 over ``epochs``) or ``"constant"``.
        seed: seeds shuffling, augmentation and the global torch RNG of each epoch.
        eval_batch_size: batch size for evaluation (does not change results).
        device: ``"cpu"``, ``"cuda"``, ... ; ``None`` = CUDA when available, else CPU.
        checkpoint: file for the per-epoch checkpoint; ``None`` = no checkpointing.
        resume: continue from ``checkpoint`` if it exists (else it is overwritten).
        progress: show tqdm progress bars and per-epoch lines.
    """

    epochs: int = 10
    batch_size: int = 64
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "cosine"
    seed: int = 0
    eval_batch_size: int = 512
    device: str | None = None
    checkpoint: str | Path | None = None
    resume: bool = True
    progress: bool = True

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad field."""
        for name in ("epochs", "batch_size", "eval_batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a positive number, got {self.lr!r}")
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")
        if not (isinstance(self.weight_decay, (int, float)) and math.isfinite(self.weight_decay)
                and self.weight_decay >= 0.0):
            raise ValueError(f"weight_decay must be a finite number >= 0, got {self.weight_decay!r}")
        if self.schedule not in _SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(_SCHEDULES)}; got {self.schedule!r}")

    def fingerprint(self) -> dict[str, Any]:
        """The fields that determine the result (what a resumed run must share)."""
        keep = ("epochs", "batch_size", "lr", "momentum", "weight_decay", "schedule", "seed")
        return {k: v for k, v in asdict(self).items() if k in keep}


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes:
        model: the trained model (on the training device).
        history: one dict of metrics per epoch (``epoch``, ``lr``, ``train_loss``,
            ``train_accuracy``, ``test_loss``, ``test_accuracy``, ``nonfinite_steps``,
            ``time_s``), from the first epoch on, resumed epochs included.
        resumed_from_epoch: epochs already done in the checkpoint this run started from (0 if
            it started fresh).
        device: the device trained on.
    """

    model: nn.Module
    history: list[dict[str, Any]] = field(default_factory=list)
    resumed_from_epoch: int = 0
    device: str = "cpu"

    @property
    def test_accuracy(self) -> float:
        """Test accuracy (a fraction) after the last epoch."""
        return float(self.history[-1]["test_accuracy"]) if self.history else float("nan")


def _epoch_seed(seed: int, epoch: int) -> int:
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1, dtype=np.uint64)[0] >> 1)


def _epoch_lr(config: TrainConfig, epoch: int) -> float:
    if config.schedule == "constant":
        return float(config.lr)
    return float(config.lr) * 0.5 * (1.0 + math.cos(math.pi * epoch / config.epochs))


def _crossbar_layers(model: nn.Module) -> list[nn.Module]:
    """The crossbar layers of a converted model (duck-typed: they have ``programmed()``)."""
    return [m for m in model.modules() if callable(getattr(m, "programmed", None))
            and isinstance(getattr(m, "crossbar_update_count", None), Tensor)]


def _program_crossbars(model: nn.Module) -> None:
    """Re-program every crossbar layer whose weight the optimizer just changed.

    The layers would do it lazily on their next forward; doing it right after the step keeps
    the weights in checkpoints on the conductance grid (for ``update="nearest"``).
    """
    for layer in _crossbar_layers(model):
        layer.programmed()


def _restore_programming(model: nn.Module) -> None:
    """After ``load_state_dict``: program the crossbars from the loaded (already programmed)
    weights without counting it as a weight update, so a resumed run continues exactly as an
    uninterrupted one (the update counter seeds ``update="stochastic"``)."""
    for layer in _crossbar_layers(model):
        saved = layer.crossbar_update_count.clone()
        layer.programmed()
        layer.crossbar_update_count.copy_(saved)


def _keep_bn_full_precision(model: nn.Module) -> None:
    """BN layers run in float32 whatever the rest of the model does (they live on the GPU)."""
    for site in bn_sites(model):
        site.module.float()


def checkpoint_path(out: str | Path) -> Path:
    """Where :func:`run_training` keeps the checkpoint of a run writing its metrics to ``out``:
    ``out`` with ``.ckpt`` appended, so it is never ``out`` itself (``--out run.ckpt``) and two
    outputs never share one (``a.json``, ``a.log``)."""
    return Path(f"{os.fspath(out)}.ckpt")


def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def _load_checkpoint(path: Path, device: torch.device, run_info: dict[str, Any]) -> dict[str, Any]:
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise ValueError(f"checkpoint {path} cannot be read ({type(exc).__name__}); delete it or use another path") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"checkpoint {path} is not a reram.models checkpoint (format {CHECKPOINT_FORMAT})")
    saved = state.get("run", {})
    for key in sorted(set(saved) | set(run_info)):
        if saved.get(key) != run_info.get(key):
            raise ValueError(
                f"checkpoint {path} belongs to another run ({key}: {saved.get(key)!r} there, "
                f"{run_info.get(key)!r} now); delete it or use another path"
            )
    return state


@torch.no_grad()
def evaluate(
    model: nn.Module, images: Tensor, labels: Tensor, batch_size: int = 512, device: str | torch.device = "cpu"
) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` (in eval mode) on a labelled set.

    Args:
        model: the model; it is put in eval mode and left there.
        images: a ``N x C x H x W``-dim tensor.
        labels: a ``N``-dim int64 tensor.
        batch_size: evaluation batch size.
        device: where to run.

    Returns:
        ``(loss, accuracy)``; accuracy is a fraction in ``[0, 1]``.
    """
    model.eval()
    total_loss, correct = 0.0, 0
    for start in range(0, len(images), batch_size):
        x = images[start: start + batch_size].to(device)
        y = labels[start: start + batch_size].to(device)
        logits = model(x)
        total_loss += float(F.cross_entropy(logits, y, reduction="sum"))
        correct += int((logits.argmax(1) == y).sum())
    count = max(len(images), 1)
    return total_loss / count, correct / count


def train(
    model: nn.Module,
    data: DataSplits,
    config: TrainConfig,
    run_info: dict[str, Any] | None = None,
    on_epoch_end: Callable[[list[dict[str, Any]]], None] | None = None,
) -> TrainResult:
    """Train ``model`` on ``data`` with SGD, evaluating on the test split after every epoch.

    Args:
        model: a float model or one converted by ``reram.convert`` (trained in place).
        data: the dataset (its ``augment`` flag turns on crop + flip).
        config: hyper-parameters, device and checkpointing.
        run_info: JSON-able description of the run (model name, mask, crossbar config, ...)
            stored in the checkpoint; resuming from a checkpoint of another run is refused.
        on_epoch_end: called after each epoch (once its checkpoint is written) with the
            history so far, one dict per epoch; ``history[-1]`` is the epoch just finished.

    Returns:
        A :class:`TrainResult`.

    Raises:
        ValueError: on a bad config or a checkpoint of another run.
    """
    config.validate()
    device = resolve_device(config.device)
    info = {**(run_info or {}), "train": config.fingerprint()}
    info = json.loads(json.dumps(json_safe(info)))  # what the checkpoint holds
    model.to(device)
    _keep_bn_full_precision(model)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(
        params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
    )
    history: list[dict[str, Any]] = []
    start_epoch = 0
    ckpt_path = Path(config.checkpoint) if config.checkpoint is not None else None
    if ckpt_path is not None and config.resume and ckpt_path.exists():
        state = _load_checkpoint(ckpt_path, device, info)
        model.load_state_dict(state["model"])
        _restore_programming(model)
        optimizer.load_state_dict(state["optimizer"])
        history = list(state["history"])
        start_epoch = int(state["epoch"])
        saved_threads, now_threads = state.get("threads"), thread_counts()
        if saved_threads and saved_threads != now_threads:
            warnings.warn(
                f"resuming {ckpt_path} with threads {now_threads} but it was written with "
                f"{saved_threads}: the result may differ in the last bits from an uninterrupted run",
                stacklevel=2,
            )
    result = TrainResult(model=model, history=history, resumed_from_epoch=start_epoch, device=str(device))

    images, labels = data.train_images, data.train_labels
    num_batches = math.ceil(len(images) / config.batch_size)
    for epoch in range(start_epoch, config.epochs):
        started = time.perf_counter()
        seed = _epoch_seed(config.seed, epoch)
        generator = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        lr = _epoch_lr(config, epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr
        model.train()
        order = torch.randperm(len(images), generator=generator)
        loss_sum, correct, seen, nonfinite = 0.0, 0, 0, 0
        bar = tqdm(
            total=num_batches, desc=f"epoch {epoch + 1}/{config.epochs}", disable=not config.progress,
            leave=False, unit="batch",
        )
        for start in range(0, len(images), config.batch_size):
            index = order[start: start + config.batch_size]
            x = images[index]
            if data.augment:
                x = augment_crop_flip(x, generator)
            x, y = x.to(device), labels[index].to(device)
            optimizer.zero_grad(set_to_none=True)
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            loss.backward()
            optimizer.step()
            _program_crossbars(model)
            value = float(loss.detach())
            if math.isfinite(value):
                loss_sum += value * len(index)
            else:
                nonfinite += 1
            correct += int((logits.detach().argmax(1) == y).sum())
            seen += len(index)
            bar.update(1)
            bar.set_postfix(loss=f"{value:.3f}")
        bar.close()
        test_loss, test_accuracy = evaluate(model, data.test_images, data.test_labels, config.eval_batch_size, device)
        metrics = {
            "epoch": epoch + 1,
            "lr": lr,
            "train_loss": loss_sum / max(seen, 1) if nonfinite == 0 else float("nan"),
            "train_accuracy": correct / max(seen, 1),
            "test_loss": test_loss,
            "test_accuracy": test_accuracy,
            "nonfinite_steps": nonfinite,
            "time_s": round(time.perf_counter() - started, 3),
        }
        history.append(metrics)
        if ckpt_path is not None:
            _save_checkpoint(
                ckpt_path,
                {
                    "format": CHECKPOINT_FORMAT,
                    "run": info,
                    "epoch": epoch + 1,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "history": history,
                    "threads": thread_counts(),
                },
            )
        if config.progress:
            tqdm.write(
                f"epoch {epoch + 1}/{config.epochs}: train loss {metrics['train_loss']:.4f} "
                f"acc {metrics['train_accuracy']:.3f} | test loss {test_loss:.4f} acc {test_accuracy:.3f}"
            )
        if on_epoch_end is not None:
            on_epoch_end(list(history))
    return result


# --------------------------------------------------------------------------------------------
# Crossbar configs and whole runs (used by the CLI and the benchmarks)
# --------------------------------------------------------------------------------------------


def run_training(
    model: str = "vgg-digits",
    dataset: str = "digits",
    data_dir: str | Path | None = None,
    bn_mask: BNMaskLike = "all",
    config: Any = "float",
    train_config: TrainConfig | None = None,
    augment: bool = False,
    max_train: int | None = None,
    max_test: int | None = None,
    out: str | Path | None = None,
    data: DataSplits | None = None,
    width: float = 1.0,
) -> dict[str, Any]:
    """Build, optionally convert to crossbars, train and evaluate one model; return metrics.

    Everything is validated before any training starts. With ``out`` the metrics JSON is
    written there (atomically, after every epoch and at the end), and unless
    ``train_config.checkpoint`` is set the checkpoint goes next to it (``<out>.ckpt``).

    Args:
        model: a name of :data:`reram.models.MODEL_NAMES`.
        dataset: a name of :data:`reram.models.data.DATASET_NAMES`.
        data_dir: where CIFAR-10 / MNIST lie.
        bn_mask: bit string, ``"all"``, ``"none"`` or a sequence of 0/1.
        config: ``"float"``, a preset name, a JSON file/string, a dict or a ``CrossbarConfig``.
        train_config: hyper-parameters (defaults of :class:`TrainConfig`).
        augment: crop + flip (CIFAR-10 only).
        max_train: use only the first ``max_train`` training images.
        max_test: use only the first ``max_test`` test images.
        out: path of the metrics JSON.
        data: an already loaded dataset (skips loading; ``dataset`` must match its name).
        width: channel multiplier of the CIFAR VGGs (see :func:`reram.models.build_model`).

    Returns:
        A JSON-able dict with ``test_accuracy`` (a fraction), ``train_accuracy``, ``history``
        (per-epoch metrics), the run description and timing.
    """
    train_config = train_config or TrainConfig()
    train_config.validate()
    crossbar = CrossbarConfig.parse(config)
    name = canonical_model_name(model)
    keep = parse_bn_mask(bn_mask, num_bn_sites(name))  # checked before any data is read
    device = str(resolve_device(train_config.device))
    if data is None:
        data = load_model_data(name, dataset, data_dir, seed=train_config.seed, augment=augment,
                               max_train=max_train, max_test=max_test)
    torch.manual_seed(train_config.seed)
    net = build_model_for(name, data, bn_mask, width=width)
    if crossbar is not None:
        import reram

        net = reram.convert(net, crossbar)
    run_info = {
        "model": name,
        **({} if width == 1.0 else {"width": width}),
        "dataset": data.name,
        "bn_mask": format_bn_mask(keep),
        "config": crossbar.to_dict() if crossbar is not None else "float",
        "augment": bool(data.augment),
        "num_train": len(data.train_images),
        "num_test": len(data.test_images),
    }
    if out is not None and train_config.checkpoint is None:
        train_config = replace(train_config, checkpoint=checkpoint_path(out))
    started = time.perf_counter()

    def report(history: list[dict[str, Any]], complete: bool) -> dict[str, Any]:
        last = history[-1] if history else {}
        # a run whose loss went non-finite has no accuracy worth reporting (it is a constant guess)
        diverged = bool(last) and (bool(last.get("nonfinite_steps"))
                                   or not math.isfinite(float(last.get("test_loss", 0.0))))
        if diverged:
            last = {"nonfinite_steps": last.get("nonfinite_steps")}
        return {
            **run_info,
            "num_bn_sites": len(keep),
            "bn_sites_kept": [site.name for site in bn_sites(net)],
            "train": train_config.fingerprint(),
            "device": device,
            "threads": thread_counts(),
            "complete": complete,
            "diverged": diverged,
            "epochs_done": len(history),
            "test_accuracy": last.get("test_accuracy"),
            "test_loss": last.get("test_loss"),
            "train_accuracy": last.get("train_accuracy"),
            "history": history,
            "time_s": round(time.perf_counter() - started, 3),
        }

    def on_epoch_end(history: list[dict[str, Any]]) -> None:
        if out is not None:
            atomic_write_json(out, report(history, complete=False))

    result = train(net, data, train_config, run_info=run_info, on_epoch_end=on_epoch_end)
    payload = report(result.history, complete=True)
    payload["resumed_from_epoch"] = result.resumed_from_epoch
    if out is not None:
        atomic_write_json(out, payload)
    return payload
