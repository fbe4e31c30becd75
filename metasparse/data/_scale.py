"""Input scaling fitted on the training split and applied to every split."""

from __future__ import annotations

import dataclasses

import torch

from metasparse.data._dataset import Dataset
from metasparse.errors import DataError, invalid_choice

SCALING_METHODS = ("minmax", "none", "standard")


def scale_inputs(dataset: Dataset, method: str) -> Dataset:
    """A copy of `dataset` whose inputs are scaled with statistics of its training split only.

    `standard` centres each feature to mean 0 and scales it to standard deviation 1; `minmax`
    maps each feature's training range to [0, 1]; `none` returns `dataset` itself. Constant
    features are only shifted (their scale is taken as 1). Meta-features stay those of the raw data.
    """
    if method not in SCALING_METHODS:
        raise DataError(invalid_choice("input_scaling", SCALING_METHODS, method))
    if method == "none":
        return dataset
    train = dataset.X_train
    if method == "standard":
        variance, shift = torch.var_mean(train, dim=0, correction=0)
        scale = variance.sqrt()
    else:
        shift = train.min(dim=0).values
        scale = train.max(dim=0).values - shift
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))

    def apply(X: torch.Tensor) -> torch.Tensor:
        return (X - shift) / scale

    return dataclasses.replace(
        dataset,
        X_train=apply(dataset.X_train),
        X_val=apply(dataset.X_val),
        X_test=apply(dataset.X_test),
        meta_features=dict(dataset.meta_features),
    )
