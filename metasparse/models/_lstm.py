"""The recurrent family: an LSTM that reads each sample as a sequence."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from metasparse.models._activations import make_activation
from metasparse.models._norm import make_norm

__all__ = ["LSTMClassifier", "sequence_shape"]


def sequence_shape(n_features: int, image_shape: tuple[int, int, int] | None) -> tuple[int, int]:
    """(steps, step width) in which a flat sample of `n_features` values is read.

    An image (C, H, W) is read row by row: H steps of C*W values. Other data is zero-padded and
    cut into ceil(sqrt(n_features)) steps of equal width.
    """
    if image_shape is not None:
        channels, height, width = image_shape
        return height, channels * width
    steps = math.ceil(math.sqrt(n_features))
    return steps, math.ceil(n_features / steps)


class LSTMClassifier(nn.Module):
    """Stacked single-layer LSTMs, one per hidden size, then a head on the last hidden state.

    Normalization 'layer' puts a LayerNorm after every LSTM (on the whole output sequence
    between LSTMs, on the last hidden state after the last one); 'batch' puts a BatchNorm1d on
    the last hidden state. The head is normalization → activation → dropout → linear classifier.
    """

    def __init__(
        self,
        n_features: int,
        hidden_sizes: Sequence[int],
        n_classes: int,
        *,
        image_shape: tuple[int, int, int] | None,
        activation: str,
        normalization: str,
        dropout: float,
    ) -> None:
        super().__init__()
        self.image_shape = None if image_shape is None else tuple(image_shape)
        self.steps, self.step_width = sequence_shape(n_features, image_shape)
        self.padding = self.steps * self.step_width - n_features
        widths = [self.step_width, *hidden_sizes]
        self.layers = nn.ModuleList(
            _LSTMLayer(widths[i], widths[i + 1], layer_norm=normalization == "layer")
            for i in range(len(hidden_sizes) - 1)
        )
        self.last = nn.LSTM(widths[-2], widths[-1], batch_first=True)
        last_size = widths[-1]
        norm = make_norm(normalization, last_size, spatial=False)
        self.norm = nn.Identity() if norm is None else norm
        self.activation = make_activation(activation, last_size, len(hidden_sizes))
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.classifier = nn.Linear(last_size, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sequence = self._to_sequence(x)
        for layer in self.layers:
            sequence = layer(sequence)
        _, (hidden, _) = self.last(sequence)
        state = self.dropout(self.activation(self.norm(hidden[-1])))
        return self.classifier(state)

    def _to_sequence(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        if self.image_shape is not None:
            images = x.reshape(batch, *self.image_shape)
            return images.permute(0, 2, 1, 3).reshape(batch, self.steps, self.step_width)
        if self.padding:
            x = F.pad(x, (0, self.padding))
        return x.reshape(batch, self.steps, self.step_width)


class _LSTMLayer(nn.Module):
    """One single-layer LSTM that returns its whole output sequence, optionally layer-normed."""

    def __init__(self, input_size: int, hidden_size: int, *, layer_norm: bool) -> None:
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size, batch_first=True)
        self.norm = nn.LayerNorm(hidden_size) if layer_norm else nn.Identity()

    def forward(self, sequence: torch.Tensor) -> torch.Tensor:
        output, _ = self.lstm(sequence)
        return self.norm(output)
