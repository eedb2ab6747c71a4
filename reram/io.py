"""Files written and read by every part of reram: one atomic writer, one JSON reader.

A result or checkpoint file is never seen half-written: :func:`atomic_write` writes a uniquely
named temporary file in the target's folder, flushes and fsyncs it, gives it mode 0644 and
renames it over the target (atomic on POSIX), so two writers of one path never share a temp file
and a crash leaves either the old file or the new one. It only ever replaces a regular file: a
symlink is written through (the file it points to is replaced, atomically, in that file's
folder), and a folder, device node, fifo or socket is refused with one line
(:func:`check_replaceable`). Temporary files carry the writer's process id
(``.<name>.<pid>.<random>.tmp``); one left by a killed process is removed by the next write of
the same file. JSON is strict: NaN and infinities become ``null``. :func:`read_json` and
:func:`parse_json` name the file or value in their one-line errors (malformed or too deeply
nested JSON alike).

Imports nothing of reram (the search, models, analog and cost packages all use it).
"""
from __future__ import annotations

import json
import math
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Any, Callable

__all__ = ["atomic_write", "atomic_write_text", "atomic_write_json", "read_json", "parse_json",
           "json_safe", "save_figure", "check_replaceable", "shorten", "pid_alive"]

#: How many characters of a user's value an error message echoes (:func:`shorten`).
ECHO_CHARS = 200


def shorten(text: str, limit: int = ECHO_CHARS) -> str:
    """``text`` cut to about ``limit`` characters, saying how long it was (for error messages)."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


def check_replaceable(path: str | os.PathLike[str], field: str = "output") -> Path:
    """The file a write of ``path`` replaces: ``path`` itself, or the file a symlink points to.

    Raises:
        IsADirectoryError: when it is a folder.
        OSError: when it exists but is not a regular file (a device node, fifo or socket):
            such a file is never replaced.
    """
    target = Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)
    try:
        mode = os.stat(target).st_mode
    except (FileNotFoundError, NotADirectoryError):  # not there yet (or under a file: the
        return target                                 # folder check or the write says so)
    except OSError as exc:
        raise OSError(f"{field} {os.fspath(path)} cannot be checked ({exc.strerror or exc})") from None
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(f"{field} {os.fspath(path)} is a folder; give a file path")
    if not stat.S_ISREG(mode):
        raise OSError(f"{field} {os.fspath(path)} is not a regular file (a device, fifo or "
                      "socket); refusing to replace it")
    return target


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a temp file or folder tagged with it is still in use)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _remove_stale_temps(target: Path) -> None:
    """Remove this file's temporary files left by writers that no longer run (killed)."""
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.(\d+)\.[^.]+\.tmp$")
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return
    for entry in entries:
        match = pattern.match(entry.name)
        if match and int(match.group(1)) != os.getpid() and not pid_alive(int(match.group(1))):
            try:
                os.unlink(entry.path)
            except OSError:
                pass


def atomic_write(path: str | os.PathLike[str], write: Callable[[str], None]) -> Path:
    """Create ``path`` atomically: ``write(tmp_path)`` fills a temporary file, then it replaces ``path``.

    Args:
        path: the file to create or replace; missing parent folders are created. A symlink is
            written through: the file it points to is replaced.
        write: called with the temporary file's path (e.g. ``lambda p: torch.save(obj, p)``).

    Returns:
        ``path`` as a ``Path``.

    Raises:
        IsADirectoryError, OSError: when ``path`` is a folder or exists but is not a regular
            file (see :func:`check_replaceable`); nothing is written then.
    """
    given = Path(path)
    target = check_replaceable(given)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp",
                               dir=target.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return given


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def json_safe(value: Any) -> Any:
    """``value`` with NaN/inf floats as ``None``, tuples as lists, paths and NumPy scalars plain."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    item = getattr(value, "item", None)  # NumPy / torch scalars
    if callable(item) and getattr(value, "ndim", None) == 0:
        return json_safe(item())
    return value


def atomic_write_json(path: str | os.PathLike[str], payload: Any, indent: int | None = 2,
                      keep_nonfinite: bool = False) -> Path:
    """Write ``payload`` as JSON to ``path`` atomically.

    Args:
        path: the file.
        payload: dicts, lists, numbers, strings (NumPy scalars and paths are converted).
        indent: as ``json.dumps``.
        keep_nonfinite: write NaN/inf as Python's ``NaN``/``Infinity`` tokens (read back
            exactly by ``json.load``, e.g. for a resumable state) instead of strict ``null``.
    """
    if keep_nonfinite:
        text = json.dumps(payload, indent=indent, default=_plain)
    else:
        text = json.dumps(json_safe(payload), indent=indent, allow_nan=False)
    return atomic_write_text(path, text + "\n")


def _plain(value: Any) -> Any:
    safe = json_safe(value)
    if safe is value:
        raise TypeError(f"cannot write {type(value).__name__} to JSON")
    return safe


def save_figure(fig: Any, path: str | os.PathLike[str], dpi: int = 110) -> Path:
    """Write a matplotlib figure to ``path`` atomically (format from the suffix) and close it."""
    import matplotlib.pyplot as plt

    target = Path(path)
    fmt = target.suffix.lstrip(".") or "png"
    try:
        return atomic_write(target, lambda tmp: fig.savefig(tmp, dpi=dpi, format=fmt))
    finally:
        plt.close(fig)


def read_json(path: str | os.PathLike[str], what: str = "file") -> Any:
    """Parse the JSON file ``path``; a missing or malformed file raises ``ValueError`` naming it.

    Args:
        path: the file.
        what: what the file is, for the message (e.g. ``"--history"``).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"{what} {os.fspath(path)} does not exist") from None
    except UnicodeDecodeError:
        raise ValueError(f"{what} {os.fspath(path)} is not UTF-8 text") from None
    except OSError as exc:
        raise ValueError(f"{what} {os.fspath(path)} cannot be read ({exc.strerror or exc})") from None
    return parse_json(text, f"{what} {os.fspath(path)}")


def parse_json(text: str, what: str = "value") -> Any:
    """Parse JSON ``text``; malformed or too deeply nested JSON raises a one-line ``ValueError``
    naming ``what`` (not ``RecursionError``)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what} is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except RecursionError:
        raise ValueError(f"{what} is JSON nested too deeply to read") from None
