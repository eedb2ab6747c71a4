"""The measured GPU baseline: time each layer type of a real model with the torch profiler.

The cost model's roofline estimates what a GPU would take; this module measures it on the
machine's own device (CPU, or CUDA when present) so the two can be compared, and so
``schedule(..., gpu_baseline="measured")`` can charge measured times. It runs a real model
(a copy), never a crossbar simulation.
"""
from __future__ import annotations

import copy
from typing import Any, Sequence

import torch
from torch import nn

from reram.runtime import resolve_device

__all__ = ["measure_breakdown", "classify_op", "MEASURED_KINDS"]

#: Layer kinds of the measured breakdown (profiler ops that match none are "other").
MEASURED_KINDS = ("conv", "linear", "bn", "act", "pool", "other")


def classify_op(name: str) -> str:
    """Layer kind of a profiler op name (``"aten::mkldnn_convolution"`` -> ``"conv"``).

    Returns one of ``"conv"``, ``"linear"``, ``"bn"``, ``"act"``, ``"pool"``, ``"other"``.
    """
    low = name.lower()
    if "batch_norm" in low or "batchnorm" in low:
        return "bn"
    if "conv" in low:
        return "conv"
    if ("addmm" in low or low in ("aten::mm", "aten::linear", "aten::matmul", "aten::bmm")
            or "mmbackward" in low or "linear" in low):
        return "linear"
    if "pool" in low:
        return "pool"
    if any(k in low for k in ("relu", "threshold", "gelu", "silu", "sigmoid", "tanh", "hardtanh")):
        return "act"
    return "other"


def measure_breakdown(model: nn.Module, input_shape: Sequence[int], batch_size: int = 32,
                      mode: str = "train", device: str | torch.device = "cpu",
                      repeats: int = 3, warmup: int = 1) -> dict[str, Any]:
    """Time each layer type of ``model`` on ``device`` with the torch profiler.

    Each iteration is one forward pass (inference, no grad) or one forward, backward and SGD
    step (train). The self time of every profiled operator (device time on CUDA, CPU time
    otherwise) is assigned to a layer kind by :func:`classify_op`.

    Args:
        model: the model; a deep copy is timed, so its weights and device do not change.
        input_shape: per-sample input shape.
        batch_size: samples per batch.
        mode: ``"train"`` or ``"inference"``.
        device: ``"cpu"`` or ``"cuda"`` (or a ``torch.device``).
        repeats: profiled iterations (results are per iteration).
        warmup: unprofiled iterations first.

    Returns:
        ``{"device", "mode", "batch_size", "seconds_by_kind", "fraction_by_kind", "total_s"}``;
        seconds are per batch.

    Raises:
        ValueError: on a bad argument or an unavailable device.
    """
    from torch.profiler import ProfilerActivity, profile

    if mode not in ("train", "inference"):
        raise ValueError(f"mode must be 'train' or 'inference', got {mode!r}")
    if batch_size < 1 or repeats < 1 or warmup < 0:
        raise ValueError(f"batch_size and repeats must be >= 1 and warmup >= 0, got "
                         f"{batch_size}, {repeats}, {warmup}")
    device = resolve_device(device)
    model = copy.deepcopy(model).to(device)
    x = torch.randn(batch_size, *input_shape, device=device)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3) if mode == "train" else None

    def step() -> None:
        if optimizer is None:
            model.eval()
            with torch.no_grad():
                model(x)
        else:
            model.train()
            optimizer.zero_grad(set_to_none=True)
            model(x).float().sum().backward()
            optimizer.step()

    for _ in range(warmup):
        step()
    cuda = device.type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    if cuda:
        torch.cuda.synchronize(device)
    with profile(activities=activities) as prof:
        for _ in range(repeats):
            step()
        if cuda:
            torch.cuda.synchronize(device)
    seconds = {kind: 0.0 for kind in MEASURED_KINDS}
    for event in prof.key_averages():
        if str(getattr(event, "device_type", "")).endswith("CUDA"):
            continue  # kernel rows: their time is already in the op that launched them
        micros = (getattr(event, "self_device_time_total", 0.0) if cuda
                  else event.self_cpu_time_total)
        seconds[classify_op(event.key)] += micros * 1e-6 / repeats
    total = sum(seconds.values())
    return {"device": str(device), "mode": mode, "batch_size": batch_size,
            "seconds_by_kind": seconds,
            "fraction_by_kind": {k: (v / total if total > 0 else 0.0) for k, v in seconds.items()},
            "total_s": total}
