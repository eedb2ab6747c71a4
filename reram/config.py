"""Crossbar configuration: the validated dataclass every crossbar layer is built from.

Holds :class:`CrossbarConfig` and its named presets. Imports only :mod:`reram.io` (for its
one-line JSON errors) of the rest of the package: it is the leaf every other module depends on.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field, fields
from typing import Any, Optional

from reram.io import atomic_write_text, parse_json, shorten

__all__ = ["CrossbarConfig", "UPDATE_MODES", "BACKWARD_MODES", "DEVICE_NAMES", "PRESETS"]

UPDATE_MODES = ("nearest", "stochastic", "digital", "pulsed")
WEIGHT_SCALINGS = ("layer", "channel")
DIFFERENTIAL_MODES = ("digital", "analog")
BACKWARD_MODES = ("ideal", "analog")
#: Device presets of ``update="pulsed"`` (defined in :mod:`reram.sim.devices`; listed here so
#: that validating a config needs no import of the simulation; a test keeps the two equal).
DEVICE_NAMES = ("linear", "ag-a-si", "taox-hfox", "alox-hfo2", "epiram", "pcmo")


#: Largest ``input_bits``: codes are float32, exact integers only up to ``2**24``.
MAX_INPUT_BITS = 25
#: Largest ``variation`` (lognormal sigma); beyond it conductances overflow float32.
MAX_VARIATION = 5.0


def _doc(text: str) -> dict:
    return {"doc": text}


def _shown(value: Any) -> str:
    """``repr(value)`` cut short for an error message (a 10 MB value is not echoed)."""
    return shorten(repr(value))


@dataclass(frozen=True)
class CrossbarConfig:
    """How a layer's weights and inputs are mapped onto simulated ReRAM crossbars.

    Every precision field accepts ``None``, meaning ideal (no quantization / no tiling).
    The signal chain these fields parametrize is described in DESIGN.md and in
    :mod:`reram.sim.functional`.

    Example:
        >>> cfg = CrossbarConfig(weight_bits=6, adc_bits=None, update="nearest")
        >>> cfg.n_slices
        1
    """

    tile_size: Optional[int] = field(default=128, metadata=_doc(
        "Rows (and columns) of one crossbar array; inputs longer than this are split over "
        "row tiles whose partial sums are digitized separately. None: one unbounded tile."))
    weight_bits: Optional[int] = field(default=8, metadata=_doc(
        "Signed weight precision in bits: 1 sign bit (the differential pair) plus "
        "weight_bits-1 magnitude bits. None: unquantized conductances."))
    cell_bits: Optional[int] = field(default=2, metadata=_doc(
        "Bits stored per ReRAM cell; the weight magnitude is bit-sliced over "
        "ceil((weight_bits-1)/cell_bits) cells. None: one cell holds the whole magnitude."))
    input_bits: Optional[int] = field(default=8, metadata=_doc(
        "Signed input precision in bits (sign handled in two phases), at most 25: input codes "
        "are float32, whose integers are exact only up to 2**24, and 2**(input_bits-1) - 1 must "
        "be one (26 bits rounded the top code to 2**25, which no DAC digit holds). None: "
        "unquantized."))
    dac_bits: Optional[int] = field(default=1, metadata=_doc(
        "Input bits applied per crossbar read cycle (bit-serial streaming). None: all "
        "magnitude bits in one cycle."))
    adc_bits: Optional[int] = field(default=8, metadata=_doc(
        "Resolution of the per-column ADC, one conversion per tile, slice and cycle. "
        "None: ideal ADC."))
    adc_range: float = field(default=1.0, metadata=_doc(
        "ADC full scale as a fraction of the largest possible column current "
        "(tile_size x largest input code x largest cell level); currents above clip."))
    g_min: float = field(default=1e-6, metadata=_doc(
        "Lowest programmable conductance in siemens (high-resistance state)."))
    g_max: float = field(default=1e-4, metadata=_doc(
        "Highest programmable conductance in siemens (low-resistance state)."))
    saf0_rate: float = field(default=0.0, metadata=_doc(
        "Fraction of cells stuck at g_min (stuck-at-0 / stuck-off)."))
    saf1_rate: float = field(default=0.0, metadata=_doc(
        "Fraction of cells stuck at g_max (stuck-at-1 / stuck-on)."))
    variation: float = field(default=0.0, metadata=_doc(
        "Lognormal programming variation: each cell's conductance is multiplied by "
        "exp(variation * N(0, 1)), drawn once per chip (layer seed). At most 5 (a sigma of 5 "
        "already spreads conductances over 1e+-13; much larger overflows float32 to inf/NaN)."))
    weight_scaling: str = field(default="layer", metadata=_doc(
        "Weight scale s_w = max|W| per 'layer' or per output 'channel'."))
    differential: str = field(default="digital", metadata=_doc(
        "Where the G+/G- column currents are subtracted: 'digital' (each column has its own "
        "unipolar ADC conversion, subtraction after) or 'analog' (subtracted before one "
        "bipolar conversion)."))
    update: str = field(default="nearest", metadata=_doc(
        "Weight update on the hardware: 'nearest' rounds w - lr*g onto the conductance grid "
        "(updates under half a level vanish), 'stochastic' rounds stochastically, 'digital' "
        "keeps a full-precision master copy, 'pulsed' fires the pulses a real device would "
        "(see device)."))
    seed: int = field(default=0, metadata=_doc(
        "Seed of the chip: device defects and variation are drawn from it once per layer."))
    read_noise: float = field(default=0.0, metadata=_doc(
        "Per-read conductance noise: every read multiplies each cell's conductance by "
        "(1 + read_noise * N(0, 1)) clipped at 0 (a conductance is never negative), drawn "
        "afresh per read (seeded). 0: noiseless reads."))
    backward: str = field(default="ideal", metadata=_doc(
        "Input gradient: 'ideal' is straight-through with the effective weight; 'analog' is a "
        "transposed read of the same tiles (error quantized by the input DAC scheme, column "
        "currents through the per-tile ADC), as PipeLayer and NeuroSim V2 do."))
    device: Optional[str] = field(default=None, metadata=_doc(
        "Synaptic device of update='pulsed' (required then, None otherwise): a preset of "
        "reram.sim.devices (DEVICE_NAMES: 'linear' or NeuroSim's Ag:a-Si, TaOx/HfOx, "
        "AlOx/HfO2, EpiRAM, PCMO). Each weight is one analog device; its levels replace "
        "weight_bits/cell_bits for the weights ('linear' takes 2**weight_bits - 2 levels)."))

    # ------------------------------------------------------------------ validation
    def __post_init__(self) -> None:
        def _int_or_none(name: str, lo: int, hi: int = 64) -> None:
            v = getattr(self, name)
            if v is None:
                return
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise ValueError(f"{name} must be None or an integer in [{lo}, {hi}], got {_shown(v)}")

        _int_or_none("tile_size", 1, 1 << 20)
        _int_or_none("weight_bits", 2, 32)
        _int_or_none("cell_bits", 1, 16)
        _int_or_none("input_bits", 2, MAX_INPUT_BITS)
        _int_or_none("dac_bits", 1, 32)
        _int_or_none("adc_bits", 1 if self.differential == "digital" else 2, 32)
        if self.cell_bits is not None and self.weight_bits is not None and self.cell_bits > self.weight_bits:
            raise ValueError(
                f"cell_bits ({self.cell_bits}) must not exceed weight_bits ({self.weight_bits})")
        for name in ("adc_range", "g_max"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise ValueError(f"{name} must be a positive finite number, got {_shown(v)}")
        if not isinstance(self.g_min, (int, float)) or not math.isfinite(self.g_min) or self.g_min < 0:
            raise ValueError(f"g_min must be a non-negative finite number (siemens), got {_shown(self.g_min)}")
        if self.g_min >= self.g_max:
            raise ValueError(f"g_min ({self.g_min}) must be below g_max ({self.g_max})")
        for name in ("saf0_rate", "saf1_rate"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} must be a fraction in [0, 1], got {_shown(v)}")
        if self.saf0_rate + self.saf1_rate > 1.0:
            raise ValueError(
                f"saf0_rate + saf1_rate must not exceed 1, got {self.saf0_rate + self.saf1_rate}")
        if (isinstance(self.variation, bool) or not isinstance(self.variation, (int, float))
                or not 0 <= self.variation <= MAX_VARIATION):
            raise ValueError(f"variation must be a number in [0, {MAX_VARIATION}] (lognormal sigma), "
                             f"got {_shown(self.variation)}")
        if self.update not in UPDATE_MODES:
            raise ValueError(f"update must be one of {UPDATE_MODES}, got {_shown(self.update)}")
        if self.weight_scaling not in WEIGHT_SCALINGS:
            raise ValueError(f"weight_scaling must be one of {WEIGHT_SCALINGS}, got {_shown(self.weight_scaling)}")
        if self.differential not in DIFFERENTIAL_MODES:
            raise ValueError(f"differential must be one of {DIFFERENTIAL_MODES}, got {_shown(self.differential)}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {_shown(self.seed)}")
        if (not isinstance(self.read_noise, (int, float)) or not math.isfinite(self.read_noise)
                or self.read_noise < 0):
            raise ValueError(f"read_noise must be a non-negative number, got {_shown(self.read_noise)}")
        if self.backward not in BACKWARD_MODES:
            raise ValueError(f"backward must be one of {BACKWARD_MODES}, got {_shown(self.backward)}")
        if self.update == "pulsed":
            if self.device not in DEVICE_NAMES:
                raise ValueError(f"device must be one of {DEVICE_NAMES} with update='pulsed', "
                                 f"got {_shown(self.device)}")
            if self.device == "linear" and self.weight_bits is None:
                raise ValueError("weight_bits must be an integer with device='linear' (its levels "
                                 "are 2**weight_bits - 2), got None")
        elif self.device is not None:
            raise ValueError(f"device must be None unless update='pulsed' (update is "
                             f"{self.update!r}), got {_shown(self.device)}")

    # ------------------------------------------------------------------ derived quantities
    @property
    def weight_magnitude_bits(self) -> Optional[int]:
        """Bits of the weight magnitude (``weight_bits - 1``), None when unquantized."""
        return None if self.weight_bits is None else self.weight_bits - 1

    @property
    def weight_levels(self) -> Optional[int]:
        """Largest magnitude level ``2**(weight_bits-1) - 1``; None when unquantized."""
        m = self.weight_magnitude_bits
        return None if m is None else (1 << m) - 1

    @property
    def n_slices(self) -> int:
        """Cells per weight magnitude: ``ceil((weight_bits - 1) / cell_bits)``."""
        m = self.weight_magnitude_bits
        if m is None or self.cell_bits is None:
            return 1
        return -(-m // self.cell_bits)

    @property
    def slice_bits(self) -> Optional[int]:
        """Bits per slice actually used (``cell_bits`` capped by the magnitude bits)."""
        m = self.weight_magnitude_bits
        if m is None:
            return None
        return m if self.cell_bits is None else min(self.cell_bits, m)

    @property
    def input_levels(self) -> Optional[int]:
        """Largest input magnitude code ``2**(input_bits-1) - 1``; None when unquantized."""
        return None if self.input_bits is None else (1 << (self.input_bits - 1)) - 1

    @property
    def n_cycles(self) -> int:
        """Read cycles per input phase: ``ceil((input_bits - 1) / dac_bits)``."""
        if self.input_bits is None or self.dac_bits is None:
            return 1
        return -(-(self.input_bits - 1) // self.dac_bits)

    @property
    def cycle_bits(self) -> Optional[int]:
        """Input bits applied per cycle (``dac_bits`` capped by the input magnitude bits)."""
        if self.input_bits is None:
            return None
        m = self.input_bits - 1
        return m if self.dac_bits is None else min(self.dac_bits, m)

    @property
    def has_defects(self) -> bool:
        """True when stuck-at faults or programming variation are modelled."""
        return self.saf0_rate > 0 or self.saf1_rate > 0 or self.variation > 0

    @property
    def is_ideal(self) -> bool:
        """True when the crossbar computes exactly what the float layer computes."""
        return (self.weight_bits is None and self.input_bits is None and self.adc_bits is None
                and not self.has_defects and self.read_noise == 0 and self.update != "pulsed")

    # ------------------------------------------------------------------ constructors
    @classmethod
    def ideal(cls, **overrides: Any) -> "CrossbarConfig":
        """A config that reproduces the float layer exactly (every precision ``None``)."""
        base = dict(tile_size=None, weight_bits=None, cell_bits=None, input_bits=None,
                    dac_bits=None, adc_bits=None, update="digital")
        base.update(overrides)
        return cls(**base)

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> "CrossbarConfig":
        """A named preset (see :data:`PRESETS`), with optional field overrides.

        A preset is a name, never a file: a file or folder called ``isaac`` in the working
        folder changes nothing (load a file with :meth:`from_json`).

        Raises:
            ValueError: if ``name`` is not a known preset.
        """
        if not isinstance(name, str) or name not in PRESETS:
            raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {_shown(name)}")
        if name == "ideal":
            return cls.ideal(**overrides)
        base = dict(PRESETS[name])
        base.pop("_source", None)
        base.update(overrides)
        return cls(**base)

    def replace(self, **changes: Any) -> "CrossbarConfig":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """All fields as a plain JSON-serializable dict."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict) -> "CrossbarConfig":
        """Build from a dict of fields; unknown keys raise ``ValueError`` naming them.

        Missing fields take their defaults, so ``{"weight_bits": 4}`` is a valid config.
        """
        if not isinstance(data, dict):
            raise ValueError(f"config must be a dict of CrossbarConfig fields, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown CrossbarConfig field(s) {shorten(str(unknown))}; "
                             f"allowed: {sorted(known)}")
        return cls(**data)

    def to_json(self, path: Optional[str] = None) -> str:
        """Serialize to JSON; also write it to ``path`` when given (atomically, see
        :func:`reram.io.atomic_write`)."""
        text = json.dumps(self.to_dict(), indent=2)
        if path is not None:
            atomic_write_text(path, text + "\n")
        return text

    @classmethod
    def parse(cls, spec: Any, field: str = "config") -> "Optional[CrossbarConfig]":
        """A command line's config value as a config, or ``None`` for a float model.

        A name is a preset, never a file of the working folder (``mkdir isaac`` changes nothing);
        a file must look like a path: a folder separator or a ``.json`` suffix (``./isaac``).

        Args:
            spec: ``None``/``"float"`` (no conversion), a ``CrossbarConfig``, a dict of its
                fields, a preset name (e.g. ``"isaac"``), a path to a JSON file of fields, or a
                JSON string.
            field: the name the errors give the value (``"--config"``, ...).

        Raises:
            ValueError: one line naming ``field`` when the value is none of these or a field is
                invalid (a huge value is shortened, not echoed).
        """
        if spec is None or (isinstance(spec, str) and spec.strip().lower() == "float"):
            return None
        if isinstance(spec, cls):
            return spec
        if isinstance(spec, dict):
            return cls.from_dict(spec)
        if not isinstance(spec, (str, os.PathLike)):
            raise ValueError(f"{field} must be 'float', a preset name, a JSON file or a dict; "
                             f"got {type(spec).__name__}")
        text = os.fspath(spec).strip()
        if text.startswith(("{", "[")):
            data = parse_json(text, f"{field} {shorten(text)}")
        elif text.endswith(".json") or "/" in text or os.sep in text:
            path = os.path.expanduser(text)
            if not os.path.isfile(path):
                raise ValueError(f"{field} file {shorten(text)} does not exist")
            try:
                with open(path, encoding="utf-8") as fh:
                    source = fh.read()
            except (OSError, UnicodeDecodeError) as exc:
                raise ValueError(f"{field} file {shorten(text)} cannot be read ({type(exc).__name__})") from None
            data = parse_json(source, f"{field} {shorten(text)}")
        elif text in PRESETS:
            return cls.preset(text)
        else:
            allowed = ", ".join(["float", *sorted(PRESETS), "<file>.json"])
            raise ValueError(f"{field} must be one of {allowed}; got {shorten(repr(text))} (a file is "
                             "a path with a / or .json)")
        if not isinstance(data, dict):
            raise ValueError(f"{field} {shorten(text)} must hold a JSON object of CrossbarConfig fields")
        return cls.from_dict(data)

    @classmethod
    def from_json(cls, source: str | os.PathLike[str]) -> "CrossbarConfig":
        """Load from a JSON string (an object, starting with ``{``) or the path of a JSON file.

        Raises:
            ValueError: one line, naming the file or the value, when the file cannot be read
                or the JSON is malformed, nested too deeply or not a dict of fields.
        """
        text = os.fspath(source)
        if text.lstrip().startswith("{"):
            return cls.from_dict(parse_json(text, f"config {shorten(text.strip())}"))
        try:
            with open(text, encoding="utf-8") as fh:
                content = fh.read()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise ValueError(f"config is neither a JSON object nor a readable file: "
                             f"{_shown(text)} ({reason})") from None
        return cls.from_dict(parse_json(content, f"config file {shorten(text)}"))

    def __repr__(self) -> str:
        defaults = CrossbarConfig()
        changed = [f"{f.name}={getattr(self, f.name)!r}" for f in fields(self)
                   if getattr(self, f.name) != getattr(defaults, f.name)]
        return f"CrossbarConfig({', '.join(changed)})"

    def describe(self) -> str:
        """A one-line human summary (used in layer ``extra_repr``)."""
        def b(v: Optional[int]) -> str:
            return "ideal" if v is None else f"{v}b"
        parts = [f"tile={self.tile_size or 'inf'}", f"w={b(self.weight_bits)}",
                 f"cell={b(self.cell_bits)}x{self.n_slices}", f"in={b(self.input_bits)}",
                 f"dac={b(self.dac_bits)}", f"adc={b(self.adc_bits)}", f"update={self.update}"]
        if self.saf0_rate or self.saf1_rate:
            parts.append(f"saf={self.saf0_rate:g}/{self.saf1_rate:g}")
        if self.variation:
            parts.append(f"var={self.variation:g}")
        if self.read_noise:
            parts.append(f"read_noise={self.read_noise:g}")
        if self.backward != "ideal":
            parts.append(f"backward={self.backward}")
        if self.device is not None:
            parts.append(f"device={self.device}")
        return " ".join(parts)


#: Named presets. Numbers follow the published designs they are named for.
PRESETS: dict[str, dict] = {
    "ideal": {"_source": "exact float reference"},
    # ISAAC (Shafiee et al., ISCA 2016): 128x128 crossbars, 2-bit cells, 16-bit weights and
    # inputs, 1-bit DACs (inputs streamed bit-serially), 8-bit ADCs.
    "isaac": dict(tile_size=128, weight_bits=16, cell_bits=2, input_bits=16, dac_bits=1,
                  adc_bits=8, _source="Shafiee et al., ISAAC, ISCA 2016"),
    # DNN+NeuroSim V2 defaults (Peng et al., 2020): 128-row arrays, 4-bit cells (multi-level),
    # 8-bit weights and activations, 5-bit ADC.
    "neurosim": dict(tile_size=128, weight_bits=8, cell_bits=4, input_bits=8, dac_bits=1,
                     adc_bits=5, _source="Peng et al., DNN+NeuroSim V2.0, 2020"),
    # The BN search's main job (docs/bn_search.md, "The main job"): NeuroSim's 128-row arrays,
    # each column read by its own 8-bit ADC per tile, 8-bit inputs in one 8-bit DAC phase, one
    # 64-level EpiRAM cell per 6-bit weight, updated by pulses (EpiRAM: 64 states,
    # nonlinearity 0.5/-0.5, 2 % cycle-to-cycle variation, on/off 50.2, from NeuroSim's device
    # table, Peng et al. 2020; Choi et al., Nature Materials 2018).
    "neurosim-epiram": dict(tile_size=128, weight_bits=6, cell_bits=6, input_bits=8, dac_bits=8,
                            adc_bits=8, update="pulsed", device="epiram",
                            _source="DNN+NeuroSim V2 arrays with its EpiRAM device (Peng et al., "
                                    "2020); the BN search's main job"),
}
