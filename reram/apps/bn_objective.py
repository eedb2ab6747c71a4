"""Training one BN mask, and the values a search minimizes for it.

A *mask* is one bit per BatchNorm site of a model (``reram.models.bn``: 1 keeps the layer). The
pieces, each built once and never mutated:

* :class:`MaskTraining`: what decides a mask's accuracy (model, data, crossbar config,
  training): a frozen, validated dataclass; its :meth:`~MaskTraining.fingerprint` is the key
  of the per-mask cache files.
* :class:`MaskTrainer`: trains masks of one :class:`MaskTraining` on simulated crossbars
  (``reram.convert``) and caches each :class:`MaskEvaluation` in memory and, with a cache
  folder, on disk (one JSON file per mask, written atomically), which process-pool / Ray
  workers and a resumed search share. A missing, truncated or edited file is trained again.
* :class:`StoredEvaluations`: the same interface over a stored table (the exhaustive ground
  truth), so optimizers can be compared on it without training.
* :class:`Scorer`: one scalar value per evaluation (single-objective search):
  ``"scalarized"``: ``-accuracy + lam * n_bn / P``; ``"constrained"``: the fewest BN layers
  with ``accuracy >= reference - epsilon`` (the reference is the all-BN accuracy, so a scorer
  is built after the references are trained), then the most accurate. As a penalty objective:
  a feasible mask scores ``(n_bn - margin / 2) / P`` (``margin`` = how far its accuracy clears
  the bar), an infeasible one ``1 + 10 * shortfall``, so every feasible mask beats every
  infeasible one.
* :func:`objective_pair` / :func:`reference_point`: the two values of a multi-objective search
  (accuracy against the chip's speedup or the BN count) and its hypervolume's reference point.
* :class:`SingleObjective` / :class:`TwoObjectives`: the picklable functions a search calls.

The chip's speed and energy of a mask come from :mod:`reram.apps.bn_cost` (one cost table).
This module imports torch and ``reram.models`` only inside the functions that train.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from reram.apps._cli import InputError
from reram.io import atomic_write_json

__all__ = [
    "SCALARIZATIONS",
    "TRADEOFFS",
    "MaskEvaluation",
    "MaskTraining",
    "MaskTrainer",
    "StoredEvaluations",
    "Scorer",
    "SingleObjective",
    "NegativeAccuracy",
    "SeedJob",
    "TwoObjectives",
    "objective_value",
    "objective_pair",
    "reference_point",
    "mask_bits",
]

#: How a single-objective search scores a mask.
SCALARIZATIONS = ("constrained", "scalarized")
#: What a multi-objective search trades accuracy against.
TRADEOFFS = ("speedup", "n_bn")
#: Penalty slope of an infeasible mask in ``"constrained"`` (per unit of accuracy).
CONSTRAINT_PENALTY = 10.0


def mask_bits(mask: Any, num_sites: int) -> str:
    """A mask (bit string, sequence, array or tensor of 0/1) as a checked bit string of length
    ``num_sites`` (``reram.models.bn.parse_bn_mask``, the one mask parser).

    Raises:
        ValueError: if the length is not ``num_sites`` or a value is not 0/1.
    """
    from reram.models.bn import format_bn_mask, parse_bn_mask

    if isinstance(mask, str) and mask.strip().lower() in ("all", "none"):
        raise ValueError(f"mask must be a string of 0 and 1, got {mask!r}")
    try:
        return format_bn_mask(parse_bn_mask(mask, num_sites))
    except TypeError as exc:
        raise ValueError(str(exc)) from None


@dataclass
class MaskEvaluation:
    """One trained mask.

    Attributes:
        mask: the mask as a bit string, one character per BN site, ``"1"`` = BN kept.
        n_bn: BN layers kept.
        num_sites: BN sites of the model (`P`).
        accuracy: test accuracy after the last epoch, a fraction (0 when training diverged);
            with several training seeds, their mean.
        accuracies: the test accuracy of each training seed (one entry per seed, in order).
        train_accuracy: training accuracy of the last epoch.
        best_accuracy: best test accuracy over the epochs.
        train_time_s: seconds of training and evaluation.
        history: per-epoch test accuracy.
        diverged: whether the loss became non-finite (in any seed).
        seeds: the training seed of each entry of ``accuracies`` (empty: not recorded).
    """

    mask: str
    n_bn: int
    num_sites: int
    accuracy: float
    accuracies: tuple[float, ...] = ()
    train_accuracy: float = float("nan")
    best_accuracy: float = float("nan")
    train_time_s: float = 0.0
    history: list[float] = field(default_factory=list)
    diverged: bool = False
    seeds: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        self.accuracies = tuple(float(a) for a in self.accuracies) or (float(self.accuracy),)
        self.seeds = tuple(int(v) for v in self.seeds)

    @property
    def accuracy_std(self) -> float:
        """Sample standard deviation of the seeds' accuracies (0 with one seed)."""
        return float(np.std(self.accuracies, ddof=1)) if len(self.accuracies) > 1 else 0.0

    @classmethod
    def combine(cls, runs: Sequence[MaskEvaluation]) -> MaskEvaluation:
        """One evaluation of a mask from its single-seed runs: the mean accuracy, every seed's
        accuracy and seed, the mean curve, the summed training time, diverged if any did."""
        if not runs or len({r.mask for r in runs}) != 1:
            raise ValueError("combine needs one or more runs of the same mask")
        if len(runs) == 1:
            return runs[0]
        accs = [a for r in runs for a in r.accuracies]
        curves = [r.history for r in runs if r.history]
        length = min((len(c) for c in curves), default=0)
        return cls(mask=runs[0].mask, n_bn=runs[0].n_bn, num_sites=runs[0].num_sites,
                   accuracy=float(np.mean(accs)), accuracies=tuple(accs),
                   train_accuracy=float(np.mean([r.train_accuracy for r in runs])),
                   best_accuracy=float(np.mean([r.best_accuracy for r in runs])),
                   train_time_s=float(sum(r.train_time_s for r in runs)),
                   history=[float(np.mean([c[i] for c in curves])) for i in range(length)],
                   diverged=any(r.diverged for r in runs), seeds=tuple(s for r in runs for s in r.seeds))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable dict (NaN becomes ``None``)."""
        def clean(v: Any) -> Any:
            if isinstance(v, float) and not math.isfinite(v):
                return None
            return [clean(x) for x in v] if isinstance(v, (list, tuple)) else v

        return {k: clean(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MaskEvaluation:
        """Inverse of :meth:`to_dict` (other keys, such as a stored table's speedup, are ignored).

        Raises:
            ValueError: if a field is missing or of the wrong type.
        """
        def num(value: Any) -> float:
            return float("nan") if value is None else float(value)

        try:
            return cls(
                mask=str(data["mask"]), n_bn=int(data["n_bn"]), num_sites=int(data["num_sites"]),
                accuracy=float(data["accuracy"]), accuracies=tuple(num(a) for a in data.get("accuracies") or ()),
                train_accuracy=num(data.get("train_accuracy")), best_accuracy=num(data.get("best_accuracy")),
                train_time_s=float(data.get("train_time_s", 0.0)),
                history=[num(v) for v in data.get("history", [])], diverged=bool(data.get("diverged", False)),
                seeds=tuple(int(v) for v in data.get("seeds") or ()),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"not a mask evaluation ({type(exc).__name__}: {exc})") from None


# ---------------------------------------------------------------- training
def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise InputError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _check_number(name: str, value: Any, low: float = 0.0, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(float(value)) or not low <= float(value) <= high:
        bound = f">= {low}" if high == math.inf else f"in [{low}, {high}]"
        raise InputError(f"{name} must be a number {bound}, got {value!r}")
    return float(value)


def _doc(text: str) -> dict[str, str]:
    return {"doc": text}


@dataclass(frozen=True)
class MaskTraining:
    """What decides a mask's accuracy: the cache key of its files.

    Validated and normalized at construction (names made canonical by ``reram.models``,
    ``data_dir`` absolute, ``config`` a dict of ``CrossbarConfig`` fields or ``"float"``); a bad
    value raises a one-line :class:`~reram.apps._cli.InputError` naming the field.
    """

    model: str = field(default="vgg11", metadata=_doc("A name of reram.models.MODEL_NAMES."))
    dataset: str = field(default="digits", metadata=_doc(
        "'digits' (bundled with scikit-learn), 'cifar10', 'mnist' or 'fashion-mnist'."))
    data_dir: str | None = field(default=None, metadata=_doc(
        "Folder holding the CIFAR-10 / MNIST files (required for them); stored absolute."))
    config: Any = field(default="neurosim-epiram", metadata=_doc(
        "The crossbar the model trains on: 'float', a CrossbarConfig preset name, a JSON file or "
        "string, a dict of fields or a CrossbarConfig. Stored as a dict of fields (or 'float')."))
    epochs: int = field(default=1, metadata=_doc("Training epochs per mask (the fidelity)."))
    batch_size: int = field(default=64, metadata=_doc("Training batch size (also the batch costed)."))
    lr: float = field(default=0.05, metadata=_doc("SGD learning rate (cosine schedule, momentum 0.9)."))
    seeds: tuple[int, ...] = field(default=(0,), metadata=_doc(
        "Training seeds (initialization, shuffling, pulse noise), one training per seed, distinct; "
        "an evaluation is their mean. The digits split is always seed 0."))
    width: float = field(default=1.0, metadata=_doc(
        "Channel multiplier of the CIFAR-size VGGs (0.25: a quarter of every layer, the same BN "
        "sites); 1.0 for the other models."))
    max_train: int | None = field(default=None, metadata=_doc("Train on the first N images only; None = all."))
    max_test: int | None = field(default=None, metadata=_doc("Test on the first N images only; None = all."))

    def __post_init__(self) -> None:
        from reram.config import CrossbarConfig
        from reram.models.data import canonical_dataset_name
        from reram.models.registry import canonical_model_name
        from reram.models.train import TrainConfig

        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        try:
            put("model", canonical_model_name(self.model))
            put("dataset", canonical_dataset_name(self.dataset))
            crossbar = CrossbarConfig.parse(self.config)
            TrainConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr).validate()
        except (ValueError, TypeError) as exc:
            raise InputError(str(exc)) from None
        if self.dataset != "digits":
            if self.data_dir is None:
                raise InputError(f"data_dir is required for dataset {self.dataset} (the folder holding its files)")
            if not Path(self.data_dir).expanduser().is_dir():
                raise InputError(f"data_dir {str(self.data_dir)!r} is not a folder")
        if self.data_dir is not None:
            put("data_dir", str(Path(self.data_dir).expanduser().resolve()))
        put("config", "float" if crossbar is None else crossbar.to_dict())
        put("epochs", int(self.epochs)), put("batch_size", int(self.batch_size)), put("lr", float(self.lr))
        seeds = tuple(self.seeds) if isinstance(self.seeds, (list, tuple)) else (self.seeds,)
        put("seeds", tuple(_check_int("seed", s, 0) for s in seeds))
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise InputError(f"seeds must be one or more distinct training seeds, got {list(self.seeds)}")
        put("width", _check_number("width", self.width, 1e-3, 16.0))
        if self.width != 1.0:
            from reram.models.registry import SIZE_ADAPTIVE_MODELS

            if self.model not in SIZE_ADAPTIVE_MODELS:
                raise InputError(f"width must be 1.0 for {self.model} (only {', '.join(SIZE_ADAPTIVE_MODELS)} "
                                 f"scale their channels); got {self.width!r}")
        for name in ("max_train", "max_test"):
            if getattr(self, name) is not None:
                put(name, _check_int(name, getattr(self, name), 1))

    def fingerprint(self, seed: int | None = None) -> dict[str, Any]:
        """Everything that determines one training's result (the cache key of its file): the
        fields and one seed (default: the first)."""
        doc = {"model": self.model, "dataset": self.dataset, "data_dir": self.data_dir,
               "config": self.config, "epochs": self.epochs, "batch_size": self.batch_size,
               "lr": self.lr, "seed": self.seeds[0] if seed is None else int(seed),
               "max_train": self.max_train, "max_test": self.max_test}
        if self.width != 1.0:  # absent at full width: the cache of earlier searches stays valid
            doc["width"] = self.width
        return doc


class MaskTrainer:
    """Train masks of one :class:`MaskTraining` on simulated crossbars, each once.

    Picklable (a process-pool or Ray worker gets a copy without the loaded data and reloads it
    on first use).

    Args:
        training: what a mask's training is.
        cache_dir: folder of the per-mask files (``<cache_dir>/<fingerprint hash>/<mask>.json``);
            ``None`` = memory only.
        device: torch device of the trainings (``None``: CUDA when available).
        threads: ``torch.set_num_threads`` before each training (``None``: leave it).

    Attributes:
        num_sites: the model's BN sites (the mask length `P`).
    """

    def __init__(self, training: MaskTraining, cache_dir: str | Path | None = None,
                 device: str | None = None, threads: int | None = None) -> None:
        from reram.models.registry import num_bn_sites

        if not isinstance(training, MaskTraining):
            raise TypeError(f"training must be a MaskTraining, got {type(training).__name__}")
        self.training, self.device, self.threads = training, device, threads
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self.num_sites = num_bn_sites(training.model)
        if self.num_sites < 1:
            raise InputError(f"model {training.model} has no BatchNorm layer to search over")
        self._cache: dict[tuple[str, int], MaskEvaluation] = {}
        self._data: Any = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_data"] = None  # workers reload the data; it is not shipped
        return state

    def fingerprint_hash(self, seed: int | None = None) -> str:
        """A short hash of one seed's training fingerprint (names that seed's cache subfolder)."""
        text = json.dumps(self.training.fingerprint(seed), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def replicate(self, seeds: Sequence[int]) -> MaskTrainer:
        """The same training at other seeds, sharing this trainer's cache folder (a (mask, seed)
        trained by either is read by both)."""
        import dataclasses

        other = MaskTrainer(dataclasses.replace(self.training, seeds=tuple(seeds)), self.cache_dir,
                            device=self.device, threads=self.threads)
        other._data, other._cache = self._data, self._cache  # same data, same runs
        return other

    def load_data(self) -> Any:
        """Load (once) the dataset; raises ``ValueError`` on missing or malformed files."""
        if self._data is None:
            from reram.models.registry import load_model_data

            t = self.training
            self._data = load_model_data(t.model, t.dataset, t.data_dir, seed=0,
                                         max_train=t.max_train, max_test=t.max_test)
        return self._data

    def prepare(self) -> None:
        """Load the data and check the model takes its images (no training)."""
        from reram.models.registry import build_model_for

        try:
            build_model_for(self.training.model, self.load_data(), width=self.training.width)
        except (ValueError, OSError) as exc:
            raise InputError(str(exc)) from None

    def cache_file(self, bits: str, seed: int | None = None) -> Path | None:
        """The file of one mask's training at one seed (default: the first; ``None`` without a
        cache folder)."""
        if self.cache_dir is None:
            return None
        return self.cache_dir / self.fingerprint_hash(seed) / f"{bits}.json"

    def lookup(self, mask: Any) -> MaskEvaluation | None:
        """The evaluation of a mask if it was trained at every seed already (memory, then disk),
        else ``None``. A file that is missing, damaged or of another training counts as not
        trained."""
        bits = mask_bits(mask, self.num_sites)
        runs = [self._lookup_seed(bits, seed) for seed in self.training.seeds]
        if any(r is None for r in runs):
            return None
        return MaskEvaluation.combine(runs)  # type: ignore[arg-type]

    def _lookup_seed(self, bits: str, seed: int) -> MaskEvaluation | None:
        if (bits, seed) in self._cache:
            return self._cache[bits, seed]
        path = self.cache_file(bits, seed)
        if path is None or not path.is_file():
            return None
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(doc, dict) or doc.get("fingerprint") != json.loads(json.dumps(self.training.fingerprint(seed))):
                return None
            ev = MaskEvaluation.from_dict(doc["evaluation"])
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError):
            return None  # damaged: trained again and rewritten
        if ev.mask != bits or ev.num_sites != self.num_sites or not math.isfinite(ev.accuracy):
            return None
        if not ev.seeds:
            ev.seeds = (int(seed),)
        self._cache[bits, seed] = ev
        return ev

    def evaluate(self, mask: Any) -> MaskEvaluation:
        """Train the model with this BN mask at every seed not trained yet (one after the other;
        :func:`reram.apps.bn_search.train_masks` spreads seeds over workers) and return the
        combined evaluation.

        Raises:
            ValueError: if the mask has the wrong length or a value other than 0/1.
        """
        bits = mask_bits(mask, self.num_sites)
        runs = [self._lookup_seed(bits, seed) or self._train(bits, seed) for seed in self.training.seeds]
        return MaskEvaluation.combine(runs)

    def _train(self, bits: str, seed: int) -> MaskEvaluation:
        import torch

        from reram.config import CrossbarConfig
        from reram.models.train import TrainConfig, run_training

        if self.threads is not None:
            torch.set_num_threads(self.threads)
        t = self.training
        started = time.perf_counter()
        train_config = TrainConfig(epochs=t.epochs, batch_size=t.batch_size, lr=t.lr, seed=seed,
                                   progress=False, device=self.device)
        config = None if t.config == "float" else CrossbarConfig.from_dict(dict(t.config))
        result = run_training(model=t.model, dataset=t.dataset, bn_mask=bits, config=config,
                              train_config=train_config, data=self.load_data(), width=t.width)
        history = [float(h["test_accuracy"]) for h in result["history"]]
        accuracy = float(result["test_accuracy"])
        ev = MaskEvaluation(
            mask=bits, n_bn=bits.count("1"), num_sites=self.num_sites,
            accuracy=accuracy if math.isfinite(accuracy) else 0.0,
            train_accuracy=float(result["train_accuracy"]),
            best_accuracy=max(history) if history else float("nan"),
            train_time_s=round(time.perf_counter() - started, 3), history=history,
            diverged=any(h.get("nonfinite_steps", 0) for h in result["history"]), seeds=(int(seed),),
        )
        self._cache[bits, seed] = ev
        path = self.cache_file(bits, seed)
        if path is not None:
            atomic_write_json(path, {"fingerprint": t.fingerprint(seed), "evaluation": ev.to_dict()}, indent=1)
        return ev

    def __call__(self, x: Any) -> float:
        """Train a mask (in a worker); returns its accuracy."""
        return float(self.evaluate(x).accuracy)


class StoredEvaluations:
    """The :class:`MaskTrainer` interface over a stored table of evaluations (no training).

    Args:
        evaluations: one :class:`MaskEvaluation` (or its dict) per mask; evaluating a mask not
            in the table raises ``KeyError``.

    Attributes:
        calls: the masks evaluated so far, in order (bit strings).
    """

    def __init__(self, evaluations: Iterable[MaskEvaluation | Mapping[str, Any]]) -> None:
        table = [e if isinstance(e, MaskEvaluation) else MaskEvaluation.from_dict(e) for e in evaluations]
        if not table:
            raise ValueError("evaluations must not be empty")
        self.num_sites = table[0].num_sites
        self.table = {mask_bits(e.mask, self.num_sites): e for e in table}
        self.calls: list[str] = []

    def lookup(self, mask: Any) -> MaskEvaluation | None:
        """The stored evaluation of a mask, or ``None``."""
        return self.table.get(mask_bits(mask, self.num_sites))

    def evaluate(self, mask: Any) -> MaskEvaluation:
        """The stored evaluation of a mask (counted in :attr:`calls`)."""
        bits = mask_bits(mask, self.num_sites)
        if bits not in self.table:
            raise KeyError(f"mask {bits} is not in the table")
        self.calls.append(bits)
        return self.table[bits]


# ---------------------------------------------------------------- scoring
def objective_value(evaluation: MaskEvaluation, scalarization: str = "scalarized", lam: float = 0.1,
                    epsilon: float = 0.01, reference_accuracy: float | None = None) -> float:
    """The value a single-objective search minimizes for one evaluation (module docstring).

    Raises:
        ValueError: for another scalarization, or ``"constrained"`` without a reference.
    """
    frac = evaluation.n_bn / max(evaluation.num_sites, 1)
    if scalarization == "scalarized":
        return -evaluation.accuracy + lam * frac
    if scalarization != "constrained":
        raise ValueError(f"scalarization must be one of {', '.join(SCALARIZATIONS)}; got {scalarization!r}")
    if reference_accuracy is None:
        raise ValueError("scalarization 'constrained' needs reference_accuracy (the all-BN accuracy)")
    margin = evaluation.accuracy - (reference_accuracy - epsilon)
    if margin >= -1e-12:  # feasible: fewest BN first, then the most accurate
        return (evaluation.n_bn - 0.5 * min(max(margin, 0.0), 1.0)) / max(evaluation.num_sites, 1)
    return 1.0 + CONSTRAINT_PENALTY * -margin


@dataclass(frozen=True)
class Scorer:
    """How a single-objective search scores a mask; built once the references are known."""

    scalarization: str = field(default="constrained", metadata=_doc("'constrained' or 'scalarized'."))
    lam: float = field(default=0.1, metadata=_doc("Weight (>= 0) of the BN fraction in 'scalarized'."))
    epsilon: float = field(default=0.02, metadata=_doc(
        "Accuracy (a fraction in [0, 1]) 'constrained' may lose against the all-BN reference."))
    reference_accuracy: float | None = field(default=None, metadata=_doc(
        "The all-BN accuracy (a fraction); required by 'constrained'."))

    def __post_init__(self) -> None:
        if self.scalarization not in SCALARIZATIONS:
            raise InputError(f"scalarization must be one of {', '.join(SCALARIZATIONS)}; got {self.scalarization!r}")
        object.__setattr__(self, "lam", _check_number("lam", self.lam))
        object.__setattr__(self, "epsilon", _check_number("epsilon", self.epsilon, 0.0, 1.0))
        if self.reference_accuracy is not None:
            object.__setattr__(self, "reference_accuracy",
                               _check_number("reference_accuracy", self.reference_accuracy, 0.0, 1.0))
        elif self.scalarization == "constrained":
            raise InputError("reference_accuracy (the all-BN accuracy) is required by 'constrained'")

    def value(self, evaluation: MaskEvaluation) -> float:
        """The value minimized for an evaluation."""
        return objective_value(evaluation, self.scalarization, self.lam, self.epsilon, self.reference_accuracy)


def objective_pair(ev: MaskEvaluation, metric: str, speedup: float | None = None,
                   speedup_scale: float | None = None) -> list[float]:
    """The two values a multi-objective search minimizes for one trained mask.

    ``metric="speedup"``: ``[-accuracy, -speedup / speedup_scale]`` (``speedup`` the mask's on the
    chip, ``speedup_scale`` the no-BN mask's, so the second value is in ``[-1, 0)``);
    ``metric="n_bn"``: ``[-accuracy, n_bn / P]``.

    Raises:
        ValueError: for another metric, or a mask without a speedup estimate.
    """
    if metric == "n_bn":
        return [-float(ev.accuracy), ev.n_bn / max(ev.num_sites, 1)]
    if metric != "speedup":
        raise ValueError(f"metric must be 'speedup' or 'n_bn', got {metric!r}")
    if speedup is None or not speedup_scale or speedup_scale <= 0:
        raise ValueError(f"mask {ev.mask} has no speedup estimate (or the scale {speedup_scale!r} is not positive)")
    return [-float(ev.accuracy), -float(speedup) / float(speedup_scale)]


def reference_point(metric: str, num_sites: int, accuracy: float = 0.1) -> list[float]:
    """The hypervolume's reference point in the units of :func:`objective_pair`: ``accuracy``
    (default 0.1, chance on 10 classes) and speedup 0 (``[-accuracy, 0]``), or ``accuracy`` and
    ``P + 1`` BN layers (``[-accuracy, (P + 1) / P]``, so the all-BN mask counts). A mask counts
    only if it trains better than the reference accuracy."""
    return [-float(accuracy), 0.0] if metric == "speedup" else [-float(accuracy), (num_sites + 1) / num_sites]


class NegativeAccuracy:
    """A mask -> minus its accuracy (``method="cbo"`` minimizes it against a bound; picklable)."""

    def __init__(self, trainer: Any) -> None:
        self.trainer = trainer

    def __call__(self, x: Any) -> float:
        return -float(self.trainer.evaluate(x).accuracy)


class SeedJob:
    """One (mask, seed) training for an executor: the input is the mask's bits followed by the
    seed (picklable; a worker keeps one trainer per seed, sharing the loaded data)."""

    def __init__(self, trainer: MaskTrainer) -> None:
        self.trainer = trainer

    def __call__(self, x: Any) -> float:
        self.trainer.load_data()  # once per worker, shared by the replicas
        return float(self.trainer.replicate((int(x[-1]),)).evaluate(x[:-1]).accuracy)


class SingleObjective:
    """A mask -> the :class:`Scorer`'s value, as ``minimize_binary`` minimizes it (picklable)."""

    def __init__(self, trainer: Any, scorer: Scorer) -> None:
        self.trainer, self.scorer = trainer, scorer

    def __call__(self, x: Any) -> float:
        return self.scorer.value(self.trainer.evaluate(x))


class TwoObjectives:
    """A mask -> :func:`objective_pair`, as ``minimize_binary_multi`` minimizes it (picklable:
    a worker gets a copy of the trainer without its data, and of the cost table).

    Args:
        trainer: a :class:`MaskTrainer` or :class:`StoredEvaluations`.
        metric: ``"speedup"`` or ``"n_bn"``.
        costs: a :class:`reram.apps.bn_cost.CostTable` (``metric="speedup"``).
        speedup_scale: the no-BN mask's speedup (``metric="speedup"``).
    """

    def __init__(self, trainer: Any, metric: str, costs: Any = None, speedup_scale: float | None = None) -> None:
        if metric not in TRADEOFFS:
            raise ValueError(f"metric must be 'speedup' or 'n_bn', got {metric!r}")
        if metric == "speedup" and (costs is None or not speedup_scale):
            raise ValueError("metric 'speedup' needs the cost table and the no-BN speedup")
        self.trainer, self.metric, self.costs, self.speedup_scale = trainer, metric, costs, speedup_scale

    def __call__(self, x: Any) -> list[float]:
        ev = self.trainer.evaluate(x)
        speedup = self.costs.cost(ev.mask).speedup if self.metric == "speedup" else None
        return objective_pair(ev, self.metric, speedup, self.speedup_scale)
