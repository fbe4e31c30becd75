"""How an update moves the budget of active weights between layers, beyond each layer's share of
the scheduled density (`Topology.targets`): GraNet's global ranking and SNFS's redistribution.
Both read one value per active weight of a layer, whatever the path stores (`Topology` passes
its path's readers)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch


def global_targets(current: list[int], total: int, dense: list[bool],
                   magnitudes: Callable[[int], torch.Tensor]) -> list[int]:
    """prune_scope 'global' (GraNet): the `current` counts less the globally smallest |w| of the
    layers not `dense` (`magnitudes(i)`: |w| of layer i's active weights), so that the layers
    hold `total` in all (no change where they hold no more already)."""
    excess = sum(current) - total
    ranked = [i for i, d in enumerate(dense) if not d]
    if excess <= 0 or not ranked:
        return current
    values = [magnitudes(i) for i in ranked]
    owner = torch.cat([torch.full((v.numel(),), j) for j, v in enumerate(values)])
    lowest = torch.topk(torch.cat(values).float(), excess, largest=False).indices
    removed = torch.bincount(owner[lowest.cpu()], minlength=len(ranked)).tolist()
    current = list(current)
    for i, r in zip(ranked, removed, strict=True):
        current[i] -= r
    return current


def redistribute(targets: list[int], grows: list[int], shapes: Sequence[Sequence[int]],
                 momentum: Callable[[int], torch.Tensor | None]
                 ) -> tuple[list[int], list[int]]:
    """redistribution 'momentum' (SNFS): every sparse layer prunes what it would, and the
    regrowth, their sum, is shared among them in proportion to the mean |momentum| of their
    active weights (`momentum(i)`, None without an optimizer's momentum: nothing moves; largest
    remainders; a layer's share capped at its free positions, the excess shared again), so the
    layers' budgets move towards those that learn."""
    sparse = [i for i, (t, s) in enumerate(zip(targets, shapes, strict=True))
              if t < math.prod(s)]
    momenta = [momentum(i) for i in sparse]
    if not sparse or any(m is None for m in momenta):
        return targets, grows
    weight = torch.stack([m.abs().mean() for m in momenta]).double().cpu()
    free = torch.tensor([math.prod(shapes[i]) - targets[i] + grows[i] for i in sparse])
    share = torch.zeros(len(sparse), dtype=torch.long)
    left = sum(grows[i] for i in sparse)
    open_ = free > 0
    while left > 0 and open_.any() and weight[open_].sum() > 0:
        w = torch.where(open_, weight, 0.0)
        raw = left * w / w.sum()
        add = raw.floor().long()
        rest = left - int(add.sum())
        add[(raw - add).argsort(descending=True, stable=True)[:rest]] += 1
        add = torch.minimum(add, free - share)
        share += add
        left -= int(add.sum())
        open_ = share < free
    targets, grows = list(targets), list(grows)
    for j, i in enumerate(sparse):
        targets[i] += int(share[j]) - grows[i]
        grows[i] = int(share[j])
    return targets, grows
