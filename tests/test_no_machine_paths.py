"""Committed docs and results carry no absolute paths of the machine that made them."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Where a machine's own folders show up in paths written by a run.
MACHINE_PATH = re.compile(r"(?<![\w.])/(work|home|root|tmp|Users|private/var)/[\w.+-]")


def _committed_text() -> list[Path]:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    for ext in ("json", "md", "txt"):
        files += sorted((ROOT / "benchmarks" / "results").rglob(f"*.{ext}"))
    return files + sorted((ROOT / "tests" / "fixtures").glob("*.json"))


def test_docs_and_results_have_no_absolute_machine_paths():
    bad = []
    for path in _committed_text():
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            match = MACHINE_PATH.search(line)
            if match:
                bad.append(f"{path.relative_to(ROOT)}:{number}: {line[max(0, match.start() - 40):match.end() + 40]}")
    assert not bad, "\n".join(bad[:20])


def test_the_pattern_catches_machine_paths():
    assert MACHINE_PATH.search('"out": "/work/main/benchmarks/results/x.json"')
    assert MACHINE_PATH.search("--out /tmp/h7/search.json")
    assert not MACHINE_PATH.search("results/bn_search/bn_search.json and /usr/bin/time")
