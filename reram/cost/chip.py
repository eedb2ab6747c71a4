"""One chip, both halves: the crossbar config a layer simulates and the silicon that is costed.

A :class:`Chip` is a :class:`reram.config.CrossbarConfig` (tile size, cell, weight, input, DAC and
ADC bits, the G+/G- pair: what ``reram.convert(model, chip.config)`` simulates) plus a
:class:`~reram.cost.hardware.HardwareSpec` (timing, energy, size and link: what
``reram.schedule(..., chip=chip)`` charges). The crossbar geometry the cost model charges is
derived from the config (:func:`~reram.cost.hardware.geometry_from_config`), never stored twice,
so the two halves cannot disagree. Named presets (``Chip.preset("isaac")``, ``"puma"``,
``"neurosim"``, ``"pipelayer"``, ``"deeptrain-3d"``) are the JSON files of
``reram/cost/specs/`` that have a ``"crossbar"`` section; every number has a ``_sources`` entry.

Example:
    >>> chip = Chip.preset("isaac")
    >>> chip.config.weight_bits, chip.hardware.reram.slices, chip.total_crossbars
    (16, 8, 16128)

This module reads :mod:`reram.config` and :mod:`reram.cost.hardware`; it never imports the
simulation (:mod:`reram.sim`) or the applications.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reram.config import CrossbarConfig
from reram.cost.hardware import (HardwareSpec, LinkSpec, ReramSpec, available_hardware,
                                 geometry_from_config, load_hardware)
from reram.cost.training import TrainingSpec

__all__ = ["Chip", "available_chips", "peak_ops_per_s", "peak_power_w"]


def available_chips() -> list[str]:
    """Names of the bundled chip presets (spec files with a ``"crossbar"`` section)."""
    return [name for name in available_hardware() if load_hardware(name).crossbar is not None]


@dataclass(frozen=True)
class Chip:
    """A ReRAM + GPU chip: what its layers simulate and what its silicon costs.

    Attributes:
        config: the crossbar config its layers simulate (``reram.convert(model, chip.config)``);
            ``None`` only for a legacy hardware spec (:meth:`from_hardware`), whose float layers
            are costed with the spec's own geometry.
        hardware: the silicon: crossbar timing and energy, chip size, GPU and link. Its crossbar
            geometry is derived from ``config``.
        training: how it trains: weight-gradient dataflow, buffers and DRAM, write model
            (:class:`~reram.cost.training.TrainingSpec`).
    """

    config: CrossbarConfig | None
    hardware: HardwareSpec
    training: TrainingSpec = dataclasses.field(default_factory=TrainingSpec)

    def __post_init__(self) -> None:
        if self.config is not None and not isinstance(self.config, CrossbarConfig):
            raise TypeError(f"Chip.config must be a CrossbarConfig or None, "
                            f"got {type(self.config).__name__}")
        if not isinstance(self.hardware, HardwareSpec):
            raise TypeError(f"Chip.hardware must be a HardwareSpec, got {type(self.hardware).__name__}")
        if self.config is not None:  # the silicon's geometry is the config's, by construction
            reram = _with_geometry(self.hardware.reram, self.config)
            object.__setattr__(self, "hardware", dataclasses.replace(
                self.hardware, reram=reram, crossbar=_config_fields(self.config)))

    # ------------------------------------------------------------------ constructors
    @classmethod
    def preset(cls, name: str, **config_overrides: Any) -> Chip:
        """A bundled chip (see :func:`available_chips`), optionally with config overrides
        (``Chip.preset("isaac", adc_bits=6)``: the ADC's speed and energy follow its bits).

        Raises:
            ValueError: for an unknown name or a bad override.
        """
        names = available_chips()
        if name not in names:
            raise ValueError(f"chip must be one of {', '.join(names)}, got {name!r}")
        return cls.from_hardware(load_hardware(name), **config_overrides)

    @classmethod
    def from_json(cls, path: str | Path, **config_overrides: Any) -> Chip:
        """A chip from a JSON file in the format of ``reram/cost/specs/isaac.json``."""
        return cls.from_hardware(load_hardware(Path(path)), **config_overrides)

    @classmethod
    def from_hardware(cls, hardware: str | Path | HardwareSpec | Chip, **config_overrides: Any) -> Chip:
        """A chip from a hardware spec (name, path or spec). A spec with a ``"crossbar"`` section
        gives both halves; a legacy spec without one gives a chip with ``config=None``."""
        if isinstance(hardware, Chip):
            chip = hardware
            return chip.replace(**config_overrides) if config_overrides else chip
        spec = load_hardware(hardware)
        if spec.crossbar is None:
            if config_overrides:
                raise ValueError(f"hardware {spec.name!r} has no crossbar config to override; "
                                 "use a chip preset or a spec with a 'crossbar' section")
            return cls(config=None, hardware=spec)
        config = CrossbarConfig.from_dict(dict(spec.crossbar))
        if config_overrides:
            config = config.replace(**config_overrides)
        return cls(config=config, hardware=spec)

    # ------------------------------------------------------------------ derived
    @property
    def name(self) -> str:
        """The hardware configuration's name."""
        return self.hardware.name

    @property
    def total_crossbars(self) -> int:
        """Crossbars on the chip."""
        return self.hardware.reram.total_crossbars

    def reram_for(self, config: Any = None, rows: int | None = None) -> ReramSpec:
        """The crossbar spec a layer with ``config`` is costed with.

        Args:
            config: a ``CrossbarConfig`` or any object with its fields (a layer's
                ``crossbar_config``, read duck-typed); ``None``: the chip's own config (or, for
                a legacy chip, the spec's own geometry).
            rows: the layer's fan-in, for the lossless ADC of an unbounded tile.

        Returns:
            The chip's silicon with the layer's geometry; the ADC's rate and energy scaled from
            the chip's ADC resolution to the layer's (:meth:`ReramSpec.with_adc_bits`).

        An ideal tile, cell or ADC (``None``) is costed as the silicon that computes it exactly:
        the chip's arrays with column currents summed in analog, one cell per magnitude, an ADC
        with enough bits to be lossless (its rate and energy scaled from the chip's ADC).

        Raises:
            ValueError: if the config leaves the weights or inputs unquantized.
        """
        if config is None:
            return self.hardware.reram
        return _with_geometry(self.hardware.reram, config, rows)

    def replace(self, *, config: CrossbarConfig | None = None, scale: float | None = None,
                tiles: int | None = None, gpu: str | None = None, gpu_precision: str = "fp32",
                link: LinkSpec | None = None, training: TrainingSpec | None = None,
                **config_overrides: Any) -> Chip:
        """A copy with another config, size, GPU or link.

        Args:
            config: a new crossbar config (the silicon's geometry follows it).
            scale: multiply the number of tiles by this factor (rounded, at least 1).
            tiles: set the number of tiles.
            gpu: a bundled GPU baseline (``"v100"``, ``"gtx1080"``, ``"a100"``).
            gpu_precision: ``"fp32"`` or ``"mixed"`` (tensor cores) for ``gpu``.
            link: a new ReRAM-GPU link.
            training: a new training spec (weight-gradient dataflow, memory, writes).
            **config_overrides: fields of the crossbar config to change.
        """
        new_config = config if config is not None else self.config
        if config_overrides:
            if new_config is None:
                raise ValueError("a legacy chip has no crossbar config to override")
            new_config = new_config.replace(**config_overrides)
        hw = self.hardware
        if scale is not None:
            if not isinstance(scale, (int, float)) or isinstance(scale, bool) or not scale > 0:
                raise ValueError(f"scale must be a positive number, got {scale!r}")
            tiles = max(1, round(hw.reram.tiles * scale))
        if tiles is not None:
            hw = dataclasses.replace(hw, reram=dataclasses.replace(hw.reram, tiles=tiles))
        if gpu is not None:
            hw = hw.with_gpu(gpu, gpu_precision)
        if link is not None:
            hw = dataclasses.replace(hw, link=link)
        return Chip(config=new_config, hardware=hw, training=training or self.training)

    def peak_ops_per_s(self, reram: ReramSpec | None = None) -> float:
        """Peak arithmetic rate (2 ops per MAC) with every crossbar busy: see :func:`peak_ops_per_s`."""
        return peak_ops_per_s(reram or self.hardware.reram)

    def peak_power_w(self, reram: ReramSpec | None = None) -> float:
        """Power with every crossbar busy, static power and the link at full rate."""
        return peak_power_w(reram or self.hardware.reram, self.hardware.link)

    def to_dict(self) -> dict:
        """Plain-dict form (JSON-ready): the hardware dict with the config as its crossbar section."""
        return self.hardware.to_dict()

    def __repr__(self) -> str:
        return f"Chip({self.name!r}, config={self.config!r})"


def peak_ops_per_s(reram: ReramSpec) -> float:
    """Operations per second (2 per multiply-accumulate) of a chip with every crossbar busy on
    full ``rows x cols`` blocks of non-negative inputs.

    ``blocks = crossbars / (slices x signs)``; one MVM of a block does ``rows x cols`` MACs in
    ``mvm_cycles`` cycles of ``max(read, cols / adcs / rate)``.
    """
    blocks = reram.total_crossbars / (reram.slices * reram.signs)
    cycle = max(reram.read_latency_s,
                math.ceil(reram.crossbar_cols / reram.adcs_per_crossbar) / reram.adc_conversions_per_s)
    mvm_s = reram.mvm_cycles(False) * cycle
    return blocks * 2.0 * reram.crossbar_rows * reram.crossbar_cols / mvm_s


def peak_power_w(reram: ReramSpec, link: LinkSpec) -> float:
    """Power at :func:`peak_ops_per_s`: every crossbar's array, DACs, ADC conversions and
    shift-adds each cycle, each block's buffer traffic (inputs in, outputs out) each MVM, the
    static power, and the link at full bandwidth (ISAAC counts its HyperTransport links)."""
    cycle = max(reram.read_latency_s,
                math.ceil(reram.crossbar_cols / reram.adcs_per_crossbar) / reram.adc_conversions_per_s)
    per_crossbar_cycle = (reram.crossbar_energy_per_cycle_j + reram.dac_energy_per_cycle_j
                          + reram.crossbar_cols * (reram.adc_energy_per_conversion_j
                                                   + reram.shift_add_energy_j))
    crossbars_w = reram.total_crossbars * per_crossbar_cycle / cycle
    blocks = reram.total_crossbars / (reram.slices * reram.signs)
    mvm_s = reram.mvm_cycles(False) * cycle
    buffer_w = (blocks * (reram.crossbar_rows + reram.crossbar_cols) * reram.activation_bytes
                * reram.buffer_energy_per_byte_j / mvm_s)
    link_w = link.bandwidth_bytes_per_s * link.energy_per_byte_j
    return crossbars_w + buffer_w + reram.static_power_w + link_w


def _config_fields(config: CrossbarConfig) -> dict[str, Any]:
    return config.to_dict()


def _with_geometry(reram: ReramSpec, config: Any, rows: int | None = None) -> ReramSpec:
    """``reram``'s silicon with ``config``'s geometry; the ADC scaled from ``reram.adc_bits``
    (ideal precisions costed as exact silicon, see :func:`geometry_from_config`)."""
    geometry = geometry_from_config(config, reference=reram, rows=rows)
    target_adc = geometry.pop("adc_bits")
    spec = dataclasses.replace(reram, **geometry)
    return spec if target_adc == spec.adc_bits else spec.with_adc_bits(target_adc)
