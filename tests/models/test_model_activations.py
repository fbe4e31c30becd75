"""Activations: the registry, SReLU, All-ReLU and the init gains."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from metasparse.errors import ConfigError
from metasparse.models import (
    ACTIVATIONS,
    ALL_RELU_ALPHA,
    AllReLU,
    SReLU,
    activation_gain,
    make_activation,
)

SPACE_ACTIVATIONS = [
    "relu",
    "leaky_relu",
    "gelu",
    "silu",
    "tanh",
    "sigmoid",
    "srelu",
    "all_relu",
]


def test_registry_holds_exactly_the_space_values():
    assert sorted(ACTIVATIONS.names()) == sorted(SPACE_ACTIVATIONS)


@pytest.mark.parametrize("name", SPACE_ACTIVATIONS)
def test_every_activation_keeps_the_shape(name):
    module = make_activation(name, num_features=3, layer_index=1)
    assert isinstance(module, nn.Module)
    for shape in [(4, 3), (4, 3, 5, 2)]:
        assert module(torch.randn(shape)).shape == shape


def test_unknown_activation_lists_the_valid_names():
    with pytest.raises(ConfigError) as info:
        make_activation("swish", 3, 1)
    message = str(info.value)
    assert "'activation'" in message and "'swish'" in message
    assert "\n" not in message
    for name in SPACE_ACTIVATIONS:
        assert repr(name) in message


def test_leaky_relu_slope():
    module = make_activation("leaky_relu", 2, 1)
    torch.testing.assert_close(module(torch.tensor([[-1.0, 2.0]])), torch.tensor([[-0.01, 2.0]]))


def _srelu(t_l: float, a_l: float, t_r: float, a_r: float) -> SReLU:
    return SReLU(2, t_left=t_l, a_left=a_l, t_right=t_r, a_right=a_r)


def test_srelu_matches_its_piecewise_definition():
    module = _srelu(t_l=-1.0, a_l=0.1, t_r=2.0, a_r=0.5)
    x = torch.tensor([[-3.0, -1.0], [0.5, 2.0], [4.0, 1.999]])
    expected = torch.tensor(
        [
            [-1.0 + 0.1 * (-3.0 + 1.0), -1.0],  # left piece; x == t_l is on it
            [0.5, 2.0],  # identity; x == t_r is on the right piece, which equals t_r there
            [2.0 + 0.5 * (4.0 - 2.0), 1.999],
        ]
    )
    torch.testing.assert_close(module(x), expected)


def test_srelu_parameters_are_per_feature_on_images():
    module = SReLU(2)
    with torch.no_grad():
        module.t_right.copy_(torch.tensor([1.0, 10.0]))
        module.a_right.fill_(0.0)
    x = torch.full((1, 2, 2, 2), 5.0)
    y = module(x)
    assert torch.all(y[:, 0] == 1.0)  # clipped at channel 0's t_r
    assert torch.all(y[:, 1] == 5.0)  # below channel 1's t_r


def test_srelu_initial_function_is_a_leaky_relu():
    module = SReLU(3)
    x = torch.tensor([[-2.0, 0.5, 3.0]])
    torch.testing.assert_close(module(x), torch.tensor([[-0.4, 0.5, 3.0]]))


def test_srelu_parameters_get_gradients():
    module = _srelu(t_l=-1.0, a_l=0.1, t_r=1.0, a_r=0.5)
    x = torch.tensor([[-3.0, 3.0], [-2.0, 2.0]])
    module(x).sum().backward()
    # d/dt_l = 1 - a_l and d/da_l = x - t_l on the left piece; likewise on the right.
    torch.testing.assert_close(module.t_left.grad, torch.tensor([2 * 0.9, 0.0]))
    torch.testing.assert_close(module.a_left.grad, torch.tensor([-2.0 + -1.0, 0.0]))
    torch.testing.assert_close(module.t_right.grad, torch.tensor([0.0, 2 * 0.5]))
    torch.testing.assert_close(module.a_right.grad, torch.tensor([0.0, 2.0 + 1.0]))


@pytest.mark.parametrize("layer_index", [1, 3, 5])
def test_all_relu_on_odd_layers_flips_negative_inputs(layer_index):
    module = make_activation("all_relu", 2, layer_index)
    y = module(torch.tensor([[-2.0, 3.0]]))
    torch.testing.assert_close(y, torch.tensor([[2.0 * ALL_RELU_ALPHA, 3.0]]))


@pytest.mark.parametrize("layer_index", [2, 4])
def test_all_relu_on_even_layers_is_leaky(layer_index):
    module = make_activation("all_relu", 2, layer_index)
    y = module(torch.tensor([[-2.0, 3.0]]))
    torch.testing.assert_close(y, torch.tensor([[-2.0 * ALL_RELU_ALPHA, 3.0]]))


def test_all_relu_gradient_on_the_negative_side():
    x = torch.tensor([-1.0, 2.0], requires_grad=True)
    AllReLU(layer_index=1)(x).sum().backward()
    torch.testing.assert_close(x.grad, torch.tensor([-ALL_RELU_ALPHA, 1.0]))


def test_gains():
    assert activation_gain("relu") == pytest.approx(math.sqrt(2))
    assert activation_gain("tanh") == pytest.approx(5 / 3)
    assert activation_gain("sigmoid") == 1.0
    assert activation_gain("linear") == 1.0
    assert activation_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01**2)))
    for name in ["gelu", "silu", "srelu", "all_relu"]:
        assert activation_gain(name) == activation_gain("relu")


def test_gain_of_unknown_activation():
    with pytest.raises(ConfigError, match="'activation'"):
        activation_gain("swish")
