"""benchmarks/bench_bn_search.py's study and report: the single-objective study on the
scalarized objective (stored in the file, refused when mixed), seed-major order, and the
scalarized target and reach against hand-computed values. Runs on the stored 64-mask vgg-digits
table (lookup: no training)."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "bench_bn_search.py"


@pytest.fixture()
def bench(tmp_path: Path, monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_bn_search_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    monkeypatch.setattr(module, "STUDY", tmp_path / "study")
    (tmp_path / "study").mkdir()
    return module


def _study(bench, *extra: str) -> int:
    return bench.main(["study", "--model", "vgg-digits", "--lookup", "--budget", "6", *extra])


def test_scalarized_study_is_stored_seed_major_and_refuses_other_objectives(bench, capsys) -> None:
    assert _study(bench, "--seeds", "2", "--methods", "random,greedy", "--objective", "scalarized") == 0
    out = capsys.readouterr().out.splitlines()
    assert [" ".join(line.split()[2:5]) for line in out] == [
        "random seed 0:", "greedy seed 0:", "random seed 1:", "greedy seed 1:"]
    doc = json.loads((bench.STUDY / "vgg-digits_single_random.json").read_text())
    assert doc["settings"]["objective"] == "scalarized" and doc["settings"]["lam"] == 0.1
    assert sorted(doc["runs"]) == ["0", "1"] and len(doc["runs"]["0"]["masks"]) == 6
    before = (bench.STUDY / "vgg-digits_single_random.json").read_text()
    # extending with the default (constrained) objective: refused, one line, the file untouched
    assert _study(bench, "--seeds", "3", "--methods", "random") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "made with --objective scalarized; got constrained" in err[0]
    assert (bench.STUDY / "vgg-digits_single_random.json").read_text() == before
    assert _study(bench, "--seeds", "1", "--kind", "multi", "--objective", "scalarized") == 2
    assert "--objective applies to --kind single only" in capsys.readouterr().err
    # the same objective extends it; done seeds are skipped
    assert _study(bench, "--seeds", "3", "--methods", "random", "--objective", "scalarized") == 0
    assert capsys.readouterr().out.split()[2:5] == ["random", "seed", "2:"]


def test_scalarized_target_and_reach_are_the_hand_computed_ones(bench) -> None:
    settings = {"objective": "scalarized", "lam": 0.1}

    def doc(method: str, runs: list[list[tuple[str, float]]]) -> dict:
        return {"model": "m", "kind": "single", "method": method, "budget": 3, "settings": settings,
                "runs": {str(k): {"masks": [m for m, _ in run], "accuracy": [a for _, a in run],
                                  "n_bn": [m.count("1") for m, _ in run], "speedup": [None] * len(run)}
                         for k, run in enumerate(runs)}}

    # values (-a + 0.1 n / 4): 1111 0.5 -> -0.4; 0011 0.6 -> -0.55; 0001 0.6 -> -0.575 (the best);
    # 0100 0.59 -> -0.565 (within 0.01 of it); 0000 0.3 -> -0.3
    docs = [doc("bo", [[("1111", 0.5), ("0011", 0.6), ("0001", 0.6)], [("0000", 0.3), ("0100", 0.59), ("1111", 0.5)]]),
            doc("random", [[("1111", 0.5), ("0000", 0.3), ("0011", 0.6)]])]
    lines = bench._single_lines("m", docs, tolerance=0.01)
    assert "target: its best value found by any method in any seed, -0.5750 (`0001`, 1 BN" in lines[0]
    rows = {line.split(" | ")[0]: line for line in lines if line.startswith("| bo") or line.startswith("| random")}
    assert rows["| bo"] == "| bo | 2/2 | 2 | -0.5700 | 3, 2 |"
    assert rows["| random"] == "| random | 0/1 | - | -0.5500 | - |"
    mixed = docs + [dict(doc("greedy", [[("1111", 0.5)]]), settings={})]  # no objective: constrained
    with pytest.raises(ValueError, match="mix objectives"):
        bench._single_lines("m", mixed, tolerance=0.01)
