"""benchmarks/bn_truth_table.py and bench_bn_curves.py (issue 22): the truth table runs every mask
once per seed, seed-major, resumes without retraining and refuses other settings; the curves'
fidelity rule picks the fewest epochs within 2 points of the long runs."""
from __future__ import annotations

import importlib.util
import sys
from argparse import Namespace
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str):
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)  # type: ignore[union-attr]
        return module
    finally:
        sys.path.remove(str(BENCH))


@pytest.fixture(scope="module")
def truth():
    return _load("bn_truth_table")


@pytest.fixture(scope="module")
def curves():
    return _load("bench_bn_curves")


def test_the_truth_tables_chip_is_the_main_jobs_preset(truth):
    from reram import CrossbarConfig

    assert CrossbarConfig.from_dict(truth.MAIN_CHIP) == CrossbarConfig.preset("neurosim-epiram")


def test_every_mask_once_per_seed_seed_major(truth):
    order = truth._order(3, [0, 1])
    assert len(order) == 16
    assert [s for _, s in order] == [0] * 8 + [1] * 8
    assert sorted(m for m, s in order if s == 0) == sorted(f"{i:03b}" for i in range(8))
    assert [m for m, _ in order[:8]] == [m for m, _ in order[8:]]  # same shuffled order each seed


def test_the_table_resumes_and_refuses_other_settings(truth, tmp_path: Path):
    from reram.io import atomic_write_json

    args = Namespace(model="vgg11", width=0.25, epochs=8, lr=0.2)
    settings = truth._settings(args)
    table = {"settings": settings, "provenance": {}, "masks": {}}
    truth._record(table, "0101", 1, {"accuracy": 0.5, "curve": [0.3, 0.5], "cpu_s": 1.0,
                                      "diverged": False}, 2)
    out = tmp_path / "t.json"
    atomic_write_json(out, table)
    again = truth._load(out, settings)
    assert truth._done(again, "0101", 1) and not truth._done(again, "0101", 0)
    assert again["masks"]["0101"]["accuracies"] == [0.5]
    with pytest.raises(SystemExit, match="other settings"):
        truth._load(out, truth._settings(Namespace(model="vgg11", width=0.25, epochs=4, lr=0.2)))


def test_the_fidelity_is_the_fewest_epochs_within_two_points(curves):
    def run(acc):
        return {"curve": [acc], "cpu_s": 1.0, "diverged": False}

    table = {"runs": {
        "11/lr0.2/e20/s0": run(0.96), "11/lr0.2/e20/s1": run(0.97),
        "11/lr0.2/e4/s0": run(0.90), "11/lr0.2/e4/s1": run(0.91),
        "11/lr0.2/e8/s0": run(0.95), "11/lr0.2/e8/s1": run(0.946),
        "11/lr0.2/e10/s0": run(0.96), "11/lr0.2/e10/s1": run(0.96),
        "00/lr0.2/e20/s0": run(0.1),
    }}
    stats = curves.summarize(table)
    assert stats["11/lr0.2/e8"]["mean"] == pytest.approx(0.948)
    assert stats["11/lr0.2/e8"]["seeds"] == 2
    assert curves.choose_fidelity(table, 0.2, 20) == 8  # 0.948 >= 0.965 - 0.02; 0.905 is not
    assert curves.choose_fidelity(table, 0.2, 20, tolerance=0.01) == 10
    assert curves.choose_fidelity(table, 0.1, 20) is None


# ---------------------------------------------------------------- the study on the truth table
def _synthetic_table(path: Path, num_sites: int = 4, epochs: int = 4) -> dict:
    """A complete table over ``num_sites`` sites: accuracy rises with the first three sites
    (0.4, 0.4, 0.03), a small replicate noise, curves rising to the final value."""
    import itertools

    from reram.io import atomic_write_json

    rng = np.random.default_rng(0)
    masks = {}
    for bits in itertools.product("01", repeat=num_sites):
        m = "".join(bits)
        base = 0.1 + 0.4 * (m[0] == "1") + 0.4 * (m[1] == "1") + 0.03 * (m[2] == "1")
        accs = [float(np.clip(base + rng.normal(0, 0.003), 0, 1)) for _ in range(2)]
        curves = [[a * (e + 1) / epochs for e in range(epochs)] for a in accs]
        masks[m] = {"accuracies": accs, "seeds": [0, 1], "epochs": epochs, "curves": curves,
                    "train_time_s": [1.0, 1.0], "diverged": [False, False]}
    doc = {"settings": {"model": "toy", "epochs": epochs, "lr": 0.2}, "provenance": {}, "masks": masks}
    atomic_write_json(path, doc)
    return doc


@pytest.fixture(scope="module")
def study():
    return _load("bn_search_study")


def test_the_study_target_is_the_fewest_bn_masks_within_the_spread(study, tmp_path: Path):
    _synthetic_table(tmp_path / "t.json")
    table = study.Table(tmp_path / "t.json")
    tgt = study.target(table)
    # all-BN ~0.93; 1110 is as good with 3 BN; 1100 and 1101 are 3 points below
    assert tgt["n_bn"] == 3 and set(tgt["masks"]) == {"1110"}
    land = study.landscape(table)
    assert land["main_effect"][0] > 0.3 and abs(land["main_effect"][3]) < 0.05
    assert land["r2_additive"] > 0.99


def test_the_study_refuses_an_unfinished_table(study, tmp_path: Path):
    from reram.io import atomic_write_json

    doc = _synthetic_table(tmp_path / "t.json")
    del doc["masks"]["0101"]
    atomic_write_json(tmp_path / "t.json", doc)
    with pytest.raises(SystemExit, match="15 of 16 masks"):
        study.Table(tmp_path / "t.json")


def test_every_method_runs_and_a_full_budget_always_reaches_the_target(study, tmp_path: Path):
    _synthetic_table(tmp_path / "t.json")
    out = tmp_path / "study.json"
    assert study.main(["--table", str(tmp_path / "t.json"), "--out", str(out), "--seeds", "1",
                       "--budget-evals", "16", "--methods", "bo,bo-mf,bo-rep,bo-race,random,nsga2",
                       "--sweep", "4,16", "--sweep-methods", "bo-step,random"]) == 0
    from reram.io import read_json

    doc = read_json(out, "study")["toy"]
    for method in ("bo", "bo-mf", "bo-rep", "bo-race", "random", "nsga2"):
        assert doc[method]["seeds"] == 1
        for run in doc["runs"][method]:  # costs grow, and every mask seen is one replicate's value
            assert run["cost"] == sorted(run["cost"])
    for method in ("bo", "random"):  # 16 trainings cover the 16 masks
        assert doc[method]["reached"] == 1, method
    sweep = doc["budget_sweep"]  # the larger budgets: 16 trainings cover the 16 masks
    assert set(sweep) == {"bo-step", "random"} and all(sweep[m]["16"]["reached"] == 1 for m in sweep)
    assert sweep["random"]["4"]["seeds"] == 1
    sure = doc["target_certainty"]  # 1110 matches all-BN; the best 2-BN mask is 3 points below
    assert sure["3_bn"]["1110"]["p_within"] > 0.9 and max(r["p_within"] for r in sure["2_bn"].values()) < 0.01
    robust = doc["robustness"]  # the table's own learning rate (no other runs of this toy model)
    assert list(robust) == ["1111", "1110"] and robust["1110"]["0.2"]["seeds"] == [0, 1]


def test_bo_race_sees_each_masks_replicates_in_turn_and_seeds_start_at_the_offset(study, tmp_path: Path):
    _synthetic_table(tmp_path / "t.json")
    table = study.Table(tmp_path / "t.json")
    targets = set(study.target(table)["masks"])
    run = study.run_method(table, "bo-race", 5, 12 * table.epochs, 0.02, targets)
    seen: dict[str, int] = {}
    for mask, acc in zip(run["masks"], run["accuracy_seen"]):  # the k-th training: the k-th replicate on
        assert acc == pytest.approx(table.value_again(mask, 5, seen.get(mask, 0)), abs=1e-6)
        seen[mask] = seen.get(mask, 0) + 1
    assert max(seen.values()) <= 2  # never more trainings of a mask than the table holds
    assert len(run["masks"]) == 12 and run["cost"][-1] == (2 * 2 + 12) * table.epochs
    out = tmp_path / "study.json"
    assert study.main(["--table", str(tmp_path / "t.json"), "--out", str(out), "--seeds", "2", "--seed-offset",
                       "100", "--budget-evals", "3", "--methods", "random", "--sweep", ""]) == 0
    from reram.io import read_json

    doc = read_json(out, "study")["toy"]
    assert doc["seeds"] == [100, 101] and doc["random"]["seeds"] == 2
    with pytest.raises(SystemExit):
        study.main(["--table", str(tmp_path / "t.json"), "--out", str(out), "--seed-offset", "-1"])


def test_the_kernels_held_out_fit_is_measured_on_the_table(study, tmp_path: Path):
    _synthetic_table(tmp_path / "t.json")
    table = study.Table(tmp_path / "t.json")
    fit = study.kernel_likelihood(table, kernels=("hamming", "anova2"), sizes=(10, 40), repeats=2)
    for kernel in ("hamming", "anova2"):  # 40 masks: capped at the 13 the toy table has left
        for n in ("10", "40"):
            row = fit[kernel][n]
            assert np.isfinite(row["log_lik"]) and 0 <= row["rmse"] < 0.2  # an additive toy: a good fit
    assert fit["anova2"]["10"]["log_lik"] > 0  # the model class holds the truth: sharp predictions


def test_a_searchs_cached_trainings_of_the_same_training_are_imported_once(truth, tmp_path: Path):
    import json

    args = Namespace(model="vgg11", width=0.25, epochs=2, lr=0.2)
    settings = truth._settings(args)
    fp = {"model": "vgg11", "dataset": "digits", "data_dir": None, "config": settings["config"], "epochs": 2,
          "batch_size": 64, "lr": 0.2, "seed": 1, "max_train": None, "max_test": None, "width": 0.25}
    ev = {"mask": "0101", "history": [0.5, 0.75], "accuracy": 0.75, "diverged": False}
    folder = tmp_path / "evals"
    (folder / "abc").mkdir(parents=True)
    (folder / "abc" / "0101.json").write_text(json.dumps({"fingerprint": fp, "evaluation": ev}))
    (folder / "abc" / "0110.json").write_text(json.dumps({"fingerprint": {**fp, "lr": 0.1},  # another training
                                                          "evaluation": {**ev, "mask": "0110"}}))
    table = {"settings": settings, "provenance": {}, "masks": {}}
    assert truth.import_cache(table, folder, settings) == 1
    assert table["masks"]["0101"]["seeds"] == [1] and table["masks"]["0101"]["curves"] == [[0.5, 0.75]]
    assert truth.import_cache(table, folder, settings) == 0  # never twice


def test_bo_rep_judges_its_answer_by_the_mean_of_its_trainings(study, tmp_path: Path):
    """A mask whose first training cleared the bar by luck is trained again and dropped when
    its mean falls below; a mask whose replicates all clear it stays the answer."""
    from reram.io import atomic_write_json

    doc = _synthetic_table(tmp_path / "t.json")
    doc["masks"]["1000"]["accuracies"] = [0.95, 0.10]  # one lucky training, one at chance
    doc["masks"]["1000"]["curves"] = [[0.95] * 4, [0.10] * 4]
    atomic_write_json(tmp_path / "t.json", doc)
    table = study.Table(tmp_path / "t.json")
    seed = next(s for s in range(100) if table.value("1000", s) == 0.95)  # the seed sees the lucky one
    history = [("1000", 0.95), ("1110", table.value("1110", seed))]
    bar = table.mean("1111") - 0.02
    assert study._answer(history, bar, 4) == "1000"  # one training: fooled
    extra = study._replicate_answer(table, seed, history, bar, 3)
    assert extra[0] == ("1000", 0.10)  # trained again: its mean 0.525 falls below the bar
    assert [m for m, _ in extra[1:]] == ["1110"]  # then the next answer is confirmed, once (2 replicates)
    assert study._answer(study._means(history + extra), bar, 4) == "1110"
