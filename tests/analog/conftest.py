"""Shared fixtures for the analog tests: ngspice must be present in CI (fail, not skip)."""
from __future__ import annotations

import os
import shutil

import pytest

from reram.analog.ngspice import find_ngspice


@pytest.fixture(scope="session")
def ngspice_available() -> None:
    """Skip ngspice tests where ngspice is missing, except under CI where that is a failure."""
    found = find_ngspice()
    if found["library"] and shutil.which("ngspice"):
        return
    message = "ngspice/libngspice0 not installed (apt-get install ngspice libngspice0)"
    if os.environ.get("CI"):
        pytest.fail(message + " but CI is set: the ngspice tests must run in CI")
    pytest.skip(message)
