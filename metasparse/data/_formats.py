"""Readers of the on-disk formats: npz, CSV/Parquet, IDX (MNIST), CIFAR-10 batches, scikit-learn.

Every reader returns raw values (no scaling) with labels encoded as int64 0..C-1.
"""

from __future__ import annotations

import gzip
import itertools
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from metasparse.data._paths import find_cifar100_files, find_cifar_files, find_idx_files
from metasparse.errors import DataError, one_line

CIFAR_IMAGE_SHAPE = (3, 32, 32)

_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@dataclass(frozen=True, eq=False)
class RawArrays:
    """A dataset as read from disk: X is samples × features, y int64 labels 0..C-1.

    X_test/y_test hold an official test set where the source defines one.
    """

    X: np.ndarray
    y: np.ndarray
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    image_shape: tuple[int, int, int] | None = None


def encode_labels(*labels: np.ndarray, where: str = "dataset") -> list[np.ndarray]:
    """Map the sorted unique values of all `labels` together to 0..C-1 (int64).

    Fractional numbers are refused (a regression target would become as many classes as
    values), and so are missing ones; `where` names the data in the message.
    """
    values = [np.asarray(y) for y in labels]
    for y in values:
        if y.dtype.kind == "f" and len(y):
            if np.isnan(y).any():
                raise DataError(f"{where}: {int(np.isnan(y).sum())} labels are missing (NaN); "
                                "every sample needs a class label")
            fractional = y[y != np.round(y)]
            if len(fractional):
                shown = ", ".join(f"{v:g}" for v in np.unique(fractional)[:3])
                raise DataError(
                    f"{where}: the labels are continuous numbers ({len(np.unique(y))} distinct "
                    f"values among {len(y)} samples, e.g. {shown}); metasparse trains "
                    "classifiers and needs class labels (integers or strings)"
                )
    if any(y.dtype.kind == "O" for y in values):
        values = [y.astype(str) for y in values]
    classes, codes = np.unique(np.concatenate(values), return_inverse=True)
    if len(classes) == 1:
        raise DataError(f"{where}: every one of the {len(codes)} samples has the label "
                        f"{classes[0].item()!r}; classification needs at least 2 classes")
    codes = codes.astype(np.int64).reshape(-1)
    bounds = np.cumsum([0] + [len(y) for y in values])
    return [codes[start:stop] for start, stop in itertools.pairwise(bounds)]


def read_sklearn(name: str) -> RawArrays:
    """One of scikit-learn's bundled datasets (no download)."""
    from sklearn import datasets

    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    return RawArrays(np.asarray(X, dtype=np.float32), encode_labels(y)[0])


def read_npz(path: Path) -> RawArrays:
    """An npz archive with arrays X (samples × features, or images) and y."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = sorted({"X", "y"} - set(archive.files))
            if missing:
                raise DataError(
                    f"{path} must hold arrays 'X' and 'y'; found {sorted(archive.files)}"
                )
            X, y = archive["X"], archive["y"]
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"Cannot read {path}: {one_line(exc)}") from exc
    if y.ndim != 1 or X.ndim < 2 or len(X) != len(y):
        raise DataError(
            f"{path}: X must be samples × features and y one label per sample; "
            f"got X {X.shape} and y {y.shape}"
        )
    image_shape = None
    if X.ndim == 3:
        image_shape = (1, *X.shape[1:])
    elif X.ndim == 4:
        image_shape = tuple(X.shape[1:])
    return RawArrays(X.reshape(len(X), -1), encode_labels(y, where=str(path))[0],
                     image_shape=image_shape)


def read_table(path: Path, label_column: str | None) -> RawArrays:
    """A CSV or Parquet table: one column holds the labels, every other column is a feature.

    The label column is `label_column`; without one, the column named "label", else the last.
    """
    frame = _read_frame(path)
    columns = list(frame.columns)
    if len(columns) < 2:
        raise DataError(f"{path} needs a label column and at least one feature column")
    if label_column is None:
        label_column = "label" if "label" in columns else columns[-1]
    elif label_column not in columns:
        shown = ", ".join(repr(c) for c in columns[:20]) + (", ..." if len(columns) > 20 else "")
        raise DataError(f"{path} has no label column {label_column!r}; its columns: {shown}")
    labels = frame[label_column]
    features = frame.drop(columns=[label_column])
    non_numeric = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    if non_numeric:
        raise DataError(
            f"{path}: feature columns {non_numeric[:10]} are not numeric; encode them first"
        )
    with_missing = list(features.columns[features.isna().any()])
    if with_missing:
        raise DataError(f"{path}: feature columns {with_missing[:10]} have missing values")
    if labels.isna().any():
        raise DataError(f"{path}: the label column {label_column!r} has missing values")
    X = features.to_numpy(dtype=np.float32)
    return RawArrays(X, encode_labels(labels.to_numpy(), where=str(path))[0])


def _read_frame(path: Path) -> pd.DataFrame:
    is_parquet = path.suffix.lower() in (".parquet", ".pq")
    try:
        return pd.read_parquet(path) if is_parquet else pd.read_csv(path)
    except ImportError as exc:
        raise DataError(
            f"pyarrow is needed to read {path.name}: pip install metasparse[parquet]"
        ) from exc
    except Exception as exc:
        raise DataError(f"Cannot read {path}: {one_line(exc)}") from exc


def read_idx(path: Path) -> np.ndarray:
    """One IDX file: magic (0, 0, type code, n dims), the sizes as big-endian uint32, data."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as stream:
            content = stream.read()
    except OSError as exc:
        raise DataError(f"Cannot read {path}: {one_line(exc)}") from exc
    if len(content) < 4 or content[:2] != b"\0\0" or content[2] not in _IDX_DTYPES:
        raise DataError(f"{path} is not an IDX file (bad magic number)")
    ndim = content[3]
    header = 4 + 4 * ndim
    shape = tuple(int(d) for d in np.frombuffer(content, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[content[2]])
    if len(content) != header + dtype.itemsize * int(np.prod(shape)):
        raise DataError(f"{path}: size does not match the IDX header (shape {shape})")
    data = np.frombuffer(content, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="), copy=False)


def read_idx_dir(directory: Path) -> RawArrays:
    """MNIST or Fashion-MNIST: official training and test sets from IDX files."""
    files = find_idx_files(directory)
    if files is None:
        raise DataError(f"{directory} does not hold the four MNIST IDX files")
    arrays = {key: read_idx(path) for key, path in files.items()}
    X, X_test = arrays["X"], arrays["X_test"]
    if X.ndim != 3 or X_test.shape[1:] != X.shape[1:]:
        raise DataError(f"{directory}: IDX images must be samples × height × width")
    for images, labels in (("X", "y"), ("X_test", "y_test")):
        if arrays[labels].ndim != 1 or len(arrays[labels]) != len(arrays[images]):
            raise DataError(f"{files[labels]}: one label per image of {files[images].name}")
    y, y_test = encode_labels(arrays["y"], arrays["y_test"])
    return RawArrays(
        X.reshape(len(X), -1),
        y,
        X_test.reshape(len(X_test), -1),
        y_test,
        image_shape=(1, *X.shape[1:]),
    )


def read_cifar_batch(path: Path, labels: str = "labels") -> tuple[np.ndarray, np.ndarray]:
    """One pickled CIFAR batch: data (N × 3072 uint8, channel-major) and its `labels` (CIFAR-10's
    "labels", CIFAR-100's "fine_labels")."""
    try:
        with open(path, "rb") as stream:
            batch = pickle.load(stream, encoding="bytes")
        batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}
        data = np.asarray(batch["data"], dtype=np.uint8)
        targets = np.asarray(batch[labels], dtype=np.int64)
    except Exception as exc:
        raise DataError(f"Cannot read CIFAR batch {path}: {one_line(exc)}") from exc
    if data.ndim != 2 or data.shape[1] != 3072 or len(targets) != len(data):
        raise DataError(f"{path}: expected N × 3072 images and N labels; got {data.shape}")
    return data, targets


def read_cifar_dir(directory: Path) -> RawArrays:
    """CIFAR-10: five training batches and the official test batch, flattened in CHW order."""
    files = find_cifar_files(directory)
    if files is None:
        raise DataError(f"{directory} does not hold the CIFAR-10 batches")
    batches = [read_cifar_batch(path) for path in files]
    (X_test, test_labels), train = batches[-1], batches[:-1]
    X = np.concatenate([data for data, _ in train])
    y, y_test = encode_labels(np.concatenate([labels for _, labels in train]), test_labels)
    return RawArrays(X, y, X_test, y_test, image_shape=CIFAR_IMAGE_SHAPE)


def read_cifar100_dir(directory: Path) -> RawArrays:
    """CIFAR-100 (its 100 fine classes): the training file and the official test file."""
    files = find_cifar100_files(directory)
    if files is None:
        raise DataError(f"{directory} does not hold the CIFAR-100 files train and test")
    (X, labels), (X_test, test_labels) = (read_cifar_batch(p, "fine_labels") for p in files)
    y, y_test = encode_labels(labels, test_labels)
    return RawArrays(X, y, X_test, y_test, image_shape=CIFAR_IMAGE_SHAPE)
