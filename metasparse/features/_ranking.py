"""Input features ranked by the neuron strength of the first sparsified layer (QuickSelection)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from metasparse.errors import ConfigError
from metasparse.train import Trained


@dataclass(frozen=True)
class Ranking:
    """One importance score per input feature; higher is more important."""

    scores: np.ndarray

    @property
    def order(self) -> np.ndarray:
        """Feature indices, most important first (ties keep the lower index first)."""
        return np.argsort(-self.scores, kind="stable")

    def top(self, k: int) -> np.ndarray:
        """The indices of the k most important features."""
        check_k(k, len(self.scores))
        return self.order[:k]


def check_k(k: int, n_features: int) -> None:
    """Refuse a number of selected features outside 1..n_features."""
    if not isinstance(k, int | np.integer) or not 1 <= k <= n_features:
        raise ConfigError(f"The 'k' parameter must be an integer in 1..{n_features}; "
                          f"got {k!r}")


def rank_features(trained: Trained) -> Ranking:
    """Score each input feature by the sum of |w| over its active connections in the first
    sparsified layer (the strength of its input neuron, as QuickSelection does)."""
    layer = trained.topology.layers[0]
    weight = _dense_weight(layer)
    n_features = trained.data.n_features
    if weight.dim() != 2 or weight.shape[1] != n_features:
        raise ConfigError(f"feature ranking needs a first layer that reads the {n_features} "
                          f"input features; layer {layer.name!r} has shape "
                          f"{tuple(weight.shape)} (use an MLP)")
    return Ranking(weight.abs().sum(dim=0).cpu().double().numpy())


@torch.no_grad()
def _dense_weight(layer) -> torch.Tensor:
    """The layer's weight with zeros where inactive, on either execution path."""
    if hasattr(layer, "linear"):  # the sparse path stores only the active weights
        return layer.linear.to_dense()
    return (layer.weight * layer.mask).detach()
