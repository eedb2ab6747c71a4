"""Bayesian optimization over binary masks with BoTorch/GPyTorch (``method="bo"``).

Model: a ``SingleTaskGP`` on the 0/1 inputs whose kernel is the sum of an ARD Hamming kernel
and a scaled linear kernel (``kernel="hamming+linear"``, the default; ``"hamming"`` keeps only
the first). The Hamming part is BoTorch's default ARD squared-exponential kernel with its
dimension-scaled lengthscale prior: on binary inputs ``(x_i - x'_i)^2`` is the indicator
``[x_i != x'_i]``, so it *is* an ARD Hamming (categorical) kernel
``exp(-sum_i [x_i != x'_i] / (2 l_i^2))``. The linear part ``v x.x'`` models the additive
effect of each bit (each kept BN layer, each intervention), which the test problems and the BN
objective share; it was chosen by measurement (docs/search.md). A fitted Gaussian likelihood
models the noise of the objective (training runs are noisy); outcomes are standardized.

Cost control (the fit and the acquisition search are the per-iteration overhead):
- hyperparameters are warm-started from the previous fit and refined with a short L-BFGS-B
  run (``warm_fit_maxiter``, 10 iterations; ``fit_maxiter``, 30, for a fit from defaults);
- the acquisition, ``qLogNoisyExpectedImprovement`` (noise-aware, batches by sequential greedy
  with pending points), is maximized over all unevaluated masks when ``2**dim`` is at most
  ``exhaustive_limit``, else by steepest-ascent local search over one-flip (Hamming-1)
  neighbours from a few starts, evaluating each step's neighbours as one tensor batch.

Sparsity: the initial design and the random local-search starts are spread evenly over the
number of ones (see ``weight_stratified_design``), so masks with few ones are sampled far more
often than under fair coins. Evaluated or pending masks are never proposed again. Failed
evaluations are left out of the model (their masks stay excluded).

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

import_botorch()  # before any botorch import: silences one torch deprecation warning

from botorch.acquisition import AcquisitionFunction
from botorch.acquisition.logei import qLogNoisyExpectedImprovement
from botorch.exceptions import ModelFittingError
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.model import Model
from botorch.models.transforms import Standardize
from botorch.sampling import SobolQMCNormalSampler
from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior
from gpytorch.constraints import Positive
from gpytorch.kernels import Kernel, LinearKernel, ScaleKernel
from gpytorch.mlls import ExactMarginalLogLikelihood

from .baselines import initial_design_batch
from .proposer import (
    Proposer,
    all_masks,
    propose_batch,
    rng_for,
    successes,
    weight_stratified_design,
)
from .records import EvalRecord, mask_key

__all__ = [
    "BOOptions",
    "BayesianOptimization",
    "fit_gp",
    "Anova2Kernel",
    "acquisition_values",
    "local_search",
    "maximize_acquisition",
]

_SALT_STARTS = 21
_SALT_FALLBACK = 22
_CHUNK = 1024
KERNELS = ("hamming", "hamming+linear", "anova2")


@dataclass
class BOOptions:
    """Options of Bayesian optimization (``method="bo"``).

    Attributes:
        exhaustive_limit: maximize the acquisition over every unevaluated mask when
            ``2**dim`` is at most this; otherwise use local search.
        n_starts: local-search starts: half the best observed masks (by posterior mean),
            half random weight-stratified masks.
        max_local_steps: most one-flip moves per local-search start.
        mc_samples: quasi-MC samples of ``qLogNoisyExpectedImprovement``.
        fit_maxiter: most L-BFGS-B iterations of a fit from default hyperparameters (the
            first fit, or every fit with ``warm_start=False``).
        warm_fit_maxiter: most L-BFGS-B iterations of a warm-started fit (a few new points
            move the hyperparameters little; 10 instead of 30 cut the fit at d=21 with 250
            points about 3x, see benchmarks/bench_bo_overhead.py).
        warm_start: start each fit from the previous hyperparameters (else from defaults).
        kernel: ``"hamming+linear"`` (the default: an ARD Hamming kernel plus a scaled linear
            kernel, for objectives with a strong additive part), ``"hamming"`` (the ARD
            Hamming kernel alone) or ``"anova2"`` (:class:`Anova2Kernel`: main effects and
            pairwise interactions, a GP version of a quadratic model of the bits).
    """

    exhaustive_limit: int = 4096
    n_starts: int = 8
    max_local_steps: int = 25
    mc_samples: int = 128
    fit_maxiter: int = 30
    warm_fit_maxiter: int = 10
    warm_start: bool = True
    kernel: str = "hamming+linear"

    def __post_init__(self) -> None:
        if self.kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {KERNELS}, got {self.kernel!r}")
        for name in ("exhaustive_limit", "n_starts", "max_local_steps", "mc_samples",
                     "fit_maxiter", "warm_fit_maxiter"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


def fit_gp(
    X: np.ndarray,
    y: np.ndarray,
    options: BOOptions,
    hypers: dict[str, list[Any]] | None = None,
    noise_var: float | np.ndarray | None = None,
) -> tuple[SingleTaskGP, dict[str, list[Any]]]:
    """Fit the binary-input GP of ``BOOptions.kernel`` to minimization data.

    Args:
        X: `n x dim` 0/1 array of masks.
        y: `n`-array of objective values (lower is better; the model is fitted to `-y`).
        options: kernel, warm start and the L-BFGS-B iteration caps.
        hypers: hyperparameters of an earlier fit to start from (``None``: defaults).
        noise_var: the observation noise variance of `y` (a number, or one per point), known
            from replicates; ``None`` learns one noise level (a Gaussian likelihood).

    Returns:
        ``(model, hypers)``: the fitted ``SingleTaskGP`` in eval mode (larger is better) and
        its hyperparameters as JSON-serializable lists, for the next warm start.
    """
    dim = X.shape[1]
    train_x = torch.as_tensor(X, dtype=torch.double)
    train_y = -torch.as_tensor(y, dtype=torch.double).unsqueeze(-1)
    covar = None
    if options.kernel == "hamming+linear":
        covar = get_covar_module_with_dim_scaled_prior(dim) + ScaleKernel(LinearKernel())
    elif options.kernel == "anova2":
        covar = Anova2Kernel(dim)
    yvar = None
    if noise_var is not None:
        yvar = torch.as_tensor(np.broadcast_to(np.asarray(noise_var, dtype=float), y.shape).copy(),
                               dtype=torch.double).unsqueeze(-1)
    model = SingleTaskGP(train_x, train_y, train_Yvar=yvar, covar_module=covar, outcome_transform=Standardize(m=1))
    maxiter = options.fit_maxiter
    if options.warm_start and hypers is not None:
        maxiter = options.warm_fit_maxiter
        with torch.no_grad():
            for name, param in model.named_parameters():
                if name in hypers:
                    param.copy_(torch.as_tensor(hypers[name], dtype=param.dtype))
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit_gpytorch_mll(mll, optimizer_kwargs={"options": {"maxiter": maxiter}})
        except ModelFittingError:
            pass  # keep the (warm-started or default) hyperparameters
    model.eval()
    return model, {name: param.detach().tolist() for name, param in model.named_parameters()}


class Anova2Kernel(Kernel):
    """Second-order ANOVA kernel on 0/1 inputs: main effects plus pairwise interactions.

    With ``d_i = [x_i == x'_i]`` and a weight ``w_i`` per bit (ARD),
    ``k(x, x') = s1 * sum_i w_i d_i + s2 * sum_{i<j} w_i w_j d_i d_j`` (Duvenaud et al., NeurIPS
    2011, "Additive Gaussian processes", their order-2 additive kernel with a one-hot base
    kernel per bit). Its functions are exactly the quadratic models of the bits (every main
    effect and every pairwise interaction, with Gaussian priors whose scales ``s1``, ``s2`` and
    ``w`` are fitted), the GP form of BOCS's second-order model (Baptista and Poloczek, ICML
    2018). Chosen for the BN landscape, where an additive model explains 0.58 of the variance
    and one with pairwise terms 0.87 (docs/bn_search.md).
    """

    has_lengthscale = False

    def __init__(self, dim: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.register_parameter("raw_weights", torch.nn.Parameter(torch.zeros(dim, dtype=torch.double)))
        self.register_parameter("raw_scales", torch.nn.Parameter(torch.zeros(2, dtype=torch.double)))
        self.register_constraint("raw_weights", Positive())
        self.register_constraint("raw_scales", Positive())

    @property
    def weights(self) -> torch.Tensor:
        return self.raw_weights_constraint.transform(self.raw_weights)

    @property
    def scales(self) -> torch.Tensor:
        return self.raw_scales_constraint.transform(self.raw_scales)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, diag: bool = False, **params: Any) -> torch.Tensor:
        w = self.weights
        if diag:
            d = 1.0 - (x1 - x2).abs()
            wd = d * w
        else:
            wd = (1.0 - (x1.unsqueeze(-2) - x2.unsqueeze(-3)).abs()) * w  # ... n x m x dim
        e1 = wd.sum(-1)
        e2 = 0.5 * (e1**2 - (wd**2).sum(-1))
        s = self.scales
        return s[0] * e1 + s[1] * e2


def acquisition_values(acq: AcquisitionFunction, X: np.ndarray) -> np.ndarray:
    """The acquisition of each mask of `X` (`n x dim`) as a `q = 1` batch, in chunks."""
    out = np.empty(len(X))
    with torch.no_grad():
        for lo in range(0, len(X), _CHUNK):
            batch = torch.as_tensor(X[lo : lo + _CHUNK], dtype=torch.double).unsqueeze(1)
            out[lo : lo + _CHUNK] = acq(batch).numpy()
    return out


def local_search(
    acq: AcquisitionFunction, starts: np.ndarray, excluded: set[bytes], max_steps: int
) -> np.ndarray | None:
    """Steepest ascent over one-flip neighbours from each start.

    Args:
        acq: the acquisition function.
        starts: `s x dim` 0/1 start masks.
        excluded: keys of masks that must not be proposed (their value counts as -inf).
        max_steps: most moves per start.

    Returns:
        The best unexcluded mask seen, or ``None`` if every mask seen was excluded.
    """
    dim = starts.shape[1]
    cache: dict[bytes, float] = {}

    def values(X: np.ndarray) -> np.ndarray:
        keys = [mask_key(x) for x in X]
        todo = {k: x for k, x in zip(keys, X) if k not in cache and k not in excluded}
        if todo:
            vals = acquisition_values(acq, np.asarray(list(todo.values())))
            cache.update(zip(todo.keys(), vals))
        return np.asarray([cache.get(k, -np.inf) for k in keys])

    cur = starts.copy()
    cur_val = values(cur)
    idx = np.arange(dim)
    for _ in range(max_steps):
        if len(cur) == 0:
            break
        neigh = np.repeat(cur[:, None, :], dim, axis=1)  # m x d x d
        neigh[:, idx, idx] = 1 - neigh[:, idx, idx]
        vals = values(neigh.reshape(-1, dim)).reshape(len(cur), dim)
        j = vals.argmax(axis=1)
        best = vals[np.arange(len(cur)), j]
        moved = best > cur_val
        if not moved.any():
            break
        cur = neigh[np.arange(len(cur)), j][moved]
        cur_val = best[moved]
    if not cache:
        return None
    best_key = max(cache, key=cache.__getitem__)
    return np.frombuffer(best_key, dtype=np.uint8).astype(np.int8)


def maximize_acquisition(
    acq: AcquisitionFunction,
    dim: int,
    options: BOOptions,
    excluded: set[bytes],
    starts: np.ndarray | None,
) -> np.ndarray | None:
    """The unexcluded mask of largest acquisition: exact over every mask when ``2**dim`` is
    at most ``options.exhaustive_limit``, else ``local_search`` from `starts`.

    Returns:
        A `dim`-array of 0/1, or ``None`` when nothing unexcluded was found.
    """
    if 2**dim <= options.exhaustive_limit:
        masks = all_masks(dim)
        keep = np.fromiter((mask_key(m) not in excluded for m in masks), bool, len(masks))
        cands = masks[keep]
        if len(cands) == 0:
            return None
        return cands[int(np.argmax(acquisition_values(acq, cands)))]
    if starts is None or len(starts) == 0:
        return None
    return local_search(acq, starts, excluded, options.max_local_steps)


class BayesianOptimization(Proposer):
    """GP-based Bayesian optimization over ``{0, 1}^dim`` (see the module docstring).

    Args:
        dim: number of bits.
        seed: seed of the search.
        n_init: size of the weight-stratified initial design.
        options: see ``BOOptions``.
    """

    name = "bo"

    def __init__(self, dim: int, seed: int, n_init: int, options: BOOptions | None = None) -> None:
        super().__init__(dim, seed, n_init)
        self.options = options or BOOptions()
        self._hypers: dict[str, list[Any]] | None = None
        self.info = {"n_obs": [], "fit_s": [], "acq_s": []}

    # ---- state (warm-start hyperparameters), JSON-serializable
    def state_dict(self) -> dict[str, Any]:
        return {"hypers": self._hypers}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._hypers = state.get("hypers")

    # ---- model
    def fit_model(self, X: np.ndarray, y: np.ndarray) -> SingleTaskGP:
        """Fit the GP to minimization data (warm-started from the previous fit).

        Args:
            X: `n x dim` 0/1 array of masks.
            y: `n`-array of objective values (lower is better; negated inside).

        Returns:
            The fitted ``SingleTaskGP`` (on `-y`, so larger is better).
        """
        model, self._hypers = fit_gp(X, y, self.options, self._hypers)
        return model

    def _maximize(
        self,
        acq: AcquisitionFunction,
        model: Model,
        X: np.ndarray,
        excluded: set[bytes],
        rng: np.random.Generator,
    ) -> np.ndarray | None:
        if 2**self.dim <= self.options.exhaustive_limit:
            return maximize_acquisition(acq, self.dim, self.options, excluded, None)
        n_best = self.options.n_starts // 2
        with torch.no_grad():
            mean = model.posterior(torch.as_tensor(X, dtype=torch.double)).mean.squeeze(-1)
        top = X[np.argsort(-mean.numpy(), kind="stable")[:n_best]]
        rand = weight_stratified_design(self.dim, self.options.n_starts - len(top), rng, excluded)
        starts = np.concatenate([top, rand]).astype(np.int8)
        return maximize_acquisition(acq, self.dim, self.options, excluded, starts)

    def ask(self, history: Sequence[EvalRecord], q: int, excluded: set[bytes]) -> np.ndarray:
        if len(history) < self.n_init:
            return initial_design_batch(self.dim, self.seed, self.n_init, history, q, excluded)
        X, y = successes(history)
        if len(y) < 2:  # nothing to model yet: more of a sparse random design
            rng = rng_for(self.seed, len(history), _SALT_FALLBACK)
            return weight_stratified_design(self.dim, q, rng, excluded)
        with torch.random.fork_rng():  # seed torch locally, leave the caller's RNG alone
            torch.manual_seed(self.seed * 100_003 + len(history))
            return self._ask_model(history, q, excluded, X, y)

    def _ask_model(
        self,
        history: Sequence[EvalRecord],
        q: int,
        excluded: set[bytes],
        X: np.ndarray,
        y: np.ndarray,
    ) -> np.ndarray:
        t0 = time.perf_counter()
        model = self.fit_model(X, y)
        t1 = time.perf_counter()
        sampler = SobolQMCNormalSampler(
            sample_shape=torch.Size([self.options.mc_samples]), seed=self.seed + len(history)
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            acq = qLogNoisyExpectedImprovement(
                model, torch.as_tensor(X, dtype=torch.double), sampler=sampler,
                prune_baseline=True, cache_root=True,
            )
        rng = rng_for(self.seed, len(history), _SALT_STARTS)

        def pick(taken: set[bytes], chosen: list[np.ndarray]) -> np.ndarray | None:
            if chosen:
                acq.set_X_pending(torch.as_tensor(np.asarray(chosen), dtype=torch.double))
            return self._maximize(acq, model, X, taken, rng)

        batch = propose_batch(self.dim, q, excluded, rng, pick)
        t2 = time.perf_counter()
        self.info["n_obs"].append(len(y))
        self.info["fit_s"].append(t1 - t0)
        self.info["acq_s"].append(t2 - t1)
        return batch
