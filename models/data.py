"""Datasets as in-memory tensors: scikit-learn digits, CIFAR-10 and (Fashion-)MNIST from disk.

Nothing is ever downloaded. The digits come with scikit-learn; CIFAR-10 and MNIST are read from
the user's disk in their standard distribution formats:

- CIFAR-10 "python version": ``cifar-10-python.tar.gz``, the extracted ``cifar-10-batches-py/``
  folder, or the folder holding either. The batches are pickles; they are read with a
  restricted unpickler that only reconstructs NumPy arrays (no arbitrary code), then checked
  for shape, dtype and label range. An md5 mismatch with the official files is only warned
  about (a re-packed copy is still usable).
- MNIST / Fashion-MNIST IDX files (``train-images-idx3-ubyte`` ... , raw or ``.gz``), in the
  given folder or its ``MNIST/raw`` / ``FashionMNIST/raw`` sub-folder (torchvision's layout).

All loaders return a :class:`DataSplits` of float32 images ``N x C x H x W`` standardized with
statistics of the training split, and int64 labels. Malformed files raise ``ValueError`` naming
the file; missing ones ``FileNotFoundError`` naming the files expected. This module imports
only torch, NumPy and (lazily) scikit-learn.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import tarfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "DATASET_NAMES",
    "DataSplits",
    "augment_crop_flip",
    "canonical_dataset_name",
    "load_cifar10",
    "load_dataset",
    "load_digits",
    "load_mnist",
    "read_idx",
]

#: Names accepted by :func:`load_dataset` and ``reram-train --dataset``.
DATASET_NAMES: tuple[str, ...] = ("digits", "cifar10", "mnist", "fashion-mnist")

#: Other spellings of :data:`DATASET_NAMES` (after lower-casing and ``_`` -> ``-``).
DATASET_ALIASES: dict[str, str] = {"cifar-10": "cifar10", "cifar": "cifar10"}


def canonical_dataset_name(name: str) -> str:
    """Normalize a dataset name (``CIFAR-10`` -> ``cifar10``, ``fashion_mnist`` -> ``fashion-mnist``).

    Raises:
        ValueError: naming ``dataset`` when the name is none of :data:`DATASET_NAMES`.
    """
    if not isinstance(name, str):
        raise ValueError(f"dataset must be one of {', '.join(DATASET_NAMES)}; got {name!r}")
    key = name.strip().lower().replace("_", "-")
    key = DATASET_ALIASES.get(key, key)
    if key not in DATASET_NAMES:
        raise ValueError(f"dataset must be one of {', '.join(DATASET_NAMES)}; got {name!r}")
    return key


CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_ARCHIVE = "cifar-10-python.tar.gz"
#: md5 of the official CIFAR-10 python batches (https://www.cs.toronto.edu/~kriz/cifar.html).
CIFAR10_MD5: dict[str, str] = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
}
CIFAR10_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST_BATCH = "test_batch"

MNIST_FILES: dict[str, str] = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


@dataclass
class DataSplits:
    """A dataset held in memory.

    Attributes:
        name: dataset name (one of :data:`DATASET_NAMES`).
        train_images: ``N_train x C x H x W`` float32, standardized.
        train_labels: ``N_train`` int64 in ``[0, num_classes)``.
        test_images: ``N_test x C x H x W`` float32, standardized with the train statistics.
        test_labels: ``N_test`` int64.
        num_classes: number of classes.
        augment: whether training should use random crop + horizontal flip (CIFAR only).
    """

    name: str
    train_images: Tensor
    train_labels: Tensor
    test_images: Tensor
    test_labels: Tensor
    num_classes: int
    augment: bool = False

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        return tuple(self.train_images.shape[1:])  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------
# Digits
# --------------------------------------------------------------------------------------------


def load_digits(seed: int = 0, test_fraction: float = 0.2) -> DataSplits:
    """The 1797 8x8 scikit-learn digits, split into train/test by a seeded stratified shuffle.

    Args:
        seed: seed of the split (the same seed always gives the same split).
        test_fraction: fraction of the images held out for testing, in ``(0, 1)``.

    Returns:
        A :class:`DataSplits` with ``1 x 8 x 8`` images and 10 classes.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    from sklearn.datasets import load_digits as _sk_load_digits

    bunch = _sk_load_digits()
    images = np.asarray(bunch.images, dtype=np.float32)[:, None] / 16.0
    labels = np.asarray(bunch.target, dtype=np.int64)
    rng = np.random.default_rng(seed)
    test_idx: list[np.ndarray] = []
    for label in range(10):  # stratified: the same fraction of every class in the test split
        members = np.flatnonzero(labels == label)
        rng.shuffle(members)
        test_idx.append(members[: int(round(test_fraction * len(members)))])
    test_mask = np.zeros(len(labels), dtype=bool)
    test_mask[np.concatenate(test_idx)] = True
    return _standardized(
        "digits",
        images[~test_mask],
        labels[~test_mask],
        images[test_mask],
        labels[test_mask],
        num_classes=10,
        per_channel=False,
    )


def _standardized(
    name: str,
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    num_classes: int,
    per_channel: bool,
    augment: bool = False,
) -> DataSplits:
    axes = (0, 2, 3) if per_channel else (0, 1, 2, 3)
    mean = train_x.mean(axis=axes, keepdims=True)
    std = train_x.std(axis=axes, keepdims=True)
    std = np.where(std > 0, std, 1.0)
    return DataSplits(
        name=name,
        train_images=torch.from_numpy(((train_x - mean) / std).astype(np.float32)),
        train_labels=torch.from_numpy(train_y.astype(np.int64)),
        test_images=torch.from_numpy(((test_x - mean) / std).astype(np.float32)),
        test_labels=torch.from_numpy(test_y.astype(np.int64)),
        num_classes=num_classes,
        augment=augment,
    )


# --------------------------------------------------------------------------------------------
# CIFAR-10
# --------------------------------------------------------------------------------------------


class _RefusedGlobal(pickle.UnpicklingError):
    """A pickle asked for a global outside the allowed NumPy reconstruction functions."""


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """An unpickler that only rebuilds NumPy arrays and dtypes; any other global is refused."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
        ("builtins", "bytearray"),
    }

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self._ALLOWED:
            raise _RefusedGlobal(
                f"refusing to load global {module}.{name}: only NumPy arrays are allowed"
            )
        if module.startswith("numpy.core") and hasattr(np, "_core"):
            module = "numpy._core" + module[len("numpy.core"):]
        return super().find_class(module, name)


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()  # noqa: S324 - integrity check, not security


def _parse_cifar_batch(raw: bytes, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Decode one CIFAR-10 batch pickle into ``N x 3 x 32 x 32`` uint8 images and labels."""
    try:
        obj = _ArrayOnlyUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except _RefusedGlobal as exc:
        raise ValueError(f"CIFAR-10 file {source} is not a valid batch pickle: {exc}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, AttributeError, KeyError) as exc:
        raise ValueError(
            f"CIFAR-10 file {source} is truncated or corrupt ({type(exc).__name__}: {exc})"
        ) from None
    if not isinstance(obj, dict):
        raise ValueError(f"CIFAR-10 file {source} must hold a dict, got {type(obj).__name__}")
    entries = {k.decode("latin1") if isinstance(k, bytes) else str(k): v for k, v in obj.items()}
    if "data" not in entries or "labels" not in entries:
        raise ValueError(
            f"CIFAR-10 file {source} must have 'data' and 'labels' entries, got {sorted(entries)}"
        )
    data = entries["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != 3 * 32 * 32:
        shape = getattr(data, "shape", None)
        dtype = getattr(data, "dtype", type(data).__name__)
        raise ValueError(
            f"CIFAR-10 file {source}: 'data' must be a uint8 array of shape (N, 3072), "
            f"got shape {shape} dtype {dtype}"
        )
    try:
        labels = np.asarray(entries["labels"], dtype=np.int64)
    except (TypeError, ValueError):
        raise ValueError(f"CIFAR-10 file {source}: 'labels' must be a list of integers") from None
    if labels.ndim != 1 or len(labels) != len(data):
        raise ValueError(
            f"CIFAR-10 file {source}: {len(data)} images but labels of shape {labels.shape}"
        )
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(
            f"CIFAR-10 file {source}: labels must be in 0..9, got {labels.min()}..{labels.max()}"
        )
    return data.reshape(-1, 3, 32, 32), labels


def _locate_cifar10(path: Path) -> tuple[str, Path]:
    """Return ``("archive", file)`` or ``("folder", dir)`` for a user-given CIFAR-10 path."""
    expected = (
        f"expected {CIFAR10_ARCHIVE}, a {CIFAR10_FOLDER}/ folder with "
        f"{', '.join(CIFAR10_TRAIN_BATCHES)} and {CIFAR10_TEST_BATCH}, or the folder holding either"
    )
    if path.is_file():
        if path.name.endswith((".tar.gz", ".tgz", ".tar")):
            return "archive", path
        raise FileNotFoundError(f"CIFAR-10 not found at {path}: {expected}")
    if path.is_dir():
        if (path / CIFAR10_TEST_BATCH).exists() or (path / CIFAR10_TRAIN_BATCHES[0]).exists():
            return "folder", path
        if (path / CIFAR10_FOLDER).is_dir():
            return "folder", path / CIFAR10_FOLDER
        if (path / CIFAR10_ARCHIVE).is_file():
            return "archive", path / CIFAR10_ARCHIVE
    raise FileNotFoundError(f"CIFAR-10 not found at {path}: {expected}")


def _read_cifar_members(kind: str, location: Path) -> dict[str, bytes]:
    names = (*CIFAR10_TRAIN_BATCHES, CIFAR10_TEST_BATCH)
    if kind == "folder":
        missing = [n for n in names if not (location / n).is_file()]
        if missing:
            raise FileNotFoundError(
                f"CIFAR-10 folder {location} lacks {', '.join(missing)} "
                f"(expected {', '.join(names)})"
            )
        return {n: (location / n).read_bytes() for n in names}
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(location, "r:*") as archive:
            for member in archive:
                base = member.name.rsplit("/", 1)[-1]
                if member.isfile() and base in names and base not in found:
                    handle = archive.extractfile(member)
                    if handle is not None:
                        found[base] = handle.read()
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ValueError(
            f"CIFAR-10 archive {location} is truncated or corrupt ({type(exc).__name__}: {exc})"
        ) from None
    missing = [n for n in names if n not in found]
    if missing:
        raise FileNotFoundError(
            f"CIFAR-10 archive {location} lacks {', '.join(missing)} "
            f"(expected {CIFAR10_FOLDER}/{{{', '.join(names)}}})"
        )
    return found


def load_cifar10(path: str | Path, augment: bool = False) -> DataSplits:
    """CIFAR-10 from the user's disk (no download).

    Args:
        path: ``cifar-10-python.tar.gz``, the ``cifar-10-batches-py/`` folder, or its parent.
        augment: mark the splits for random-crop (padding 4) and horizontal-flip augmentation
            during training (see :func:`augment_crop_flip`).

    Returns:
        A :class:`DataSplits` with ``3 x 32 x 32`` images (per-channel standardized) and 10
        classes.

    Raises:
        FileNotFoundError: naming the expected files, if they are not there.
        ValueError: if a file is truncated, not a batch pickle, or has a wrong shape/dtype.
    """
    kind, location = _locate_cifar10(Path(path).expanduser())
    members = _read_cifar_members(kind, location)
    for name, raw in members.items():
        digest = _md5(raw)
        if digest != CIFAR10_MD5[name]:
            warnings.warn(
                f"CIFAR-10 file {name} at {location} has md5 {digest}, expected "
                f"{CIFAR10_MD5[name]}; it differs from the official release",
                stacklevel=2,
            )
    train = [_parse_cifar_batch(members[n], f"{location}:{n}") for n in CIFAR10_TRAIN_BATCHES]
    test_x, test_y = _parse_cifar_batch(members[CIFAR10_TEST_BATCH], f"{location}:{CIFAR10_TEST_BATCH}")
    train_x = np.concatenate([x for x, _ in train]).astype(np.float32) / 255.0
    train_y = np.concatenate([y for _, y in train])
    return _standardized(
        "cifar10", train_x, train_y, test_x.astype(np.float32) / 255.0, test_y, 10,
        per_channel=True, augment=augment,
    )


# --------------------------------------------------------------------------------------------
# MNIST / Fashion-MNIST
# --------------------------------------------------------------------------------------------

_IDX_DTYPES = {0x08: np.uint8}


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (raw or gzip-compressed) of unsigned bytes.

    Args:
        path: the file.

    Returns:
        The array, of the shape its header declares (e.g. ``N x 28 x 28`` uint8).

    Raises:
        ValueError: on a bad magic number, unsupported element type, or truncated data.
    """
    path = Path(path)
    try:
        with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as handle:
            raw = handle.read()
    except (OSError, EOFError) as exc:
        raise ValueError(f"IDX file {path} cannot be read ({type(exc).__name__}: {exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"IDX file {path} has no IDX header (bad magic number)")
    type_code, ndim = raw[2], raw[3]
    if type_code not in _IDX_DTYPES:
        raise ValueError(f"IDX file {path}: element type 0x{type_code:02x} unsupported (need 0x08, ubyte)")
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise ValueError(f"IDX file {path} is truncated in its header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape))
    if len(raw) - header != expected:
        raise ValueError(
            f"IDX file {path} is truncated or padded: header shape {shape} needs {expected} "
            f"bytes of data, found {len(raw) - header}"
        )
    return np.frombuffer(raw, dtype=_IDX_DTYPES[type_code], offset=header).reshape(shape)


def _find_idx(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def load_mnist(path: str | Path, fashion: bool = False, pad_to: int | None = None) -> DataSplits:
    """MNIST or Fashion-MNIST from IDX files on disk (no download).

    Args:
        path: folder holding the four IDX files (``train-images-idx3-ubyte`` ...,
            raw or ``.gz``), or its ``MNIST/raw`` / ``FashionMNIST/raw`` parent.
        fashion: Fashion-MNIST (only changes the name and the sub-folder searched).
        pad_to: zero-pad the 28x28 images to this size (e.g. 32 for the CIFAR-size models).

    Returns:
        A :class:`DataSplits` with ``1 x H x W`` images and 10 classes.

    Raises:
        FileNotFoundError: naming the expected files, if they are not there.
        ValueError: on malformed files (bad header, truncation, shape/count mismatch).
    """
    root = Path(path).expanduser()
    sub = "FashionMNIST" if fashion else "MNIST"
    name = "fashion-mnist" if fashion else "mnist"
    for folder in (root, root / sub / "raw", root / sub):
        files = {key: _find_idx(folder, stem) for key, stem in MNIST_FILES.items()}
        if all(files.values()):
            break
    else:
        raise FileNotFoundError(
            f"{name} not found at {root}: expected {', '.join(MNIST_FILES.values())} "
            f"(raw or .gz) there or in {sub}/raw/"
        )
    arrays = {key: read_idx(file) for key, file in files.items()}  # type: ignore[arg-type]
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or labels.ndim != 1:
            raise ValueError(
                f"{name} {split}: images must be N x H x W and labels N, got shapes "
                f"{images.shape} and {labels.shape}"
            )
        if len(images) != len(labels):
            raise ValueError(f"{name} {split}: {len(images)} images but {len(labels)} labels")
        if len(labels) and labels.max() > 9:
            raise ValueError(f"{name} {split}: labels must be in 0..9, got max {labels.max()}")

    def prepare(images: np.ndarray) -> np.ndarray:
        out = images.astype(np.float32)[:, None] / 255.0
        if pad_to is not None:
            extra = pad_to - out.shape[-1]
            if extra < 0 or pad_to - out.shape[-2] < 0:
                raise ValueError(f"pad_to must be >= the image size {out.shape[-2:]}, got {pad_to}")
            top, left = (pad_to - out.shape[-2]) // 2, extra // 2
            out = np.pad(out, ((0, 0), (0, 0), (top, pad_to - out.shape[-2] - top), (left, extra - left)))
        return out

    return _standardized(
        name,
        prepare(arrays["train_images"]),
        arrays["train_labels"].astype(np.int64),
        prepare(arrays["test_images"]),
        arrays["test_labels"].astype(np.int64),
        10,
        per_channel=False,
    )


# --------------------------------------------------------------------------------------------
# Dispatch and augmentation
# --------------------------------------------------------------------------------------------


def load_dataset(
    name: str,
    data_dir: str | Path | None = None,
    seed: int = 0,
    augment: bool = False,
    pad_to: int | None = None,
    max_train: int | None = None,
    max_test: int | None = None,
) -> DataSplits:
    """Load a dataset by name.

    Args:
        name: one of :data:`DATASET_NAMES`.
        data_dir: where CIFAR-10 / MNIST lie (required for them; ignored for digits).
        seed: seed of the digits train/test split.
        augment: random crop + flip during training (CIFAR-10 only).
        pad_to: pad (Fashion-)MNIST images to this size.
        max_train: keep only the first ``max_train`` training images (for quick runs).
        max_test: keep only the first ``max_test`` test images.

    Returns:
        A :class:`DataSplits`.

    Raises:
        ValueError: on an unknown name, a missing ``data_dir``, or bad options.
    """
    key = canonical_dataset_name(name)
    for label, limit in (("max_train", max_train), ("max_test", max_test)):
        if limit is not None and limit < 1:
            raise ValueError(f"{label} must be a positive integer, got {limit}")
    if augment and key != "cifar10":
        raise ValueError(f"augment is only supported for cifar10, not {key}")
    if key != "digits" and data_dir is None:
        raise ValueError(f"dataset {key} needs data_dir (the folder holding its files)")
    if key == "digits":
        splits = load_digits(seed)
    elif key == "cifar10":
        splits = load_cifar10(data_dir, augment=augment)  # type: ignore[arg-type]
    else:
        splits = load_mnist(data_dir, fashion=key == "fashion-mnist", pad_to=pad_to)  # type: ignore[arg-type]
    if max_train is not None:
        splits.train_images = splits.train_images[:max_train]
        splits.train_labels = splits.train_labels[:max_train]
    if max_test is not None:
        splits.test_images = splits.test_images[:max_test]
        splits.test_labels = splits.test_labels[:max_test]
    return splits


def augment_crop_flip(images: Tensor, generator: torch.Generator, padding: int = 4) -> Tensor:
    """Random crop (after zero padding) and random horizontal flip, per image.

    Args:
        images: a ``batch x C x H x W``-dim tensor (standardized, so zero padding is the mean).
        generator: the random generator (CPU); the same state gives the same augmentation.
        padding: pixels of zero padding on each side before cropping back to ``H x W``.

    Returns:
        A new ``batch x C x H x W``-dim tensor.
    """
    batch, _, height, width = images.shape
    padded = torch.nn.functional.pad(images, (padding, padding, padding, padding))
    offsets = torch.randint(0, 2 * padding + 1, (batch, 2), generator=generator).tolist()
    flips = (torch.rand(batch, generator=generator) < 0.5).tolist()
    out = torch.empty_like(images)
    for i, ((dy, dx), flip) in enumerate(zip(offsets, flips)):
        crop = padded[i, :, dy: dy + height, dx: dx + width]
        out[i] = crop.flip(-1) if flip else crop
    return out
