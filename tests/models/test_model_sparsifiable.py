"""sparsifiable_parameters: which weights dynamic sparse training masks, and in what order."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from metasparse.models import build_model, sparsifiable_parameters

IMAGE_SHAPE = (3, 4, 4)
N_FEATURES = 48
N_CLASSES = 5


def _build(model: str, normalization: str = "batch", activation: str = "srelu") -> nn.Module:
    config = {
        "model": model,
        "hidden_sizes": "9,8,7",
        "channels": "4,6",
        "activation": activation,
        "normalization": normalization,
        "dropout": 0.2,
    }
    return build_model(config, N_FEATURES, N_CLASSES, IMAGE_SHAPE)


@pytest.mark.parametrize("normalization", ["none", "batch", "layer"])
def test_mlp(normalization):
    pairs = sparsifiable_parameters(_build("mlp", normalization))
    shapes = [tuple(p.shape) for _, p in pairs]
    assert shapes == [(9, N_FEATURES), (8, 9), (7, 8), (N_CLASSES, 7)]
    assert all(name.endswith(".weight") for name, _ in pairs)


def test_cnn():
    net = _build("cnn", "layer")
    shapes = [tuple(p.shape) for _, p in sparsifiable_parameters(net)]
    assert shapes == [(4, 3, 3, 3), (6, 4, 3, 3), (N_CLASSES, 6)]


def test_lstm():
    pairs = sparsifiable_parameters(_build("lstm", "layer"))
    kinds = [name.rsplit(".", 1)[-1] for name, _ in pairs]
    assert kinds == ["weight_ih_l0", "weight_hh_l0"] * 3 + ["weight"]
    shapes = [tuple(p.shape) for _, p in pairs]
    assert shapes[0] == (4 * 9, 3 * 4)  # one image row of C*W values per step
    assert shapes[1] == (4 * 9, 9)
    assert shapes[-1] == (N_CLASSES, 7)


@pytest.mark.parametrize("model", ["mlp", "cnn", "lstm"])
def test_names_and_exclusions(model):
    net = _build(model)
    pairs = sparsifiable_parameters(net)
    named = dict(net.named_parameters())
    for name, parameter in pairs:
        assert named[name] is parameter
        assert parameter.dim() >= 2
        assert "bias" not in name
    chosen = {id(p) for _, p in pairs}
    excluded = [
        p
        for m in net.modules()
        if not isinstance(m, nn.Linear | nn.Conv2d | nn.LSTM)
        for p in m.parameters(recurse=False)
    ]
    assert excluded  # srelu and batch-norm parameters exist ...
    assert not any(id(p) in chosen for p in excluded)  # ... and are never sparsified


@pytest.mark.parametrize("model", ["mlp", "cnn", "lstm"])
def test_first_is_the_input_layer_and_last_the_classifier(model):
    net = _build(model)
    pairs = sparsifiable_parameters(net)
    first, last = pairs[0][1], pairs[-1][1]
    first_inputs = {"mlp": N_FEATURES, "cnn": IMAGE_SHAPE[0], "lstm": 3 * 4}[model]
    assert first.shape[1] == first_inputs
    assert last is net.classifier.weight
    assert last.shape == (N_CLASSES, last.shape[1])


def test_other_modules():
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    names = [name for name, _ in sparsifiable_parameters(nn.Sequential(nn.Linear(2, 3), lstm))]
    assert names == [
        "0.weight",
        "1.weight_ih_l0",
        "1.weight_hh_l0",
        "1.weight_ih_l0_reverse",
        "1.weight_hh_l0_reverse",
        "1.weight_ih_l1",
        "1.weight_hh_l1",
        "1.weight_ih_l1_reverse",
        "1.weight_hh_l1_reverse",
    ]
    shared = nn.Linear(2, 2)
    assert len(sparsifiable_parameters(nn.Sequential(shared, shared))) == 1


def test_masking_the_weights_changes_the_output():
    net = _build("mlp", "none", "relu")
    x = torch.randn(2, N_FEATURES)
    before = net(x)
    with torch.no_grad():
        sparsifiable_parameters(net)[0][1].zero_()
    assert not torch.allclose(before, net(x))
