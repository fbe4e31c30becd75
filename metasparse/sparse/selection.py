"""Choosing positions: top-k by score with a random share, uniform draws, and growth's candidates.

- `select`: the flat indices of k candidates, k(1-r) of highest (or lowest) score and k r
  uniformly at random; what pruning and growth on every execution path choose with.
- `sample_positions`: k positions drawn uniformly among those not excluded, in O(k) memory for
  a large layer (the sparse path never enumerates its inactive positions).
- `GROW_SELECTIONS`: how a grow score becomes the keys whose highest are grown (`top`: the
  score; `multinomial`: a draw in proportion to it).
- `GROW_CANDIDATES`: which inactive positions growth by score looks at (`all`, or GSE's
  `sampled` subset).
"""

from __future__ import annotations

import math

import torch

from metasparse._registry import Registry

ENUMERATE_BELOW = 1 << 22  # layers up to this many positions draw uniform picks by enumeration


def sample_positions(size: int, k: int, generator: torch.Generator,
                     excluded: torch.Tensor | None = None) -> torch.Tensor:
    """k distinct positions of range(size), uniformly among those not in `excluded` (sorted,
    int64), ascending. Small layers enumerate their free positions; large ones draw positions
    at random and reject excluded ones and repeats, in O(k) memory."""
    n_excluded = 0 if excluded is None else excluded.numel()
    free = size - n_excluded
    device = generator.device
    if k > free:
        raise ValueError(f"cannot pick {k} of {free} free positions")
    if k <= 0:
        return torch.empty(0, dtype=torch.long, device=device)
    if size <= ENUMERATE_BELOW or 3 * k > free:
        ok = torch.ones(size, dtype=torch.bool, device=device)
        if n_excluded:
            ok[excluded] = False
        candidates = ok.nonzero().squeeze(1)
        picked = candidates[torch.randperm(candidates.numel(), generator=generator,
                                           device=device)[:k]]
        return picked.sort().values
    drawn = torch.empty(0, dtype=torch.long, device=device)
    while drawn.numel() < k:
        n_draw = int(1.3 * (k - drawn.numel()) * size / free) + 64
        draws = torch.randint(size, (n_draw,), generator=generator, device=device)
        drawn = torch.unique(torch.cat([drawn, draws]))
        if n_excluded:
            at = torch.searchsorted(excluded, drawn).clamp_max(n_excluded - 1)
            drawn = drawn[excluded[at] != drawn]
    picked = drawn[torch.randperm(drawn.numel(), generator=generator, device=device)[:k]]
    return picked.sort().values


def select(scores: torch.Tensor | None, candidates: torch.Tensor, k: int, random_ratio: float,
           generator: torch.Generator, n_candidates: int | None = None,
           lowest: bool = False) -> torch.Tensor:
    """Flat indices of k candidates: k(1-r) of highest (`lowest`: lowest) score, then k r
    uniformly at random.

    `scores=None` (a score without preference) draws all k uniformly; a boolean score is a
    preference without order: its True candidates come first, uniformly drawn, then the others.
    `n_candidates` is `candidates.sum()` when the caller knows it (saves a pass over the layer).
    """
    candidates = candidates.flatten()
    if n_candidates is None:
        n_candidates = int(torch.count_nonzero(candidates))
    if scores is None:
        return _uniform(candidates, n_candidates, k, generator)
    k_random = round(random_ratio * k)
    if scores.dtype == torch.bool:
        preferred = ~scores.flatten() if lowest else scores.flatten()
        chosen = _preferred(preferred, candidates, k - k_random, generator)
    else:
        chosen = _top(scores.flatten(), candidates, n_candidates, k - k_random, generator,
                      lowest)
    if k_random:
        remaining = candidates.index_fill(0, chosen, False)
        extra = _uniform(remaining, n_candidates - chosen.numel(), k_random, generator)
        chosen = torch.cat([chosen, extra])
    return chosen


def merge_sorted(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The ascending union of two ascending 1-D tensors (repeats kept), without a sort: each
    element's place is its index plus how many of the other tensor precede it."""
    merged = a.new_empty(a.numel() + b.numel())
    merged[torch.arange(a.numel(), device=a.device) + torch.searchsorted(b, a)] = a
    merged[torch.arange(b.numel(), device=b.device) + torch.searchsorted(a, b, right=True)] = b
    return merged


SAMPLE = 8192  # candidate scores sampled to estimate the k-th highest
MARGIN_SE = 4.0  # how many standard errors the estimate's bracket spans on either side


def _top(scores: torch.Tensor, candidates: torch.Tensor, n_candidates: int, k: int,
         generator: torch.Generator, lowest: bool = False) -> torch.Tensor:
    """Flat indices of the k highest-scoring (`lowest`: lowest) candidates, the same set as a
    masked topk.

    A topk over a whole layer is most of an update's cost, so the k-th highest score is first
    estimated from a random sample of candidate scores: two thresholds `lo` < `hi` bracket it
    with a margin of 4 standard errors. One pass over the layer keeps the candidates >= lo (about
    k of them); those > hi are in the top k for certain, and a small topk over the band between
    the thresholds picks the rest. Where the estimate misses (rarely) or candidates are too few
    to sample, a topk runs over the candidates. On a 1M-weight layer this is 3-5x faster.
    For `lowest`, the scores are negated: only the few gathered ones, not the whole layer.
    """
    sign = -1.0 if lowest else 1.0
    if k <= 0:
        return torch.empty(0, dtype=torch.long, device=scores.device)
    n = scores.numel()
    if k >= n_candidates:
        return candidates.nonzero().squeeze(1)
    if n_candidates > 4 * SAMPLE:
        draws = torch.randint(n, (SAMPLE * n // n_candidates,), generator=generator,
                              device=generator.device)
        sample = sign * scores[draws[candidates[draws]]]
        bounds = bracket(sample, k / n_candidates)
        if bounds is not None:
            lo, hi = bounds
            above = scores <= -lo if lowest else scores >= lo
            kept = (above & candidates).nonzero().squeeze(1)
            values = sign * scores[kept]
            sure = values > hi
            n_sure = int(torch.count_nonzero(sure))
            if kept.numel() >= k >= n_sure:
                band = (~sure).nonzero().squeeze(1)  # indices: one scan for two gathers
                rest = torch.topk(values[band], k - n_sure, sorted=False).indices
                return torch.cat([kept[sure], kept[band[rest]]])
    if 4 * n_candidates < n:  # few candidates (pruning a sparse layer): gather them first
        idx = candidates.nonzero().squeeze(1)
        return idx[torch.topk(scores[idx], k, largest=not lowest, sorted=False).indices]
    keyed = scores.masked_fill(~candidates, math.inf if lowest else -math.inf)
    return torch.topk(keyed, k, largest=not lowest, sorted=False).indices


def bracket(sample: torch.Tensor, q: float) -> tuple[torch.Tensor, torch.Tensor | float] | None:
    """(lo, hi): two values of `sample`, scores drawn at random from a population, between
    which the population's highest q share ends, with a margin of MARGIN_SE standard errors
    on either side (hi is inf where the margin passes the top); None where the sample is too
    small to place lo."""
    m = max(sample.numel(), 1)
    margin = MARGIN_SE * math.sqrt(q * (1.0 - q) / m) + MARGIN_SE / m
    rank_hi, rank_lo = int(m * (q - margin)), math.ceil(m * (q + margin))
    if rank_lo >= sample.numel():
        return None
    # kthvalue counts from the lowest: the r-th highest of m is the (m - r + 1)-th lowest
    lo = torch.kthvalue(sample, m - rank_lo + 1).values
    hi = torch.kthvalue(sample, m - rank_hi + 1).values if rank_hi > 0 else math.inf
    return lo, hi


def _uniform(candidates: torch.Tensor, n_candidates: int, k: int,
             generator: torch.Generator) -> torch.Tensor:
    """Flat indices of k candidates drawn uniformly without replacement.

    Three ways, each uniform by symmetry, chosen by cost: for few picks, about 1.2 k n /
    n_candidates random positions, the distinct candidates among them, k of those at random (no
    random number per weight); for many picks among many candidates, each candidate kept with a
    probability a little above k / n_candidates and the surplus dropped at random (a random
    permutation of millions of indices costs ten times more); else a random permutation of the
    candidates' indices.
    """
    n = candidates.numel()
    device = generator.device
    if n_candidates <= 0:
        return torch.empty(0, dtype=torch.long, device=candidates.device)
    if 4 * k < n_candidates:
        draws = torch.randint(n, (int(1.2 * k * n / n_candidates) + 64,), generator=generator,
                              device=device)
        drawn = torch.unique(draws[candidates[draws]])
        if drawn.numel() >= k:
            return drawn[torch.randperm(drawn.numel(), generator=generator, device=device)[:k]]
    q = k / n_candidates
    p = q + 5.0 * math.sqrt(q * (1.0 - q) / n_candidates) + 1.0 / n_candidates
    if 8 * n_candidates >= n and p < 1.0:
        kept = (torch.rand(n, generator=generator, device=device) < p) & candidates
        picked = kept.nonzero().squeeze(1)
        surplus = picked.numel() - k
        if surplus >= 0:
            all_picked = torch.ones(picked.numel(), dtype=torch.bool, device=picked.device)
            dropped = _uniform(all_picked, picked.numel(), surplus, generator)
            return picked[all_picked.index_fill_(0, dropped, False)]
    idx = candidates.nonzero().squeeze(1)
    return idx[torch.randperm(idx.numel(), generator=generator, device=device)[:k]]


def _preferred(preferred: torch.Tensor, candidates: torch.Tensor, k: int,
               generator: torch.Generator) -> torch.Tensor:
    """k candidates drawn uniformly, the preferred ones first."""
    first = candidates & preferred
    n_first = int(torch.count_nonzero(first))
    if n_first >= k:
        return _uniform(first, n_first, k, generator)
    rest = candidates & ~preferred
    return torch.cat([first.nonzero().squeeze(1),
                      _uniform(rest, int(torch.count_nonzero(rest)), k - n_first, generator)])


GROW_SELECTIONS: Registry = Registry("grow_selection")  # name -> (score, generator) -> keys
# name -> (size, kept, n, generator) -> the sorted positions growth by score chooses among
GROW_CANDIDATES: Registry = Registry("grow_candidates")


@GROW_SELECTIONS.register("top")
def top_keys(score: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The score itself: growth takes the highest."""
    return score


@GROW_SELECTIONS.register("multinomial")
def multinomial_keys(weights: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Keys whose k highest are a draw of k positions without replacement, each with
    probability proportional to its weight (Gumbel top-k: log w plus standard Gumbel noise).
    Weights are floored at 1e-12, as CHTs' own sampler does, so that positions scoring zero
    come last, uniformly."""
    u = torch.rand(weights.shape, generator=generator, device=generator.device)
    gumbel = -torch.log(-torch.log(u.clamp(1e-30, 1.0 - 1e-7)))
    return weights.clamp_min(1e-12).log() + gumbel.to(weights)


@GROW_CANDIDATES.register("all")
def every_inactive(size: int, kept: torch.Tensor, n: int,
                   generator: torch.Generator) -> torch.Tensor | None:
    """Growth by score sees every inactive position."""
    return None


@GROW_CANDIDATES.register("sampled")
def sampled_inactive(size: int, kept: torch.Tensor, n: int,
                     generator: torch.Generator) -> torch.Tensor | None:
    """GSE: n inactive positions (not in `kept`, sorted) drawn uniformly, ascending."""
    return sample_positions(size, min(n, size - kept.numel()), generator, kept)
