"""The shared topology of every execution path: layer budgets, the update schedule, the
prune/grow step, activation capture and checkpoints.

At a topology update each layer drops its lowest-scoring active connections and grows the same
number of highest-scoring inactive ones (more are dropped when a gradual schedule lowers the
layer's target); grown weights get their `regrow_init` value and every optimizer state tensor
of theirs starts at zero, so that stale momentum cannot move a new connection. A fraction
`random_ratio` of the dropped (grown) connections is chosen uniformly at random among the
candidates; the rest by score. That step is written once, in `Topology._update_layer`; an
execution path (masked.py, compressed.py, registered in `EXECUTIONS`) says how its layers
store the pattern through a few hooks (docs/CONTRACTS.md, "How to add an execution path").
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from metasparse._registry import Registry
from metasparse.errors import ConfigError
from metasparse.sparse.budget import global_targets, redistribute
from metasparse.sparse.capture import capture_activations
from metasparse.sparse.channels import removed_fraction, units_to_remove
from metasparse.sparse.distribution import active_counts, layer_densities
from metasparse.sparse.init import REGROW_INITS
from metasparse.sparse.schedule import SparsitySchedule, UpdateSchedule
from metasparse.sparse.scores import GROW_SCORES, NEEDS_ACTIVATIONS, LayerState
from metasparse.sparse.selection import GROW_CANDIDATES, GROW_SELECTIONS, sample_positions, select


@dataclass(frozen=True)
class TopologyConfig:
    """The sparse-training axes of a configuration (names as in spaces/meta.yaml)."""

    density: float
    distribution: str
    erk_power_scale: float
    dense_first_layer: bool
    dense_last_layer: bool
    weight_init: str
    prune_score: str
    grow_score: str
    prune_random_ratio: float
    grow_random_ratio: float
    regrow_init: str
    mest_gamma: float
    grow_candidates: str
    grow_subset: float
    grow_selection: str
    fan_in: str
    min_salient_weights_per_neuron: float
    prune_scope: str
    redistribution: str
    channel_prune: str
    channel_prune_ratio: float
    channel_prune_every: int
    channel_prune_end: float

    @classmethod
    def from_config(cls, config: dict) -> TopologyConfig:
        return cls(**{f: config[f] for f in cls.__dataclass_fields__})


EXECUTIONS: Registry = Registry("execution")  # name -> Topology class (the paths)
LR_SCALINGS: Registry = Registry("lr_scaling")  # name -> layer density -> lr multiplier


@LR_SCALINGS.register("none")
def unscaled(density: float) -> float:
    return 1.0


@LR_SCALINGS.register("density")
def inverse_density(density: float) -> float:
    """SmuPar (Dey et al. 2024): a layer's update moves its output through density x fan-in
    active weights, so its learning rate grows as 1 / density to keep that change the size a
    dense layer's is (their rule for Adam, with a dense base); with the init scaled by the
    active fan-in (`sparse_kaiming`), a learning rate tuned at one density carries to others."""
    return 1.0 / density


@dataclass
class UpdateStats:
    updates: int = 0
    moved: int = 0
    seconds: float = 0.0


class Topology:
    """What every execution path shares: layer targets, the update schedule, the prune/grow
    step (`_update_layer`), activation capture, checkpoints and the statistics.

    A path (a subclass registered in `EXECUTIONS`) builds `self.layers` in its `__init__`
    (each with `name`, `module`, `target`, `size`, `active`, `init_std`, `ever_active`,
    `uses_per_sample`, `activations`) and implements the hooks at the end of this class: how
    its layers show and change their pattern.
    """

    # whether the path replaces the model's sparsified weights by modules of its own (then a
    # model is best built on the meta device: those weights never exist densely)
    replaces_weights: ClassVar[bool] = False

    @classmethod
    def check_layers(cls, model: nn.Module, layers: Sequence[tuple[str, nn.Parameter]]) -> None:
        """Raise the one-line ConfigError if this path cannot run one of `layers` of `model`,
        before any layer is touched."""

    def __init__(self, shapes: Sequence[tuple[int, ...]], config: TopologyConfig,
                 update_schedule: UpdateSchedule, sparsity_schedule: SparsitySchedule,
                 generator: torch.Generator) -> None:
        self.config = config
        self.schedule = update_schedule
        self.sparsity = sparsity_schedule
        self.generator = generator
        self.optimizer: torch.optim.Optimizer | None = None
        self.stats = UpdateStats()
        self.shapes = list(shapes)
        self.layers: list = []
        # (dense weight or bias, the parameter that replaced it) of every model parameter the
        # path replaced (see `replaces_weights`)
        self.replaced: list[tuple[nn.Parameter, nn.Parameter]] = []
        if config.redistribution == "momentum" and sparsity_schedule.kind == "gradual":
            raise ConfigError("The 'redistribution' parameter 'momentum' moves the budget "
                              "between layers at a constant density; it needs "
                              "sparsity_schedule='constant', got 'gradual'")
        if config.fan_in == "constant" and sparsity_schedule.kind == "gradual":
            raise ConfigError("The 'fan_in' parameter 'constant' keeps every unit's fan-in "
                              "through updates; it needs sparsity_schedule='constant', got "
                              "'gradual'")
        for axis, value in (("fan_in", "constant"), ("redistribution", "momentum")):
            if config.channel_prune != "none" and getattr(config, axis) == value:
                raise ConfigError(f"The 'channel_prune' parameter {config.channel_prune!r} "
                                  f"keeps each layer's budget in its remaining units; it needs "
                                  f"{axis} other than {value!r}")
        self.scheduled_updates = 0

    # -- densities -------------------------------------------------------------------------
    def targets(self, density: float) -> list[int]:
        c = self.config
        densities = layer_densities(
            self.shapes, density, c.distribution, dense_first_layer=c.dense_first_layer,
            dense_last_layer=c.dense_last_layer, power_scale=c.erk_power_scale)
        counts = active_counts(self.shapes, densities)
        if c.fan_in == "constant":  # whole rows: the same fan-in for every output unit
            return [s[0] * min(math.prod(s[1:]), max(1, round(n / s[0])))
                    for s, n in zip(self.shapes, counts, strict=True)]
        return counts

    @property
    def total(self) -> int:
        return sum(math.prod(s) for s in self.shapes)

    def density(self) -> float:
        return sum(layer.active for layer in self.layers) / self.total

    def target_density(self) -> float:
        return sum(layer.target for layer in self.layers) / self.total

    def layer_densities(self) -> dict[str, float]:
        return {layer.name: layer.active / layer.size for layer in self.layers}

    def forward_flops_per_sample(self) -> float:
        """Multiply-adds x 2 of the active weights for one sample's forward pass."""
        # `target` equals the active count between updates (the invariant the tests check);
        # counting the mask instead would cost a pass over every weight at every step.
        return 2.0 * sum(layer.target * layer.uses_per_sample for layer in self.layers)

    # -- training-loop hooks ---------------------------------------------------------------
    def attach(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer

    def measure_uses(self, model: nn.Module, batch: torch.Tensor) -> None:
        """Run one forward pass to learn how often each weight is applied per sample."""
        with capture_activations(self.layers), torch.no_grad():
            was_training = model.training
            model.eval()
            model(batch)
            model.train(was_training)
        for layer in self.layers:
            if layer.activations is not None:
                layer.uses_per_sample = max(1, layer.activations[1].shape[0] // batch.shape[0])
            layer.activations = None

    def follow_weights(self) -> None:
        """Move the random stream and the layers' own state (masks, history) to where the
        model's weights went (another device or dtype); nothing where they are there already."""
        weights = [self._parameter(layer) for layer in self.layers]
        if all(_same_device(w.device, self.generator.device) for w in weights) and all(
                self._follows_weight(layer) for layer in self.layers):
            return
        seed = int(torch.randint(2 ** 62, (), generator=self.generator))
        self.generator = torch.Generator(device=weights[0].device).manual_seed(seed)
        for layer in self.layers:
            self._follow_weight(layer)
        self._after_update()

    # -- checkpoints -----------------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        """What the topology was built with, by configuration name, plus the schedules'
        `steps_per_epoch`, `total_steps` and `target_density`: its state fits a topology
        built alike only."""
        return {**asdict(self.config), **asdict(self.schedule),
                "sparsity_schedule": self.sparsity.kind, "target_density": self.sparsity.density,
                "initial_density": self.sparsity.initial_density}

    def state_dict(self) -> dict[str, Any]:
        """What training changed here besides the weights and the optimizer's state: the random
        stream, the update counts, and each layer's target, init scale and pattern state
        (`_layer_state`). Its tensors are copies: later steps leave it as it is."""
        return {
            "settings": self.settings(),
            "generator": self.generator.get_state(),
            "generator_device": self.generator.device.type,
            "scheduled_updates": self.scheduled_updates,
            "stats": asdict(self.stats),
            "layers": [{"name": layer.name, "shape": list(shape), "target": layer.target,
                        "init_std": layer.init_std, **self._layer_state(layer)}
                       for layer, shape in zip(self.layers, self.shapes, strict=True)],
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from `state`, a `state_dict` of a topology built alike (same `settings`,
        layers and device type: the caller checks)."""
        self.generator.set_state(state["generator"].cpu())
        self.scheduled_updates = state["scheduled_updates"]
        self.stats = UpdateStats(**state["stats"])
        for layer, saved in zip(self.layers, state["layers"], strict=True):
            layer.target, layer.init_std = saved["target"], saved["init_std"]
            self._load_layer_state(layer, saved)
        self._after_update()

    def observe(self, step: int) -> contextlib.AbstractContextManager:
        """Context for the forward pass of `step`: captures activations if its update needs them."""
        if self.config.grow_score in NEEDS_ACTIVATIONS and self._is_update(step):
            return capture_activations(self.layers)
        return contextlib.nullcontext()

    def after_step(self, step: int) -> None:
        """Call after `optimizer.step()`: updates the topology if due."""
        if self._is_update(step):
            self.update(step)

    def _is_update(self, step: int) -> bool:
        if self.schedule.is_update(step):
            return True
        # a gradual schedule also prunes at each epoch end, so that it reaches its target
        # even when topology updates are rare or disabled
        return (self.sparsity.kind == "gradual" and step % self.schedule.steps_per_epoch == 0
                and step < self.schedule.total_steps
                and self._step_targets(step) != [layer.target for layer in self.layers])

    def _step_targets(self, step: int) -> list[int]:
        """Each layer's active count after the update at `step`: the distribution's share of
        the scheduled density, or, with prune_scope 'global', what one magnitude ranking across
        the layers leaves each of them (GraNet)."""
        if self.config.redistribution == "momentum":  # the shares it moved stay moved
            return [layer.target for layer in self.layers]
        targets = self.targets(self.sparsity.density_at(step))
        if self.config.prune_scope == "layer":
            return targets
        dense = [t == math.prod(s) for t, s in zip(targets, self.shapes, strict=True)]
        return global_targets([layer.target for layer in self.layers], sum(targets), dense,
                              lambda i: self._active_magnitudes(self.layers[i]))

    @torch.no_grad()
    def update(self, step: int) -> None:
        start = time.perf_counter()
        scheduled = self.schedule.is_update(step)
        fraction = self.schedule.fraction(step) if scheduled else 0.0
        targets = self._step_targets(step)
        grows = [min(round(fraction * t), math.prod(s) - t)
                 for t, s in zip(targets, self.shapes, strict=True)]
        if self.config.redistribution == "momentum" and fraction > 0:
            targets, grows = redistribute(targets, grows, self.shapes,
                                          lambda i: self._active_momentum(self.layers[i]))
        self.scheduled_updates += scheduled
        if scheduled and self._removes_channels(step):
            grows = [g + f for g, f in zip(grows, self._remove_channels(step, targets),
                                           strict=True)]
        moved = 0
        for layer, target, n_grow in zip(self.layers, targets, grows, strict=True):
            moved += self._update_layer(layer, target, n_grow)
            self._release(layer)
        self._after_update()
        self.stats.updates += 1
        self.stats.moved += moved
        self.stats.seconds += time.perf_counter() - start

    def _update_layer(self, layer, target: int, n_grow: int) -> int:
        """Bring `layer` to `target` active connections, growing n_grow; returns how many it
        grew. The same step on every path:

        1. prune n_prune = active - target + n_grow active connections, those of lowest prune
           score (a share `prune_random_ratio` uniformly at random);
        2. grow n_grow inactive connections (`_grow`: those of highest grow score, a share
           `grow_random_ratio` uniformly at random) with their `regrow_init` values; they start
           with zero optimizer state and join the history of ever-active connections (`_add`).
        """
        c = self.config
        if n_grow == 0 and target == layer.target == layer.size:  # a dense layer stays dense
            return 0
        entries = self._entries(layer)
        n_active = entries.numel()
        n_prune = n_active - target + n_grow
        if n_prune > n_active:  # Chase's removed channels freed more than a gradual target
            n_grow -= n_prune - n_active  # lets the layer keep: regrow only up to the target
            n_prune = n_active
        grown = entries.new_empty(0)
        if n_prune > 0 or n_grow > 0:
            keep = torch.ones(n_active, dtype=torch.bool, device=entries.device)
            if n_prune > 0:
                pruned = select(self._prune_scores(layer, entries), keep, n_prune,
                                c.prune_random_ratio, self.generator, n_candidates=n_active,
                                lowest=True)
                keep[pruned] = False
            kept = entries[keep]
            self._drop(layer, entries[~keep])
            if n_grow > 0:
                grown = self._grow(layer, keep, kept, target, n_grow)
            values = REGROW_INITS[c.regrow_init](grown.numel(), layer.init_std, self.generator)
            self._add(layer, keep, entries[keep], grown, values)  # _grow may have cleared more
        if c.fan_in == "constant":  # SRigL: ablated units leave part of the budget unused
            layer.target = layer.active
            return n_grow  # the count it set out to grow, whatever ablation changed
        layer.target = target
        return grown.numel()

    def _removes_channels(self, step: int) -> bool:
        """Chase: whether the scheduled update at `step` removes channels (every
        channel_prune_every-th one until channel_prune_end of training)."""
        c = self.config
        return (c.channel_prune != "none" and self.scheduled_updates % c.channel_prune_every == 0
                and step <= c.channel_prune_end * self.schedule.total_steps)

    def _grow_positions(self, size: int, kept: torch.Tensor, k: int,
                        by_score: Callable[[int, torch.Tensor | None], torch.Tensor | None]
                        ) -> torch.Tensor:
        """Ascending flat positions of k connections to grow among the `size` positions not in
        `kept` (sorted): k - round(r k) from `by_score(n, subset)`, the n best by the grow score
        among `subset` (sorted positions; None: every inactive position), None for a score
        without preference (then every pick is uniform), the rest uniformly among the other
        inactive positions. Both paths grow through it, so they draw alike."""
        if k <= 0:  # nothing to score: a block-wise score would still compute its blocks
            return kept.new_empty(0)
        k_random = round(self.config.grow_random_ratio * k)
        chosen = by_score(k - k_random, self._grow_subset(size, kept, k, k - k_random))
        if chosen is None:
            chosen, k_random = kept.new_empty(0), k
        extra = sample_positions(size, k_random, self.generator, torch.cat(
            [kept, chosen]).sort().values) if k_random else chosen[:0]  # no sort for nothing
        return torch.cat([chosen, extra]).sort().values

    def _grow_subset(self, size: int, kept: torch.Tensor, k: int,
                     n_by_score: int) -> torch.Tensor | None:
        """The inactive positions that growth by score chooses from (None: all of them);
        `grow_subset` x the layer's active count where they are sampled, at least the
        n_by_score it must pick."""
        c = self.config
        if n_by_score <= 0:
            return None
        n = max(n_by_score, round(c.grow_subset * (kept.numel() + k)))
        return GROW_CANDIDATES[c.grow_candidates](size, kept, n, self.generator)

    def _grow_score(self, state: LayerState) -> torch.Tensor | None:
        """The grow score of `state`'s positions, as keys for a multinomial draw if asked (a
        score without order, None or boolean, has no multinomial: the space's conditions leave
        grow_selection inactive there)."""
        score = GROW_SCORES[self.config.grow_score](state)
        if score is None or score.dtype == torch.bool:
            return score
        return GROW_SELECTIONS[self.config.grow_selection](score, self.generator)

    def param_groups(self, model: nn.Module, lr: float, scaling: str) -> list[dict]:
        """`model`'s parameters as optimizer groups: each sparsified weight with lr times the
        `scaling` (LR_SCALINGS) of its layer's density at the start, the rest with lr. Call
        once the path has installed its parameters."""
        multiplier = LR_SCALINGS[scaling]
        groups = [{"params": [self._parameter(layer)],
                   # a layer left without weights has no step to scale
                   "lr": lr * multiplier(max(layer.target, 1) / layer.size)}
                  for layer in self.layers]
        sparsified = {id(g["params"][0]) for g in groups}
        rest = [p for p in model.parameters() if id(p) not in sparsified]
        return [{"params": rest, "lr": lr}, *groups] if rest else groups

    def _momentum(self, param: nn.Parameter) -> torch.Tensor | None:
        """The optimizer's first moment of `param` (SGD's buffer, Adam's exp_avg), if any."""
        if self.optimizer is None:
            return None
        state = self.optimizer.state.get(param, {})
        for key in ("momentum_buffer", "exp_avg"):
            if state.get(key) is not None:
                return state[key]
        return None

    # -- what each path implements -----------------------------------------------------------
    def _entries(self, layer) -> torch.Tensor:
        """The flat positions of the layer's active connections, ascending."""
        raise NotImplementedError

    def _prune_scores(self, layer, entries: torch.Tensor) -> torch.Tensor | None:
        """The prune score (`PRUNE_SCORES`) of each of the layer's active connections
        (`entries`, in that order); None for a score without preference."""
        raise NotImplementedError

    def _drop(self, layer, pruned: torch.Tensor) -> None:
        """Write the pruning of the flat positions `pruned` now, where growth must see it (the
        masked path); a path that rebuilds its pattern in `_add` leaves it to `_add`."""

    def _grow(self, layer, keep: torch.Tensor, kept: torch.Tensor, target: int,
              n_grow: int) -> torch.Tensor:
        """The flat positions of n_grow inactive connections to grow (see `_grow_positions`),
        after pruning: `keep` says which active connections are kept (False: pruned), `kept`
        gives their flat positions; a path may clear more of `keep` (SRigL's ablation)."""
        raise NotImplementedError

    def _add(self, layer, keep: torch.Tensor, kept: torch.Tensor, grown: torch.Tensor,
             values: torch.Tensor) -> None:
        """Make the layer's pattern the `kept` connections (their weights and optimizer state
        as they are) plus the `grown` ones, with weights `values` and zero optimizer state,
        and add `grown` to the layer's history of ever-active positions (if it keeps one)."""
        raise NotImplementedError

    def _release(self, layer) -> None:
        """Forget what the forward and backward pass of the update step captured for `layer`."""
        layer.activations = None

    def _after_update(self) -> None:
        """What a path refreshes once all layers have changed (an update, a checkpoint loaded,
        the weights moved)."""

    def _remove_channels(self, step: int, targets: list[int]) -> list[int]:
        """Chase: each eligible layer (`removed` not None) removes its lowest-UMM units (see
        channels.py); the active weights each freed, which its update regrows elsewhere."""
        c, freed = self.config, [0] * len(self.layers)
        fraction = removed_fraction(step, self.schedule.total_steps, c.channel_prune_ratio,
                                    c.channel_prune_end)
        for i, (layer, target) in enumerate(zip(self.layers, targets, strict=True)):
            if layer.removed is not None:
                units = units_to_remove(self._unit_umm(layer), layer.removed, fraction,
                                        layer.size // layer.removed.numel(), target)
                layer.removed[units] = True
                freed[i] = self._drop_units(layer, units)
        return freed

    def _unit_umm(self, layer) -> torch.Tensor:
        """Chase: each output unit's UMM (channels.umm), float64."""
        raise NotImplementedError

    def _drop_units(self, layer, units: torch.Tensor) -> int:
        """Chase: remove every active weight of the output `units`; how many there were."""
        raise NotImplementedError

    def _parameter(self, layer) -> nn.Parameter:
        """The parameter that holds a layer's active weights."""
        raise NotImplementedError

    def _active_magnitudes(self, layer) -> torch.Tensor:
        """|w| of a layer's active weights, one value each."""
        raise NotImplementedError

    def _active_momentum(self, layer) -> torch.Tensor | None:
        """The optimizer's first moment of a layer's active weights, one value each."""
        raise NotImplementedError

    def _layer_state(self, layer) -> dict[str, Any]:
        """The path's state of `layer` that the model's state dict does not hold (copies)."""
        raise NotImplementedError

    def _load_layer_state(self, layer, saved: Mapping[str, Any]) -> None:
        """Take back what `_layer_state` saved (copies: `saved` stays as it is)."""
        raise NotImplementedError

    def _follows_weight(self, layer) -> bool:
        """Whether the layer's own state is on its weight's device (and dtype, for masks)."""
        return True

    def _follow_weight(self, layer) -> None:
        """Move the layer's own state (masks, history) to its weight's device (and dtype)."""
        raise NotImplementedError


def _same_device(a: torch.device, b: torch.device) -> bool:
    """`cuda` and `cuda:0` alike (a generator made for `cuda` may report either)."""
    return a.type == b.type and (a.index or 0) == (b.index or 0)


def __getattr__(name: str) -> Any:
    """The masked path's names from before it had a module of its own (masked.py)."""
    if name in ("MaskedLayer", "SparseTopology"):
        from metasparse.sparse import masked
        return getattr(masked, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
