"""The study pieces in the package (reram.apps.bn_study): enumeration order, one seeded run on a
stored table, and provenance without machine paths."""
from __future__ import annotations

from pathlib import Path

import pytest

from reram.apps.bn_cost import MaskCost
from reram.apps.bn_objective import MaskEvaluation, StoredEvaluations
from reram.apps.bn_study import command_line, exhaustive_order, study_run


def test_exhaustive_order_puts_all_bn_first_then_counts_up():
    masks = exhaustive_order(4)
    assert sorted(masks) == [format(i, "04b") for i in range(16)] and masks[0] == "1111"
    counts = [m.count("1") for m in masks[1:]]
    assert counts == sorted(counts) and counts[0] == 0
    assert exhaustive_order(4) == masks and exhaustive_order(4, seed=1) != masks  # seeded


class _Costs:
    def cost(self, bits):
        return MaskCost(speedup=1.0 + bits.count("0"))


def _table():
    return [MaskEvaluation(mask=format(i, "04b"), n_bn=format(i, "04b").count("1"), num_sites=4,
                           accuracy=0.1 + 0.05 * format(i, "04b").count("1") + 0.01 * (i % 3)) for i in range(16)]


@pytest.mark.parametrize("mode, method", [("single", "random"), ("single", "greedy"), ("multi", "random"),
                                          ("multi", "nsga2")])
def test_a_study_run_is_seeded_and_reports_every_evaluation(mode, method):
    first = study_run(StoredEvaluations(_table()), _Costs(), mode, method, seed=0, budget=6)
    again = study_run(StoredEvaluations(_table()), _Costs(), mode, method, seed=0, budget=6)
    assert first["masks"] == again["masks"] and len(first["masks"]) == 6
    table = {e.mask: e for e in _table()}
    assert first["accuracy"] == [table[m].accuracy for m in first["masks"]]
    assert first["speedup"] == [1.0 + m.count("0") for m in first["masks"]]
    assert (first["hypervolume_history"] is None) == (mode == "single")


def test_command_line_makes_paths_in_the_repository_relative(tmp_path):
    root = tmp_path / "repo"
    (root / "results").mkdir(parents=True)
    line = command_line("bench.py", ["study", "--cache-dir", str(root / "results"), "--out", "/elsewhere/x"], root)
    assert line == "python bench.py study --cache-dir results --out /elsewhere/x"
    assert str(Path(tmp_path)) not in line
