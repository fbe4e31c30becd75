"""Dynamic sparse training of any PyTorch model in any training loop.

    sparsifier = metasparse.sparsify(model, optimizer, total_steps, preset="rigl", density=0.05)
    for x, y in loader:
        loss_fn(model(x), y).backward()
        optimizer.step()
        sparsifier.step()
        optimizer.zero_grad()

The trainer (`metasparse.train.fit`) trains through the same `Sparsifier`. A checkpoint
holds `sparsifier.state_dict()` beside the model's and the optimizer's; a resumed training
builds all three as before and loads the three states, in any order.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from metasparse.errors import ConfigError
from metasparse.models import activation_gain
from metasparse.space import get_preset, resolve_config, schedule_text
from metasparse.sparse import (
    EXECUTIONS,
    SparsitySchedule,
    Topology,
    TopologyConfig,
    UpdateSchedule,
)
from metasparse.sparsifier._layers import check_path, find_layers


def sparsify(model: nn.Module, optimizer: torch.optim.Optimizer | None, /,
             total_steps: int, *,
             preset: str | None = None, steps_per_epoch: int | None = None,
             exclude_types: Sequence[type] = (), exclude_names: Sequence[str] = (),
             seed: int = 0, **config: Any) -> Sparsifier:
    """Train `model` sparsely with `optimizer` for `total_steps` optimizer steps.

    `config` holds any parameters of the meta-space (spaces/meta.yaml: `density`,
    `grow_score`, `delta_t`, `execution`, ...) over the published algorithm `preset` (a name of
    `metasparse space --presets`) or the space's defaults. The parameters of the trainer's own
    model and optimizer (`model`, `lr`, ...) are accepted and have no effect here, except
    `activation`, which sets the gain of the sparse weights' initialisation (`weight_init`):
    sparsify draws the initial weights and pattern of every sparsified layer.

    The sparsified layers are the weights of every nn.Linear, nn.Conv2d, nn.LSTM and
    nn.MultiheadAttention projection, less those inside a module of one of `exclude_types`
    or whose name matches a pattern of `exclude_names` ("head.*"). `steps_per_epoch` is needed
    with `update_every='epoch'` (without it there are no epoch ends). `seed` seeds the
    topology's own random stream. With `execution='sparse'` the sparsified Linear and LSTM
    layers of `model` are replaced by compressed ones, and `optimizer` is pointed at their
    parameters.

    Every problem of the arguments raises a one-line ConfigError before `model` is touched.
    """
    if not isinstance(total_steps, int) or isinstance(total_steps, bool) or total_steps < 1:
        raise ConfigError(f"The 'total_steps' parameter must be a positive integer; got "
                          f"{total_steps!r}")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise ConfigError(f"The 'optimizer' parameter must be a torch.optim.Optimizer; got "
                          f"{type(optimizer).__name__}")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ConfigError(f"The 'seed' parameter must be an integer; got {seed!r}")
    c = resolve_config({**(get_preset(preset) if preset is not None else {}), **config})
    if steps_per_epoch is None:
        if c["update_every"] == "epoch":
            raise ConfigError("The 'steps_per_epoch' parameter must be given with "
                              "update_every='epoch'; got None")
        steps_per_epoch = total_steps
    if not isinstance(steps_per_epoch, int) or steps_per_epoch < 1:
        raise ConfigError(f"The 'steps_per_epoch' parameter must be a positive integer; got "
                          f"{steps_per_epoch!r}")
    if optimizer is not None and c["lr_scaling"] != "none":
        raise ConfigError(
            f"lr_scaling={c['lr_scaling']!r} gives every sparsified layer a learning rate of its "
            "own, which an optimizer built before sparsify does not have: pass optimizer=None, "
            "build it from sparsifier.param_groups(lr), then call sparsifier.attach(optimizer)")
    layers = find_layers(model, exclude_types, exclude_names)
    if optimizer is not None:
        _check_holds(optimizer, layers, {})
    device = layers[0][1].device
    generator = torch.Generator(device=device).manual_seed(seed)
    return Sparsifier(model, optimizer, c, total_steps, layers=layers,
                      steps_per_epoch=steps_per_epoch, generator=generator)


class Sparsifier:
    """The sparse topology of a model during training; `step()` after every `optimizer.step()`.

    It counts the optimizer's steps itself (a hook on the optimizer), so that gradient
    accumulation (several backward passes per step) and mixed precision (a GradScaler that
    skips a step with non-finite gradients, where `optimizer.step` does not run) count
    updates, not calls. Before the forward pass of a step with a topology update it captures
    what the update reads (activations for CTRE's cosine growth; on the sparse path, the
    gradient). Its masks and random stream follow the model to another device or dtype.
    `state_dict` and `load_state_dict` checkpoint it beside the model and the optimizer.
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer | None,
                 config: Mapping[str, Any], total_steps: int, *,
                 layers: Sequence[tuple[str, nn.Parameter]], steps_per_epoch: int,
                 generator: torch.Generator) -> None:
        """`config` is a resolved configuration, `layers` the weights to sparsify; `optimizer`
        may be attached later (`attach`), e.g. once a model built on the meta device is real."""
        check_path(model, layers, config["execution"])
        self.model = model
        self.config = dict(config)
        self.topology: Topology = build_topology(config, model, steps_per_epoch, total_steps,
                                                 generator, layers)
        self._replaced = self.topology.replaced
        self._layers = list(layers)
        self.optimizer: torch.optim.Optimizer | None = None
        self._hook = None
        self._counted = 0  # optimizer steps taken
        self._done = 0  # optimizer steps that `step()` has followed
        self._armed: contextlib.ExitStack | None = None
        self._arm()
        if optimizer is not None:
            self.attach(optimizer)

    @property
    def steps(self) -> int:
        """The optimizer steps followed so far (the step count of the schedules)."""
        return self._done

    def param_groups(self, lr: float) -> list[dict[str, Any]]:
        """The model's parameters as optimizer groups, each sparsified layer's learning rate
        `lr` scaled as the configuration's `lr_scaling` says; build the optimizer from them,
        then `attach` it."""
        return self.topology.param_groups(self.model, lr, self.config["lr_scaling"])

    def attach(self, optimizer: torch.optim.Optimizer) -> None:
        """Follow `optimizer`'s steps and keep its state right (on the sparse path it is
        pointed from the replaced dense weights to the compressed ones). An optimizer that
        does not hold every sparsified weight (one built over another model) is a ConfigError:
        those layers would never train."""
        _check_holds(optimizer, self._layers, {id(old): id(new) for old, new in self._replaced})
        for old, new in self._replaced:
            optimizer.state.pop(old, None)
            for group in optimizer.param_groups:
                group["params"] = [new if p is old else p for p in group["params"]]
        if self._hook is not None:
            self._hook.remove()
        self._hook = optimizer.register_step_post_hook(self._count)
        self.optimizer = optimizer
        self.topology.attach(optimizer)

    def _count(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        self._counted += 1

    def step(self) -> None:
        """Call after `optimizer.step()`: re-applies the masks and updates the topology when
        the schedule says so, once per optimizer step taken since the last call."""
        if self.optimizer is None:
            raise RuntimeError("Sparsifier.step() needs an optimizer: pass one to sparsify or "
                               "call attach(optimizer)")
        if self._done < self._counted:  # masks and random stream follow the model's weights
            self.topology.follow_weights()
        while self._done < self._counted:
            self._done += 1
            self.topology.after_step(self._done)
            self._disarm()
        self._arm()

    def close(self) -> None:
        """Stop following the optimizer and remove the capture hooks from the model."""
        self._disarm()
        if self._hook is not None:
            self._hook.remove()
            self._hook = None

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint needs beside the model's and the optimizer's state dicts (take all
        three after `step()`): the step counts and the topology's state (the masked path's
        masks, each layer's target and init scale, the history of active positions, Chase's
        removed units, the random stream, the update counts), in plain ints, floats, strings,
        lists and tensors (copies) that torch.save writes and torch.load(weights_only=True)
        reads."""
        return {"execution": self.config["execution"], "counted": self._counted,
                "done": self._done, "topology": self.topology.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from `state` (of `state_dict`), as the sparsifier that saved it would. Build
        the model, optimizer and sparsifier with the arguments of the saved training, then load
        the three states, in any order: on the sparse path the model's state dict holds the
        compressed layers' patterns and resizes them. A state of a sparsifier built otherwise
        (configuration, steps, layers, device type) is a one-line ConfigError, raised before
        anything changes."""
        refusal = _refusal(state, self)
        if refusal is not None:
            raise ConfigError(refusal)
        self.topology.load_state_dict(state["topology"])
        self._counted, self._done = state["counted"], state["done"]
        self._disarm()  # the capture was opened for the step after the old count
        self._arm()

    def __repr__(self) -> str:
        c, topology = self.config, self.topology
        schedule = topology.schedule
        if c["update_every"] == "never":
            updates = "no topology update"
        else:
            last = min(math.floor(schedule.last_step), schedule.total_steps - 1)
            following = next((step for step in range(self._done + 1, last + 1)
                              if schedule.is_update(step)), None)
            updates = (f"topology updates {schedule_text(c)} until step {last}, "
                       + ("none left" if following is None else f"next at step {following}"))
        return (f"Sparsifier(execution={c['execution']!r}, prune={c['prune_score']!r}, "
                f"grow={c['grow_score']!r}, density {self.density():.3f} (target "
                f"{topology.sparsity.density:.3f}) over {len(topology.layers)} layers, step "
                f"{self._done}/{schedule.total_steps}, {updates})")

    def density(self) -> float:
        return self.topology.density()

    def layer_densities(self) -> dict[str, float]:
        return self.topology.layer_densities()

    # -- capture for the next update ------------------------------------------------------
    def _arm(self) -> None:
        """Open the capture context of the coming step (a no-op where it updates nothing)."""
        if self._armed is None:
            self._armed = contextlib.ExitStack()
            self._armed.enter_context(self.topology.observe(self._done + 1))

    def _disarm(self) -> None:
        if self._armed is not None:
            self._armed.close()
            self._armed = None


def _check_holds(optimizer: torch.optim.Optimizer, layers: Sequence[tuple[str, nn.Parameter]],
                 compressed: Mapping[int, int]) -> None:
    """ConfigError unless `optimizer` holds every weight of `layers` (or the compressed
    parameter that replaced it: `compressed` maps ids)."""
    held = {id(p) for group in optimizer.param_groups for p in group["params"]}
    missing = [name for name, weight in layers
               if id(weight) not in held and compressed.get(id(weight)) not in held]
    if missing:
        raise ConfigError(
            f"The 'optimizer' parameter must hold the sparsified weights of the model; it lacks "
            f"{len(missing)} of {len(layers)} ({missing[0]}, ...): build it from this model's "
            "parameters (or sparsifier.param_groups(lr))")


_STATE_KEYS = ("execution", "counted", "done", "topology")


def _refusal(state: Mapping[str, Any], sparsifier: Sparsifier) -> str | None:
    """Why `state` is not a state that `sparsifier` can continue from (one line), or None."""
    if not isinstance(state, Mapping) or not set(_STATE_KEYS) <= state.keys():
        return (f"The 'state' parameter must be a Sparsifier.state_dict() (a dict of "
                f"{', '.join(_STATE_KEYS)}); got {type(state).__name__}")
    topology = sparsifier.topology
    saved = {"execution": state["execution"], **state["topology"]["settings"]}
    own = {"execution": sparsifier.config["execution"], **topology.settings()}
    differ = [key for key in own if saved.get(key) != own[key]]
    if differ:
        return (f"The sparsifier state was saved with "
                f"{', '.join(f'{k}={saved.get(k)!r}' for k in differ)}; this sparsifier has "
                f"{', '.join(f'{k}={own[k]!r}' for k in differ)}: build it with the same "
                "arguments")
    layers = [(la["name"], tuple(la["shape"])) for la in state["topology"]["layers"]]
    own_layers = [(la.name, tuple(shape))
                  for la, shape in zip(topology.layers, topology.shapes, strict=True)]
    if len(layers) != len(own_layers):
        return (f"The sparsifier state was saved over {len(layers)} layers; this sparsifier "
                f"has {len(own_layers)}")
    for (name, shape), (own_name, own_shape) in zip(layers, own_layers, strict=True):
        if (name, shape) != (own_name, own_shape):
            return (f"The sparsifier state was saved with layer {name} of shape {shape}; this "
                    f"sparsifier has {own_name} of shape {own_shape}")
    device = state["topology"]["generator_device"]
    if device != topology.generator.device.type:
        return (f"The sparsifier state was saved with its random stream on {device}; this "
                f"sparsifier's is on {topology.generator.device.type}: sparsify the model on "
                f"{device}")
    return None


def build_topology(c: Mapping[str, Any], model: nn.Module, steps_per_epoch: int,
                   total_steps: int, generator: torch.Generator,
                   layers: Sequence[tuple[str, nn.Parameter]] | None = None) -> Topology:
    """The sparse topology of a resolved configuration `c` over `layers` (default: all of
    `model`'s sparsifiable weights), on the configuration's execution path (the `sparse` one
    replaces the model's sparsified Linear layers in place). What a Sparsifier trains with;
    the conformance tests drive the same."""
    weights = list(find_layers(model) if layers is None else layers)
    return EXECUTIONS[c["execution"]](
        weights, model, TopologyConfig.from_config(c),
        UpdateSchedule(c["update_every"], int(c["delta_t"]), c["zeta"], c["zeta_decay"],
                       c["t_end"], steps_per_epoch, total_steps,
                       int(c["updates_per_run"])),
        SparsitySchedule(c["sparsity_schedule"], target_density(c, weights),
                         c["initial_density"], total_steps),
        gain=activation_gain(c["activation"]), generator=generator,
    )


def target_density(c: Mapping[str, Any], weights: Sequence[tuple[str, nn.Parameter]]) -> float:
    """The configured density, or the one at which `weights` hold `active_weights` in all."""
    if not c["active_weights"]:
        return float(c["density"])
    return min(1.0, c["active_weights"] / sum(w.numel() for _, w in weights))
