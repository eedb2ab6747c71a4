"""Shared test settings and fixtures.

One thread (much faster for small models on 2 cores); tiny CIFAR-10 and MNIST files in their
real formats (used by the models and apps tests).
"""
from __future__ import annotations

import gzip
import pickle
import tarfile
from pathlib import Path

import numba
import numpy as np
import pytest
import torch

torch.set_num_threads(1)
numba.set_num_threads(1)

CIFAR_BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def write_cifar_batch(path: Path, images: int, seed: int, data: np.ndarray | None = None,
                      labels: list[int] | None = None) -> None:
    """One CIFAR-10 python batch: a protocol-2 pickle of a dict with bytes keys."""
    rng = np.random.default_rng(seed)
    if data is None:
        data = rng.integers(0, 256, size=(images, 3072), dtype=np.uint8)
    if labels is None:
        labels = [int(v) for v in rng.integers(0, 10, size=len(data))]
    batch = {
        b"batch_label": path.name.encode(),
        b"labels": labels,
        b"data": data,
        b"filenames": [f"img_{i}.png".encode() for i in range(len(data))],
    }
    path.write_bytes(pickle.dumps(batch, protocol=2))


def write_cifar_folder(root: Path, images_per_batch: int = 4) -> Path:
    """``root/cifar-10-batches-py/`` with the five train batches and the test batch."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    for seed, name in enumerate(CIFAR_BATCHES):
        write_cifar_batch(folder / name, images_per_batch, seed)
    return folder


def write_cifar_archive(root: Path, images_per_batch: int = 4) -> Path:
    """``root/cifar-10-python.tar.gz`` holding ``cifar-10-batches-py/...``."""
    staging = root / "staging"
    folder = write_cifar_folder(staging, images_per_batch)
    archive = root / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
    return archive


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file of unsigned bytes: magic 0x0000 08 <ndim>, big-endian dims, data."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_mnist(folder: Path, train: int = 12, test: int = 6, compress: bool = False, seed: int = 0) -> Path:
    """The four MNIST IDX files (raw or .gz) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, size=(train, 28, 28)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, size=train),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, size=(test, 28, 28)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, size=test),
    }
    for name, array in arrays.items():
        raw = idx_bytes(array)
        if compress:
            (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
        else:
            (folder / name).write_bytes(raw)
    return folder


@pytest.fixture
def cifar_folder(tmp_path: Path) -> Path:
    """A tiny ``cifar-10-batches-py/`` folder (4 images per batch)."""
    return write_cifar_folder(tmp_path)


@pytest.fixture
def cifar_archive(tmp_path: Path) -> Path:
    """A tiny ``cifar-10-python.tar.gz``."""
    return write_cifar_archive(tmp_path)


@pytest.fixture
def writers():
    """The file writers above, for tests that build malformed variants."""
    from types import SimpleNamespace

    return SimpleNamespace(
        cifar_batch=write_cifar_batch, cifar_folder=write_cifar_folder,
        cifar_archive=write_cifar_archive, idx_bytes=idx_bytes, mnist=write_mnist,
    )
