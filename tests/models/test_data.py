"""Dataset loaders of reram.models.data on tiny files in the real formats, malformed ones too."""
from __future__ import annotations

import dataclasses
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from reram.models.data import augment_crop_flip, load_cifar10, load_dataset, load_digits, load_mnist, read_idx


def test_digits_split_is_fixed_by_seed_and_stratified() -> None:
    a, b, c = load_digits(seed=0), load_digits(seed=0), load_digits(seed=1)
    assert a.train_images.shape[1:] == (1, 8, 8) and a.train_images.dtype == torch.float32
    assert len(a.train_images) + len(a.test_images) == 1797
    assert torch.equal(a.test_images, b.test_images) and torch.equal(a.test_labels, b.test_labels)
    assert not torch.equal(a.test_labels, c.test_labels)
    counts = torch.bincount(a.test_labels, minlength=10)
    assert counts.min() >= 34 and counts.max() <= 38  # ~20 % of each class (174..183 per class)
    assert abs(float(a.train_images.mean())) < 1e-4 and abs(float(a.train_images.std()) - 1) < 1e-2


def test_cifar_folder_archive_and_parent_give_the_same_data(tmp_path: Path, writers) -> None:
    folder = writers.cifar_folder(tmp_path / "extracted")
    archive = writers.cifar_archive(tmp_path / "packed")
    with pytest.warns(UserWarning, match="md5"):
        from_folder = load_cifar10(folder)
    with pytest.warns(UserWarning, match="md5"):
        from_parent = load_cifar10(folder.parent)
    with pytest.warns(UserWarning, match="md5"):
        from_archive = load_cifar10(archive)
    with pytest.warns(UserWarning, match="md5"):
        from_archive_parent = load_cifar10(archive.parent)
    assert from_folder.train_images.shape == (20, 3, 32, 32)
    assert from_folder.test_images.shape == (4, 3, 32, 32)
    for other in (from_parent, from_archive, from_archive_parent):
        assert torch.equal(other.train_images, from_folder.train_images)
        assert torch.equal(other.test_labels, from_folder.test_labels)
    # pixel layout: channel-major rows of 1024 values, as in the official batches
    raw = pickle.loads((folder / "test_batch").read_bytes(), encoding="bytes")
    first = raw[b"data"][0].reshape(3, 32, 32).astype(np.float32) / 255.0
    standardized = from_folder.test_images[0].numpy()
    corr = np.corrcoef(first.ravel(), standardized.ravel())[0, 1]
    assert corr > 0.99
    assert from_folder.test_labels.tolist() == raw[b"labels"]


def test_cifar_augment_flag_and_dataset_limits(cifar_folder: Path) -> None:
    with pytest.warns(UserWarning):
        data = load_dataset("cifar10", cifar_folder, augment=True, max_train=7, max_test=3)
    assert data.augment and len(data.train_images) == 7 and len(data.test_labels) == 3


def test_cifar_missing_files_named(tmp_path: Path, cifar_folder: Path) -> None:
    with pytest.raises(FileNotFoundError, match="expected cifar-10-python.tar.gz, a cifar-10-batches-py/"):
        load_cifar10(tmp_path / "nowhere")
    os.remove(cifar_folder / "data_batch_3")
    with pytest.raises(FileNotFoundError, match="lacks data_batch_3"):
        load_cifar10(cifar_folder)


def test_cifar_truncated_batch(cifar_folder: Path) -> None:
    path = cifar_folder / "data_batch_2"
    path.write_bytes(path.read_bytes()[:500])
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="data_batch_2 is truncated or corrupt"):
        load_cifar10(cifar_folder)


def test_cifar_wrong_shape_and_labels(cifar_folder: Path, writers) -> None:
    writers.cifar_batch(cifar_folder / "test_batch", 0, 0, data=np.zeros((4, 1000), np.uint8))
    with pytest.warns(UserWarning), pytest.raises(ValueError, match=r"shape \(N, 3072\), got shape \(4, 1000\)"):
        load_cifar10(cifar_folder)
    writers.cifar_batch(cifar_folder / "test_batch", 0, 0, data=np.zeros((4, 3072), np.float64))
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="dtype float64"):
        load_cifar10(cifar_folder)
    writers.cifar_batch(cifar_folder / "test_batch", 4, 0, labels=[0, 1, 2])
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="4 images but labels of shape"):
        load_cifar10(cifar_folder)
    writers.cifar_batch(cifar_folder / "test_batch", 2, 0, labels=[0, 12])
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="labels must be in 0..9"):
        load_cifar10(cifar_folder)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_cifar_unpickler_refuses_code(cifar_folder: Path) -> None:
    payload = {b"data": np.zeros((1, 3072), np.uint8), b"labels": [0], b"x": _Evil()}
    (cifar_folder / "data_batch_1").write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="refusing to load global posix.system|refusing to load global os.system"):
        load_cifar10(cifar_folder)


def test_cifar_reads_numpy_buffer_pickles(cifar_folder: Path) -> None:
    data = np.arange(2 * 3072, dtype=np.int64).astype(np.uint8).reshape(2, 3072)
    batch = {b"data": data, b"labels": [3, 4]}
    (cifar_folder / "test_batch").write_bytes(pickle.dumps(batch, protocol=5))
    with pytest.warns(UserWarning):
        loaded = load_cifar10(cifar_folder)
    assert loaded.test_labels.tolist() == [3, 4]


def test_cifar_truncated_archive(tmp_path: Path, writers) -> None:
    archive = writers.cifar_archive(tmp_path)
    archive.write_bytes(archive.read_bytes()[:-200])
    with pytest.raises(ValueError, match="archive .* is truncated or corrupt"):
        load_cifar10(archive)


def test_cifar_archive_missing_member(tmp_path: Path, writers) -> None:
    folder = writers.cifar_folder(tmp_path / "src")
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name in ("data_batch_1", "test_batch"):
            tar.add(folder / name, arcname=f"cifar-10-batches-py/{name}")
    with pytest.raises(FileNotFoundError, match="lacks data_batch_2, data_batch_3"):
        load_cifar10(archive)


@pytest.mark.parametrize("compress", [False, True])
def test_mnist_raw_and_gz(tmp_path: Path, writers, compress: bool) -> None:
    writers.mnist(tmp_path, compress=compress)
    data = load_mnist(tmp_path)
    assert data.train_images.shape == (12, 1, 28, 28) and data.test_labels.shape == (6,)
    padded = load_mnist(tmp_path, pad_to=32)
    assert padded.train_images.shape == (12, 1, 32, 32)
    expected = read_idx(tmp_path / ("train-labels-idx1-ubyte" + (".gz" if compress else "")))
    assert data.train_labels.tolist() == expected.tolist()


def test_fashion_mnist_torchvision_layout(tmp_path: Path, writers) -> None:
    writers.mnist(tmp_path / "FashionMNIST" / "raw", compress=True)
    data = load_dataset("fashion-mnist", tmp_path)
    assert data.name == "fashion-mnist" and data.train_images.shape == (12, 1, 28, 28)
    with pytest.raises(FileNotFoundError, match="mnist not found .* train-images-idx3-ubyte"):
        load_dataset("mnist", tmp_path)


def test_idx_truncated_and_bad_header(tmp_path: Path, writers) -> None:
    writers.mnist(tmp_path)
    images = tmp_path / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-10])
    with pytest.raises(ValueError, match="truncated or padded: header shape \\(12, 28, 28\\) needs 9408 bytes"):
        load_mnist(tmp_path)
    images.write_bytes(b"\x12\x34\x08\x03" + bytes(100))
    with pytest.raises(ValueError, match="bad magic number"):
        load_mnist(tmp_path)
    images.write_bytes(bytes([0, 0, 0x0D, 1]) + (4).to_bytes(4, "big") + bytes(16))
    with pytest.raises(ValueError, match="element type 0x0d unsupported"):
        read_idx(images)


def test_idx_count_mismatch_and_wrong_rank(tmp_path: Path, writers) -> None:
    writers.mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(writers.idx_bytes(np.zeros(5, np.uint8)))
    with pytest.raises(ValueError, match="6 images but 5 labels"):
        load_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(writers.idx_bytes(np.zeros((6, 2), np.uint8)))
    with pytest.raises(ValueError, match="images must be N x H x W and labels N"):
        load_mnist(tmp_path)


def test_idx_corrupt_gzip(tmp_path: Path, writers) -> None:
    writers.mnist(tmp_path, compress=True)
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:12])
    with pytest.raises(ValueError, match="cannot be read"):
        load_mnist(tmp_path)


def test_load_dataset_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="dataset must be one of digits, cifar10, mnist, fashion-mnist"):
        load_dataset("imagenet")
    with pytest.raises(ValueError, match="needs data_dir"):
        load_dataset("cifar10")
    with pytest.raises(ValueError, match="augment is only supported for cifar10"):
        load_dataset("digits", augment=True)
    with pytest.raises(ValueError, match="max_train must be a positive integer"):
        load_dataset("digits", max_train=0)


def test_augment_crop_flip_is_seeded_and_shape_preserving() -> None:
    images = torch.randn(6, 3, 8, 8)
    a = augment_crop_flip(images, torch.Generator().manual_seed(3))
    b = augment_crop_flip(images, torch.Generator().manual_seed(3))
    assert a.shape == images.shape and torch.equal(a, b)
    assert not torch.equal(a, images)
    flipped_only = augment_crop_flip(images, torch.Generator().manual_seed(0), padding=0)
    for original, out in zip(images, flipped_only):
        assert torch.equal(out, original) or torch.equal(out, original.flip(-1))


@pytest.mark.parametrize("name, canonical", [
    ("digits", "digits"), ("CIFAR-10", "cifar10"), ("cifar", "cifar10"), (" Cifar10 ", "cifar10"),
    ("fashion_mnist", "fashion-mnist"), ("MNIST", "mnist"),
])
def test_dataset_names_have_one_canonical_spelling(name: str, canonical: str) -> None:
    from reram.models.data import canonical_dataset_name

    assert canonical_dataset_name(name) == canonical


@pytest.mark.parametrize("name", ["imagenet", "", None, 10])
def test_unknown_dataset_names_are_a_value_error_naming_the_field(name) -> None:
    from reram.models.data import canonical_dataset_name

    with pytest.raises(ValueError, match="dataset must be one of digits, cifar10"):
        canonical_dataset_name(name)


def test_mnist_is_padded_to_32_for_cifar_size_models_only() -> None:
    from reram.models.registry import input_pad_to

    assert input_pad_to("vgg11", "MNIST") == 32 and input_pad_to("resnet20", "fashion_mnist") == 32
    assert input_pad_to("vgg_digits", "mnist") is None
    assert input_pad_to("vgg11", "cifar-10") is None and input_pad_to("vgg11", "digits") is None
    with pytest.raises(ValueError, match="model must be one of"):
        input_pad_to("vgg7", "mnist")
    with pytest.raises(ValueError, match="dataset must be one of"):
        input_pad_to("vgg11", "svhn")


def test_model_data_and_builder_fit_the_images_to_the_model(tmp_path: Path, writers) -> None:
    from reram.models.registry import build_model_for, load_model_data

    writers.mnist(tmp_path)
    data = load_model_data("resnet20", "mnist", tmp_path, max_train=4)
    assert data.train_images.shape == (4, 1, 32, 32)
    net = build_model_for("resnet20", data, "none")
    assert net.training and net(data.train_images[:3]).shape == (3, 10)
    small = load_model_data("vgg-digits", "mnist", tmp_path)
    assert small.input_shape == (1, 28, 28)
    assert build_model_for("vgg11", small)(small.train_images[:2]).shape == (2, 10)  # 4 of 5 pools
    tiny = dataclasses.replace(small, train_images=small.train_images[..., :1, :1])
    with pytest.raises(ValueError, match=r"model vgg-digits cannot take mnist images of shape \(1, 1, 1\)"):
        build_model_for("vgg-digits", tiny)  # its three pools are fixed
