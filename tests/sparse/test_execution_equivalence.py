"""The execution paths are one algorithm: for a seed, every preset trains the same network on
both, with the same batches, the same pruned and grown sets at every update and the same accuracy
up to float rounding (the sparse kernels sum in another order).

Dropout is set to 0: torch draws dropout masks in memory order, and the sparse path's activations
are transposed views, so with dropout the two paths draw different masks of the same law.
"""

import pytest
import torch
from conformance_harness import READERS, refused

from metasparse.errors import ConfigError
from metasparse.features import fit_evolving
from metasparse.space import get_preset, preset_names


def train(preset: str, execution: str, **model) -> tuple[float, list[list[torch.Tensor]]]:
    config = {**get_preset(preset), "hidden_sizes": "64,64", "execution": execution,
              "delta_t": 10, "batch_size": 32, "dropout": 0.0, **model}
    if config.get("dense_last_layer"):  # at NeuroFS's 6%, that layer alone exceeds the budget
        config["density"] = max(config["density"], 0.1)
    masks: list[list[torch.Tensor]] = []

    def record(step, topology, optimizer) -> None:
        if topology.stats.updates > len(masks):
            masks.append([READERS[execution].mask(layer) for layer in topology.layers])

    # with its input evolution where it has one (WAST, NeuroFS: the masked path only)
    result = fit_evolving(config, "digits", 2, seed=3, on_step=record).result
    return result.val_accuracy, masks


@pytest.mark.parametrize("preset", preset_names())
def test_both_paths_train_the_same_network(preset):
    masked_accuracy, masked_masks = train(preset, "masked")
    if refused("sparse", get_preset(preset)):
        with pytest.raises(ConfigError, match="execution=masked"):
            train(preset, "sparse")
        return
    sparse_accuracy, sparse_masks = train(preset, "sparse")
    assert len(sparse_masks) == len(masked_masks)
    for update, (ours, theirs) in enumerate(zip(sparse_masks, masked_masks, strict=True)):
        assert all(torch.equal(a, b) for a, b in zip(ours, theirs, strict=True)), update
    assert sparse_accuracy == pytest.approx(masked_accuracy, abs=0.005)


# LSTM gates: gradient growth (summed over time steps) and random growth. Cosine growth is left
# out: an LSTM's four gates share one output activation, so its scores tie in fours and each
# path may pick another member of a tie (the conformance suite allows any tied candidate).
@pytest.mark.parametrize("preset", ["rigl", "set"])
def test_both_paths_train_the_same_lstm(preset):
    lstm = {"model": "lstm", "hidden_sizes": "32", "optimizer": "adam", "lr": 0.01}
    masked_accuracy, masked_masks = train(preset, "masked", **lstm)
    sparse_accuracy, sparse_masks = train(preset, "sparse", **lstm)
    assert len(sparse_masks) == len(masked_masks) > 0
    for update, (ours, theirs) in enumerate(zip(sparse_masks, masked_masks, strict=True)):
        assert all(torch.equal(a, b) for a, b in zip(ours, theirs, strict=True)), update
    assert sparse_accuracy == pytest.approx(masked_accuracy, abs=0.005)
    assert masked_accuracy > 0.3  # the network learns: the comparison is not between two failures
