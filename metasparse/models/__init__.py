"""Model families (MLP, CNN, LSTM; ResNet-18/-50, VGG-16, WRN-28-10 for CIFAR) built from a
configuration, and their activations.

`build_model` turns the model parameters of a configuration into an nn.Module whose
weight-bearing layers are plain nn.Linear, nn.Conv2d and nn.LSTM modules;
`sparsifiable_parameters` lists the weights of such a model that dynamic sparse training masks.

To add a model family (tests/models/test_model_build.py::test_a_registered_builder_is_a_model
follows these steps):
1. A builder `(config, n_features, n_classes, image_shape) -> nn.Module`, registered with
   `@MODELS.register("<name>")` in _build.py, whose weights are in nn.Linear, nn.Conv2d or
   nn.LSTM modules (so that the sparsifier finds them) and whose input is flat (N, n_features).
2. The name in spaces/meta.yaml's `model`: among `choices` if searches may sample it, among
   `accepts` if a scenario must fix it (as the CIFAR networks), with a condition line for each
   parameter it reads that others do not (as `channels: {model: cnn}`).
3. tests/space/test_registry_agreement.py then checks that the registry and the space agree;
   test_model_build.py builds every family that is not in VISION_MODELS for every activation and
   normalization, forward and backward.
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
