"""The chip's cost of training each BN mask: one table, each mask costed once.

:func:`search_chip` builds the one :class:`reram.Chip` of a search (a chip preset's or chip
file's silicon with the crossbar config the model trains with), and :class:`CostTable` the
estimated training speed and energy of each mask on it (``reram.cost.scheduler.schedule`` in
training mode), memoized: a mask is costed once per process whatever asks for it (the search's
second objective, the report, the table).

Imports torch, ``reram.models`` and the cost model only inside the functions that cost.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from reram.apps._cli import InputError

__all__ = ["MaskCost", "CostTable", "search_chip", "against_measured_gpu"]


@dataclass(frozen=True)
class MaskCost:
    """What one mask's training costs on the chip (``None``: the scheduler cannot cost it).

    Attributes:
        speedup: training speedup of the ReRAM + GPU chip over the GPU alone (``Plan.speedup_vs_gpu``).
        throughput: training samples/s of the chip.
        energy_mj: energy per training sample on the chip, mJ.
        energy_ratio: GPU-only energy / chip energy.
    """

    speedup: float | None = None
    throughput: float | None = None
    energy_mj: float | None = None
    energy_ratio: float | None = None

    def to_dict(self) -> dict[str, float | None]:
        """The four figures (NaN and inf become ``None``)."""
        return {k: (None if v is None or not math.isfinite(v) else v) for k, v in asdict(self).items()}


def search_chip(chip: str, config: Any) -> Any:
    """The one chip of a search: the silicon of ``chip`` (a chip preset name or a chip JSON
    file) with the crossbar ``config`` the model trains with (a dict of ``CrossbarConfig``
    fields; ``config="float"`` keeps the chip's own crossbar), against its GPU's measured
    mixed-precision rate (:func:`against_measured_gpu`).

    Raises:
        InputError: naming ``chip`` when it cannot be loaded.
    """
    from reram.config import CrossbarConfig
    from reram.cost.chip import Chip

    try:
        built = Chip.from_hardware(chip)
    except (ValueError, KeyError, OSError, TypeError) as exc:
        raise InputError(f"chip {chip!r} cannot be loaded: {' '.join(str(exc).split())}") from None
    if config != "float":
        built = built.replace(config=CrossbarConfig.from_dict(dict(config)))
    return against_measured_gpu(built)


def against_measured_gpu(chip: Any) -> Any:
    """The chip with its GPU baseline at the GPU's published, measured mixed-precision training
    rate (``reram.cost.gpu.with_measured_gpu``: a fixed-point chip is compared with what a GPU
    trains at, not with an FP32 roofline); unchanged when the chip's GPU is not a bundled one
    or has no measured mixed-precision figure."""
    from reram.cost.gpu import bundled_gpu_of, measured_figures, with_measured_gpu

    name = bundled_gpu_of(chip)
    if name is None or "mixed" not in (measured_figures(name) or {}).get("img_per_s", {}):
        return chip
    return with_measured_gpu(chip, name, "mixed")


class CostTable:
    """Speed and energy of each mask's training on one chip, memoized (picklable).

    Args:
        trainer: the search's :class:`~reram.apps.bn_objective.MaskTrainer` (its model and data
            shape decide the layers costed).
        chip: the :class:`reram.Chip` (see :func:`search_chip`).
    """

    def __init__(self, trainer: Any, chip: Any) -> None:
        self.trainer, self.chip = trainer, chip
        self._costs: dict[str, MaskCost] = {}

    def cost(self, bits: str) -> MaskCost:
        """The :class:`MaskCost` of one mask (a bit string), computed on first use."""
        if bits not in self._costs:
            plan = self._plan(bits)
            self._costs[bits] = MaskCost() if plan is None else MaskCost(
                speedup=float(plan.speedup_vs_gpu), throughput=float(plan.throughput),
                energy_mj=1e3 * float(plan.energy_j) / plan.batch_size,
                energy_ratio=float(plan.energy_ratio_vs_gpu))
        return self._costs[bits]

    def _plan(self, bits: str) -> Any:
        """The training plan of one mask on the chip, or ``None`` if it cannot be costed."""
        import torch

        from reram.cost.scheduler import schedule
        from reram.models.registry import build_model_for

        data = self.trainer.load_data()
        try:
            with torch.random.fork_rng():
                net = build_model_for(self.trainer.training.model, data, bits, width=self.trainer.training.width)
            return schedule(net, tuple(data.input_shape), batch_size=self.trainer.training.batch_size,
                            mode="train", chip=self.chip)
        except (ValueError, RuntimeError, NotImplementedError):
            return None
