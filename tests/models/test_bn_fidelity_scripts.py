"""benchmarks/bn_truth_table.py and bench_bn_curves.py (issue 22): the truth table runs every mask
once per seed, seed-major, resumes without retraining and refuses other settings; the curves'
fidelity rule picks the fewest epochs within 2 points of the long runs."""
from __future__ import annotations

import importlib.util
import sys
from argparse import Namespace
from pathlib import Path

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
