"""The multilayer perceptron family."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from metasparse.models._activations import make_activation
from metasparse.models._norm import make_norm

__all__ = ["MLP"]


class MLP(nn.Module):
    """[Linear → normalization → activation → dropout] per hidden size, then a linear classifier.

    Linear layers keep no bias under batch normalization, whose shift makes it redundant.
    """

    def __init__(
        self,
        n_features: int,
        hidden_sizes: Sequence[int],
        n_classes: int,
        *,
        activation: str,
        normalization: str,
        dropout: float,
    ) -> None:
        super().__init__()
        blocks = []
        width = n_features
        for index, size in enumerate(hidden_sizes, start=1):
            blocks.append(_hidden_block(width, size, index, activation, normalization, dropout))
            width = size
        self.hidden = nn.Sequential(*blocks)
        self.classifier = nn.Linear(width, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.hidden(x))


def _hidden_block(
    in_features: int,
    out_features: int,
    index: int,
    activation: str,
    normalization: str,
    dropout: float,
) -> nn.Sequential:
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    layers["linear"] = nn.Linear(in_features, out_features, bias=normalization != "batch")
    norm = make_norm(normalization, out_features, spatial=False)
    if norm is not None:
        layers["norm"] = norm
    layers["activation"] = make_activation(activation, out_features, index)
    if dropout > 0:
        layers["dropout"] = nn.Dropout(dropout)
    return nn.Sequential(layers)
