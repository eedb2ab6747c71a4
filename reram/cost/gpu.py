"""GPU baselines that were measured: published training rates beside the datasheet roofline.

The roofline (:func:`reram.cost.scheduler.gpu_only_baseline`) charges each layer
``max(flops / peak, bytes / bandwidth)``; real training reaches less. NVIDIA's
DeepLearningExamples publish measured ResNet-50 v1.5 training throughput per GPU and precision
(the ``"measured"`` object of ``specs/gpu_<name>.json``, cited there). :func:`measured_gpu`
derates the GPU's peaks by the ratio of that measured rate to the roofline's rate on the same
network (ResNet-50, ImageNet 224 x 224, batch 256, training), so every workload is charged at
the efficiency the published measurement shows. The board still draws its TDP at that rate
(energy per FLOP rises by the same ratio).

Reads layer shapes through :mod:`reram.cost.trace` and the roofline of
:mod:`reram.cost.scheduler`; nothing in the cost model imports it (the applications do), and it
never imports the simulation or the applications.
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Any

from reram.cost.chip import Chip
from reram.cost.hardware import GPU_RATES, GpuSpec, gpu_file, load_gpu

__all__ = ["resnet50", "with_measured_gpu", "measured_gpu", "roofline_rate", "measured_rate", "measured_figures"]


def resnet50() -> Any:
    """ResNet-50 v1.5 (the stride on the 3x3 conv of each bottleneck, as torchvision's and
    DeepLearningExamples'), built from plain ``torch.nn`` so that costing it needs no
    torchvision import: the same layer shapes, 25.6 M parameters."""
    from torch import nn

    class Bottleneck(nn.Module):
        def __init__(self, cin: int, width: int, stride: int) -> None:
            super().__init__()
            cout = 4 * width
            self.body = nn.Sequential(
                nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
                nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
                nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout))
            self.down = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                         if stride != 1 or cin != cout else nn.Identity())
            self.act = nn.ReLU()

        def forward(self, x):  # noqa: D401 - nn.Module API
            return self.act(self.body(x) + self.down(x))

    layers: list[nn.Module] = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                               nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for i in range(blocks):
            layers.append(Bottleneck(cin, width, stride if i == 0 else 1))
            cin = 4 * width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2048, 1000)]
    return nn.Sequential(*layers)


@functools.lru_cache(maxsize=4)
def _trace(model: str, input_shape: tuple[int, ...]) -> Any:
    from reram.cost.trace import trace_model

    if model != "resnet50":
        raise ValueError(f"measured gpu figures are costed on resnet50, got {model!r}")
    return trace_model(resnet50(), input_shape)


def roofline_rate(gpu: GpuSpec, model: str = "resnet50",
                  input_shape: tuple[int, ...] = (3, 224, 224), batch_size: int = 256) -> float:
    """Training samples per second of ``model`` on ``gpu`` by the roofline."""
    from reram.cost.scheduler import gpu_only_baseline

    base = gpu_only_baseline(_trace(model, tuple(input_shape)), gpu, batch_size, True)
    return batch_size / sum(base.latency_s)


def measured_figures(name: str) -> dict[str, Any] | None:
    """The ``"measured"`` object of a bundled GPU (``None`` if it has none)."""
    return gpu_file(name).get("measured")


def measured_rate(name: str, precision: str) -> float:
    """The published measured training rate of a bundled GPU at ``precision``, samples/s.

    Raises:
        ValueError: if no measurement is bundled for that GPU and precision.
    """
    figures = measured_figures(name)
    if not figures or precision not in figures.get("img_per_s", {}):
        raise ValueError(f"gpu {name!r} has no published measured {precision} training rate "
                         "bundled; use rate 'roofline'")
    return float(figures["img_per_s"][precision])


@functools.lru_cache(maxsize=16)
def measured_gpu(name: str, precision: str = "mixed") -> tuple[GpuSpec, dict[str, str]]:
    """A bundled GPU whose roofline gives its published measured training rate.

    Peak FLOP/s and memory bandwidth are multiplied by one factor, found by a few fixed-point
    steps (kernel launches do not scale) so that :func:`roofline_rate` equals
    :func:`measured_rate`; the dynamic energy per FLOP is ``(TDP - idle) / derated peak``.

    Returns:
        ``(GpuSpec with rate="measured", {"gpu.<field>": source})``.

    Raises:
        ValueError: for an unknown GPU or one without a measured figure at ``precision``.
    """
    spec, sources = load_gpu(name, precision)
    figures = measured_figures(name) or {}
    target = measured_rate(name, precision)
    shape = tuple(figures.get("input", (3, 224, 224)))
    model, batch = str(figures.get("model", "resnet50")), int(figures.get("batch_size", 256))
    roof = roofline_rate(spec, model, shape, batch)
    factor = 1.0
    derated = spec
    for _ in range(6):
        factor *= target / roofline_rate(derated, model, shape, batch)
        derated = dataclasses.replace(
            spec, peak_flops=spec.peak_flops * factor,
            memory_bandwidth_bytes_per_s=spec.memory_bandwidth_bytes_per_s * factor,
            energy_per_flop_j=spec.energy_per_flop_j / factor, rate="measured",
            name=f"{spec.name} (measured {model} rate)")
    src = gpu_file(name)["_sources"][f"measured.{precision}"]
    note = (f"derated x{factor:.3f} so the roofline's {model} training rate ({roof:.0f} img/s "
            f"at the datasheet peaks, batch {batch}) equals the measured {target:.0f} img/s: {src}")
    sources = dict(sources)
    for key in ("gpu.peak_flops", "gpu.memory_bandwidth_bytes_per_s", "gpu.energy_per_flop_j"):
        sources[key] = f"{sources[key]}; {note}"
    sources["gpu.rate"] = f"measured: {src}"
    return derated, sources


def bundled_gpu_of(chip: Chip) -> str | None:
    """The bundled GPU whose name the chip's GPU carries (``None`` if none)."""
    from reram.cost.hardware import available_gpus, gpu_file

    for name in available_gpus():
        if chip.hardware.gpu.name.startswith(gpu_file(name)["name"]):
            return name
    return None


def with_measured_gpu(chip: Chip, name: str, precision: str = "mixed",
                      rate: str = "measured") -> Chip:
    """``chip`` with the bundled GPU ``name`` at ``precision``, its rate measured
    (:func:`measured_gpu`) or the datasheet roofline (``rate="roofline"``)."""
    if rate not in GPU_RATES:
        raise ValueError(f"gpu rate must be one of {GPU_RATES}, got {rate!r}")
    if rate == "roofline":
        return chip.replace(gpu=name, gpu_precision=precision)
    gpu, sources = measured_gpu(name, precision)
    return chip.replace(gpu=gpu, gpu_sources=sources)
