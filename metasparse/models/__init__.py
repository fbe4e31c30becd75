"""Model families (MLP, CNN, LSTM; ResNet-18/-50, VGG-16, WRN-28-10 for CIFAR) built from a
configuration, and their activations.

`build_model` turns the model parameters of a configuration into an nn.Module whose
weight-bearing layers are plain nn.Linear, nn.Conv2d and nn.LSTM modules;
`sparsifiable_parameters` lists the weights of such a model that dynamic sparse training masks.
"""

from __future__ import annotations

from metasparse.models._activations import (
    ACTIVATIONS,
    ALL_RELU_ALPHA,
    LEAKY_RELU_SLOPE,
    ActivationSpec,
    AllReLU,
    SReLU,
    activation_gain,
    make_activation,
)
from metasparse.models._build import MODELS, VISION_MODELS, build_model, materialize
from metasparse.models._cnn import CNN
from metasparse.models._lstm import LSTMClassifier, sequence_shape
from metasparse.models._mlp import MLP
from metasparse.models._norm import NORMALIZATIONS, make_norm
from metasparse.models._sparsifiable import sparsifiable_parameters
from metasparse.models._vision import VGG16, ResNet, WideResNet

__all__ = [
    "ACTIVATIONS",
    "ALL_RELU_ALPHA",
    "CNN",
    "LEAKY_RELU_SLOPE",
    "MLP",
    "MODELS",
    "NORMALIZATIONS",
    "VGG16",
    "VISION_MODELS",
    "ActivationSpec",
    "AllReLU",
    "LSTMClassifier",
    "ResNet",
    "SReLU",
    "WideResNet",
    "activation_gain",
    "build_model",
    "make_activation",
    "make_norm",
    "materialize",
    "sequence_shape",
    "sparsifiable_parameters",
]
