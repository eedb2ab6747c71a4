"""Analog synaptic device models for ``update="pulsed"``: presets and the pulsed update.

Holds :class:`DeviceModel` (a frozen dataclass: levels, LTP/LTD nonlinearity, cycle-to-cycle and
device-to-device variation, on/off ratio, each preset figure with its source), the presets of
NeuroSim's device table (:data:`DEVICE_PRESETS`, names in :data:`reram.config.DEVICE_NAMES`),
and the update a crossbar layer applies: the pulses the hardware would fire to move each device
toward the weight the optimizer asks for (numba on CPU via :mod:`reram.kernels.pulsed`, its
torch twin elsewhere). Imports ``reram.config`` and ``reram.kernels`` only.

The conductance-vs-pulse curve is NeuroSim's (see :mod:`reram.kernels.pulsed`):
``y(P) = (1 - exp(-P/(a N))) / (1 - exp(-1/a))`` with ``y`` the normalized conductance
``(g - g_min) / (g_max - g_min)``, ``N`` the pulses of a full sweep and ``a = A / N`` the
normalized nonlinearity. NeuroSim labels nonlinearity by a number ``NL`` (0 linear, sign for the
curve's direction) and maps it to ``a`` with a lookup table (``GetParamA`` in
neurosim/DNN_NeuroSim_V2.1 ``Training_pytorch/utee/wage_quantizer.py``, the same table as its
``Documents/Nonlinearity-NormA.htm``); the ``a`` of each preset below is that table's entry.

A weight ``w`` in ``[-s_w, s_w]`` is one device against a fixed mid-range reference:
``w = s_w * (2 y - 1)`` (NeuroSim's ``[-1, 1]`` weight range mapped linearly onto
``[g_min, g_max]``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Optional

import numpy as np
import torch

from reram.config import DEVICE_NAMES, CrossbarConfig
from reram.kernels.pulsed import apply_pulses

__all__ = ["DeviceModel", "DEVICE_PRESETS", "get_device", "device_levels", "apply_pulses_torch",
           "draw_device_nonlinearity", "initial_state", "pulsed_update", "state_to_weight"]


def _doc(text: str) -> dict:
    return {"doc": text}


@dataclass(frozen=True)
class DeviceModel:
    """An analog synaptic device as the pulsed update sees it (NeuroSim's device model)."""

    name: str = field(metadata=_doc("Preset name (see DEVICE_PRESETS)."))
    levels_ltp: Optional[int] = field(metadata=_doc(
        "Pulses (conductance steps) from g_min to g_max under potentiation (LTP). None: "
        "2**weight_bits - 2, the conductance grid of update='nearest' at the config's precision."))
    levels_ltd: Optional[int] = field(metadata=_doc(
        "Pulses from g_max to g_min under depression (LTD). None: as levels_ltp."))
    nl_ltp: float = field(metadata=_doc(
        "NeuroSim's nonlinearity label of the LTP curve (0: linear; dimensionless)."))
    nl_ltd: float = field(metadata=_doc(
        "NeuroSim's nonlinearity label of the LTD curve (negative: the mirrored curve, "
        "conductance falls fastest right after g_max)."))
    a_ltp: float = field(metadata=_doc(
        "Normalized nonlinearity A/N of the LTP curve for nl_ltp (NeuroSim's NL-to-A table); "
        "inf: linear."))
    a_ltd: float = field(metadata=_doc("Normalized nonlinearity A/N of the LTD curve; inf: linear."))
    c2c: float = field(metadata=_doc(
        "Cycle-to-cycle variation: standard deviation of the conductance change of one pulse, "
        "as a fraction of g_max - g_min (n pulses: sqrt(n) times it)."))
    on_off: float = field(metadata=_doc("On/off ratio g_max / g_min (dimensionless)."))
    d2d: float = field(default=0.0, metadata=_doc(
        "Device-to-device variation of the curve: each device's A is multiplied by "
        "exp(d2d * N(0,1)), drawn once per chip from the layer seed (NeuroSim perturbs the NL "
        "label instead). 0: identical devices."))
    source: str = field(default="", metadata=_doc("Where the figures come from."))

    def __post_init__(self) -> None:
        for name in ("levels_ltp", "levels_ltd"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise ValueError(f"{name} must be None or a positive integer, got {v!r}")
        for name in ("a_ltp", "a_ltd"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or math.isnan(v) or v == 0:
                raise ValueError(f"{name} must be a nonzero number (inf: linear), got {v!r}")
        for name in ("c2c", "d2d"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ValueError(f"{name} must be a non-negative number, got {v!r}")
        if not isinstance(self.on_off, (int, float)) or not self.on_off > 1:
            raise ValueError(f"on_off must be a number above 1, got {self.on_off!r}")

    def levels(self, config: CrossbarConfig) -> tuple[int, int]:
        """``(levels_ltp, levels_ltd)`` for a config (None levels come from ``weight_bits``)."""
        return device_levels(self, config)

    def conductance_ltp(self, pulses, config: CrossbarConfig) -> np.ndarray:
        """Closed-form normalized conductance after ``pulses`` LTP pulses from ``g_min``."""
        n, _ = self.levels(config)
        return _curve_np(np.asarray(pulses, dtype=np.float64), self.a_ltp, n)

    def conductance_ltd(self, pulses, config: CrossbarConfig) -> np.ndarray:
        """Closed-form normalized conductance after ``pulses`` LTD pulses from ``g_max``."""
        _, n = self.levels(config)
        return _curve_np(n - np.asarray(pulses, dtype=np.float64), self.a_ltd, n)

    def describe(self) -> str:
        """One line with every figure."""
        return ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.name != "source")


def _curve_np(p: np.ndarray, a: float, n: int) -> np.ndarray:
    p = np.clip(p, 0, n)
    if math.isinf(a):
        return p / n
    return (1.0 - np.exp(-p / (a * n))) / (1.0 - math.exp(-1.0 / a))


_NEUROSIM_TCAD = ("P.-Y. Chen, X. Peng, S. Yu, 'NeuroSim: A circuit-level macro model for benchmarking "
                  "neuro-inspired architectures in online learning', IEEE TCAD 37(12), 2018, Table I "
                  "(conductance states, nonlinearity, on/off ratio, cycle-to-cycle variation)")
_NEUROSIM_BENCH = ("NeuroSim's device benchmark (P.-Y. Chen, S. Yu, 'Technological benchmark of analog "
                   "synaptic devices for neuro-inspired architectures', IEEE Design & Test 2019), as "
                   "tabulated in Chowdhury et al., MELISO, ICONS 2024, Table I (states, on/off, NL, C2C)")

#: NeuroSim's published analog synaptic devices plus the ideal linear symmetric device. Normalized
#: A values are the entries of NeuroSim's NL-to-A table (wage_quantizer.GetParamA, index
#: int(|NL|*100)-1) for each NL label.
DEVICE_PRESETS: dict[str, DeviceModel] = {
    "linear": DeviceModel(
        name="linear", levels_ltp=None, levels_ltd=None, nl_ltp=0.0, nl_ltd=0.0,
        a_ltp=math.inf, a_ltd=math.inf, c2c=0.0, on_off=100.0,
        source="ideal: linear and symmetric, 2**weight_bits - 2 pulses per sweep, no variation "
               "(equals update='nearest' on the same grid)"),
    # Ag:a-Si (Jo et al., Nano Lett. 2010). TCAD 2018 Table I: 97 states, NL 2.4/-4.88, on/off
    # 12.5, C2C 3.5 %; neurosim/MLP_NeuroSim_V3.0 Cell.cpp RealDevice: 97 LTP / 100 LTD levels,
    # g 3.0769e-9..3.8462e-8 S, sigmaCtoC 0.035 of the conductance range.
    "ag-a-si": DeviceModel(
        name="ag-a-si", levels_ltp=97, levels_ltd=100, nl_ltp=2.4, nl_ltd=-4.88,
        a_ltp=0.499181, a_ltd=-0.200303, c2c=0.035, on_off=12.5,
        source=_NEUROSIM_TCAD + "; LTD levels from neurosim/MLP_NeuroSim_V3.0 Cell.cpp"),
    # TaOx/HfOx (Wu et al., VLSI 2017): 128 states, NL 0.04/-0.63, on/off 10, C2C 3.7 %.
    "taox-hfox": DeviceModel(
        name="taox-hfox", levels_ltp=128, levels_ltd=128, nl_ltp=0.04, nl_ltd=-0.63,
        a_ltp=31.566827, a_ltd=-1.997332, c2c=0.037, on_off=10.0, source=_NEUROSIM_BENCH),
    # AlOx/HfO2 (Woo et al., EDL 2016): 40 states, NL 1.94/-0.61, on/off 4.43, C2C 5 % (both tables).
    "alox-hfo2": DeviceModel(
        name="alox-hfo2", levels_ltp=40, levels_ltd=40, nl_ltp=1.94, nl_ltd=-0.61,
        a_ltp=0.629249, a_ltd=-2.063266, c2c=0.05, on_off=4.43, source=_NEUROSIM_TCAD),
    # EpiRAM (Choi et al., Nature Materials 2018): 64 states, NL 0.5/-0.5, on/off 50.2, C2C 2 %.
    "epiram": DeviceModel(
        name="epiram", levels_ltp=64, levels_ltd=64, nl_ltp=0.5, nl_ltd=-0.5,
        a_ltp=2.519877, a_ltd=-2.519877, c2c=0.02, on_off=50.2, source=_NEUROSIM_BENCH),
    # PCMO (Park et al., IEDM 2013): TCAD 2018 Table I: 50 states, NL 3.68/-6.76, on/off 6.84,
    # C2C "< 1 %" (1 % used, the bound).
    "pcmo": DeviceModel(
        name="pcmo", levels_ltp=50, levels_ltd=50, nl_ltp=3.68, nl_ltd=-6.76,
        a_ltp=0.300644, a_ltd=-0.100251, c2c=0.01, on_off=6.84, source=_NEUROSIM_TCAD),
}


def get_device(name: str) -> DeviceModel:
    """The preset called ``name``.

    Raises:
        ValueError: if ``name`` is not a preset.
    """
    if name not in DEVICE_PRESETS:
        raise ValueError(f"device must be one of {list(DEVICE_PRESETS)}, got {name!r}")
    return DEVICE_PRESETS[name]


def device_levels(device: DeviceModel, config: CrossbarConfig) -> tuple[int, int]:
    """Pulses per full sweep ``(LTP, LTD)``; ``None`` levels take ``2**weight_bits - 2``.

    Raises:
        ValueError: if the device needs ``weight_bits`` and the config has none.
    """
    grid = None
    if device.levels_ltp is None or device.levels_ltd is None:
        if config.weight_bits is None:
            raise ValueError(f"device {device.name!r} takes its levels from weight_bits, "
                             "which must then be an integer, got None")
        grid = (1 << config.weight_bits) - 2
    ltp = device.levels_ltp if device.levels_ltp is not None else grid
    ltd = device.levels_ltd if device.levels_ltd is not None else ltp
    return int(ltp), int(ltd)


def draw_device_nonlinearity(device: DeviceModel, shape: tuple[int, ...], seed: int
                             ) -> Optional[np.ndarray]:
    """Per-device normalized A, ``2 x shape`` (LTP, LTD) float32, drawn once per chip from
    ``seed``; None when the device has no device-to-device variation."""
    if device.d2d <= 0:
        return None
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xD2D]))
    factor = np.exp(device.d2d * rng.standard_normal((2, *shape)))
    base = np.array([device.a_ltp, device.a_ltd]).reshape(2, *([1] * len(shape)))
    return (base * factor).astype(np.float32)


def state_to_weight(state: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Weights ``s_w * (2 y - 1)`` of an ``out x K`` state with per-row scale ``s_w``."""
    return scale.to(state.device, torch.float32)[:, None] * (2.0 * state - 1.0)


def _weight_to_state(w2d: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    s = scale.to(w2d.device, torch.float32)[:, None]
    safe = torch.where(s > 0, s, torch.ones_like(s))
    return ((w2d.detach().float() / safe + 1.0) * 0.5).contiguous()


def initial_state(w2d: torch.Tensor, scale: torch.Tensor, device: DeviceModel,
                  config: CrossbarConfig) -> torch.Tensor:
    """Program the weights onto the devices (write-verify at construction): each device is set
    to the state of its LTP curve nearest to ``w``; returns the ``out x K`` float32 state."""
    levels, _ = device_levels(device, config)
    y = _weight_to_state(w2d, scale).clamp_(0.0, 1.0).double()
    if math.isinf(device.a_ltp):
        p = torch.round(y * levels)
        state = p / levels
    else:
        a = device.a_ltp
        p = torch.round(-a * levels * torch.log1p(-y * (1.0 - math.exp(-1.0 / a))))
        p = p.clamp_(0, levels)
        state = (1.0 - torch.exp(-p / (a * levels))) / (1.0 - math.exp(-1.0 / a))
    return state.float().clamp_(0.0, 1.0).contiguous()


def apply_pulses_torch(state: torch.Tensor, target: torch.Tensor, a_ltp, a_ltd, levels_ltp: int,
                       levels_ltd: int, c2c: float = 0.0, noise: Optional[torch.Tensor] = None
                       ) -> torch.Tensor:
    """Torch twin of :func:`reram.kernels.pulsed.apply_pulses` (any device); updates ``state``
    in place and returns the pulses fired (int64)."""
    y = state.double()
    d = target.double() - y
    up = d > 0
    a_ltp = torch.as_tensor(a_ltp, dtype=torch.float64, device=state.device)
    a_ltd = torch.as_tensor(a_ltd, dtype=torch.float64, device=state.device)
    a = torch.where(up, a_ltp.reshape(a_ltp.shape if a_ltp.numel() > 1 else ()).expand_as(y),
                    a_ltd.reshape(a_ltd.shape if a_ltd.numel() > 1 else ()).expand_as(y))
    levels = torch.where(up, torch.tensor(float(levels_ltp), dtype=torch.float64, device=y.device),
                         torch.tensor(float(levels_ltd), dtype=torch.float64, device=y.device))
    nan = torch.isnan(d)
    n = torch.round(torch.clamp(torch.nan_to_num(d) * levels, -2 * levels, 2 * levels))
    linear = torch.isinf(a)
    safe_a = torch.where(linear, torch.ones_like(a), a)
    k = 1.0 - torch.exp(-1.0 / safe_a)
    p = torch.where(linear, y * levels, -safe_a * levels * torch.log(1.0 - y * k)) + n
    p = torch.minimum(torch.clamp(p, min=0.0), levels)
    new = torch.where(linear, p / levels, (1.0 - torch.exp(-p / (safe_a * levels))) / k)
    if c2c > 0 and noise is not None:
        new = new + c2c * torch.sqrt(n.abs()) * noise.to(new.device, torch.float64)
    new = new.clamp(0.0, 1.0)
    moved = (n != 0) & ~nan
    state.copy_(torch.where(moved, new, y).to(state.dtype))
    return torch.where(nan, torch.zeros_like(n), n).long()


def pulsed_update(state: torch.Tensor, w2d: torch.Tensor, scale: torch.Tensor, device: DeviceModel,
                  config: CrossbarConfig, a_device: Optional[torch.Tensor], update_index: int
                  ) -> torch.Tensor:
    """Fire the pulses that move the devices toward the weights ``w2d`` the optimizer proposes.

    Args:
        state: the ``out x K`` float32 normalized conductances (updated in place).
        w2d: the proposed ``out x K`` weights.
        scale: per-row weight scale ``s_w`` (the ``[-s_w, s_w]`` range of the devices).
        device: the device model.
        config: the layer's config (seed; ``weight_bits`` for the linear device's levels).
        a_device: ``2 x out x K`` per-device normalized A (device-to-device variation) or None.
        update_index: the layer's update counter; with the seed it seeds this update's
            cycle-to-cycle noise, so a resumed run draws the same noise.

    Returns:
        The int64 pulses fired per device (positive: LTP).
    """
    levels_ltp, levels_ltd = device_levels(device, config)
    target = _weight_to_state(w2d, scale)
    noise = None
    if device.c2c > 0:
        rng = np.random.default_rng(np.random.SeedSequence([config.seed, update_index, 0xC2C]))
        noise = rng.standard_normal(tuple(state.shape), dtype=np.float32)
    if a_device is None:
        a_ltp, a_ltd = np.array([device.a_ltp]), np.array([device.a_ltd])
    else:
        a_ltp, a_ltd = a_device[0], a_device[1]
    if state.device.type == "cpu":
        if a_device is not None:
            a_ltp, a_ltd = a_ltp.numpy(), a_ltd.numpy()
        pulses = apply_pulses(state.numpy(), target.numpy(), a_ltp, a_ltd, levels_ltp, levels_ltd,
                              device.c2c, noise)
        return torch.from_numpy(pulses)
    noise_t = None if noise is None else torch.from_numpy(noise)
    return apply_pulses_torch(state, target, a_ltp if a_device is not None else float(device.a_ltp),
                              a_ltd if a_device is not None else float(device.a_ltd),
                              levels_ltp, levels_ltd, device.c2c, noise_t)
