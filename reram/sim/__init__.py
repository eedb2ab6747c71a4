"""The functional simulation of ReRAM crossbars: what a converted model computes.

- :mod:`~reram.sim.mapping`: programming a weight onto cells (quantization, bit slicing,
  defects) and the ADC parameters of a tile.
- :mod:`~reram.sim.devices`: pulsed ReRAM device models (``update="pulsed"``) and their presets.
- :mod:`~reram.sim.backends`: the arithmetic of the chain, one backend per device kind (numba
  on CPU, torch elsewhere), chosen once.
- :mod:`~reram.sim.tiles`: the product path of a layer (plain / int8 / fp32) and the tile engine
  (DAC streaming, integer or fp32 tile products, ADC and shift-add).
- :mod:`~reram.sim.functional`: the forward pass and the (ideal or analog) backward pass as
  autograd functions.
- :mod:`~reram.sim.layers`: the drop-in :class:`CrossbarLinear` / :class:`CrossbarConv2d`.
- :mod:`~reram.sim.convert`: swapping the layers of an existing model.

Imports :mod:`reram.config` and :mod:`reram.kernels`; never the cost model (:mod:`reram.cost`),
the applications (:mod:`reram.apps`), the model zoo or the search.
"""
from __future__ import annotations

from reram.sim.convert import (ConversionSummary, UnconvertedLayerWarning, convert,
                               convert_to_float, summarize)
from reram.sim.devices import DEVICE_PRESETS, DeviceModel
from reram.sim.layers import CrossbarConv2d, CrossbarLayer, CrossbarLinear, default_config

__all__ = ["CrossbarLinear", "CrossbarConv2d", "CrossbarLayer", "default_config", "convert",
           "convert_to_float", "summarize", "ConversionSummary", "UnconvertedLayerWarning",
           "DeviceModel", "DEVICE_PRESETS"]
