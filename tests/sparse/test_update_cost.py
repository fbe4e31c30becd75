"""RigL's growth on the sparse path by a threshold (metasparse.sparse.gradient_growth): the
same positions as a top-k over the whole dense gradient, whatever the block size, without
touching the topology's random stream; where the threshold misjudges, the caller is told to
rank every position. (Its speed is measured by bench/update_cost.py, not here.)"""

from __future__ import annotations

import math

import pytest
import torch

from metasparse.sparse import gradient_growth
from metasparse.sparse.channels import unit_positions
from metasparse.sparse.gradient_growth import gradient_at, gradient_rows, top_gradient
from metasparse.sparse.selection import MARGIN_SE, SAMPLE


@pytest.fixture(autouse=True)
def _small_sample(monkeypatch):
    """A sample of 1024 (threshold path from 16384 inactive positions): test-sized layers."""
    monkeypatch.setattr(gradient_growth, "SAMPLE", 1024)


def _captured(n_out: int, n_in: int, pairs: int = 1, batch: int = 16, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(batch, n_in, generator=g), torch.randn(batch, n_out, generator=g))
            for _ in range(pairs)]


def _kept(n_out: int, n_in: int, n: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randperm(n_out * n_in, generator=g)[:n].sort().values


def _reference(captured, kept, shape, k) -> set[int]:
    dense = sum(go.t() @ x for x, go in captured).abs().view(-1)
    dense[kept] = -1.0
    return set(torch.topk(dense, k).indices.tolist())


@pytest.mark.parametrize(("shape", "density", "k", "pairs", "block"), [
    ((300, 400), 0.05, 600, 1, 1 << 22),  # one block
    ((300, 400), 0.05, 600, 1, 4000),  # blocks of 10 rows
    ((257, 333), 0.2, 2000, 3, 5000),  # uneven blocks, an LSTM-like sum over three uses
    ((500, 200), 0.01, 50, 2, 7777),  # few picks
])
def test_the_same_positions_as_a_top_k_over_the_whole_gradient(shape, density, k, pairs, block):
    captured = _captured(*shape, pairs=pairs)
    kept = _kept(*shape, int(density * shape[0] * shape[1]))
    top = top_gradient(captured, kept, shape, k, block)
    assert top is not None  # the threshold path ran: no fallback
    assert top.numel() == k == torch.unique(top).numel()
    assert not torch.isin(top, kept).any()
    assert set(top.tolist()) == _reference(captured, kept, shape, k)


def test_it_computes_the_gradient_by_rows_and_at_positions_as_the_dense_product():
    captured = _captured(40, 30, pairs=2)
    dense = sum(go.t() @ x for x, go in captured)
    torch.testing.assert_close(gradient_rows(captured, 5, 17), dense[5:17])
    rows, cols = torch.tensor([0, 39, 7]), torch.tensor([29, 0, 11])
    torch.testing.assert_close(gradient_at(captured, rows, cols), dense[rows, cols])


def test_a_threshold_set_too_high_makes_it_fall_back_and_one_too_low_stays_exact(monkeypatch):
    shape, k = (300, 400), 600
    captured, kept = _captured(*shape), _kept(*shape, 6000)
    monkeypatch.setattr(gradient_growth, "threshold", lambda *args: 1e30)
    assert top_gradient(captured, kept, shape, k, 4000) is None
    monkeypatch.setattr(gradient_growth, "threshold", lambda *args: 0.0)  # a tie at zero
    assert top_gradient(captured, kept, shape, k, 4000) is None
    monkeypatch.setattr(gradient_growth, "threshold", lambda *args: 1e-6)  # nearly everything
    top = top_gradient(captured, kept, shape, k, 4000)
    assert set(top.tolist()) == _reference(captured, kept, shape, k)


def test_small_layers_and_large_shares_are_left_to_the_full_ranking():
    captured = _captured(100, 150)
    kept = _kept(100, 150, 300)
    assert top_gradient(captured, kept, (100, 150), 30, 1 << 22) is None  # too few to sample
    big = _captured(300, 400)
    assert top_gradient(big, _kept(300, 400, 6000), (300, 400), 40000, 1 << 22) is None


def test_the_same_seed_gives_the_same_threshold_and_the_global_stream_is_untouched():
    captured, kept = _captured(300, 400), _kept(300, 400, 6000)
    state = torch.get_rng_state()
    first = gradient_growth.threshold(captured, kept, (300, 400), 600)
    assert torch.equal(torch.get_rng_state(), state)
    assert first == gradient_growth.threshold(captured, kept, (300, 400), 600)
    assert 0.0 < first < max(_reference_values(captured, kept, 600))


def _reference_values(captured, kept, k) -> list[float]:
    dense = sum(go.t() @ x for x, go in captured).abs().view(-1)
    dense[kept] = -1.0
    return torch.topk(dense, k).values.tolist()


def test_rigl_trains_the_same_wide_network_on_both_paths_by_the_threshold(monkeypatch):
    """The execution-equivalence check on layers wide enough for the threshold path (its 64-unit
    networks are ranked whole): the same masks at every update as the masked path's."""
    from test_execution_equivalence import train

    taken = []

    def spy(*args, **kwargs):
        top = top_gradient(*args, **kwargs)
        taken.append(top is not None)
        return top

    monkeypatch.setattr("metasparse.sparse.compressed.top_gradient", spy)
    wide = {"hidden_sizes": "320,320"}
    masked_accuracy, masked_masks = train("rigl", "masked", **wide)
    sparse_accuracy, sparse_masks = train("rigl", "sparse", **wide)
    assert any(taken)
    assert len(sparse_masks) == len(masked_masks) > 0
    for update, (ours, theirs) in enumerate(zip(sparse_masks, masked_masks, strict=True)):
        assert all(torch.equal(a, b) for a, b in zip(ours, theirs, strict=True)), update
    assert sparse_accuracy == pytest.approx(masked_accuracy, abs=0.005)


@pytest.mark.parametrize("density", [0.05, 0.5])
def test_the_threshold_keeps_about_k_candidates_of_the_inactive_positions(density, monkeypatch):
    """The estimate is of the k-th highest among the inactive positions, with the sample's
    margin: at least k of them reach it (else the growth falls back to ranking everything) and
    at most the share q + 2 e (e: the bracket's margin, MARGIN_SE standard errors and MARGIN_SE
    / m for a sample of m), also where half the layer is active. The library's sample size:
    the test-sized one's margin is too wide to tell a misjudged share."""
    monkeypatch.setattr(gradient_growth, "SAMPLE", SAMPLE)
    shape, k = (500, 600), 1500
    captured, kept = _captured(*shape), _kept(*shape, int(density * shape[0] * shape[1]))
    lo = gradient_growth.threshold(captured, kept, shape, k)
    dense = sum(go.t() @ x for x, go in captured).abs().view(-1)
    dense[kept] = -1.0
    n_free, m = shape[0] * shape[1] - kept.numel(), gradient_growth.SAMPLE
    q = k / n_free
    e = MARGIN_SE * math.sqrt(q * (1 - q) / m) + MARGIN_SE / m
    assert k <= int((dense >= lo).sum()) <= n_free * (q + 2 * e)


@pytest.mark.parametrize("block", [1 << 22, 4000])
def test_rows_out_excludes_whole_rows_as_their_positions_would(block):
    """Chase's removed units, given as rows (`rows_out`), exclude what the sorted list of their
    positions excludes: the same threshold (same sample) and the same grown positions."""
    shape, k = (300, 400), 600
    captured, removed = _captured(*shape), torch.zeros(shape[0], dtype=torch.bool)
    removed[::5] = True  # a fifth of the units, as Chase removes up to half
    kept = _kept(*shape, 6000)
    kept = kept[~removed[kept // shape[1]]]  # a removed unit holds no weight
    listed = torch.cat([kept, unit_positions(removed.nonzero().squeeze(1), shape[1])])
    listed = listed.sort().values
    assert gradient_growth.threshold(captured, kept, shape, k, removed) == \
        gradient_growth.threshold(captured, listed, shape, k)
    top = top_gradient(captured, kept, shape, k, block, rows_out=removed)
    assert top is not None
    assert not removed[top // shape[1]].any()
    assert set(top.tolist()) == _reference(captured, listed, shape, k)
