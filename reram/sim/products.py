"""The integer path's tile product, chosen by measurement: which kernel multiplies DAC digits by
cell levels on this host.

On the integer path (:func:`reram.sim.tiles.product_path` ``"int8"``) every operand is a small
non-negative integer (a DAC digit, a cell level), so several library products give the same
exact integer currents; which is fastest differs several-fold between hosts (``torch._int_mm``
goes to oneDNN's int8 GEMM where the CPU has VNNI or AMX, to a slow reference loop where it has
neither: 1.5 GOP/s against MKL's fp32 31 GOP/s on an AVX2-only AMD EPYC, measured). The
candidates, each exact only where stated:

- ``"int_mm"``: int8 operands, exact int32 sums (``torch._int_mm``); exact on the whole
  integer path;
- ``"fp32"``: float32 operands and sums (``torch.mm``); exact when every current is below
  ``2**24`` (operands are non-negative, so every partial sum is at most the final one);
- ``"bf16"``: bfloat16 operands (digits and levels up to 255 have at most 8 significant bits)
  with float32 sums (``torch.mm(..., out_dtype=torch.float32)``), exact below ``2**24``; only
  where the device's torch runs that product (not on CPU in torch 2.14).

:func:`choose_product` measures the exact candidates once per process, device and shape class
(product rows rounded up to a power of two, the tile's rows and columns, torch's thread
count), with the process's CPU time (other processes on a shared machine do not count in it;
with several threads it sums theirs, so it ranks work, not wall time), interleaved, the
median of a few repeats, and keeps the fastest. ``RERAM_PRODUCT=<name>`` in the environment or
:func:`set_product` overrides the choice (where the named product is exact; elsewhere
``int_mm``, exact everywhere on the integer path). Non-CPU devices take ``int_mm`` unless
overridden (their timing needs synchronization this module does not do).

Imports torch only; never the rest of ``reram``.
"""
from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass
from typing import Callable, Optional

import torch

__all__ = ["Product", "PRODUCTS", "multiply", "choose_product", "set_product", "product_by_name",
           "exact_products", "measure_products", "chosen_products"]

#: Currents below this are exact float32 (and bf16-operand, fp32-sum) sums.
FP32_EXACT_CURRENT = 1 << 24
#: Product rows of the measurement (at most): enough to rank the candidates, few enough that a
#: slow candidate (the reference int8 loop) costs tens of milliseconds, not seconds.
_MEASURE_ROWS = 256
_MEASURE_REPEATS = 5


@dataclass(frozen=True)
class Product:
    """One way to compute the tile's column currents ``digits @ cells``.

    Attributes:
        name: ``"int_mm"``, ``"fp32"`` or ``"bf16"``.
        operand_dtype: dtype of the digits and cells it multiplies.
        current_dtype: dtype of the currents it writes (int32, or float32 holding integers).
        max_current: the largest current it sums exactly (operands non-negative).
    """

    name: str
    operand_dtype: torch.dtype
    current_dtype: torch.dtype
    max_current: int

    def __call__(self, digits: torch.Tensor, cells: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """``digits @ cells`` into ``out`` (operands of :attr:`operand_dtype`)."""
        return multiply(digits, cells, out)


def multiply(digits: torch.Tensor, cells: torch.Tensor, out: Optional[torch.Tensor] = None
             ) -> torch.Tensor:
    """``digits @ cells`` by the product their dtype names: int8 operands give int32 sums
    (``torch._int_mm``), bfloat16 operands float32 sums, float32 operands an fp32 product.
    ``out``: where to write (int32 or float32, matching), else a new tensor."""
    if digits.dtype == torch.int8:
        return torch._int_mm(digits, cells) if out is None else torch._int_mm(digits, cells, out=out)
    if digits.dtype == torch.bfloat16:
        result = torch.mm(digits, cells, out_dtype=torch.float32)
        return result if out is None else out.copy_(result)
    return torch.mm(digits, cells) if out is None else torch.mm(digits, cells, out=out)


#: Every candidate, by name.
PRODUCTS: dict[str, Product] = {
    "int_mm": Product("int_mm", torch.int8, torch.int32, (1 << 31) - 1),
    "fp32": Product("fp32", torch.float32, torch.float32, FP32_EXACT_CURRENT - 1),
    "bf16": Product("bf16", torch.bfloat16, torch.float32, FP32_EXACT_CURRENT - 1),
}

_override: Optional[str] = None
_chosen: dict[tuple, str] = {}
#: :func:`choose_product`'s answers by its exact arguments (and the override, the thread count):
#: a read asks once per forward, and the shape-class lookup costs about 20 us.
_answers: dict[tuple, "Product"] = {}
_runs: dict[tuple[str, str], bool] = {}


def set_product(name: Optional[str]) -> None:
    """Use product ``name`` wherever it is exact (None: measure again; the environment's
    ``RERAM_PRODUCT`` is read when this is None). Clears the measured choices."""
    global _override
    if name is not None and name not in PRODUCTS:
        raise ValueError(f"product must be one of {sorted(PRODUCTS)} or None, got {name!r}")
    _override = name
    _chosen.clear()
    _answers.clear()


def product_by_name(name: str) -> Product:
    """The candidate called ``name``."""
    if name not in PRODUCTS:
        raise ValueError(f"product must be one of {sorted(PRODUCTS)}, got {name!r}")
    return PRODUCTS[name]


def _requested() -> Optional[str]:
    if _override is not None:
        return _override
    name = os.environ.get("RERAM_PRODUCT", "").strip()
    if name in ("", "auto"):
        return None
    if name not in PRODUCTS:
        raise ValueError(f"RERAM_PRODUCT must be 'auto' or one of {sorted(PRODUCTS)}, got {name!r}")
    return name


def runs_on(product: Product, device: torch.device) -> bool:
    """True when torch runs ``product`` on ``device`` (tried once on a tiny product)."""
    key = (product.name, device.type)
    if key not in _runs:
        try:
            a = torch.ones((17, 16), dtype=product.operand_dtype, device=device)
            out = torch.empty((17, 16), dtype=product.current_dtype, device=device)
            product(a, a[:16], out)
            _runs[key] = bool((out == 16).all())
        except (RuntimeError, NotImplementedError, TypeError):
            _runs[key] = False
    return _runs[key]


def exact_products(max_current: int, device: torch.device | str = "cpu") -> list[Product]:
    """The candidates that sum currents up to ``max_current`` exactly and run on ``device``."""
    device = torch.device(device)
    return [p for p in PRODUCTS.values() if max_current <= p.max_current and runs_on(p, device)]


def _bucket(rows: int) -> int:
    return 1 << max(0, (max(rows, 1) - 1).bit_length())


def choose_product(rows: int, k: int, cols: int, max_current: int,
                   device: torch.device | str = "cpu") -> Product:
    """The product for ``rows x k`` digits times ``k x cols`` cells whose currents are at most
    ``max_current``: the override where exact, else the fastest exact candidate measured on
    this shape class (once per process), ``int_mm`` off CPU."""
    requested = _requested()
    key = (rows, k, cols, max_current, device, requested, torch.get_num_threads())
    answer = _answers.get(key)
    if answer is None:
        answer = _answers[key] = _choose(rows, k, cols, max_current, torch.device(device),
                                         requested)
    return answer


def _choose(rows: int, k: int, cols: int, max_current: int, device: torch.device,
            requested: Optional[str]) -> Product:
    exact = exact_products(max_current, device)
    if requested is not None:
        match = [p for p in exact if p.name == requested]
        return match[0] if match else PRODUCTS["int_mm"]
    if device.type != "cpu" or len(exact) == 1:
        return PRODUCTS["int_mm"]
    key = (device.type, _bucket(rows), k, cols, tuple(p.name for p in exact),
           torch.get_num_threads())
    if key not in _chosen:
        times = measure_products(min(_bucket(rows), _MEASURE_ROWS), k, cols, exact)
        _chosen[key] = min(times, key=times.get)
    return PRODUCTS[_chosen[key]]


def chosen_products() -> dict[str, str]:
    """The measured choices of this process: ``"rows<=R k=K cols=C" -> product name``."""
    return {f"rows<={key[1]} k={key[2]} cols={key[3]}": name for key, name in _chosen.items()}


def _operands(rows: int, k: int, cols: int, dtype: torch.dtype
              ) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    digits = torch.randint(0, 128, (rows, k), generator=gen, dtype=torch.int32)
    cells = torch.randint(0, 128, (k, cols), generator=gen, dtype=torch.int32)
    return digits.to(dtype), cells.to(dtype)


def measure_products(rows: int, k: int, cols: int, candidates: Optional[list[Product]] = None,
                     repeats: int = _MEASURE_REPEATS) -> dict[str, float]:
    """Seconds of CPU time per ``rows x k`` by ``k x cols`` product, per candidate (median of
    ``repeats``, interleaved; a candidate over 4x the fastest after the first round is timed
    once). ``candidates``: default every one that runs on CPU."""
    candidates = candidates if candidates is not None else [
        p for p in PRODUCTS.values() if runs_on(p, torch.device("cpu"))]
    calls: dict[str, Callable[[], object]] = {}
    for p in candidates:
        digits, cells = _operands(rows, k, cols, p.operand_dtype)
        out = torch.empty((rows, cols), dtype=p.current_dtype)
        calls[p.name] = (lambda p=p, d=digits, c=cells, o=out: p(d, c, o))
        calls[p.name]()  # warm-up: primitive creation, first-touch
    times: dict[str, list[float]] = {name: [] for name in calls}
    for rep in range(repeats):
        best = min(min(t) for t in times.values()) if rep else None
        for name, call in calls.items():
            if rep and min(times[name]) > 4 * best:
                continue
            start = time.process_time()
            call()
            times[name].append(time.process_time() - start)
    return {name: statistics.median(t) for name, t in times.items()}
