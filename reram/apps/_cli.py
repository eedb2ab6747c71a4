"""What every console script shares: one-line errors for bad input, output paths checked
before work, the exit status of an interrupt, and the flags every script spells the same way.

:class:`InputError` (a ``ValueError``) is what code raises for bad input. :func:`run_cli` runs a
script's body; an :class:`InputError` prints ``PROG: error: <one line>`` and returns 2, Ctrl-C
or SIGTERM prints a one-line hint and returns 130, and any other exception keeps its traceback
(exit 1: a bug must not look like a user mistake). :class:`OneLineParser` makes argparse errors
one line too. :func:`check_output_path` / :func:`check_output_dir` tell, before any work, whether
a result can be written where the user asked. :func:`add_output_flags` and
:func:`add_chip_flag` give ``--out``/``--resume``/``--overwrite``/``--quiet`` and ``--chip``
one spelling and one meaning across the scripts.

Imports nothing of reram but :mod:`reram.io`.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable

from reram.io import check_replaceable, shorten

__all__ = ["InputError", "OneLineParser", "run_cli", "one_line", "positive_int", "check_output_path",
           "check_output_dir", "add_output_flags", "add_chip_flag", "as_input_error"]


class InputError(ValueError):
    """Bad input: a value the user gave that is not allowed. The message is one sentence naming
    the field and what is allowed; :func:`run_cli` prints it as one line and exits 2."""


class as_input_error:
    """Context manager: a ``ValueError`` (or ``OSError``) raised inside becomes an
    :class:`InputError` with the same message. For code that validates user input with
    library checks that raise ``ValueError``; never wrap the work itself."""

    def __init__(self, *types: type[BaseException]) -> None:
        self.types = types or (ValueError,)

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is not None and isinstance(exc, self.types) and not isinstance(exc, InputError):
            raise InputError(one_line(exc)) from exc
        return False


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
        InputError: naming ``field`` when ``path`` is a file, or lies under a file, or in a
            folder this user cannot write.
    """
    target = Path(path).expanduser()
    if target.exists() and not target.is_dir():
        raise InputError(f"{field} {target} is a file, not a folder")
    base = _nearest_existing(target.absolute())
    if not base.is_dir():
        raise InputError(f"{field} {target}: {base} is a file, not a folder")
    if not _can_create_in(base):
        raise InputError(f"{field} {target}: folder {base} is not writable")
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
        InputError: naming ``field`` when ``path`` is a folder, when its parent is a file, or
            when the file or its nearest existing folder is not writable.
    """
    target = Path(path).expanduser()
    if target.is_dir():
        raise InputError(f"{field} {target} is a folder; give a file path")
    try:
        check_replaceable(target, field)  # a device, fifo or socket is refused before any work
    except OSError as exc:
        raise InputError(one_line(exc)) from None
    if target.exists() and not os.access(target, os.W_OK):
        raise InputError(f"{field} {target} is not writable")
    check_output_dir(target.parent if str(target.parent) else Path("."), field=f"{field} {target}:"
                     " parent")
    return target


def _raise_interrupt(signum, frame):  # noqa: ARG001 - signal handler signature
    raise KeyboardInterrupt


def run_cli(prog: str, body: Callable[[], int | None], interrupted_hint: str = "",
            input_errors: tuple[type[BaseException], ...] = (InputError,)) -> int:
    """Run ``body()`` as script ``prog``; returns the exit status (0, 2 bad input, 130 interrupted).

    An exception of ``input_errors`` (default :class:`InputError` only) prints one line and
    returns 2; any other exception propagates with its traceback (exit 1). SIGTERM is handled
    like Ctrl-C (checkpoints are written by the code that catches it, then one line is
    printed), so ``kill`` and a scheduler's time limit end a run as cleanly as Ctrl-C.
    """
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        status = body()
    except input_errors as exc:
        print(f"{prog}: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted{'; ' + interrupted_hint if interrupted_hint else ''}", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0 if status is None else int(status)


def add_output_flags(parser: argparse.ArgumentParser, default: str | None, what: str = "output folder",
                     resume: bool = True) -> None:
    """``--out`` (the ``what``), ``--resume`` and ``--overwrite`` (with ``resume``), ``--quiet``:
    the one spelling and meaning of these flags in every script."""
    parser.add_argument("--out", default=default, help=what)
    if resume:
        parser.add_argument("--resume", action="store_true", help="continue the run saved in --out")
        parser.add_argument("--overwrite", action="store_true",
                            help="replace the run saved in --out (only files a run of this script wrote)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars or log lines")


def add_chip_flag(parser: argparse.ArgumentParser, default: str) -> None:
    """``--chip``: a chip preset name (``reram.Chip.preset``) or a chip JSON file."""
    parser.add_argument("--chip", default=default,
                        help="the chip costed: a preset name (isaac, puma, neurosim, ...) or a chip JSON file")
