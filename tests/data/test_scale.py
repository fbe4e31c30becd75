"""Input scaling: fitted on the training split only, applied to every split."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from metasparse.data import Dataset, load_dataset, scale_inputs
from metasparse.errors import DataError


def _shifted_dataset() -> Dataset:
    """Training features around mean 5 / std 2; validation and test shifted by +100 and -100."""
    generator = torch.Generator().manual_seed(0)
    X_train = 5 + 2 * torch.randn(200, 3, generator=generator)
    X_train[:, 2] = 7.0  # a constant feature
    X_val = X_train + 100.0
    X_test = X_train - 100.0
    y = torch.arange(200) % 2
    return Dataset(
        name="shifted",
        X_train=X_train,
        y_train=y,
        X_val=X_val,
        y_val=y,
        X_test=X_test,
        y_test=y,
        n_features=3,
        n_classes=2,
        meta_features={"n_samples": 200.0},
    )


def test_standard_scaling_uses_training_statistics_for_every_split():
    dataset = _shifted_dataset()
    scaled = scale_inputs(dataset, "standard")
    mean = dataset.X_train.mean(dim=0)
    std = dataset.X_train.std(dim=0, unbiased=False)
    assert torch.allclose(scaled.X_train[:, :2].mean(dim=0), torch.zeros(2), atol=1e-5)
    assert torch.allclose(scaled.X_train[:, :2].std(dim=0, unbiased=False), torch.ones(2))
    # the planted shift survives: validation/test were not refitted to their own mean
    expected_val = (dataset.X_val[:, :2] - mean[:2]) / std[:2]
    assert torch.allclose(scaled.X_val[:, :2], expected_val, atol=1e-4)
    assert torch.allclose(scaled.X_val[:, :2].mean(dim=0), 100.0 / std[:2], rtol=1e-3)
    assert torch.allclose(scaled.X_test[:, :2].mean(dim=0), -100.0 / std[:2], rtol=1e-3)


def test_minmax_scaling_uses_the_training_range():
    dataset = _shifted_dataset()
    scaled = scale_inputs(dataset, "minmax")
    low = dataset.X_train.min(dim=0).values
    span = dataset.X_train.max(dim=0).values - low
    assert torch.allclose(scaled.X_train[:, :2].min(dim=0).values, torch.zeros(2))
    assert torch.allclose(scaled.X_train[:, :2].max(dim=0).values, torch.ones(2))
    assert torch.allclose(scaled.X_val[:, :2], (dataset.X_val[:, :2] - low[:2]) / span[:2])
    assert bool((scaled.X_val[:, :2] > 1.0).all()) and bool((scaled.X_test[:, :2] < 0.0).all())


@pytest.mark.parametrize("method", ["standard", "minmax"])
def test_constant_features_stay_finite(method):
    scaled = scale_inputs(_shifted_dataset(), method)
    for X in (scaled.X_train, scaled.X_val, scaled.X_test):
        assert bool(torch.isfinite(X).all())
    assert torch.equal(scaled.X_train[:, 2], torch.zeros(200))
    assert torch.equal(scaled.X_val[:, 2], torch.full((200,), 100.0))


@pytest.mark.parametrize("method", ["standard", "minmax"])
def test_scaling_keeps_everything_but_the_inputs(method):
    dataset = _shifted_dataset()
    scaled = scale_inputs(dataset, method)
    assert scaled is not dataset
    assert scaled.X_train.dtype == torch.float32
    assert torch.equal(scaled.y_val, dataset.y_val)
    assert scaled.meta_features == dataset.meta_features
    assert (scaled.name, scaled.n_features, scaled.n_classes) == ("shifted", 3, 2)
    assert float(dataset.X_val.min()) > 50.0  # the original is untouched


def test_none_returns_the_dataset_itself():
    dataset = _shifted_dataset()
    assert scale_inputs(dataset, "none") is dataset


def test_unknown_method():
    message = "The 'input_scaling' parameter must be one of ['minmax', 'none', 'standard']; got 'x'"
    with pytest.raises(DataError) as error:
        scale_inputs(_shifted_dataset(), "x")
    assert str(error.value) == message


def test_scaling_a_loaded_dataset():
    scaled = scale_inputs(load_dataset("wine"), "standard")
    assert np.allclose(scaled.X_train.mean(dim=0).numpy(), 0.0, atol=1e-5)
    assert abs(float(scaled.X_val.mean())) < 0.5
