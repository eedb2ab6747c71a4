"""Tests of the GP kernels of ``reram.search.bo`` (the order-2 ANOVA kernel against a NumPy twin)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from reram.search.bo import Anova2Kernel, BOOptions, fit_gp


def _anova2_numpy(X1: np.ndarray, X2: np.ndarray, w: np.ndarray, s: np.ndarray) -> np.ndarray:
    """``s1 * sum_i w_i d_i + s2 * sum_{i<j} w_i w_j d_i d_j`` with ``d_i = [x_i == x'_i]``, term by term."""
    out = np.zeros((len(X1), len(X2)))
    for a, b in itertools.product(range(len(X1)), range(len(X2))):
        d = (X1[a] == X2[b]).astype(float)
        pairs = sum(w[i] * w[j] * d[i] * d[j] for i in range(len(d)) for j in range(i + 1, len(d)))
        out[a, b] = s[0] * float(np.sum(w * d)) + s[1] * pairs
    return out


@pytest.mark.parametrize("dim", [1, 3, 8])
def test_anova2_kernel_matches_its_numpy_twin(dim: int):
    rng = np.random.default_rng(dim)
    k = Anova2Kernel(dim)
    with torch.no_grad():
        k.raw_weights.copy_(torch.as_tensor(rng.normal(size=dim)))
        k.raw_scales.copy_(torch.as_tensor(rng.normal(size=2)))
    w, s = k.weights.detach().numpy(), k.scales.detach().numpy()
    X1 = rng.integers(0, 2, (5, dim)).astype(float)
    X2 = np.r_[X1[:2], rng.integers(0, 2, (4, dim))].astype(float)  # equal rows included
    t1, t2 = torch.as_tensor(X1), torch.as_tensor(X2)
    with torch.no_grad():
        full = k.forward(t1, t2).numpy()
        diag = k.forward(t1, t1, diag=True).numpy()
    np.testing.assert_allclose(full, _anova2_numpy(X1, X2, w, s), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(diag, np.diag(_anova2_numpy(X1, X1, w, s)), rtol=1e-12, atol=1e-12)
    gram = k.forward(t1, t1).detach().numpy()
    assert np.linalg.eigvalsh((gram + gram.T) / 2).min() > -1e-9  # a covariance


def test_anova2_gp_fits_a_quadratic_function_of_the_bits():
    masks = np.asarray(list(itertools.product([0, 1], repeat=5)), dtype=np.int8)
    y = masks @ np.array([0.3, 0.1, 0.0, 0.2, 0.05]) + 0.4 * masks[:, 0] * masks[:, 3]  # one interaction
    train = np.arange(len(masks)) % 3 != 0
    model, _ = fit_gp(masks[train], -y[train], BOOptions(kernel="anova2"), noise_var=1e-6)
    with torch.no_grad():
        pred = model.posterior(torch.as_tensor(masks[~train], dtype=torch.double)).mean.squeeze(-1).numpy()
    assert np.abs(pred - y[~train]).max() < 0.03  # held-out masks: the model class holds the truth
