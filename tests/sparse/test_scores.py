import pytest
import torch
from scipy import stats

from metasparse.sparse import GROW_SCORES, PRUNE_SCORES, LayerState, select


def state(weight, grad=None, mask=None, activations=None, seed=0):
    mask = torch.ones_like(weight, dtype=torch.bool) if mask is None else mask
    return LayerState(weight=weight, grad=grad, momentum=None, mask=mask,
                      ever_active=mask.clone(), activations=activations,
                      generator=torch.Generator().manual_seed(seed), mest_gamma=1.0)


def prune(score_name, s, k, ratio=0.0):
    score = PRUNE_SCORES[score_name](s)
    return set(select(score, s.mask, k, ratio, s.generator, lowest=True).tolist())


def test_set_drops_smallest_positive_and_largest_negative_in_proportion():
    w = torch.tensor([[0.9, 0.1, 0.5, 0.3, 0.7, 0.2],
                      [-0.05, -0.8, -0.4, -0.6, 1.0, 2.0]])
    # 8 positive, 4 negative active weights; drop 6 = half of each sign
    dropped = prune("set", state(w), 6)
    flat = w.flatten()
    positives = sorted((i for i in range(12) if flat[i] >= 0), key=lambda i: flat[i].item())
    negatives = sorted((i for i in range(12) if flat[i] < 0), key=lambda i: -flat[i].item())
    assert dropped == set(positives[:4]) | set(negatives[:2])


def test_set_ignores_inactive_weights():
    w = torch.tensor([0.01, 0.5, 0.6, -0.01, -0.5, -0.7])
    mask = torch.tensor([False, True, True, False, True, True])
    assert prune("set", state(w, mask=mask), 2) == {1, 4}


def test_magnitude_drops_exactly_the_smallest():
    w = torch.tensor([3.0, -0.1, 2.0, 0.2, -5.0, 0.05])
    assert prune("magnitude", state(w), 3) == {1, 3, 5}


def test_mest_and_snip_use_the_gradient():
    w = torch.tensor([1.0, 1.0, 0.1, 0.1])
    g = torch.tensor([0.0, 10.0, 0.0, 20.0])
    assert prune("mest", state(w, grad=g), 1) == {2}
    assert prune("snip", state(w, grad=g), 2) == {0, 2}


def test_gradient_growth_picks_the_largest_dense_gradient_among_inactive():
    w = torch.zeros(6)
    mask = torch.tensor([True, False, False, True, False, False])
    g = torch.tensor([100.0, 1.0, -5.0, 100.0, 3.0, 0.5])
    s = state(w, grad=g, mask=mask)
    grown = select(GROW_SCORES["gradient"](s), ~mask, 2, 0.0, s.generator)
    assert set(grown.tolist()) == {2, 4}


def test_cosine_growth_prefers_correlated_neurons():
    torch.manual_seed(0)
    a_in = torch.randn(64, 3)
    a_out = torch.stack([a_in[:, 2], torch.randn(64)], dim=1)  # output 0 copies input 2
    w = torch.zeros(2, 3)
    s = state(w, mask=torch.zeros(2, 3, dtype=torch.bool), activations=(a_in, a_out))
    grown = select(GROW_SCORES["cosine"](s), ~s.mask, 1, 0.0, s.generator)
    assert grown.tolist() == [2]  # row 0, column 2


def test_unfired_growth_prefers_never_active_connections():
    w = torch.zeros(100)
    mask = torch.zeros(100, dtype=torch.bool)
    s = state(w, mask=mask)
    s.ever_active = torch.arange(100) < 80
    grown = select(GROW_SCORES["unfired"](s), ~mask, 20, 0.0, s.generator)
    assert set(grown.tolist()) == set(range(80, 100))


def test_neuron_prune_removes_connections_of_the_weakest_neuron_first():
    w = torch.ones(4, 4)
    w[2] = 0.01  # output neuron 2 is weak
    dropped = prune("neuron", state(w), 4)
    assert dropped == {8, 9, 10, 11}


@pytest.mark.parametrize("name", PRUNE_SCORES.names())
def test_every_prune_score_has_the_weight_shape_or_no_preference(name):
    w = torch.randn(5, 7)
    s = state(w, grad=torch.randn(5, 7), activations=(torch.randn(8, 7), torch.randn(8, 5)))
    score = PRUNE_SCORES[name](s)
    assert (score is None) == (name == "random")
    assert score is None or score.shape == w.shape


@pytest.mark.parametrize("name", GROW_SCORES.names())
def test_every_grow_score_has_the_weight_shape_or_no_preference(name):
    w = torch.randn(5, 3, 2, 2)
    s = state(w, grad=torch.randn(5, 3, 2, 2), activations=(torch.randn(8, 3), torch.randn(8, 5)))
    score = GROW_SCORES[name](s)
    assert (score is None) == (name == "random")
    assert score is None or score.shape == w.shape


def test_randomness_ratio_zero_selects_by_score_exactly():
    scores = torch.arange(1000.0)
    cand = torch.ones(1000, dtype=torch.bool)
    chosen = select(scores, cand, 100, 0.0, torch.Generator().manual_seed(0))
    assert set(chosen.tolist()) == set(range(900, 1000))


def test_randomness_ratio_one_selects_uniformly():
    # Over many draws, every candidate is picked equally often (chi-square test), and the
    # score has no influence: high- and low-score halves are picked equally often.
    n, k, draws = 50, 10, 2000
    scores = torch.arange(float(n))
    cand = torch.ones(n, dtype=torch.bool)
    cand[:10] = False
    g = torch.Generator().manual_seed(1)
    counts = torch.zeros(n)
    for _ in range(draws):
        counts[select(scores, cand, k, 1.0, g)] += 1
    assert counts[:10].sum() == 0
    observed = counts[10:].numpy()
    assert stats.chisquare(observed).pvalue > 0.001
    assert abs(observed[:20].sum() - observed[20:].sum()) / observed.sum() < 0.05


@pytest.mark.parametrize(("n_candidates", "k"), [(30, 20), (900, 20), (900, 400)])
def test_no_preference_draws_uniformly_among_candidates(n_candidates, k):
    # all three paths: a permutation of scarce candidates, sampled positions for few picks,
    # kept-with-probability then trimmed for many picks among many candidates
    n, draws = 1000, 3000
    cand = torch.zeros(n, dtype=torch.bool)
    cand[torch.randperm(n, generator=torch.Generator().manual_seed(0))[:n_candidates]] = True
    g = torch.Generator().manual_seed(2)
    counts = torch.zeros(n)
    for _ in range(draws):
        chosen = select(None, cand, k, 0.0, g)
        assert len(set(chosen.tolist())) == k
        counts[chosen] += 1
    assert counts[~cand].sum() == 0
    assert stats.chisquare(counts[cand].numpy()).pvalue > 0.001


def test_partial_ratio_splits_score_and_random_picks():
    scores = torch.arange(1000.0)
    cand = torch.ones(1000, dtype=torch.bool)
    chosen = select(scores, cand, 100, 0.3, torch.Generator().manual_seed(0))
    assert len(set(chosen.tolist())) == 100
    top = set(range(930, 1000))
    assert top <= set(chosen.tolist())  # the 70 by score are the top 70
    assert len(set(chosen.tolist()) - top) == 30


@pytest.mark.parametrize(("n", "fraction", "k"), [
    (200_000, 0.1, 6_000),    # pruning: few candidates, k a large share of them
    (200_000, 0.9, 6_000),    # growth: most weights are candidates, k a small share
    (200_000, 0.9, 150_000),  # k close to the candidates: the sampled bracket cannot hold
])
@pytest.mark.parametrize("ties", [False, True])
def test_top_selection_equals_a_masked_topk_on_large_layers(n, fraction, k, ties):
    # large enough for the sampled-threshold path; with ties (rounded scores) the chosen set
    # may differ in tied entries only, so the multiset of chosen scores must be equal
    g = torch.Generator().manual_seed(3)
    scores = torch.randn(n, generator=g)
    if ties:
        scores = (scores * 4).round()
    cand = torch.rand(n, generator=g) < fraction
    chosen = select(scores, cand, k, 0.0, g)
    assert chosen.numel() == k and torch.unique(chosen).numel() == k
    assert cand[chosen].all()
    expected = torch.topk(scores.masked_fill(~cand, float("-inf")), k).values
    assert torch.equal(scores[chosen].sort().values, expected.sort().values)
    lowest = select(scores, cand, k, 0.0, g, lowest=True)
    expected = torch.topk(scores.masked_fill(~cand, float("inf")), k, largest=False).values
    assert torch.equal(scores[lowest].sort().values, expected.sort().values)


def test_boolean_score_draws_preferred_candidates_first_then_uniformly():
    n, k = 1000, 50
    cand = torch.ones(n, dtype=torch.bool)
    cand[:100] = False
    preferred = torch.zeros(n, dtype=torch.bool)
    preferred[50:130] = True  # 30 of them are candidates (100..129)
    g = torch.Generator().manual_seed(4)
    counts = torch.zeros(n)
    for _ in range(2000):
        chosen = select(preferred, cand, k, 0.0, g)
        assert set(range(100, 130)) <= set(chosen.tolist())
        counts[chosen] += 1
    assert counts[:100].sum() == 0
    assert stats.chisquare(counts[130:].numpy()).pvalue > 0.001  # the other 20 uniformly


def test_a_missing_gradient_counts_as_zero():
    # before the first backward pass (or for a layer the loss does not reach) there is no grad
    w = torch.randn(4, 6)
    s = state(w)
    assert torch.equal(GROW_SCORES["gradient"](s), torch.zeros_like(w))
    assert torch.equal(GROW_SCORES["momentum"](s), torch.zeros_like(w))
    assert torch.equal(PRUNE_SCORES["mest"](s), w.abs())


def test_cosine_growth_without_activations_has_no_preference_among_candidates():
    w = torch.randn(4, 6)
    score = GROW_SCORES["cosine"](state(w))
    assert torch.equal(score, torch.zeros_like(w))
