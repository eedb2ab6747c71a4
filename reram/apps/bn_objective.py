"""The BN-search objective: a 0/1 mask over a model's BatchNorm sites -> a number to minimize.

:class:`BNObjective` trains the model with the BN layers of the mask kept (1) or removed (0),
on simulated crossbars (``reram.convert`` with a low-precision config), and reads off the test
accuracy; the estimated training speed of the heterogeneous ReRAM + GPU chip for that mask comes
from ``reram.cost.scheduler.schedule`` (training mode, ISAAC-like hardware by default). Each mask is
trained once: results are cached in memory and, with ``cache_dir``, on disk (one JSON file per
mask, written atomically), which lets process-pool / Ray workers, a resumed search and the CLI
share them.

Three ways to turn an evaluation into the value ``minimize_binary`` minimizes (``mode``):

* ``"scalarized"``: ``-accuracy + lam * n_bn / P``.
* ``"constrained"``: the fewest BN layers with ``accuracy >= reference - epsilon``, where the
  reference is the all-BN accuracy (evaluated first), and among those the most accurate. As a
  penalty objective: a feasible mask scores ``(n_bn - margin / 2) / P`` (in ``[0, 1]``; ``margin``
  = how far its accuracy clears the bar, a fraction, so fewer BN always wins and accuracy breaks
  ties), an infeasible one ``1 + 10 * shortfall`` (the accuracy it lacks), so every feasible mask
  beats every infeasible one and among infeasible masks the closer one wins.
* ``"pareto"``: accuracy against BN count (``pareto_metric="n_bn"``) or against the estimated
  speedup (``"speedup"``). Both are recorded per evaluation and :func:`pareto_front` reports the
  non-dominated set. The search itself minimizes one scalarization,
  ``-accuracy + lam * n_bn / P`` or ``-accuracy - lam * speedup / speedup_no_bn``; this is not
  a multi-objective BO (no qNEHVI): the front is the non-dominated subset of what the search
  evaluated.

:class:`LookupBNObjective` scores masks from a stored table of evaluations (the exhaustive
ground truth), with the same modes, so optimizers can be compared on it for free.

This module imports torch and ``reram.models`` only inside the functions that train.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from reram.io import atomic_write_json

__all__ = [
    "BN_OBJECTIVE_MODES",
    "PARETO_METRICS",
    "DEFAULT_CROSSBAR",
    "MaskEvaluation",
    "BNObjective",
    "LookupBNObjective",
    "objective_value",
    "pareto_front",
    "mask_bits",
]

#: Values of ``mode``.
BN_OBJECTIVE_MODES = ("scalarized", "constrained", "pareto")
#: Second objective of ``mode="pareto"`` (the first is accuracy).
PARETO_METRICS = ("n_bn", "speedup")

#: The default crossbar: 4-bit weights on the conductance grid with the hardware's nearest-level
#: update (updates under half a level vanish), 8-bit inputs, ideal ADC and no tiling, so the
#: weight precision and update rule are the variables (as in benchmarks/bench_bn_phenomenon.py).
DEFAULT_CROSSBAR: dict[str, Any] = {
    "weight_bits": 4, "update": "nearest", "input_bits": 8, "adc_bits": None,
    "tile_size": None, "cell_bits": None, "dac_bits": None,
}

#: Penalty slope of an infeasible mask in ``mode="constrained"`` (per unit of accuracy).
CONSTRAINT_PENALTY = 10.0


def mask_bits(mask: Any, num_sites: int) -> str:
    """Check a 0/1 mask and return it as a bit string.

    Args:
        mask: a `num_sites`-vector of 0/1 (array, list, tuple) or a bit string.
        num_sites: the number of BN sites `P`.

    Returns:
        The mask as a string of `P` characters ``"0"``/``"1"``.

    Raises:
        ValueError: if the length is not `P` or a value is not 0/1.
    """
    if isinstance(mask, str):
        values = [c for c in mask.strip() if c not in " _,"]
        if any(c not in "01" for c in values):
            raise ValueError(f"mask must hold only 0 and 1, got {mask!r}")
        bits = "".join(values)
    else:
        arr = np.asarray(mask)
        if arr.ndim != 1:
            raise ValueError(f"mask must be 1-D, got shape {arr.shape}")
        if arr.size and not np.all((arr == 0) | (arr == 1)):
            raise ValueError(f"mask must hold only 0 and 1, got {arr.tolist()}")
        bits = "".join("1" if v else "0" for v in arr.tolist())
    if len(bits) != num_sites:
        raise ValueError(f"mask must have length {num_sites} (one bit per BN site), got {len(bits)}")
    return bits


@dataclass
class MaskEvaluation:
    """One trained mask.

    Attributes:
        mask: the mask as a bit string, one character per BN site, ``"1"`` = BN kept.
        n_bn: BN layers kept.
        num_sites: BN sites of the model (`P`).
        accuracy: test accuracy after the last epoch, a fraction (0 when training diverged).
        train_accuracy: training accuracy of the last epoch.
        best_accuracy: best test accuracy over the epochs.
        speedup: estimated training speedup of the ReRAM + GPU chip over the GPU alone for
            this mask (``Plan.speedup_vs_gpu``), ``None`` if the scheduler could not cost it.
        throughput: estimated training samples/s of the chip, ``None`` likewise.
        train_time_s: seconds of training and evaluation.
        history: per-epoch test accuracy.
        diverged: whether the loss became non-finite.
    """

    mask: str
    n_bn: int
    num_sites: int
    accuracy: float
    train_accuracy: float = float("nan")
    best_accuracy: float = float("nan")
    speedup: float | None = None
    throughput: float | None = None
    train_time_s: float = 0.0
    history: list[float] = field(default_factory=list)
    diverged: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable dict (NaN becomes ``None``)."""
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MaskEvaluation:
        """Inverse of :meth:`to_dict`."""
        def num(key: str) -> float:
            value = data.get(key)
            return float("nan") if value is None else float(value)

        return cls(
            mask=str(data["mask"]), n_bn=int(data["n_bn"]), num_sites=int(data["num_sites"]),
            accuracy=float(data["accuracy"]), train_accuracy=num("train_accuracy"),
            best_accuracy=num("best_accuracy"),
            speedup=None if data.get("speedup") is None else float(data["speedup"]),
            throughput=None if data.get("throughput") is None else float(data["throughput"]),
            train_time_s=float(data.get("train_time_s", 0.0)),
            history=[float("nan") if v is None else float(v) for v in data.get("history", [])],
            diverged=bool(data.get("diverged", False)),
        )


def _check_number(name: str, value: Any, low: float = 0.0, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(float(value)) or not low <= float(value) <= high:
        bound = f">= {low}" if high == math.inf else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be a number {bound}, got {value!r}")
    return float(value)


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _check_mode(mode: str, pareto_metric: str) -> None:
    if mode not in BN_OBJECTIVE_MODES:
        raise ValueError(f"mode must be one of {', '.join(BN_OBJECTIVE_MODES)}; got {mode!r}")
    if pareto_metric not in PARETO_METRICS:
        raise ValueError(f"pareto_metric must be one of {', '.join(PARETO_METRICS)}; got {pareto_metric!r}")


def objective_value(
    evaluation: MaskEvaluation,
    mode: str = "scalarized",
    lam: float = 0.1,
    epsilon: float = 0.01,
    reference_accuracy: float | None = None,
    pareto_metric: str = "n_bn",
    speedup_scale: float | None = None,
) -> float:
    """The value to minimize for one evaluation (see the module docstring for the modes).

    Args:
        evaluation: the trained mask.
        mode: ``"scalarized"``, ``"constrained"`` or ``"pareto"``.
        lam: weight of the BN count (or speedup) against accuracy.
        epsilon: accuracy (a fraction) the constrained mode may lose against the reference.
        reference_accuracy: the all-BN accuracy, required for ``"constrained"``.
        pareto_metric: ``"n_bn"`` or ``"speedup"`` for ``"pareto"``.
        speedup_scale: the speedup that counts as 1 for ``pareto_metric="speedup"`` (the no-BN
            mask's); required there.

    Returns:
        A finite float; lower is better.
    """
    frac = evaluation.n_bn / max(evaluation.num_sites, 1)
    if mode == "scalarized" or (mode == "pareto" and pareto_metric == "n_bn"):
        return -evaluation.accuracy + lam * frac
    if mode == "pareto":
        if evaluation.speedup is None or not speedup_scale:
            raise ValueError("pareto_metric='speedup' needs the scheduler's speedup of every mask")
        return -evaluation.accuracy - lam * evaluation.speedup / speedup_scale
    if mode == "constrained":
        if reference_accuracy is None:
            raise ValueError("mode='constrained' needs reference_accuracy (the all-BN accuracy)")
        margin = evaluation.accuracy - (reference_accuracy - epsilon)
        if margin >= -1e-12:  # feasible: fewest BN first, then the most accurate
            return (evaluation.n_bn - 0.5 * min(max(margin, 0.0), 1.0)) / max(evaluation.num_sites, 1)
        return 1.0 + CONSTRAINT_PENALTY * -margin
    raise ValueError(f"mode must be one of {', '.join(BN_OBJECTIVE_MODES)}; got {mode!r}")


def pareto_front(evaluations: Iterable[MaskEvaluation], metric: str = "n_bn") -> list[MaskEvaluation]:
    """The non-dominated evaluations: highest accuracy against fewest BN or highest speedup.

    Args:
        evaluations: trained masks (duplicates by mask are counted once).
        metric: ``"n_bn"`` (minimized) or ``"speedup"`` (maximized; masks without one are
            left out).

    Returns:
        The non-dominated evaluations, sorted by the second metric (fewest BN / highest speedup
        first).
    """
    if metric not in PARETO_METRICS:
        raise ValueError(f"metric must be one of {', '.join(PARETO_METRICS)}; got {metric!r}")
    unique: dict[str, MaskEvaluation] = {}
    for ev in evaluations:
        if metric == "speedup" and ev.speedup is None:
            continue
        unique.setdefault(ev.mask, ev)
    points = list(unique.values())

    def cost(ev: MaskEvaluation) -> tuple[float, float]:
        second = float(ev.n_bn) if metric == "n_bn" else -float(ev.speedup)  # type: ignore[arg-type]
        return -ev.accuracy, second

    front = []
    for ev in points:
        a = cost(ev)
        dominated = any(
            (b[0] <= a[0] and b[1] <= a[1]) and (b[0] < a[0] or b[1] < a[1])
            for b in (cost(o) for o in points if o is not ev)
        )
        if not dominated:
            front.append(ev)
    return sorted(front, key=lambda ev: (cost(ev)[1], cost(ev)[0], ev.mask))


class _ModeMixin:
    """Shared scoring of :class:`BNObjective` and :class:`LookupBNObjective`."""

    mode: str
    lam: float
    epsilon: float
    reference_accuracy: float | None
    pareto_metric: str
    speedup_scale: float | None
    num_sites: int

    def evaluate(self, mask: Any) -> MaskEvaluation:  # pragma: no cover - overridden
        raise NotImplementedError

    def value(self, evaluation: MaskEvaluation) -> float:
        """The value minimized for an evaluation, in this objective's mode."""
        reference = self.reference_accuracy
        if self.mode == "constrained" and reference is None:
            reference = self.evaluate(np.ones(self.num_sites, dtype=np.int64)).accuracy
            self.reference_accuracy = reference
        scale = self.speedup_scale
        if self.mode == "pareto" and self.pareto_metric == "speedup" and scale is None:
            scale = self.evaluate(np.zeros(self.num_sites, dtype=np.int64)).speedup
            self.speedup_scale = scale
        return objective_value(evaluation, self.mode, self.lam, self.epsilon, reference,
                               self.pareto_metric, scale)

    def __call__(self, x: np.ndarray) -> float:
        """Evaluate a mask (a `P`-array of 0/1) and return the value to minimize."""
        return self.value(self.evaluate(x))


class BNObjective(_ModeMixin):
    """Train a model with a BN mask on simulated crossbars; score accuracy against BN count.

    Picklable (a process-pool or Ray worker gets a copy without the loaded data, and reloads
    it on first use). Everything is validated at construction, before any training.

    Args:
        model: a name of ``reram.models.MODEL_NAMES`` (``"vgg-digits"`` for the bundled digits).
        dataset: ``"digits"`` (bundled), ``"cifar10"``, ``"mnist"`` or ``"fashion-mnist"``.
        data_dir: where CIFAR-10 / MNIST lie (required for them).
        config: the crossbar: ``"float"``, a preset name, a JSON file/string, a dict of
            ``CrossbarConfig`` fields or a ``CrossbarConfig`` (see
            ``reram.models.train.resolve_crossbar_config``); default :data:`DEFAULT_CROSSBAR`.
        epochs: training epochs per mask.
        batch_size: training batch size (also the batch the scheduler costs).
        lr: SGD learning rate (cosine schedule, momentum 0.9).
        seed: training seed (initialization, shuffling); the digits split is always seed 0.
        mode: ``"scalarized"``, ``"constrained"`` or ``"pareto"``.
        lam: weight of the BN count (or speedup) in the scalarization.
        epsilon: accuracy loss allowed by ``"constrained"`` (a fraction, e.g. 0.01 = 1 point).
        reference_accuracy: the all-BN accuracy for ``"constrained"``; ``None`` = train the
            all-BN mask the first time it is needed.
        pareto_metric: ``"n_bn"`` or ``"speedup"`` (``mode="pareto"``).
        hardware: hardware of the speedup estimate (``"isaac"``, ``"puma"`` or a JSON path).
        max_train: train on the first `max_train` images only.
        max_test: test on the first `max_test` images only.
        cache_dir: folder for the per-mask result files (shared by workers and resumed runs);
            ``None`` = memory only.
        device: ``"cpu"``, ``"cuda"``, ...; ``None`` = CUDA when available.
        torch_threads: ``torch.set_num_threads`` before training; ``None`` = leave it.

    Example:
        >>> obj = BNObjective(epochs=1, max_train=200)
        >>> value = obj(np.array([1, 0, 0, 0, 0, 1]))
        >>> ev = obj.evaluate("100001"); ev.accuracy, ev.n_bn
    """

    def __init__(
        self,
        model: str = "vgg-digits",
        dataset: str = "digits",
        data_dir: str | os.PathLike[str] | None = None,
        config: Any = None,
        epochs: int = 4,
        batch_size: int = 64,
        lr: float = 0.05,
        seed: int = 0,
        mode: str = "scalarized",
        lam: float = 0.1,
        epsilon: float = 0.01,
        reference_accuracy: float | None = None,
        pareto_metric: str = "n_bn",
        hardware: str = "isaac",
        max_train: int | None = None,
        max_test: int | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        device: str | None = None,
        torch_threads: int | None = None,
    ) -> None:
        from reram.models.data import DATASET_NAMES
        from reram.models.registry import canonical_model_name, num_bn_sites
        from reram.models.train import TrainConfig, resolve_crossbar_config

        self.model = canonical_model_name(model)
        key = str(dataset).strip().lower().replace("_", "-")
        key = "cifar10" if key in ("cifar-10", "cifar") else key
        if key not in DATASET_NAMES:
            raise ValueError(f"dataset must be one of {', '.join(DATASET_NAMES)}; got {dataset!r}")
        self.dataset = key
        if key != "digits":
            if data_dir is None:
                raise ValueError(f"data_dir is required for dataset {key} (the folder holding its files)")
            if not Path(data_dir).expanduser().is_dir():
                raise ValueError(f"data_dir {str(data_dir)!r} is not a folder")
        self.data_dir = None if data_dir is None else str(Path(data_dir).expanduser().resolve())
        crossbar = resolve_crossbar_config(DEFAULT_CROSSBAR if config is None else config)
        self.config: dict[str, Any] | str = "float" if crossbar is None else crossbar.to_dict()
        TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed).validate()
        self.epochs, self.batch_size, self.lr, self.seed = int(epochs), int(batch_size), float(lr), int(seed)
        _check_mode(mode, pareto_metric)
        self.mode, self.pareto_metric = mode, pareto_metric
        self.lam = _check_number("lam", lam)
        self.epsilon = _check_number("epsilon", epsilon, 0.0, 1.0)
        self.reference_accuracy = (None if reference_accuracy is None
                                   else _check_number("reference_accuracy", reference_accuracy, 0.0, 1.0))
        self.speedup_scale: float | None = None
        from reram.cost.hardware import load_hardware

        try:
            load_hardware(hardware)
        except (ValueError, KeyError, FileNotFoundError, OSError) as exc:
            raise ValueError(f"hardware {hardware!r} cannot be loaded: {' '.join(str(exc).split())}") from None
        self.hardware = str(hardware)
        self.max_train = None if max_train is None else _check_int("max_train", max_train, 1)
        self.max_test = None if max_test is None else _check_int("max_test", max_test, 1)
        self.cache_dir = None if cache_dir is None else str(Path(cache_dir))
        if device is not None:
            from reram.device import resolve_device

            resolve_device(device)
        self.device = device
        self.torch_threads = None if torch_threads is None else _check_int("torch_threads", torch_threads, 1)
        self.num_sites = num_bn_sites(self.model)
        if self.num_sites < 1:
            raise ValueError(f"model {self.model} has no BatchNorm layer to search over")
        self._cache: dict[str, MaskEvaluation] = {}
        self._data: Any = None

    # ---- identity, pickling -------------------------------------------------------------
    def fingerprint(self) -> dict[str, Any]:
        """Everything that determines a mask's result (the cache key of its files)."""
        return {
            "model": self.model, "dataset": self.dataset, "data_dir": self.data_dir,
            "config": self.config, "epochs": self.epochs, "batch_size": self.batch_size,
            "lr": self.lr, "seed": self.seed, "hardware": self.hardware,
            "max_train": self.max_train, "max_test": self.max_test,
        }

    def fingerprint_hash(self) -> str:
        """A short hash of :meth:`fingerprint` (names the cache subfolder)."""
        text = json.dumps(self.fingerprint(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_data"] = None  # workers reload the data; it is not shipped
        return state

    # ---- data and checks ------------------------------------------------------------------
    def load_data(self) -> Any:
        """Load (once) the dataset; raises ``ValueError`` on missing or malformed files."""
        if self._data is None:
            from reram.models.data import load_dataset

            pad_to = 32 if self.dataset in ("mnist", "fashion-mnist") and self.model != "vgg-digits" else None
            self._data = load_dataset(self.dataset, self.data_dir, seed=0, pad_to=pad_to,
                                      max_train=self.max_train, max_test=self.max_test)
        return self._data

    def prepare(self) -> None:
        """Load the data and check the model takes its images (no training).

        Raises:
            ValueError: if the data cannot be read or the model does not fit its images.
        """
        import torch

        from reram.models.registry import build_model

        data = self.load_data()
        net = build_model(self.model, data.num_classes, None, in_channels=data.input_shape[0])
        try:
            net.eval()
            with torch.no_grad():
                net(data.train_images[:2])
        except RuntimeError as exc:
            raise ValueError(f"model {self.model} cannot take {data.name} images of shape "
                             f"{tuple(data.input_shape)} ({str(exc).splitlines()[0]})") from None

    # ---- cache ------------------------------------------------------------------------------
    def _cache_file(self, bits: str) -> Path | None:
        if self.cache_dir is None:
            return None
        return Path(self.cache_dir) / self.fingerprint_hash() / f"{bits}.json"

    def lookup(self, mask: Any) -> MaskEvaluation | None:
        """The evaluation of a mask if it was trained already (memory, then disk), else ``None``."""
        bits = mask_bits(mask, self.num_sites)
        if bits in self._cache:
            return self._cache[bits]
        path = self._cache_file(bits)
        if path is not None and path.is_file():
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
                if doc.get("fingerprint") == json.loads(json.dumps(self.fingerprint())):
                    ev = MaskEvaluation.from_dict(doc["evaluation"])
                    self._cache[bits] = ev
                    return ev
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                return None  # a damaged file is retrained and rewritten
        return None

    @property
    def evaluations(self) -> list[MaskEvaluation]:
        """The evaluations this instance holds in memory, in the order they were made."""
        return list(self._cache.values())

    # ---- evaluation -------------------------------------------------------------------------
    def speedup_of(self, bits: str) -> tuple[float | None, float | None]:
        """``(speedup_vs_gpu, throughput)`` of one mask from ``reram.cost.scheduler.schedule``
        (training mode), or ``(None, None)`` if the scheduler cannot cost the model."""
        import torch

        from reram.models.registry import build_model
        from reram.cost.scheduler import schedule

        data = self.load_data()
        try:
            with torch.random.fork_rng():
                net = build_model(self.model, data.num_classes, bits, in_channels=data.input_shape[0])
            plan = schedule(net, tuple(data.input_shape), batch_size=self.batch_size, mode="train",
                            hardware=self.hardware)
        except (ValueError, RuntimeError, NotImplementedError):
            return None, None
        return float(plan.speedup_vs_gpu), float(plan.throughput)

    def evaluate(self, mask: Any) -> MaskEvaluation:
        """Train the model with this BN mask (or return the cached result).

        Args:
            mask: a `P`-vector of 0/1 (array, list) or a bit string; 1 keeps the BN layer.

        Returns:
            The :class:`MaskEvaluation`.

        Raises:
            ValueError: if the mask has the wrong length or a value other than 0/1.
        """
        bits = mask_bits(mask, self.num_sites)
        cached = self.lookup(bits)
        if cached is not None:
            return cached
        import torch

        from reram.models.train import TrainConfig, run_training

        if self.torch_threads is not None:
            torch.set_num_threads(self.torch_threads)
        started = time.perf_counter()
        train_config = TrainConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                                   seed=self.seed, progress=False, device=self.device)
        result = run_training(model=self.model, dataset=self.dataset, bn_mask=bits, config=self.config,
                              train_config=train_config, data=self.load_data())
        history = [float(h["test_accuracy"]) for h in result["history"]]
        diverged = any(h.get("nonfinite_steps", 0) for h in result["history"])
        accuracy = float(result["test_accuracy"])
        speedup, throughput = self.speedup_of(bits)
        ev = MaskEvaluation(
            mask=bits, n_bn=bits.count("1"), num_sites=self.num_sites,
            accuracy=accuracy if math.isfinite(accuracy) else 0.0,
            train_accuracy=float(result["train_accuracy"]),
            best_accuracy=max(history) if history else float("nan"),
            speedup=speedup, throughput=throughput,
            train_time_s=round(time.perf_counter() - started, 3), history=history, diverged=diverged,
        )
        self._cache[bits] = ev
        path = self._cache_file(bits)
        if path is not None:
            atomic_write_json(path, {"fingerprint": self.fingerprint(), "evaluation": ev.to_dict()},
                              indent=1)
        return ev


class LookupBNObjective(_ModeMixin):
    """Score masks from a stored table of evaluations (e.g. the exhaustive ground truth).

    Args:
        evaluations: one :class:`MaskEvaluation` (or its dict) per mask; a mask not in the
            table raises ``KeyError`` when evaluated.
        mode, lam, epsilon, reference_accuracy, pareto_metric: as in :class:`BNObjective`;
            the reference defaults to the table's all-BN accuracy.

    Attributes:
        calls: the masks evaluated so far, in order (bit strings).
    """

    def __init__(
        self,
        evaluations: Sequence[MaskEvaluation | Mapping[str, Any]],
        mode: str = "scalarized",
        lam: float = 0.1,
        epsilon: float = 0.01,
        reference_accuracy: float | None = None,
        pareto_metric: str = "n_bn",
    ) -> None:
        _check_mode(mode, pareto_metric)
        table = [e if isinstance(e, MaskEvaluation) else MaskEvaluation.from_dict(e) for e in evaluations]
        if not table:
            raise ValueError("evaluations must not be empty")
        self.num_sites = table[0].num_sites
        self.table = {mask_bits(e.mask, self.num_sites): e for e in table}
        self.mode, self.pareto_metric = mode, pareto_metric
        self.lam = _check_number("lam", lam)
        self.epsilon = _check_number("epsilon", epsilon, 0.0, 1.0)
        self.reference_accuracy = reference_accuracy
        self.speedup_scale: float | None = None
        self.calls: list[str] = []

    def evaluate(self, mask: Any) -> MaskEvaluation:
        """The stored evaluation of a mask."""
        bits = mask_bits(mask, self.num_sites)
        if bits not in self.table:
            raise KeyError(f"mask {bits} is not in the table")
        return self.table[bits]

    def __call__(self, x: np.ndarray) -> float:
        self.calls.append(mask_bits(x, self.num_sites))
        return super().__call__(x)
