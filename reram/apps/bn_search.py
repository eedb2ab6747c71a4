"""The BN search as a library: which BatchNorm layers a CNN needs to train on crossbars.

:class:`BNSearchSettings` (frozen, validated at construction) says what one search is;
:func:`run_search` runs it into an output folder and returns a :class:`BNSearchReport`. The
settings travel one way: the CLI (or a script) builds them, :func:`run_search` derives the
training (:class:`~reram.apps.bn_objective.MaskTraining`), the chip and the per-method initial
designs from them, and nothing writes back.

A search trains the all-BN and no-BN masks first (the references), then runs each of its
``methods`` with the same budget through one strategy object per mode:

* ``mode="multi"``: ``reram.search.minimize_binary_multi`` (``mobo``, ``nsga2``, ``random``) on
  accuracy against the chip's estimated speedup (``tradeoff="speedup"``, scaled by the no-BN
  mask's) or the BN count (``"n_bn"``), with the hypervolume below a stated reference point;
* ``mode="single"``: ``reram.search.minimize_binary`` (``bo``, ``random``, ``greedy``,
  ``anneal``, ``exhaustive``) on one :class:`~reram.apps.bn_objective.Scorer` value, built after
  the references (``"constrained"`` needs the all-BN accuracy) and never changed.

Every method shares every trained mask (one cache on disk, :mod:`reram.apps.bn_objective`);
each mask is costed once on the one chip (:mod:`reram.apps.bn_cost`). The mask a method
*found* follows one rule (:func:`found_mask`). The output folder (``settings.json`` marker, one
lock, ``--resume``/``--overwrite``) is :mod:`reram.apps.bn_output`; the table, JSON and plots
are :mod:`reram.apps.bn_report`.

Example:
    >>> settings = BNSearchSettings(model="vgg-digits", budget=4, max_train=200)
    >>> report = run_search(settings, "results/bn_tiny")
    >>> print(report.table())
"""
from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from reram.apps._cli import InputError
from reram.apps.bn_cost import CostTable, MaskCost, search_chip
from reram.apps.bn_objective import (TRADEOFFS, MaskEvaluation, MaskTrainer, MaskTraining,
                                     Scorer, SingleObjective, TwoObjectives, objective_pair, reference_point)
from reram.apps.bn_output import SearchFolder
from reram.apps.bn_report import BNSearchReport

__all__ = ["MODES", "MAIN_JOB_CHIP", "MAIN_JOB_CONFIG", "BNSearchSettings", "BNSearchReport", "run_search",
           "found_mask", "front_of"]

#: Values of ``mode``.
MODES = ("multi", "single")
#: The main job's chip: NeuroSim V2's silicon (``reram/cost/specs/neurosim.json``) with the
#: ``neurosim-epiram`` crossbar (``reram.config.PRESETS``: 128-row tiles, per-tile 8-bit ADCs,
#: 8-bit inputs, 6-bit EpiRAM cells updated by pulses). Why: docs/bn_search.md, "The main job".
MAIN_JOB_CHIP = "neurosim"
MAIN_JOB_CONFIG = "neurosim-epiram"
#: Methods of each mode, and the default ones.
_DEFAULT_METHODS = {"multi": ("mobo", "nsga2", "random"), "single": ("cbo", "random")}
#: The main job's network width and search budget (docs/bn_search.md, "The main job").
MAIN_JOB_WIDTH = 0.25
MAIN_JOB_BUDGET = 10
#: Settings that change where and how fast a search runs, not its result (free on --resume).
RUNTIME_FIELDS = ("budget", "executor", "workers", "search_batch", "worker_retries", "device", "threads")


def _doc(text: str) -> dict[str, str]:
    return {"doc": text}


def _methods_of(mode: str) -> tuple[str, ...]:
    if mode == "multi":
        from reram.search.multi import MULTI_METHODS

        return tuple(MULTI_METHODS)
    from reram.search.optimize import METHODS

    return tuple(METHODS)


@dataclass(frozen=True)
class BNSearchSettings:
    """One BN search: what a mask's training is, how the search runs, where it runs.

    Validated at construction (names made canonical, the crossbar config a dict of fields, the
    chip loaded); a bad value raises a one-line :class:`~reram.apps._cli.InputError` naming the
    field, before any data is read. ``dataclasses.replace`` gives a validated copy.
    """

    # ---- what decides a mask's accuracy (the cache key) ----
    model: str = field(default="vgg11", metadata=_doc("A name of reram.models.MODEL_NAMES."))
    dataset: str = field(default="digits", metadata=_doc("'digits' (bundled), 'cifar10', 'mnist' or 'fashion-mnist'."))
    data_dir: str | None = field(default=None, metadata=_doc("Folder of the CIFAR-10 / MNIST files."))
    config: Any = field(default=MAIN_JOB_CONFIG, metadata=_doc(
        "The crossbar the model trains on and the chip is costed with: 'float', a CrossbarConfig "
        "preset, a JSON file or string of its fields, or a dict."))
    width: float | None = field(default=None, metadata=_doc(
        "Channel multiplier of the CIFAR-size VGGs (1.0: full width). None = 0.25 for them (vgg11 "
        "keeps its 8 BN sites at about a twelfth of the training time) and 1.0 for the other models."))
    epochs: int = field(default=8, metadata=_doc(
        "Training epochs per mask (the fidelity; 8: all-BN within 2 points of its 20-epoch "
        "accuracy, docs/bn_search.md)."))
    batch_size: int = field(default=64, metadata=_doc("Training batch size (also the batch costed)."))
    lr: float = field(default=0.2, metadata=_doc("SGD learning rate (cosine schedule, momentum 0.9)."))
    seeds: tuple[int, ...] = field(default=(0, 1, 2), metadata=_doc(
        "Training seeds: the references and every found mask are trained at each (mean +- sd); "
        "the first `search_seeds` of them train each searched mask; the first is the search's seed."))
    search_seeds: int = field(default=1, metadata=_doc(
        "Seeds each mask the search proposes is trained at (1..len(seeds)); the model of 'cbo' is "
        "told the noise of that mean (the references' spread, at least noise_floor)."))
    noise_floor: float = field(default=0.01, metadata=_doc(
        "Smallest accuracy standard deviation of one training that 'cbo' assumes (a fraction): "
        "replicated masks of the truth table spread 0.5-2 points (docs/bn_search.md)."))
    max_train: int | None = field(default=None, metadata=_doc("Train on the first N images; None = all."))
    max_test: int | None = field(default=None, metadata=_doc("Test on the first N images; None = all."))
    # ---- the chip whose speed and energy are estimated ----
    chip: str = field(default=MAIN_JOB_CHIP, metadata=_doc(
        "Silicon of the chip: a reram.Chip preset name or a chip JSON file; its crossbar is `config`."))
    # ---- the search ----
    mode: str = field(default="single", metadata=_doc(
        "'single' (the fewest BN layers within epsilon of all-BN) or 'multi' (a Pareto front)."))
    methods: tuple[str, ...] | None = field(default=None, metadata=_doc(
        "Methods run with the same budget each; None = cbo, random (single) or mobo, nsga2, random (multi)."))
    tradeoff: str = field(default="speedup", metadata=_doc("multi: accuracy against 'speedup' or 'n_bn'."))
    scalarization: str = field(default="constrained", metadata=_doc("single: 'constrained' or 'scalarized'."))
    budget: int = field(default=MAIN_JOB_BUDGET, metadata=_doc("Evaluations (masks trained) of each method."))
    n_init: int | None = field(default=None, metadata=_doc(
        "Initial design of mobo and nsga2 (nsga2's population), of bo, greedy and anneal; None = 6 "
        "(multi) or each method's default (single); at most the budget."))
    lam: float = field(default=0.1, metadata=_doc("single 'scalarized': weight of the BN fraction."))
    epsilon: float = field(default=0.02, metadata=_doc(
        "Accuracy (a fraction) a found mask may lose against all-BN; the 'constrained' bar."))
    ref_accuracy: float = field(default=0.1, metadata=_doc(
        "multi: accuracy of the hypervolume's reference point (chance on 10 classes)."))
    acquisition: str = field(default="qnehvi", metadata=_doc("Acquisition of mobo: 'qnehvi' or 'qnparego'."))
    # ---- where and how fast it runs (free on --resume) ----
    executor: str = field(default="process", metadata=_doc("'process', 'ray' or 'inprocess'."))
    workers: int = field(default=2, metadata=_doc("Masks trained in parallel (1 with 'inprocess')."))
    search_batch: int | None = field(default=None, metadata=_doc("Masks proposed at a time; None = workers."))
    worker_retries: int = field(default=1, metadata=_doc("Extra attempts for a mask whose worker died."))
    device: str | None = field(default=None, metadata=_doc("Torch device; None = CUDA when available."))
    threads: int = field(default=1, metadata=_doc("Torch and numba CPU threads per training."))

    def __post_init__(self) -> None:
        put = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        if self.mode not in MODES:
            raise InputError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        for name in ("budget", "workers", "threads", "search_seeds"):
            _positive(name, getattr(self, name))
        for name in ("n_init", "search_batch"):
            if getattr(self, name) is not None:
                _positive(name, getattr(self, name))
        if isinstance(self.worker_retries, bool) or not isinstance(self.worker_retries, int) or self.worker_retries < 0:
            raise InputError(f"worker_retries must be an integer >= 0, got {self.worker_retries!r}")
        allowed = _methods_of(self.mode)
        methods = _DEFAULT_METHODS[self.mode] if self.methods is None else self.methods
        methods = tuple(m.strip() for m in methods.split(",")) if isinstance(methods, str) else tuple(methods)
        if not methods or len(set(methods)) != len(methods) or any(m not in allowed for m in methods):
            raise InputError(f"methods of mode {self.mode} must be distinct names of {', '.join(allowed)}, "
                             f"got {','.join(map(str, methods))!r}")
        put("methods", methods)
        if self.mode == "multi" and "nsga2" in methods and self.n_init is not None and self.n_init < 2:
            raise InputError(f"n_init must be >= 2 when methods include nsga2 (its population size), got {self.n_init}")
        if self.tradeoff not in TRADEOFFS:
            raise InputError(f"tradeoff must be one of {', '.join(TRADEOFFS)}, got {self.tradeoff!r}")
        if not isinstance(self.ref_accuracy, (int, float)) or not 0.0 <= self.ref_accuracy < 1.0:
            raise InputError(f"ref_accuracy must be a fraction in [0, 1), got {self.ref_accuracy!r}")
        if self.acquisition not in ("qnehvi", "qnparego"):
            raise InputError(f"acquisition must be 'qnehvi' or 'qnparego', got {self.acquisition!r}")
        Scorer(self.scalarization, self.lam, self.epsilon, reference_accuracy=0.0)  # checks the three
        put("lam", float(self.lam)), put("epsilon", float(self.epsilon)), put("ref_accuracy", float(self.ref_accuracy))
        from reram.search.executors import EXECUTOR_NAMES

        if self.executor not in EXECUTOR_NAMES:
            raise InputError(f"executor must be one of {', '.join(EXECUTOR_NAMES)}, got {self.executor!r}")
        if self.executor == "inprocess" and self.workers != 1:
            raise InputError(f"workers must be 1 with executor inprocess, got {self.workers}")
        if self.width is None:
            from reram.models.registry import SIZE_ADAPTIVE_MODELS, canonical_model_name

            try:
                put("width", MAIN_JOB_WIDTH if canonical_model_name(self.model) in SIZE_ADAPTIVE_MODELS else 1.0)
            except ValueError as exc:
                raise InputError(str(exc)) from None
        if self.mode == "single" and "cbo" in methods and self.scalarization != "constrained":
            raise InputError("method cbo searches the fewest BN within epsilon of all BN: it needs "
                             f"scalarization 'constrained', got {self.scalarization!r}")
        training = self.training()
        if self.search_seeds > len(training.seeds):
            raise InputError(f"search_seeds must be at most the number of seeds ({len(training.seeds)}), "
                             f"got {self.search_seeds}")
        if isinstance(self.noise_floor, bool) or not isinstance(self.noise_floor, (int, float)) \
                or not 0.0 < self.noise_floor < 1.0:
            raise InputError(f"noise_floor must be a fraction in (0, 1), got {self.noise_floor!r}")
        put("noise_floor", float(self.noise_floor))
        for name in ("model", "dataset", "data_dir", "config", "epochs", "batch_size", "lr", "seeds", "width"):
            put(name, getattr(training, name))
        search_chip(self.chip, self.config)  # loads, or names the chip
        if self.device is not None:
            from reram.runtime import resolve_device

            try:
                resolve_device(self.device)
            except ValueError as exc:
                raise InputError(str(exc)) from None

    # ---- derived -------------------------------------------------------------------------
    def training(self) -> MaskTraining:
        """What a mask's training is (the cache key)."""
        return MaskTraining(model=self.model, dataset=self.dataset, data_dir=self.data_dir, config=self.config,
                            epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, seeds=self.seeds,
                            max_train=self.max_train, max_test=self.max_test, width=self.width)

    @property
    def seed(self) -> int:
        """The search's seed (the first training seed)."""
        return self.seeds[0]

    def n_init_of(self, num_sites: int) -> dict[str, int]:
        """Each method's initial design (0: none) for a model with ``num_sites`` BN sites."""
        from reram.search.multi import default_n_init_multi
        from reram.search.optimize import default_n_init

        if self.mode == "multi":
            given = 6 if self.n_init is None else self.n_init
            return {m: min(given, self.budget) if m in ("mobo", "nsga2") else default_n_init_multi(m, num_sites, self.budget)
                    for m in self.methods}
        defaults = {m: default_n_init(m, num_sites, self.budget) for m in self.methods}
        # n_init sets the design of the methods that have one (bo, greedy, anneal)
        return {m: d if self.n_init is None or d == 0 else min(self.n_init, self.budget) for m, d in defaults.items()}

    def to_dict(self) -> dict[str, Any]:
        """The settings as JSON-ready values."""
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
                for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BNSearchSettings:
        """Inverse of :meth:`to_dict` (validated again).

        Raises:
            InputError: naming an unknown field.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"unknown BNSearchSettings field(s) {unknown}")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**values)

    def result_key(self) -> dict[str, Any]:
        """The fields a resumed search must share with the one it continues."""
        return {k: v for k, v in self.to_dict().items() if k not in RUNTIME_FIELDS}


def _positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{name} must be a positive integer, got {value!r}")


# ---------------------------------------------------------------- fronts and the found mask
def front_of(evaluations: Iterable[MaskEvaluation], costs: Callable[[str], MaskCost], metric: str) -> list[MaskEvaluation]:
    """The non-dominated masks (``reram.search.pareto``): highest accuracy against fewest BN or
    highest speedup (masks without a speedup left out), sorted by the second metric."""
    from reram.search.pareto import pareto_mask

    unique = {}
    for ev in evaluations:
        if metric == "n_bn" or costs(ev.mask).speedup is not None:
            unique.setdefault(ev.mask, ev)
    evs = list(unique.values())
    if not evs:
        return []

    def point(ev: MaskEvaluation) -> tuple[float, float]:
        return -ev.accuracy, (float(ev.n_bn) if metric == "n_bn" else -float(costs(ev.mask).speedup))  # type: ignore[arg-type]

    keep = pareto_mask([point(e) for e in evs])
    front = [e for e, k in zip(evs, keep) if k]
    return sorted(front, key=lambda e: (point(e)[1], point(e)[0], e.mask))


def found_mask(front: Sequence[MaskEvaluation], reference: float, epsilon: float, metric: str,
               costs: Callable[[str], MaskCost]) -> MaskEvaluation | None:
    """The one rule for the mask a search found, on a front: the fastest (``metric="speedup"``)
    or fewest-BN mask with accuracy >= all-BN - epsilon, then the most accurate; if none clears
    that bar, the most accurate."""
    if not front:
        return None
    ok = [e for e in front if e.accuracy >= reference - epsilon - 1e-12]
    if not ok:
        return max(front, key=lambda e: e.accuracy)
    if metric == "speedup":
        return max(ok, key=lambda e: (costs(e.mask).speedup or 0.0, e.accuracy))
    return min(ok, key=lambda e: (e.n_bn, -e.accuracy))


# ---------------------------------------------------------------- the strategies
def _record_row(rec: Any, ev: MaskEvaluation | None, cost: MaskCost | None, scorer: Scorer | None) -> dict[str, Any]:
    row = {"index": rec.index, "mask": "".join(str(v) for v in rec.x), "value": rec.y,
           "error": rec.error, "time_s": round(rec.time_s, 3)}
    if ev is not None and cost is not None:
        row.update(accuracy=ev.accuracy, n_bn=ev.n_bn, speedup=cost.speedup, throughput=cost.throughput,
                   train_time_s=ev.train_time_s, epochs=len(ev.accuracies) * len(ev.history))
        if scorer is not None:
            row["score"] = scorer.value(ev)
    return row


class _Search:
    """What the two modes share: the trainer, the chip's costs, the folder, the progress bar."""

    def __init__(self, settings: BNSearchSettings, trainer: MaskTrainer, costs: CostTable,
                 refs: dict[str, MaskEvaluation], folder: SearchFolder, n_init: dict[str, int],
                 executor: Any, progress: bool) -> None:
        self.settings, self.trainer, self.costs, self.refs = settings, trainer, costs, refs
        self.folder, self.n_init, self.executor, self.progress = folder, n_init, executor, progress

    def _bar(self, method: str) -> Any:
        from tqdm.auto import tqdm

        from reram.search.checkpoint import load_checkpoint

        path = self.folder.checkpoint(method)
        try:
            saved = load_checkpoint(path)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InputError(f"checkpoint {str(path)!r} is damaged ({' '.join(str(exc).split())[:200]}); "
                             "delete it to rerun that method (trained masks are kept) or use --overwrite") from None
        return tqdm(total=self.settings.budget, initial=0 if saved is None else len(saved.history),
                    desc=f"bn-search[{method}]", unit="eval", disable=not self.progress, dynamic_ncols=True)

    def _common(self, method: str) -> dict[str, Any]:
        s = self.settings
        return dict(dim=self.trainer.num_sites, budget=s.budget, method=method, seed=s.seed,
                    batch_size=s.search_batch or s.workers, executor=self.executor,
                    checkpoint=self.folder.checkpoint(method))


class _SingleSearch(_Search):
    """``minimize_binary`` of each method on one scorer, built from the references."""

    metric = "n_bn"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        s = self.settings
        self.scorer = Scorer(s.scalarization, s.lam, s.epsilon, reference_accuracy=self.refs["all"].accuracy)

    def noise_sd(self) -> float:
        """The accuracy sd of one searched evaluation that 'cbo' is told: the references'
        largest replicate spread, at least ``noise_floor``, over sqrt(search_seeds)."""
        s = self.settings
        spread = max([s.noise_floor] + [ev.accuracy_std for ev in self.refs.values()])
        return spread / math.sqrt(s.search_seeds)

    def _objective(self, method: str) -> tuple[Any, Any]:
        """The function a method minimizes and its options: 'cbo' minus the accuracy against the
        bar (told the noise and given the references), the others the scorer's value."""
        from reram.apps.bn_objective import NegativeAccuracy

        if method != "cbo":
            return SingleObjective(self.trainer, self.scorer), None
        from reram.search.sparsest import CBOOptions

        refs = [self.refs["all"], self.refs["none"]]
        options = CBOOptions(bound=-(self.refs["all"].accuracy - self.settings.epsilon), noise_var=self.noise_sd() ** 2,
                             prior_x=tuple(tuple(int(c) for c in ev.mask) for ev in refs),
                             prior_y=tuple(-ev.accuracy for ev in refs))
        return NegativeAccuracy(self.trainer), options

    def run(self, method: str) -> tuple[dict[str, Any], list[Any], list[str]]:
        """One method: its result fields, its evaluation records, the masks it found best."""
        from reram.search.optimize import minimize_binary

        bar = self._bar(method)
        best = {"acc": -math.inf, "value": math.inf}

        def on_record(rec: Any) -> None:
            ev = self.trainer.lookup(rec.x) if rec.ok else None
            if ev is not None:
                best["acc"], best["value"] = max(best["acc"], ev.accuracy), min(best["value"], self.scorer.value(ev))
            bar.update(1)
            bar.set_postfix(mask="".join(map(str, rec.x)), acc=None if ev is None else round(ev.accuracy, 3),
                            best_value=round(best["value"], 4), best_acc=round(best["acc"], 3))

        try:
            objective, options = self._objective(method)
            res = minimize_binary(objective, n_init=self.n_init[method] or None, callback=on_record,
                                  options=options, **self._common(method))
        finally:
            bar.close()
        scores = [self.scorer.value(ev) if r.ok and (ev := self.trainer.lookup(r.x)) is not None else math.inf
                  for r in res.history]
        best_so_far = np.minimum.accumulate(scores).tolist() if scores else []
        run = {"minimized": "-accuracy against the bar" if method == "cbo" else f"the {self.scorer.scalarization} score",
               "best_value_so_far": [v if math.isfinite(v) else None for v in best_so_far],
               "best_value": best_so_far[-1] if best_so_far and math.isfinite(best_so_far[-1]) else None,
               "n_failures": res.n_failures, "info": res.info}
        return run, res.history, [_bits(rec.x) for rec in res.history if rec.ok]


class _MultiSearch(_Search):
    """``minimize_binary_multi`` of each method on accuracy against speedup (or BN count)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        s = self.settings
        self.metric = s.tradeoff
        self.ref_point = reference_point(self.metric, self.trainer.num_sites, s.ref_accuracy)
        self.scale = self.costs.cost(self.refs["none"].mask).speedup
        self.function = TwoObjectives(self.trainer, self.metric, self.costs if self.metric == "speedup" else None,
                                      self.scale if self.metric == "speedup" else None)

    def run(self, method: str) -> tuple[dict[str, Any], list[Any], list[str]]:
        """One method: its result fields, its evaluation records, its front's masks."""
        from reram.search.multi import minimize_binary_multi
        from reram.search.pareto import hypervolume

        bar = self._bar(method)
        saved = _saved_history(self.folder.checkpoint(method))
        ys = [r.y for r in saved if r.ok]

        def on_record(rec: Any) -> None:
            if rec.ok:
                ys.append(rec.y)
            bar.update(1)
            bar.set_postfix(mask="".join(map(str, rec.x)), acc=None if not rec.ok else round(-rec.y[0], 3),
                            hv=round(hypervolume(np.asarray(ys), self.ref_point), 4) if ys else 0.0,
                            failed=None if rec.ok else "yes")

        options = None
        if method == "mobo":
            from reram.search.mobo import MOBOOptions

            options = MOBOOptions(acquisition=self.settings.acquisition)
        elif method == "nsga2":
            from reram.search.nsga2 import NSGA2Options

            options = NSGA2Options(pop_size=max(2, self.n_init[method]))
        try:
            res = minimize_binary_multi(self.function, ref_point=self.ref_point, n_init=self.n_init[method] or None,
                                        callback=on_record, options=options, **self._common(method))
        finally:
            bar.close()
        front = [_bits(x) for x in res.pareto_x]
        run = {"hypervolume": res.hypervolume, "hypervolume_history": res.hypervolume_history.tolist(),
               "front": front, "front_values": res.pareto_y.tolist(), "n_failures": res.n_failures,
               "info": res.info}
        return run, res.history, front


def _bits(x: Any) -> str:
    return "".join(str(int(v)) for v in x)


def _saved_history(path: Path) -> list[Any]:
    from reram.search.checkpoint import load_checkpoint

    saved = load_checkpoint(path)
    return [] if saved is None else saved.history


# ---------------------------------------------------------------- running it
def _make_executor(s: BNSearchSettings) -> Any:
    from reram.search.executors import InProcessExecutor, ProcessExecutor, RayExecutor

    if s.executor == "process":
        return ProcessExecutor(max_workers=s.workers, max_retries=s.worker_retries)
    if s.executor == "ray":
        return RayExecutor(num_cpus=s.workers, max_retries=s.worker_retries)
    return InProcessExecutor()


def train_masks(trainer: MaskTrainer, executor: Any, masks: Iterable[Any]) -> dict[str, MaskEvaluation]:
    """The evaluations of ``masks`` at every seed of ``trainer``; the (mask, seed) trainings not
    in the cache (never trained, or a file missing or damaged) run on the executor's workers
    first, spread over them.

    Raises:
        RuntimeError: if a training fails.
    """
    from reram.apps.bn_objective import SeedJob, mask_bits

    bits = list(dict.fromkeys(mask_bits(m, trainer.num_sites) for m in masks))
    todo = [(b, seed) for b in bits for seed in trainer.training.seeds
            if trainer.replicate((seed,)).lookup(b) is None]
    jobs = [np.array([int(c) for c in b] + [seed], dtype=np.int64) for b, seed in todo]
    for i, outcome in executor.run(SeedJob(trainer), jobs):
        if outcome.error is not None:
            raise RuntimeError(f"training mask {todo[i][0]} (seed {todo[i][1]}) failed: {outcome.error}")
    return {b: trainer.evaluate(b) for b in bits}  # from the cache the workers wrote


def _check_resume(settings: BNSearchSettings, marker: dict[str, Any], folder: SearchFolder) -> BNSearchSettings:
    """The settings a resumed search runs with (the saved budget if larger); raises InputError
    naming the first field that differs from the saved search."""
    try:
        saved = BNSearchSettings.from_dict(marker["settings"])
    except (InputError, TypeError) as exc:
        raise InputError(f"{folder.settings_file} is damaged ({exc}): use another --out") from None
    now, before = settings.result_key(), saved.result_key()
    for key in now:
        if now[key] != before[key]:
            raise InputError(f"--resume: {key} was {before[key]!r} in the saved search, now {now[key]!r}; "
                             "use the same value or another --out")
    return dataclasses.replace(settings, budget=max(settings.budget, saved.budget))


def run_search(settings: BNSearchSettings, out: str | Path, *, resume: bool = False, overwrite: bool = False,
               progress: bool = True, log: Callable[[str], None] | None = None) -> BNSearchReport:
    """Run a BN search into the folder ``out``; returns its report (also written there).

    Args:
        settings: the search.
        out: the output folder (see :mod:`reram.apps.bn_output`).
        resume: continue the search saved in ``out`` (same settings but the runtime fields).
        overwrite: replace the search saved in ``out``.
        progress: show progress bars.
        log: where one-line progress messages go (``None``: nowhere).

    Raises:
        InputError: for bad input, before any training.
        KeyboardInterrupt: on Ctrl-C / SIGTERM (the checkpoints hold everything finished).
    """
    from reram.runtime import set_threads

    started = time.perf_counter()
    log = log or (lambda msg: None)
    if not isinstance(settings, BNSearchSettings):
        raise TypeError(f"settings must be a BNSearchSettings, got {type(settings).__name__}")
    folder = SearchFolder(out)
    marker = folder.check(resume, overwrite)
    if marker is not None:
        settings = _check_resume(settings, marker, folder)
    trainer = MaskTrainer(settings.training(), folder.evals, device=settings.device, threads=settings.threads)
    if settings.mode == "single" and "exhaustive" in settings.methods and trainer.num_sites > 20:
        raise InputError(f"method exhaustive needs at most 20 BN sites, {settings.model} has {trainer.num_sites}")
    trainer.prepare()  # reads the data, checks the model takes it: still no training
    n_init = marker["n_init"] if marker is not None else settings.n_init_of(trainer.num_sites)
    folder.lock()
    try:
        folder.check(resume, overwrite)  # again, under the lock
        set_threads(settings.threads)
        if not resume:
            folder.clear()
        folder.write_marker(settings.to_dict(), n_init)
        return _run(settings, trainer, folder, n_init, progress, log, started)
    finally:
        folder.unlock()


def _run(settings: BNSearchSettings, trainer: MaskTrainer, folder: SearchFolder, n_init: dict[str, int],
         progress: bool, log: Callable[[str], None], started: float) -> BNSearchReport:
    """The references (every seed), each method (its masks at the first ``search_seeds``), the
    mask each method found (every seed again), then the report."""
    from reram.apps import bn_report

    costs = CostTable(trainer, search_chip(settings.chip, settings.config))
    searcher = trainer.replicate(settings.seeds[: settings.search_seeds])
    executor = _make_executor(settings)
    try:
        refs = _references(trainer, executor, log)
        search = (_MultiSearch if settings.mode == "multi" else _SingleSearch)(
            settings, searcher, costs, refs, folder, n_init, executor, progress)
        done = {method: search.run(method) for method in settings.methods}
        masks = [_bits(r.x) for _, history, _ in done.values() for r in history if r.ok]
        evaluations = train_masks(searcher, executor, masks)  # a file lost since: trained again
        found = {method: found_mask(front_of([evaluations[b] for b in best], costs.cost, search.metric),
                                    refs["all"].accuracy, settings.epsilon, search.metric, costs.cost)
                 for method, (_, _, best) in done.items()}
        replicated = train_masks(trainer, executor, [e.mask for e in found.values() if e is not None])
        for method, ev in found.items():
            if ev is not None:
                log(f"found ({method}) {ev.mask}: {ev.accuracy:.3f} in the search, "
                    f"{_mean_sd(replicated[ev.mask])} over seeds {list(settings.seeds)}")
    finally:
        executor.close()
    scorer = getattr(search, "scorer", None)
    runs = {}
    for method, (fields, history, _) in done.items():
        rows = [_record_row(r, evaluations.get(_bits(r.x)) if r.ok else None,
                            costs.cost(_bits(r.x)) if r.ok else None, scorer) for r in history]
        runs[method] = {"history": rows, **fields}
    front = front_of([*refs.values(), *evaluations.values()], costs.cost, search.metric)
    hv_all = None
    if settings.mode == "multi":
        from reram.search.pareto import hypervolume

        pts = [objective_pair(e, search.metric, costs.cost(e.mask).speedup, search.scale)
               for e in [*refs.values(), *evaluations.values()]]
        hv_all = hypervolume(np.asarray(pts), search.ref_point)
    for ev in [*refs.values(), *replicated.values()]:
        costs.cost(ev.mask)
    report = BNSearchReport(
        settings=settings, chip=costs.chip, references=refs, runs=runs, evaluations=evaluations,
        costs={m: costs.cost(m) for m in {*evaluations, *(e.mask for e in refs.values())}}, front=front,
        found={m: None if e is None else replicated[e.mask] for m, e in found.items()},
        searched=found, n_init=n_init,
        ref_point=getattr(search, "ref_point", None), speedup_scale=costs.cost(refs["none"].mask).speedup,
        hypervolume_all=hv_all, wall_time_s=time.perf_counter() - started, out=folder.path)
    report.plots = bn_report.write(report)
    return report


def _references(trainer: MaskTrainer, executor: Any, log: Callable[[str], None]) -> dict[str, MaskEvaluation]:
    """The all-BN and no-BN masks at every seed."""
    p = trainer.num_sites
    refs = dict(zip(("all", "none"), train_masks(trainer, executor, ["1" * p, "0" * p]).values()))
    for key, ev in refs.items():
        log(f"reference {key + ' BN':<8} {ev.mask}: accuracy {_mean_sd(ev)} over seeds {list(ev.seeds)}")
    return refs


def _mean_sd(ev: MaskEvaluation) -> str:
    return f"{ev.accuracy:.3f} +- {ev.accuracy_std:.3f}" if len(ev.accuracies) > 1 else f"{ev.accuracy:.3f}"
