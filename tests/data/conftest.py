"""Fixtures of the data tests: an isolated data directory and writers of the on-disk formats."""

from __future__ import annotations

import gzip
import os
import pickle
import struct
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from metasparse.data import clear_cache

_SHARED_DATA = Path(
    os.environ.get("METASPARSE_DATA_DIR") or Path(__file__).parents[2].parent / "shared" / "data"
)
_IDX_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D}


@pytest.fixture(autouse=True)
def _isolated(tmp_path_factory, monkeypatch):
    """No test sees the user's data directory, home cache or datasets read by another test."""
    monkeypatch.delenv("METASPARSE_DATA_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    """An empty data directory, also set as $METASPARSE_DATA_DIR."""
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv("METASPARSE_DATA_DIR", str(root))
    return root


@pytest.fixture
def shared_data() -> Path:
    """The real datasets of ../shared/data (or $METASPARSE_DATA_DIR)."""
    if not (_SHARED_DATA / "coil20.npz").is_file():
        pytest.skip("../shared/data not present: real-dataset tests need it (CI has it)")
    return _SHARED_DATA


@pytest.fixture
def writers() -> SimpleNamespace:
    """The writers of the on-disk formats below, for the tests to make their own files."""
    return SimpleNamespace(idx=write_idx, images=make_images, mnist=write_mnist, cifar=write_cifar,
                           cifar100=write_cifar100)


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write `array` as an IDX file (gzip-compressed when the name ends in .gz)."""
    header = bytes([0, 0, _IDX_CODES[array.dtype], array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    content = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    with (gzip.open if path.suffix == ".gz" else open)(path, "wb") as stream:
        stream.write(content)


def make_images(n: int, n_classes: int, seed: int, shape=(28, 28)) -> tuple[np.ndarray, np.ndarray]:
    """Random uint8 images and balanced labels 0..n_classes-1."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, *shape), dtype=np.uint8)
    return images, np.arange(n, dtype=np.uint8) % n_classes


def write_mnist(directory: Path, *, gz: bool, n_train: int = 60, n_test: int = 20):
    """The four MNIST IDX files in `directory`; returns (train images, train labels, test ...)."""
    suffix = ".gz" if gz else ""
    X, y = make_images(n_train, 10, seed=1)
    X_test, y_test = make_images(n_test, 10, seed=2)
    write_idx(directory / f"train-images-idx3-ubyte{suffix}", X)
    write_idx(directory / f"train-labels-idx1-ubyte{suffix}", y)
    write_idx(directory / f"t10k-images-idx3-ubyte{suffix}", X_test)
    write_idx(directory / f"t10k-labels-idx1-ubyte{suffix}", y_test)
    return X, y, X_test, y_test


def write_cifar(directory: Path, *, per_batch: int = 20, n_test: int = 20):
    """CIFAR-10 python batches as the official archive holds them (bytes keys, protocol 2)."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        n = n_test if name == "test_batch" else per_batch
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.permutation(np.arange(n) % 10)]
        batch = {b"batch_label": name.encode(), b"data": data, b"labels": labels}
        with open(directory / name, "wb") as stream:
            pickle.dump(batch, stream, protocol=2)
        batches[name] = (data, np.asarray(labels))
    return batches


def write_cifar100(directory: Path, *, n_train: int = 40, n_test: int = 20):
    """The CIFAR-100 python files train and test (bytes keys, fine and coarse labels)."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(4)
    files = {}
    for name, n in (("train", n_train), ("test", n_test)):
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        fine = [int(v) for v in rng.permutation(np.arange(n) % 100)]
        content = {b"filenames": [b"x.png"] * n, b"data": data, b"fine_labels": fine,
                   b"coarse_labels": [v // 5 for v in fine]}
        with open(directory / name, "wb") as stream:
            pickle.dump(content, stream, protocol=2)
        files[name] = (data, np.asarray(fine))
    return files
