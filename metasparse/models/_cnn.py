"""The convolutional family, for image-shaped data."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from metasparse.models._activations import make_activation
from metasparse.models._norm import make_norm

__all__ = ["CNN"]


class CNN(nn.Module):
    """Per channel count: 3x3 conv → normalization → activation → 2x2 max pool; then a head.

    The pool is left out once the feature map is smaller than 2 pixels on a side. The head is
    global average pooling → dropout → linear classifier. Inputs are flat (N, C*H*W) rows,
    reshaped to `image_shape` (channels, height, width). Convolutions keep no bias under batch
    normalization, whose shift makes it redundant.
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        channels: Sequence[int],
        n_classes: int,
        *,
        activation: str,
        normalization: str,
        dropout: float,
    ) -> None:
        super().__init__()
        self.image_shape = tuple(image_shape)
        in_channels, height, width = image_shape
        blocks = []
        for index, out_channels in enumerate(channels, start=1):
            pool = min(height, width) >= 2
            blocks.append(
                _conv_block(in_channels, out_channels, index, activation, normalization, pool)
            )
            if pool:
                height, width = height // 2, width // 2
            in_channels = out_channels
        self.features = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.classifier = nn.Linear(in_channels, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x.reshape(x.shape[0], *self.image_shape))
        return self.classifier(self.dropout(torch.flatten(self.pool(x), 1)))


def _conv_block(
    in_channels: int,
    out_channels: int,
    index: int,
    activation: str,
    normalization: str,
    pool: bool,
) -> nn.Sequential:
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    layers["conv"] = nn.Conv2d(
        in_channels, out_channels, kernel_size=3, padding=1, bias=normalization != "batch"
    )
    norm = make_norm(normalization, out_channels, spatial=True)
    if norm is not None:
        layers["norm"] = norm
    layers["activation"] = make_activation(activation, out_channels, index)
    if pool:
        layers["pool"] = nn.MaxPool2d(2)
    return nn.Sequential(layers)
