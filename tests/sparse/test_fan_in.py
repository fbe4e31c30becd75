"""Constant fan-in's row-wise draws (metasparse/sparse/fan_in.py): the initial pattern and growth
that brings each row to its fan-in, with the randomness ratio applied per row."""

import pytest
import torch
from scipy import stats

from metasparse.sparse import fan_in
from metasparse.sparse.fan_in import grow_rows, grow_to_fan_in, row_positions


def test_row_positions_give_every_row_its_count_uniformly():
    generator = torch.Generator().manual_seed(0)
    counts = torch.zeros(8, 50)
    for _ in range(200):
        flat = row_positions((8, 50), 5, generator)
        assert torch.equal(flat, flat.sort().values)
        mask = torch.zeros(400, dtype=torch.bool).index_fill_(0, flat, True).view(8, 50)
        assert (mask.sum(dim=1) == 5).all()
        counts += mask
    # every input equally likely within a row: 200 x 5 / 50 = 20 expected hits each
    assert stats.chisquare(counts.flatten().numpy()).pvalue > 1e-3


def test_grow_rows_takes_each_rows_best_then_its_random_share():
    generator = torch.Generator().manual_seed(1)
    n_out, fan = 6, 40
    keys = torch.rand(n_out, fan, generator=generator)
    candidates = torch.rand(n_out, fan, generator=generator) < 0.7
    need = torch.tensor([0, 1, 4, 7, 10, 12])
    ratio = 0.5
    hits_beyond = 0
    for _ in range(100):
        grown = torch.zeros(n_out * fan, dtype=torch.bool)
        grown[grow_rows(keys, candidates, need, ratio, generator)] = True
        grown = grown.view(n_out, fan)
        assert torch.equal(grown.sum(dim=1), need) and not (grown & ~candidates).any()
        for row in range(n_out):
            k = int(need[row])
            k_random = round(ratio * k)
            ranked = candidates[row].nonzero().squeeze(1)
            ranked = ranked[keys[row, ranked].argsort(descending=True)]
            assert grown[row, ranked[:k - k_random]].all()  # the best share by the keys
            hits_beyond += int(grown[row, ranked[k:]].sum())
    # the random share falls beyond the row's top k often: it is not the next best
    assert hits_beyond > 100


def test_grow_rows_without_keys_is_uniform_within_each_row():
    generator = torch.Generator().manual_seed(2)
    candidates = torch.ones(2, 30, dtype=torch.bool)
    candidates[1, :10] = False
    counts = torch.zeros(2, 30)
    for _ in range(300):
        grown = torch.zeros(60, dtype=torch.bool)
        grown[grow_rows(None, candidates, torch.tensor([3, 3]), 0.0, generator)] = True
        counts += grown.view(2, 30)
    assert not counts[1, :10].any()
    assert stats.chisquare(counts[0].numpy()).pvalue > 1e-3
    assert stats.chisquare(counts[1, 10:].numpy()).pvalue > 1e-3


def test_a_boolean_preference_fills_from_the_preferred_tier_uniformly():
    # a bool score (e.g. `unfired`): preferred candidates first, uniformly among them
    candidates = torch.ones(1, 8, dtype=torch.bool)
    preferred = torch.tensor([[True, True, True, True, False, False, False, False]])
    counts = torch.zeros(8)
    for seed in range(400):
        grown = grow_rows(preferred, candidates, torch.tensor([2]), 0.0,
                          torch.Generator().manual_seed(seed))
        assert set(grown.tolist()) <= {0, 1, 2, 3}
        counts[grown] += 1
    assert stats.chisquare(counts[:4].numpy()).pvalue > 0.001  # 200 expected each
    # more needed than preferred: every preferred one, then the others
    grown = grow_rows(preferred, candidates, torch.tensor([6]), 0.0,
                      torch.Generator().manual_seed(0))
    assert {0, 1, 2, 3} <= set(grown.tolist()) and len(grown) == 6


def test_draws_follow_the_given_generator_not_the_global_one():
    candidates = torch.rand(6, 20, generator=torch.Generator().manual_seed(1)) < 0.7
    need = torch.tensor([3, 2, 4, 1, 3, 2])
    draws = []
    for global_seed in (0, 1):
        torch.manual_seed(global_seed)
        draws.append((row_positions((6, 20), 5, torch.Generator().manual_seed(7)),
                      grow_rows(None, candidates, need, 0.0, torch.Generator().manual_seed(7)),
                      grow_rows(torch.rand(6, 20, generator=torch.Generator().manual_seed(3)),
                                candidates, need, 0.5, torch.Generator().manual_seed(7))))
    for first, second in zip(*draws, strict=True):
        assert torch.equal(first, second)


@pytest.mark.parametrize("block_elements", [1, 100])
def test_grow_rows_ranks_block_by_block_as_over_the_whole_layer(monkeypatch, block_elements):
    # the ranking runs over blocks of rows (one row; two rows and a last block of one): the
    # same positions as one block of every row, from the same draws
    generator = torch.Generator().manual_seed(4)
    candidates = torch.rand(7, 40, generator=generator) < 0.7
    need = torch.tensor([0, 1, 4, 7, 10, 12, 3])
    scores = [None, torch.rand(7, 40, generator=generator),
              torch.rand(7, 40, generator=generator) < 0.3]
    cases = [(keys, ratio) for keys in scores for ratio in (0.0, 0.5)]

    def grown() -> list[torch.Tensor]:
        return [grow_rows(keys, candidates, need, ratio, torch.Generator().manual_seed(5))
                for keys, ratio in cases]

    whole = grown()
    monkeypatch.setattr(fan_in, "BLOCK_ELEMENTS", block_elements)
    for ours, theirs in zip(grown(), whole, strict=True):
        assert torch.equal(ours, theirs)
        counts = torch.zeros(7 * 40, dtype=torch.long).index_fill_(0, ours, 1).view(7, 40)
        assert torch.equal(counts.sum(dim=1), need)


def test_ties_go_to_the_lower_columns_first():
    # as a stable sort ranks them: a seed grows the same connections as it always did
    keys = torch.tensor([[1.0, 2.0, 1.0, 1.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]])
    candidates = torch.ones(2, 6, dtype=torch.bool)
    candidates[0, 2] = False
    grown = grow_rows(keys, candidates, torch.tensor([3, 2]), 0.0,
                      torch.Generator().manual_seed(0))
    assert grown.tolist() == [0, 1, 3, 6, 7]


def test_ablation_keeps_the_units_that_hold_the_budget_when_too_few_are_salient():
    """Six units of fan-in 10, a budget of 20 (two full units at least). Salient: kept weights
    and the 2 best positions by score (both in unit 5); the threshold max(1, 1.0 x 20 // 6) = 3.
    Only unit 0 reaches it (exactly 3: at the threshold is alive), fewer than the 2 units the
    budget needs: the 2 most salient are kept (units 0 and 3, ties to the lower index), and
    each grows to the fan-in 20 // 2 = 10; no other unit grows."""
    mask = torch.zeros(6, 10, dtype=torch.bool)
    for unit, kept in enumerate([3, 1, 0, 2, 0, 0]):
        mask[unit, :kept] = True
    score = torch.zeros(6, 10)
    score[5, 8:] = 1.0
    alive, grown = grow_to_fan_in(score.view(-1), mask, 20, 2, 1.0, 0.0,
                                  torch.Generator().manual_seed(0))
    assert alive.tolist() == [True, False, False, True, False, False]
    rows = (grown // 10).tolist()
    assert sorted(set(rows)) == [0, 3] and rows.count(0) == 7 and rows.count(3) == 8
    assert not mask.view(-1)[grown].any()


@pytest.mark.parametrize(("min_salient", "alive", "grown_rows"), [
    (1.0, [True, True, True, False], [0, 1, 2]),  # at the threshold (5) is alive: fan-in 6
    (0.0, [True, True, True, True], [3] * 5),  # no ablation, even of an empty unit: fan-in 5
])
def test_units_at_the_salience_threshold_live_and_none_die_without_one(min_salient, alive,
                                                                       grown_rows):
    """Four units of fan-in 10 holding 5, 5, 5 and 0 weights, a budget of 20, one position
    grown by score (in unit 0): the threshold max(1, min_salient x 20 // 4) is 5."""
    mask = torch.zeros(4, 10, dtype=torch.bool)
    mask[:3, :5] = True
    score = torch.zeros(4, 10)
    score[0, 9] = 1.0
    got, grown = grow_to_fan_in(score.view(-1), mask, 20, 1, min_salient, 0.0,
                                torch.Generator().manual_seed(0))
    assert got.tolist() == alive
    assert sorted((grown // 10).tolist()) == grown_rows
