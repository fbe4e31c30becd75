"""Building a model from a configuration: one registered builder per value of 'model'."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from metasparse._registry import Registry
from metasparse.errors import ConfigError
from metasparse.models._activations import ACTIVATIONS
from metasparse.models._cnn import CNN
from metasparse.models._config import (
    ImageShape,
    check_image_shape,
    check_positive,
    parse_dropout,
    parse_sizes,
    require,
)
from metasparse.models._lstm import LSTMClassifier
from metasparse.models._mlp import MLP
from metasparse.models._norm import NORMALIZATIONS
from metasparse.models._vision import VGG16, ResNet, WideResNet

__all__ = ["MODELS", "VISION_MODELS", "build_model", "materialize"]

ModelBuilder = Callable[[Mapping[str, Any], int, int, ImageShape | None], nn.Module]

MODELS: Registry[ModelBuilder] = Registry("model")


def build_model(
    config: Mapping[str, Any],
    n_features: int,
    n_classes: int,
    image_shape: Sequence[int] | None = None,
) -> nn.Module:
    """The model that `config` describes, for flat (N, n_features) float inputs.

    Keys read: 'model' (a name in MODELS), 'hidden_sizes' (mlp, lstm) or 'channels' (cnn) as
    comma-separated ints, 'activation', 'normalization' and 'dropout'; other keys are ignored.
    A configuration without 'normalization' or 'dropout' gets none. `image_shape` is the
    (channels, height, width) of image data, whose rows are flattened in that order.

    Raises ConfigError (one line naming the parameter) for a missing or invalid value, and
    DataError for an image shape that does not match `n_features`.
    """
    n_features = check_positive("n_features", n_features)
    n_classes = check_positive("n_classes", n_classes)
    shape = check_image_shape(image_shape, n_features)
    builder = MODELS[require(config, "model")]
    # Looking the names up raises the ConfigError that lists the valid ones.
    ACTIVATIONS[require(config, "activation")]
    NORMALIZATIONS[config.get("normalization", "none")]
    return builder(config, n_features, n_classes, shape)


def materialize(model: nn.Module, device: torch.device) -> None:
    """Allocate on `device` and initialise every module of a model built on the meta device
    whose own tensors are still there (the modules that a sparse path did not replace).

    A model too wide to exist densely is built on the meta device, its sparsified layers are
    replaced by sparse ones, and the rest (normalization, learnable activations, biases of
    layers kept dense) is made real here.
    """
    for name, module in model.named_modules():
        tensors = [*module.parameters(recurse=False), *module.buffers(recurse=False)]
        if not any(t.is_meta for t in tensors):
            continue
        if not hasattr(module, "reset_parameters"):
            raise TypeError(f"{name or 'the model'} ({type(module).__name__}) has no "
                            "reset_parameters to initialise it off the meta device")
        module.to_empty(device=device, recurse=False)
        module.reset_parameters()


def _common(config: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "activation": config["activation"],
        "normalization": config.get("normalization", "none"),
        "dropout": parse_dropout(config),
    }


@MODELS.register("mlp")
def _build_mlp(
    config: Mapping[str, Any], n_features: int, n_classes: int, image_shape: ImageShape | None
) -> nn.Module:
    return MLP(n_features, parse_sizes(config, "hidden_sizes"), n_classes, **_common(config))


def _image(name: str, image_shape: ImageShape | None, n_features: int) -> ImageShape:
    if image_shape is None:
        raise ConfigError(
            f"The {name!r} model needs image-shaped data (a dataset with an image shape); "
            f"got a tabular dataset with {n_features} features"
        )
    return image_shape


@MODELS.register("cnn")
def _build_cnn(
    config: Mapping[str, Any], n_features: int, n_classes: int, image_shape: ImageShape | None
) -> nn.Module:
    return CNN(_image("cnn", image_shape, n_features), parse_sizes(config, "channels"),
               n_classes, **_common(config))


# The literature's CIFAR networks (_vision.py): their own batch normalization, no dropout.
VISION_MODELS: dict[str, Callable[[ImageShape, int, str], nn.Module]] = {
    "resnet18": lambda shape, n, act: ResNet(shape, 18, n, activation=act),
    "resnet50": lambda shape, n, act: ResNet(shape, 50, n, activation=act),
    "vgg16": lambda shape, n, act: VGG16(shape, n, activation=act),
    "wrn28_10": lambda shape, n, act: WideResNet(shape, 28, 10, n, activation=act),
}


def _vision_builder(name: str) -> ModelBuilder:
    def build(config: Mapping[str, Any], n_features: int, n_classes: int,
              image_shape: ImageShape | None) -> nn.Module:
        return VISION_MODELS[name](_image(name, image_shape, n_features), n_classes,
                                   config["activation"])

    return build


for _name in VISION_MODELS:
    MODELS.register(_name)(_vision_builder(_name))


@MODELS.register("lstm")
def _build_lstm(
    config: Mapping[str, Any], n_features: int, n_classes: int, image_shape: ImageShape | None
) -> nn.Module:
    return LSTMClassifier(
        n_features,
        parse_sizes(config, "hidden_sizes"),
        n_classes,
        image_shape=image_shape,
        **_common(config),
    )
