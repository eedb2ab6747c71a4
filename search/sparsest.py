"""The sparsest feasible mask: the fewest ones such that a noisy black-box value clears a bar.

This is the BN search's real question ("the fewest BN layers with no accuracy loss") asked
directly instead of through a penalty objective. The number of ones of a mask is known
exactly; only the black box (a training's accuracy) is modelled:

* a GP on the 0/1 inputs (``reram.search.bo.fit_gp``: ARD Hamming + linear kernel) fitted to
  the observed values, with the observation noise *given* (``noise_var``: measured from
  replicated trainings) or learned;
* the acquisition is the constrained expected improvement of a known cost (Gardner et al.,
  ICML 2014, "Bayesian optimization with inequality constraints", with the objective known):
  ``P(feasible(x)) * max(0, c* - |x| + 1/2)``, ``c*`` the fewest ones among the evaluated masks
  whose posterior mean is feasible (``dim + 1`` while there is none): a mask sparser than the
  incumbent is worth the BN layers it saves times the probability that it clears the bar, a
  mask as sparse as the incumbent half a layer (a second, maybe more accurate, answer);
* batches by the kriging believer (each pick conditioned on at its posterior mean).

``method="cbo"`` of :func:`reram.search.minimize_binary` (objective values are minimized: a
mask is feasible when its value is ``<= bound``); :func:`sparsest_feasible` picks the answer
from a history; :func:`sparsest_feasible_mf` is the two-fidelity variant (a cheap screen of
every new mask, the promising ones promoted), run over any ``evaluate(mask, fidelity)``.

Imports torch, BoTorch and GPyTorch (the ``bo`` extra).
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .baselines import initial_design_batch
from .bo import BOOptions, fit_gp, maximize_acquisition
from .proposer import Proposer, all_masks, propose_batch, rng_for, successes, weight_stratified_design
from .records import EvalRecord, mask_key

__all__ = ["CBOOptions", "ConstrainedBO", "sparsest_feasible", "sparsest_feasible_mf", "MFStep",
           "sparsest_feasible_raced", "RacedStep"]

_SALT_STARTS = 31


@dataclass
class CBOOptions(BOOptions):
    """Options of ``method="cbo"`` (the fields of :class:`~reram.search.bo.BOOptions` too).

    Attributes:
        bound: a mask is feasible when its objective value is at most this (for the BN search:
            ``-(all-BN accuracy - epsilon)``). Required.
        noise_var: the observation noise variance of the objective, in its units squared
            (measured from replicates); ``None`` learns it.
        prior_x: masks known before the search (e.g. the all-BN and no-BN references), not
            counted in the budget; ``prior_y`` their values.
        prior_y: the values of ``prior_x``.
        max_step: the most ones below the incumbent a candidate is credited for (``None``: all;
            1: a descent one BN layer at a time, guided by the GP).
    """

    bound: float = math.nan
    noise_var: float | None = None
    max_step: int | None = None
    prior_x: tuple[tuple[int, ...], ...] = ()
    prior_y: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.bound, bool) or not isinstance(self.bound, (int, float)) or not math.isfinite(self.bound):
            raise ValueError(f"bound must be a finite number (the feasibility bar), got {self.bound!r}")
        if self.noise_var is not None and (not isinstance(self.noise_var, (int, float))
                                           or not math.isfinite(self.noise_var) or self.noise_var <= 0):
            raise ValueError(f"noise_var must be a positive number or None, got {self.noise_var!r}")
        if self.max_step is not None and (isinstance(self.max_step, bool) or not isinstance(self.max_step, int)
                                          or self.max_step < 1):
            raise ValueError(f"max_step must be a positive integer or None, got {self.max_step!r}")
        if len(self.prior_x) != len(self.prior_y):
            raise ValueError(f"prior_x and prior_y must have the same length, got {len(self.prior_x)} "
                             f"and {len(self.prior_y)}")


def sparsest_feasible(X: np.ndarray, y: np.ndarray, bound: float) -> int | None:
    """Index of the answer among evaluated masks: the fewest ones with ``y <= bound``, then the
    lowest value; ``None`` when no value clears the bar."""
    ok = [i for i in range(len(y)) if y[i] <= bound + 1e-12]
    if not ok:
        return None
    return min(ok, key=lambda i: (int(np.sum(X[i])), float(y[i]), i))


def _posterior(model: Any, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and sd of the (minimized) value of each mask."""
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # jitter added to a near-singular covariance
        post = model.posterior(torch.as_tensor(X, dtype=torch.double))
        mean = -post.mean.squeeze(-1).numpy()  # the model is fitted to -y
        sd = post.variance.squeeze(-1).clamp_min(1e-12).sqrt().numpy()
    return mean, sd


def _feasibility(model: Any, X: np.ndarray, bound: float) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean of the value (minimized) and P(value <= bound) of each mask."""
    mean, sd = _posterior(model, X)
    return mean, _normal_cdf((bound - mean) / sd)


def _normal_cdf(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.vectorize(math.erf)(np.asarray(z, dtype=float) / math.sqrt(2.0)))


def _improvement(model: Any, X: np.ndarray, best: float, scale: float) -> np.ndarray:
    """Expected improvement of each mask's value below ``best``, in units of ``scale``."""
    mean, sd = _posterior(model, X)
    z = (best - mean) / sd
    pdf = np.exp(-0.5 * z**2) / math.sqrt(2.0 * math.pi)
    return sd * (z * _normal_cdf(z) + pdf) / scale


class _ConstrainedEI:
    """The acquisition ``P(feasible) * max(0, c* - |x| + 1/2)`` as a batch function (duck-typed
    like a BoTorch acquisition for :func:`reram.search.bo.acquisition_values`). With ``answer``
    (``(value, scale)``: the current answer's posterior mean and the exchange rate of one
    layer), a mask as sparse as the incumbent is worth its expected improvement on the answer
    in units of ``scale`` instead of the flat half layer, and a sparser one ``P(feasible)`` per
    layer saved."""

    def __init__(self, model: Any, bound: float, incumbent: int, max_step: int | None = None,
                 answer: tuple[float, float] | None = None) -> None:
        self.model, self.bound, self.incumbent, self.max_step = model, bound, incumbent, max_step
        self.answer = answer

    def __call__(self, X: torch.Tensor) -> torch.Tensor:
        x = X.reshape(-1, X.shape[-1]).numpy()
        _, p = _feasibility(self.model, x, self.bound)
        ones = x.sum(axis=1)
        if self.answer is None:
            return torch.as_tensor(p * _gain(self.incumbent, ones, self.max_step))
        saved = np.clip(self.incumbent - ones, 0, self.max_step)
        same = ones == self.incumbent
        gain = p * saved
        if same.any():
            gain[same] = _improvement(self.model, x[same], *self.answer)
        return torch.as_tensor(gain)


def _gain(incumbent: int, ones: np.ndarray, max_step: int | None) -> np.ndarray:
    """Ones saved against the incumbent (at most ``max_step``), plus half a one for a second
    answer as sparse as it; 0 for a denser mask."""
    saved = incumbent - np.asarray(ones, dtype=float)
    if max_step is not None:
        saved = np.minimum(saved, max_step)
    return np.where(saved >= 0, saved + 0.5, 0.0)


def _incumbent(model: Any, X: np.ndarray, ones: np.ndarray, bound: float, dim: int) -> int:
    """``c*``: the fewest ``ones`` among the inputs ``X`` whose posterior mean is feasible
    (``dim + 1`` when none is)."""
    if len(X) == 0:
        return dim + 1
    mean, _ = _feasibility(model, X, bound)
    feasible = ones[mean <= bound]
    return int(feasible.min()) if len(feasible) else dim + 1


def _maximize(acq: _ConstrainedEI, dim: int, options: BOOptions, excluded: set[bytes],
              rng: np.random.Generator, X: np.ndarray) -> np.ndarray | None:
    """The acquisition's best unexcluded mask, local searches starting from the sparsest
    observed masks and a weight-stratified random design (every mask when few)."""
    starts = None
    if 2**dim > options.exhaustive_limit:
        sparse = X[np.argsort(X.sum(axis=1), kind="stable")[: options.n_starts // 2]]
        rand = weight_stratified_design(dim, options.n_starts - len(sparse), rng, excluded)
        starts = np.concatenate([sparse, rand]).astype(np.int8)
    return maximize_acquisition(acq, dim, options, excluded, starts)


class ConstrainedBO(Proposer):
    """GP-based search for the sparsest feasible mask (the module docstring).

    Args:
        dim: number of bits.
        seed: seed of the search.
        n_init: size of the weight-stratified initial design.
        options: a :class:`CBOOptions` (its ``bound`` is required).
    """

    name = "cbo"

    def __init__(self, dim: int, seed: int, n_init: int, options: CBOOptions) -> None:
        super().__init__(dim, seed, n_init)
        if not isinstance(options, CBOOptions):
            raise ValueError(f"method 'cbo' needs options=CBOOptions(bound=...), got {type(options).__name__}")
        if any(len(x) != dim for x in options.prior_x):
            raise ValueError(f"prior_x masks must have {dim} bits")
        self.options = options
        self._hypers: dict[str, list[Any]] | None = None
        self.info = {"n_obs": [], "incumbent": []}

    def state_dict(self) -> dict[str, Any]:
        return {"hypers": self._hypers}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._hypers = state.get("hypers")

    def ask(self, history: Sequence[EvalRecord], q: int, excluded: set[bytes]) -> np.ndarray:
        excluded = excluded | {mask_key(x) for x in self.options.prior_x}  # known: never proposed
        if len(history) < self.n_init:
            return initial_design_batch(self.dim, self.seed, self.n_init, history, q, excluded)
        X, y = successes(history)
        if len(self.options.prior_x):
            X = np.concatenate([X.reshape(-1, self.dim), np.asarray(self.options.prior_x, dtype=np.int8)])
            y = np.concatenate([y, np.asarray(self.options.prior_y, dtype=float)])
        if len(y) < 2:
            return weight_stratified_design(self.dim, q, rng_for(self.seed, len(history), _SALT_STARTS), excluded)
        with torch.random.fork_rng():
            torch.manual_seed(self.seed * 100_003 + len(history))
            return self._ask_model(X, y, q, excluded, rng_for(self.seed, len(history), _SALT_STARTS))

    def _ask_model(self, X: np.ndarray, y: np.ndarray, q: int, excluded: set[bytes],
                   rng: np.random.Generator) -> np.ndarray:
        o = self.options
        model, self._hypers = fit_gp(X, y, o, self._hypers, noise_var=o.noise_var)
        incumbent = _incumbent(model, X, X.sum(axis=1), o.bound, self.dim)
        self.info["n_obs"].append(len(y))
        self.info["incumbent"].append(incumbent)

        def pick(taken: set[bytes], chosen: list[np.ndarray]) -> np.ndarray | None:
            nonlocal model
            if chosen:  # kriging believer: the batch so far observed at its posterior mean
                model = _believe(model, chosen[-1], o.noise_var)
            return _maximize(_ConstrainedEI(model, o.bound, incumbent, o.max_step), self.dim, o, taken, rng, X)

        return propose_batch(self.dim, q, excluded, rng, pick)


def _believe(model: Any, x: np.ndarray, noise_var: float | None) -> Any:
    """The model conditioned on ``x`` observed at its posterior mean (kriging believer)."""
    tx = torch.as_tensor(np.asarray(x, dtype=float)[None], dtype=torch.double)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mean = model.posterior(tx).mean
        kwargs = {} if noise_var is None else {"noise": torch.full_like(mean, float(noise_var))}
        try:
            return model.condition_on_observations(tx, mean, **kwargs)
        except (RuntimeError, NotImplementedError, ValueError):
            return model


# ---------------------------------------------------------------- two fidelities
@dataclass
class MFStep:
    """One evaluation of :func:`sparsest_feasible_mf`: a mask at a fidelity (0: the screen, 1:
    the full evaluation), its value and the cost it added."""

    mask: str
    fidelity: int
    y: float
    cost: float


def sparsest_feasible_mf(evaluate: Callable[[np.ndarray, int], float], dim: int, budget: float,
                         options: CBOOptions, costs: tuple[float, float], seed: int = 0, n_init: int = 4,
                         noise_vars: tuple[float, float] | None = None, promote_p: float = 0.2,
                         prior: Sequence[tuple[str, int, float]] = ()) -> list[MFStep]:
    """The sparsest feasible mask with a cheap screen and early stopping: each new mask (the
    largest constrained EI *at fidelity 1*) is first evaluated at fidelity 0 (cost
    ``costs[0]``: the first epochs of its training); it is promoted to fidelity 1 (``costs[1]``
    more: the same training continued to its end, a nested prefix) only if, given the screen,
    it could be an answer: at most as many ones as the incumbent and ``P(feasible at fidelity
    1) >= promote_p``. Otherwise the training stops there. One GP models both fidelities (the
    fidelity an extra ARD input of the Hamming + linear kernel, so it learns how far the screen
    predicts the end). Only fidelity-1 values decide feasibility and the answer.

    Args:
        evaluate: ``evaluate(mask, fidelity) -> value`` (minimized).
        dim, budget: bits, and the total cost to spend.
        options: the bar (``bound``) and GP options (``prior_x``/``prior_y`` are ignored: use
            ``prior``).
        costs: cost of the screen, and of the rest of the training.
        seed, n_init: the weight-stratified initial design (screened, then promoted by the rule).
        noise_vars: noise variance at each fidelity (``None``: learned).
        promote_p: the feasibility probability a screened mask needs to be promoted.
        prior: ``(mask, fidelity, value)`` observations known before the search (the references:
            both fidelities of their trainings), not counted in the budget.

    Returns:
        Every step, in order.
    """
    steps: list[MFStep] = []
    spent, hypers = 0.0, None
    design = list(weight_stratified_design(dim, n_init, rng_for(seed, 0, 11), set()))
    seen: set[bytes] = {mask_key([int(c) for c in m]) for m, _, _ in prior}  # known: never screened

    def fit() -> tuple[Any, int]:
        nonlocal hypers
        rows = [(s.mask, s.fidelity, s.y) for s in steps] + list(prior)
        X = np.asarray([[int(c) for c in m] + [f] for m, f, _ in rows], dtype=np.int8)
        y = np.asarray([v for _, _, v in rows], dtype=float)
        yvar = None if noise_vars is None else np.asarray([noise_vars[int(f)] for f in X[:, -1]])
        model, hypers = fit_gp(X, y, options, hypers, noise_var=yvar)
        high = X[X[:, -1] == 1]
        return model, _incumbent(model, high, high[:, :-1].sum(axis=1), options.bound, dim)

    def run(x: np.ndarray, fidelity: int) -> None:
        nonlocal spent
        value = float(evaluate(np.asarray(x, dtype=np.int64), fidelity))
        spent += costs[fidelity]
        steps.append(MFStep("".join(map(str, x)), fidelity, value, costs[fidelity]))

    while spent + costs[0] <= budget:
        model, incumbent = fit()
        if design:
            x = design.pop(0)
        else:
            fresh = np.asarray([m for m in all_masks(dim) if mask_key(m) not in seen], dtype=np.int8)
            if len(fresh) == 0:
                break
            _, p = _feasibility(model, np.c_[fresh, np.ones(len(fresh), np.int8)], options.bound)
            gain = p * _gain(incumbent, fresh.sum(axis=1), options.max_step)
            x = fresh[int(np.argmax(gain + 1e-12 * np.arange(len(gain))[::-1]))]  # ties: first
        seen.add(mask_key(x))
        run(x, 0)
        if spent + costs[1] > budget:
            break
        model, incumbent = fit()
        _, p = _feasibility(model, np.r_[x, 1][None].astype(np.int8), options.bound)
        if int(np.sum(x)) <= incumbent and p[0] >= promote_p:
            run(x, 1)
    return steps


# ---------------------------------------------------------------- replicates inside the loop
def _race_observed(steps: list[Any], trained: np.ndarray, p: np.ndarray, bound: float, p_sure: float,
                   spent: set[str], train: Callable[[np.ndarray, str], bool]) -> bool:
    """Train again the fewest-ones mask whose observed mean clears the bar (then the best
    mean) if the model is unsure of it; whether a training was had."""
    values: dict[str, list[float]] = {}
    for s in steps:
        values.setdefault(s.mask, []).append(s.y)
    keys = ["".join(map(str, x)) for x in trained]
    ok = [(keys[i].count("1"), float(np.mean(values[keys[i]])), i) for i in range(len(keys))
          if np.mean(values[keys[i]]) <= bound + 1e-12]
    if not ok:
        return False
    i = min(ok)[2]
    return bool(p[i] < p_sure and keys[i] not in spent and train(trained[i], "replicate"))


@dataclass
class RacedStep:
    """One training of :func:`sparsest_feasible_raced`: a mask, which training of it this is
    (0: the first, 1: the first replicate, ...), its value, and why it was trained
    (``"design"``, ``"explore"``: a new mask by constrained EI, ``"replicate"``: the answer
    trained again)."""

    mask: str
    replicate: int
    y: float
    reason: str


def sparsest_feasible_raced(evaluate: Callable[[np.ndarray, int], float | None], dim: int, budget: int,
                            options: CBOOptions, seed: int = 0, n_init: int = 4,
                            p_sure: float = 0.9, same_count: str = "half",
                            race: str = "posterior") -> list[RacedStep]:
    """The sparsest feasible mask with replicates inside the loop (racing the answer).

    Each step fits the GP (``options``: kernel, the told ``noise_var`` per training, the
    ``prior_x``/``prior_y`` references) to every training so far, a replicated mask as several
    observations, and takes the current answer: among the trained masks whose posterior mean
    clears the bar, the fewest ones, then the best posterior mean. If the model is not sure of
    it (``P(feasible) < p_sure``), that mask is trained again; otherwise a new mask is trained,
    the one of largest constrained EI (``P(feasible) * (ones saved against the incumbent +
    1/2)``, as ``method="cbo"``). So a mask that cleared the bar by one lucky training is
    checked before the search builds on it (a lucky sparse incumbent would otherwise make
    every denser mask worthless to the acquisition, and the real answer is never trained),
    and the answer is judged by replicates, not by its best draw.

    Args:
        evaluate: ``evaluate(mask, k) -> value`` (minimized) of the ``k``-th training of a mask
            (``k = 0`` the first); ``None`` when no further training of it can be had (e.g. a
            table's replicates are spent): that costs nothing and the mask is not raced again.
        dim, budget: bits, and the trainings to spend.
        options: the bar (``bound``), GP options, the told noise and the references.
        seed, n_init: the weight-stratified initial design.
        p_sure: how sure of the answer's feasibility the model must be before the search moves on.
        same_count: what a new mask as sparse as the incumbent is worth: ``"half"`` (half a
            layer times ``P(feasible)``, as ``method="cbo"``) or ``"ei"`` (its expected
            improvement on the answer's posterior mean, one layer being worth the gap between
            the bar and the best value seen, e.g. epsilon for the BN search; a sparser mask is
            then worth ``P(feasible)`` per layer saved).
        race: which answer is raced: ``"posterior"`` (the fewest ones whose posterior mean
            clears the bar) or ``"observed"`` (also the fewest ones whose *observed* mean
            clears it, the answer a report picks from the trainings, raced first while the
            model is unsure of it).

    Returns:
        Every training, in order.
    """
    if not 0.0 < p_sure < 1.0:
        raise ValueError(f"p_sure must be in (0, 1), got {p_sure!r}")
    if same_count not in ("half", "ei"):
        raise ValueError(f"same_count must be 'half' or 'ei', got {same_count!r}")
    if race not in ("posterior", "observed"):
        raise ValueError(f"race must be 'posterior' or 'observed', got {race!r}")
    steps: list[RacedStep] = []
    hypers = None
    prior = [(tuple(x), float(v)) for x, v in zip(options.prior_x, options.prior_y)]
    known = {mask_key(x) for x, _ in prior}
    spent: set[str] = set()  # masks with no further training to have
    design = [x for x in weight_stratified_design(dim, n_init, rng_for(seed, 0, _SALT_STARTS), known)]

    def train(x: np.ndarray, reason: str) -> bool:
        mask = "".join(str(int(v)) for v in x)
        k = sum(s.mask == mask for s in steps)
        value = evaluate(np.asarray(x, dtype=np.int64), k)
        if value is None:
            spent.add(mask)
            return False
        steps.append(RacedStep(mask, k, float(value), reason))
        return True

    while len(steps) < budget:
        if design:
            train(design.pop(0), "design")
            continue
        X = np.asarray([[int(c) for c in s.mask] for s in steps] + [x for x, _ in prior], dtype=np.int8)
        y = np.asarray([s.y for s in steps] + [v for _, v in prior])
        with torch.random.fork_rng():
            torch.manual_seed(seed * 100_003 + len(steps))
            model, hypers = fit_gp(X, y, options, hypers, noise_var=options.noise_var)
        trained = np.unique(X[: len(steps)], axis=0)
        mean, p = _feasibility(model, trained, options.bound)
        ones = trained.sum(axis=1)
        ok = np.flatnonzero(mean <= options.bound)
        answer = None
        if race == "observed" and _race_observed(steps, trained, p, options.bound, p_sure, spent, train):
            continue
        if len(ok):
            i = min(ok, key=lambda j: (ones[j], mean[j]))
            mask = "".join(map(str, trained[i]))
            if p[i] < p_sure and mask not in spent and train(trained[i], "replicate"):
                continue
            gap = options.bound - float(y.min())
            answer = (float(mean[i]), gap) if same_count == "ei" and gap > 0 else None
        incumbent = int(ones[ok].min()) if len(ok) else dim + 1
        excluded = known | {mask_key(x) for x in trained} | {mask_key([int(c) for c in m]) for m in spent}
        rng = rng_for(seed, len(steps), _SALT_STARTS)
        acq = _ConstrainedEI(model, options.bound, incumbent, options.max_step, answer)
        x = _maximize(acq, dim, options, excluded, rng, trained)
        if x is None:
            break
        train(x, "explore")
    return steps
