"""The executable specification of the sparse core, run on every execution path.

Every registry entry (prune scores, grow scores, distributions, weight inits, regrow inits, zeta
decays) is checked through the trainer's real update path (`SparseTopology.after_step`) against
an independent statement of what it must do. The harness (conformance_harness.py) recomputes the
dense gradient and the layer activations of the update step's batch, so the expected scores do not
come from the code under test.

The rules, as tested:
- an update moves k = round(zeta x decay(progress) x target) connections of every sparse layer;
- with ratio 0, the pruned set is exactly the k lowest-scoring active connections and the grown
  set the k highest-scoring connections inactive after pruning (a just-pruned connection may be
  regrown). Ties: any of the tied candidates at the boundary may be chosen; the count is exact;
- with ratio r, round(r k) of them are drawn uniformly among the candidates left after the
  k - round(r k) chosen by score;
- pruned weights are zero, surviving weights keep their values, grown weights get their regrow
  init, and every optimizer state tensor of a grown connection starts at zero;
- dense layers (a distribution that fills them, `dense_first_layer`, `dense_last_layer`) are
  never touched.
"""

from __future__ import annotations

import math

import pytest
import torch
from conformance_harness import EXECUTIONS, Harness, Snapshot
from scipy import stats

from metasparse.models import activation_gain
from metasparse.sparse import (
    DECAYS,
    DISTRIBUTIONS,
    GROW_SCORES,
    PRUNE_SCORES,
    REGROW_INITS,
    WEIGHT_INITS,
)
from metasparse.sparse.init import draw_entries

pytestmark = pytest.mark.parametrize("execution", EXECUTIONS)

MEST_GAMMA = 0.5


# -- what an update did, read from the snapshots -------------------------------------------
def pruned_and_grown(before: Snapshot, after: Snapshot, i: int) -> tuple[torch.Tensor, ...]:
    """(pruned, grown) bool masks of layer i. A connection pruned and regrown at the same
    update is active before and after with a new value: the harness's `regrow_init` is
    `layer_init`, a continuous law, while surviving weights keep their values exactly."""
    was, now = before.masks[i], after.masks[i]
    reset = was & now & (after.weights[i] != before.weights[i])
    pruned = was & (~now | reset)
    grown = now & (~was | reset)
    return pruned, grown


def moved(h: Harness, before: Snapshot, i: int) -> int:
    """How many connections the update must move in layer i (constant decay)."""
    return round(h.config["zeta"] * int(before.masks[i].sum()))


def assert_extreme(chosen: torch.Tensor, candidates: torch.Tensor, score: torch.Tensor, k: int,
                   lowest: bool) -> None:
    """`chosen` is k candidates, none scoring worse than any candidate left out."""
    assert int(chosen.sum()) == k
    assert not (chosen & ~candidates).any()
    inside, outside = score[chosen], score[candidates & ~chosen]
    if lowest:
        assert inside.max() <= outside.min()
    else:
        assert inside.min() >= outside.max()


def _ranked(candidates: torch.Tensor, score: torch.Tensor, best_first: bool) -> torch.Tensor:
    """Flat indices of the candidates by score, highest first if `best_first`."""
    index = candidates.flatten().nonzero().squeeze(1)
    return index[score.flatten()[index].argsort(descending=best_first)]


def assert_share_off_score(chosen: torch.Tensor, candidates: torch.Tensor, score: torch.Tensor,
                           k: int, ratio: float, lowest: bool) -> None:
    """k - round(r k) chosen by score, round(r k) uniformly among the remaining candidates."""
    k_random = round(ratio * k)
    ranked = _ranked(candidates, score, best_first=not lowest)
    flat = chosen.flatten()
    assert int(flat.sum()) == k and not (chosen & ~candidates).any()
    assert flat[ranked[:k - k_random]].all(), "the best-scoring share is not all chosen"
    # the random picks are k_random draws without replacement from the n - (k - k_random)
    # remaining candidates, of which n - k lie beyond the top k: hypergeometric
    off = int(flat[ranked[k:]].sum())
    population, beyond = ranked.numel() - (k - k_random), ranked.numel() - k
    law = stats.hypergeom(population, beyond, k_random)
    assert law.ppf(1e-4) <= off <= law.ppf(1 - 1e-4), (off, law.mean())


def assert_uniform(chosen: torch.Tensor, candidates: torch.Tensor, score: torch.Tensor) -> None:
    """The chosen candidates ignore `score`: as many fall in its upper half as chance says."""
    ranked = _ranked(candidates, score, best_first=True)
    upper = ranked[:ranked.numel() // 2]
    k = int(chosen.sum())
    law = stats.hypergeom(ranked.numel(), upper.numel(), k)
    hits = int(chosen.flatten()[upper].sum())
    assert law.ppf(1e-4) <= hits <= law.ppf(1 - 1e-4), (hits, law.mean())
    assert not (chosen & ~candidates).any()


# -- the prune scores: independent statements ----------------------------------------------
def _strength(w: torch.Tensor) -> torch.Tensor:
    """|w| summed per output and per input neuron, each over its mean, for every connection."""
    a = w.abs()
    s_out, s_in = a.sum(dim=1), a.sum(dim=0)
    return s_out[:, None] / s_out.mean() + s_in[None, :] / s_in.mean()


PRUNE_SPEC = {
    "magnitude": lambda s, i: s.weights[i].abs(),
    "snip": lambda s, i: (s.weights[i] * s.grads[i]).abs(),
    "momentum": lambda s, i: s.momenta[i].abs(),
    "mest": lambda s, i: s.weights[i].abs() + MEST_GAMMA * s.grads[i].abs(),
    "neuron": lambda s, i: _strength(s.weights[i])
    + s.weights[i].abs() / s.weights[i].abs()[s.masks[i]].mean(),
    "set": None,  # two thresholds: test_set_prunes_each_sign_in_proportion
    "random": None,  # uniform: test_random_scores_ignore_the_network
}


@pytest.mark.parametrize("name", PRUNE_SCORES.names())
def test_pruning_removes_exactly_the_lowest_scores(execution, name):
    assert name in PRUNE_SPEC, f"prune score {name!r} has no specification here"
    if PRUNE_SPEC[name] is None:
        return  # stated by its own test below
    h = Harness(execution, prune_score=name, grow_score="random", mest_gamma=MEST_GAMMA)
    before, after = h.advance_to_update()
    for i in range(len(h.layers)):
        pruned, _ = pruned_and_grown(before, after, i)
        k = moved(h, before, i)
        assert_extreme(pruned, before.masks[i], PRUNE_SPEC[name](before, i), k, lowest=True)
        assert not after.weights[i][pruned & ~after.masks[i]].any()


def test_set_prunes_each_sign_in_proportion(execution):
    # SET (Mocanu et al. 2018) removes the fraction zeta of the positive weights closest to zero
    # and the same fraction of the negative ones: two thresholds, not one on |w|
    h = Harness(execution, prune_score="set", grow_score="random")
    before, after = h.advance_to_update()
    for i in range(len(h.layers)):
        pruned, _ = pruned_and_grown(before, after, i)
        w, active = before.weights[i], before.masks[i]
        k = moved(h, before, i)
        assert int(pruned.sum()) == k
        n_active = int(active.sum())
        for sign in (w > 0, w < 0):
            group = active & sign
            assert_extreme(pruned & group, group, w.abs(), int((pruned & group).sum()),
                           lowest=True)
            share = k * int(group.sum()) / n_active
            assert abs(int((pruned & group).sum()) - share) <= 1.0


# -- the grow scores -----------------------------------------------------------------------
def _cosine(s: Snapshot, i: int) -> torch.Tensor:
    a_in = s.inputs[i] / s.inputs[i].norm(dim=0).clamp_min(1e-12)
    a_out = s.outputs[i] / s.outputs[i].norm(dim=0).clamp_min(1e-12)
    return (a_out.T @ a_in).abs()


def _ch2_l3n(w: torch.Tensor) -> torch.Tensor:
    """CH2-L3n as the CHTs code writes it (dense products over the mask after pruning)."""
    dt = (w != 0).float()
    td = dt.T
    dd2, tt2 = dt @ td, td @ dt
    bdd2, btt2 = dd2 != 0, tt2 != 0
    e_dt = ((dt.sum(dim=1) - dd2) * bdd2).clamp_min(1) - 1
    e_td = ((td.sum(dim=1) - tt2) * btt2).clamp_min(1) - 1
    return ((dd2 + bdd2) / (e_dt + 1)) @ dt + (((tt2 + btt2) / (e_td + 1)) @ td).T


GROW_SPEC = {
    "gradient": lambda s, i, w: s.grads[i].abs(),
    "ch2_l3n": lambda s, i, w: _ch2_l3n(w),  # on the graph after pruning
    "momentum": lambda s, i, w: s.momenta[i].abs(),
    "cosine": lambda s, i, w: _cosine(s, i),
    "neuron": lambda s, i, w: _strength(w),  # strength after pruning
    "unfired": None,  # a preference: test_unfired_growth_prefers_never_active_connections
    "random": None,  # uniform: test_random_scores_ignore_the_network
}


@pytest.mark.parametrize("name", GROW_SCORES.names())
def test_growth_adds_exactly_the_highest_scores(execution, name):
    assert name in GROW_SPEC, f"grow score {name!r} has no specification here"
    if GROW_SPEC[name] is None:
        return  # stated by its own test below
    # a few steps first, so that momentum differs from the last gradient
    h = Harness(execution, grow_score=name, delta_t=4)
    h.advance_to_update()
    before, after = h.advance_to_update()
    for i in range(len(h.layers)):
        pruned, grown = pruned_and_grown(before, after, i)
        after_pruning = before.weights[i].masked_fill(pruned, 0.0)
        candidates = ~before.masks[i] | pruned
        score = GROW_SPEC[name](before, i, after_pruning)
        assert_extreme(grown, candidates, score, moved(h, before, i), lowest=False)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_momentum_scores_read_the_optimizers_own_buffer(execution, optimizer):
    # SNFS grows where the optimizer's momentum (SGD's buffer, Adam's first moment) is largest,
    # which is not where the last gradient is largest
    h = Harness(execution, grow_score="momentum", optimizer=optimizer, lr=0.01, delta_t=6)
    h.advance_to_update()
    before, after = h.advance_to_update()
    differ = 0
    for i in range(len(h.layers)):
        pruned, grown = pruned_and_grown(before, after, i)
        candidates = ~before.masks[i] | pruned
        k = moved(h, before, i)
        assert_extreme(grown, candidates, before.momenta[i].abs(), k, lowest=False)
        by_gradient = before.grads[i].abs().masked_fill(~candidates, -1.0).flatten()
        differ += int((~grown.flatten()[by_gradient.topk(k).indices]).sum())
    assert differ > 0  # the test can tell momentum from gradient


def test_unfired_growth_prefers_never_active_connections(execution):
    # ITOP: a random draw, but connections never active before come first
    h = Harness(execution, grow_score="unfired", zeta=0.5, delta_t=2, density=0.1)
    ever = [m.clone() for m in h.snapshot().masks]
    for _ in range(6):
        before, after = h.advance_to_update()
        for i in range(len(h.layers)):
            _, grown = pruned_and_grown(before, after, i)
            fresh = ~ever[i]
            if int(fresh.sum()) >= int(grown.sum()):
                assert not (grown & ~fresh).any()
            else:
                assert fresh.le(grown).all()  # every never-active one is taken first
            ever[i] |= after.masks[i]


@pytest.mark.parametrize("kind", ["prune", "grow"])
def test_random_scores_ignore_the_network(execution, kind):
    # random pruning draws uniformly among the active connections, random growth among the
    # inactive ones: neither leans towards small weights or large gradients
    h = Harness(execution, prune_score="random" if kind == "prune" else "magnitude",
                grow_score="random", zeta=0.5)
    before, after = h.advance_to_update()
    for i in range(len(h.layers) - 1):  # the classifier moves too few for a statistical test
        pruned, grown = pruned_and_grown(before, after, i)
        if kind == "prune":
            assert int(pruned.sum()) == moved(h, before, i)
            assert_uniform(pruned, before.masks[i], before.weights[i].abs())
        else:
            assert_uniform(grown, ~before.masks[i] | pruned, before.grads[i].abs())


# -- which candidates growth sees, and how it picks among them -----------------------------
@pytest.mark.parametrize("subset", [0.5, 1.0, 100.0])
def test_sampled_candidates_grow_the_best_of_a_uniform_subset(execution, subset):
    # GSE: the k best by gradient among m inactive connections drawn uniformly, m = subset x
    # the layer's active count. A candidate of the overall top k is grown exactly when it was
    # drawn (fewer than k others can beat it), so the overlap with the top k is hypergeometric;
    # a subset as large as the layer is plain RigL.
    h = Harness(execution, grow_candidates="sampled", grow_subset=subset, zeta=0.5)
    before, after = h.advance_to_update()
    for i in range(len(h.layers) - 1):  # the classifier moves too few for a statistical test
        pruned, grown = pruned_and_grown(before, after, i)
        candidates = ~before.masks[i] | pruned
        score = before.grads[i].abs()
        k = moved(h, before, i)
        m = min(int(candidates.sum()), round(subset * int(before.masks[i].sum())))
        if m == int(candidates.sum()):
            assert_extreme(grown, candidates, score, k, lowest=False)
            continue
        assert int(grown.sum()) == k and not (grown & ~candidates).any()
        best = _ranked(candidates, score, best_first=True)[:k]
        overlap = int(grown.flatten()[best].sum())
        law = stats.hypergeom(int(candidates.sum()), k, m)
        assert law.ppf(1e-4) <= overlap <= law.ppf(1 - 1e-4), (overlap, law.mean())


@pytest.mark.parametrize("grow_score", ["gradient", "ch2_l3n"])
def test_multinomial_growth_draws_by_score_without_taking_the_top(execution, grow_score):
    # CHTs' soft rule: a draw that leans towards high scores (more of the upper half than
    # chance) but is not the top k; candidates scoring zero are drawn only once the others
    # are exhausted
    h = Harness(execution, grow_score=grow_score, grow_selection="multinomial", zeta=0.5)
    before, after = h.advance_to_update()
    for i in range(len(h.layers) - 1):
        pruned, grown = pruned_and_grown(before, after, i)
        candidates = ~before.masks[i] | pruned
        score = GROW_SPEC[grow_score](before, i, before.weights[i].masked_fill(pruned, 0.0))
        k = moved(h, before, i)
        assert int(grown.sum()) == k and not (grown & ~candidates).any()
        ranked = _ranked(candidates, score, best_first=True)
        upper = ranked[:ranked.numel() // 2]
        hits = int(grown.flatten()[upper].sum())
        assert hits > stats.hypergeom(ranked.numel(), upper.numel(), k).ppf(1 - 1e-4)
        assert not grown.flatten()[ranked[:k]].all()
        positive = candidates & (score > 0)
        if int(positive.sum()) >= k:
            assert not (grown & ~positive).any()


# -- constant fan-in and neuron ablation (SRigL) ----------------------------------------------
def test_constant_fan_in_prunes_the_layer_and_regrows_each_unit_by_its_best(execution):
    # every unit starts and stays at one fan-in: pruning takes the layer's lowest magnitudes,
    # then each unit regrows what it lost, its own highest gradients
    h = Harness(execution, fan_in="constant", min_salient_weights_per_neuron=0.0, zeta=0.5)
    fan_ins = [m.sum(dim=1) for m in h.snapshot().masks]
    assert all(f.min() == f.max() > 0 for f in fan_ins)
    for _ in range(2):
        before, after = h.advance_to_update()
        for i in range(len(h.layers)):
            pruned, grown = pruned_and_grown(before, after, i)
            assert_extreme(pruned, before.masks[i], before.weights[i].abs(), moved(h, before, i),
                           lowest=True)
            assert torch.equal(after.masks[i].sum(dim=1), fan_ins[i])
            candidates = ~before.masks[i] | pruned
            for row in range(grown.shape[0]):
                assert_extreme(grown[row], candidates[row], before.grads[i][row].abs(),
                               int(pruned[row].sum()), lowest=False)


def test_neuron_ablation_removes_units_with_few_salient_weights(execution):
    # SRigL: a unit's salient weights are those kept after pruning or among the layer's k best
    # gradients; below max(1, floor(gamma x fan-in)) the unit loses all its weights and the
    # others share its budget evenly (never in the last layer)
    gamma = 0.7
    h = Harness(execution, fan_in="constant", min_salient_weights_per_neuron=gamma, zeta=0.5)
    before, after = h.advance_to_update()
    ablated_somewhere = 0
    for i in range(len(h.layers)):
        pruned, _ = pruned_and_grown(before, after, i)
        n_out = before.masks[i].shape[0]
        target = int(before.masks[i].sum())
        k = moved(h, before, i)
        salient = (before.masks[i] & ~pruned).flatten()
        salient[before.grads[i].abs().flatten().topk(k).indices] = True
        counts = salient.view(n_out, -1).sum(dim=1)
        alive = counts >= max(1, int(gamma * (target // n_out)))
        if i == len(h.layers) - 1:
            alive[:] = True
        fan_in = after.masks[i].sum(dim=1)
        assert not fan_in[~alive].any()
        assert (fan_in[alive] == target // int(alive.sum())).all()
        assert h.layers[i].target == int(after.masks[i].sum())
        ablated_somewhere += int((~alive).sum())
    assert ablated_somewhere > 0  # the test sees ablation happen


# -- momentum redistribution (SNFS) -------------------------------------------------------------
def test_momentum_redistribution_shares_regrowth_by_mean_momentum(execution):
    # SNFS: each layer prunes its k lowest |w|; the sum of the k is regrown across the layers
    # in proportion to the mean |momentum| of their active weights (largest remainders), each
    # layer by its own highest momentum
    h = Harness(execution, grow_score="gradient", redistribution="momentum", zeta=0.5,
                optimizer="sgd", lr=0.01, delta_t=4)
    h.advance_to_update()
    before, after = h.advance_to_update()
    counts = [int(m.sum()) for m in before.masks]
    # a layer that the moves made dense is a dense layer from then on: it takes no part
    sparse = [int(m.sum()) < m.numel() for m in before.masks]
    pruned_counts = [round(0.5 * c) if s else 0 for c, s in zip(counts, sparse, strict=True)]
    weight = torch.tensor([m[mask].abs().mean().item() if s else 0.0
                           for m, mask, s in zip(before.momenta, before.masks, sparse,
                                                 strict=True)], dtype=torch.float64)
    raw = sum(pruned_counts) * weight / weight.sum()
    shares = raw.floor().long()
    shares[(raw - shares).argsort(descending=True)[:sum(pruned_counts) - int(shares.sum())]] += 1
    for i in range(len(h.layers)):
        if not sparse[i]:
            assert torch.equal(after.masks[i], before.masks[i])
            continue
        pruned, grown = pruned_and_grown(before, after, i)
        assert_extreme(pruned, before.masks[i], before.weights[i].abs(), pruned_counts[i],
                       lowest=True)
        assert_extreme(grown, ~before.masks[i] | pruned, before.grads[i].abs(), int(shares[i]),
                       lowest=False)
        assert h.layers[i].target == int(after.masks[i].sum())
    assert sum(int(m.sum()) for m in after.masks) == sum(counts)
    assert any(int(s) != k for s, k in zip(shares, pruned_counts, strict=True))


# -- learning-rate scaling (SmuPar) -----------------------------------------------------------
@pytest.mark.parametrize("scaling", ["none", "density"])
def test_lr_scaling_sets_each_layers_step_by_its_density(execution, scaling):
    # Adam's first step moves every weight with a clear gradient by its learning rate: lr for
    # the biases, lr / the layer's density for a sparsified weight under SmuPar's scaling
    lr = 1e-4
    h = Harness(execution, optimizer="adam", lr=lr, weight_decay=0.0, distribution="erk",
                density=0.2, lr_scaling=scaling)
    before = h.snapshot()
    biases = [p.detach().clone() for n, p in h.model.named_parameters() if n.endswith("bias")]
    h.train_step()
    after = h.snapshot()
    densities = set()
    for i, mask in enumerate(before.masks):
        density = int(mask.sum()) / mask.numel()
        densities.add(round(density, 3))
        step = (after.weights[i] - before.weights[i])[mask].abs()
        expected = lr / density if scaling == "density" else lr
        assert step.median().item() == pytest.approx(expected, rel=1e-3)
    assert len(densities) > 1  # ERK: the layers differ, so each is scaled by its own
    moved_biases = [p.detach() for n, p in h.model.named_parameters() if n.endswith("bias")]
    for old, new in zip(biases, moved_biases, strict=True):
        assert (new - old).abs().median().item() == pytest.approx(lr, rel=1e-3)


# -- randomness ratios ---------------------------------------------------------------------
@pytest.mark.parametrize("ratio", [0.3, 0.8])
@pytest.mark.parametrize("kind", ["prune", "grow"])
def test_random_ratio_moves_its_share_off_score(execution, kind, ratio):
    h = Harness(execution, prune_random_ratio=ratio if kind == "prune" else 0.0,
                grow_random_ratio=ratio if kind == "grow" else 0.0, zeta=0.5)
    before, after = h.advance_to_update()
    for i in range(len(h.layers) - 1):
        pruned, grown = pruned_and_grown(before, after, i)
        k = moved(h, before, i)
        if kind == "prune":
            assert_share_off_score(pruned, before.masks[i], before.weights[i].abs(), k, ratio,
                                   lowest=True)
        else:
            assert_share_off_score(grown, ~before.masks[i] | pruned, before.grads[i].abs(), k,
                                   ratio, lowest=False)


# -- regrow inits, optimizer state ---------------------------------------------------------
REGROW_SPEC = {  # the scale of a grown weight, in units of the layer's init standard deviation
    "zero": 0.0,
    "small_random": 0.1,
    "layer_init": 1.0,
}


@pytest.mark.parametrize("name", REGROW_INITS.names())
def test_regrow_init_gives_exactly_its_distribution(execution, name):
    assert name in REGROW_SPEC, f"regrow init {name!r} has no specification here"
    h = Harness(execution, regrow_init=name, grow_score="random", zeta=0.5, density=0.3)
    before, after = h.advance_to_update()
    gain = activation_gain("relu")
    for i in range(len(h.layers) - 1):
        grown = after.masks[i] & ~before.masks[i]
        values = after.weights[i][grown].double()
        assert values.numel() > 500
        std = REGROW_SPEC[name] * gain / math.sqrt(before.masks[i].shape[1])  # kaiming_normal
        if std == 0.0:
            assert not values.any()
        else:
            assert stats.kstest(values.numpy(), "norm", args=(0.0, std)).pvalue > 1e-3


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw"])
def test_grown_connections_start_with_reset_optimizer_state(execution, optimizer):
    h = Harness(execution, optimizer=optimizer, lr=0.01)
    h.advance_to_update()
    before, after = h.advance_to_update()
    for i in range(len(h.layers)):
        _, grown = pruned_and_grown(before, after, i)
        kept = before.masks[i] & after.masks[i] & ~grown
        assert grown.any() and after.states[i]
        for key, value in after.states[i].items():
            assert not value[grown].any(), key
            assert torch.equal(value[kept], before.states[i][key][kept]), key


# -- dense layers --------------------------------------------------------------------------
@pytest.mark.parametrize("dense", ["dense_first_layer", "dense_last_layer"])
def test_dense_first_and_last_layers_are_never_touched(execution, dense):
    h = Harness(execution, **{dense: True}, zeta=0.5, density=0.6)
    index = 0 if dense == "dense_first_layer" else len(h.layers) - 1
    for _ in range(3):
        before, after = h.advance_to_update()
        assert before.masks[index].all() and after.masks[index].all()
        assert torch.equal(after.weights[index], before.weights[index])
        others = [i for i in range(len(h.layers)) if i != index]
        assert any(not torch.equal(after.masks[i], before.masks[i]) for i in others)


def test_the_dense_preset_moves_nothing(execution):
    h = Harness(execution, density=1.0, update_every="steps")
    h.advance(12)
    snapshot = h.snapshot()
    assert all(mask.all() for mask in snapshot.masks)
    assert h.topology.stats.moved == 0


# -- layer-wise density --------------------------------------------------------------------
DISTRIBUTION_SPEC = {  # relative density of a (n_out, n_in) layer
    "uniform": lambda n_out, n_in: 1.0,
    "er": lambda n_out, n_in: (n_in + n_out) / (n_in * n_out),
    "erk": lambda n_out, n_in: (n_in + n_out) / (n_in * n_out),  # no kernel dims in an MLP
}


@pytest.mark.parametrize("name", DISTRIBUTIONS.names())
def test_distribution_spreads_the_budget(execution, name):
    assert name in DISTRIBUTION_SPEC, f"distribution {name!r} has no specification here"
    h = Harness(execution, distribution=name, density=0.15, hidden_sizes="128,128")
    masks = h.snapshot().masks
    sizes = [m.numel() for m in masks]
    counts = [int(m.sum()) for m in masks]
    assert sum(counts) == pytest.approx(0.15 * sum(sizes), abs=len(sizes))
    raw = [DISTRIBUTION_SPEC[name](*m.shape) for m in masks]
    for count, size, r in zip(counts, sizes, raw, strict=True):
        assert count / size == pytest.approx(r / raw[0] * counts[0] / sizes[0], rel=0.02)


# -- weight inits --------------------------------------------------------------------------
def _std(kind: str, n_out: int, n_in: int, gain: float) -> float:
    return {"kaiming": gain / math.sqrt(n_in),
            "xavier": gain * math.sqrt(2.0 / (n_in + n_out)),
            "normal": 0.01}[kind]


WEIGHT_INIT_SPEC = {  # (family of the scale, shape of the law)
    "kaiming_normal": ("kaiming", "norm"),
    "kaiming_uniform": ("kaiming", "uniform"),
    "xavier_normal": ("xavier", "norm"),
    "xavier_uniform": ("xavier", "uniform"),
    "normal": ("normal", "norm"),
    "sparse_kaiming": None,  # scaled per unit: test_sparse_kaiming_scales_each_unit_by_its_fan_in
}


@pytest.mark.parametrize("name", WEIGHT_INITS.names())
def test_weight_init_gives_its_distribution(execution, name):
    assert name in WEIGHT_INIT_SPEC, f"weight init {name!r} has no specification here"
    if WEIGHT_INIT_SPEC[name] is None:
        return
    family, law = WEIGHT_INIT_SPEC[name]
    h = Harness(execution, weight_init=name, density=0.5)
    snapshot = h.snapshot()
    for mask, weight in zip(snapshot.masks[:-1], snapshot.weights[:-1], strict=True):
        std = _std(family, *mask.shape, activation_gain("relu"))
        values = weight[mask].double().numpy()
        args = (0.0, std) if law == "norm" else (-math.sqrt(3) * std, 2 * math.sqrt(3) * std)
        assert stats.kstest(values, law, args=args).pvalue > 1e-3
        assert not weight[~mask].any()


def test_the_initial_network_comes_from_the_topology_stream_alone(execution):
    # pattern, weights and the biases of sparsified layers are drawn from the topology's own
    # generator: the global stream does not change them; the biases follow nn.Linear's law
    first, second = Harness(execution), Harness(execution)
    third = Harness(execution, global_seed=12345)  # another global stream, the same topology's
    for a, b in ((first, second), (first, third)):
        assert all(torch.equal(x, y) for x, y in zip(a.snapshot().weights, b.snapshot().weights,
                                                     strict=True))
    for layer in first.layers:
        bias = dict(first.model.named_parameters())[layer.name[:-len("weight")] + "bias"]
        bias_again = dict(third.model.named_parameters())[layer.name[:-len("weight")] + "bias"]
        assert torch.equal(bias, bias_again)
        bound = 1.0 / math.sqrt(layer_shape(first, layer)[1])
        assert stats.kstest(bias.detach().double().numpy(), "uniform",
                            args=(-bound, 2 * bound)).pvalue > 1e-3


def layer_shape(h: Harness, layer) -> tuple[int, int]:
    return tuple(h.snapshot().masks[h.layers.index(layer)].shape)


def test_sparse_kaiming_scales_each_unit_by_its_fan_in(execution):
    # on the real path (fan-ins vary little under a random mask) and on a mask whose units
    # have fan-ins 4 and 400, where one scale for all units would be far off for both
    h = Harness(execution, weight_init="sparse_kaiming", density=0.2)
    snapshot = h.snapshot()
    gain = activation_gain("relu")
    mask = torch.zeros(2, 1000)
    mask[0, :4] = mask[1, :400] = 1.0
    rows, cols = mask.nonzero(as_tuple=True)
    values = torch.empty(len(rows))
    draw_entries(WEIGHT_INITS["sparse_kaiming"](mask.shape, mask.sum(dim=1), gain), values, rows,
                 torch.Generator().manual_seed(0))
    weight = torch.zeros(2, 1000).index_put_((rows, cols), values)
    pairs = [*zip(snapshot.masks, snapshot.weights, strict=True), (mask.bool(), weight * mask)]
    for mask, weight in pairs:
        fan_in = mask.sum(dim=1, keepdim=True).clamp_min(1)
        standardized = (weight * fan_in.sqrt() / gain)[mask].double().numpy()
        assert stats.kstest(standardized, "norm").pvalue > 1e-3


# -- schedules -----------------------------------------------------------------------------
def test_gradual_schedule_prunes_the_lowest_to_the_cubic_target(execution):
    # Zhu & Gupta: density(t) = d + (d0 - d)(1 - t / (T/2))^3, pruned at each epoch end by the
    # prune score; the optimizer state of the kept connections goes on, training goes on
    h = Harness(execution, sparsity_schedule="gradual", initial_density=0.6, density=0.1,
                update_every="never", optimizer="adam", lr=0.01)
    half = h.total_steps / 2
    updates = 0
    for before, after in h.updates():
        updates += 1
        density = 0.1 + 0.5 * (1 - min(1.0, h.step / half)) ** 3
        assert h.topology.target_density() == pytest.approx(density, abs=0.01)
        for i in range(len(h.layers)):
            pruned, grown = pruned_and_grown(before, after, i)
            assert not grown.any()
            k = int(before.masks[i].sum()) - int(after.masks[i].sum())
            assert_extreme(pruned, before.masks[i], before.weights[i].abs(), k, lowest=True)
            for key, value in after.states[i].items():
                assert torch.equal(value[after.masks[i]], before.states[i][key][after.masks[i]])
    assert updates == 5 and h.step == h.total_steps
    assert h.topology.density() == pytest.approx(0.1, abs=0.01)



def test_global_scope_prunes_the_lowest_magnitudes_across_all_layers(execution):
    # GraNet: each gradual prune removes the smallest |w| of the whole network, so the layers'
    # densities part from the distribution's (uniform here) while the total follows the cubic
    h = Harness(execution, sparsity_schedule="gradual", prune_scope="global",
                initial_density=0.6, density=0.1, update_every="never", optimizer="adam",
                lr=0.01, distribution="uniform")
    half = h.total_steps / 2
    updates, spread = 0, 0.0
    for before, after in h.updates():
        updates += 1
        density = 0.1 + 0.5 * (1 - min(1.0, h.step / half)) ** 3
        assert h.topology.target_density() == pytest.approx(density, abs=0.01)
        pruned = torch.cat([pruned_and_grown(before, after, i)[0].flatten()
                            for i in range(len(h.layers))])
        active = torch.cat([m.flatten() for m in before.masks])
        magnitude = torch.cat([w.abs().flatten() for w in before.weights])
        k = int(active.sum()) - sum(int(m.sum()) for m in after.masks)
        assert_extreme(pruned, active, magnitude, k, lowest=True)
        layer_densities = [float(m.float().mean()) for m in after.masks]
        spread = max(spread, max(layer_densities) - min(layer_densities))
    assert updates == 5 and h.topology.density() == pytest.approx(0.1, abs=0.01)
    assert spread > 0.05  # the layers' shares follow the ranking, not the uniform distribution

DECAY_SPEC = {
    "constant": lambda p: 1.0,
    "cosine": lambda p: 0.5 * (1.0 + math.cos(math.pi * p)),
    "linear": lambda p: 1.0 - p,
}


@pytest.mark.parametrize("name", DECAYS.names())
def test_zeta_decay_sets_how_many_connections_move(execution, name):
    assert name in DECAY_SPEC, f"zeta decay {name!r} has no specification here"
    h = Harness(execution, zeta_decay=name, zeta=0.5, delta_t=10, t_end=0.8, epochs=10)
    last = 0.8 * h.total_steps
    steps = []
    for before, after in h.updates():
        steps.append(h.step)
        for i in range(len(h.layers)):
            _, grown = pruned_and_grown(before, after, i)
            target = int(before.masks[i].sum())
            assert int(grown.sum()) == round(0.5 * DECAY_SPEC[name](h.step / last) * target)
    assert steps == list(range(10, int(last) + 1, 10))
