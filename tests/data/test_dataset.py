"""The Dataset record and its meta-features."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from metasparse.data import Dataset, dataset_from_arrays, load_dataset
from metasparse.data._meta import meta_features
from metasparse.errors import DataError

EXPECTED_KEYS = {
    "n_samples",
    "n_features",
    "n_classes",
    "log_n_samples",
    "log_n_features",
    "features_per_sample",
    "samples_per_class",
    "class_entropy",
    "class_balance",
    "mean_feature_std",
    "mean_abs_skew",
    "mean_kurtosis",
    "constant_feature_fraction",
    "zero_fraction",
}


def test_meta_features_of_a_known_small_dataset():
    X = np.array([[1, 0], [2, 0], [3, 0], [10, 0]], dtype=np.float32)
    y = np.array([0, 0, 0, 1])
    features = meta_features(X, y, n_classes=2)
    assert set(features) == EXPECTED_KEYS
    assert all(type(value) is float for value in features.values())
    expected = {
        "n_samples": 4.0,
        "n_features": 2.0,
        "n_classes": 2.0,
        "log_n_samples": math.log(4),
        "log_n_features": math.log(2),
        "features_per_sample": 0.5,
        "samples_per_class": 2.0,
        # p = (3/4, 1/4): entropy 0.5623 nats, divided by log 2
        "class_entropy": 0.8112781244591328,
        "class_balance": 1 / 3,
        # feature 0: deviations -3, -2, -1, 6 -> variance 12.5; feature 1 is constant
        "mean_feature_std": math.sqrt(12.5) / 2,
        "mean_abs_skew": 45 / 12.5**1.5,
        "mean_kurtosis": 348.5 / 12.5**2 - 3,
        "constant_feature_fraction": 0.5,
        "zero_fraction": 0.5,
    }
    assert features == pytest.approx(expected)
    assert features["mean_abs_skew"] == pytest.approx(stats.skew(X[:, 0]))
    assert features["mean_kurtosis"] == pytest.approx(stats.kurtosis(X[:, 0]))


def test_meta_features_agree_with_scipy_in_chunks(monkeypatch):
    monkeypatch.setattr("metasparse.data._meta._CHUNK_ELEMENTS", 50)
    rng = np.random.default_rng(0)
    X = rng.exponential(size=(300, 7)).astype(np.float32) + 1000.0
    features = meta_features(X, np.arange(300) % 3, n_classes=3)
    exact = X.astype(np.float64)
    assert features["mean_abs_skew"] == pytest.approx(np.abs(stats.skew(exact)).mean(), 1e-6)
    assert features["mean_kurtosis"] == pytest.approx(stats.kurtosis(exact).mean(), 1e-6)
    assert features["mean_feature_std"] == pytest.approx(exact.std(axis=0).mean(), 1e-6)
    assert features["class_entropy"] == pytest.approx(1.0)
    assert features["class_balance"] == 1.0


def test_meta_features_describe_the_training_split_only():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(100, 4)), np.arange(100) % 2
    X_test = np.full((20, 4), 1e6)
    dataset = dataset_from_arrays("d", X, y, X_test=X_test, y_test=np.arange(20) % 2)
    train = dataset.X_train.numpy()
    assert dataset.meta_features == meta_features(train, dataset.y_train.numpy(), 2)
    assert dataset.meta_features["n_samples"] == 80.0
    assert dataset.meta_features["mean_feature_std"] < 10.0


def test_loaded_dataset_has_meta_features():
    dataset = load_dataset("iris")
    assert set(dataset.meta_features) == EXPECTED_KEYS
    assert dataset.meta_features["n_samples"] == len(dataset.y_train)
    assert dataset.meta_features["n_classes"] == 3.0


def test_dataset_from_arrays_converts_types_and_encodes_labels():
    X = np.arange(60, dtype=np.float64).reshape(30, 2)
    y = np.array(["b", "a", "c"] * 10)
    dataset = dataset_from_arrays("arrays", X, y, image_shape=(1, 1, 2))
    assert dataset.X_train.dtype == torch.float32 and dataset.y_train.dtype == torch.int64
    assert (dataset.n_classes, dataset.image_shape) == (3, (1, 1, 2))
    rows = dataset.X_val[:, 0].long() // 2
    assert dataset.y_val.tolist() == ["abc".index(y[r]) for r in rows.tolist()]


@pytest.mark.parametrize(
    ("X", "y", "message"),
    [
        (np.zeros((4, 2, 2)), np.zeros(4), "X must be samples × features"),
        (np.zeros((4, 2)), np.zeros(5), "X must be samples × features"),
        (np.array([["a", "b"]] * 4), np.zeros(4), "features must be numeric"),
        (np.array([[np.nan, 1.0]] * 4), np.zeros(4), "NaN or infinite"),
    ],
)
def test_dataset_from_bad_arrays(X, y, message):
    with pytest.raises(DataError, match=message):
        dataset_from_arrays("bad", X, y)


def _tensors(n=6, features=2):
    X = torch.zeros(n, features)
    y = torch.zeros(n, dtype=torch.int64)
    return {"X_train": X, "y_train": y, "X_val": X, "y_val": y, "X_test": X, "y_test": y}


def test_dataset_checks_its_tensors():
    Dataset(name="ok", **_tensors(), n_features=2, n_classes=1)
    bad_dtype = {**_tensors(), "X_val": torch.zeros(6, 2, dtype=torch.float64)}
    with pytest.raises(DataError, match="val split: X must be float32"):
        Dataset(name="bad", **bad_dtype, n_features=2, n_classes=1)
    bad_labels = {**_tensors(), "y_test": torch.full((6,), 3)}
    with pytest.raises(DataError, match=r"labels must lie in 0\.\.1"):
        Dataset(name="bad", **bad_labels, n_features=2, n_classes=2)
    with pytest.raises(DataError, match="image_shape"):
        Dataset(name="bad", **_tensors(), n_features=2, n_classes=1, image_shape=(1, 2, 2))


def test_dataset_is_frozen_and_prints_briefly():
    dataset = load_dataset("iris")
    with pytest.raises(AttributeError):
        dataset.name = "other"
    assert repr(dataset) == (
        "Dataset(name='iris', train/val/test=90/30/30, n_features=4, n_classes=3, image_shape=None)"
    )
