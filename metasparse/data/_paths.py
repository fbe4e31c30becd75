"""Where datasets live: the data directory and the layout of the files inside it."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "METASPARSE_DATA_DIR"
DEFAULT_DATA_DIR = Path("~/.cache/metasparse/data")

# The files of each vision dataset (what the readers of _formats.py read)
IDX_STEMS = {
    "X": "train-images-idx3-ubyte",
    "y": "train-labels-idx1-ubyte",
    "X_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
CIFAR_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST_BATCH = "test_batch"
CIFAR100_FILES = ("train", "test")
# Folders that hold each vision dataset, in order of preference; torchvision writes the last.
VISION_DIRS = {
    "mnist": ("mnist", "MNIST/raw"),
    "fashion_mnist": ("fashion_mnist", "FashionMNIST/raw"),
    "cifar10": ("cifar-10-batches-py",),
    "cifar100": ("cifar-100-python",),
}


def find_idx_files(directory: Path) -> dict[str, Path] | None:
    """The four MNIST-style IDX files in `directory` (plain or .gz), or None if one is missing."""
    found = {}
    for key, stem in IDX_STEMS.items():
        candidates = [directory / stem, directory / f"{stem}.gz"]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            return None
        found[key] = path
    return found


def find_cifar_files(directory: Path) -> list[Path] | None:
    """The five training batches and the test batch of CIFAR-10, or None if one is missing."""
    paths = [directory / name for name in (*CIFAR_TRAIN_BATCHES, CIFAR_TEST_BATCH)]
    return paths if all(p.is_file() for p in paths) else None


def find_cifar100_files(directory: Path) -> list[Path] | None:
    """The training and test files of CIFAR-100, or None if one is missing."""
    paths = [directory / name for name in CIFAR100_FILES]
    return paths if all(p.is_file() for p in paths) else None


# How each vision dataset's files are found in a folder (the others are IDX files)
_FINDERS = {"cifar10": find_cifar_files, "cifar100": find_cifar100_files}


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """`data_dir` if given, else $METASPARSE_DATA_DIR, else ~/.cache/metasparse/data."""
    chosen = data_dir if data_dir is not None else os.environ.get(ENV_VAR) or DEFAULT_DATA_DIR
    return Path(chosen).expanduser().absolute()


def find_vision_dir(root: Path, name: str) -> Path | None:
    """The folder under `root` that holds every file of vision dataset `name`, if any."""
    finder = _FINDERS.get(name, find_idx_files)
    for relative in VISION_DIRS[name]:
        directory = root / relative
        if directory.is_dir() and finder(directory) is not None:
            return directory
    return None


def vision_files(directory: Path, name: str) -> list[Path]:
    """The files of vision dataset `name` in `directory` (which find_vision_dir returned)."""
    if name in _FINDERS:
        return _FINDERS[name](directory) or []
    return list((find_idx_files(directory) or {}).values())


def openml_cache_path(root: Path, data_id: int) -> Path:
    """Where a converted OpenML dataset is kept, next to scikit-learn's download cache.

    Given data_home=<data dir>, fetch_openml caches its downloads in <data dir>/openml/openml.org.
    """
    return root / "openml" / f"{data_id}.npz"
