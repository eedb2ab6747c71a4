"""Spec-conditioned sizing that learns once and sizes many: ``train_policy`` / ``deploy``.

In the spirit of AutoCkt (Settaluri et al., DATE 2020): one agent is trained on target specs drawn
at random from a documented range around a circuit's published specs, saved to a file, and then
meets new, unseen specs with a few simulations each and no retraining.

The agent is an actor-critic for one-step episodes (as :mod:`.rl`, DDPG-style):

* the **actor** maps a normalized spec vector to a sizing in the unit cube;
* the **critic** predicts the circuit's spec metrics (log scale; dB as is) and the probability
  that the simulation fails, from a sizing. Because the metrics do not depend on the spec, one
  simulation scores every spec: the reward of any spec is computed from the predicted metrics
  (hindsight relabelling), so every simulation trains the agent for the whole spec range;
* the actor climbs the critic's predicted reward, minus the soft shortfall of each predicted
  metric below its spec in standardized units (:meth:`SpecPolicy.loss_with`; unlike the bounded
  normalized slack its gradient does not vanish far from the spec) and the predicted failure
  probability, over freshly drawn specs. Training rounds: refit the critic, update the actor, simulate a batch of the
  actor's sizings for new training specs with Gaussian exploration (annealed).

Deployment (``method="rl-transfer"`` of :func:`~reram.analog.sizing.size`, or
:func:`~reram.analog.sizing.deploy`):
the first simulation is the actor's sizing for the spec; while the specs are not met, the critic
is fine-tuned on what this spec's simulations showed (with replay of the training data) and the
next sizing is the candidate near the actor's proposal or the best sizing so far with the best
predicted reward.

The policy file (``torch.save``; loads with ``weights_only=True``) holds the networks, the spec
range, the normalization and the training simulations (for replay). Imports torch; never imports
:mod:`.sizing` (the front door imports this module for ``method="rl-transfer"``).
"""
from __future__ import annotations

import copy
import json
import math
import os
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from reram.io import atomic_write

from .circuit import Circuit, Spec, parse_specs
from .evaluate import BACKENDS, evaluate
from .library import get_circuit
from .problem import Problem
from .process import Level1Process, SpiceModelCards

__all__ = ["SpecRange", "SpecPolicy", "train_policy", "load_policy", "run_transfer",
           "default_spec_range", "TRAIN_DEFAULTS", "DEPLOY_DEFAULTS", "POLICY_FORMAT"]

POLICY_FORMAT = "reram.analog.spec_policy/1"

TRAIN_DEFAULTS = {"n_warmup": None, "round_size": 32, "hidden": 128, "critic_steps": 150, "actor_steps": 60,
                  "batch_size": 256, "lr": 2e-3, "noise_start": 0.3, "noise_end": 0.05, "margin": 0.05}
"""Training options: ``n_warmup`` uniform sizings first (default 10 * dim); simulations per
round; hidden width; critic and actor gradient steps per round; minibatch; Adam learning rate;
exploration noise annealed from ``noise_start`` to ``noise_end``; ``margin`` (in standardized
critic units) the actor aims past each spec."""

DEPLOY_DEFAULTS = {"policy": None, "candidates": 512, "finetune_steps": 20, "local_scale": 0.06}
"""Deployment options: ``policy`` (a :class:`SpecPolicy` or its file), candidates scored per
step, critic fine-tuning steps per simulation, spread of the local candidates."""


def default_spec_range(circuit: Circuit, specs: Sequence[Spec] | None = None) -> "SpecRange":
    """The documented training range: every ``>=`` spec from 0.6 to 1.15 times its published
    value and every ``<=`` spec from 0.4 to 1.0 times (log-uniform; dB specs uniform)."""
    base = tuple(specs or circuit.specs)
    factors = tuple((0.6, 1.15) if s.op == ">=" else (0.4, 1.0) for s in base)
    return SpecRange(base, factors)


def _is_db(metric: str) -> bool:
    return metric.endswith("_db")


@dataclass(frozen=True)
class SpecRange:
    """Where training (and test) specs are drawn: spec ``k`` takes values in
    ``[factors[k][0], factors[k][1]] * base[k].value``, log-uniformly (uniformly for dB)."""

    base: tuple[Spec, ...]
    factors: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        if len(self.base) != len(self.factors) or not self.base:
            raise ValueError("SpecRange needs one (low, high) factor pair per spec")
        for spec, (low, high) in zip(self.base, self.factors):
            if not (0 < low <= high):
                raise ValueError(f"spec range of {spec.metric} must satisfy 0 < low <= high, got {(low, high)}")
            if spec.value <= 0:
                raise ValueError(f"spec {spec} must be positive to be scaled by a range")

    def bounds(self) -> np.ndarray:
        """``k x 2`` array of (low, high) values."""
        return np.array([[lo * s.value, hi * s.value] for s, (lo, hi) in zip(self.base, self.factors)])

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n x k`` spec values."""
        u = rng.random((n, len(self.base)))
        return self.from_unit(u)

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Spec values for unit coordinates (``n x k``)."""
        b = self.bounds()
        out = np.empty_like(u, dtype=float)
        for k, spec in enumerate(self.base):
            if _is_db(spec.metric):
                out[:, k] = b[k, 0] + u[:, k] * (b[k, 1] - b[k, 0])
            else:
                out[:, k] = np.exp(np.log(b[k, 0]) + u[:, k] * (np.log(b[k, 1]) - np.log(b[k, 0])))
        return out

    def encode(self, values: np.ndarray) -> np.ndarray:
        """Spec values (``n x k``) to network inputs in [-1, 1] over the range (may exceed it)."""
        b = self.bounds()
        values = np.atleast_2d(values).astype(float)
        out = np.empty_like(values)
        for k, spec in enumerate(self.base):
            if _is_db(spec.metric):
                lo, hi, v = b[k, 0], b[k, 1], values[:, k]
            else:
                lo, hi, v = np.log(b[k, 0]), np.log(b[k, 1]), np.log(np.maximum(values[:, k], 1e-300))
            out[:, k] = 2 * (v - lo) / max(hi - lo, 1e-12) - 1
        return out

    def specs(self, values: Sequence[float]) -> tuple[Spec, ...]:
        """The :class:`Spec` objects for one row of values."""
        return tuple(Spec(s.metric, s.op, float(v)) for s, v in zip(self.base, values))


class _MLP(nn.Module):
    """Two hidden SiLU layers; ``squash`` maps the output into (0, 1) by a sigmoid."""

    def __init__(self, n_in: int, n_out: int, hidden: int, squash: bool) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_in, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                                 nn.Linear(hidden, n_out))
        self.squash = squash

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        return torch.sigmoid(out) if self.squash else out

    def saturation(self, x: torch.Tensor) -> torch.Tensor:
        """Penalty on pre-sigmoid outputs beyond +-3 (keeps the actor's gradient alive)."""
        return (nn.functional.relu(self.net(x).abs() - 3.0) ** 2).mean()


class SpecPolicy:
    """A trained spec-conditioned agent: actor (spec -> sizing) and critic (sizing -> metrics).

    Built by :func:`train_policy`; :meth:`save` / :func:`load_policy` give the shareable file.

    Attributes:
        circuit: the circuit it sizes.
        spec_range: where its training specs were drawn.
        training_simulations: simulations spent training it.
    """

    def __init__(self, circuit: Circuit, spec_range: SpecRange, hidden: int, seed: int = 0) -> None:
        self.circuit = circuit
        self.spec_range = spec_range
        self.hidden = hidden
        self.seed = seed
        torch.manual_seed(seed)
        k, dim = len(spec_range.base), len(circuit.variables)
        self.actor = _MLP(k, dim, hidden, squash=True)
        self.critic = _MLP(dim, k + 1, hidden, squash=False)
        self.y_mean = torch.zeros(k)
        self.y_std = torch.ones(k)
        self.train_x = np.zeros((0, dim))
        self.train_y = np.zeros((0, k))
        self.train_fail = np.zeros(0, dtype=bool)
        self.training_simulations = 0
        self.backend = "ngspice"

    # -- metrics <-> network targets ------------------------------------------------------------
    @property
    def metrics(self) -> tuple[str, ...]:
        """The spec metrics the critic predicts."""
        return tuple(s.metric for s in self.spec_range.base)

    def transform(self, metrics: Mapping[str, Any]) -> tuple[np.ndarray, bool]:
        """Critic targets of one simulation (log of positive metrics, dB floored) and its failure."""
        failed = bool(metrics.get("failed"))
        row = np.zeros(len(self.metrics))
        for k, (name, spec) in enumerate(zip(self.metrics, self.spec_range.base)):
            value = metrics.get(name)
            if not isinstance(value, (int, float)) or not math.isfinite(float(value)):
                return row, True
            if _is_db(name):
                row[k] = max(float(value), spec.value * self.spec_range.factors[k][0] - 60.0)
            else:
                row[k] = math.log(max(float(value), 1e-30))
        return row, failed

    def predicted_slacks(self, x: torch.Tensor, spec_values: torch.Tensor,
                         critic: nn.Module | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Predicted normalized slacks (``n x k``) and failure logits (``n``) of sizings ``x``
        (``n x dim``) for specs (``n x k`` values), by ``critic`` (default the policy's)."""
        out = (critic or self.critic)(x)
        y = out[:, :-1] * self.y_std + self.y_mean
        slacks = []
        for k, spec in enumerate(self.spec_range.base):
            if _is_db(spec.metric):
                m, v = y[:, k], spec_values[:, k]
                s = (m - v) / (m.abs() + v.abs() + 1e-9)
            else:
                s = torch.tanh(0.5 * (y[:, k] - torch.log(spec_values[:, k])))
            slacks.append(s if spec.op == ">=" else -s)
        return torch.stack(slacks, dim=1), out[:, -1]

    def loss(self, x: torch.Tensor, spec_values: torch.Tensor, margin: float) -> torch.Tensor:
        """Per-row predicted cost (see :meth:`loss_with`) by the policy's critic."""
        return self.loss_with(self.critic, x, spec_values, margin)

    def loss_with(self, critic: nn.Module, x: torch.Tensor, spec_values: torch.Tensor, margin: float) -> torch.Tensor:
        """Per-row predicted cost of sizings ``x`` for specs ``spec_values``: the soft shortfall of
        each predicted metric below its spec (in standardized critic units, so the gradient does
        not vanish far from the spec, unlike the bounded slack), aiming ``margin`` past it, plus
        the predicted failure probability."""
        out = critic(x)
        y = out[:, :-1]
        costs = []
        for k, spec in enumerate(self.spec_range.base):
            target = spec_values[:, k] if _is_db(spec.metric) else torch.log(spec_values[:, k])
            target = (target - self.y_mean[k]) / self.y_std[k]
            excess = y[:, k] - target if spec.op == ">=" else target - y[:, k]
            costs.append(nn.functional.softplus(20.0 * (margin - excess)) / 20.0)
        return torch.stack(costs, dim=1).sum(dim=1) + torch.sigmoid(out[:, -1])

    def propose(self, spec_values: np.ndarray) -> np.ndarray:
        """The actor's sizings (unit cube, ``n x dim``) for spec values (``n x k``)."""
        with torch.no_grad():
            return self.actor(torch.tensor(self.spec_range.encode(spec_values), dtype=torch.float32)).double().numpy()

    # -- persistence --------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """Everything needed to rebuild the policy (tensors and plain values only)."""
        return {"format": POLICY_FORMAT, "circuit": self.circuit.name,
                "variables": list(self.circuit.variable_names),
                "specs": [[s.metric, s.op, s.value] for s in self.spec_range.base],
                "factors": [list(f) for f in self.spec_range.factors], "hidden": self.hidden, "seed": self.seed,
                "actor": self.actor.state_dict(), "critic": self.critic.state_dict(),
                "y_mean": self.y_mean.clone(), "y_std": self.y_std.clone(),
                "train_x": torch.tensor(self.train_x), "train_y": torch.tensor(self.train_y),
                "train_fail": torch.tensor(self.train_fail), "training_simulations": self.training_simulations,
                "backend": self.backend}

    @classmethod
    def from_state(cls, state: Mapping[str, Any], circuit: Circuit | None = None) -> "SpecPolicy":
        """Rebuild from :meth:`state` (``circuit`` for a custom circuit object)."""
        if state.get("format") != POLICY_FORMAT:
            raise ValueError(f"not a spec policy (format {state.get('format')!r}, expected {POLICY_FORMAT!r})")
        circ = get_circuit(circuit if circuit is not None else state["circuit"])
        if list(circ.variable_names) != list(state["variables"]):
            raise ValueError(f"policy was trained for variables {state['variables']}, circuit {circ.name} has "
                             f"{list(circ.variable_names)}")
        spec_range = SpecRange(tuple(Spec(m, op, float(v)) for m, op, v in state["specs"]),
                               tuple((float(a), float(b)) for a, b in state["factors"]))
        policy = cls(circ, spec_range, int(state["hidden"]), int(state["seed"]))
        policy.actor.load_state_dict(state["actor"])
        policy.critic.load_state_dict(state["critic"])
        policy.y_mean, policy.y_std = state["y_mean"].float(), state["y_std"].float()
        policy.train_x = state["train_x"].double().numpy()
        policy.train_y = state["train_y"].double().numpy()
        policy.train_fail = state["train_fail"].bool().numpy()
        policy.training_simulations = int(state["training_simulations"])
        policy.backend = str(state["backend"])
        return policy

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the policy file (atomic)."""
        atomic_write(path, lambda tmp: torch.save(self.state(), tmp))


def load_policy(path: str | os.PathLike[str], circuit: Circuit | None = None) -> SpecPolicy:
    """Load a policy file written by :meth:`SpecPolicy.save` (safe: ``weights_only=True``).

    Raises:
        ValueError: naming the file when it is missing or not a policy.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ValueError(f"policy file {os.fspath(path)} does not exist") from None
    except Exception as exc:  # noqa: BLE001 - any unpickling problem is a bad file
        raise ValueError(f"policy file {os.fspath(path)} could not be read ({type(exc).__name__}: {exc})") from None
    if not isinstance(state, dict):
        raise ValueError(f"policy file {os.fspath(path)} is not a spec policy")
    try:
        return SpecPolicy.from_state(state, circuit)
    except ValueError as exc:
        raise ValueError(f"policy file {os.fspath(path)}: {exc}") from None


def _critic_fit(policy: SpecPolicy, optimizer: torch.optim.Optimizer, rng: np.random.Generator, steps: int,
                batch_size: int) -> None:
    """Refit the critic on every simulation so far (normalization from the data)."""
    x = torch.tensor(policy.train_x, dtype=torch.float32)
    fail = torch.tensor(policy.train_fail, dtype=torch.float32)
    ok = ~policy.train_fail
    if ok.any():
        policy.y_mean = torch.tensor(policy.train_y[ok].mean(axis=0), dtype=torch.float32)
        policy.y_std = torch.tensor(policy.train_y[ok].std(axis=0) + 1e-6, dtype=torch.float32)
    y = ((torch.tensor(policy.train_y, dtype=torch.float32) - policy.y_mean) / policy.y_std).clamp(-5, 5)
    for _ in range(steps):
        idx = torch.from_numpy(rng.integers(0, len(x), size=min(batch_size, len(x))))
        out = policy.critic(x[idx])
        keep = (1 - fail[idx]).unsqueeze(1)
        mse = ((out[:, :-1] - y[idx]) ** 2 * keep).sum() / keep.sum().clamp(min=1) / y.shape[1]
        loss = mse + 0.1 * nn.functional.binary_cross_entropy_with_logits(out[:, -1], fail[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def _actor_fit(policy: SpecPolicy, optimizer: torch.optim.Optimizer, rng: np.random.Generator, steps: int,
               batch_size: int, margin: float) -> None:
    """Move the actor up the critic's predicted reward over freshly drawn training specs."""
    for param in policy.critic.parameters():
        param.requires_grad_(False)
    try:
        for _ in range(steps):
            values = policy.spec_range.sample(rng, batch_size)
            spec_in = torch.tensor(policy.spec_range.encode(values), dtype=torch.float32)
            loss = policy.loss(policy.actor(spec_in), torch.tensor(values, dtype=torch.float32), margin).mean()
            loss = loss + 0.01 * policy.actor.saturation(spec_in)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    finally:
        for param in policy.critic.parameters():
            param.requires_grad_(True)


def _check_options(options: Mapping[str, Any] | None, defaults: Mapping[str, Any], what: str) -> dict[str, Any]:
    unknown = set(options or {}) - set(defaults)
    if unknown:
        raise ValueError(f"unknown {what} option {sorted(unknown)[0]!r}; allowed: {', '.join(defaults)}")
    return {**defaults, **(options or {})}


class _TrainState:
    """The training run's data, optimizers and random state, saved as one checkpoint file."""

    def __init__(self, policy: SpecPolicy, opts: dict[str, Any], seed: int, header: dict[str, Any]) -> None:
        self.policy = policy
        self.header = header
        self.rng = np.random.default_rng(seed)
        self.critic_opt = torch.optim.Adam(policy.critic.parameters(), lr=opts["lr"])
        self.actor_opt = torch.optim.Adam(policy.actor.parameters(), lr=opts["lr"])
        self.rounds = 0
        self.successes: list[int] = []

    def save(self, path: str) -> None:
        state = {"header": json.dumps(self.header), "policy": self.policy.state(),
                 "critic_opt": self.critic_opt.state_dict(), "actor_opt": self.actor_opt.state_dict(),
                 "rng": json.dumps(self.rng.bit_generator.state), "rounds": self.rounds,
                 "successes": list(self.successes)}
        atomic_write(path, lambda tmp: torch.save(state, tmp))

    def load(self, path: str) -> None:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - a damaged checkpoint names itself
            raise ValueError(f"checkpoint {path} could not be read ({type(exc).__name__}: {exc})") from None
        saved = json.loads(state["header"])
        for key, value in self.header.items():
            if key != "budget" and saved.get(key) != value:
                raise ValueError(f"cannot resume {path}: its {key} is {saved.get(key)!r}, not {value!r}")
        policy = SpecPolicy.from_state(state["policy"], self.policy.circuit)
        self.policy.actor.load_state_dict(policy.actor.state_dict())
        self.policy.critic.load_state_dict(policy.critic.state_dict())
        for name in ("y_mean", "y_std", "train_x", "train_y", "train_fail", "training_simulations"):
            setattr(self.policy, name, getattr(policy, name))
        self.critic_opt.load_state_dict(state["critic_opt"])
        self.actor_opt.load_state_dict(state["actor_opt"])
        self.rng.bit_generator.state = json.loads(state["rng"])
        self.rounds = int(state["rounds"])
        self.successes = [int(s) for s in state["successes"]]


def _simulate(policy: SpecPolicy, units: np.ndarray, backend: str, process: Any, timeout_s: float,
              bar: Any) -> list[dict[str, Any]]:
    out = []
    for unit in units:
        params = {v.name: v.from_unit(float(u)) for v, u in zip(policy.circuit.variables, unit)}
        out.append(evaluate(policy.circuit, params, backend=backend, process=process, timeout_s=timeout_s))
        bar.update(1)
    return out


def _append(policy: SpecPolicy, units: np.ndarray, metrics: list[dict[str, Any]]) -> None:
    rows = [policy.transform(m) for m in metrics]
    policy.train_x = np.vstack([policy.train_x, units])
    policy.train_y = np.vstack([policy.train_y, np.array([r[0] for r in rows]).reshape(len(rows), -1)])
    policy.train_fail = np.concatenate([policy.train_fail, np.array([r[1] for r in rows], dtype=bool)])
    policy.training_simulations = len(policy.train_x)


def train_policy(circuit: str | Circuit, budget: int = 2000, backend: str = "ngspice", seed: int = 0,
                 spec_range: SpecRange | None = None, process: Level1Process | SpiceModelCards | None = None,
                 checkpoint_path: str | None = None, resume: bool = False, out: str | None = None,
                 progress: bool = True, timeout_s: float = 30.0,
                 options: Mapping[str, Any] | None = None) -> SpecPolicy:
    """Train a spec-conditioned policy with ``budget`` simulations.

    Args:
        circuit: a circuit name or :class:`Circuit`.
        budget: training simulations in all (warm-up included).
        backend: ``"analytic"`` or ``"ngspice"``.
        seed: seeds the networks, the training specs, exploration and minibatches.
        spec_range: where training specs are drawn (default :func:`default_spec_range`).
        process: device models (default the L2DC level-1 process).
        checkpoint_path: written after the warm-up and after every round (atomic).
        resume: continue from ``checkpoint_path`` (same circuit, backend, seed, range and
            options; a larger budget continues the run). A run resumed from a round boundary
            gives the same policy as an uninterrupted one.
        out: write the trained policy file here.
        progress: show a progress bar (the postfix is the share of the last round's exploration
            sizings that met their own training specs).
        timeout_s: limit of one simulation.
        options: see :data:`TRAIN_DEFAULTS`.

    Returns:
        The trained :class:`SpecPolicy`.

    Example:
        >>> policy = train_policy("tia3", budget=2000, out="tia3_policy.pt")
        >>> reram.analog.deploy(policy, {"transimpedance_ohm": (">=", 18e3), "bandwidth_hz": (">=", 80e6),
        ...                              "power_w": ("<=", 2e-3)}, budget=50).meets_specs
    """
    circ = get_circuit(circuit)
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ValueError(f"budget must be an integer >= 1, got {budget!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    if resume and not checkpoint_path:
        raise ValueError("resume=True needs a checkpoint_path to resume from")
    opts = _check_options(options, TRAIN_DEFAULTS, "training")
    spec_range = spec_range or default_spec_range(circ)
    parse_specs(list(spec_range.base), circ)  # metrics must be the circuit's
    policy = SpecPolicy(circ, spec_range, int(opts["hidden"]), seed)
    policy.backend = backend
    header = {"circuit": circ.name, "backend": backend, "seed": seed, "budget": budget,
              "specs": [str(s) for s in spec_range.base], "factors": [list(f) for f in spec_range.factors],
              "options": {k: v for k, v in opts.items()}}
    run = _TrainState(policy, opts, seed, header)
    if resume and checkpoint_path and os.path.exists(checkpoint_path):
        run.load(checkpoint_path)
    _train_loop(run, opts, budget, backend, process, timeout_s, checkpoint_path, progress)
    if out:
        policy.save(out)
    return policy


def _train_loop(run: _TrainState, opts: dict[str, Any], budget: int, backend: str, process: Any,
                timeout_s: float, checkpoint_path: str | None, progress: bool) -> None:
    policy, rng = run.policy, run.rng
    dim = len(policy.circuit.variables)
    n_warmup = min(int(opts["n_warmup"] or 10 * dim), budget)
    bar = tqdm(total=budget, initial=len(policy.train_x), desc=f"train {policy.circuit.name}",
               disable=not progress, leave=False)
    try:
        if len(policy.train_x) < n_warmup:
            units = rng.random((n_warmup, dim))
            _append(policy, units, _simulate(policy, units, backend, process, timeout_s, bar))
            if checkpoint_path:
                run.save(checkpoint_path)
        total_rounds = max(1, math.ceil((budget - n_warmup) / opts["round_size"]))
        while len(policy.train_x) < budget:
            _critic_fit(policy, run.critic_opt, rng, int(opts["critic_steps"]), int(opts["batch_size"]))
            _actor_fit(policy, run.actor_opt, rng, int(opts["actor_steps"]), int(opts["batch_size"]),
                       float(opts["margin"]))
            n = min(int(opts["round_size"]), budget - len(policy.train_x))
            values = policy.spec_range.sample(rng, n)
            frac = min(run.rounds / max(total_rounds - 1, 1), 1.0)
            sigma = opts["noise_start"] * (1 - frac) + opts["noise_end"] * frac
            units = np.clip(policy.propose(values) + sigma * rng.normal(size=(n, dim)), 0.0, 1.0)
            metrics = _simulate(policy, units, backend, process, timeout_s, bar)
            met = sum(all(s.met(m) for s in policy.spec_range.specs(v)) and not m.get("failed")
                      for v, m in zip(values, metrics))
            _append(policy, units, metrics)
            run.rounds += 1
            run.successes.append(int(met))
            bar.set_postfix(met=f"{met}/{n}", refresh=False)
            if checkpoint_path:
                run.save(checkpoint_path)
        _critic_fit(policy, run.critic_opt, rng, int(opts["critic_steps"]), int(opts["batch_size"]))
        _actor_fit(policy, run.actor_opt, rng, int(opts["actor_steps"]), int(opts["batch_size"]),
                   float(opts["margin"]))
    finally:
        bar.close()


def _policy_spec_values(policy: SpecPolicy, problem: Problem) -> np.ndarray:
    """The problem's spec values in the policy's order (``1 x k``)."""
    given = {(s.metric, s.op): s.value for s in problem.specs}
    wanted = [(s.metric, s.op) for s in policy.spec_range.base]
    if set(given) != set(wanted):
        raise ValueError(f"the policy was trained for specs on {', '.join(f'{m} {o}' for m, o in wanted)}; "
                         f"got {', '.join(f'{m} {o}' for m, o in given)}")
    return np.array([[given[key] for key in wanted]])


def _finetune(policy: SpecPolicy, critic: nn.Module, optimizer: torch.optim.Optimizer, seen_x: np.ndarray,
              seen_y: np.ndarray, seen_fail: np.ndarray, rng: np.random.Generator, steps: int) -> None:
    """Fit the critic copy to this spec's simulations, with replay of the training data."""
    n_replay = min(64, len(policy.train_x))
    for _ in range(steps):
        idx = rng.integers(0, len(policy.train_x), size=n_replay) if n_replay else np.zeros(0, dtype=int)
        x = np.vstack([np.repeat(seen_x, 4, axis=0), policy.train_x[idx]])
        y = np.vstack([np.repeat(seen_y, 4, axis=0), policy.train_y[idx]])
        fail = np.concatenate([np.repeat(seen_fail, 4), policy.train_fail[idx]]).astype(np.float32)
        xt = torch.tensor(x, dtype=torch.float32)
        yt = ((torch.tensor(y, dtype=torch.float32) - policy.y_mean) / policy.y_std).clamp(-5, 5)
        ft = torch.tensor(fail)
        out = critic(xt)
        keep = (1 - ft).unsqueeze(1)
        mse = ((out[:, :-1] - yt) ** 2 * keep).sum() / keep.sum().clamp(min=1) / yt.shape[1]
        loss = mse + 0.1 * nn.functional.binary_cross_entropy_with_logits(out[:, -1], ft)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def run_transfer(problem: Problem, rng: np.random.Generator, seed: int, options: dict[str, Any]) -> None:
    """Deploy a trained policy on the problem's specs until they are met or the budget is spent.

    Args:
        problem: the evaluation interface (its specs are the target).
        rng: draws the candidates and replay minibatches.
        seed: seeds torch (the critic copy's optimizer is deterministic anyway).
        options: see :data:`DEPLOY_DEFAULTS`; ``policy`` is required.
    """
    opts = _check_options(options, DEPLOY_DEFAULTS, "rl-transfer")
    policy = opts["policy"]
    if policy is None:
        raise ValueError("method 'rl-transfer' needs options={'policy': <SpecPolicy or policy file>}")
    if not isinstance(policy, SpecPolicy):
        policy = load_policy(policy, problem.circuit)
    if policy.circuit.name != problem.circuit.name:
        raise ValueError(f"the policy sizes {policy.circuit.name}, not {problem.circuit.name}")
    values = _policy_spec_values(policy, problem)
    torch.manual_seed(seed)
    margin = float(TRAIN_DEFAULTS["margin"])
    critic = copy.deepcopy(policy.critic)
    optimizer = torch.optim.Adam(critic.parameters(), lr=1e-3)
    anchor = policy.propose(values)[0]
    dim = len(anchor)
    unit = anchor
    seen: list[np.ndarray] = []
    rows: list[tuple[np.ndarray, bool]] = []
    spec_t = torch.tensor(np.repeat(values, int(opts["candidates"]), axis=0), dtype=torch.float32)
    scale = float(opts["local_scale"])
    while True:
        evaluation = problem.evaluate_unit(unit)  # ends the run when the budget is spent (or specs met)
        seen.append(np.clip(unit, 0.0, 1.0))
        rows.append(policy.transform(evaluation.metrics))
        best = min(range(len(seen)), key=lambda i: (problem.history[-len(seen) + i].violation))
        _finetune(policy, critic, optimizer, np.stack(seen), np.stack([r[0] for r in rows]),
                  np.array([r[1] for r in rows]), rng, int(opts["finetune_steps"]))
        n = int(opts["candidates"])
        step = len(seen)
        around_anchor = anchor + scale * (1 + 0.5 * step) * rng.normal(size=(n // 2, dim))
        around_best = seen[best] + scale * rng.normal(size=(n - n // 2 - n // 8, dim))
        uniform = rng.random((n // 8, dim))
        cands = np.clip(np.vstack([around_anchor, around_best, uniform]), 0.0, 1.0)
        with torch.no_grad():
            cost = policy.loss_with(critic, torch.tensor(cands, dtype=torch.float32), spec_t, margin).numpy()
        dist = np.min(np.linalg.norm(cands[:, None, :] - np.stack(seen)[None], axis=2), axis=1)
        cost = cost + (dist < 0.01)
        unit = cands[int(np.argmin(cost))]
