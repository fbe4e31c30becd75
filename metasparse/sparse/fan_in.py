"""Constant fan-in (SRigL): every output unit of a layer has the same number of active inputs.

The pieces that work per row of a weight seen as (outputs, inputs x kernel): the initial
pattern; growth that brings each row to its fan-in, k - round(r k) of a row's k by the grow
score and the rest uniformly among the row's other inactive positions (the randomness ratio, per
row); and SRigL's neuron ablation, which decides the units that keep a fan-in (`grow_to_fan_in`,
what the sparse path calls with a score of the whole layer). Growth ranks one block of rows
(`BLOCK_ELEMENTS` positions) at a time, by a top-k of the largest count per row: its temporaries
stay one block, and no row is sorted whole.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from metasparse.sparse.csr import BLOCK_ELEMENTS
from metasparse.sparse.selection import select


def row_positions(shape: tuple[int, int], per_row: int,
                  generator: torch.Generator) -> torch.Tensor:
    """Flat positions (ascending) of `per_row` inputs drawn uniformly for each row."""
    keys = torch.rand(shape, generator=generator, device=generator.device)
    per_rows = torch.full((shape[0],), per_row, device=keys.device)
    return _first_in_rows(keys, per_rows).view(-1).nonzero().squeeze(1)


def grow_to_fan_in(score: torch.Tensor | None, mask: torch.Tensor, target: int, n_grow: int,
                   min_salient: float, random_ratio: float,
                   generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """SRigL's growth of a layer after pruning: (alive, grown), the units that keep a fan-in
    (bool per output unit; the others are ablated: all their weights go) and the flat positions
    (ascending) grown.

    `mask` (bool, outputs x inputs) holds the kept connections, `score` the grow score of every
    position (any shape of as many elements; None: a score without preference). With
    `min_salient` > 0 and a score, a unit whose salient weights (kept, or among the n_grow best
    of the whole layer by the score) number fewer than max(1, floor(min_salient x fan-in)) is
    ablated, keeping at least the ceil(target / inputs) most salient units, as many as can hold
    the budget; the budget is shared evenly by the other units (fan-in = target // units), and
    each grows to that fan-in (`grow_rows`).
    """
    n_out, fan = mask.shape
    alive = torch.ones(n_out, dtype=torch.bool, device=mask.device)
    if min_salient > 0 and score is not None:
        alive = _salient_units(score, mask, target, n_grow, min_salient, generator)
    per_row = min(fan, target // int(alive.sum()))
    need = torch.where(alive, per_row - _row_counts(mask), 0).clamp_min(0)
    keys = None if score is None else score.reshape(n_out, fan)
    return alive, grow_rows(keys, ~mask & alive[:, None], need, random_ratio, generator)


def _salient_units(score: torch.Tensor, mask: torch.Tensor, target: int, n_grow: int,
                   min_salient: float, generator: torch.Generator) -> torch.Tensor:
    """The units that SRigL keeps (see `grow_to_fan_in`), bool per output unit."""
    n_out, fan = mask.shape
    salient = mask.clone().view(-1)
    everywhere = torch.ones_like(salient)
    salient[select(score, everywhere, n_grow, 0.0, generator,
                   n_candidates=everywhere.numel())] = True
    counts = _row_counts(salient.view(n_out, fan))
    alive = counts >= max(1, int(min_salient * (target // n_out)))
    least = -(-target // fan)
    if int(alive.sum()) < least:
        alive = torch.zeros_like(alive).index_fill_(
            0, counts.argsort(descending=True, stable=True)[:least], True)
    return alive


def grow_rows(keys: torch.Tensor | None, candidates: torch.Tensor, need: torch.Tensor,
              random_ratio: float, generator: torch.Generator) -> torch.Tensor:
    """Flat positions (ascending) that give row i `need[i]` new connections among its
    `candidates` (bool, outputs x inputs): need - round(r need) of highest `keys` (None: a
    score without preference, all uniform), the rest uniformly among the row's other
    candidates."""
    n_random = torch.round(random_ratio * need.double()).long() if keys is not None else need
    chosen = torch.zeros_like(candidates)
    if keys is not None:
        tiers = None  # a preference (bool keys): its tiers, uniformly within each
        if keys.dtype == torch.bool:
            tiers = 0.5 * torch.rand(keys.shape, generator=generator, device=generator.device,
                                     dtype=torch.float64)
        for rows in _row_blocks(candidates):
            keyed = keys[rows] if tiers is None else keys[rows].to(torch.float64) + tiers[rows]
            chosen[rows] = candidates[rows] & _first_in_rows(
                keyed.masked_fill(~candidates[rows], -torch.inf), need[rows] - n_random[rows])
    if keys is not None and random_ratio == 0:
        return chosen.view(-1).nonzero().squeeze(1)  # no uniform part: no draws
    uniform = torch.rand(candidates.shape, generator=generator, device=generator.device)
    rest = candidates & ~chosen
    for rows in _row_blocks(candidates):
        chosen[rows] |= rest[rows] & _first_in_rows(
            uniform[rows].masked_fill(~rest[rows], -1.0), n_random[rows])
    return chosen.view(-1).nonzero().squeeze(1)


def _row_blocks(matrix: torch.Tensor) -> Iterator[slice]:
    """Slices of `matrix`'s rows, BLOCK_ELEMENTS positions (at least one row) each."""
    step = max(1, BLOCK_ELEMENTS // max(1, matrix.shape[1]))
    return (slice(start, start + step) for start in range(0, matrix.shape[0], step))


def _first_in_rows(keys: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Bool, True at the counts[i] highest keys of row i (ties: the lower column first, as a
    stable sort ranks them): those above the row's counts[i]-th highest key, then the first
    of those equal to it. One top-k of the largest count per row, no sort of whole rows."""
    most = min(int(counts.max()), keys.shape[1]) if counts.numel() else 0
    if most <= 0:
        return torch.zeros(keys.shape, dtype=torch.bool, device=keys.device)
    bound = keys.topk(most, dim=1).values.gather(1, counts.clamp(1, most)[:, None].long() - 1)
    above = keys > bound
    ties = keys == bound
    room = counts - _row_counts(above)
    chosen = above | ties
    crowded = (_row_counts(ties) > room).nonzero().squeeze(1)  # rows with ties to break
    if crowded.numel():
        ties = ties[crowded]
        chosen[crowded] = above[crowded] | (
            ties & (ties.cumsum(dim=1, dtype=torch.int32) <= room[crowded, None].int()))
    return chosen


def _row_counts(matrix: torch.Tensor) -> torch.Tensor:
    """The True entries of each row of a bool matrix (int32: summing bools into int64 costs
    twice as much, and comparing int32 with int64 copies the whole matrix)."""
    return matrix.sum(dim=1, dtype=torch.int32)
