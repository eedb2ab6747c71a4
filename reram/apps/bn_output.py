"""The output folder of a BN search: what a search wrote there, one search at a time.

A search writes ``settings.json`` first; it is also the folder's marker (``"format":
"reram-bn-search"`` and a ``"version"``), so ``--overwrite`` deletes only what a search wrote
(:data:`SEARCH_FILES`, ``evals/``) and only in a folder whose marker says a search wrote it (or a version-1 folder, recognized
by its settings' keys);
anything else is refused with one line. While a search runs it holds an advisory lock
(``fcntl.flock``) on ``<out>/.lock``: a second search into the same folder exits with one line,
and a killed search leaves nothing stuck (the kernel drops the lock with the process).

Imports nothing of reram but :mod:`reram.io` and :mod:`reram.apps._cli`.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from reram.apps._cli import InputError, check_output_dir
from reram.io import atomic_write_json

__all__ = ["SEARCH_FORMAT", "SEARCH_FORMAT_VERSION", "SEARCH_FILES", "SearchFolder"]

#: The marker of a BN-search folder (in its settings.json).
SEARCH_FORMAT = "reram-bn-search"
#: Version 2: the 0.2.0 settings (``BNSearchSettings``) and cache fingerprints.
SEARCH_FORMAT_VERSION = 2
#: The keys of a version-1 settings.json (reram 0.1, before the marker): such a folder was written
#: by a search, so --overwrite may replace it; --resume refuses it.
V1_SETTINGS_KEYS = frozenset({"model", "dataset", "config", "epochs", "objectives", "methods", "method",
                              "objective", "pareto_metric", "num_sites", "ref_point", "n_init", "search_batch"})
#: Files a search writes besides ``evals/`` and ``checkpoint_<method>.json``.
SEARCH_FILES = ("bn_search.json", "convergence.png", "accuracy_vs_bn.png", "accuracy_vs_speedup.png",
                "settings.json")


class SearchFolder:
    """The ``--out`` folder of one search (checked to be creatable; nothing is created).

    Attributes:
        path: the folder.
        settings_file: ``<path>/settings.json``, the marker.
        evals: the per-mask cache folder.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = check_output_dir(path)
        self.settings_file = self.path / "settings.json"
        self.evals = self.path / "evals"
        self._lock_fd: int | None = None

    def checkpoint(self, method: str) -> Path:
        """The checkpoint file of one method."""
        return self.path / f"checkpoint_{method}.json"

    def _ours(self) -> list[Path]:
        """The files and folders a search may have written that exist now."""
        found = [self.path / name for name in SEARCH_FILES if (self.path / name).exists()]
        found += sorted(self.path.glob("checkpoint_*.json"))
        return found + ([self.evals] if self.evals.exists() else [])

    def read_marker(self) -> dict[str, Any] | None:
        """The saved ``settings.json`` of a search, ``None`` when there is none.

        Raises:
            InputError: naming the file, when it exists but is damaged or was not written by a
                search of this version.
        """
        if not self.settings_file.exists():
            return None
        name = str(self.settings_file)
        try:
            doc = json.loads(self.settings_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"{name} is damaged ({type(exc).__name__}); it was not written by a "
                             "complete reram-bn-search: use another --out") from None
        if isinstance(doc, dict) and "format" not in doc and V1_SETTINGS_KEYS <= set(doc):
            return {"format": SEARCH_FORMAT, "version": 1}
        if not isinstance(doc, dict) or doc.get("format") != SEARCH_FORMAT:
            raise InputError(f"{name} was not written by reram-bn-search; refusing to touch this folder: "
                             "use another --out")
        if doc.get("version") == SEARCH_FORMAT_VERSION and not (
                isinstance(doc.get("settings"), dict) and isinstance(doc.get("n_init"), dict)):
            raise InputError(f"{name} is damaged (no 'settings' or 'n_init' object): use another --out")
        return doc

    def _check_version(self, marker: dict[str, Any]) -> None:
        if marker.get("version") != SEARCH_FORMAT_VERSION:
            raise InputError(f"{self.settings_file} holds a search of format version {marker.get('version')!r}, "
                             f"this is version {SEARCH_FORMAT_VERSION}: replace it with --overwrite or use another --out")

    def check(self, resume: bool, overwrite: bool) -> dict[str, Any] | None:
        """Check that a search may run here as asked; returns the saved marker when resuming.

        Raises:
            InputError: with one line, for ``--resume`` without a search, a folder holding a
                search without ``--resume``/``--overwrite``, or files no search wrote.
        """
        if resume and overwrite:
            raise InputError("--resume and --overwrite exclude each other: continue the search in --out or replace it")
        marker = self.read_marker()
        if resume:
            if marker is None:
                raise InputError(f"--resume: {str(self.path)!r} holds no search to resume (no settings.json)")
            self._check_version(marker)
            return marker
        if marker is None and self._ours():
            names = ", ".join(p.name for p in self._ours())
            raise InputError(f"--out {str(self.path)!r} holds {names} but no search marker (settings.json): "
                             "not a reram-bn-search folder; use another --out")
        if marker is not None and not overwrite:
            if marker.get("version") != SEARCH_FORMAT_VERSION:
                self._check_version(marker)
            raise InputError(f"--out {str(self.path)!r} holds a search already: continue it with --resume or "
                             "replace it with --overwrite")
        return None

    def lock(self) -> None:
        """Create the folder and take its lock (held until :meth:`unlock` or the process ends).

        Raises:
            InputError: if another process holds the lock (a search runs in this folder).
        """
        import fcntl

        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise InputError(f"--out {str(self.path)!r} is in use by another reram-bn-search; "
                             "one search per folder") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    def unlock(self) -> None:
        """Release the lock (the lock file stays; it holds nothing)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def clear(self) -> None:
        """Remove what an earlier search wrote (call after :meth:`check` passed with overwrite)."""
        for path in self._ours():
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()

    def write_marker(self, settings: dict[str, Any], n_init: dict[str, int]) -> None:
        """Write ``settings.json``: the marker, the settings and each method's initial design."""
        atomic_write_json(self.settings_file, {"format": SEARCH_FORMAT, "version": SEARCH_FORMAT_VERSION,
                                               "settings": settings, "n_init": n_init}, indent=1)
