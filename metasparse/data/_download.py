"""Downloads for online users: torchvision for MNIST/Fashion-MNIST/CIFAR-10, OpenML by data id.

Nothing here runs unless a caller passes download=True and the files are absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from metasparse.data._formats import encode_labels
from metasparse.data._paths import openml_cache_path
from metasparse.errors import DataError, one_line

_TORCHVISION_CLASSES = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST", "cifar10": "CIFAR10",
                        "cifar100": "CIFAR100"}


def download_vision(name: str, root: Path) -> None:
    """Fetch the training and test sets of `name` with torchvision into `root`."""
    try:
        from torchvision import datasets
    except ImportError:
        raise DataError(
            f"torchvision is needed to download {name}: pip install metasparse[vision]"
        ) from None
    except Exception as exc:  # a torchvision built for another torch fails with RuntimeError etc.
        raise DataError(
            f"torchvision is needed to download {name}: pip install metasparse[vision] "
            f"(it is installed but does not load: {one_line(exc)})"
        ) from exc
    dataset_class = getattr(datasets, _TORCHVISION_CLASSES[name])
    try:
        root.mkdir(parents=True, exist_ok=True)
        for train in (True, False):
            dataset_class(root=str(root), train=train, download=True)
    except Exception as exc:
        raise DataError(f"Could not download {name} into {root}: {one_line(exc)}") from exc


def download_openml(name: str, data_id: int, root: Path) -> Path:
    """Fetch OpenML dataset `data_id`, convert it to X/y arrays and keep them as an npz file."""
    from sklearn.datasets import fetch_openml

    what = name if name == f"openml:{data_id}" else f"{name} (openml:{data_id})"
    try:
        bunch = fetch_openml(data_id=data_id, data_home=str(root), parser="auto")
    except Exception as exc:
        raise DataError(f"Could not download {what} from OpenML: {one_line(exc)}") from exc
    X, y = openml_arrays(bunch.data, bunch.target, what)
    target = openml_cache_path(root, data_id)
    partial = target.with_name(f"{target.stem}.partial")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(partial, "wb") as stream:
            np.savez_compressed(stream, X=X, y=y)
        os.replace(partial, target)
    except OSError as exc:
        raise DataError(f"Could not save {what} to {target}: {one_line(exc)}") from exc
    return target


def openml_arrays(data, target, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Numeric float32 features and int64 labels from what fetch_openml returns."""
    if target is None or getattr(target, "ndim", 1) != 1:
        raise DataError(f"{what} has no single target column; only classification is supported")
    if hasattr(data, "toarray"):
        data = data.toarray()
    if isinstance(data, pd.DataFrame):
        data = pd.DataFrame({name: _numeric(column, what) for name, column in data.items()})
    X = np.asarray(data, dtype=np.float32)
    if not np.isfinite(X).all():
        raise DataError(f"{what} has missing values; impute them and load the data as a file")
    labels = np.asarray(target)
    if pd.isna(labels).any():
        raise DataError(f"{what} has samples without a label")
    return X, encode_labels(labels.astype(str) if labels.dtype.kind in "OU" else labels)[0]


def _numeric(column: pd.Series, what: str) -> pd.Series:
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.codes.astype(np.float32).where(column.notna())
    if pd.api.types.is_numeric_dtype(column):
        return column.astype(np.float32)
    raise DataError(f"{what}: feature {column.name!r} is neither numeric nor categorical")
