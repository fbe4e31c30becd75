"""The harness of the conformance suite: a small MLP on digits, trained step by step through the
trainer's own topology (`metasparse.train.build_topology`), seen as dense tensors.

The suite in test_conformance.py states what every registry entry must do and checks it on the
real update path; it reads the network only through `Snapshot`, never through a path's internals.
An execution path joins the suite by adding its readers to `READERS` (how to see a layer's mask,
its weights and the optimizer's momentum as dense tensors): no test changes.

The expected scores come from an independent reference: the dense gradient and the layer
activations of the update step's batch are recomputed here by a plain dense forward and backward
pass over the network's current (masked) weights, not read from the trainer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest
import torch
from torch import nn
from torch.func import functional_call

from metasparse.data import Dataset, load_dataset, scale_inputs
from metasparse.errors import ConfigError
from metasparse.models import build_model
from metasparse.space import resolve_config
from metasparse.sparse import EXECUTIONS as EXECUTION_PATHS
from metasparse.sparse.compressed import CompressedLayer
from metasparse.sparse.masked import MaskedLayer
from metasparse.train import OPTIMIZERS, build_topology

BASE = {
    "model": "mlp", "hidden_sizes": "96,64", "activation": "relu", "normalization": "none",
    "dropout": 0.0, "weight_init": "kaiming_normal", "density": 0.2, "distribution": "uniform",
    "update_every": "steps", "delta_t": 5, "zeta": 0.3, "zeta_decay": "constant", "t_end": 1.0,
    "prune_score": "magnitude", "grow_score": "gradient", "regrow_init": "layer_init",
    "optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 0.0,
    "lr_schedule": "constant", "batch_size": 64, "label_smoothing": 0.0,
}
STEPS_PER_EPOCH = 10


@dataclass(frozen=True)
class Readers:
    """How one execution path shows a sparse layer as dense tensors."""

    mask: Callable[[Any], torch.Tensor]  # bool, True = active
    weight: Callable[[Any], torch.Tensor]  # zero where inactive
    state: Callable[[Any, torch.optim.Optimizer], dict[str, torch.Tensor]]  # per-weight state
    # settings the path refuses with a one-line ConfigError (the harness checks that it does
    # and skips the test with the reason)
    refuses: frozenset[tuple[str, str]] = frozenset()
    prepare: Callable[[Any], None] = lambda topology: None  # runs once the path is built


def _masked_state(layer: MaskedLayer, optimizer: torch.optim.Optimizer) -> dict:
    return {key: value.detach().clone()
            for key, value in optimizer.state.get(layer.weight, {}).items()
            if isinstance(value, torch.Tensor) and value.shape == layer.weight.shape}


def _compressed_state(layer: CompressedLayer, optimizer: torch.optim.Optimizer) -> dict:
    values = layer.linear.values
    return {key: layer.linear.layout.to_dense(value.detach())
            for key, value in optimizer.state.get(values, {}).items()
            if isinstance(value, torch.Tensor) and value.shape == values.shape}


READERS: dict[str, Readers] = {
    "masked": Readers(
        mask=lambda layer: layer.mask.detach().to(torch.bool).contiguous().clone(),
        weight=lambda layer: (layer.weight.detach() * layer.mask).contiguous().clone(),
        state=_masked_state,
    ),
    "sparse": Readers(
        mask=lambda layer: layer.linear.layout.to_dense(torch.ones(layer.active)).bool(),
        weight=lambda layer: layer.linear.to_dense(),
        state=_compressed_state,
        # SNFS grows by the momentum of inactive weights, a dense buffer that a path storing
        # only active weights does not have
        refuses=frozenset({("grow_score", "momentum"), ("input_evolution", "wast"),
                           ("input_evolution", "neurofs")}),
        # growth scores blocks of 15 output rows here: several blocks per layer
        prepare=lambda topology: setattr(topology, "block_elements", 1000),
    ),
}
assert set(READERS) == set(EXECUTION_PATHS), "every execution path needs its readers here"
EXECUTIONS = tuple(EXECUTION_PATHS)


def refused(execution: str, config: dict) -> list[tuple[str, str]]:
    """The settings of `config` that the path refuses (see `Readers.refuses`)."""
    return [(k, v) for k, v in READERS[execution].refuses if config[k] == v]


def _first_moment(state: dict[str, torch.Tensor]) -> torch.Tensor | None:
    """SGD's momentum buffer or Adam's first moment."""
    return state.get("momentum_buffer", state.get("exp_avg"))


@dataclass
class Snapshot:
    """Every sparsifiable layer of the network at one moment, as dense tensors (one list entry
    per layer, in the topology's order)."""

    masks: list[torch.Tensor]
    weights: list[torch.Tensor]
    momenta: list[torch.Tensor | None]
    states: list[dict[str, torch.Tensor]]
    grads: list[torch.Tensor] | None = None  # reference dense gradient of the last batch
    inputs: list[torch.Tensor] | None = None  # reference layer inputs of the last batch
    outputs: list[torch.Tensor] | None = None  # reference layer outputs of the last batch


@cache
def digits() -> Dataset:
    return scale_inputs(load_dataset("digits"), "standard")


class Harness:
    """One configuration (BASE with `changes`) trained step by step on digits."""

    def __init__(self, execution: str, epochs: int = 10, seed: int = 0,
                 global_seed: int | None = None, **changes) -> None:
        """`global_seed` (default: `seed`) seeds torch's global stream, which builds the model."""
        self.readers = READERS[execution]
        self.config = resolve_config({**BASE, **changes, "execution": execution})
        self.data = digits()
        torch.manual_seed(seed if global_seed is None else global_seed)
        self.generator = torch.Generator().manual_seed(seed)  # the topology's own stream
        self.batches = torch.Generator().manual_seed(seed + 1)
        self.model = build_model(self.config, self.data.n_features, self.data.n_classes)
        # the dense twin that recomputes gradients and activations, whatever the path did to
        # self.model (the sparse path replaces its Linear layers)
        self.twin = build_model(self.config, self.data.n_features, self.data.n_classes)
        self.total_steps = epochs * STEPS_PER_EPOCH
        settings = refused(execution, self.config)
        if settings:
            with pytest.raises(ConfigError, match="execution=masked"):
                build_topology(self.config, self.model, STEPS_PER_EPOCH, self.total_steps,
                               self.generator)
            pytest.skip(f"the {execution!r} path refuses {settings[0][0]}={settings[0][1]!r}")
        self.topology = build_topology(self.config, self.model, STEPS_PER_EPOCH,
                                       self.total_steps, self.generator)
        self.readers.prepare(self.topology)
        self.optimizer = OPTIMIZERS[self.config["optimizer"]](
            self.topology.param_groups(self.model, self.config["lr"],
                                       self.config["lr_scaling"]), self.config)
        self.topology.attach(self.optimizer)
        self.criterion = nn.CrossEntropyLoss()
        self.step = 0

    @property
    def layers(self) -> list[MaskedLayer]:
        return self.topology.layers

    def _batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.randint(len(self.data.X_train), (int(self.config["batch_size"]),),
                            generator=self.batches)
        return self.data.X_train[idx], self.data.y_train[idx]

    def snapshot(self) -> Snapshot:
        r = self.readers
        states = [r.state(la, self.optimizer) for la in self.layers]
        return Snapshot(
            masks=[r.mask(la) for la in self.layers],
            weights=[r.weight(la) for la in self.layers],
            momenta=[_first_moment(state) for state in states],
            states=states,
        )

    def _reference(self, x: torch.Tensor, y: torch.Tensor) -> tuple[list, list, list]:
        """Dense gradient and layer activations of (x, y) at the network's current weights."""
        names = dict(self.twin.named_parameters())
        params = {name: p.detach() for name, p in self.model.named_parameters() if name in names}
        dense = [self.readers.weight(la).requires_grad_(True) for la in self.layers]
        params.update({la.name: w for la, w in zip(self.layers, dense, strict=True)})
        inputs, outputs, handles = [], [], []

        def record(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
            inputs.append(args[0].detach())
            outputs.append(output.detach())

        for layer in self.layers:
            module = self.twin.get_submodule(layer.name.rsplit(".", 1)[0])
            handles.append(module.register_forward_hook(record))
        try:
            loss = self.criterion(functional_call(self.twin, params, (x,)), y)
        finally:
            for handle in handles:
                handle.remove()
        return list(torch.autograd.grad(loss, dense)), inputs, outputs

    def train_step(self, batch: tuple[torch.Tensor, torch.Tensor] | None = None) -> None:
        """One optimizer step on `batch` (default: a fresh one), without the after-step hook."""
        self.step += 1
        x, y = batch if batch is not None else self._batch()
        self.optimizer.zero_grad(set_to_none=True)
        with self.topology.observe(self.step):
            loss = self.criterion(self.model(x), y)
        loss.backward()
        self.optimizer.step()

    def advance(self, steps: int) -> None:
        """Train `steps` full steps (optimizer step and after-step hook)."""
        for _ in range(steps):
            self.train_step()
            self.topology.after_step(self.step)

    def updates(self) -> Iterator[tuple[Snapshot, Snapshot]]:
        """Train to the end, yielding the snapshots around every topology update: just before
        it (after that step's optimizer step, with the reference gradient and activations of
        its batch at the weights the step started from) and just after it."""
        while self.step < self.total_steps:
            batch = self._batch()
            grads, inputs, outputs = self._reference(*batch)
            self.train_step(batch)
            before = self.snapshot()
            before.grads, before.inputs, before.outputs = grads, inputs, outputs
            updates = self.topology.stats.updates
            self.topology.after_step(self.step)
            if self.topology.stats.updates > updates:
                yield before, self.snapshot()

    def advance_to_update(self) -> tuple[Snapshot, Snapshot]:
        """Train through the next topology update; the snapshots around it (see `updates`)."""
        for pair in self.updates():
            return pair
        raise AssertionError("no topology update before the end of training")
