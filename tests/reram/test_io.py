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


# ---------------------------------------------------------------- issue 24: never replace what is not ours
def test_a_fifo_or_socket_is_refused_with_one_line_and_left_in_place(tmp_path):
    import socket

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a regular file") as info:
        atomic_write_json(fifo, {"v": 1})
    assert "\n" not in str(info.value) and stat.S_ISFIFO(os.lstat(fifo).st_mode)
    sock_path = tmp_path / "s"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(sock_path))
        with pytest.raises(OSError, match="not a regular file"):
            atomic_write_json(sock_path, {"v": 1})
        assert stat.S_ISSOCK(os.lstat(sock_path).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo", "s"]  # no temp file left


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="needs /dev/null")
def test_a_device_node_is_refused(tmp_path):
    link = tmp_path / "null"
    os.symlink("/dev/null", link)
    with pytest.raises(OSError, match="not a regular file"):
        atomic_write_json("/dev/null", {"v": 1})
    with pytest.raises(OSError, match="not a regular file"):
        atomic_write_json(link, {"v": 1})
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode) and os.path.islink(link)


def test_a_symlink_is_written_through_to_its_target(tmp_path):
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    real = real_dir / "result.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    os.symlink(real, link)
    atomic_write_json(link, {"v": 2})
    assert os.path.islink(link) and json.loads(real.read_text()) == {"v": 2}
    dangling = tmp_path / "dangling.json"
    os.symlink(real_dir / "new.json", dangling)
    atomic_write_json(dangling, {"v": 3})
    assert os.path.islink(dangling) and json.loads((real_dir / "new.json").read_text()) == {"v": 3}
    assert sorted(p.name for p in real_dir.iterdir()) == ["new.json", "result.json"]


def test_a_folder_is_refused(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(IsADirectoryError, match="is a folder"):
        atomic_write_json(tmp_path / "d", {"v": 1})


def test_temp_files_of_killed_writers_are_removed_by_the_next_write(tmp_path):
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".a.json.{dead.pid}.abcd1234.tmp"
    stale.write_text("half")
    alive = tmp_path / f".a.json.{os.getppid()}.abcd1234.tmp"  # a live writer's: kept
    alive.write_text("busy")
    other = tmp_path / f".b.json.{dead.pid}.abcd1234.tmp"  # another file's: not this write's
    other.write_text("x")
    atomic_write_json(tmp_path / "a.json", {"v": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["a.json", alive.name, other.name])


def test_deeply_nested_json_is_a_one_line_error(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(ValueError, match="nested too deeply") as info:
        read_json(path, "--history")
    assert str(path) in str(info.value)


def test_shorten_cuts_long_values():
    from reram.io import shorten

    assert shorten("abc") == "abc"
    cut = shorten("x" * 10_000_000)
    assert len(cut) < 300 and "10000000 characters" in cut
