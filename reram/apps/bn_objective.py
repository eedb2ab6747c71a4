"""The BN-search objective: a 0/1 mask over a model's BatchNorm sites -> a number to minimize.

:class:`BNObjective` trains the model with the BN layers of the mask kept (1) or removed (0),
on simulated crossbars (``reram.convert`` with a low-precision config), and reads off the test
accuracy; the estimated training speed of the heterogeneous ReRAM + GPU chip for that mask comes
from ``reram.cost.scheduler.schedule`` (training mode). Both come from one chip,
:attr:`BNObjective.chip`: the ``hardware`` preset's silicon with the objective's crossbar
``config`` (the one the model trains with; a precision it leaves ideal is costed as the exact
silicon that computes it, see ``reram.cost.chip.Chip.reram_for``). Each mask is
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

:class:`BNObjectiveConfig` (a frozen, validated dataclass) holds the settings: what decides a
mask's result (model, data, crossbar, training, hardware: the cache key), how it is scored, and
where it runs. Model and dataset names, and how a dataset's images are fitted to a model, follow
``reram.models`` (the rules ``reram-train`` uses).

:class:`LookupBNObjective` scores masks from a stored table of evaluations (the exhaustive
ground truth), with the same modes, so optimizers can be compared on it for free.

This module imports torch and ``reram.models`` only inside the functions that train.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from reram.io import atomic_write_json

__all__ = [
    "BN_OBJECTIVE_MODES",
    "PARETO_METRICS",
    "DEFAULT_CROSSBAR",
    "MaskEvaluation",
    "BNObjectiveConfig",
    "FINGERPRINT_FIELDS",
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


def _doc(text: str) -> dict[str, str]:
    return {"doc": text}


#: Fields of :class:`BNObjectiveConfig` that decide a mask's result: its
#: :meth:`~BNObjectiveConfig.fingerprint`, the key of the per-mask cache files. The other
#: fields only say how a result is scored (``mode`` ...) or where and how fast it is computed.
FINGERPRINT_FIELDS = ("model", "dataset", "data_dir", "config", "epochs", "batch_size", "lr",
                      "seed", "hardware", "max_train", "max_test")


@dataclass(frozen=True)
class BNObjectiveConfig:
    """What a BN-mask objective trains, how it scores a mask, and where it keeps results.

    Validated and normalized at construction: the model and dataset names are made canonical by
    ``reram.models`` (the same rules as ``reram-train``), ``data_dir`` absolute, ``config`` a
    dict of ``CrossbarConfig`` fields (or ``"float"``); a bad value raises a one-line
    ``ValueError`` naming the field, before any data is read or any model trained.
    ``dataclasses.replace`` gives a validated copy. Each field's documentation is in its
    ``metadata["doc"]``.

    Example:
        >>> cfg = BNObjectiveConfig(epochs=1, max_train=200, mode="constrained", epsilon=0.02)
        >>> obj = BNObjective(cfg)
    """

    # ---- what decides a mask's result (the cache key) ----
    model: str = field(default="vgg-digits", metadata=_doc(
        "A name of reram.models.MODEL_NAMES ('vgg-digits' is the 6-site VGG for the bundled digits)."))
    dataset: str = field(default="digits", metadata=_doc(
        "'digits' (bundled with scikit-learn), 'cifar10', 'mnist' or 'fashion-mnist'."))
    data_dir: str | None = field(default=None, metadata=_doc(
        "Folder holding the CIFAR-10 / MNIST files (required for them); stored absolute."))
    config: Any = field(default=None, metadata=_doc(
        "The crossbar: 'float', a preset name, a JSON file/string, a dict of CrossbarConfig "
        "fields or a CrossbarConfig; None = DEFAULT_CROSSBAR. Stored as a dict of fields."))
    epochs: int = field(default=4, metadata=_doc("Training epochs per mask."))
    batch_size: int = field(default=64, metadata=_doc(
        "Training batch size (also the batch the scheduler costs)."))
    lr: float = field(default=0.05, metadata=_doc("SGD learning rate (cosine schedule, momentum 0.9)."))
    seed: int = field(default=0, metadata=_doc(
        "Training seed (initialization, shuffling); the digits split is always seed 0."))
    hardware: str = field(default="isaac", metadata=_doc(
        "Silicon of the chip (a reram.Chip preset: 'isaac', 'puma', ... or a JSON path); the "
        "chip's crossbar config is `config`, so accuracy and speed come from one chip."))
    max_train: int | None = field(default=None, metadata=_doc(
        "Train on the first max_train images only; None = all."))
    max_test: int | None = field(default=None, metadata=_doc(
        "Test on the first max_test images only; None = all."))
    # ---- how a result is scored ----
    mode: str = field(default="scalarized", metadata=_doc(
        "'scalarized', 'constrained' or 'pareto' (see the module docstring)."))
    lam: float = field(default=0.1, metadata=_doc(
        "Weight (>= 0) of the BN fraction (or the speedup) against accuracy in the scalarization."))
    epsilon: float = field(default=0.01, metadata=_doc(
        "Accuracy (a fraction in [0, 1]) 'constrained' may lose against the all-BN reference."))
    reference_accuracy: float | None = field(default=None, metadata=_doc(
        "The all-BN accuracy (a fraction) for 'constrained'; None = train the all-BN mask the "
        "first time it is needed."))
    pareto_metric: str = field(default="n_bn", metadata=_doc(
        "Second objective of 'pareto': 'n_bn' (fewest BN) or 'speedup' (fastest)."))
    # ---- where and how fast it runs (changes no result) ----
    cache_dir: str | None = field(default=None, metadata=_doc(
        "Folder of the per-mask result files, shared by workers and resumed runs; None = memory only."))
    device: str | None = field(default=None, metadata=_doc(
        "Torch device of the trainings ('cpu', 'cuda', ...); None = CUDA when available."))
    torch_threads: int | None = field(default=None, metadata=_doc(
        "torch.set_num_threads before each training (>= 1); None = leave it."))

    def __post_init__(self) -> None:
        from reram.models.data import canonical_dataset_name
        from reram.models.registry import canonical_model_name
        from reram.models.train import TrainConfig, resolve_crossbar_config

        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        put("model", canonical_model_name(self.model))
        put("dataset", canonical_dataset_name(self.dataset))
        if self.dataset != "digits":
            if self.data_dir is None:
                raise ValueError(f"data_dir is required for dataset {self.dataset} (the folder holding its files)")
            if not Path(self.data_dir).expanduser().is_dir():
                raise ValueError(f"data_dir {str(self.data_dir)!r} is not a folder")
        if self.data_dir is not None:
            put("data_dir", str(Path(self.data_dir).expanduser().resolve()))
        crossbar = resolve_crossbar_config(DEFAULT_CROSSBAR if self.config is None else self.config)
        put("config", "float" if crossbar is None else crossbar.to_dict())
        TrainConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, seed=self.seed).validate()
        put("epochs", int(self.epochs)), put("batch_size", int(self.batch_size))
        put("lr", float(self.lr)), put("seed", int(self.seed))
        _check_hardware(self.hardware)
        put("hardware", str(self.hardware))
        for name in ("max_train", "max_test", "torch_threads"):
            if getattr(self, name) is not None:
                put(name, _check_int(name, getattr(self, name), 1))
        _check_mode(self.mode, self.pareto_metric)
        put("lam", _check_number("lam", self.lam))
        put("epsilon", _check_number("epsilon", self.epsilon, 0.0, 1.0))
        if self.reference_accuracy is not None:
            put("reference_accuracy", _check_number("reference_accuracy", self.reference_accuracy, 0.0, 1.0))
        if self.cache_dir is not None:
            put("cache_dir", str(Path(self.cache_dir)))
        if self.device is not None:
            from reram.device import resolve_device

            resolve_device(self.device)

    def fingerprint(self) -> dict[str, Any]:
        """Everything that determines a mask's result (the cache key of its files)."""
        return {name: getattr(self, name) for name in FINGERPRINT_FIELDS}


def _check_hardware(hardware: Any) -> None:
    from reram.cost.hardware import load_hardware

    try:
        load_hardware(hardware)
    except (ValueError, KeyError, FileNotFoundError, OSError, TypeError) as exc:
        raise ValueError(f"hardware {hardware!r} cannot be loaded: {' '.join(str(exc).split())}") from None


def _setting(name: str) -> property:
    """A read-only attribute of :class:`BNObjective` that reads its :class:`BNObjectiveConfig`."""
    return property(lambda self: getattr(self.settings, name),
                    doc=BNObjectiveConfig.__dataclass_fields__[name].metadata["doc"])


class BNObjective(_ModeMixin):
    """Train a model with a BN mask on simulated crossbars; score accuracy against BN count.

    Picklable (a process-pool or Ray worker gets a copy without the loaded data, and reloads
    it on first use). Everything is validated at construction, before any training.

    Args:
        settings: a :class:`BNObjectiveConfig`; ``None`` = one built from ``fields``.
        **fields: :class:`BNObjectiveConfig` fields (``BNObjective(epochs=1, lam=0.2)``), or
            with ``settings`` the fields to replace in it.

    Attributes:
        settings: the validated :class:`BNObjectiveConfig`; its fields read as attributes
            of the objective too (``obj.model``, ``obj.epochs``, ...).
        reference_accuracy: the all-BN accuracy used by ``"constrained"`` (starts as the
            setting; set by the first all-BN evaluation when ``None``).
        speedup_scale: the no-BN speedup of ``pareto_metric="speedup"`` (found likewise).
        num_sites: the model's BN sites (the mask length `P`).

    Example:
        >>> obj = BNObjective(BNObjectiveConfig(epochs=1, max_train=200))
        >>> value = obj(np.array([1, 0, 0, 0, 0, 1]))
        >>> ev = obj.evaluate("100001"); ev.accuracy, ev.n_bn
    """

    model = _setting("model")
    dataset = _setting("dataset")
    data_dir = _setting("data_dir")
    config = _setting("config")
    epochs = _setting("epochs")
    batch_size = _setting("batch_size")
    lr = _setting("lr")
    seed = _setting("seed")
    hardware = _setting("hardware")
    max_train = _setting("max_train")
    max_test = _setting("max_test")
    mode = _setting("mode")
    lam = _setting("lam")
    epsilon = _setting("epsilon")
    pareto_metric = _setting("pareto_metric")
    cache_dir = _setting("cache_dir")
    device = _setting("device")
    torch_threads = _setting("torch_threads")

    def __init__(self, settings: BNObjectiveConfig | None = None, /, **fields: Any) -> None:
        from reram.models.registry import num_bn_sites

        if settings is None:
            settings = BNObjectiveConfig(**fields)
        elif not isinstance(settings, BNObjectiveConfig):
            raise TypeError(f"settings must be a BNObjectiveConfig, got {type(settings).__name__}")
        elif fields:
            settings = replace(settings, **fields)
        self.settings = settings
        self._chip: Any = None
        self.reference_accuracy: float | None = settings.reference_accuracy
        self.speedup_scale: float | None = None
        self.num_sites = num_bn_sites(settings.model)
        if self.num_sites < 1:
            raise ValueError(f"model {settings.model} has no BatchNorm layer to search over")
        self._cache: dict[str, MaskEvaluation] = {}
        self._data: Any = None

    # ---- identity, pickling -------------------------------------------------------------
    def fingerprint(self) -> dict[str, Any]:
        """Everything that determines a mask's result (the cache key of its files)."""
        return self.settings.fingerprint()

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
            from reram.models.registry import load_model_data

            self._data = load_model_data(self.model, self.dataset, self.data_dir, seed=0,
                                         max_train=self.max_train, max_test=self.max_test)
        return self._data

    def prepare(self) -> None:
        """Load the data and check the model takes its images (no training).

        Raises:
            ValueError: if the data cannot be read or the model does not fit its images.
        """
        from reram.models.registry import build_model_for

        build_model_for(self.model, self.load_data())

    # ---- cache ------------------------------------------------------------------------------
    def _cache_file(self, bits: str) -> Path | None:
        if self.cache_dir is None:
            return None
        return Path(self.cache_dir) / self.fingerprint_hash() / f"{bits}.json"

    def lookup(self, mask: Any) -> MaskEvaluation | None:
        """The evaluation of a mask if it was trained already (memory, then disk), else ``None``.
        A file's speedup is recomputed on :attr:`chip` when it is read."""
        bits = mask_bits(mask, self.num_sites)
        if bits in self._cache:
            return self._cache[bits]
        path = self._cache_file(bits)
        if path is not None and path.is_file():
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
                if doc.get("fingerprint") == json.loads(json.dumps(self.fingerprint())):
                    ev = MaskEvaluation.from_dict(doc["evaluation"])
                    # accuracy is the stored training; the speed is re-derived from the chip
                    # (cheap), so files written by an older cost model give today's estimate
                    ev.speedup, ev.throughput = self.speedup_of(bits)
                    self._cache[bits] = ev
                    return ev
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                return None  # a damaged file is retrained and rewritten
        return None

    @property
    def evaluations(self) -> list[MaskEvaluation]:
        """The evaluations this instance holds in memory, in the order they were made."""
        return list(self._cache.values())

    # ---- the chip ---------------------------------------------------------------------------
    @property
    def chip(self) -> Any:
        """The one :class:`reram.Chip` of this objective: the ``hardware`` preset's silicon with
        the crossbar ``config`` the model trains with. Training simulates ``chip.config`` and
        the speed estimate costs ``chip``; with ``config="float"`` the model trains in float and
        the speed is that of the preset's own config."""
        if getattr(self, "_chip", None) is None:
            from reram.config import CrossbarConfig
            from reram.cost.chip import Chip

            chip = Chip.from_hardware(self.hardware)
            if self.config != "float":
                chip = chip.replace(config=CrossbarConfig.from_dict(dict(self.config)))
            self._chip = chip
        return self._chip

    # ---- evaluation -------------------------------------------------------------------------
    def plan_of(self, bits: str) -> Any:
        """The training :class:`~reram.cost.scheduler.Plan` of one mask on :attr:`chip` (every
        conv/linear layer costed with ``chip.config``, the config it trains with), or ``None``
        if the scheduler cannot cost the model."""
        import torch

        from reram.cost.scheduler import schedule
        from reram.models.registry import build_model_for

        data = self.load_data()
        try:
            with torch.random.fork_rng():
                net = build_model_for(self.model, data, bits)
            return schedule(net, tuple(data.input_shape), batch_size=self.batch_size, mode="train",
                            chip=self.chip)
        except (ValueError, RuntimeError, NotImplementedError):
            return None

    def speedup_of(self, bits: str) -> tuple[float | None, float | None]:
        """``(speedup_vs_gpu, throughput)`` of one mask's :meth:`plan_of`, or ``(None, None)``."""
        plan = self.plan_of(bits)
        if plan is None:
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
        config = None if self.config == "float" else self.chip.config  # the chip's own config
        result = run_training(model=self.model, dataset=self.dataset, bn_mask=bits, config=config,
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
