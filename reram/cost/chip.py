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
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from reram.config import CrossbarConfig
from reram.cost.hardware import (GpuSpec, HardwareSpec, LinkSpec, ReramSpec, available_hardware,
                                 geometry_from_config, load_hardware, tile_geometry)
from reram.cost.silicon import (Component, SiliconSpec, Unit, adc_bits_needed, chip_static_power_w,
                                components, crossbar_area_mm2, node_factors,
                                static_power_per_tile_w)
from reram.cost.training import TrainingSpec

__all__ = ["Chip", "available_chips", "peak_ops_per_s", "peak_power_w",
           "WEIGHT_GRADIENT_UNIT_NODE_NM", "TRANSPOSED_PERIPHERY_NODE_NM"]

#: The node of :class:`~reram.cost.training.WeightGradientUnit`'s figures (Horowitz, ISSCC 2014), nm.
WEIGHT_GRADIENT_UNIT_NODE_NM = 45.0
#: The node of :class:`~reram.cost.training.TrainingSpec`'s transposed-read ADC and DAC areas
#: (ISAAC's units, Shafiee et al., ISCA 2016: 32 nm), nm.
TRANSPOSED_PERIPHERY_NODE_NM = 32.0


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
        hw = self.hardware
        reram = hw.reram
        if self.config is not None:  # the silicon's geometry is the config's, by construction
            reram = _keep_tile_area(hw, reram, _with_geometry(reram, self.config))
        if hw.silicon is not None:  # always-on power: per tile, from the silicon's units
            reram = dataclasses.replace(reram, static_power_w=(
                reram.tiles * static_power_per_tile_w(hw.silicon, reram)
                + chip_static_power_w(hw.silicon)))
        crossbar = _config_fields(self.config) if self.config is not None else hw.crossbar
        object.__setattr__(self, "hardware", dataclasses.replace(hw, reram=reram, crossbar=crossbar))

    # ------------------------------------------------------------------ constructors
    @classmethod
    def preset(cls, name: str, **config_overrides: Any) -> Chip:
        """A bundled chip (see :func:`available_chips`), optionally with config overrides
        (``Chip.preset("isaac", adc_bits=6)``: the ADC's speed and energy follow its bits).

        Raises:
            ValueError: for an unknown name or a bad override.
        """
        names = available_chips()
        if not isinstance(name, str) or name not in names:
            raise ValueError(f"chip must be one of {', '.join(names)} (a preset name; give a "
                             f"file to Chip.from_json), got {name!r}")
        return cls.from_hardware(load_hardware(name), **config_overrides)

    @classmethod
    def from_json(cls, path: str | Path, **config_overrides: Any) -> Chip:
        """A chip from a JSON file in the format of ``reram/cost/specs/isaac.json`` (with a
        ``"training"`` object, as :meth:`to_dict` writes, its training spec)."""
        chip = cls.from_hardware(load_hardware(Path(path)), **config_overrides)
        training = json.loads(Path(path).read_text(encoding="utf-8")).get("training")
        return chip if training is None else chip.replace(training=TrainingSpec.from_dict(training))

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
            new_config = config.replace(**config_overrides)
            spec = dataclasses.replace(spec, reram=_conductance_scaled(spec.reram, config, new_config))
            config = new_config
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
        return _conductance_scaled(_with_geometry(self.hardware.reram, config, rows),
                                   self.config, config)

    def replace(self, *, config: CrossbarConfig | None = None, scale: float | None = None,
                tiles: int | None = None, gpu: str | GpuSpec | None = None,
                gpu_precision: str = "fp32", gpu_sources: Mapping[str, str] | None = None,
                gpu_idle_policy: str | None = None,
                link: LinkSpec | None = None, silicon: SiliconSpec | None = None,
                training: TrainingSpec | None = None,
                **config_overrides: Any) -> Chip:
        """A copy with another config, size, GPU or link.

        Args:
            config: a new crossbar config (the silicon's geometry follows it; a tile keeps its
                area, so its array count follows the arrays' and peripherals' size).
            scale: multiply the number of tiles by this factor (rounded, at least 1); the
                always-on power and the write-power limit are per tile and scale with it.
            tiles: set the number of tiles (same per-tile scaling).
            gpu: a bundled GPU baseline (``"v100"``, ``"gtx1080"``, ``"a100"``) or a
                :class:`GpuSpec` (a measured one: :func:`reram.cost.gpu.with_measured_gpu`).
            gpu_precision: ``"fp32"`` or ``"mixed"`` (tensor cores) for a bundled ``gpu``.
            gpu_sources: the sources of a :class:`GpuSpec` ``gpu``'s numbers.
            gpu_idle_policy: ``"idle"``, ``"off"`` or ``"shared"`` (see ``GpuSpec.idle_policy``).
            link: a new ReRAM-GPU link.
            silicon: new silicon units (e.g. with ``edram_refresh`` or ``link_always_on`` on).
            training: a new training spec (weight-gradient dataflow, memory, writes).
            **config_overrides: fields of the crossbar config to change.
        """
        new_config = config if config is not None else self.config
        if config_overrides:
            if new_config is None:
                raise ValueError("a legacy chip has no crossbar config to override")
            new_config = new_config.replace(**config_overrides)
        hw = self.hardware
        if new_config is not self.config:
            hw = dataclasses.replace(hw, reram=_conductance_scaled(hw.reram, self.config, new_config))
        if scale is not None:
            if not isinstance(scale, (int, float)) or isinstance(scale, bool) or not scale > 0 \
                    or not math.isfinite(scale):
                raise ValueError(f"scale must be a finite positive number, got {scale!r}")
            tiles = max(1, round(hw.reram.tiles * scale))
        if tiles is not None:
            hw = dataclasses.replace(hw, reram=hw.reram.with_tiles(tiles))
        if gpu is not None:
            hw = hw.with_gpu(gpu, gpu_precision, gpu_sources)
        elif gpu_precision != "fp32":
            raise ValueError("gpu_precision needs gpu= (a bundled GPU name)")
        if gpu_idle_policy is not None:
            hw = dataclasses.replace(hw, gpu=dataclasses.replace(hw.gpu, idle_policy=gpu_idle_policy))
        if link is not None:
            hw = dataclasses.replace(hw, link=link)
        if silicon is not None:
            hw = dataclasses.replace(hw, silicon=silicon)
        return Chip(config=new_config, hardware=hw, training=training or self.training)

    # ------------------------------------------------------------------ size
    def _silicon(self) -> SiliconSpec:
        if self.hardware.silicon is None:
            raise ValueError(f"chip {self.name!r} has no silicon section: its area and power "
                             "are not stated (add a 'silicon' object or name a preset's)")
        return self.hardware.silicon

    def components(self, node_nm: float | None = None, training: bool = True) -> list[Component]:
        """The component table: every unit with its count, area, peak and always-on power and
        source (:func:`reram.cost.silicon.components`), at the silicon's node or ``node_nm``;
        with ``training`` the silicon training adds (:meth:`training_components`).

        Raises:
            ValueError: if the chip has no silicon section.
        """
        g_mean = None
        if self.config is not None:
            g_mean = (self.config.g_min + self.config.g_max) / 2
        rows = components(self._silicon(), self.hardware.reram, g_mean_s=g_mean, node_nm=node_nm)
        return rows + (self.training_components(node_nm) if training else [])

    def training_components(self, node_nm: float | None = None) -> list[Component]:
        """What training adds to the inference silicon (``chip.training``): the transposed-read
        periphery of every array (row-side ADCs, column-side DACs: analog) and, for the digital
        weight-gradient dataflow, each tile's weight-gradient unit (Horowitz's 45 nm figures
        moved to the node by :func:`reram.cost.silicon.node_factors`, its peak power every MAC
        busy). The transposed periphery's power is charged per use in the backward phase; it
        adds no peak here (the forward periphery's figures stand for one read at a time)."""
        silicon, reram, spec = self._silicon(), self.hardware.reram, self.training
        target = silicon.node_nm if node_nm is None else node_nm
        crossbars = reram.total_crossbars
        rows = [Component("transposed_periphery", crossbars,
                          self.transposed_periphery_area_mm2(crossbars, reram, node_nm), 0.0, 0.0,
                          "TrainingSpec.transposed_adc_area_mm2 / transposed_dac_area_mm2 "
                          "(ISAAC's ADC and DAC) per array, for the input gradient's transposed read")]
        if spec.weight_gradient == "digital":
            unit = spec.unit
            _, power_f = node_factors("digital", WEIGHT_GRADIENT_UNIT_NODE_NM, target)
            bits = reram.input_bits
            rows.append(Component(
                "weight_gradient_unit", reram.tiles,
                reram.tiles * self.weight_gradient_unit_area_mm2(bits, node_nm),
                reram.tiles * unit.macs_per_tile * unit.clock_hz * unit.mac_energy_j(bits) * power_f,
                0.0, f"TrainingSpec.unit: {unit.macs_per_tile} MACs of {bits}-bit operands a tile "
                f"at {unit.clock_hz / 1e9:g} GHz (Horowitz, ISSCC 2014, 45 nm, moved to "
                f"{target:g} nm)"))
        return rows

    def transposed_periphery_area_mm2(self, crossbars: int, reram: ReramSpec | None = None,
                                      node_nm: float | None = None) -> float:
        """The transposed read's row-side ADCs and column-side DACs on ``crossbars`` arrays,
        mm2: ``training``'s figures (ISAAC's units, at :data:`TRANSPOSED_PERIPHERY_NODE_NM`)
        moved to the silicon's node, or ``node_nm``, by the analog rule of
        :func:`reram.cost.silicon.node_factors` (a chip without a silicon section: the
        figures as given). What :meth:`training_components` and a plan's
        ``training_area_mm2`` both count, so that :meth:`at_node` moves them too."""
        area = self.training.transposed_area_mm2(crossbars, reram or self.hardware.reram)
        if node_nm is None and self.hardware.silicon is None:
            return area
        target = self.hardware.silicon.node_nm if node_nm is None else node_nm
        return area * node_factors("analog", TRANSPOSED_PERIPHERY_NODE_NM, target)[0]

    def weight_gradient_unit_area_mm2(self, bits: int, node_nm: float | None = None) -> float:
        """One tile's digital weight-gradient unit (``training.unit``) at ``bits``-bit operands,
        mm2: Horowitz's 45 nm figures moved to the silicon's node, or ``node_nm``, by
        :func:`reram.cost.silicon.node_factors` (a chip without a silicon section states no
        node: the 45 nm figure). What :meth:`training_components` and a plan's
        ``training_area_mm2`` both count."""
        area = self.training.unit.area_mm2(bits)
        if node_nm is None and self.hardware.silicon is None:
            return area
        target = self.hardware.silicon.node_nm if node_nm is None else node_nm
        return area * node_factors("digital", WEIGHT_GRADIENT_UNIT_NODE_NM, target)[0]

    def costed_training(self) -> TrainingSpec:
        """``training`` placed on this chip's floorplan (what :func:`reram.cost.schedule`
        charges): the on-chip network's wires as long as the routers' spacing (mesh) or the
        chip's side (H-tree) over tiles of this chip's area per tile (training silicon
        included), at its node's supply, with the routers' energy per bit at its node
        (:meth:`TrainingSpec.on_floorplan`), and the digital weight-gradient unit's per-MAC
        energies moved from Horowitz's 45 nm to the chip's node (the digital rule of
        :func:`reram.cost.silicon.node_factors`, as :meth:`training_components` moves its peak
        power). A chip without a silicon section has no floorplan and states no node: its spec
        is returned as it is (no wire energy, 45 nm MACs)."""
        if self.hardware.silicon is None:
            return self.training
        node = self.hardware.silicon.node_nm
        per_tile, _ = self._per_tile_and_fixed(None, "area_mm2")
        placed = self.training.on_floorplan(per_tile, node, self.hardware.reram.tiles)
        # the weight-gradient unit's per-MAC energies (Horowitz's 45 nm) at the chip's node, as
        # training_components moves its peak power
        _, energy_f = node_factors("digital", WEIGHT_GRADIENT_UNIT_NODE_NM, node)
        unit = placed.unit
        return dataclasses.replace(placed, unit=dataclasses.replace(
            unit, multiply_energy_8bit_j=unit.multiply_energy_8bit_j * energy_f,
            add_energy_j=unit.add_energy_j * energy_f))

    def with_offset_encoding(self) -> Chip:
        """The same silicon costed with an offset-encoded weight sign and single-phase inputs
        (ISAAC's encoding; DNN+NeuroSim V2.1 maps weights the same way): each weight stored as
        ``w + 2^(weight_bits-1)`` over ``ceil(weight_bits / cell_bits)`` cells of one array (no
        G- array: half the arrays and conversions), every vector streamed in ``input_bits /
        dac_bits`` cycles, the offset's share subtracted digitally (one subtraction per output
        per MVM, under 1/16 of the shift-add work: not charged). The simulation computes
        G+/G- pairs and sign phases only, so this is a cost-only chip (``config=None``):
        schedule it on a float model or a trace."""
        reram = dataclasses.replace(self.hardware.reram, differential_weights=False,
                                    signed_input_phases=False)
        hw = dataclasses.replace(self.hardware, reram=reram, crossbar=None,
                                 name=f"{self.hardware.name}+offset")
        return Chip(config=None, hardware=hw, training=self.training)

    def area_mm2(self, node_nm: float | None = None, training: bool = True) -> float:
        """Silicon area of the ReRAM side (tiles, link PHY and, with ``training``, what training
        adds), mm2."""
        return sum(c.area_mm2 for c in self.components(node_nm, training))

    def power_w(self, node_nm: float | None = None, training: bool = True) -> float:
        """Peak power of the ReRAM side (every unit busy at its rate, the link at full rate), W."""
        return sum(c.power_w for c in self.components(node_nm, training))

    def _per_tile_and_fixed(self, node_nm: float | None, key: str) -> tuple[float, float]:
        rows = self.components(node_nm)
        chip_units = {n for n, u in self._silicon().units.items() if u.per == "chip"}
        fixed = sum(getattr(c, key) for c in rows if c.name in chip_units)
        per_tile = (sum(getattr(c, key) for c in rows) - fixed) / self.hardware.reram.tiles
        return per_tile, fixed

    def at_node(self, node_nm: float) -> Chip:
        """The same chip built at ``node_nm``: every unit's area and power moved by
        :func:`reram.cost.silicon.node_factors`, and the per-use energies of digital logic
        (shift-add, activation/pooling units) and buffers by the digital rule (x L); the
        arrays', DACs' and ADCs' energies stay (analog: set by noise and conductance)."""
        silicon = self._silicon()
        if isinstance(node_nm, bool) or not isinstance(node_nm, (int, float)) or not node_nm > 0 \
                or not math.isfinite(node_nm):
            raise ValueError(f"node_nm must be a finite positive number, got {node_nm!r}")
        units = {}
        for name, unit in silicon.units.items():
            area, power = node_factors(unit.kind, silicon.node_nm, node_nm)
            units[name] = dataclasses.replace(unit, area_mm2=unit.area_mm2 * area,
                                              power_w=unit.power_w * power,
                                              static_w=unit.static_w * power)
        _, digital = node_factors("digital", silicon.node_nm, node_nm)
        new_silicon = dataclasses.replace(
            silicon, node_nm=float(node_nm), units=units,
            edram_refresh_w_per_tile=silicon.edram_refresh_w_per_tile * digital,
            sources={**silicon.sources, "node_nm": f"moved from {silicon.node_nm:g} nm by "
                     "reram.cost.silicon.node_factors"})
        reram = self.hardware.reram
        reram = dataclasses.replace(
            reram, buffer_energy_per_byte_j=reram.buffer_energy_per_byte_j * digital,
            digital_energy_per_op_j=reram.digital_energy_per_op_j * digital,
            shift_add_energy_per_op_j=reram.shift_add_energy_j * digital)
        hw = dataclasses.replace(self.hardware, reram=reram, silicon=new_silicon,
                                 name=f"{self.hardware.name}@{node_nm:g}nm")
        return Chip(config=self.config, hardware=hw, training=self.training)

    def at_area(self, area_mm2: float, node_nm: float | None = None) -> Chip:
        """The same chip with as many tiles as fit in ``area_mm2`` (link PHY included),
        built at ``node_nm`` first when given (:meth:`at_node`).

        Raises:
            ValueError: if not even one tile fits.
        """
        return self._fill(area_mm2, node_nm, "area_mm2", "area")

    def at_power(self, power_w: float, node_nm: float | None = None) -> Chip:
        """The same chip with as many tiles as its peak power ``power_w`` allows (built at
        ``node_nm`` first when given)."""
        return self._fill(power_w, node_nm, "power_w", "power")

    def _fill(self, budget: float, node_nm: float | None, key: str, what: str) -> Chip:
        if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not budget > 0 \
                or not math.isfinite(budget):
            raise ValueError(f"{what} budget must be a finite positive number, got {budget!r}")
        if node_nm is not None and node_nm != self._silicon().node_nm:
            return self.at_node(node_nm)._fill(budget, None, key, what)
        per_tile, fixed = self._per_tile_and_fixed(None, key)
        tiles = math.floor((budget - fixed) / per_tile + 1e-9)
        if tiles < 1:
            raise ValueError(f"{what} budget {budget:g} holds no tile of chip {self.name!r} "
                             f"(one tile {per_tile:.4g}, fixed {fixed:.4g})")
        return self.replace(tiles=tiles)

    def with_frontend(self, energy_per_read_j: float, area_um2: float, power_w: float,
                      source: str) -> Chip:
        """The same chip with a column front end (a TIA per column) of our own circuits: its
        energy per column read joins the arrays' read energy (``cols x energy_per_read_j`` a
        cycle) and a ``column_frontend`` unit (per column, analog) its area and power.
        :func:`reram.apps.frontend_chip.frontend_chip` sizes it with :mod:`reram.analog`.

        Raises:
            ValueError: for a negative figure, an empty source or a chip without silicon.
        """
        for name, value in (("energy_per_read_j", energy_per_read_j), ("area_um2", area_um2),
                            ("power_w", power_w)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")
        silicon = self._silicon()
        unit = Unit(per="column", area_mm2=area_um2 * 1e-6, power_w=power_w, kind="analog",
                    source=source)
        units = {**silicon.units, "column_frontend": unit}
        reram = self.hardware.reram
        reram = dataclasses.replace(reram, crossbar_energy_per_cycle_j=(
            reram.crossbar_energy_per_cycle_j + reram.crossbar_cols * energy_per_read_j))
        hw = dataclasses.replace(self.hardware, reram=reram,
                                 silicon=dataclasses.replace(silicon, units=units))
        return Chip(config=self.config, hardware=hw, training=self.training)

    def notes(self) -> list[str]:
        """What a reader of this chip's figures should know: an ADC with fewer bits than a
        lossless column sum needs (the conversion clips), a chip far larger than its preset's
        stated size."""
        reram = self.hardware.reram
        out = []
        needed = adc_bits_needed(reram.crossbar_rows, reram.cell_bits, reram.dac_bits)
        if reram.adc_bits < needed:
            out.append(f"ADC of {reram.adc_bits} bits: a lossless column sum of "
                       f"{reram.crossbar_rows} rows x {reram.cell_bits}-bit cells x "
                       f"{reram.dac_bits}-bit DAC needs {needed} (the simulation clips it)")
        silicon = self.hardware.silicon
        if silicon is not None:
            ref = silicon.reference
            keys = ("rows", "cols", "adc_bits", "dac_bits", "adcs")
            base = crossbar_area_mm2(silicon, dict(zip(keys, (ref["rows"], ref["cols"],
                                                              ref["adc_bits"], ref["dac_bits"], 1))))
            here = crossbar_area_mm2(silicon, dict(zip(keys, tile_geometry(reram))))
            area = self.area_mm2(training=False)
            with_reference_arrays = area - reram.total_crossbars * (here - base)
            if area > 1.5 * with_reference_arrays:
                out.append(f"each array with its peripherals takes {here * 1e6:,.0f} um2, "
                           f"{here / base:.1f}x the silicon's reference array "
                           f"({ref['rows']:g}x{ref['cols']:g}, one {ref['adc_bits']:g}-bit ADC): "
                           f"the chip is {area:,.0f} mm2, {area / with_reference_arrays:.1f}x "
                           "the same tiles with reference arrays")
        return out

    def peak_ops_per_s(self, reram: ReramSpec | None = None) -> float:
        """Peak arithmetic rate (2 ops per MAC) with every crossbar busy: see :func:`peak_ops_per_s`."""
        return peak_ops_per_s(reram or self.hardware.reram)

    def peak_power_w(self, reram: ReramSpec | None = None) -> float:
        """Power with every crossbar busy, static power and the link at full rate (once: an
        always-on link is in the static power, :meth:`costed_link`)."""
        return peak_power_w(reram or self.hardware.reram, self.costed_link())

    def costed_link(self) -> LinkSpec:
        """The link as :func:`reram.cost.schedule` charges its bytes: its energy per byte, or
        none with the silicon's ``link_always_on`` (the PHY's whole power is then in the static
        power, charged for the whole batch instead of per byte)."""
        silicon, link = self.hardware.silicon, self.hardware.link
        if silicon is not None and silicon.link_always_on and "link_phy" in silicon.units:
            return dataclasses.replace(link, energy_per_byte_j=0.0)
        return link

    def to_dict(self) -> dict:
        """Plain-dict form (JSON-ready): the hardware dict with the config as its crossbar section,
        and the training spec (read back by :meth:`from_json`)."""
        return {**self.hardware.to_dict(), "training": self.training.to_dict()}

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
    """``reram``'s silicon with ``config``'s geometry, its peripherals costed by physics
    (:meth:`ReramSpec.with_geometry`; ideal precisions costed as exact silicon, see
    :func:`geometry_from_config`)."""
    return reram.with_geometry(**geometry_from_config(config, reference=reram, rows=rows))


def _mean_conductance(config: Any) -> float | None:
    g_min, g_max = getattr(config, "g_min", None), getattr(config, "g_max", None)
    if g_min is None or g_max is None:
        return None
    return (float(g_min) + float(g_max)) / 2


def _conductance_scaled(reram: ReramSpec, before: Any, after: Any) -> ReramSpec:
    """``reram`` with its arrays' read energy moved from ``before``'s mean cell conductance to
    ``after``'s (a cell's read power is V**2 G): unchanged when either has none."""
    old, new = _mean_conductance(before), _mean_conductance(after)
    if old is None or new is None or old == new:
        return reram
    return dataclasses.replace(reram, crossbar_energy_per_cycle_j=(
        reram.crossbar_energy_per_cycle_j * new / old))


def _keep_tile_area(hw: HardwareSpec, before: ReramSpec, reram: ReramSpec) -> ReramSpec:
    """``reram`` with as many crossbars per tile as fit in the area the file's tile gives its
    crossbars and their peripherals (``hw.tile_reference``) when its array size (tile_size)
    differs from ``before``'s; unchanged otherwise (a count set by hand stays; other bits change
    the chip's area, shown by :meth:`Chip.area_mm2`) or without a silicon section."""
    if hw.silicon is None or hw.tile_reference is None:
        return reram
    if tile_geometry(reram)[:2] == tile_geometry(before)[:2]:
        return reram  # only the array size moves the count (ADC bits alone keep the arrays)
    geometry, count = hw.tile_reference

    def area(geo: tuple[int, ...]) -> float:
        keys = ("rows", "cols", "adc_bits", "dac_bits", "adcs")
        return crossbar_area_mm2(hw.silicon, dict(zip(keys, geo)))

    fits = max(1, math.floor(count * area(tuple(geometry)) / area(tile_geometry(reram)) + 1e-9))
    return dataclasses.replace(reram, crossbars_per_tile=fits)
