"""The Dataset record: three splits as tensors plus what a model and a meta-learner need to know."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from metasparse.errors import DataError

_SPLITS = ("train", "val", "test")


@dataclass(frozen=True, eq=False)
class Dataset:
    """One classification dataset split into train, validation and test sets.

    X tensors are float32, samples × features, flat even for images (models reshape them with
    `image_shape`, which is (channels, height, width) or None for tabular data). y tensors are
    int64 class labels in 0..n_classes-1. `meta_features` describe the training split only.
    """

    name: str
    X_train: torch.Tensor
    y_train: torch.Tensor
    X_val: torch.Tensor
    y_val: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor
    n_features: int
    n_classes: int
    image_shape: tuple[int, int, int] | None = None
    meta_features: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for split in _SPLITS:
            _check_split(self, split)
        if self.n_classes < 1:
            raise DataError(f"Dataset {self.name!r}: n_classes must be at least 1")
        if self.image_shape is not None and (
            len(self.image_shape) != 3 or math.prod(self.image_shape) != self.n_features
        ):
            raise DataError(
                f"Dataset {self.name!r}: image_shape {self.image_shape} does not hold "
                f"{self.n_features} features"
            )

    def __repr__(self) -> str:
        sizes = "/".join(str(len(getattr(self, f"y_{split}"))) for split in _SPLITS)
        return (
            f"Dataset(name={self.name!r}, train/val/test={sizes}, n_features={self.n_features}, "
            f"n_classes={self.n_classes}, image_shape={self.image_shape})"
        )


def _check_split(dataset: Dataset, split: str) -> None:
    X = getattr(dataset, f"X_{split}")
    y = getattr(dataset, f"y_{split}")
    where = f"Dataset {dataset.name!r}, {split} split"
    if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise DataError(f"{where}: X and y must be torch tensors")
    if X.dtype != torch.float32 or X.dim() != 2 or X.shape[1] != dataset.n_features:
        raise DataError(
            f"{where}: X must be float32 of shape (samples, {dataset.n_features}); "
            f"got {X.dtype} {tuple(X.shape)}"
        )
    if y.dtype != torch.int64 or y.dim() != 1 or len(y) != len(X):
        raise DataError(
            f"{where}: y must be int64 of shape ({len(X)},); got {y.dtype} {tuple(y.shape)}"
        )
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= dataset.n_classes):
        raise DataError(f"{where}: labels must lie in 0..{dataset.n_classes - 1}")
