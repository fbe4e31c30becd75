"""What an update reads from the forward pass: each layer's inputs and outputs as matrices
(CTRE's cosine growth), captured by forward hooks; also how often a weight is applied per
sample (FLOP counting, `Topology.measure_uses`)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import nn

from metasparse.sparse.recurrent import SparseLSTM


@contextlib.contextmanager
def capture_activations(layers: Sequence[Any]) -> Iterator[None]:
    """Within the context, every forward pass of a layer's `module` sets its `activations`."""
    handles = [layer.module.register_forward_hook(_make_hook(layer)) for layer in layers]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def _make_hook(layer: Any) -> Callable:
    def hook(module: nn.Module, inputs: tuple, output) -> None:
        layer.activations = _as_matrices(module, layer.name, inputs[0].detach(), output)

    return hook


def _as_matrices(module: nn.Module, name: str, x: torch.Tensor, output) -> tuple:
    """(inputs, outputs) of a layer as matrices with one column per input / output unit."""
    if isinstance(module, nn.LSTM | SparseLSTM):
        h = output[0].detach()
        x_in = h if "weight_hh" in name else x
        h = h.reshape(-1, h.shape[-1])
        return x_in.reshape(-1, x_in.shape[-1]), h.repeat(1, 4)
    y = output.detach()
    if y.dim() == 4:  # conv: one row per sample and position
        y = y.permute(0, 2, 3, 1).reshape(-1, y.shape[1])
        x = x.mean(dim=(2, 3)).repeat_interleave(y.shape[0] // x.shape[0], dim=0)
        return x, y
    return x.reshape(-1, x.shape[-1]), y.reshape(-1, y.shape[-1])
