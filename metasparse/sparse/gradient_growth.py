"""RigL's growth on the `sparse` path: the k inactive positions of highest |dense gradient|,
exactly, without ranking every inactive position.

The dense gradient of a layer is grad_out^T @ x summed over the (x, grad_out) pairs that the
update step's backward pass captured. `top_gradient` computes it one block of output rows at a
time (peak memory: one block), and keeps from each block only the inactive positions whose
|gradient| reaches a threshold `lo` below the k-th highest: one comparison and one `nonzero`
per block instead of a top-k over millions of positions (the costliest part of an update before).
The threshold (selection.bracket's lower bound, as selection's top-k takes it) comes from a
sample of a few thousand inactive positions, whose gradients are dot
products of captured columns (no block needed), drawn from a private generator seeded by the
layer's shape and k: the topology's random stream is not touched, and a seed gives one result.

Exact: where at least k positions reach `lo`, the top k of those is a top k of all (a position
below `lo` is below k others). Where the sample misjudged (fewer than k reach `lo`), or the
threshold is not positive (a tie at zero would be broken otherwise than a full top-k breaks it),
it returns None and the caller ranks every position (compressed.py's block-wise top-k).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from metasparse.sparse.selection import SAMPLE, bracket


def gradient_rows(captured: Sequence[tuple[torch.Tensor, torch.Tensor]], start: int,
                  stop: int) -> torch.Tensor:
    """Rows start:stop of the dense weight gradient: the sum of grad_out^T x over the captured
    (x, grad_out) pairs (one per use of the layer: an LSTM's recurrent matrix is used once per
    time step), summed in capture order. A new tensor, which the caller may change in place."""
    (x, grad_out), *rest = captured
    block = grad_out[:, start:stop].t() @ x
    for x, grad_out in rest:  # in place: no copy of the sum per use
        block += grad_out[:, start:stop].t() @ x
    return block


def gradient_at(captured: Sequence[tuple[torch.Tensor, torch.Tensor]], rows: torch.Tensor,
                cols: torch.Tensor) -> torch.Tensor:
    """The dense weight gradient at the positions (rows[i], cols[i]) only."""
    return sum((grad_out.index_select(1, rows) * x.index_select(1, cols)).sum(0)
               for x, grad_out in captured)


def threshold(captured: Sequence[tuple[torch.Tensor, torch.Tensor]], kept: torch.Tensor,
              shape: tuple[int, int], k: int,
              rows_out: torch.Tensor | None = None) -> float | None:
    """A value a little below the k-th highest |gradient| among the positions not in `kept`
    (sorted flat positions) nor in the rows `rows_out` (see `top_gradient`), estimated from a
    sample; None where k is too large a share of them for a sample to tell, or the layer too
    small for a threshold to pay (under 16 x SAMPLE inactive positions: ranking them all is
    cheap)."""
    n_out, n_in = shape
    size = n_out * n_in
    n_free = size - kept.numel() - (0 if rows_out is None else int(rows_out.sum()) * n_in)
    if k <= 0 or n_free <= 16 * SAMPLE or 4 * k > n_free:
        return None
    device = kept.device
    generator = torch.Generator(device=device).manual_seed(size * 1_000_003 + k)
    draws = torch.randint(size, (int(SAMPLE * size / n_free) + 64,), generator=generator,
                          device=device)
    if kept.numel():
        at = torch.searchsorted(kept, draws).clamp_max(kept.numel() - 1)
        draws = draws[kept[at] != draws]
    if rows_out is not None:
        draws = draws[~rows_out[draws // n_in]]
    sample = gradient_at(captured, draws // n_in, draws % n_in).abs()
    bounds = bracket(sample, k / n_free)
    return None if bounds is None else float(bounds[0])


def top_gradient(captured: Sequence[tuple[torch.Tensor, torch.Tensor]], kept: torch.Tensor,
                 shape: tuple[int, int], k: int, block_elements: int,
                 rows_out: torch.Tensor | None = None) -> torch.Tensor | None:
    """Flat positions (unordered) of k positions not in `kept` (sorted flat positions) of
    highest |dense gradient|, the same set as a top-k over every inactive position up to ties;
    None where the caller must rank every position (see the module docstring). `rows_out`
    (bool per output row, disjoint from `kept`'s rows) excludes whole rows besides: Chase's
    removed units, without a position list of their size."""
    lo = threshold(captured, kept, shape, k, rows_out)
    if lo is None or not lo > 0.0:
        return None
    n_out, n_in = shape
    block_rows = max(1, block_elements // n_in)
    starts = torch.arange(0, n_out + block_rows, block_rows, device=kept.device)
    bounds = torch.searchsorted(kept, starts.clamp_max(n_out) * n_in).tolist()
    found: list[torch.Tensor] = []
    scores: list[torch.Tensor] = []
    n_found = 0
    for b, start in enumerate(range(0, n_out, block_rows)):
        stop = min(n_out, start + block_rows)
        block = gradient_rows(captured, start, stop).abs_().view(-1)
        block.index_fill_(0, kept[bounds[b]:bounds[b + 1]] - start * n_in, -1.0)
        if rows_out is not None:
            block.view(stop - start, n_in)[rows_out[start:stop]] = -1.0
        hit = (block >= lo).nonzero().squeeze(1)
        found.append(hit + start * n_in)
        scores.append(block[hit])
        n_found += hit.numel()
    if n_found < k:
        return None
    flat, score = torch.cat(found), torch.cat(scores)
    return flat[torch.topk(score, k, sorted=False).indices]
