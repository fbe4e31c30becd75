"""load_dataset: a name in, a split Dataset of raw values out."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch

from metasparse.data._dataset import Dataset
from metasparse.data._formats import encode_labels
from metasparse.data._meta import meta_features
from metasparse.data._read import read_source
from metasparse.data._registry import check_available, known_image_shape, resolve
from metasparse.data._split import check_fractions, split_off_validation, split_three_ways
from metasparse.errors import DataError


def load_dataset(
    name: str | os.PathLike[str],
    *,
    data_dir: str | os.PathLike[str] | None = None,
    split_seed: int = 0,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    label_column: str | None = None,
    download: bool = False,
) -> Dataset:
    """Load dataset `name` with a seeded, stratified train/validation/test split of raw values.

    `name` is one of `available_datasets(data_dir)`, `mnist`, `fashion_mnist`, `cifar10`,
    `openml:<data id>`, or the path of a .csv, .csv.gz, .parquet, .pq or .npz file. The data
    directory is `data_dir`, else $METASPARSE_DATA_DIR, else ~/.cache/metasparse/data.
    `val_fraction` and `test_fraction` are fractions of all samples; datasets with an official
    test set (MNIST, Fashion-MNIST, CIFAR-10) keep it as the test split, ignore `test_fraction`
    and take `val_fraction` of their training set. `label_column` names the label column of a
    table (default: the column "label", else the last column). Files are downloaded only when
    absent and `download` is true. Raises DataError when the dataset cannot be found or read.
    """
    check_fractions(val_fraction, test_fraction)
    source = resolve(name, data_dir=data_dir, label_column=label_column, download=download)
    raw = read_source(source)
    image_shape = raw.image_shape or known_image_shape(source.name, raw.X.shape[1])
    return dataset_from_arrays(
        source.name,
        raw.X,
        raw.y,
        X_test=raw.X_test,
        y_test=raw.y_test,
        split_seed=split_seed,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        image_shape=image_shape,
    )


def check_datasets(
    names: Sequence[str], data_dir: str | os.PathLike[str] | None, key: str
) -> dict[str, int]:
    """Raise DataError unless every name is an available dataset (or dataset file) that can be
    learned: read and split here, so that a run is refused before its first training, not at
    every trial (a single class, continuous labels, too few samples). `key` names the list.
    Returns each name's number of features (what the read found)."""
    check_available(names, data_dir, key)
    widths = {}
    for name in names:
        try:
            widths[name] = load_dataset(name, data_dir=data_dir).n_features
        except DataError as exc:
            raise DataError(f"{key}: {exc}") from None
    return widths


def dataset_from_arrays(
    name: str,
    X: np.ndarray,
    y: np.ndarray,
    *,
    X_test: np.ndarray | None = None,
    y_test: np.ndarray | None = None,
    split_seed: int = 0,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    image_shape: tuple[int, int, int] | None = None,
) -> Dataset:
    """A Dataset from in-memory arrays, split exactly as load_dataset splits.

    X is samples × features (images flattened in CHW order); y holds class labels of any sortable
    kind, encoded to 0..C-1. With X_test/y_test, those are the test split and validation is
    `val_fraction` of X; otherwise validation and test are fractions of X.
    """
    check_fractions(val_fraction, test_fraction)
    X, y = _check_arrays(name, X, y)
    if (X_test is None) != (y_test is None):
        raise DataError(f"Dataset {name!r}: give both X_test and y_test, or neither")
    where = f"Dataset {name!r}"
    if X_test is None:
        (y,) = encode_labels(y, where=where)
        train, val, test = split_three_ways(
            y, seed=split_seed, val_fraction=val_fraction, test_fraction=test_fraction, name=name
        )
        parts = {"train": (X, y, train), "val": (X, y, val), "test": (X, y, test)}
    else:
        X_test, y_test = _check_arrays(name, X_test, y_test)
        if X_test.shape[1] != X.shape[1]:
            raise DataError(
                f"Dataset {name!r}: test samples have {X_test.shape[1]} features, "
                f"training samples {X.shape[1]}"
            )
        y, y_test = encode_labels(y, y_test, where=where)
        train, val = split_off_validation(y, seed=split_seed, val_fraction=val_fraction, name=name)
        everything = np.arange(len(y_test))
        parts = {"train": (X, y, train), "val": (X, y, val), "test": (X_test, y_test, everything)}
    n_classes = int(max(y.max(), -1 if y_test is None else y_test.max())) + 1
    tensors = {}
    for split, (features, labels, rows) in parts.items():
        tensors[f"X_{split}"] = torch.from_numpy(np.asarray(features[rows], dtype=np.float32))
        tensors[f"y_{split}"] = torch.from_numpy(np.asarray(labels[rows], dtype=np.int64))
    X_train = tensors["X_train"].numpy()
    return Dataset(
        name=name,
        **tensors,
        n_features=X.shape[1],
        n_classes=n_classes,
        image_shape=None if image_shape is None else tuple(image_shape),
        meta_features=meta_features(X_train, tensors["y_train"].numpy(), n_classes),
    )


def _check_arrays(name: str, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim != 2 or y.ndim != 1 or len(X) != len(y) or X.shape[1] == 0:
        raise DataError(
            f"Dataset {name!r}: X must be samples × features and y one label per sample; "
            f"got X {X.shape} and y {y.shape}"
        )
    if X.dtype.kind not in "biuf":
        raise DataError(f"Dataset {name!r}: features must be numeric; got dtype {X.dtype}")
    if X.dtype.kind == "f" and not np.isfinite(X).all():
        raise DataError(f"Dataset {name!r}: features contain NaN or infinite values")
    return X, y
