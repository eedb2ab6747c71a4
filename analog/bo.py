"""Constrained Bayesian optimization for sizing (BoTorch).

Design space: the unit cube of :class:`~reram.analog.sizing.Problem` (log-scaled widths and
resistances). One GP per outcome (a batched ``SingleTaskGP``): outcome 0 is the objective
-log(FoM) of the targets, outcomes 1.. are the normalized spec slacks, which enter qLogEI as
outcome constraints (slack >= 0). A failed simulation is imputed as infeasible (every slack -1)
with the worst objective seen. Imports torch/BoTorch; loaded only when ``method="bo"``.
"""
from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import torch

from .problem import FOM_CAP, Evaluation, Problem

__all__ = ["run_bo", "BO_DEFAULTS"]

BO_DEFAULTS = {"n_init": None, "raw_samples": 1024, "fit_steps": 40, "mc_samples": 128}
"""Options: ``n_init`` Sobol points before the GP (default 2 * dim); ``raw_samples`` Sobol and
as many local candidates scored per step; Adam ``fit_steps`` per refit; ``mc_samples`` for qLogEI."""


def _targets(history: list[Evaluation], n_specs: int) -> np.ndarray:
    rows = []
    ok = [math.log(h.fom) for h in history if not h.metrics.get("failed") and 0 < h.fom < math.inf]
    worst = max(ok) if ok else math.log(FOM_CAP)
    for h in history:
        if h.metrics.get("failed") or not (0 < h.fom < math.inf):
            rows.append([-worst] + [-1.0] * n_specs)
        else:
            rows.append([-math.log(h.fom)] + list(h.slacks))
    return np.asarray(rows)


def _fit(model: Any, mll: Any, steps: int, lr: float = 0.05) -> None:
    """Fit GP hyperparameters by Adam on the marginal likelihood (fast and predictable here;
    SciPy's L-BFGS-B was orders of magnitude slower on loaded CPUs)."""
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    # constraints without a transform (BoTorch's noise bound) act on the raw value: clamp them
    bounded = [(param, constraint) for _, param, constraint in model.named_parameters_and_constraints()
               if constraint is not None and not constraint.enforced]
    for _ in range(steps):
        optimizer.zero_grad()
        output = model(*model.train_inputs)
        loss = -mll(output, model.train_targets).sum()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            for param, constraint in bounded:
                param.clamp_(float(constraint.lower_bound.min()), float(constraint.upper_bound.max()))
    model.eval()


def _candidates(problem: Problem, engine: Any, n_global: int, n_local: int, generator: torch.Generator,
                scale: float = 0.08) -> torch.Tensor:
    """Sobol points plus Gaussian perturbations of the five best evaluations (``N x d``)."""
    ranked = sorted(problem.history, key=lambda e: (0, e.fom) if e.feasible else (1, e.violation))[:5]
    centres = torch.tensor(np.stack([problem.encode(e.params) for e in ranked]), dtype=torch.double)
    picks = centres[torch.randint(len(ranked), (n_local,), generator=generator)]
    local = (picks + scale * torch.randn(n_local, problem.dim, generator=generator, dtype=torch.double)).clamp(0, 1)
    return torch.cat([engine.draw(n_global).double(), local])


def run_bo(problem: Problem, rng: np.random.Generator, seed: int, options: dict[str, Any]) -> None:
    """Run constrained BO until the budget is spent.

    Each step fits the GPs (Adam on the marginal likelihood, warm-started from the previous
    step), scores qLogEI with the spec constraints on ``raw_samples`` Sobol points plus as many
    perturbations of the best sizings, and simulates the best candidate.

    Args:
        problem: the evaluation interface.
        rng: unused (kept for the common signature).
        seed: seeds the Sobol designs and the MC sampler.
        options: see :data:`BO_DEFAULTS`.
    """
    from reram.runtime import import_botorch

    import_botorch()
    from botorch.acquisition.logei import qLogExpectedImprovement
    from botorch.acquisition.objective import GenericMCObjective
    from botorch.models import SingleTaskGP
    from botorch.models.transforms.outcome import Standardize
    from botorch.sampling import SobolQMCNormalSampler
    from gpytorch.mlls import ExactMarginalLogLikelihood

    unknown = set(options) - set(BO_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown BO option {sorted(unknown)[0]!r}; allowed: {', '.join(BO_DEFAULTS)}")
    opts = {**BO_DEFAULTS, **options}
    dim, n_specs = problem.dim, len(problem.specs)
    n_init = opts["n_init"] or min(2 * dim, problem.budget)
    generator = torch.Generator().manual_seed(seed)
    init_engine = torch.quasirandom.SobolEngine(dim, scramble=True, seed=seed)
    for point in init_engine.draw(n_init).double().numpy():
        problem.evaluate_unit(point)
    engine = torch.quasirandom.SobolEngine(dim, scramble=True, seed=seed + 1)
    objective = GenericMCObjective(lambda samples, X=None: samples[..., 0])
    constraints = [(lambda samples, k=k: -samples[..., 1 + k]) for k in range(n_specs)]
    state = None
    while problem.remaining > 0:
        train_x = torch.tensor(np.stack([problem.encode(h.params) for h in problem.history]), dtype=torch.double)
        train_y = torch.tensor(_targets(problem.history, n_specs), dtype=torch.double)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # BoTorch's input-scaling notes on the unit cube
            model = SingleTaskGP(train_x, train_y, outcome_transform=Standardize(m=train_y.shape[-1]))
            mll = ExactMarginalLogLikelihood(model.likelihood, model)
            if state is not None:
                model.load_state_dict(state, strict=False)
            _fit(model, mll, opts["fit_steps"] if state is not None else 3 * opts["fit_steps"])
            state = {k: v for k, v in model.state_dict().items() if "raw_" in k}
            feasible = (train_y[:, 1:] >= 0).all(dim=-1)
            best_f = train_y[feasible, 0].max() if feasible.any() else train_y[:, 0].min()
            sampler = SobolQMCNormalSampler(torch.Size([opts["mc_samples"]]), seed=seed + len(problem.history))
            acq = qLogExpectedImprovement(model, best_f=best_f, objective=objective, constraints=constraints,
                                          sampler=sampler)
            cands = _candidates(problem, engine, opts["raw_samples"], opts["raw_samples"], generator)
            with torch.no_grad():
                values = torch.cat([acq(chunk.unsqueeze(1)) for chunk in cands.split(512)])
        problem.evaluate_unit(cands[int(values.argmax())].numpy())
