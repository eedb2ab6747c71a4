"""Worker process that owns one libngspice instance (libngspice is not thread-safe).

Loaded by :mod:`reram.analog.ngspice` in a separate process; it only needs ``ctypes``. The parent
sends ``(netlist_lines, commands)`` over a pipe and gets back ``(log_text, alive)``; when
ngspice asks to exit (a fatal error) the worker answers and quits, and the parent starts a new one.

The worker is forked, so it inherits the parent's signal handlers: a console script's SIGTERM
handler raises ``KeyboardInterrupt`` (:func:`reram.apps._cli.run_cli`), and multiprocessing ends a
daemonic worker at exit with SIGTERM, which printed a ``KeyboardInterrupt`` traceback after every
successful ``reram-size`` run. The worker therefore takes SIGTERM's default action (it just ends)
and ignores SIGINT (Ctrl-C reaches the whole process group; the parent stops the worker).
"""
from __future__ import annotations

import ctypes
import signal
from multiprocessing.connection import Connection

_SEND_CHAR = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_void_p)
_SEND_STAT = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_void_p)
_EXIT = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_bool, ctypes.c_bool, ctypes.c_int,
                         ctypes.c_void_p)


def serve(conn: Connection, library: str) -> None:
    """Load ``library`` and run simulation jobs from ``conn`` until it closes.

    Args:
        conn: the worker end of a :func:`multiprocessing.Pipe`.
        library: file name or path of the libngspice shared object.
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        lib = ctypes.CDLL(library)
    except OSError as exc:  # reported to the parent, which falls back or raises
        conn.send(("load-error", str(exc)))
        return
    log: list[str] = []
    state = {"exited": False}

    def on_char(text: bytes, _id: int, _user: ctypes.c_void_p) -> int:
        line = text.decode(errors="replace")
        for prefix in ("stdout ", "stderr "):
            if line.startswith(prefix):
                line = line[len(prefix):]
        log.append(line)
        return 0

    def on_stat(_text: bytes, _id: int, _user: ctypes.c_void_p) -> int:
        return 0

    def on_exit(status: int, _unload: bool, _quit: bool, _id: int, _user: ctypes.c_void_p) -> int:
        state["exited"] = True
        log.append(f"ngspice requested exit with status {status}")
        return 0

    callbacks = (_SEND_CHAR(on_char), _SEND_STAT(on_stat), _EXIT(on_exit))
    lib.ngSpice_Init(callbacks[0], callbacks[1], callbacks[2], None, None, None, None)
    lib.ngSpice_Command.argtypes = [ctypes.c_char_p]
    conn.send(("ready", ""))
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        lines, commands = job
        log.clear()
        array = (ctypes.c_char_p * (len(lines) + 1))(*[line.encode() for line in lines], None)
        lib.ngSpice_Circ(array)
        for command in commands:
            if state["exited"]:
                break
            lib.ngSpice_Command(command.encode())
        if not state["exited"]:
            lib.ngSpice_Command(b"remcirc")
            lib.ngSpice_Command(b"destroy all")
        conn.send(("done", "\n".join(log)))
        if state["exited"]:
            return
