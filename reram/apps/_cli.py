"""What every console script shares: one-line errors and the exit status of an interrupt.

:func:`run_cli` runs a script's body; a ``ValueError``/``OSError`` (bad input, a file that cannot
be read) prints ``PROG: error: <one line>`` and returns 2, Ctrl-C prints a one-line hint and
returns 130. :class:`OneLineParser` makes argparse errors one line too.
"""
from __future__ import annotations

import argparse
import sys
from typing import Callable

__all__ = ["OneLineParser", "run_cli", "one_line", "positive_int"]


def one_line(exc: BaseException) -> str:
    """The exception's message on one line (its type name when it has none)."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (``PROG: error: ...``, exit 2)."""

    def error(self, message: str) -> None:  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())}\n")


def positive_int(text: str) -> int:
    """argparse type: an int >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive int, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive int, got {text!r}")
    return value


def run_cli(prog: str, body: Callable[[], int | None], interrupted_hint: str = "") -> int:
    """Run ``body()`` as script ``prog``; returns the exit status (0, 2 bad input, 130 interrupted)."""
    try:
        status = body()
    except (ValueError, OSError) as exc:
        print(f"{prog}: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted{'; ' + interrupted_hint if interrupted_hint else ''}", file=sys.stderr)
        return 130
    return 0 if status is None else int(status)
