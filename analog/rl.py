"""Reinforcement-learning sizing: an actor-critic agent that sets one transistor group after
another (in the spirit of L2DC's encoder/decoder, Wang et al. 2018).

The actor is a GRU decoder that walks the circuit's transistor groups in signal order; at each
step it reads the group's one-hot code and the sizes it just chose for the previous group, and
emits the sizes of the current group in (0, 1) (the log-scaled unit cube). The critic is an MLP
that predicts the reward of a complete sizing (reward = -(FoM + 10 * spec violation)); it is
refit on every simulation so far, and the actor climbs the critic's gradient (deterministic
policy gradient, DDPG for a one-step episode). Exploration is Gaussian noise on the actor's
output, annealed over the budget, after a warm-up of uniform random sizings. Imports torch;
loaded only when ``method="rl"``.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from .problem import Problem

__all__ = ["GroupDecoderActor", "RewardCritic", "run_rl", "RL_DEFAULTS"]

RL_DEFAULTS = {"n_warmup": None, "noise_start": 0.25, "noise_end": 0.03, "critic_steps": 40, "actor_steps": 15,
               "hidden": 64, "batch_size": 64, "lr": 3e-3}
"""Options: ``n_warmup`` uniform random sizings first (default 2 * dim); exploration noise from
``noise_start`` to ``noise_end``; gradient steps per simulation for the critic and the actor;
hidden width; minibatch size; Adam learning rate."""


class GroupDecoderActor(nn.Module):
    """GRU decoder over transistor groups; ``forward()`` returns a ``dim``-dim sizing in (0, 1).

    Args:
        groups: for each step, the indices of the variables it sets.
        dim: number of variables.
        hidden: GRU width.
    """

    def __init__(self, groups: list[list[int]], dim: int, hidden: int) -> None:
        super().__init__()
        self.groups = groups
        self.dim = dim
        self.width = max(len(g) for g in groups)
        self.h0 = nn.Parameter(torch.zeros(1, hidden))
        self.cell = nn.GRUCell(len(groups) + self.width, hidden)
        self.head = nn.Linear(hidden, self.width)

    def forward(self) -> torch.Tensor:
        h = self.h0
        previous = torch.zeros(1, self.width)
        out = [torch.zeros(())] * self.dim
        for step, group in enumerate(self.groups):
            code = torch.zeros(1, len(self.groups))
            code[0, step] = 1.0
            h = self.cell(torch.cat([code, previous], dim=1), h)
            sizes = torch.sigmoid(self.head(h))
            mask = torch.zeros(1, self.width)
            mask[0, : len(group)] = 1.0
            previous = sizes * mask
            for slot, index in enumerate(group):
                out[index] = sizes[0, slot]
        return torch.stack(out)


class RewardCritic(nn.Module):
    """MLP from a ``batch x dim`` sizing to its (standardized) reward, ``batch``-dim."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                                 nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


def run_rl(problem: Problem, rng: np.random.Generator, seed: int, options: dict[str, Any]) -> None:
    """Run the actor-critic agent until the budget is spent.

    Args:
        problem: the evaluation interface.
        rng: draws the warm-up sizings, exploration noise and minibatches.
        seed: seeds torch (network initialization).
        options: see :data:`RL_DEFAULTS`.
    """
    unknown = set(options) - set(RL_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown RL option {sorted(unknown)[0]!r}; allowed: {', '.join(RL_DEFAULTS)}")
    opts = {**RL_DEFAULTS, **options}
    torch.manual_seed(seed)
    names = problem.circuit.variable_names
    groups = [[names.index(n) for n in group] for group in problem.circuit.variable_groups()]
    dim = problem.dim
    actor = GroupDecoderActor(groups, dim, opts["hidden"])
    critic = RewardCritic(dim, opts["hidden"])
    actor_opt = torch.optim.Adam(actor.parameters(), lr=opts["lr"])
    critic_opt = torch.optim.Adam(critic.parameters(), lr=opts["lr"])
    xs: list[np.ndarray] = []
    rewards: list[float] = []
    n_warmup = min(opts["n_warmup"] or 2 * dim, problem.budget)
    for _ in range(n_warmup):
        unit = rng.random(dim)
        xs.append(unit)
        rewards.append(problem.evaluate_unit(unit).reward)
    n_steps = max(problem.remaining, 1)
    step = 0
    while problem.remaining > 0:
        x = torch.tensor(np.stack(xs), dtype=torch.float32)
        r = torch.tensor(rewards, dtype=torch.float32)
        r = (r - r.mean()) / (r.std() + 1e-9)
        for _ in range(opts["critic_steps"]):
            idx = torch.from_numpy(rng.integers(0, len(xs), size=min(opts["batch_size"], len(xs))))
            loss = nn.functional.mse_loss(critic(x[idx]), r[idx])
            critic_opt.zero_grad()
            loss.backward()
            critic_opt.step()
        for _ in range(opts["actor_steps"]):
            loss = -critic(actor().unsqueeze(0)).mean()
            actor_opt.zero_grad()
            loss.backward()
            actor_opt.step()
        frac = step / max(n_steps - 1, 1)
        sigma = opts["noise_start"] * (1 - frac) + opts["noise_end"] * frac
        with torch.no_grad():
            unit = np.clip(actor().numpy() + sigma * rng.normal(size=dim), 0.0, 1.0)
        xs.append(unit)
        rewards.append(problem.evaluate_unit(unit).reward)
        step += 1
