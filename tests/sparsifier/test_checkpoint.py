"""A user's training loop that checkpoints the model, the optimizer and the sparsifier, and a
training resumed from that checkpoint, which continues exactly as the uninterrupted one."""

from __future__ import annotations

import io

import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

import metasparse
from metasparse.errors import ConfigError

STEPS, CHECKPOINT = 24, 7  # topology updates every 4 steps: the first step after it has one


def _start(preset: str, seed: int, execution: str = "masked", hidden: int = 64, **config):
    """A user's MLP, SGD with momentum and a sparsifier (updates every 4 steps unless `config`
    says otherwise), all drawn from `seed`."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    sparsifier = metasparse.sparsify(model, optimizer, STEPS, preset=preset, execution=execution,
                                     seed=seed, **{"delta_t": 4, "steps_per_epoch": 4, **config})
    return model, optimizer, sparsifier


def _train(model: nn.Module, optimizer: torch.optim.Optimizer,
           sparsifier: metasparse.Sparsifier, steps: range) -> None:
    """The loop of the sparsify docs over the digits, the batch of each step fixed."""
    x, y = load_digits(return_X_y=True)
    x, y = torch.tensor(x / 16.0, dtype=torch.float32), torch.tensor(y)
    batches = torch.randint(len(x), (STEPS, 32), generator=torch.Generator().manual_seed(1))
    for step in steps:
        nn.functional.cross_entropy(model(x[batches[step]]), y[batches[step]]).backward()
        optimizer.step()
        sparsifier.step()
        optimizer.zero_grad()


def _patterns(sparsifier: metasparse.Sparsifier) -> list[torch.Tensor]:
    """Each layer's active positions as a dense bool matrix (an active weight may be 0)."""
    return [la.mask.bool() if hasattr(la, "mask")
            else la.linear.layout.to_dense(torch.ones(la.linear.nnz)).bool()
            for la in sparsifier.topology.layers]


def _checkpoint(model, optimizer, sparsifier) -> io.BytesIO:
    saved = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "sparsifier": sparsifier.state_dict()}, saved)
    saved.seek(0)
    return saved


CASES = [
    ("masked", "set", {}), ("sparse", "set", {}),
    ("masked", "rigl", {}), ("sparse", "rigl", {}),  # the sparse path captures its gradient
    ("masked", "granet", {}), ("sparse", "granet", {}),  # gradual: fewer weights at updates
    ("masked", "set", {"grow_score": "unfired"}), ("sparse", "set", {"grow_score": "unfired"}),
    ("masked", "chase", {"delta_t": 2, "channel_prune_every": 2}),  # units removed at 4, 8, ..
]


@pytest.mark.parametrize("order", [("sparsifier", "model", "optimizer"),
                                   ("optimizer", "model", "sparsifier")])
@pytest.mark.parametrize(("execution", "preset", "config"), CASES)
def test_a_training_resumed_from_a_checkpoint_continues_exactly(execution, preset, config, order):
    model, optimizer, sparsifier = _start(preset, 0, execution, **config)
    _train(model, optimizer, sparsifier, range(CHECKPOINT))
    saved = _checkpoint(model, optimizer, sparsifier)
    at_checkpoint = _patterns(sparsifier)
    _train(model, optimizer, sparsifier, range(CHECKPOINT, STEPS))  # uninterrupted

    # a new process: built alike (another seed: everything it drew is replaced), then loaded
    checkpoint = torch.load(saved, weights_only=True)
    r_model, r_optimizer, r_sparsifier = _start(preset, 1, execution, **config)
    built = {"model": r_model, "optimizer": r_optimizer, "sparsifier": r_sparsifier}
    for key in order:  # any order
        built[key].load_state_dict(checkpoint[key])
    _train(r_model, r_optimizer, r_sparsifier, range(CHECKPOINT, STEPS))

    assert r_sparsifier.steps == sparsifier.steps == STEPS
    assert r_sparsifier.topology.stats.updates == sparsifier.topology.stats.updates
    final = _patterns(sparsifier)
    assert any(not torch.equal(a, b) for a, b in zip(at_checkpoint, final, strict=True))
    assert all(torch.equal(a, b) for a, b in zip(_patterns(r_sparsifier), final, strict=True))
    weights, r_weights = model.state_dict(), r_model.state_dict()
    assert weights.keys() == r_weights.keys()
    assert all(torch.equal(weights[k], r_weights[k]) for k in weights)
    assert torch.equal(r_sparsifier.topology.generator.get_state(),
                       sparsifier.topology.generator.get_state())


@pytest.mark.parametrize(("execution", "preset", "config"), CASES)
def test_going_back_to_an_earlier_state_in_the_same_process_replays_the_same_steps(
        execution, preset, config):
    # at step 3 GraNet's last layer is still dense (no mask), Chase has removed no unit and the
    # history of unfired growth holds the initial pattern only
    model, optimizer, sparsifier = _start(preset, 0, execution, **config)
    _train(model, optimizer, sparsifier, range(3))
    state = sparsifier.state_dict()  # a snapshot: later steps leave it as it is
    saved = _checkpoint(model, optimizer, sparsifier)  # their state dicts are references
    _train(model, optimizer, sparsifier, range(3, STEPS))
    final = _patterns(sparsifier)
    weights = {k: v.clone() for k, v in model.state_dict().items()}

    checkpoint = torch.load(saved, weights_only=True)
    sparsifier.load_state_dict(state)
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    assert sparsifier.steps == 3
    _train(model, optimizer, sparsifier, range(3, STEPS))
    assert all(torch.equal(a, b) for a, b in zip(_patterns(sparsifier), final, strict=True))
    assert all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())


@pytest.mark.parametrize(("changes", "message"), [
    ({"delta_t": 5}, r"^The sparsifier state was saved with delta_t=4; this sparsifier has "
                     r"delta_t=5: build it with the same arguments$"),
    ({"execution": "sparse", "density": 0.2},
     r"^The sparsifier state was saved with execution='masked', density=0.1, "
     r"target_density=0.1; this sparsifier has execution='sparse', density=0.2, "
     r"target_density=0.2: build"),
    ({"hidden": 32}, r"^The sparsifier state was saved with layer 0.weight of shape \(64, 64\); "
                     r"this sparsifier has 0.weight of shape \(32, 64\)$"),
])
def test_a_state_of_another_configuration_or_model_is_refused_in_one_line(changes, message):
    model, optimizer, sparsifier = _start("rigl", 0)
    _train(model, optimizer, sparsifier, range(CHECKPOINT))
    state = sparsifier.state_dict()
    other = _start("rigl", 0, **changes)[2]
    generator, patterns = other.topology.generator.get_state(), _patterns(other)
    with pytest.raises(ConfigError, match=message):
        other.load_state_dict(state)
    assert other.steps == 0  # nothing changed
    assert torch.equal(other.topology.generator.get_state(), generator)
    assert all(torch.equal(a, b) for a, b in zip(_patterns(other), patterns, strict=True))


def test_a_state_from_another_device_or_not_a_sparsifiers_is_refused_in_one_line():
    model, _, sparsifier = _start("rigl", 0)
    state = sparsifier.state_dict()
    state["topology"]["generator_device"] = "cuda"
    with pytest.raises(ConfigError, match=r"saved with its random stream on cuda; this "
                                          r"sparsifier's is on cpu: sparsify the model on cuda$"):
        sparsifier.load_state_dict(state)
    with pytest.raises(ConfigError, match=r"^The 'state' parameter must be a "
                                          r"Sparsifier.state_dict\(\) .*; got OrderedDict$"):
        sparsifier.load_state_dict(model.state_dict())


def test_the_repr_tells_the_path_the_algorithm_the_density_the_steps_and_the_updates():
    model, optimizer, sparsifier = _start("granet", 0, "sparse")
    _train(model, optimizer, sparsifier, range(CHECKPOINT))
    assert repr(sparsifier) == (
        "Sparsifier(execution='sparse', prune='magnitude', grow='gradient', density 0.219 "
        "(target 0.100) over 2 layers, step 7/24, topology updates every 4 steps until step "
        "23, next at step 8)")
    _train(model, optimizer, sparsifier, range(CHECKPOINT, STEPS))
    assert repr(sparsifier).endswith("density 0.100 (target 0.100) over 2 layers, step 24/24, "
                                     "topology updates every 4 steps until step 23, none left)")
    static = _start("set", 0, update_every="never")[2]
    assert repr(static).endswith("step 0/24, no topology update)")
