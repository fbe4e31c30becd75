"""What the topology reads off a forward pass (the activations of CTRE's cosine growth, how often
each weight is used per sample) for every layer kind, and the draws of positions that both
execution paths share (uniform ones, and the multinomial keys of soft growth)."""

import math

import pytest
import torch
from scipy import stats
from torch import nn

from metasparse.data import load_dataset, scale_inputs
from metasparse.models import build_model
from metasparse.space import resolve_config
from metasparse.sparse import WEIGHT_INITS, multinomial_keys
from metasparse.sparse.selection import (
    ENUMERATE_BELOW,
    MARGIN_SE,
    SAMPLE,
    bracket,
    merge_sorted,
    sample_positions,
    select,
)
from metasparse.train import build_topology


def _topology(model_config: dict):
    data = scale_inputs(load_dataset("digits"), "standard")
    config = resolve_config({**model_config, "grow_score": "cosine", "delta_t": 1,
                             "normalization": "none"})
    torch.manual_seed(0)
    model = build_model(config, data.n_features, data.n_classes, data.image_shape)
    topology = build_topology(config, model, 10, 100, torch.Generator().manual_seed(0))
    return model, topology, data.X_train[:16]


def _record(model: nn.Module, names: list[str]) -> dict:
    """The raw inputs and outputs of the modules owning `names`, by independent hooks."""
    seen = {}
    handles = []
    for name in names:
        module = model.get_submodule(name.rsplit(".", 1)[0])
        handles.append(module.register_forward_hook(
            lambda m, args, out, name=name: seen.__setitem__(name, (args[0], out))))
    return seen, handles


def test_conv_layers_give_one_row_per_sample_and_position():
    # a convolution's output unit is a channel, seen at every position; its input unit is an
    # input channel, summarised by its mean over the image
    model, topology, x = _topology({"model": "cnn", "channels": "4,6"})
    names = [layer.name for layer in topology.layers]
    seen, handles = _record(model, names)
    with topology.observe(1):
        model(x)
    for h in handles:
        h.remove()
    for layer in topology.layers:
        raw_in, raw_out = seen[layer.name]
        a_in, a_out = layer.activations
        if raw_out.dim() == 4:
            n, c, height, width = raw_out.shape
            assert torch.equal(a_out, raw_out.permute(0, 2, 3, 1).reshape(n * height * width, c))
            means = raw_in.mean(dim=(2, 3))
            assert torch.equal(a_in, means.repeat_interleave(height * width, dim=0))
        else:
            assert torch.equal(a_in, raw_in) and torch.equal(a_out, raw_out)


def test_lstm_gates_see_the_sequence_and_the_hidden_state():
    # the four gate rows of an LSTM weight share their unit's hidden state; the input-to-hidden
    # weights read the input sequence, the hidden-to-hidden ones the hidden states
    model, topology, x = _topology({"model": "lstm", "hidden_sizes": "12"})
    lstm_layers = [la for la in topology.layers if "weight_" in la.name]
    assert {la.name.rsplit(".", 1)[1][:9] for la in lstm_layers} == {"weight_ih", "weight_hh"}
    seen, handles = _record(model, [la.name for la in lstm_layers])
    with topology.observe(1):
        model(x)
    for h in handles:
        h.remove()
    for layer in lstm_layers:
        sequence, (hidden, _) = seen[layer.name][0], seen[layer.name][1]
        h = hidden.reshape(-1, hidden.shape[-1])
        a_in, a_out = layer.activations
        assert torch.equal(a_out, h.repeat(1, 4))
        expected_in = h if "weight_hh" in layer.name else sequence.reshape(-1, sequence.shape[-1])
        assert torch.equal(a_in, expected_in)
        assert a_in.shape[1] == layer.weight.shape[1] and a_out.shape[1] == layer.weight.shape[0]


def test_weights_count_once_per_sample_or_once_per_position():
    model, topology, x = _topology({"model": "cnn", "channels": "4,6"})
    seen, handles = _record(model, [la.name for la in topology.layers])
    topology.measure_uses(model, x)
    model(x)
    for h in handles:
        h.remove()
    expected = 0.0
    for layer in topology.layers:
        out = seen[layer.name][1]
        uses = out.shape[2] * out.shape[3] if out.dim() == 4 else 1
        assert layer.uses_per_sample == uses and layer.activations is None
        expected += 2.0 * layer.target * uses
    assert topology.forward_flops_per_sample() == expected
    assert topology.layer_densities() == {
        la.name: int(la.mask.sum()) / la.weight.numel() for la in topology.layers}


@pytest.mark.parametrize("size", [1000, 4 * ENUMERATE_BELOW])  # enumeration, then rejection
@pytest.mark.parametrize("share_excluded", [0.0, 0.5])
def test_sampled_positions_are_distinct_free_sorted_and_uniform(size, share_excluded):
    generator = torch.Generator().manual_seed(0)
    # excluded: a block of the range, so that uniformity can be read by halves of the rest
    n_excluded = int(share_excluded * size)
    excluded = torch.arange(n_excluded) if n_excluded else None
    free = size - n_excluded
    k, draws = 200, 300
    counts = torch.zeros(16)
    for _ in range(draws):
        picked = sample_positions(size, k, generator, excluded)
        assert picked.numel() == k and torch.equal(picked, torch.unique(picked))
        assert int(picked.min()) >= n_excluded and int(picked.max()) < size
        counts += torch.bincount((picked - n_excluded) * 16 // free, minlength=16)
    assert stats.chisquare(counts.numpy()).pvalue > 1e-3
    assert sample_positions(size, 0, generator, excluded).numel() == 0
    with pytest.raises(ValueError, match="free positions"):
        sample_positions(1000, 1001, generator)


def test_sampling_every_free_position_returns_them_all():
    generator = torch.Generator().manual_seed(1)
    excluded = torch.tensor([0, 5, 9])
    assert sample_positions(10, 7, generator, excluded).tolist() == [1, 2, 3, 4, 6, 7, 8]


@pytest.mark.parametrize(("a", "b"), [([1, 4, 9], [0, 2, 3, 10, 11]), ([], [2, 5]), ([3], []),
                                      ([2, 2, 7], [2, 8])])  # repeats kept
def test_merge_sorted_is_the_sorted_concatenation(a, b):
    a, b = torch.tensor(a, dtype=torch.long), torch.tensor(b, dtype=torch.long)
    assert merge_sorted(a, b).tolist() == sorted(a.tolist() + b.tolist())


def test_a_draw_of_many_among_a_huge_range_stays_small():
    # rejection sampling: a sparse layer of 2^34 positions never enumerates them
    generator = torch.Generator().manual_seed(2)
    picked = sample_positions(2**34, 5000, generator)
    assert picked.numel() == 5000 and torch.unique(picked).numel() == 5000
    assert math.isclose(float(picked.double().mean()) / 2**34, 0.5, abs_tol=0.03)


@pytest.mark.parametrize(("name", "std"), [
    ("kaiming_normal", 2.0 / math.sqrt(4 * 9)),
    ("kaiming_uniform", 2.0 / math.sqrt(4 * 9)),
    ("xavier_normal", 2.0 * math.sqrt(2.0 / (4 * 9 + 8 * 9))),
    ("xavier_uniform", 2.0 * math.sqrt(2.0 / (4 * 9 + 8 * 9))),
])
def test_conv_weight_laws_count_the_kernel_in_their_fans(name, std):
    # a 3x3 convolution from 4 to 8 channels: fan-in 36, fan-out 72 (gain 2 here)
    law = WEIGHT_INITS[name]((8, 4, 3, 3), torch.full((8,), 36.0), 2.0)
    assert law.std == pytest.approx(std) and law.uniform == name.endswith("uniform")


def test_multinomial_keys_draw_in_proportion_to_the_weights():
    # the highest key is position j with probability w_j / sum(w); zero weights come last
    weights = torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0, 0.0])
    generator = torch.Generator().manual_seed(0)
    draws = 20000
    keys = torch.stack([multinomial_keys(weights, generator) for _ in range(draws)])
    counts = torch.bincount(keys.argmax(dim=1), minlength=6)
    assert counts[0] == counts[5] == 0
    expected = (weights[1:5] / weights.sum() * draws).numpy()
    assert stats.chisquare(counts[1:5].numpy(), expected).pvalue > 1e-3
    top4 = keys.topk(4, dim=1).indices
    assert not ((top4 == 0) | (top4 == 5)).any()  # 4 positive weights: the zeros never drawn


def test_multinomial_keys_follow_their_generator_alone():
    # a run is reproducible from the topology's generator, whatever torch's global stream did
    weights = torch.rand(50, generator=torch.Generator().manual_seed(1))
    state = torch.get_rng_state()
    torch.manual_seed(1)
    first = multinomial_keys(weights, torch.Generator().manual_seed(0))
    torch.manual_seed(2)
    second = multinomial_keys(weights, torch.Generator().manual_seed(0))
    assert torch.equal(first, second)
    torch.set_rng_state(state)


def test_a_preference_with_too_few_preferred_takes_them_all_and_fills_up_uniformly():
    preferred = torch.zeros(40, dtype=torch.bool)
    preferred[[3, 17, 29]] = True
    candidates = torch.ones(40, dtype=torch.bool)
    candidates[[0, 1]] = False
    picked = select(preferred, candidates, 10, 0.0, torch.Generator().manual_seed(0))
    assert picked.numel() == picked.unique().numel() == 10
    assert {3, 17, 29} <= set(picked.tolist()) and not {0, 1} & set(picked.tolist())
    empty = select(None, torch.zeros(40, dtype=torch.bool), 0, 0.0, torch.Generator())
    assert empty.dtype == torch.long and empty.numel() == 0


@pytest.mark.parametrize(("m", "q"), [(8192, 0.01), (8192, 0.5), (400, 0.05), (8192, 0.00315)])
def test_bracket_spans_margin_se_standard_errors_of_the_share_on_either_side(m, q):
    """lo is the sample's ceil(m (q + e))-th highest value and hi its floor(m (q - e))-th
    highest (inf when that rank is 0; 8192 x 0.00315 makes it 1), e = MARGIN_SE standard errors
    of a share q among m plus MARGIN_SE / m."""
    sample = torch.randperm(m, generator=torch.Generator().manual_seed(0)).double()
    lo, hi = bracket(sample, q)
    e = MARGIN_SE * math.sqrt(q * (1 - q) / m) + MARGIN_SE / m
    assert int((sample >= lo).sum()) == math.ceil(m * (q + e))
    if int(m * (q - e)) > 0:
        assert int((sample >= hi).sum()) == int(m * (q - e))
    else:
        assert hi == math.inf
    assert bracket(sample[:10], 0.5) is None  # lo would be past the sample's last value


def test_bracket_holds_the_population_quantile_in_nearly_every_sample():
    population = torch.rand(1_000_000, generator=torch.Generator().manual_seed(0))
    q = 0.01
    threshold = population.kthvalue(population.numel() - int(q * population.numel()) + 1).values
    generator = torch.Generator().manual_seed(1)
    misses = 0
    for _ in range(200):
        sample = population[torch.randint(population.numel(), (SAMPLE,), generator=generator)]
        lo, hi = bracket(sample, q)
        misses += not lo <= threshold <= hi
    assert misses <= 1


def _half(n: int) -> torch.Tensor:
    return torch.arange(n) % 2 == 0


@pytest.mark.parametrize("draw", [
    lambda g: sample_positions(1000, 10, g),  # enumerated
    lambda g: sample_positions(2 * ENUMERATE_BELOW, 50, g, torch.arange(0, 1000, 3)),  # rejected
    lambda g: select(None, _half(4000), 10, 0.0, g),  # uniform: a few picks among many
    lambda g: select(None, _half(4000), 900, 0.0, g),  # uniform: each kept with a probability
    lambda g: select(None, torch.arange(4000) % 16 == 0, 200, 0.0, g),  # a permutation
    lambda g: select(torch.rand(4000, generator=g), _half(4000), 40, 0.5, g),  # a random share
], ids=["enumerated", "rejected", "few", "kept-with-p", "permutation", "random-share"])
def test_every_draw_follows_its_generator_alone(draw):
    """The same generator gives the same draw whatever torch's global stream did, and the
    global stream is not touched: a run is reproducible from the topology's seed."""
    torch.manual_seed(1)
    first = draw(torch.Generator().manual_seed(0))
    torch.manual_seed(2)
    state = torch.get_rng_state()
    second = draw(torch.Generator().manual_seed(0))
    assert torch.equal(first, second)
    assert torch.equal(torch.get_rng_state(), state)


def test_more_picks_than_free_positions_are_refused():
    with pytest.raises(ValueError, match="cannot pick 8 of 7 free positions"):
        sample_positions(10, 8, torch.Generator(), torch.tensor([0, 4, 9]))
