"""Dataset names: which names exist and where the files of each one are.

A name resolves, in order, as: a file path (.csv, .csv.gz, .parquet, .pq, .npz); `openml:<id>`;
NAME.npz in the data directory; a vision dataset (mnist, fashion_mnist, cifar10, cifar100) from
its files in the data directory; a scikit-learn bundled dataset; a dataset with a known OpenML id.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from metasparse.data._paths import (
    ENV_VAR,
    VISION_DIRS,
    find_vision_dir,
    openml_cache_path,
    resolve_data_dir,
    vision_files,
)
from metasparse.errors import DataError

SKLEARN_DATASETS = ("breast_cancer", "digits", "iris", "wine")
VISION_DATASETS = tuple(VISION_DIRS)
# Named datasets that online users can fetch from OpenML when the data directory lacks them.
# OpenML's isolet is the full UCI set (7797 samples), not the 1560-sample subset of ../shared/data.
OPENML_IDS = {"arcene": 1458, "isolet": 300, "madelon": 1485}
IMAGE_SHAPES = {
    "coil20": (1, 32, 32),
    "orl": (1, 32, 32),
    "yale": (1, 32, 32),
    "usps": (1, 16, 16),
    "digits": (1, 8, 8),
    "mnist": (1, 28, 28),
    "fashion_mnist": (1, 28, 28),
    "cifar10": (3, 32, 32),
    "cifar100": (3, 32, 32),
}
_ALIASES = {"fashionmnist": "fashion_mnist", "cifar_10": "cifar10", "cifar_100": "cifar100"}
_TABLE_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")
_FILE_SUFFIXES = (*_TABLE_SUFFIXES, ".npz")


@dataclass(frozen=True)
class Source:
    """Where to read one dataset from; `stamp` changes when its files change."""

    name: str
    kind: str
    location: str
    label_column: str | None = None
    stamp: tuple[tuple[str, int, int], ...] = ()


def known_image_shape(name: str, n_features: int) -> tuple[int, int, int] | None:
    """The image shape of a known image dataset, when it matches the number of features."""
    shape = IMAGE_SHAPES.get(_normalize(name))
    return shape if shape is not None and math.prod(shape) == n_features else None


def available_datasets(data_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """Sorted names that load without a download: bundled ones plus those in the data directory.

    The data directory is `data_dir`, else $METASPARSE_DATA_DIR, else ~/.cache/metasparse/data.
    """
    root = resolve_data_dir(data_dir)
    names = set(SKLEARN_DATASETS)
    names.update(path.stem for path in _npz_files(root))
    names.update(name for name in VISION_DATASETS if find_vision_dir(root, name) is not None)
    names.update(
        name for name, data_id in OPENML_IDS.items() if openml_cache_path(root, data_id).is_file()
    )
    names.update(
        f"openml:{path.stem}" for path in _npz_files(root / "openml") if path.stem.isdigit()
    )
    return sorted(names)


def check_available(
    names: Iterable[str], data_dir: str | os.PathLike[str] | None, key: str
) -> None:
    """Raise DataError unless every name is an available dataset or an existing dataset file
    (so that a run is refused before its first training, not at it)."""
    known = available_datasets(data_dir)
    root = resolve_data_dir(data_dir)
    for name in names:
        if name in known or (
            isinstance(name, str)
            and name.lower().endswith(_FILE_SUFFIXES)
            and any((base / Path(name).expanduser()).is_file() for base in (Path.cwd(), root))
        ):
            continue
        raise DataError(
            f"{key} must name available datasets {known} (or dataset files); got {name!r}"
        )


def check_name(name: str | os.PathLike[str], data_dir: str | os.PathLike[str] | None) -> None:
    """Raise DataError (one line) unless `name` is a dataset that loads without a download:
    what load_dataset refuses first, without its imports (torch)."""
    resolve(name, data_dir=data_dir, label_column=None, download=False)


def resolve(
    name: str | os.PathLike[str],
    *,
    data_dir: str | os.PathLike[str] | None,
    label_column: str | None,
    download: bool,
) -> Source:
    """The Source of dataset `name`, downloading it first when allowed and needed."""
    if isinstance(name, os.PathLike):
        name = os.fspath(name)
    if not isinstance(name, str) or not name.strip():
        raise DataError(f"A dataset name must be a non-empty string; got {name!r}")
    name = name.strip()
    root = resolve_data_dir(data_dir)
    if _looks_like_path(name):
        return _file_source(name, root, label_column)
    if label_column is not None:
        raise DataError(f"label_column applies to CSV and Parquet files only; {name!r} is not one")
    key = _normalize(name)
    if key.startswith("openml:"):
        return _openml_source(key, _openml_id(name), root, download)
    npz = root / f"{name}.npz"
    if not npz.is_file():
        npz = next((p for p in _npz_files(root) if _normalize(p.stem) == key), npz)
    if npz.is_file():
        return _npz_source(npz.stem, npz)
    if key in VISION_DATASETS:
        return _vision_source(key, root, download)
    if key in SKLEARN_DATASETS:
        return Source(key, "sklearn", key)
    if key in OPENML_IDS:
        return _openml_source(key, OPENML_IDS[key], root, download)
    raise DataError(_unknown_message(name, root))


def _normalize(name: str) -> str:
    key = name.lower().replace("-", "_")
    return _ALIASES.get(key, key)


def _looks_like_path(name: str) -> bool:
    return (
        name.lower().endswith(_FILE_SUFFIXES)
        or "/" in name
        or os.sep in name
        or name.startswith("~")
    )


def _stamp(paths: list[Path]) -> tuple[tuple[str, int, int], ...]:
    stats = [(str(p), p.stat()) for p in paths]
    return tuple((path, stat.st_mtime_ns, stat.st_size) for path, stat in stats)


def _npz_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.npz")) if directory.is_dir() else []


def _npz_source(name: str, path: Path) -> Source:
    path = path.resolve()
    return Source(name, "npz", str(path), stamp=_stamp([path]))


def _file_source(name: str, root: Path, label_column: str | None) -> Source:
    path = Path(name).expanduser()
    if not path.is_absolute() and not path.exists() and (root / path).exists():
        path = root / path
    if not path.is_file():
        raise DataError(f"Dataset file {name!r} not found (looked in {Path.cwd()} and {root})")
    lower = path.name.lower()
    if not lower.endswith(_FILE_SUFFIXES):
        raise DataError(f"Cannot read {path}: dataset files end in {', '.join(_FILE_SUFFIXES)}")
    stem = path.name[: -len(next(s for s in _FILE_SUFFIXES if lower.endswith(s)))]
    if lower.endswith(".npz"):
        if label_column is not None:
            raise DataError(f"label_column applies to CSV and Parquet files only, not {path}")
        return _npz_source(stem, path)
    path = path.resolve()
    return Source(stem, "table", str(path), label_column, _stamp([path]))


def _openml_id(name: str) -> int:
    text = name.split(":", 1)[1].strip()
    if not text.isdigit():
        raise DataError(
            f"OpenML datasets are named openml:<data id>, e.g. openml:554; got {name!r}"
        )
    return int(text)


def _openml_source(name: str, data_id: int, root: Path, download: bool) -> Source:
    path = openml_cache_path(root, data_id)
    if not path.is_file():
        if not download:
            alternative = "" if name.startswith("openml:") else f", or put {name}.npz there"
            raise DataError(
                f"Dataset {name!r} is not in {root}: pass download=True to fetch it from OpenML "
                f"(data id {data_id}){alternative}"
            )
        from metasparse.data._download import download_openml

        path = download_openml(name, data_id, root)
    return _npz_source(name, path)


def _vision_source(name: str, root: Path, download: bool) -> Source:
    directory = find_vision_dir(root, name)
    if directory is None:
        looked = " or ".join(str(root / relative) for relative in VISION_DIRS[name])
        if not download:
            raise DataError(
                f"Dataset {name!r} is not in {looked}: pass download=True to fetch it "
                "(needs torchvision), or set METASPARSE_DATA_DIR / data_dir to where it is"
            )
        from metasparse.data._download import download_vision

        download_vision(name, root)
        directory = find_vision_dir(root, name)
        if directory is None:
            raise DataError(f"Downloaded {name!r}, but its files are not in {looked}")
    kind = {"cifar10": "cifar", "cifar100": "cifar100"}.get(name, "idx")
    return Source(name, kind, str(directory.resolve()), stamp=_stamp(vision_files(directory, name)))


def _unknown_message(name: str, root: Path) -> str:
    available = available_datasets(root)
    downloadable = sorted((set(VISION_DATASETS) | set(OPENML_IDS)) - set(available))
    close = difflib.get_close_matches(_normalize(name), available + downloadable, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return (
        f"Unknown dataset {name!r}{hint}. Available: {', '.join(available)}; "
        f"with download=True also: {', '.join([*downloadable, 'openml:<id>'])} "
        f"(data directory: {root}; set {ENV_VAR} or pass data_dir)"
    )
