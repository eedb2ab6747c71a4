"""The helpers every console script shares (reram.apps._cli)."""
from __future__ import annotations

import os
import signal

import pytest

from reram.apps._cli import (InputError, OneLineParser, add_chip_flag, add_output_flags, as_input_error,
                             check_output_dir, check_output_path, run_cli)


def test_output_paths_are_checked_before_work(tmp_path):
    (tmp_path / "file").write_text("x")
    assert check_output_path(tmp_path / "new" / "deep" / "r.json") == tmp_path / "new" / "deep" / "r.json"
    assert not (tmp_path / "new").exists()  # nothing is created
    with pytest.raises(ValueError, match="--out .* is a folder"):
        check_output_path(tmp_path)
    with pytest.raises(ValueError, match="--out .*file is a file, not a folder"):
        check_output_path(tmp_path / "file" / "r.json")
    with pytest.raises(ValueError, match="--json .* is a file, not a folder"):
        check_output_dir(tmp_path / "file", "--json")
    with pytest.raises(ValueError, match="not writable"):
        check_output_path("/sys/reram-cannot-write-here.json")


def test_run_cli_statuses(capsys):
    assert run_cli("prog", lambda: None) == 0
    assert run_cli("prog", lambda: 3) == 3

    def bad():
        raise InputError("epochs must be >= 1,\n got 0")

    assert run_cli("prog", bad) == 2
    assert capsys.readouterr().err == "prog: error: epochs must be >= 1, got 0\n"

    def bug():
        raise ValueError("deep in the code")

    with pytest.raises(ValueError, match="deep in the code"):  # not bad input: its traceback stays
        run_cli("prog", bug)
    assert run_cli("prog", bug, input_errors=(ValueError,)) == 2  # a script that opts in


def test_as_input_error_turns_validation_value_errors_into_input_errors():
    with pytest.raises(InputError, match="weight_bits"):
        with as_input_error():
            raise ValueError("weight_bits must be >= 1")
    with pytest.raises(KeyError):
        with as_input_error():
            raise KeyError("not converted")


def test_shared_flags_have_one_spelling():
    parser = OneLineParser(prog="prog")
    add_output_flags(parser, "results/x")
    add_chip_flag(parser, "isaac")
    args = parser.parse_args(["--out", "o", "--resume", "--quiet", "--chip", "puma"])
    assert (args.out, args.resume, args.overwrite, args.quiet, args.chip) == ("o", True, False, True, "puma")


def test_sigterm_is_handled_like_ctrl_c(capsys):
    def body():
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("not reached")

    before = signal.getsignal(signal.SIGTERM)
    assert run_cli("prog", body, interrupted_hint="rerun to resume") == 130
    assert capsys.readouterr().err == "prog: interrupted; rerun to resume\n"
    assert signal.getsignal(signal.SIGTERM) is before


def test_parser_errors_are_one_line(capsys):
    parser = OneLineParser(prog="prog")
    parser.add_argument("--n", type=int)
    with pytest.raises(SystemExit) as exc:
        parser.parse_args(["--n", "x"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("prog: error: argument --n") and err.count("\n") == 1
