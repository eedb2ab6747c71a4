"""The one atomic writer, the JSON reader and the device resolver."""
from __future__ import annotations

import json
import math
import os
import stat
import threading

import numpy as np
import pytest
import torch

from reram.runtime import resolve_device
from reram.io import atomic_write, atomic_write_json, read_json


def test_json_is_strict_mode_0644_and_leaves_no_temp_file(tmp_path):
    path = atomic_write_json(tmp_path / "sub" / "a.json",
                             {"x": math.nan, "y": [np.float32(1.5), math.inf], "p": tmp_path})
    assert json.loads(path.read_text()) == {"x": None, "y": [1.5, None], "p": str(tmp_path)}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert [p.name for p in path.parent.iterdir()] == ["a.json"]


def test_keep_nonfinite_round_trips(tmp_path):
    path = atomic_write_json(tmp_path / "s.json", {"best": math.inf}, keep_nonfinite=True)
    assert json.loads(path.read_text()) == {"best": math.inf}


def test_a_failed_write_keeps_the_old_file(tmp_path):
    path = atomic_write_json(tmp_path / "a.json", {"v": 1})

    def broken(tmp):
        open(tmp, "w").write("half")
        raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        atomic_write(path, broken)
    assert json.loads(path.read_text()) == {"v": 1} and len(list(tmp_path.iterdir())) == 1


def test_concurrent_writers_never_collide(tmp_path):
    path = tmp_path / "shared.json"
    errors = []

    def write(i):
        try:
            for _ in range(20):
                atomic_write_json(path, {"writer": i, "pad": "x" * 10000})
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and json.loads(path.read_text())["writer"] in range(4)


def test_read_json_names_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    with pytest.raises(ValueError, match=r"--history .*bad\.json is not valid JSON"):
        read_json(bad, "--history")
    with pytest.raises(ValueError, match=r"missing\.json does not exist"):
        read_json(tmp_path / "missing.json")


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(None).type in ("cpu", "cuda")
    with pytest.raises(ValueError, match="--device must be"):
        resolve_device("tpu", "--device")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")


def test_save_figure_writes_the_suffix_format_atomically_and_closes(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from reram.io import save_figure

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    path = save_figure(fig, tmp_path / "sub" / "plot.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plt.fignum_exists(fig.number) and [p.name for p in path.parent.iterdir()] == ["plot.png"]
