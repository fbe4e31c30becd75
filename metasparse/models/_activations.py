"""Activation functions keyed by the values of the 'activation' axis, with their init gains."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from metasparse._registry import Registry

__all__ = [
    "ACTIVATIONS",
    "ALL_RELU_ALPHA",
    "LEAKY_RELU_SLOPE",
    "ActivationSpec",
    "AllReLU",
    "SReLU",
    "activation_gain",
    "make_activation",
]

LEAKY_RELU_SLOPE = 0.01
# Curci, Mocanu & Pechenizkiy, "Truly Sparse Neural Networks at Scale" (2021) use alpha = 0.6
# for All-ReLU in their experiments and reference code.
ALL_RELU_ALPHA = 0.6


class SReLU(nn.Module):
    """S-shaped ReLU with learnable per-feature thresholds and slopes.

    Jin et al., "Deep Learning with S-shaped Rectified Linear Activation Units", AAAI 2016::

        y = t_r + a_r (x - t_r)   if x >= t_r
        y = x                     if t_l < x < t_r
        y = t_l + a_l (x - t_l)   if x <= t_l

    The parameters have one value per feature and broadcast over dimension 1 of the input, so
    the module works on (N, C) and (N, C, H, W) alike.
    """

    def __init__(
        self,
        num_features: int,
        t_left: float = 0.0,
        a_left: float = 0.2,
        t_right: float = 1.0,
        a_right: float = 1.0,
    ) -> None:
        # Initialization after Jin et al. (2016, Sec. 3.2): t_l = 0, a_l = 0.2, a_r = 1, so the
        # unit starts as a leaky ReLU. The paper sets t_r from a percentile of the first epochs'
        # inputs; a constant t_r = 1 is used instead, which changes nothing at the start because
        # the function does not depend on t_r while a_r = 1.
        super().__init__()
        self.num_features = num_features
        self.initial = {"t_left": t_left, "a_left": a_left, "t_right": t_right,
                        "a_right": a_right}
        for name in self.initial:
            setattr(self, name, nn.Parameter(torch.empty(num_features)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            for name, value in self.initial.items():
                getattr(self, name).fill_(float(value))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = (1, self.num_features) + (1,) * (x.dim() - 2)
        t_l, a_l = self.t_left.view(shape), self.a_left.view(shape)
        t_r, a_r = self.t_right.view(shape), self.a_right.view(shape)
        right = t_r + a_r * (x - t_r)
        left = t_l + a_l * (x - t_l)
        return torch.where(x >= t_r, right, torch.where(x <= t_l, left, x))

    def extra_repr(self) -> str:
        return f"num_features={self.num_features}"


class AllReLU(nn.Module):
    """All-ReLU of Curci, Mocanu & Pechenizkiy (2021): a ReLU whose negative side alternates.

    y = x for x > 0; for x <= 0, y = -alpha * x on odd layer indices and alpha * x on even ones.
    Hidden layers are counted from 1, so the first hidden layer gets -alpha * x as in the
    authors' code (their equation counts the input layer as 1, which shifts the parity).
    """

    def __init__(self, layer_index: int, alpha: float = ALL_RELU_ALPHA) -> None:
        super().__init__()
        self.layer_index = layer_index
        self.alpha = alpha
        self.negative_slope = -alpha if layer_index % 2 == 1 else alpha

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # leaky_relu computes x for x > 0 and slope * x otherwise, also for a negative slope.
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"layer_index={self.layer_index}, negative_slope={self.negative_slope}"


@dataclass(frozen=True)
class ActivationSpec:
    """How to build one activation, and the gain that weight initialization uses for it."""

    build: Callable[[int, int], nn.Module]
    gain: float


ACTIVATIONS: Registry[ActivationSpec] = Registry("activation")

_RELU_GAIN = nn.init.calculate_gain("relu")


def _register(name: str, build: Callable[[int, int], nn.Module], gain: float) -> None:
    ACTIVATIONS.register(name)(ActivationSpec(build, gain))


_register("relu", lambda features, index: nn.ReLU(), _RELU_GAIN)
_register(
    "leaky_relu",
    lambda features, index: nn.LeakyReLU(LEAKY_RELU_SLOPE),
    nn.init.calculate_gain("leaky_relu", LEAKY_RELU_SLOPE),
)
# GELU, SiLU, SReLU (at its init) and All-ReLU pass positive inputs nearly unchanged and damp
# negative ones, like ReLU; PyTorch has no gain for them, and using ReLU's keeps the initial
# scale equal across these activations, so a tuner compares the functions, not init scales.
_register("gelu", lambda features, index: nn.GELU(), _RELU_GAIN)
_register("silu", lambda features, index: nn.SiLU(), _RELU_GAIN)
_register("tanh", lambda features, index: nn.Tanh(), nn.init.calculate_gain("tanh"))
_register("sigmoid", lambda features, index: nn.Sigmoid(), nn.init.calculate_gain("sigmoid"))
_register("srelu", lambda features, index: SReLU(features), _RELU_GAIN)
_register("all_relu", lambda features, index: AllReLU(index), _RELU_GAIN)


def make_activation(name: str, num_features: int, layer_index: int) -> nn.Module:
    """Build the activation `name` for a hidden layer.

    Args:
        name: a value of the 'activation' axis; an unknown one raises ConfigError.
        num_features: width (or channel count) of the layer, for per-feature parameters.
        layer_index: position of the hidden layer, counting from 1 at the input side.
    """
    return ACTIVATIONS[name].build(num_features, layer_index)


def activation_gain(name: str) -> float:
    """The gain (as in torch.nn.init.calculate_gain) for weights that feed activation `name`.

    Besides the activations, 'linear' is accepted for layers that no activation follows.
    """
    if name == "linear":
        return nn.init.calculate_gain("linear")
    return ACTIVATIONS[name].gain
