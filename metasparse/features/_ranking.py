"""Input features ranked by an importance of a trained network: the neuron strength of its first
sparsified layer (QuickSelection), the attribution of its outputs to its inputs (2024), or the
input-neuron importance that WAST accumulated while training; an ensemble's rankings combined
into one (combine_rankings)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from metasparse._registry import Registry
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


def combine_rankings(rankings: Sequence[Ranking]) -> Ranking:
    """The ranking of an ensemble: the mean over `rankings` (one per network, over the same
    features) of each one's scores divided by their sum, so that every network weighs the same
    whatever the scale of its importance (a network whose scores are all zero counts each
    feature 1 / n). One ranking is returned as it is: dividing by a positive sum keeps its
    order. Importances are non-negative; a negative score is refused (ConfigError)."""
    if not rankings:
        raise ConfigError("combine_rankings needs at least one ranking")
    if len(rankings) == 1:
        return rankings[0]
    n_features = {len(r.scores) for r in rankings}
    if len(n_features) != 1:
        raise ConfigError(f"combined rankings must rank the same features; got "
                          f"{sorted(n_features)} features")
    total = np.zeros(n_features.pop(), dtype=np.float64)
    for ranking in rankings:
        scores = np.asarray(ranking.scores, dtype=np.float64)
        if (scores < 0).any() or not np.isfinite(scores).all():
            raise ConfigError("combine_rankings takes finite non-negative importances")
        norm = scores.sum()
        total += scores / norm if norm > 0 else 1.0 / len(scores)
    return Ranking(total / len(rankings))


IMPORTANCES: Registry[Callable[[Trained, Any], np.ndarray]] = Registry("importance")
ATTRIBUTION_SAMPLES = 256  # training samples that the attribution averages over
_CHUNK_ELEMENTS = 2 ** 22  # input copies x features (or outputs) held at once


def rank_features(trained: Trained, importance: str = "neuron_strength") -> Ranking:
    """Rank the input features of a trained network by `importance`, a name in IMPORTANCES."""
    score = IMPORTANCES[importance]
    first = _first_layer(trained)
    return Ranking(np.asarray(score(trained, first), dtype=np.float64))


def _first_layer(trained: Trained):
    layer = trained.topology.layers[0]
    shape = tuple(layer.shape if hasattr(layer, "linear") else layer.weight.shape)
    n_features = trained.data.n_features
    if len(shape) != 2 or shape[1] != n_features:
        raise ConfigError(f"feature ranking needs a first layer that reads the {n_features} "
                          f"input features; layer {layer.name!r} has shape {shape} (use an MLP)")
    return layer


@IMPORTANCES.register("neuron_strength")
def _neuron_strength(trained: Trained, layer) -> np.ndarray:
    """The sum of |w| over a feature's active connections in the first sparsified layer: the
    strength of its input neuron (QuickSelection)."""
    return _dense_weight(layer).abs().sum(dim=0).cpu().double().numpy()


@IMPORTANCES.register("attribution")
def _attribution(trained: Trained, layer) -> np.ndarray:
    """The mean over training samples of |d output / d feature|, summed over the outputs (the
    output attribution of Atashgahi et al. 2024), on the first ATTRIBUTION_SAMPLES training
    samples, with the network in evaluation mode.

    Each output's gradient is taken on its own copy of the inputs, a chunk of outputs per
    backward pass: plain autograd, so that it runs on either execution path (no vmap)."""
    model = trained.model
    device = next(model.parameters()).device
    x = trained.data.X_train[:ATTRIBUTION_SAMPLES].to(device)
    n, n_features = x.shape
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            n_outputs = model(x[:1]).shape[1]
        chunk = max(1, _CHUNK_ELEMENTS // (n * max(n_features, n_outputs)))
        total = torch.zeros(n_features, dtype=torch.float64, device=device)
        for first in range(0, n_outputs, chunk):
            outputs = torch.arange(first, min(first + chunk, n_outputs), device=device)
            copies = x.repeat(len(outputs), 1).requires_grad_(True)
            picked = model(copies).gather(1, outputs.repeat_interleave(n)[:, None]).sum()
            (grad,) = torch.autograd.grad(picked, copies)
            total += grad.abs().double().sum(dim=0) / n
    finally:
        model.train(was_training)
    return total.cpu().numpy()


@IMPORTANCES.register("wast")
def _wast(trained: Trained, layer) -> np.ndarray:
    """The input-neuron importance that WAST accumulated while training (input_evolution
    'wast', features._evolution): lambda x reconstruction error + (1 - lambda) x strength."""
    from metasparse.features._evolution import FEATURE_SCORES

    scores = FEATURE_SCORES.get(trained.topology)
    if scores is None:
        raise ConfigError("the importance 'wast' ranks a network trained with "
                          "input_evolution='wast' (metasparse.features.fit_evolving)")
    return scores


@torch.no_grad()
def _dense_weight(layer) -> torch.Tensor:
    """The layer's weight with zeros where inactive, on either execution path."""
    if hasattr(layer, "linear"):  # the sparse path stores only the active weights
        return layer.linear.to_dense()
    return (layer.weight * layer.mask).detach()
