"""Constant fan-in (SRigL): every output unit of a layer has the same number of active inputs.

The pieces that work per row of a weight seen as (outputs, inputs x kernel): the initial
pattern, and growth that brings each row to its fan-in, k - round(r k) of a row's k by the grow
score and the rest uniformly among the row's other inactive positions (the randomness ratio, per
row). Neuron ablation is decided in topology.py, which owns the update.
"""

from __future__ import annotations

import torch


def row_positions(shape: tuple[int, int], per_row: int,
                  generator: torch.Generator) -> torch.Tensor:
    """Flat positions (ascending) of `per_row` inputs drawn uniformly for each row."""
    picked = _ranks(torch.rand(shape, generator=generator, device=generator.device)) < per_row
    return picked.view(-1).nonzero().squeeze(1)


def grow_rows(keys: torch.Tensor | None, candidates: torch.Tensor, need: torch.Tensor,
              random_ratio: float, generator: torch.Generator) -> torch.Tensor:
    """Flat positions (ascending) that give row i `need[i]` new connections among its
    `candidates` (bool, outputs x inputs): need - round(r need) of highest `keys` (None: a
    score without preference, all uniform), the rest uniformly among the row's other
    candidates."""
    n_random = torch.round(random_ratio * need.double()).long() if keys is not None else need
    chosen = torch.zeros_like(candidates)
    if keys is not None:
        keyed = keys.to(torch.float64)
        if keys.dtype == torch.bool:  # a preference: its tiers, uniformly within each
            keyed = keyed + 0.5 * torch.rand(keys.shape, generator=generator,
                                             device=generator.device, dtype=torch.float64)
        keyed = keyed.masked_fill(~candidates, -torch.inf)
        chosen = candidates & (_ranks(keyed) < (need - n_random)[:, None])
    uniform = torch.rand(candidates.shape, generator=generator, device=generator.device)
    rest = candidates & ~chosen
    chosen |= rest & (_ranks(uniform.masked_fill(~rest, -1.0)) < n_random[:, None])
    return chosen.view(-1).nonzero().squeeze(1)


def _ranks(keys: torch.Tensor) -> torch.Tensor:
    """The rank of every entry within its row, 0 for the highest key."""
    order = keys.argsort(dim=1, descending=True, stable=True)
    ranks = torch.empty_like(order)
    return ranks.scatter_(1, order, torch.arange(keys.shape[1], device=keys.device)
                          .expand_as(order).contiguous())
