"""The train/validation/test split: stratified, seeded, disjoint and complete."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from metasparse.data import dataset_from_arrays, load_dataset
from metasparse.errors import DataError


def _with_ids(y: np.ndarray) -> np.ndarray:
    """Features whose first column is the sample's index, so that splits can be traced back."""
    return np.stack([np.arange(len(y)), np.ones(len(y))], axis=1).astype(np.float32)


def _ids(dataset, split: str) -> np.ndarray:
    return getattr(dataset, f"X_{split}")[:, 0].long().numpy()


def _imbalanced_labels() -> np.ndarray:
    return np.repeat(np.arange(4), [100, 37, 11, 5])


@pytest.mark.parametrize(("val_fraction", "test_fraction"), [(0.2, 0.2), (0.1, 0.3), (0.25, 0.15)])
def test_splits_are_stratified_within_one_sample(val_fraction, test_fraction):
    y = _imbalanced_labels()
    dataset = dataset_from_arrays(
        "imbalanced",
        _with_ids(y),
        y,
        split_seed=3,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
    )
    totals = np.bincount(y)
    fractions = {
        "train": 1 - val_fraction - test_fraction,
        "val": val_fraction,
        "test": test_fraction,
    }
    for split, fraction in fractions.items():
        counts = np.bincount(getattr(dataset, f"y_{split}").numpy(), minlength=4)
        assert np.all(np.abs(counts - totals * fraction) <= 1.0), (split, counts)


def test_digits_split_is_stratified():
    dataset = load_dataset("digits", split_seed=7)
    totals = torch.bincount(torch.cat([dataset.y_train, dataset.y_val, dataset.y_test])).double()
    for split, fraction in (("train", 0.6), ("val", 0.2), ("test", 0.2)):
        counts = torch.bincount(getattr(dataset, f"y_{split}"), minlength=10).double()
        assert torch.all((counts - totals * fraction).abs() <= 1.0)


def test_splits_are_disjoint_and_complete_with_sizes_near_their_fractions():
    y = _imbalanced_labels()
    dataset = dataset_from_arrays("imbalanced", _with_ids(y), y)
    train, val, test = (_ids(dataset, split) for split in ("train", "val", "test"))
    for ids, fraction in ((train, 0.6), (val, 0.2), (test, 0.2)):
        assert abs(len(ids) - fraction * len(y)) < 1.0
    assert not set(train) & set(val) and not set(train) & set(test) and not set(val) & set(test)
    assert sorted(np.concatenate([train, val, test])) == list(range(len(y)))
    for split in ("train", "val", "test"):
        assert np.array_equal(getattr(dataset, f"y_{split}").numpy(), y[_ids(dataset, split)])


def test_same_seed_same_split_and_different_seed_different_split():
    y = _imbalanced_labels()
    first = dataset_from_arrays("a", _with_ids(y), y, split_seed=11)
    again = dataset_from_arrays("a", _with_ids(y), y, split_seed=11)
    other = dataset_from_arrays("a", _with_ids(y), y, split_seed=12)
    for split in ("train", "val", "test"):
        assert np.array_equal(_ids(first, split), _ids(again, split))
    assert set(_ids(first, "test")) != set(_ids(other, "test"))
    assert set(_ids(first, "val")) != set(_ids(other, "val"))


def test_loaded_datasets_split_the_same_way_for_the_same_seed():
    first, again = load_dataset("wine", split_seed=5), load_dataset("wine", split_seed=5)
    other = load_dataset("wine", split_seed=6)
    assert torch.equal(first.X_val, again.X_val) and torch.equal(first.y_test, again.y_test)
    assert not torch.equal(first.X_val, other.X_val)


def test_a_single_sample_class_needs_no_fallback_and_the_split_stays_seeded():
    y = np.array([0] * 20 + [1] * 20 + [2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        first = dataset_from_arrays("tiny", _with_ids(y), y, split_seed=1)
    again = dataset_from_arrays("tiny", _with_ids(y), y, split_seed=1)
    ids = [_ids(first, split) for split in ("train", "val", "test")]
    assert sorted(np.concatenate(ids)) == list(range(len(y)))
    for split in ("train", "val", "test"):
        assert np.array_equal(_ids(first, split), _ids(again, split))
        counts = np.bincount(getattr(first, f"y_{split}").numpy(), minlength=3)
        share = 0.6 if split == "train" else 0.2
        assert np.all(np.abs(counts - np.array([20, 20, 1]) * share) <= 1.0)
    assert first.n_classes == 3


def test_many_seeds_keep_every_class_within_one_sample():
    y = np.repeat(np.arange(7), [3, 4, 9, 13, 25, 2, 61])
    totals = np.bincount(y)
    for seed in range(25):
        dataset = dataset_from_arrays(
            "many", _with_ids(y), y, split_seed=seed, val_fraction=0.15, test_fraction=0.3
        )
        for split, share in (("train", 0.55), ("val", 0.15), ("test", 0.3)):
            counts = np.bincount(getattr(dataset, f"y_{split}").numpy(), minlength=7)
            assert np.all(np.abs(counts - totals * share) <= 1.0 + 1e-9)


def test_an_official_test_set_is_kept_and_validation_comes_from_training():
    y = np.arange(50) % 5
    y_test = np.arange(10) % 5
    X_test = np.full((10, 2), -1.0, dtype=np.float32)
    dataset = dataset_from_arrays(
        "official",
        _with_ids(y),
        y,
        X_test=X_test,
        y_test=y_test,
        val_fraction=0.2,
        test_fraction=0.5,
    )
    assert torch.equal(dataset.X_test, torch.from_numpy(X_test))
    assert (len(dataset.y_train), len(dataset.y_val)) == (40, 10)
    assert torch.bincount(dataset.y_val).tolist() == [2] * 5
    assert sorted(np.concatenate([_ids(dataset, "train"), _ids(dataset, "val")])) == list(range(50))


@pytest.mark.parametrize(
    ("val_fraction", "test_fraction", "message"),
    [
        (0.0, 0.2, "val_fraction must lie strictly between 0 and 1"),
        (0.2, 1.0, "test_fraction must lie strictly between 0 and 1"),
        (0.5, 0.5, "must be below 1 to leave a training set"),
    ],
)
def test_bad_fractions(val_fraction, test_fraction, message):
    with pytest.raises(DataError, match=message):
        load_dataset("iris", val_fraction=val_fraction, test_fraction=test_fraction)


def test_too_few_samples_to_split():
    with pytest.raises(DataError, match="too few samples"):
        dataset_from_arrays("two", np.zeros((2, 3)), np.array([0, 1]))


@pytest.mark.parametrize("seed", [-1, 1.5, "0"])
def test_bad_split_seed(seed):
    with pytest.raises(DataError, match="split_seed must be a non-negative integer"):
        load_dataset("iris", split_seed=seed)
