"""What the sparse execution path refuses, by its one table (metasparse.sparse.compressed.REFUSED):
the trainer's refusal and the search space's read the same reasons."""

from __future__ import annotations

import pytest
from conformance_harness import READERS

from metasparse.space import get_preset
from metasparse.sparse.compressed import REFUSED, sparse_path_refusal


@pytest.mark.parametrize(("key", "value"), sorted(READERS["sparse"].refuses))
def test_each_setting_the_conformance_suite_expects_refused_is_refused_with_its_reason(key,
                                                                                     value):
    message = sparse_path_refusal({**get_preset("rigl"), key: value})
    assert message == f"The {key!r} parameter {value!r} {REFUSED[key][1]}; use execution=masked"


def test_convolutional_models_are_accepted_and_so_is_a_plain_configuration():
    # convolutions run as SparseConv2d (metasparse/sparse/sparse_conv.py, test_sparse_conv.py)
    for model in ("cnn", "resnet18", "vgg16"):
        assert sparse_path_refusal({**get_preset("rigl"), "model": model}) is None
    assert "model" not in REFUSED
    assert sparse_path_refusal(get_preset("rigl")) is None
    assert sparse_path_refusal({}) is None
    assert sparse_path_refusal({"model": "mlp", "fan_in": "free"}) is None
    assert sparse_path_refusal({"fan_in": "constant"}) is None  # SRigL: test_fan_in_sparse.py
    assert sparse_path_refusal({"channel_prune": "umm"}) is None  # Chase: test_chase.py
