"""The BN search studied on the converged truth table (issue 22): do the search methods find the
fewest-BN mask that trains as well as all-BN, and at what compute?

Reads ``benchmarks/results/bn_truth_vgg11.json`` (every vgg11 mask trained at >= 2 seeds at the
main job's fidelity, with its per-epoch curve; ``bn_truth_table.py``) and runs every method on
it, 10 seeds each, at equal compute (training epochs): no training here, a lookup per
evaluation. What a search sees is what a real one would: one training of the mask (the
replicate drawn per (study seed, mask)), and for the two-fidelity method the first half of that
same training (its epoch-4 accuracy: the nested prefix of the cosine schedule) before it
decides whether to continue it.

* **Target** (the answer the table says is right): the fewest BN layers ``n*`` such that some
  mask with ``n*`` BN has a replicate mean within ``max(1 point, all-BN's spread)`` of all-BN's
  mean; the target set is every such mask with ``n*`` BN.
* **Reached**: a method trained (to the end) a mask of the target set; its cost is the epochs it
  had spent then, the references' trainings (all-BN and no-BN at every seed, which every method
  gets) included.
* **Answered**: the mask the method itself would report (the fewest BN whose observed
  accuracy, the mean of its trainings where it had several, clears all-BN - epsilon, then the most accurate; all-BN if none does) is in the
  target set; also counted: answers whose true mean is within epsilon of all-BN's.

Methods (each a different search over the same budget): ``bo`` (``method="cbo"``: the sparsest
mask with the GP told the replicate noise and given the references, ``reram.search.sparsest``),
``bo-mf`` (the same with an epoch-4 screen and early stopping), ``bo-rep`` (``bo`` on three
quarters of the budget, the last quarter training its answer again at other seeds, the answer
then judged by its mean: naming the target needs replicates), ``bo-race`` (replicates inside the loop:
``reram.search.sparsest.sparsest_feasible_raced``, the answer trained again while the GP is unsure
it clears the bar, a mask's k-th training the table's next replicate), ``bo-penalty`` (``method="bo"``
on the constrained penalty score, noise learned), ``random``, ``anneal`` and ``nsga2`` (accuracy
against the BN count). The landscape (each site's main effect, how much of the accuracy an
additive model explains) goes in the same file.

Usage::

    python benchmarks/bn_search_study.py                      # -> benchmarks/results/bn_search_study.json
    python benchmarks/bn_search_study.py --budget-evals 10 --seeds 10
    python benchmarks/bn_search_study.py --seed-offset 100 --seeds 20 --out /tmp/dev.json  # design seeds
    python benchmarks/bn_search_study.py --kernels            # + each GP kernel's held-out fit to the table
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
METHODS = ("bo", "bo-step", "bo-mf", "bo-rep", "bo-race", "bo-race-obs", "bo-penalty", "random", "anneal", "nsga2")
REPLICATE_SHARE = 4  # bo-rep: one training in this many goes to replicating the answer
SCREEN_EPOCH = 4  # the two-fidelity screen: the first half of the 8-epoch schedule
DEFAULT_METHODS = tuple(m for m in METHODS if m != "bo-race-obs")  # bo-race-obs: a post-hoc variant, on request
RACE_N_INIT = 4  # bo-race: its initial design (cbo's default for 8 sites: dim // 2)
RACE_P_SURE = 0.9  # bo-race: the answer is trained again while P(feasible) is below this


class Table:
    """The truth table: per mask, every replicate's final accuracy and curve (``min_seeds`` or
    more replicates each; a mask's mean is over all of its replicates)."""

    def __init__(self, path: Path, min_seeds: int = 2) -> None:
        from reram.io import read_json

        doc = read_json(path, "truth table")
        self.settings, self.path = doc["settings"], path
        self.epochs = int(self.settings["epochs"])
        self.masks = {m: e for m, e in doc["masks"].items()}
        self.num_sites = len(next(iter(self.masks)))
        counts = [len(e["seeds"]) for e in self.masks.values()]
        if len(self.masks) != 2 ** self.num_sites or min(counts) < min_seeds:
            short = sum(c < min_seeds for c in counts)
            raise SystemExit(f"{path}: {len(self.masks)} of {2 ** self.num_sites} masks, {short} with fewer than "
                             f"{min_seeds} seeds: finish it with benchmarks/bn_truth_table.py first")
        self.replicates = {c: counts.count(c) for c in sorted(set(counts))}

    def _accs(self, mask: str) -> list[float]:
        return list(self.masks[mask]["accuracies"])

    def mean(self, mask: str) -> float:
        return float(np.mean(self._accs(mask)))

    def sd(self, mask: str) -> float:
        accs = self._accs(mask)
        return float(np.std(accs, ddof=1)) if len(accs) > 1 else 0.0

    def n_seeds(self, mask: str) -> int:
        return len(self._accs(mask))

    def replicate(self, mask: str, seed: int) -> int:
        """The replicate a study seed sees for a mask (fixed per (seed, mask))."""
        return int(np.random.default_rng([seed, int(mask, 2), 7]).integers(self.n_seeds(mask)))

    def value(self, mask: str, seed: int, epoch: int | None = None) -> float:
        """The accuracy after ``epoch`` (default: the last) of the replicate a seed sees."""
        curve = self.masks[mask]["curves"][self.replicate(mask, seed)]
        return float(curve[(epoch or self.epochs) - 1])

    def value_again(self, mask: str, seed: int, k: int) -> float | None:
        """The final accuracy of the ``k``-th further replicate of a mask after the one a seed
        sees (``None`` when the table holds no more)."""
        n = self.n_seeds(mask)
        if k >= n:
            return None
        return float(self.masks[mask]["accuracies"][(self.replicate(mask, seed) + k) % n])

    def noise_sd(self, epoch: int | None = None) -> float:
        """Pooled replicate sd of one training's accuracy among the replicated masks that train
        (every replicate above 0.5), after ``epoch``."""
        variances = []
        for e in self.masks.values():
            vals = [c[(epoch or self.epochs) - 1] for c in e["curves"]]
            if len(vals) > 1 and min(e["accuracies"]) > 0.5:
                variances.append(np.var(vals, ddof=1))
        return float(math.sqrt(np.mean(variances))) if variances else 0.0


def target(table: Table) -> dict[str, Any]:
    """The fewest-BN masks within ``max(0.01, spread)`` of all-BN's mean (module docstring)."""
    p = table.num_sites
    ref, spread = table.mean("1" * p), table.sd("1" * p)
    tol = max(0.01, spread)
    ok = [m for m in table.masks if table.mean(m) >= ref - tol - 1e-12]
    n_star = min(m.count("1") for m in ok)
    masks = sorted((m for m in ok if m.count("1") == n_star), key=lambda m: -table.mean(m))
    return {"n_bn": n_star, "tolerance": tol, "all_bn_mean": ref, "all_bn_sd": spread,
            "masks": {m: {"mean": table.mean(m), "sd": table.sd(m)} for m in masks}}


def target_certainty(table: Table, tol: float, n_bn: int, top: int = 5) -> dict[str, Any]:
    """How sure the table is of its target: for the ``top`` best masks with ``n_bn`` and with
    ``n_bn - 1`` BN layers, the probability that the mask's true mean is within ``tol`` of
    all-BN's, under a normal model of the difference of the two replicate means with the
    replicate sd pooled over the masks within ``region`` of all-BN (a mask's own 2-3 replicates
    give too poor an sd to use alone; the noise grows several-fold further down, where some
    seeds train and some do not, so the pool is the target's neighbourhood)."""
    from statistics import NormalDist

    p, region = table.num_sites, 0.05
    ref, n_ref = table.mean("1" * p), table.n_seeds("1" * p)
    near = [np.var(e["accuracies"], ddof=1) for m, e in table.masks.items()
            if len(e["accuracies"]) > 1 and table.mean(m) >= ref - region]
    sd = float(math.sqrt(np.mean(near)))
    out: dict[str, Any] = {"pooled_sd": sd, "pooled_over": len(near), "region": region}
    for k in (n_bn, n_bn - 1):
        best = sorted((m for m in table.masks if m.count("1") == k), key=lambda m: -table.mean(m))[:top]
        rows = {}
        for m in best:
            se = sd * math.sqrt(1 / table.n_seeds(m) + 1 / n_ref)
            gap = table.mean(m) - (ref - tol)
            rows[m] = {"mean": table.mean(m), "seeds": table.n_seeds(m),
                       "p_within": float(NormalDist().cdf(gap / se)) if se > 0 else float(gap >= 0)}
        out[f"{k}_bn"] = rows
    return out


def landscape(table: Table) -> dict[str, Any]:
    """Each site's main effect (mean accuracy with its BN minus without) and the share of the
    variance an additive model and one with pairwise terms explain."""
    p = table.num_sites
    X = np.asarray([[int(c) for c in m] for m in table.masks], dtype=float)
    y = np.asarray([table.mean(m) for m in table.masks])
    effects = [float(y[X[:, i] == 1].mean() - y[X[:, i] == 0].mean()) for i in range(p)]

    def r2(features: np.ndarray) -> float:
        A = np.c_[np.ones(len(y)), features]
        resid = y - A @ np.linalg.lstsq(A, y, rcond=None)[0]
        return float(1 - resid.var() / y.var())

    pairs = np.stack([X[:, i] * X[:, j] for i in range(p) for j in range(i + 1, p)], axis=1)
    by_count = {k: float(np.mean([table.mean(m) for m in table.masks if m.count("1") == k])) for k in range(p + 1)}
    return {"main_effect": effects, "r2_additive": r2(X), "r2_pairwise": r2(np.c_[X, pairs]),
            "mean_by_bn_count": by_count}


def kernel_likelihood(table: Table, kernels: tuple[str, ...] = ("hamming", "hamming+linear", "anova2"),
                      sizes: tuple[int, ...] = (20, 40), repeats: int = 12) -> dict[str, Any]:
    """Each GP kernel's held-out fit to the table: fitted (noise learned) to one training of
    ``n`` random masks plus the two references' means, it predicts one training of every other
    mask; mean log predictive density and RMSE over ``repeats`` draws, also over the masks whose
    mean is above 0.85 (where the search decides)."""
    import torch

    from reram.search.bo import BOOptions, fit_gp

    p = table.num_sites
    refs = ["1" * p, "0" * p]
    cand = [m for m in sorted(table.masks) if m not in refs]
    out: dict[str, Any] = {}
    for n in sizes:
        for kernel in kernels:
            ll, ll_top, rmse = [], [], []
            for r in range(repeats):
                seed = 1000 + r
                pick = list(np.random.default_rng(seed).choice(cand, min(n, len(cand) - 1), replace=False))
                X = np.asarray([[int(c) for c in m] for m in pick + refs], dtype=np.int8)
                y = np.asarray([-table.value(m, seed) for m in pick] + [-table.mean(m) for m in refs])
                model, _ = fit_gp(X, y, BOOptions(kernel=kernel))
                held = [m for m in cand if m not in pick]
                with torch.no_grad():
                    post = model.posterior(torch.as_tensor([[int(c) for c in m] for m in held], dtype=torch.double),
                                           observation_noise=True)
                mu, var = post.mean.detach().squeeze(-1).numpy(), post.variance.detach().squeeze(-1).numpy()
                obs = np.asarray([table.value(m, seed) for m in held])
                lp = -0.5 * np.log(2 * np.pi * var) - 0.5 * (obs - mu) ** 2 / var
                top = np.asarray([table.mean(m) > 0.85 for m in held])
                ll.append(lp.mean()), rmse.append(np.sqrt(np.mean((obs - mu) ** 2)))
                if top.any():
                    ll_top.append(lp[top].mean())
            top_ll = float(np.mean(ll_top)) if ll_top else None
            out.setdefault(kernel, {})[str(n)] = {"log_lik": float(np.mean(ll)), "log_lik_top": top_ll,
                                                   "rmse": float(np.mean(rmse))}
            print(f"kernel {kernel:<15} {n} masks: held-out log-lik {np.mean(ll):.3f} (above 0.85: "
                  f"{top_ll}), rmse {np.mean(rmse):.3f}", flush=True)
    return out


# ---------------------------------------------------------------- one study run per method
def _answer(history: list[tuple[str, float]], bar: float, num_sites: int) -> str:
    """The fewest-BN mask whose observed accuracy clears the bar, then the most accurate; all-BN
    (the reference, known to clear it) when none does."""
    ok = [(m.count("1"), -a, m) for m, a in history if a >= bar - 1e-12]
    return min(ok)[2] if ok else "1" * num_sites


def _means(history: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """Each mask once, with the mean of its trainings (a mask trained again is judged by all)."""
    seen: dict[str, list[float]] = {}
    for m, a in history:
        seen.setdefault(m, []).append(a)
    return [(m, float(np.mean(v))) for m, v in seen.items()]


def _replicate_answer(table: Table, seed: int, history: list[tuple[str, float]], bar: float,
                      n_rep: int) -> list[tuple[str, float]]:
    """``bo-rep``'s last trainings: the current answer (the fewest BN whose mean clears the bar)
    trained again at another seed, until it has every replicate the table holds, falls below
    the bar (then the next answer), or the trainings are spent."""
    extra: list[tuple[str, float]] = []
    for _ in range(n_rep):
        counts: dict[str, int] = {}
        for m, _a in history + extra:
            counts[m] = counts.get(m, 0) + 1
        todo = [(m.count("1"), -a, m) for m, a in _means(history + extra)
                if a >= bar - 1e-12 and counts[m] < table.n_seeds(m)]
        if not todo:
            break
        mask = min(todo)[2]
        extra.append((mask, table.value_again(mask, seed, counts[mask])))
    return extra


def run_method(table: Table, method: str, seed: int, budget_epochs: int, epsilon: float,
               targets: set[str]) -> dict[str, Any]:
    """One search of one method and seed; the trained masks in order with the epochs spent."""
    p, e = table.num_sites, table.epochs
    refs = ["1" * p, "0" * p]
    ref_cost = sum(table.n_seeds(m) for m in refs) * e
    ref_acc = table.mean(refs[0])
    bar = ref_acc - epsilon
    noise = max([0.01] + [table.sd(m) for m in refs])
    steps: list[tuple[str, int, float, int]] = []  # mask, epoch reached, accuracy seen, cost so far
    started = time.perf_counter()
    if method == "bo-mf":
        steps = _run_mf(table, seed, budget_epochs, bar, noise, refs, ref_cost)
    elif method in ("bo-race", "bo-race-obs"):
        seen = _run_race(table, seed, budget_epochs // e, bar, noise, refs,
                         "observed" if method == "bo-race-obs" else "posterior")
        steps = [(m, e, a, ref_cost + e * (i + 1)) for i, (m, a) in enumerate(seen)]
    elif method == "bo-rep":
        seen = []
        n_rep = budget_epochs // e // REPLICATE_SHARE
        _run_single(table, "bo", seed, budget_epochs // e - n_rep, bar, noise, refs, epsilon, seen)
        seen += _replicate_answer(table, seed, seen, bar, n_rep)
        steps = [(m, e, a, ref_cost + e * (i + 1)) for i, (m, a) in enumerate(seen)]
    else:
        seen: list[tuple[str, float]] = []
        _run_single(table, method, seed, budget_epochs // e, bar, noise, refs, epsilon, seen)
        steps = [(m, e, a, ref_cost + e * (i + 1)) for i, (m, a) in enumerate(seen)]
    full = _means([(m, a) for m, ep, a, _ in steps if ep == e])
    if refs[0] in targets:  # no sparser mask is as good: the references already hold the answer
        reach = ref_cost
    else:
        reach = next((c for m, ep, _, c in steps if ep == e and m in targets), None)
    answer = _answer(full, bar, p)
    return {"masks": [m for m, _, _, _ in steps], "epochs": [ep for _, ep, _, _ in steps],
            "accuracy_seen": [round(a, 6) for _, _, a, _ in steps], "cost": [c for _, _, _, c in steps],
            "reached_at": reach, "answer": answer, "answer_in_target": answer in targets,
            "answer_true_mean": table.mean(answer),
            "time_s": round(time.perf_counter() - started, 2)}


def _run_single(table: Table, method: str, seed: int, budget: int, bar: float, noise: float,
                refs: list[str], epsilon: float, seen: list[tuple[str, float]]) -> None:
    from reram.apps.bn_objective import MaskEvaluation, Scorer
    from reram.search import NSGA2Options, minimize_binary, minimize_binary_multi

    p = table.num_sites
    ref_acc = table.mean(refs[0])
    scorer = Scorer("constrained", epsilon=epsilon, reference_accuracy=ref_acc)

    def acc(x: np.ndarray) -> float:
        mask = "".join(str(int(v)) for v in x)
        a = table.value(mask, seed)
        seen.append((mask, a))
        return a

    def score(x: np.ndarray) -> float:
        a = acc(x)
        return scorer.value(MaskEvaluation(mask=seen[-1][0], n_bn=int(np.sum(x)), num_sites=p, accuracy=a))

    if method in ("bo", "bo-step"):
        from reram.search.sparsest import CBOOptions

        options = CBOOptions(bound=-bar, noise_var=noise ** 2, prior_x=tuple(tuple(int(c) for c in m) for m in refs),
                             prior_y=tuple(-table.mean(m) for m in refs), max_step=1 if method == "bo-step" else None)
        minimize_binary(lambda x: -acc(x), dim=p, budget=budget, method="cbo", seed=seed, options=options)
    elif method == "nsga2":
        n_init = max(2, budget // 3)
        minimize_binary_multi(lambda x: [-acc(x), float(np.sum(x)) / p], dim=p, budget=budget, method="nsga2",
                              seed=seed, ref_point=[-0.1, (p + 1) / p], n_init=n_init,
                              options=NSGA2Options(pop_size=n_init))
    else:
        name = {"bo-penalty": "bo", "random": "random", "anneal": "anneal"}[method]
        n_init = min(max(2, p // 2), budget // 2) if name == "bo" else None
        minimize_binary(score, dim=p, budget=budget, method=name, seed=seed, n_init=n_init)


def _run_race(table: Table, seed: int, budget: int, bar: float, noise: float,
              refs: list[str], race: str = "posterior") -> list[tuple[str, float]]:
    """``bo-race``: the sparsest-feasible search with the answer replicated inside the loop
    (``reram.search.sparsest.sparsest_feasible_raced``), a mask's k-th training the table's
    k-th further replicate after the one the seed sees (none when the table holds no more)."""
    from reram.search.sparsest import CBOOptions, sparsest_feasible_raced

    def evaluate(x: np.ndarray, k: int) -> float | None:
        value = table.value_again("".join(str(int(v)) for v in x), seed, k)
        return None if value is None else -value

    options = CBOOptions(bound=-bar, noise_var=noise ** 2, prior_x=tuple(tuple(int(c) for c in m) for m in refs),
                         prior_y=tuple(-table.mean(m) for m in refs))
    steps = sparsest_feasible_raced(evaluate, table.num_sites, budget, options, seed=seed, n_init=RACE_N_INIT,
                                    p_sure=RACE_P_SURE, same_count="ei", race=race)
    return [(s.mask, -s.y) for s in steps]


def _run_mf(table: Table, seed: int, budget_epochs: int, bar: float, noise: float, refs: list[str],
            ref_cost: int) -> list[tuple[str, int, float, int]]:
    from reram.search.sparsest import CBOOptions, sparsest_feasible_mf

    e, screen = table.epochs, SCREEN_EPOCH
    noise_screen = max(noise, table.noise_sd(screen))
    prior = [(m, f, -float(np.mean([c[(screen if f == 0 else e) - 1] for c in table.masks[m]["curves"]])))
             for m in refs for f in (0, 1)]

    def evaluate(x: np.ndarray, fidelity: int) -> float:
        mask = "".join(str(int(v)) for v in x)
        return -table.value(mask, seed, screen if fidelity == 0 else e)

    steps = sparsest_feasible_mf(evaluate, table.num_sites, budget_epochs, CBOOptions(bound=-bar),
                                 costs=(screen, e - screen), seed=seed, n_init=4,
                                 noise_vars=(noise_screen ** 2, noise ** 2), prior=prior)
    out, spent = [], ref_cost
    for s in steps:
        spent += int(s.cost)
        out.append((s.mask, screen if s.fidelity == 0 else e, -s.y, spent))
    return out


def summarize(runs: list[dict[str, Any]], table: Table, epsilon: float) -> dict[str, Any]:
    """Seeds reaching the target and their median cost; how good the answers are: in the target
    set, or within ``epsilon`` of all-BN's mean (the main job's bar), and their BN counts."""
    costs = [r["reached_at"] for r in runs if r["reached_at"] is not None]
    ref = table.mean("1" * table.num_sites)
    answers = [r["answer"] for r in runs]
    return {"reached": len(costs), "seeds": len(runs), "median_cost": float(np.median(costs)) if costs else None,
            "answered": sum(r["answer_in_target"] for r in runs),
            "answer_within_epsilon": sum(table.mean(a) >= ref - epsilon - 1e-12 for a in answers),
            "answer_n_bn": [a.count("1") for a in answers],
            "answer_true_mean": [r["answer_true_mean"] for r in runs]}


def robustness(table: Table, masks: list[str]) -> dict[str, Any]:
    """The masks at each learning rate: the table's seeds at its own lr plus the runs of
    ``bn_robust_<model>_lr<lr>.json`` (``bn_truth_table.py --masks ... --lr ...``)."""
    from reram.io import read_json

    out: dict[str, Any] = {}
    model, lr0 = table.settings["model"], float(table.settings.get("lr", math.nan))
    files = {float(f.stem.split("_lr")[1]): f for f in RESULTS.glob(f"bn_robust_{model}_lr*.json")}
    for mask in masks:
        rows = {}
        for lr in [lr0, *sorted(set(files) - {lr0})]:
            accs = dict(zip(table.masks[mask]["seeds"], table.masks[mask]["accuracies"])) if lr == lr0 else {}
            if lr in files:
                other = read_json(files[lr], "robustness runs")
                same = {k: v for k, v in other["settings"].items() if k != "lr"}
                if same != {k: v for k, v in table.settings.items() if k != "lr"}:
                    raise SystemExit(f"{files[lr]}: made with other settings than the table")
                entry = other["masks"].get(mask, {"seeds": [], "accuracies": []})
                accs.update(zip(entry["seeds"], entry["accuracies"]))
            if accs:
                vals = [accs[k] for k in sorted(accs)]
                rows[str(lr)] = {"mean": float(np.mean(vals)), "sd": float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0,
                                 "seeds": sorted(accs), "accuracies": vals}
        out[mask] = rows
    return out


def budget_sweep(table: Table, args: argparse.Namespace, targets: set[str]) -> dict[str, Any]:
    """Seeds reaching the target at larger budgets (``--sweep``), per ``--sweep-methods``."""
    out: dict[str, Any] = {}
    for budget in [int(b) for b in args.sweep.split(",") if b.strip()]:
        for method in args.sweep_methods.split(","):
            runs = [run_method(table, method, s, budget * table.epochs, args.epsilon, targets) for s in _seeds(args)]
            s = summarize(runs, table, args.epsilon)
            out.setdefault(method, {})[str(budget)] = {k: s[k] for k in ("reached", "seeds", "median_cost", "answered",
                                                                         "answer_within_epsilon")}
            print(f"budget {budget:3d} trainings  {method:<11} reached {s['reached']}/{s['seeds']}, "
                  f"answer in target {s['answered']}/{s['seeds']}", flush=True)
    return out


def _seeds(args: argparse.Namespace) -> range:
    """The study seeds: ``--seeds`` of them from ``--seed-offset`` (0: the reported figures)."""
    return range(args.seed_offset, args.seed_offset + args.seeds)


def _relative(path: Path) -> str:
    """A path inside the repository relative to it (committed results carry no machine paths)."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return path.name


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--table", default=str(RESULTS / "bn_truth_vgg11.json"))
    p.add_argument("--out", default=str(RESULTS / "bn_search_study.json"))
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--seed-offset", type=int, default=0,
                   help="first study seed: designs are chosen on seeds 100-119 (--seed-offset 100 --seeds 20), "
                        "the reported figures are seeds 0-9")
    p.add_argument("--budget-evals", type=int, default=10,
                   help="budget in full trainings per method (x epochs = the equal compute of every method)")
    p.add_argument("--epsilon", type=float, default=0.02, help="the search's bar: all-BN mean - epsilon")
    p.add_argument("--methods", default=",".join(DEFAULT_METHODS))
    p.add_argument("--robust", nargs="*", default=None,
                   help="masks whose learning-rate runs go in the study (default: the first target mask)")
    p.add_argument("--sweep", default="20,40,60",
                   help="larger budgets (full trainings, comma-separated; empty: none) at which "
                        "--sweep-methods are also run: what budget reaches the target")
    p.add_argument("--sweep-methods", default="bo,bo-step,bo-rep,bo-race,random")
    p.add_argument("--kernels", action="store_true",
                   help="also each GP kernel's held-out log-likelihood on the table (kernel_likelihood)")
    p.add_argument("--min-seeds", type=int, default=2,
                   help="replicates every mask must have (1: a preliminary study on an unfinished table)")
    args = p.parse_args(argv)
    if args.seeds < 1 or args.seed_offset < 0:
        p.error(f"--seeds must be >= 1 and --seed-offset >= 0, got {args.seeds} and {args.seed_offset}")
    from reram.io import atomic_write_json, read_json
    from reram.runtime import set_threads

    set_threads(1)
    table = Table(Path(args.table), args.min_seeds)
    tgt = target(table)
    targets = set(tgt["masks"])
    budget_epochs = args.budget_evals * table.epochs
    print(f"target: {tgt['n_bn']} BN, {len(targets)} mask(s) within {tgt['tolerance']:.3f} of all-BN "
          f"{tgt['all_bn_mean']:.3f}: {sorted(targets)}; budget {budget_epochs} epochs per search")
    out = Path(args.out)
    doc = read_json(out, "study") if out.exists() else {}  # other models' studies are kept
    study = {"target": tgt, "landscape": landscape(table), "budget_epochs": budget_epochs,
             "budget_evals": args.budget_evals, "epsilon": args.epsilon,
             "seeds": list(_seeds(args)),
             "noise_sd": {"final": table.noise_sd(), f"epoch{SCREEN_EPOCH}": table.noise_sd(SCREEN_EPOCH)},
             "table": _relative(Path(args.table)), "table_settings": table.settings,
             "masks_by_replicates": table.replicates,
             "runs": {}}
    for method in args.methods.split(","):
        runs = [run_method(table, method, s, budget_epochs, args.epsilon, targets) for s in _seeds(args)]
        study["runs"][method] = runs
        study[method] = summarize(runs, table, args.epsilon)
        s = study[method]
        print(f"{method:<11} reached {s['reached']}/{s['seeds']} (median cost {s['median_cost']} epochs), "
              f"answer in target {s['answered']}/{s['seeds']}, within {args.epsilon} of all BN "
              f"{s['answer_within_epsilon']}/{s['seeds']} (BN {s['answer_n_bn']})", flush=True)
    study["target_certainty"] = target_certainty(table, tgt["tolerance"], tgt["n_bn"])
    if args.kernels:
        study["kernel_likelihood"] = kernel_likelihood(table)
    elif "kernel_likelihood" in doc.get(table.settings["model"], {}):  # kept from the run that made it
        study["kernel_likelihood"] = doc[table.settings["model"]]["kernel_likelihood"]
    study["budget_sweep"] = budget_sweep(table, args, targets)
    study["robustness"] = robustness(table, ["1" * table.num_sites, *(args.robust or sorted(targets)[:1])])
    doc[table.settings["model"]] = study
    atomic_write_json(out, doc, indent=1)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
