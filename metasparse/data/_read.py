"""Reading a Source into raw arrays, cached in-process so that many trials read each file once."""

from __future__ import annotations

import functools
from pathlib import Path

from metasparse.data._formats import (
    RawArrays,
    read_cifar100_dir,
    read_cifar_dir,
    read_idx_dir,
    read_npz,
    read_sklearn,
    read_table,
)
from metasparse.data._registry import Source

_READERS = {
    "sklearn": lambda source: read_sklearn(source.location),
    "npz": lambda source: read_npz(Path(source.location)),
    "table": lambda source: read_table(Path(source.location), source.label_column),
    "idx": lambda source: read_idx_dir(Path(source.location)),
    "cifar": lambda source: read_cifar_dir(Path(source.location)),
    "cifar100": lambda source: read_cifar100_dir(Path(source.location)),
}


@functools.lru_cache(maxsize=8)
def read_source(source: Source) -> RawArrays:
    """The raw arrays of `source`, read-only; a file that changed on disk is read again."""
    raw = _READERS[source.kind](source)
    for array in (raw.X, raw.y, raw.X_test, raw.y_test):
        if array is not None:
            array.flags.writeable = False
    return raw


def clear_cache() -> None:
    """Forget every dataset read so far."""
    read_source.cache_clear()
