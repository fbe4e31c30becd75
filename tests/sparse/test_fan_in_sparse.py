"""Constant fan-in (SRigL) on the sparse execution path: for a seed it trains the network the
masked path trains, update by update, neuron ablation included.

The equivalence test (test_execution_equivalence.py) runs the srigl preset, whose short run
ablates no unit; here a salience threshold of 0.7 of the fan-in ablates units at the first
update, and the grow settings that constant fan-in combines with (a random share, a draw by
score, a preference, no preference, strength) run as well. The harness scores the sparse
path's growth in blocks of 15 output rows, so a layer's score is put together from several.
A CNN runs the srigl preset with convolutions (SparseConv2d), whose channels are ablated.
CTRE's cosine is left out: here its scores of a unit's candidates lie within 1e-6 of each other,
so the paths' float rounding of the activations (up to 7e-7 apart) reorders them within a row.
"""

from __future__ import annotations

import pytest
import torch
from conformance_harness import Harness, Snapshot
from test_execution_equivalence import train

SRIGL = {"fan_in": "constant", "min_salient_weights_per_neuron": 0.7, "zeta": 0.5}


def _ablated(snapshot: Snapshot) -> int:
    """Units without any active weight."""
    return sum(int((mask.sum(dim=1) == 0).sum()) for mask in snapshot.masks)


@pytest.mark.parametrize("changes", [
    {},
    {"grow_random_ratio": 0.3},
    {"grow_selection": "multinomial"},
    {"grow_score": "unfired", "grow_random_ratio": 0.3},
    {"grow_score": "random"},
    {"grow_score": "neuron", "regrow_init": "zero"},
], ids=lambda changes: ",".join(f"{k}={v}" for k, v in changes.items()) or "srigl")
def test_the_sparse_path_grows_and_ablates_as_the_masked_path(changes):
    masked, sparse = (Harness(execution, epochs=4, **SRIGL, **changes)
                      for execution in ("masked", "sparse"))
    assert all(torch.equal(a, b) for a, b in zip(masked.snapshot().masks,
                                                 sparse.snapshot().masks, strict=True))
    updates = ablated = 0
    for (_, ours), (_, theirs) in zip(sparse.updates(), masked.updates(), strict=True):
        updates += 1
        for i, (a, b) in enumerate(zip(ours.masks, theirs.masks, strict=True)):
            assert torch.equal(a, b), (updates, i)
            assert torch.allclose(ours.weights[i], theirs.weights[i], atol=1e-5), (updates, i)
        assert [la.target for la in sparse.layers] == [la.target for la in masked.layers]
        assert [la.target for la in sparse.layers] == [int(m.sum()) for m in ours.masks]
        ablated = max(ablated, _ablated(ours))
    assert updates == sparse.topology.stats.updates == masked.topology.stats.updates > 0
    if changes.get("grow_score") != "random":  # ablation needs a score to rank salience by
        assert ablated > 0  # the comparison covers ablated units


def test_ablated_units_leave_the_compressed_layer_and_the_others_keep_their_state():
    # an ablated unit's entries leave the CSR pattern (not stored as zeros); every other kept
    # entry keeps its weight and optimizer state, every grown one starts at zero state
    h = Harness("sparse", **SRIGL, optimizer="adam", lr=0.01)
    before, after = h.advance_to_update()
    assert _ablated(after) > _ablated(before) == 0
    for i, layer in enumerate(h.layers):
        mask = after.masks[i]
        assert layer.linear.nnz == int(mask.sum()) == layer.target
        rows = layer.linear.layout.rows()
        assert torch.equal(torch.bincount(rows, minlength=mask.shape[0]), mask.sum(dim=1))
        kept = before.masks[i] & mask & (after.weights[i] == before.weights[i])
        grown = mask & ~kept
        assert grown.any() and set(after.states[i]) == {"exp_avg", "exp_avg_sq"}
        for key, value in after.states[i].items():
            assert torch.equal(value[kept], before.states[i][key][kept]), key
            assert not value[grown].any(), key


def test_a_cnn_ablates_the_same_channels_on_both_paths():
    cnn = {"model": "cnn", "channels": "8,16", "lr": 0.1, "min_salient_weights_per_neuron": 0.95}
    masked_accuracy, masked_masks = train("srigl", "masked", **cnn)
    sparse_accuracy, sparse_masks = train("srigl", "sparse", **cnn)
    assert len(sparse_masks) == len(masked_masks) > 0
    for update, (ours, theirs) in enumerate(zip(sparse_masks, masked_masks, strict=True)):
        # the sparse path shows a convolution's weight as (channels, inputs x kernel)
        assert all(torch.equal(a, b.reshape(a.shape)) for a, b in zip(ours, theirs,
                                                                      strict=True)), update
    conv = sparse_masks[-1][:2]
    assert sum(int((mask.sum(dim=1) == 0).sum()) for mask in conv) > 0  # channels ablated
    assert sparse_accuracy == pytest.approx(masked_accuracy, abs=0.005)
