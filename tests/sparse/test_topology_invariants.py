"""The invariants of the README ("The trainer's axes"), checked after every optimizer step and
topology update of every preset and of random points of the meta-space, on a real dataset
(digits)."""

import itertools

import pytest
import torch
from conformance_harness import EXECUTIONS, READERS, refused

from metasparse.data import load_dataset
from metasparse.errors import ConfigError
from metasparse.features import fit_evolving
from metasparse.models import build_model, sparsifiable_parameters
from metasparse.space import get_preset, load_space, preset_names, resolve_config
from metasparse.sparse import layer_densities
from metasparse.train import run_config


class InvariantChecker:
    """Checks the invariants after every step, on any execution path (through the readers of
    the conformance harness)."""

    def __init__(self, execution="masked"):
        self.readers = READERS[execution]
        self.previous = {}
        self.updates_seen = 0
        self.grown_seen = 0
        self.steps = 0

    def __call__(self, step, topology, optimizer):
        self.steps += 1
        for layer in topology.layers:
            mask = self.readers.mask(layer)
            # the active count equals the layer's target: no under-growth, no growth into
            # already-active slots
            assert int(mask.sum()) == layer.target, (layer.name, step)
            if hasattr(layer, "mask"):  # the masked path: inactive weights are exactly zero
                assert torch.count_nonzero(layer.weight.detach()[~mask]) == 0, (layer.name, step)
            grown = mask & ~self.previous.get(layer.name, mask)
            if grown.any():
                self.grown_seen += int(grown.sum())
                # the optimizer state of grown connections is reset (momentum, Adam moments)
                for key, value in self.readers.state(layer, optimizer).items():
                    assert torch.count_nonzero(value[grown]) == 0, (layer.name, key, step)
            self.previous[layer.name] = mask.clone()
        self.updates_seen = topology.stats.updates


def _frequent_updates(config):
    config = dict(config)
    config.update(batch_size=32, delta_t=10)
    return config


@pytest.mark.parametrize("execution", EXECUTIONS)
@pytest.mark.parametrize("preset", preset_names())
def test_invariants_hold_for_every_preset(preset, execution):
    checker = InvariantChecker(execution)
    config = _frequent_updates(get_preset(preset))
    config.update(hidden_sizes="128,128", execution=execution)
    if refused(execution, config):
        with pytest.raises(ConfigError, match="execution=masked"):
            fit_evolving(config, "digits", 2, seed=0)
        return
    # with its input evolution where it has one (WAST, NeuroFS)
    result = fit_evolving(config, "digits", 2, seed=0, on_step=checker).result
    assert result.status == "success"
    assert checker.steps == 2 * 34
    assert result.density == pytest.approx(result.target_density, abs=0.01)
    if config["update_every"] != "never" and config["sparsity_schedule"] == "constant":
        assert checker.updates_seen > 0 and checker.grown_seen > 0


def _meta_points(n, seed):
    """n points of the meta-space that train with topology updates (t_end 1, so that an update
    falls within 2 epochs): infeasible points (dense first/last layers beyond the budget) and
    points without updates are drawn again."""
    space = load_space("meta", seed=seed)
    points = []
    while len(points) < n:
        config = dict(space.sample_configuration())
        config.update(hidden_sizes="64,64", channels="16,32", t_end=1.0)
        config = resolve_config(_frequent_updates(config))
        if config["update_every"] == "never":
            continue
        try:
            check_feasible(config)
        except ConfigError:
            continue
        points.append(config)
    return points


def _row_slack(config) -> float:
    """How far from the asked density constant fan-in may land: each layer holds whole rows
    (its count rounded to a multiple of its units, off by half a unit's worth at most) and,
    after neuron ablation, leaves a remainder of its budget unused (fewer entries than
    surviving units): below 1.5 x units entries per layer."""
    if config["fan_in"] == "free":
        return 0.0
    data = load_dataset("digits")
    model = build_model(config, data.n_features, data.n_classes, data.image_shape)
    shapes = [w.shape for _, w in sparsifiable_parameters(model)]
    return sum(1.5 * s[0] for s in shapes) / sum(s.numel() for s in shapes)


def check_feasible(config):
    """Raises the trainer's ConfigError when the point's layer densities cannot be met."""
    data = load_dataset("digits")
    model = build_model(config, data.n_features, data.n_classes, data.image_shape)
    shapes = [tuple(w.shape) for _, w in sparsifiable_parameters(model)]
    layer_densities(shapes, config["density"], config["distribution"],
                    dense_first_layer=config["dense_first_layer"],
                    dense_last_layer=config["dense_last_layer"])


@pytest.mark.parametrize("config", _meta_points(12, seed=3),
                         ids=lambda c: f"{c['model']}-{c['prune_score']}-{c['grow_score']}")
def test_invariants_hold_for_random_points_of_the_meta_space(config):
    checker = InvariantChecker()
    result = run_config(config, "digits", epochs=2, seed=1, on_step=checker)
    assert result.status in ("success", "diverged")
    if result.status == "success":
        assert checker.steps == 2 * 34
        assert result.density == pytest.approx(config["density"], abs=0.01 + _row_slack(config))
        assert checker.updates_seen > 0
        if config["sparsity_schedule"] == "constant":
            assert checker.grown_seen > 0


def test_same_seed_same_result_and_other_seed_differs():
    config = _frequent_updates(get_preset("rigl"))
    config["hidden_sizes"] = "64"
    first = run_config(config, "digits", epochs=2, seed=7).to_dict()
    second = run_config(config, "digits", epochs=2, seed=7).to_dict()
    other = run_config(config, "digits", epochs=2, seed=8).to_dict()
    for r in (first, second, other):
        r.pop("wall_time_s"), r.pop("update_time_s")
    assert first == second
    assert first["val_curve"] != other["val_curve"]


def test_gradual_schedule_reaches_the_target_density():
    config = get_preset("granet")
    config.update(hidden_sizes="128,128", density=0.05, initial_density=0.6)
    densities = []
    run_config(config, "digits", epochs=6, seed=0,
               on_step=lambda s, t, o: densities.append(t.density()))
    assert densities[0] == pytest.approx(0.6, abs=0.01)
    assert densities[-1] == pytest.approx(0.05, abs=0.005)
    assert all(a >= b for a, b in itertools.pairwise(densities))


def test_static_sparse_keeps_its_mask():
    masks = []
    config = get_preset("static")
    config["hidden_sizes"] = "64"
    run_config(config, "digits", epochs=1, seed=0,
               on_step=lambda s, t, o: masks.append(t.layers[0].mask.clone()))
    assert all(torch.equal(masks[0], m) for m in masks)


def test_dense_layers_hold_no_mask_memory_until_they_become_sparse():
    # the dense preset carries no masks; a gradual schedule from density 1 starts the same way,
    # then materializes real masks at its first prune and keeps the invariants
    dense = []
    run_config(dict(get_preset("dense"), hidden_sizes="64"), "digits", epochs=1, seed=0,
               on_step=lambda s, t, o: dense.append([la.mask.stride() for la in t.layers]))
    assert all(stride == (0, 0) for strides in dense for stride in strides)

    checker = InvariantChecker()
    strides = []

    def hook(step, topology, optimizer):
        checker(step, topology, optimizer)
        strides.append(topology.layers[1].mask.stride())

    config = _frequent_updates(get_preset("granet"))
    config.update(hidden_sizes="64,64", density=0.1, initial_density=1.0)
    result = run_config(config, "digits", epochs=4, seed=0, on_step=hook)
    assert result.density == pytest.approx(0.1, abs=0.01)
    assert strides[0] == (0, 0) and strides[-1] == (64, 1)


def test_update_stats_count_the_updates_and_the_connections_they_moved():
    # what results report as topology_updates, connections_moved and update_time_s
    config = {**get_preset("set"), "hidden_sizes": "64", "density": 0.2}
    masks, moves = [], []

    def watch(step, topology, optimizer):
        now = [layer.mask.clone() for layer in topology.layers]
        if masks and any(not torch.equal(a, b) for a, b in zip(masks[-1], now, strict=True)):
            moves.append(sum(int(((b != 0) & (a == 0)).sum())
                             for a, b in zip(masks[-1], now, strict=True)))
        masks.append(now)

    from metasparse.train import fit

    trained = fit(config, load_dataset("digits"), 4, seed=0, device="cpu", on_step=watch)
    stats = trained.topology.stats
    assert len(moves) >= 3 and stats.updates == len(moves)  # SET: once per epoch but the last
    # SET grows zeta x each layer's active count per update (constant zeta), where a connection
    # may regrow at a position pruned in the same update: at least the newly active ones
    per_update = sum(round(config["zeta"] * layer.target) for layer in trained.topology.layers)
    assert stats.moved == stats.updates * per_update >= sum(moves) > 0
    assert 0 < stats.seconds < trained.result.wall_time_s
