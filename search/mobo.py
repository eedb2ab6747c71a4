"""Multi-objective Bayesian optimization over binary masks (``method="mobo"``).

Model: one GP per objective, each the binary-input GP of ``reram.search.bo`` (ARD Hamming +
linear kernel, fitted noise, standardized outcome, warm-started capped fits), joined in a
BoTorch ``ModelListGP``. Failed evaluations are left out of every model.

Acquisition (``MOBOOptions.acquisition``):
- ``"qnehvi"``: ``qLogNoisyExpectedHypervolumeImprovement`` (Daulton et al., NeurIPS 2021;
  the log form of Ament et al., NeurIPS 2023): the expected gain in hypervolume over the
  reference point, integrated over the noisy observed front; batches by sequential greedy
  with the chosen masks pending (cached box decompositions).
- ``"qnparego"``: ``qLogNParEGO``: noisy expected improvement of a random augmented
  Chebyshev scalarization, a new weight vector (uniform on the simplex, from the seed) per
  mask of a batch. Cheaper per candidate than qNEHVI, and the choice for more than three
  objectives.

Both are maximized over the binary space exactly as single-objective BO does
(``maximize_acquisition``): over every unevaluated mask when ``2**dim`` is small, else by
one-flip local search started from the observed Pareto set and random sparse masks.
Everything BoTorch maximizes is the negated objective; the user's reference point is in the
objective's own (minimized) units.

Imports torch, BoTorch and GPyTorch (the ``bo`` extra).
"""
from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from reram.runtime import import_botorch

import_botorch()

from botorch.acquisition.multi_objective.logei import (  # noqa: E402
    qLogNoisyExpectedHypervolumeImprovement,
)
from botorch.acquisition.multi_objective.parego import qLogNParEGO  # noqa: E402
from botorch.models import ModelListGP  # noqa: E402
from botorch.sampling import SobolQMCNormalSampler  # noqa: E402

from .baselines import initial_design_batch  # noqa: E402
from .bo import BOOptions, fit_gp, maximize_acquisition  # noqa: E402
from .pareto import pareto_mask  # noqa: E402
from .proposer import Proposer, propose_batch, rng_for, successes, weight_stratified_design  # noqa: E402
from .records import EvalRecord  # noqa: E402

__all__ = ["MOBOOptions", "MultiObjectiveBO", "ACQUISITIONS"]

ACQUISITIONS = ("qnehvi", "qnparego")
_SALT_STARTS = 41
_SALT_FALLBACK = 42
_SALT_WEIGHTS = 43


@dataclass
class MOBOOptions(BOOptions):
    """Options of multi-objective BO: those of ``BOOptions`` plus the acquisition.

    Attributes:
        acquisition: ``"qnehvi"`` (default) or ``"qnparego"`` (see the module docstring).
        mc_samples: quasi-MC samples of the acquisition (64 by default here: qNEHVI builds
            one box decomposition per sample).
    """

    acquisition: str = "qnehvi"
    mc_samples: int = 64

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.acquisition not in ACQUISITIONS:
            raise ValueError(f"acquisition must be one of {ACQUISITIONS}, got {self.acquisition!r}")


class MultiObjectiveBO(Proposer):
    """Multi-objective BO over ``{0, 1}^dim`` (see the module docstring).

    Args:
        dim: number of bits.
        seed: seed of the search.
        n_init: size of the weight-stratified initial design.
        ref_point: `m`-vector in objective units (minimized); hypervolume is measured below it.
        options: see ``MOBOOptions``.
    """

    name = "mobo"

    def __init__(self, dim: int, seed: int, n_init: int, ref_point: Sequence[float],
                 options: MOBOOptions | None = None) -> None:
        super().__init__(dim, seed, n_init)
        self.ref_point = [float(v) for v in ref_point]
        self.options = options or MOBOOptions()
        self._hypers: list[dict[str, list[Any]] | None] = [None] * len(self.ref_point)
        self.info = {"n_obs": [], "fit_s": [], "acq_s": []}

    def state_dict(self) -> dict[str, Any]:
        return {"hypers": self._hypers}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        hypers = state.get("hypers")
        if hypers is not None:
            self._hypers = list(hypers)

    def fit_model(self, X: np.ndarray, Y: np.ndarray) -> ModelListGP:
        """One warm-started GP per objective on minimization data `Y` (`n x m`)."""
        models = []
        for k in range(Y.shape[1]):
            model, self._hypers[k] = fit_gp(X, Y[:, k], self.options, self._hypers[k])
            models.append(model)
        return ModelListGP(*models)

    def _sampler(self, seed: int) -> SobolQMCNormalSampler:
        # a ModelListGP of GPyTorch models gives one joint multi-output posterior
        return SobolQMCNormalSampler(sample_shape=torch.Size([self.options.mc_samples]), seed=seed)

    def _acquisition(self, model: ModelListGP, X: np.ndarray, pending: list[np.ndarray],
                     rng: np.random.Generator, seed: int) -> Any:
        X_t = torch.as_tensor(X, dtype=torch.double)
        X_pending = torch.as_tensor(np.asarray(pending), dtype=torch.double) if pending else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if self.options.acquisition == "qnehvi":
                return qLogNoisyExpectedHypervolumeImprovement(
                    model, ref_point=[-v for v in self.ref_point], X_baseline=X_t,
                    sampler=self._sampler(seed), prune_baseline=True, X_pending=X_pending,
                )
            weights = torch.as_tensor(rng.dirichlet(np.ones(len(self.ref_point))),
                                      dtype=torch.double)
            return qLogNParEGO(model, X_baseline=X_t, scalarization_weights=weights,
                               sampler=self._sampler(seed), prune_baseline=True,
                               X_pending=X_pending)

    def _starts(self, X: np.ndarray, Y: np.ndarray, excluded: set[bytes],
                rng: np.random.Generator) -> np.ndarray:
        front = X[pareto_mask(Y)]
        n_front = min(len(front), self.options.n_starts // 2)
        front = front[rng.permutation(len(front))[:n_front]]
        rand = weight_stratified_design(self.dim, self.options.n_starts - n_front, rng, excluded)
        return np.concatenate([front, rand]).astype(np.int8)

    def ask(self, history: Sequence[EvalRecord], q: int, excluded: set[bytes]) -> np.ndarray:
        if len(history) < self.n_init:
            return initial_design_batch(self.dim, self.seed, self.n_init, history, q, excluded)
        X, Y = successes(history)
        if len(Y) < 2:
            rng = rng_for(self.seed, len(history), _SALT_FALLBACK)
            return weight_stratified_design(self.dim, q, rng, excluded)
        with torch.random.fork_rng():
            torch.manual_seed(self.seed * 100_003 + len(history))
            return self._ask_model(history, q, excluded, X, Y)

    def _ask_model(self, history: Sequence[EvalRecord], q: int, excluded: set[bytes],
                   X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        model = self.fit_model(X, Y)
        t1 = time.perf_counter()
        rng = rng_for(self.seed, len(history), _SALT_STARTS)
        weight_rng = rng_for(self.seed, len(history), _SALT_WEIGHTS)
        acq = None

        def pick(taken: set[bytes], chosen: list[np.ndarray]) -> np.ndarray | None:
            nonlocal acq
            if acq is None or self.options.acquisition == "qnparego":
                acq = self._acquisition(model, X, chosen, weight_rng, self.seed + len(history))
            else:
                acq.set_X_pending(torch.as_tensor(np.asarray(chosen), dtype=torch.double))
            return maximize_acquisition(acq, self.dim, self.options, taken, self._starts(X, Y, taken, rng))

        batch = propose_batch(self.dim, q, excluded, rng, pick)
        self.info["n_obs"].append(len(Y))
        self.info["fit_s"].append(t1 - t0)
        self.info["acq_s"].append(time.perf_counter() - t1)
        return batch
