"""Chase's channel pruning (metasparse/sparse/channels.py, applied in topology.py): at the
scheduled updates each layer but the last removes its units of lowest UMM, so many as the cubic
ramp states; removed units are never grown into, and each layer keeps its active count."""

import math

import pytest
import torch
from conformance_harness import BASE, Harness

from metasparse.errors import ConfigError
from metasparse.models import build_model
from metasparse.space import get_preset, resolve_config
from metasparse.sparse import compressed, gradient_growth
from metasparse.sparse.channels import removed_fraction, units_to_remove
from metasparse.train import build_topology, run_config

CHASE = {"channel_prune": "umm", "channel_prune_ratio": 0.5, "channel_prune_every": 2,
         "channel_prune_end": 0.5}  # delta_t 5 of 100 steps: units removed at steps 10..50


def test_removed_fraction_is_a_cubic_ramp_to_the_ratio_at_the_end():
    assert removed_fraction(0, 100, 0.5, 0.5) == 0.0
    assert removed_fraction(10, 100, 0.5, 0.5) == pytest.approx(0.5 * (1 - 0.8 ** 3))
    assert removed_fraction(50, 100, 0.5, 0.5) == removed_fraction(90, 100, 0.5, 0.5) == 0.5


def test_units_to_remove_takes_the_lowest_of_the_others_up_to_the_floor():
    scores = torch.tensor([0.5, 0.1, 0.9, 0.2, 0.05, 0.7], dtype=torch.float64)
    removed = torch.tensor([False, False, False, False, True, False])
    # 0.5 x 6 = 3 in all, one removed already: the two lowest of the others
    assert units_to_remove(scores, removed, 0.5, 10, 10).tolist() == [1, 3]
    # 45 active weights of fan-in 10 need 5 units: one more may go
    assert units_to_remove(scores, removed, 0.9, 10, 45).tolist() == []
    assert units_to_remove(scores, torch.zeros(6, dtype=torch.bool), 0.9, 10, 45).tolist() == [4]


@pytest.mark.parametrize("execution", ["masked", "sparse"])
def test_chase_removes_the_lowest_umm_units_on_schedule_and_keeps_the_budget(execution):
    h = Harness(execution, **CHASE)
    counts = [int(m.sum()) for m in h.snapshot().masks]
    assert h.layers[-1].removed is None  # the output layer keeps its units
    removed = [layer.removed.clone() for layer in h.layers[:-1]]
    removal_updates = 0
    for n_updates, (before, after) in enumerate(h.updates(), start=1):
        due = n_updates % CHASE["channel_prune_every"] == 0 and h.step <= 50
        removal_updates += due
        for i, was in enumerate(removed):
            now = h.layers[i].removed.clone()
            n_out = now.numel()
            expected = math.floor(n_out * 0.5 * (1 - (1 - h.step / 50) ** 3)) if due else \
                int(was.sum())
            assert int(now.sum()) == max(expected, int(was.sum()))  # the stated number
            new = (now & ~was).nonzero().squeeze(1)
            umm = before.weights[i].abs().double().mean(dim=1).masked_fill(was, math.inf)
            assert set(new.tolist()) == set(umm.argsort(stable=True)[:new.numel()].tolist())
            assert not after.masks[i][now].any()  # removed units hold nothing, never regrown
            # the update moves zeta x count, and regrows the removed units' weights besides
            # (regrow_init layer_init: a weight pruned and regrown gets a new value)
            was_active, is_active = before.masks[i], after.masks[i]
            reset = was_active & is_active & (after.weights[i] != before.weights[i])
            grown = is_active & (~was_active | reset)
            freed = int(was_active[new].sum())
            assert int(grown.sum()) == round(0.3 * counts[i]) + freed
            assert not (after.states[i]["momentum_buffer"][grown] != 0).any()
            # and prunes zeta x count of the lowest |w| among the remaining units
            rest = was_active & ~now[:, None]
            pruned = rest & (~is_active | reset)
            assert int(pruned.sum()) == round(0.3 * counts[i])
            magnitude = before.weights[i].abs()
            assert magnitude[pruned].max() <= magnitude[rest & ~pruned].min()
            removed[i] = now
        # the output layer, which removes nothing, moves zeta x count and no more
        was_active, is_active = before.masks[-1], after.masks[-1]
        reset = was_active & is_active & (after.weights[-1] != before.weights[-1])
        assert int((is_active & (~was_active | reset)).sum()) == round(0.3 * counts[-1])
        assert [int(m.sum()) for m in after.masks] == counts  # each layer keeps its count
        assert [layer.target for layer in h.layers] == counts
    assert removal_updates == 5
    assert [int(r.sum()) for r in removed] == [48, 32]  # half of 96 and of 64 units


@pytest.mark.parametrize("changes", [{"fan_in": "constant"}, {"redistribution": "momentum"}])
def test_chase_is_refused_where_units_cannot_be_removed(changes):
    config = resolve_config({**BASE, "execution": "masked", **CHASE, **changes})
    model = build_model(config, 64, 10)
    with pytest.raises(ConfigError, match="'channel_prune' parameter 'umm'"):
        build_topology(config, model, 10, 100, torch.Generator().manual_seed(0))


@pytest.mark.parametrize("changes", [{}, {"grow_score": "random"}, {"grow_score": "neuron"},
                                     {"grow_candidates": "sampled"}, {"grow_random_ratio": 0.5}],
                         ids=lambda changes: ",".join(map(str, changes.values())) or "gradient")
def test_the_sparse_path_removes_and_regrows_as_the_masked_path(changes):
    masked, sparse = (Harness(execution, **CHASE, **changes) for execution in ("masked", "sparse"))
    updates = 0
    for (_, ours), (_, theirs) in zip(sparse.updates(), masked.updates(), strict=True):
        updates += 1
        for i, (a, b) in enumerate(zip(ours.masks, theirs.masks, strict=True)):
            assert torch.equal(a, b), (updates, i)
            assert torch.allclose(ours.weights[i], theirs.weights[i], atol=1e-5), (updates, i)
        assert all(torch.equal(a.removed, b.removed)
                   for a, b in zip(sparse.layers[:-1], masked.layers[:-1], strict=True))
    assert updates > 0 and int(sparse.layers[0].removed.sum()) > 0


@pytest.mark.parametrize("changes", [{}, {"grow_candidates": "sampled"}],
                         ids=["all", "sampled"])
def test_rigl_growth_by_threshold_skips_the_removed_units_as_the_masked_path(monkeypatch,
                                                                             changes):
    """At these sizes RigL's growth ranks every position; with a small sample it takes
    `top_gradient`'s threshold path, which skips the removed units by row (`rows_out`).
    Sampled candidates (GSE) never take it: they rank their sample only."""
    monkeypatch.setattr(gradient_growth, "SAMPLE", 64)
    by_rows = []

    def spy(*args, **kwargs):
        top = gradient_growth.top_gradient(*args, **kwargs)
        rows_out = args[5] if len(args) > 5 else kwargs.get("rows_out")
        by_rows.append(top is not None and rows_out is not None and bool(rows_out.any()))
        return top

    monkeypatch.setattr(compressed, "top_gradient", spy)
    masked, sparse = (Harness(execution, **CHASE, **changes)
                      for execution in ("masked", "sparse"))
    for (_, ours), (_, theirs) in zip(sparse.updates(), masked.updates(), strict=True):
        for i, (a, b) in enumerate(zip(ours.masks, theirs.masks, strict=True)):
            assert torch.equal(a, b), i
    if not changes:
        assert any(by_rows)  # the threshold path ran with removed units to skip


def test_the_chase_preset_trains_a_cnn_on_coil20():
    # 3 epochs of 9 steps, updates at steps 10 and 20 (before 0.8125 x 27): the channels of the
    # ramp at step 20, or as many as leave the units that hold the layer's budget
    config = {**get_preset("chase"), "model": "cnn", "channels": "16,32", "delta_t": 10}
    seen = []

    def record(step, topology, optimizer) -> None:
        seen[:] = [(layer.removed, layer.target, layer.weight.shape)
                   for layer in topology.layers[:-1]]

    result = run_config(config, "coil20", epochs=3, seed=0, on_step=record)
    fraction = removed_fraction(20, 27, 0.5, 0.8125)
    for removed, target, shape in seen:
        fan = math.prod(shape[1:])
        expected = min(math.floor(fraction * shape[0]), shape[0] - math.ceil(target / fan))
        assert int(removed.sum()) == expected > 0
    assert [int(r.sum()) for r, _, _ in seen] == [5, 15]  # the first layer meets its floor
    assert math.isfinite(result.val_loss)


def test_chase_under_a_gradual_schedule_regrows_only_up_to_the_shrinking_target():
    # removed channels free weights that a falling target no longer needs: regrowing them all
    # overgrew the layer (one weight above target here) or asked for more free positions than
    # the surviving channels have
    config = dict(get_preset("chase"), model="cnn", channels="16,32", hidden_sizes="64",
                  sparsity_schedule="gradual", initial_density=0.3, density=0.1,
                  update_every="steps", delta_t=5, t_end=1.0, channel_prune_every=1,
                  channel_prune_end=0.7)

    def check(step, topology, optimizer):
        for layer in topology.layers:
            assert int(torch.count_nonzero(layer.mask)) == layer.target, (layer.name, step)

    result = run_config(config, "digits", epochs=2, seed=1, on_step=check)
    assert result.status == "success" and result.topology_updates > 0
    assert result.density == pytest.approx(0.1, abs=0.01)
