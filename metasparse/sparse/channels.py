"""Chase (Yin et al. 2023): channel-level sparsity learnt from unstructured DST.

At every `channel_prune_every`-th topology update until `channel_prune_end` of training, each
eligible layer (Conv2d output channels, Linear output units; never the last layer) removes the
units not yet removed with the lowest UMM (unmasked mean magnitude: sum |w| of the unit's
active weights over all its weights), so that the removed fraction follows GMP's cubic ramp to
`channel_prune_ratio`. The removed units' weights are regrown among the layer's other units;
the update itself lives in topology.py, which owns masks and optimizer state.
"""

from __future__ import annotations

import math

import torch


def removed_fraction(step: int, total_steps: int, ratio: float, end: float) -> float:
    """The fraction of a layer's units removed by `step`: ratio x (1 - (1 - t)^3), t the
    progress towards `end` of training (Zhu & Gupta's cubic ramp, as Chase's code uses)."""
    progress = min(1.0, step / max(end * total_steps, 1.0))
    return ratio * (1.0 - (1.0 - progress) ** 3)


def umm(weight: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Each output unit's unmasked mean magnitude: inactive weights count as zeros."""
    return (weight * mask).abs().reshape(weight.shape[0], -1).double().mean(dim=1)


def umm_of_entries(rows: torch.Tensor, values: torch.Tensor, n_units: int,
                   fan: int) -> torch.Tensor:
    """`umm` of a layer stored as its active entries: their output units and values."""
    total = torch.zeros(n_units, dtype=torch.float64, device=values.device)
    return total.index_add_(0, rows, values.abs().double()) / fan


def unit_positions(units: torch.Tensor, fan: int) -> torch.Tensor:
    """The flat positions of whole units (rows of `fan` inputs), ascending for sorted units."""
    return (units[:, None] * fan + torch.arange(fan, device=units.device)).view(-1)


def units_to_remove(scores: torch.Tensor, removed: torch.Tensor, fraction: float,
                    fan: int, target: int) -> torch.Tensor:
    """Indices of the units to remove now: the lowest `scores` among those not `removed`
    (ties: the lower index), so that floor(fraction x units) are removed in all, keeping at
    least the ceil(target / fan) units that can hold the layer's `target` active weights."""
    n_out = removed.numel()
    n_total = min(math.floor(fraction * n_out), n_out - -(-target // fan))
    n_now = max(0, n_total - int(removed.sum()))
    keys = scores.masked_fill(removed, math.inf)
    return keys.argsort(stable=True)[:n_now]
