"""The input evolutions (features._evolution) follow the rules their papers state, on small
synthetic data: WAST grows the first layer's connections in the input neurons of highest
importance and drops by |w| x importance; NeuroFS removes the weakest mature input neurons on
its schedule, brings in inactive ones of largest gradient, and keeps the layer's count."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification

from metasparse.data import dataset_from_arrays, scale_inputs
from metasparse.errors import ConfigError
from metasparse.features import fit_evolving, rank_features, select_features
from metasparse.features._evolution import NeuroFS, Wast, grow_by_units, set_prune
from metasparse.space import get_preset, resolve_config
from metasparse.train import fit

N_FEATURES, K = 60, 5


def _data(n: int = 300):
    x, y = make_classification(n_samples=n, n_features=N_FEATURES, n_informative=K,
                               n_redundant=0, n_clusters_per_class=1, class_sep=2.0,
                               shuffle=False, random_state=0)
    return dataset_from_arrays("evolution", x.astype(np.float32), y)


WAST = {**get_preset("wast"), "hidden_sizes": "32", "batch_size": 50}
NEUROFS = {**get_preset("neurofs"), "hidden_sizes": "32,32", "batch_size": 50}


def _mask(layer) -> torch.Tensor:
    return layer.mask.reshape(layer.mask.shape[0], -1).bool().clone()


def test_grow_by_units_fills_the_best_units_first():
    mask = torch.zeros(4, 6, dtype=torch.bool)
    mask[:, 0] = True  # column 0 is full
    score = torch.tensor([9.0, 1.0, 8.0, 7.0, 0.5, 0.2])
    grown = grow_by_units(mask, score, 6, 1, torch.Generator().manual_seed(0))
    cols = (grown % 6).tolist()
    # column 0 has no free slot: columns 2 (4 slots) then 3 (2 of its 4, at random)
    assert sorted(cols) == [2, 2, 2, 2, 3, 3]
    assert not mask.view(-1)[grown].any()


def test_set_prune_drops_smallest_positive_and_largest_negative_in_proportion():
    weight = torch.tensor([[0.1, 0.2, 0.3, 0.4], [-0.1, -0.2, -0.3, -0.4]])
    entries = torch.arange(8)
    pruned = set_prune(weight, entries, 2).tolist()
    assert sorted(pruned) == [0, 4]  # 0.1 and -0.1


def test_wast_grows_towards_the_most_important_inputs_and_keeps_counts():
    config = resolve_config(WAST)
    evolution = Wast(config, epochs=2, k=K)
    checked = []

    def on_step(step, topology, optimizer):
        first = topology.layers[0]
        before = _mask(first)
        evolution.step(step, topology, optimizer)
        after = _mask(first)
        for layer in topology.layers:
            assert layer.active == layer.target  # the count each layer holds
            assert torch.all(layer.weight[~layer.mask.bool()] == 0)
        grown_cols = (after & ~before).any(dim=0)
        importance = evolution.importance_in
        free = (~after).any(dim=0)
        if grown_cols.any():
            # a column with a free slot after the update is no more important than any column
            # that grew: growth went to the most important inputs first
            assert importance[free].max() <= importance[grown_cols].min() + 1e-9
            checked.append(step)

    on_step.input_evolution = config["input_evolution"]  # as fit_evolving marks it
    fit(config, _data(), 2, seed=0, on_step=on_step)
    assert len(checked) >= 5


def test_wast_drops_by_weight_times_importance():
    """The dropped connections of the first layer are those of lowest |w| x importance rank
    within their sign: none kept scores lower than a dropped one of the same sign."""
    config = resolve_config(WAST)
    evolution = Wast(config, epochs=1, k=K)
    checked = []

    def on_step(step, topology, optimizer):
        first = topology.layers[0]
        before = _mask(first)
        weight = first.weight.detach().clone()
        importance = evolution.importance_in.clone() if evolution.topology else None
        evolution.step(step, topology, optimizer)
        if importance is None:
            return
        # the importance that the update used: the one after this step's accumulation
        scaled = weight * evolution.importance_in.to(weight)[None, :]
        # a dropped connection may be regrown at once, with a zero weight (regrow_init zero)
        regrown = before & _mask(first) & (first.weight.detach() == 0)
        dropped = (before & ~_mask(first)) | regrown
        kept = before & _mask(first) & ~regrown
        for sign in (1, -1):
            d = scaled[dropped & (sign * weight > 0)].abs()
            k = scaled[kept & (sign * weight > 0)].abs()
            if d.numel() and k.numel():
                assert d.max() <= k.min() + 1e-6
        checked.append(step)

    on_step.input_evolution = config["input_evolution"]  # as fit_evolving marks it
    fit(config, _data(), 1, seed=0, on_step=on_step)
    assert checked


def test_wast_importance_accumulates_reconstruction_error_and_strength():
    """Each step adds lambda x mean_batch |x - xhat| + (1 - lambda) x strength to an input
    neuron's importance: checked with one batch of the whole training split and no noise, so
    that xhat is the network's output on the training split before the step."""
    data = _data(120)
    config = resolve_config({**WAST, "batch_size": 10_000, "denoise_noise": 0.0})
    x = scale_inputs(data, config["input_scaling"]).X_train
    lam = config["wast_lambda"]
    evolution = Wast(config, epochs=4, k=K)
    state = {}

    def on_step(step, topology, optimizer):
        first, last = topology.layers
        with torch.no_grad():  # after the optimizer step, before the update
            strength = (first.weight * first.mask).abs().sum(dim=0).double()
        before = evolution.importance_in.clone() if evolution.topology else None
        evolution.step(step, topology, optimizer)
        with torch.no_grad():
            if before is not None and "xhat" in state:
                error = (x - state["xhat"]).abs().mean(dim=0).double()
                expected = before + lam * error + (1 - lam) * strength
                assert torch.allclose(evolution.importance_in, expected, rtol=1e-4, atol=1e-6)
                state["checked"] = state.get("checked", 0) + 1
            state["xhat"] = last.module(torch.sigmoid(first.module(x)))  # the next step's

    on_step.input_evolution = config["input_evolution"]  # as fit_evolving marks it
    fit(config, data, 4, seed=0, on_step=on_step)
    assert state.get("checked", 0) >= 2


def test_wast_importance_ranks_and_same_seed_same_ranking():
    a = rank_features(fit_evolving(WAST, _data(), 2, seed=3), "wast")
    b = rank_features(fit_evolving(WAST, _data(), 2, seed=3), "wast")
    assert np.array_equal(a.scores, b.scores)
    assert np.all(a.scores > 0)


def test_neurofs_removes_the_weakest_mature_inputs():
    """The code's select_input_neurons_to_remove on a crafted state: 20 inputs, K = 2,
    zeta_in 0.2 (14 to remove by epoch 6 of 10); at epoch 2 four are due, the weakest mature
    ones go and the immature ones (just brought in) stay, however weak."""
    evolution = NeuroFS(resolve_config(NEUROFS), epochs=10, k=2)
    evolution.dim, evolution.dim_to_remove, evolution.epoch_remove = 20, 14, 6
    evolution.dim_removed = 0
    evolution.protection = torch.ones(20, dtype=torch.long)
    evolution.protection[[0, 1]] = 0  # immature
    strength = torch.arange(20, dtype=torch.float32)
    keep, remove, n_update = evolution._select_neurons(2, strength, torch.ones(20, dtype=bool))
    assert sorted(remove.tolist()) == [2, 3]  # 0 and 1 are weaker but immature
    assert sorted(keep.tolist()) == [0, 1, *range(4, 20)]
    assert evolution.dim_removed == 2 and n_update == 0  # only two mature ones could go
    # the next epoch 0 and 1 have matured; 2 and 3 are gone: the four weakest active go
    active = torch.ones(20, dtype=torch.bool)
    active[[2, 3]] = False
    keep, remove, _ = evolution._select_neurons(3, strength, active)
    assert sorted(remove.tolist()) == [0, 1, 4, 5]
    assert evolution.dim_removed == 6


def test_neurofs_keeps_its_count_and_ends_at_zeta_in_d_plus_k():
    config = resolve_config(NEUROFS)
    epochs = 8
    evolution = NeuroFS(config, epochs=epochs, k=K)
    counts = []

    def on_step(step, topology, optimizer):
        evolution.step(step, topology, optimizer)
        first = topology.layers[0]
        assert first.active == first.target == evolution.count  # the layer keeps its count
        if step % evolution.steps_per_epoch == 0:
            counts.append(int(_mask(first).any(dim=0).sum()))

    on_step.input_evolution = config["input_evolution"]  # as fit_evolving marks it
    fit(config, _data(), epochs, seed=0, on_step=on_step)
    end = int(config["neurofs_zeta_in"] * N_FEATURES + K)
    assert counts[0] > end
    assert counts[-1] <= end  # by neurofs_remove_end of training


def test_neurofs_brings_in_inactive_inputs_of_largest_gradient():
    config = resolve_config(NEUROFS)
    evolution = NeuroFS(config, epochs=8, k=K)
    seen = []

    def on_step(step, topology, optimizer):
        first = topology.layers[0]
        was = _mask(first).any(dim=0)
        ready = evolution.topology is not None
        gradient = (evolution.gradients[0] + first.weight.grad).abs().amax(dim=0) if ready \
            else None
        evolution.step(step, topology, optimizer)
        now = _mask(first).any(dim=0)
        added = ~was & now
        if gradient is not None and added.any():
            # an inactive input that stayed out had no larger gradient than one brought in
            # (inactive ones just removed are no candidates: they were active)
            out = ~was & ~now
            if out.any():
                assert gradient[out].max() <= gradient[added].min() + 1e-6
                seen.append(step)

    on_step.input_evolution = config["input_evolution"]  # as fit_evolving marks it
    fit(config, _data(), 8, seed=0, on_step=on_step)
    assert seen


def test_refusals_are_one_line():
    with pytest.raises(ConfigError, match="update_every='never'"):
        fit_evolving({**WAST, "update_every": "epoch"}, _data(), 1)
    with pytest.raises(ConfigError, match="task='autoencoder'"):
        fit_evolving({**WAST, "task": "classifier"}, _data(), 1)
    with pytest.raises(ConfigError, match=r"'input_evolution' parameter 'neurofs' rewires input "
                                          r"neurons in dense masks.*; use execution=masked"):
        select_features({**NEUROFS, "execution": "sparse"}, _data(), [K], 1, progress=False)
    with pytest.raises(ConfigError, match="input_evolution='wast'"):
        rank_features(fit(get_preset("set") | {"hidden_sizes": "8"}, _data(), 1), "wast")
    with pytest.raises(ConfigError, match="input_evolution='wast'; got 'none'"):  # up front
        select_features(get_preset("set"), _data(), [K], 1, importance="wast", progress=False)
