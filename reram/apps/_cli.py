"""What every console script shares: one-line errors, output paths checked before work, and
the exit status of an interrupt.

:func:`run_cli` runs a script's body; a ``ValueError``/``OSError`` (bad input, a file that cannot
be read) prints ``PROG: error: <one line>`` and returns 2; Ctrl-C or SIGTERM prints a one-line
hint and returns 130. :class:`OneLineParser` makes argparse errors one line too.
:func:`check_output_path` tells, before any training or sizing, whether a result file can be
written where the user asked.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Callable

from reram.io import check_replaceable, shorten

__all__ = ["OneLineParser", "run_cli", "one_line", "positive_int", "check_output_path",
           "check_output_dir"]


def one_line(exc: BaseException) -> str:
    """The exception's message on one line (its type name when it has none)."""
    text = " ".join(str(exc).split())
    return shorten(text, 500) or type(exc).__name__


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (``PROG: error: ...``, exit 2)."""

    def error(self, message: str) -> None:  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {shorten(' '.join(message.split()), 500)}\n")


def positive_int(text: str) -> int:
    """argparse type: an int >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive int, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive int, got {text!r}")
    return value


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_output_dir(path: str | os.PathLike[str], field: str = "--out") -> Path:
    """The folder ``path``, checked to be creatable and writable (nothing is created).

    Raises:
        ValueError: naming ``field`` when ``path`` is a file, or lies under a file, or in a
            folder this user cannot write.
    """
    target = Path(path).expanduser()
    if target.exists() and not target.is_dir():
        raise ValueError(f"{field} {target} is a file, not a folder")
    base = _nearest_existing(target.absolute())
    if not base.is_dir():
        raise ValueError(f"{field} {target}: {base} is a file, not a folder")
    if not _can_create_in(base):
        raise ValueError(f"{field} {target}: folder {base} is not writable")
    return target


def _can_create_in(folder: Path) -> bool:
    """Whether a file can be created in ``folder`` (tried for real: ``os.access`` says yes to
    root on read-only file systems and special folders)."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def check_output_path(path: str | os.PathLike[str], field: str = "--out") -> Path:
    """The file ``path``, checked to be writable before any work (nothing is created).

    Raises:
        ValueError: naming ``field`` when ``path`` is a folder, when its parent is a file, or
            when the file or its nearest existing folder is not writable.
    """
    target = Path(path).expanduser()
    if target.is_dir():
        raise ValueError(f"{field} {target} is a folder; give a file path")
    check_replaceable(target, field)  # a device, fifo or socket is refused before any work
    if target.exists() and not os.access(target, os.W_OK):
        raise ValueError(f"{field} {target} is not writable")
    check_output_dir(target.parent if str(target.parent) else Path("."), field=f"{field} {target}:"
                     " parent")
    return target


def _raise_interrupt(signum, frame):  # noqa: ARG001 - signal handler signature
    raise KeyboardInterrupt


def run_cli(prog: str, body: Callable[[], int | None], interrupted_hint: str = "") -> int:
    """Run ``body()`` as script ``prog``; returns the exit status (0, 2 bad input, 130 interrupted).

    SIGTERM is handled like Ctrl-C (checkpoints are written by the code that catches it, then
    one line is printed), so ``kill`` and a scheduler's time limit end a run as cleanly as Ctrl-C.
    """
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        status = body()
    except (ValueError, OSError) as exc:
        print(f"{prog}: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted{'; ' + interrupted_hint if interrupted_hint else ''}", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0 if status is None else int(status)
