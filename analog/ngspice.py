"""ngspice backend: run a netlist's analyses and read back the vectors.

Two ways to drive ngspice (Debian packages ``ngspice`` and ``libngspice0``):

* ``shared``: libngspice through ``ctypes`` in a worker process (fast, no process start per
  simulation; the worker isolates crashes and the library's lack of thread safety);
* ``batch``: ``ngspice -b`` on a netlist file with a ``.control`` block (the fallback).

Both run the same control commands, which write every vector with ``wrdata`` into a private
temporary folder, so the results are parsed one way. Every simulation has a timeout; a failed,
non-converging or timed-out run raises :class:`SimulationError` (the evaluation layer turns that
into a recorded failure with a penalty). Imports nothing from the rest of reram.
"""
from __future__ import annotations

import ctypes.util
import itertools
import multiprocessing as mp
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field

import numpy as np

from reram.io import pid_alive

__all__ = [
    "AcSweep",
    "NoiseSweep",
    "TranSweep",
    "Analyses",
    "SimResult",
    "SimulationError",
    "SimulationTimeout",
    "NgspiceNotFoundError",
    "NgspiceSimulator",
    "find_ngspice",
    "get_simulator",
]

INSTALL_HINT = "install the Debian packages 'ngspice' and 'libngspice0' (apt-get install ngspice libngspice0)"

# Log phrases that mean the analysis did not produce a trustworthy result. ngspice 39 rescues a
# failed DC solution with a "transient op"; after gmin and source stepping both failed we do not
# trust that answer either.
_FAILURE_PATTERNS = (
    "error",
    "aborted",
    "timestep too small",
    "source stepping failed",
    "fatal",
    "requested exit",
)
_MAX_NODE_VOLTAGE = 1e3


class SimulationError(RuntimeError):
    """A simulation failed: did not converge, ngspice reported an error, or vectors are missing."""


class SimulationTimeout(SimulationError):
    """A simulation ran past its time limit and was killed."""


class NgspiceNotFoundError(RuntimeError):
    """Neither libngspice nor the ngspice program is installed."""


@dataclass(frozen=True)
class AcSweep:
    """Small-signal AC sweep, logarithmic in frequency.

    Attributes:
        vectors: expressions to save, e.g. ``("v(out)", "v(outp,outn)")``.
        f_start: first frequency in Hz.
        f_stop: last frequency in Hz.
        points_per_decade: frequency points per decade.
    """

    vectors: tuple[str, ...]
    f_start: float = 1.0
    f_stop: float = 10e9
    points_per_decade: int = 20


@dataclass(frozen=True)
class NoiseSweep:
    """Noise analysis; returns the integrated ``onoise_total`` (V rms at the output) and
    ``inoise_total`` (input-referred) over ``[f_start, f_stop]``.

    Attributes:
        output: output node spec, e.g. ``"v(out)"`` or ``"v(outp,outn)"``.
        source: name of the independent input source.
    """

    output: str
    source: str
    f_start: float = 1.0
    f_stop: float = 10e9
    points_per_decade: int = 20


@dataclass(frozen=True)
class TranSweep:
    """Transient analysis with a maximum time step ``step`` up to ``stop`` (both in s)."""

    vectors: tuple[str, ...]
    step: float
    stop: float


@dataclass(frozen=True)
class Analyses:
    """What to simulate: an operating point (always) and optional AC, noise and transient runs.

    Attributes:
        op_vectors: operating-point quantities to read, e.g. ``("v(out)", "i(vdd)", "@m1[id]")``.
    """

    op_vectors: tuple[str, ...]
    ac: AcSweep | None = None
    noise: NoiseSweep | None = None
    tran: TranSweep | None = None


@dataclass
class SimResult:
    """Vectors of one simulation.

    Attributes:
        op: operating-point values by requested name.
        ac_freq: AC frequencies in Hz (``n_freq``-dim) or ``None``.
        ac: complex AC responses by requested name, each ``n_freq``-dim.
        noise: ``{"onoise_total": V rms, "inoise_total": input-referred rms}``.
        tran_time: transient time points in s or ``None``.
        tran: transient waveforms by requested name.
        log: ngspice's console output.
    """

    op: dict[str, float] = field(default_factory=dict)
    ac_freq: np.ndarray | None = None
    ac: dict[str, np.ndarray] = field(default_factory=dict)
    noise: dict[str, float] = field(default_factory=dict)
    tran_time: np.ndarray | None = None
    tran: dict[str, np.ndarray] = field(default_factory=dict)
    log: str = ""


def _library_name() -> str | None:
    name = ctypes.util.find_library("ngspice")
    if name:
        return name
    for candidate in ("libngspice.so.0", "libngspice.so"):
        try:
            ctypes.CDLL(candidate)
            return candidate
        except OSError:
            continue
    return None


def find_ngspice() -> dict[str, str | None]:
    """Locate libngspice and the ``ngspice`` program.

    Returns:
        ``{"library": name or None, "program": path or None}``.
    """
    return {"library": _library_name(), "program": shutil.which("ngspice")}


def _control_commands(analyses: Analyses, folder: str, tag: str) -> list[str]:
    cmds = ["set wr_singlescale", "set wr_vecnames", "option numdgt=10", "op",
            f"wrdata {folder}/{tag}_op.txt " + " ".join(analyses.op_vectors)]
    if analyses.ac is not None:
        ac = analyses.ac
        cmds += [f"ac dec {ac.points_per_decade} {ac.f_start:g} {ac.f_stop:g}",
                 f"wrdata {folder}/{tag}_ac.txt " + " ".join(ac.vectors)]
    if analyses.noise is not None:
        nz = analyses.noise
        cmds += [f"noise {nz.output} {nz.source} dec {nz.points_per_decade} {nz.f_start:g} {nz.f_stop:g}",
                 f"wrdata {folder}/{tag}_noise.txt inoise_total onoise_total"]
    if analyses.tran is not None:
        tr = analyses.tran
        cmds += [f"tran {tr.step:g} {tr.stop:g}", f"wrdata {folder}/{tag}_tran.txt " + " ".join(tr.vectors)]
    return cmds


def _read_wrdata(path: str, names: tuple[str, ...], what: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    if not os.path.isfile(path):
        raise SimulationError(f"{what} analysis produced no output (did not converge or failed)")
    try:
        data = np.loadtxt(path, skiprows=1, ndmin=2)
    except ValueError as exc:
        raise SimulationError(f"{what} output could not be parsed: {exc}") from None
    n = len(names)
    if data.shape[0] == 0:
        raise SimulationError(f"{what} analysis produced no data rows")
    if data.shape[1] == 1 + 2 * n:
        values = {nm: data[:, 1 + 2 * k] + 1j * data[:, 2 + 2 * k] for k, nm in enumerate(names)}
    elif data.shape[1] == 1 + n:
        values = {nm: data[:, 1 + k] for k, nm in enumerate(names)}
    else:
        raise SimulationError(f"{what} output has {data.shape[1]} columns for {n} vectors "
                              "(a requested vector does not exist)")
    for nm, vec in values.items():
        if not np.all(np.isfinite(vec)):
            raise SimulationError(f"{what} vector {nm} is not finite")
    return data[:, 0], values


def _check_log(log: str) -> None:
    lower = log.lower()
    for pattern in _FAILURE_PATTERNS:
        if pattern in lower:
            line = next((ln for ln in log.splitlines() if pattern in ln.lower()), pattern)
            raise SimulationError(f"ngspice reported: {line.strip()[:200]}")


def _remove_stale_folders() -> None:
    """Delete the netlist folders of simulators whose process was killed (named with its pid)."""
    pattern = re.compile(r"^reram-ngspice-(\d+)-")
    base = tempfile.gettempdir()
    try:
        names = os.listdir(base)
    except OSError:
        return
    for name in names:
        match = pattern.match(name)
        if match and int(match.group(1)) != os.getpid() and not pid_alive(int(match.group(1))):
            shutil.rmtree(os.path.join(base, name), ignore_errors=True)


class NgspiceSimulator:
    """Runs netlists in ngspice, in a worker process, with a timeout per simulation.

    Args:
        mode: ``"auto"`` (libngspice if it loads, else ``ngspice -b``), ``"shared"`` or ``"batch"``.
        timeout_s: wall-clock limit of one simulation in seconds.

    Raises:
        NgspiceNotFoundError: when the requested way to run ngspice is not installed (the message
            names the Debian packages to install).

    Example:
        >>> sim = NgspiceSimulator()
        >>> res = sim.simulate(netlist_text, Analyses(op_vectors=("v(out)",)))
        >>> sim.close()
    """

    def __init__(self, mode: str = "auto", timeout_s: float = 30.0) -> None:
        if mode not in ("auto", "shared", "batch"):
            raise ValueError(f"mode must be 'auto', 'shared' or 'batch', got {mode!r}")
        if not (timeout_s > 0):
            raise ValueError(f"timeout_s must be > 0 seconds, got {timeout_s!r}")
        found = find_ngspice()
        if mode == "auto":
            mode = "shared" if found["library"] else "batch"
        if mode == "shared" and not found["library"]:
            raise NgspiceNotFoundError(f"libngspice was not found: {INSTALL_HINT}")
        if mode == "batch" and not found["program"]:
            raise NgspiceNotFoundError(f"the ngspice program was not found: {INSTALL_HINT}")
        self.mode = mode
        self.timeout_s = float(timeout_s)
        self._library = found["library"]
        self._program = found["program"]
        _remove_stale_folders()
        self._folder = tempfile.mkdtemp(prefix=f"reram-ngspice-{os.getpid()}-")
        self._counter = itertools.count()
        self._proc: mp.process.BaseProcess | None = None
        self._conn = None
        self._owner_pid = os.getpid()

    # -- worker management ---------------------------------------------------------------------
    def _start_worker(self) -> None:
        from . import _ngspice_worker

        # fork: the child only uses ctypes, and spawn would re-import the user's main script
        ctx = mp.get_context("fork")
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_ngspice_worker.serve, args=(child, self._library), daemon=True)
        proc.start()
        child.close()
        if not parent.poll(60.0):
            proc.kill()
            raise SimulationError("the libngspice worker did not start within 60 s")
        try:
            status, message = parent.recv()
        except (EOFError, OSError):
            proc.join(5)
            raise SimulationError("the libngspice worker died while starting") from None
        if status != "ready":
            proc.join(5)
            raise NgspiceNotFoundError(f"libngspice could not be loaded ({message}): {INSTALL_HINT}")
        self._proc, self._conn = proc, parent

    def _stop_worker(self) -> None:
        if self._proc is not None:
            if self._proc.is_alive():
                self._proc.kill()
            self._proc.join(5)
        if self._conn is not None:
            self._conn.close()
        self._proc, self._conn = None, None

    def close(self) -> None:
        """Stop the worker process and delete the temporary folder.

        In a forked child (a corner worker) the inherited simulator belongs to the parent: it is
        dropped without touching the parent's worker or folder."""
        if os.getpid() != self._owner_pid:
            self._proc, self._conn = None, None
            return
        if self._conn is not None and self._proc is not None and self._proc.is_alive():
            try:
                self._conn.send(None)
                self._proc.join(2)
            except (BrokenPipeError, OSError):
                pass
        self._stop_worker()
        shutil.rmtree(self._folder, ignore_errors=True)

    def __enter__(self) -> "NgspiceSimulator":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # best effort; close() is the documented way
        try:
            self.close()
        except Exception:
            pass

    # -- running ----------------------------------------------------------------------------------
    def _run_shared(self, lines: list[str], commands: list[str]) -> str:
        if self._proc is None or not self._proc.is_alive():
            self._stop_worker()
            self._start_worker()
        assert self._conn is not None
        self._conn.send((lines, commands))
        if not self._conn.poll(self.timeout_s):
            self._stop_worker()
            raise SimulationTimeout(f"simulation exceeded the {self.timeout_s:g} s timeout")
        try:
            status, log = self._conn.recv()
        except (EOFError, OSError):
            self._stop_worker()
            raise SimulationError("the libngspice worker crashed during the simulation") from None
        if self._proc is not None and not self._proc.is_alive():
            self._stop_worker()
        return log

    def _run_batch(self, lines: list[str], commands: list[str], tag: str) -> str:
        body = [ln for ln in lines if ln.strip().lower() != ".end"]
        text = "\n".join(body + [".control", *commands, "quit 0", ".endc", ".end"]) + "\n"
        path = os.path.join(self._folder, f"{tag}.cir")
        with open(path, "w") as handle:
            handle.write(text)
        try:
            done = subprocess.run([self._program or "ngspice", "-b", path], capture_output=True,
                                  text=True, timeout=self.timeout_s, cwd=self._folder)
        except subprocess.TimeoutExpired:
            raise SimulationTimeout(f"simulation exceeded the {self.timeout_s:g} s timeout") from None
        finally:
            os.remove(path)
        # ngspice -b exits 1 in some successful runs; the output decides, not the exit code.
        return done.stdout + "\n" + done.stderr

    def simulate(self, netlist: str, analyses: Analyses) -> SimResult:
        """Simulate ``netlist`` (a complete SPICE deck ending in ``.end``, no ``.control``).

        Args:
            netlist: the circuit text.
            analyses: which analyses to run and which vectors to return.

        Returns:
            The requested vectors.

        Raises:
            SimulationError: on any failure (no convergence, ngspice error, missing vectors);
                :class:`SimulationTimeout` when the time limit is hit.
        """
        if not analyses.op_vectors:
            raise ValueError("analyses.op_vectors must name at least one vector")
        tag = f"s{os.getpid()}_{next(self._counter)}"
        commands = _control_commands(analyses, self._folder, tag)
        lines = netlist.strip().splitlines()
        try:
            if self.mode == "shared":
                log = self._run_shared(lines, commands)
            else:
                log = self._run_batch(lines, commands, tag)
            return self._collect(analyses, tag, log)
        finally:
            for suffix in ("op", "ac", "noise", "tran"):
                path = os.path.join(self._folder, f"{tag}_{suffix}.txt")
                if os.path.exists(path):
                    os.remove(path)

    def _collect(self, analyses: Analyses, tag: str, log: str) -> SimResult:
        _check_log(log)
        folder = self._folder
        _, op = _read_wrdata(f"{folder}/{tag}_op.txt", analyses.op_vectors, "operating point")
        result = SimResult(op={k: float(np.real(v[0])) for k, v in op.items()}, log=log)
        for name, value in result.op.items():
            if name.startswith("v(") and abs(value) > _MAX_NODE_VOLTAGE:
                raise SimulationError(f"operating point did not converge: {name} = {value:.3g} V")
        if analyses.ac is not None:
            freq, ac = _read_wrdata(f"{folder}/{tag}_ac.txt", analyses.ac.vectors, "AC")
            result.ac_freq, result.ac = np.real(freq), {k: v.astype(complex) for k, v in ac.items()}
        if analyses.noise is not None:
            _, nz = _read_wrdata(f"{folder}/{tag}_noise.txt", ("inoise_total", "onoise_total"), "noise")
            result.noise = {k: float(np.real(v[-1])) for k, v in nz.items()}
        if analyses.tran is not None:
            time, tr = _read_wrdata(f"{folder}/{tag}_tran.txt", analyses.tran.vectors, "transient")
            result.tran_time, result.tran = time, {k: np.real(v) for k, v in tr.items()}
        return result


_SIMULATORS: dict[tuple[str, float], NgspiceSimulator] = {}


def get_simulator(mode: str = "auto", timeout_s: float = 30.0) -> NgspiceSimulator:
    """A shared :class:`NgspiceSimulator` per (mode, timeout) and process, started on first use
    (a forked child, e.g. a corner worker, gets its own libngspice worker)."""
    key = (mode, float(timeout_s))
    sim = _SIMULATORS.get(key)
    if sim is not None and sim._owner_pid != os.getpid():  # inherited through fork: the parent's
        sim.close()
        sim = None
    if sim is None:
        sim = NgspiceSimulator(mode=mode, timeout_s=timeout_s)
        _SIMULATORS[key] = sim
    return sim
