"""Seeded, stratified splits of sample indices.

Every class is divided among the splits in proportion to the split fractions, each count rounded
down or up (so it is within one sample of its exact share); which classes round up is chosen so
that the split sizes stay within one sample of their fractions of the whole. Unlike a cascade of
two stratified train/test splits, this holds for every class of every split, and a class of one
sample needs no fallback to a non-stratified split.
"""

from __future__ import annotations

import numbers

import numpy as np

from metasparse.errors import DataError

_TOLERANCE = 1e-9


def check_fractions(val_fraction: float, test_fraction: float) -> None:
    """Raise DataError unless both fractions lie in (0, 1) and leave a training set."""
    for what, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < 1:
            raise DataError(f"{what} must lie strictly between 0 and 1; got {value!r}")
    if val_fraction + test_fraction >= 1.0:
        raise DataError(
            f"val_fraction + test_fraction must be below 1 to leave a training set; "
            f"got {val_fraction} + {test_fraction}"
        )


def split_three_ways(
    y: np.ndarray, *, seed: int, val_fraction: float, test_fraction: float, name: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of train, validation and test samples: val and test are fractions of all of y."""
    fractions = (1.0 - val_fraction - test_fraction, val_fraction, test_fraction)
    train, val, test = _stratified_split(y, fractions, seed, name)
    return train, val, test


def split_off_validation(
    y: np.ndarray, *, seed: int, val_fraction: float, name: str
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of train and validation samples: val is a fraction of y."""
    train, val = _stratified_split(y, (1.0 - val_fraction, val_fraction), seed, name)
    return train, val


def _stratified_split(
    y: np.ndarray, fractions: tuple[float, ...], seed: int, name: str
) -> list[np.ndarray]:
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0:
        raise DataError(f"split_seed must be a non-negative integer; got {seed!r}")
    rng = np.random.default_rng(int(seed))
    _, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    allocation = _allocate(counts, np.asarray(fractions), rng)
    by_class = np.split(np.argsort(inverse.reshape(-1), kind="stable"), np.cumsum(counts)[:-1])
    parts: list[list[np.ndarray]] = [[] for _ in fractions]
    for members, shares in zip(by_class, allocation, strict=True):
        chunks = np.split(rng.permutation(members), np.cumsum(shares)[:-1])
        for part, chunk in zip(parts, chunks, strict=True):
            part.append(chunk)
    splits = [rng.permutation(np.concatenate(part)) for part in parts]
    if any(len(split) == 0 for split in splits):
        raise DataError(
            f"Dataset {name!r} has too few samples ({len(y)}) for a train/val/test split"
        )
    return splits


def _allocate(counts: np.ndarray, fractions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Samples of each class (rows) per split (columns): each the floor or ceiling of its share.

    Classes are visited in random order; the ones left to round go to the splits that are most
    behind their fraction so far, which keeps every split size within one sample of its share.
    """
    shares = counts[:, None] * fractions[None, :]
    allocation = np.floor(shares + _TOLERANCE).astype(np.int64)
    remainders = np.clip(shares - allocation, 0.0, None)
    behind = np.zeros(len(fractions))
    for c in rng.permutation(len(counts)):
        extra = int(counts[c] - allocation[c].sum())
        roundable = remainders[c] > _TOLERANCE
        if extra == int(roundable.sum()):
            allocation[c] += roundable
        elif extra > 0:
            need = np.where(roundable, behind + remainders[c], -np.inf)
            allocation[c, np.argsort(-need, kind="stable")[:extra]] += 1
        behind += shares[c] - allocation[c]
    return allocation
