"""build_model: every model family with every activation and normalization."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from metasparse.errors import ConfigError, DataError
from metasparse.models import ACTIVATIONS, MODELS, NORMALIZATIONS, VISION_MODELS, build_model
from metasparse.sparsifier import find_layers

IMAGE_SHAPE = (2, 6, 5)  # not square, and more than one channel, to catch mixed-up axes
N_FEATURES = 2 * 6 * 5
N_CLASSES = 3


def _config(family: str, **overrides) -> dict:
    config = {
        "model": family,
        "hidden_sizes": "7,5",
        "channels": "4,6",
        "activation": "relu",
        "normalization": "none",
        "dropout": 0.1,
    }
    config.update(overrides)
    return config


# the families whose every activation x normalization is built here (the CIFAR networks, too
# large for that, have test_model_vision.py)
SMALL_MODELS = [name for name in MODELS.names() if name not in VISION_MODELS]


def test_registries_hold_the_space_values():
    assert sorted(MODELS.names()) == ["cnn", "lstm", "mlp", *sorted(VISION_MODELS)]
    assert sorted(NORMALIZATIONS.names()) == ["batch", "layer", "none"]


@pytest.mark.parametrize(
    ("model", "activation", "normalization"),
    list(itertools.product(SMALL_MODELS, ACTIVATIONS.names(), NORMALIZATIONS.names())),
)
def test_forward_and_backward(model, activation, normalization):
    torch.manual_seed(0)
    net = build_model(
        _config(model, activation=activation, normalization=normalization),
        N_FEATURES,
        N_CLASSES,
        IMAGE_SHAPE,
    )
    x = torch.randn(4, N_FEATURES)
    out = net(x)
    assert out.shape == (4, N_CLASSES)
    assert torch.isfinite(out).all()
    out.sum().backward()
    for name, parameter in net.named_parameters():
        assert parameter.grad is not None, name
        assert torch.isfinite(parameter.grad).all(), name
    net.eval()
    assert net(x[:1]).shape == (1, N_CLASSES)


@pytest.mark.parametrize("model", ["mlp", "lstm"])
@pytest.mark.parametrize("n_features", [1, 10, 16])
def test_tabular_models(model, n_features):
    net = build_model(_config(model, normalization="batch"), n_features, N_CLASSES, None)
    assert net(torch.randn(4, n_features)).shape == (4, N_CLASSES)


def test_lstm_reads_image_rows_as_steps():
    net = build_model(_config("lstm", hidden_sizes="5"), N_FEATURES, N_CLASSES, IMAGE_SHAPE)
    assert net.last.input_size == 2 * 5
    x = torch.arange(N_FEATURES, dtype=torch.float32).unsqueeze(0)
    sequence = net._to_sequence(x)
    assert sequence.shape == (1, 6, 10)
    image = x.reshape(1, *IMAGE_SHAPE)
    torch.testing.assert_close(sequence[0, 1], torch.cat([image[0, 0, 1], image[0, 1, 1]]))


def test_lstm_pads_tabular_rows():
    net = build_model(_config("lstm"), 10, N_CLASSES, None)
    sequence = net._to_sequence(torch.ones(2, 10))
    assert sequence.shape == (2, 4, 3)  # ceil(sqrt(10)) steps of ceil(10 / 4) values
    assert sequence.sum().item() == 2 * 10  # two zeros of padding per row


def test_cnn_pools_only_while_the_map_is_large_enough():
    net = build_model(_config("cnn", channels="3,3,3,3"), 4 * 4, N_CLASSES, (1, 4, 4))
    pools = [m for m in net.modules() if isinstance(m, nn.MaxPool2d)]
    assert len(pools) == 2  # 4x4 -> 2x2 -> 1x1, then no more pooling
    assert net(torch.randn(2, 16)).shape == (2, N_CLASSES)


def test_cnn_without_image_shape():
    with pytest.raises(ConfigError) as info:
        build_model(_config("cnn"), 20, N_CLASSES, None)
    assert str(info.value) == (
        "The 'cnn' model needs image-shaped data (a dataset with an image shape); "
        "got a tabular dataset with 20 features"
    )


def test_image_shape_must_match_the_features():
    with pytest.raises(DataError, match="60 values"):
        build_model(_config("mlp"), 61, N_CLASSES, IMAGE_SHAPE)


@pytest.mark.parametrize("value", ["", "10,,5", "10,abc", "0,5", "-3", "1.5", None, True, 2.5])
@pytest.mark.parametrize(("model", "key"), [("mlp", "hidden_sizes"), ("cnn", "channels")])
def test_bad_sizes(model, key, value):
    with pytest.raises(ConfigError) as info:
        build_model(_config(model, **{key: value}), N_FEATURES, N_CLASSES, IMAGE_SHAPE)
    assert repr(key) in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("value", ["1000, 20", 7, [7, 5], (7,)])
def test_accepted_sizes(value):
    net = build_model(_config("mlp", hidden_sizes=value), 4, N_CLASSES, None)
    assert net(torch.randn(2, 4)).shape == (2, N_CLASSES)


def test_unknown_activation_lists_the_valid_names():
    with pytest.raises(ConfigError) as info:
        build_model(_config("mlp", activation="swish"), 4, N_CLASSES, None)
    for name in ACTIVATIONS.names():
        assert repr(name) in str(info.value)


@pytest.mark.parametrize(
    ("key", "value"), [("model", "resnet"), ("normalization", "group"), ("dropout", 1.0)]
)
def test_bad_choices_name_their_parameter(key, value):
    with pytest.raises(ConfigError, match=repr(key)):
        build_model(_config("mlp", **{key: value}), 4, N_CLASSES, None)


def test_missing_parameter_is_named():
    config = _config("mlp")
    del config["hidden_sizes"]
    with pytest.raises(ConfigError, match="'hidden_sizes'"):
        build_model(config, 4, N_CLASSES, None)


def test_normalization_and_dropout_may_be_absent():
    net = build_model({"model": "mlp", "hidden_sizes": "5", "activation": "tanh"}, 4, 2)
    assert not any(isinstance(m, nn.Dropout | nn.BatchNorm1d) for m in net.modules())


def test_batch_norm_drops_the_redundant_bias():
    net = build_model(_config("mlp", normalization="batch"), 4, N_CLASSES, None)
    assert net.hidden[0].linear.bias is None
    assert net.classifier.bias is not None


@pytest.mark.parametrize("model", ["mlp", "cnn", "lstm"])
def test_same_seed_same_initial_parameters(model):
    config = _config(model, activation="srelu", normalization="layer")
    states = []
    for seed in [7, 7, 8]:
        torch.manual_seed(seed)
        states.append(build_model(config, N_FEATURES, N_CLASSES, IMAGE_SHAPE).state_dict())
    assert states[0].keys() == states[1].keys()
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    assert not all(torch.equal(states[0][k], states[2][k]) for k in states[0])


def test_a_registered_builder_is_a_model():
    # metasparse/models/__init__.py's recipe, step 1: a builder registered under a name is what
    # build_model builds for that name, and the sparsifier finds its weights.
    @MODELS.register("toy")
    def toy(config, n_features, n_classes, image_shape):
        return nn.Sequential(nn.Linear(n_features, 8), nn.ReLU(), nn.Linear(8, n_classes))

    try:
        net = build_model(_config("toy"), N_FEATURES, N_CLASSES, None)
        assert [tuple(w.shape) for _, w in find_layers(net)] == [(8, N_FEATURES), (N_CLASSES, 8)]
    finally:
        MODELS.unregister("toy")
    with pytest.raises(ConfigError, match="The 'model' parameter must be one of"):
        build_model(_config("toy"), N_FEATURES, N_CLASSES, None)
