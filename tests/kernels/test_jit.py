"""kernels/_jit.py: kernels compile (and cache where they can) when numba finds no cache folder."""
from __future__ import annotations

import numba
import numpy as np
import pytest
from numba.core import caching

from reram.kernels import _jit


def _add_one(a):
    out = np.empty_like(a)
    for i in range(a.shape[0]):
        out[i] = a[i] + 1.0
    return out


@pytest.fixture
def no_locator(monkeypatch):
    """numba as on a read-only install with a read-only HOME: only NUMBA_CACHE_DIR could work,
    and it is not set."""
    monkeypatch.setattr(caching.CacheImpl, "_locator_classes",
                        [caching.UserProvidedCacheLocator])
    monkeypatch.setattr(numba.config, "CACHE_DIR", "")
    with pytest.raises(RuntimeError, match="no locator"):
        numba.njit(cache=True)(_add_one)


def test_falls_back_to_a_writable_temp_cache_folder(no_locator, tmp_path, monkeypatch):
    monkeypatch.setattr(_jit.tempfile, "gettempdir", lambda: str(tmp_path))
    kernel = _jit.jit()(_add_one)
    np.testing.assert_array_equal(kernel(np.zeros(3)), np.ones(3))
    assert numba.config.CACHE_DIR == ""                 # the global setting is left alone
    assert str(tmp_path) in kernel._cache._cache_path


def test_compiles_without_a_cache_when_nothing_is_writable(no_locator, monkeypatch):
    monkeypatch.setattr(_jit, "fallback_cache_dir", lambda: None)
    kernel = _jit.jit()(_add_one)
    np.testing.assert_array_equal(kernel(np.zeros(2)), np.ones(2))
