"""The BN search as a library: settings, the output folder (marker, lock, damaged files), the one
found-mask rule, and the search's report (tiny real trainings, in-process)."""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reram.apps._cli import InputError, run_cli
from reram.apps.bn_cost import MaskCost
from reram.apps.bn_objective import MaskEvaluation
from reram.apps.bn_output import SEARCH_FORMAT, SearchFolder
from reram.apps.bn_search import BNSearchSettings, found_mask, front_of, run_search
from reram.apps.bn_search_cli import main

TINY = dict(model="vgg-digits", epochs=1, max_train=96, max_test=64, executor="inprocess", workers=1)
ARGV = ["--model", "vgg-digits", "--epochs", "1", "--max-train", "96", "--max-test", "64", "--quiet",
        "--executor", "inprocess", "--workers", "1", "--mode", "single", "--methods", "random", "--budget", "2",
        "--seeds", "0"]


def test_settings_are_a_frozen_documented_validated_dataclass():
    s = BNSearchSettings()
    assert all(f.metadata.get("doc") for f in dataclasses.fields(BNSearchSettings))
    # the main job (issue 22): a quarter-width vgg11 at 8 epochs, lr 0.2, three seeds, cbo vs random
    assert (s.model, s.width, s.chip, s.mode, s.methods, s.seeds, s.epochs, s.lr) == (
        "vgg11", 0.25, "neurosim", "single", ("cbo", "random"), (0, 1, 2), 8, 0.2)
    assert s.config["device"] == "epiram" and s.config["adc_bits"] == 8  # the main job's chip, by name
    assert BNSearchSettings(mode="multi").methods == ("mobo", "nsga2", "random")
    assert BNSearchSettings(model="resnet20").width == 1.0 and BNSearchSettings(width=1.0).width == 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.budget = 3  # type: ignore[misc]
    again = BNSearchSettings.from_dict(json.loads(json.dumps(s.to_dict())))
    assert again == s and again.result_key() == s.result_key()
    assert dataclasses.replace(s, workers=8).result_key() == s.result_key()  # runtime fields are free
    assert dataclasses.replace(s, epochs=2).result_key() != s.result_key()


@pytest.mark.parametrize("kwargs, message", [
    ({"mode": "both"}, "mode must be one of"), ({"mode": "multi", "methods": ("mobo", "bo")}, "methods of mode multi"),
    ({"methods": ("random", "random")}, "distinct"), ({"budget": 0}, "budget"),
    ({"tradeoff": "energy"}, "tradeoff"), ({"scalarization": "pareto"}, "scalarization"),
    ({"executor": "inprocess", "workers": 2}, "workers must be 1"), ({"chip": "tpu"}, "chip 'tpu'"),
    ({"ref_accuracy": 1.0}, "ref_accuracy"), ({"epsilon": 2.0}, "epsilon"), ({"config": "nonsense"}, "config"),
    ({"search_seeds": 4}, "search_seeds must be at most"), ({"seeds": (1, 1)}, "distinct"),
    ({"noise_floor": 0.0}, "noise_floor"), ({"scalarization": "scalarized"}, "cbo searches"),
    ({"model": "resnet20", "width": 0.5}, "width must be 1.0"),
])
def test_bad_settings_are_input_errors(kwargs, message):
    with pytest.raises(InputError, match=message):
        BNSearchSettings(**kwargs)


def test_n_init_names_nsga2_only_when_it_is_used():
    """Issue 24: '--n-init must be >= 2 (nsga2's population)' was said without nsga2."""
    with pytest.raises(InputError, match="nsga2"):
        BNSearchSettings(mode="multi", methods=("mobo", "nsga2"), n_init=1)
    assert BNSearchSettings(mode="multi", methods=("mobo", "random"), n_init=1).n_init_of(6) == {"mobo": 1, "random": 0}
    assert BNSearchSettings(mode="single", methods=("bo", "random"), n_init=1).n_init == 1
    with pytest.raises(InputError, match="n_init must be a positive integer"):
        BNSearchSettings(mode="single", n_init=0)


def _ev(mask: str, acc: float) -> MaskEvaluation:
    return MaskEvaluation(mask=mask, n_bn=mask.count("1"), num_sites=len(mask), accuracy=acc)


def test_front_and_found_mask_follow_one_rule():
    speed = {"000": 2.0, "100": 1.0, "010": 1.1, "110": 0.5, "111": 0.4, "011": 0.6}
    costs = lambda m: MaskCost(speedup=speed[m])  # noqa: E731
    evs = [_ev("000", 0.3), _ev("100", 0.8), _ev("010", 0.7), _ev("110", 0.8), _ev("111", 0.85), _ev("011", 0.6)]
    assert [e.mask for e in front_of(evs, costs, "n_bn")] == ["000", "100", "111"]
    assert [e.mask for e in front_of(evs, costs, "speedup")] == ["000", "010", "100", "111"]
    front = front_of(evs, costs, "speedup")
    assert found_mask(front, 0.85, 0.05, "speedup", costs).mask == "100"  # fastest within 0.05 of all-BN
    assert found_mask(front_of(evs, costs, "n_bn"), 0.85, 0.05, "n_bn", costs).mask == "100"
    assert found_mask(front, 0.99, 0.01, "speedup", costs).mask == "111"  # none clears it: most accurate
    assert found_mask([], 0.9, 0.0, "n_bn", costs) is None


def test_library_run_returns_the_report_and_writes_it(tmp_path, capsys):
    settings = BNSearchSettings(mode="single", methods=("random",), budget=2, seeds=(3,), **TINY)
    report = run_search(settings, tmp_path / "run", progress=False)
    assert capsys.readouterr().out == ""  # the library prints nothing
    doc = json.loads((tmp_path / "run" / "bn_search.json").read_text())
    assert doc == json.loads(json.dumps(report.to_dict()))
    assert doc["settings"]["seeds"] == [3] and doc["chip"] == "neurosim"
    refs = {ev.mask for ev in report.references.values()}
    assert set(report.costs) == set(report.evaluations) | refs  # every mask of the report costed
    assert "found (random)" in report.table() and report.settings == settings  # settings unchanged
    marker = json.loads((tmp_path / "run" / "settings.json").read_text())
    assert marker["format"] == SEARCH_FORMAT and marker["settings"] == settings.to_dict()


# ---------------------------------------------------------------- the output folder (issue 24)
def test_overwrite_refuses_a_folder_no_search_wrote(tmp_path, capsys):
    """Issue 24, item 2: any folder holding a settings.json counted as a search and --overwrite
    removed its evals/, checkpoint_*.json and the user's settings.json."""
    out = tmp_path / "mine"
    (out / "evals").mkdir(parents=True)
    (out / "evals" / "keep.txt").write_text("user data")
    (out / "settings.json").write_text('{"lr": 0.1}')
    (out / "checkpoint_x.json").write_text("{}")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    for extra in ([], ["--overwrite"], ["--resume"]):
        assert main([*ARGV, "--out", str(out), *extra]) == 2
        err = capsys.readouterr().err
        assert "was not written by reram-bn-search" in err and err.count("\n") == 1
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before  # untouched
    (out / "settings.json").unlink()
    assert main([*ARGV, "--out", str(out), "--overwrite"]) == 2  # evals/ without a marker: not ours
    assert "no search marker" in capsys.readouterr().err and (out / "evals" / "keep.txt").is_file()


def test_an_older_format_is_named_refused_on_resume_and_replaced_on_request(tmp_path, capsys):
    from reram.apps.bn_output import V1_SETTINGS_KEYS

    out = tmp_path / "old"
    (out / "evals" / "abc").mkdir(parents=True)
    (out / "evals" / "abc" / "111111.json").write_text("{}")
    (out / "settings.json").write_text(json.dumps({k: None for k in V1_SETTINGS_KEYS}))  # reram 0.1
    for extra in (["--resume"], []):
        assert main([*ARGV, "--out", str(out), *extra]) == 2
        assert "format version 1" in capsys.readouterr().err
    assert main([*ARGV, "--out", str(out), "--overwrite"]) == 0
    assert not (out / "evals" / "abc").exists()
    (out / "settings.json").write_text(json.dumps({"format": SEARCH_FORMAT, "version": 3, "settings": {}}))
    assert main([*ARGV, "--out", str(out), "--resume"]) == 2
    assert "format version 3" in capsys.readouterr().err


def test_one_search_per_folder_and_a_killed_one_leaves_no_lock(tmp_path, capsys):
    """Issue 24, item 4: two searches into one folder corrupted it; the lock is advisory (flock),
    so a killed holder leaves nothing stuck."""
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from reram.apps.bn_output import SearchFolder; "
        f"SearchFolder({str(out)!r}).lock(); print('locked', flush=True); time.sleep(120)")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert main([*ARGV, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert "in use by another reram-bn-search" in err and err.count("\n") == 1
        assert not (out / "settings.json").exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    folder = SearchFolder(out)
    folder.lock()  # the dead holder's lock is gone
    folder.unlock()
    assert main([*ARGV, "--out", str(out)]) == 0


def test_a_finished_search_with_damaged_eval_files_resumes_and_retrains_them(tmp_path, capsys):
    """Issue 24: one missing, truncated or edited eval cache file made --resume fail with an
    AttributeError; such files are trained again."""
    out = tmp_path / "run"
    assert main([*ARGV, "--out", str(out)]) == 0
    first = json.loads((out / "bn_search.json").read_text())
    files = sorted(out.glob("evals/*/*.json"))
    assert len(files) >= 3
    files[0].unlink()                                      # missing
    files[1].write_text(files[1].read_text()[:30])          # truncated
    files[2].write_text(json.dumps({"fingerprint": 1}))     # edited
    capsys.readouterr()
    assert main([*ARGV, "--out", str(out), "--resume"]) == 0
    again = json.loads((out / "bn_search.json").read_text())
    assert all(p.is_file() for p in files)  # rewritten
    same = lambda run: [(r["mask"], r["value"], r["accuracy"]) for r in run["history"]]  # noqa: E731
    assert same(again["runs"]["random"]) == same(first["runs"]["random"])  # the checkpoint, replayed
    assert again["evaluations"].keys() == first["evaluations"].keys()
    for mask, ev in first["evaluations"].items():  # same seed, same machine: same accuracy
        assert again["evaluations"][mask]["accuracy"] == ev["accuracy"]


@pytest.mark.parametrize("name, damage, message", [
    ("settings.json", lambda p: p.write_text(p.read_text()[:25]), "settings.json is damaged"),
    ("settings.json", lambda p: p.write_text(json.dumps({**json.loads(p.read_text()), "settings": {"epoch": 1}})),
     "settings.json is damaged"),
    ("settings.json", lambda p: p.write_text(json.dumps({**json.loads(p.read_text()), "n_init": None})),
     "settings.json is damaged"),
    ("checkpoint_random.json", lambda p: p.write_text(p.read_text()[:50]), "checkpoint_random.json"),
    ("checkpoint_random.json", lambda p: p.write_text('{"version": 1}'), "checkpoint_random.json"),
])
def test_damaged_settings_and_checkpoints_are_named_in_one_line(tmp_path, capsys, name, damage, message):
    """Issue 24: damaged settings/checkpoints gave KeyError/AttributeError or errors that did not
    name the file."""
    out = tmp_path / "run"
    assert main([*ARGV, "--out", str(out)]) == 0
    damage(out / name)
    capsys.readouterr()
    assert main([*ARGV, "--out", str(out), "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("reram-bn-search: error:") and message in err and err.count("\n") == 1


# ---------------------------------------------------------------- errors and imports
def test_only_input_errors_are_one_line_and_bugs_keep_their_traceback(capsys):
    def bad_input():
        raise InputError("epochs must be >= 1,\n got 0")

    assert run_cli("prog", bad_input) == 2
    assert capsys.readouterr().err == "prog: error: epochs must be >= 1, got 0\n"

    def bug():
        raise ValueError("a bug deep in the code")

    with pytest.raises(ValueError, match="a bug"):
        run_cli("prog", bug)
    assert issubclass(InputError, ValueError)


def test_a_bug_in_the_search_exits_1_with_its_traceback(tmp_path):
    code = ("import sys; import reram.apps.bn_search as s; "
            "s.front_of = lambda *a, **k: (_ for _ in ()).throw(ValueError('planted bug')); "
            "from reram.apps.bn_search_cli import main; sys.exit(main(sys.argv[1:]))")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", code, *ARGV, "--out", str(tmp_path / "run")], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and "Traceback" in done.stderr and "planted bug" in done.stderr


def test_import_reram_is_light():
    code = ("import sys, reram, reram.apps.bn_search_cli; "
            "heavy = [m for m in sys.modules if m.split('.')[0] in ('numba', 'botorch', 'gpytorch') "
            "or m.startswith(('reram.sim', 'reram.cost'))]; print(heavy)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr


def test_the_pareto_module_imports_without_torch():
    code = ("import sys\n"
            "class Block:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] in ('torch', 'numba', 'botorch'):\n"
            "            raise ImportError('blocked ' + name)\n"
            "sys.meta_path.insert(0, Block())\n"
            "from reram.search.pareto import hypervolume, pareto_mask\n"
            "print(hypervolume([[0.0, 0.0]], [1.0, 1.0]), pareto_mask([[0, 1], [1, 0], [1, 1]]).tolist())\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1.0 [True, True, False]"


def test_botorch_import_leaves_no_cpp_extension_log_line():
    """The main job printed torch's 'No CUDA runtime is found' amid its progress bars: BoTorch
    imports torch.utils.cpp_extension when it builds a qLogNEHVI acquisition."""
    code = ("from reram.runtime import import_botorch; import_botorch(); "
            "import torch.utils.cpp_extension, logging; "
            "print(logging.getLogger('torch.utils.cpp_extension').disabled)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stderr
    assert "cpp_extension" not in done.stderr and "CUDA" not in done.stderr


def test_same_seed_same_machine_same_table(tmp_path):
    """Issue 22: a search is a function of its settings on one machine: two runs into two folders
    (no shared cache) give the same references, histories, found masks and accuracies."""
    settings = BNSearchSettings(mode="single", methods=("cbo",), budget=2, seeds=(0, 1), **TINY)
    docs = []
    for name in ("a", "b"):
        run_search(settings, tmp_path / name, progress=False)
        doc = json.loads((tmp_path / name / "bn_search.json").read_text())
        docs.append({"references": doc["references"], "found": doc["found"],
                     "runs": {m: [(r["mask"], r.get("accuracy")) for r in run["history"]] for m, run in doc["runs"].items()}})
    for doc in docs:  # the train times differ between the runs; drop them
        for row in [*doc["references"].values(), *(f for f in doc["found"].values() if f)]:
            row.pop("train_time_s")
    assert docs[0] == docs[1]
    ref = docs[0]["references"]["all"]
    assert ref["seeds"] == [0, 1] and len(ref["accuracies"]) == 2
    assert ref["accuracy_mean"] == pytest.approx(sum(ref["accuracies"]) / 2)
