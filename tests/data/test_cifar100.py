"""CIFAR-100 from its python files (the 100 fine classes), as the official archive holds them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from metasparse.data import available_datasets, load_dataset
from metasparse.errors import DataError


def test_cifar100_reads_the_fine_labels_and_keeps_the_official_test_split(data_dir, writers):
    files = writers.cifar100(data_dir / "cifar-100-python", n_train=200, n_test=100)
    assert "cifar100" in available_datasets()
    dataset = load_dataset("cifar-100")
    assert dataset.image_shape == (3, 32, 32)
    assert (dataset.n_features, dataset.n_classes) == (3072, 100)
    test_data, test_labels = files["test"]
    assert torch.equal(dataset.X_test, torch.from_numpy(test_data.astype(np.float32)))
    assert dataset.y_test.tolist() == test_labels.tolist()
    assert len(dataset.y_train) + len(dataset.y_val) == 200


def test_cifar100_without_its_test_file_is_not_there(data_dir, writers):
    writers.cifar100(data_dir / "cifar-100-python")
    (data_dir / "cifar-100-python" / "test").unlink()
    assert "cifar100" not in available_datasets()
    with pytest.raises(DataError, match="cifar-100-python"):
        load_dataset("cifar100")
