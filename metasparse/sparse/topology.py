"""Masks of every sparsified weight, the prune/grow step, and the optimizer-state reset.

This is the one place where masks, weights and optimizer state change together:

- after every optimizer step, inactive weights are set back to exactly zero (one fused
  multiply over all layers); the optimizer's state of inactive weights keeps following the dense
  gradient, which is what momentum-based growth (SNFS) reads;
- at a topology update, each layer drops its lowest-scoring active connections and grows the same
  number of highest-scoring inactive ones (more are dropped when a gradual schedule lowers the
  layer's target); grown weights get their `regrow_init` value and every optimizer state tensor
  shaped like the weight (SGD momentum, Adam's moments) is reset to zero at those positions, so
  stale momentum cannot move a new connection.

A fraction `random_ratio` of the dropped (grown) connections is chosen uniformly at random among
the candidates; the rest by score.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from metasparse._registry import Registry
from metasparse.errors import ConfigError
from metasparse.sparse.channels import removed_fraction, umm, units_to_remove
from metasparse.sparse.distribution import active_counts, layer_densities
from metasparse.sparse.fan_in import grow_rows, row_positions
from metasparse.sparse.init import REGROW_INITS, WEIGHT_INITS, draw_bias, draw_entries
from metasparse.sparse.recurrent import SparseLSTM
from metasparse.sparse.schedule import SparsitySchedule, UpdateSchedule
from metasparse.sparse.scores import (
    GROW_SCORES,
    NEEDS_ACTIVATIONS,
    NEEDS_HISTORY,
    PRUNE_SCORES,
    LayerState,
)


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


@dataclass
class MaskedLayer:  # a layer of the masked path
    name: str
    weight: nn.Parameter
    module: nn.Module
    mask: torch.Tensor  # same dtype as the weight, 0 or 1
    ever_active: torch.Tensor | None  # bool; kept only for grow scores in NEEDS_HISTORY
    init_std: float
    target: int
    uses_per_sample: int = 1  # how often a weight is applied per sample (conv: output positions)
    activations: tuple[torch.Tensor, torch.Tensor] | None = None
    removed: torch.Tensor | None = None  # bool per output unit: Chase's removed channels

    @property
    def active(self) -> int:
        return int(self.mask.sum())

    @property
    def size(self) -> int:
        return self.weight.numel()


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


def select(scores: torch.Tensor | None, candidates: torch.Tensor, k: int, random_ratio: float,
           generator: torch.Generator, n_candidates: int | None = None,
           lowest: bool = False) -> torch.Tensor:
    """Flat indices of k candidates: k(1-r) of highest (`lowest`: lowest) score, then k r
    uniformly at random.

    `scores=None` (a score without preference) draws all k uniformly; a boolean score is a
    preference without order: its True candidates come first, uniformly drawn, then the others.
    `n_candidates` is `candidates.sum()` when the caller knows it (saves a pass over the layer).
    """
    candidates = candidates.flatten()
    if n_candidates is None:
        n_candidates = int(torch.count_nonzero(candidates))
    if scores is None:
        return _uniform(candidates, n_candidates, k, generator)
    k_random = round(random_ratio * k)
    if scores.dtype == torch.bool:
        preferred = ~scores.flatten() if lowest else scores.flatten()
        chosen = _preferred(preferred, candidates, k - k_random, generator)
    else:
        chosen = _top(scores.flatten(), candidates, n_candidates, k - k_random, generator,
                      lowest)
    if k_random:
        remaining = candidates.index_fill(0, chosen, False)
        extra = _uniform(remaining, n_candidates - chosen.numel(), k_random, generator)
        chosen = torch.cat([chosen, extra])
    return chosen


def _uniform(candidates: torch.Tensor, n_candidates: int, k: int,
             generator: torch.Generator) -> torch.Tensor:
    """Flat indices of k candidates drawn uniformly without replacement.

    Three ways, each uniform by symmetry, chosen by cost: for few picks, about 1.2 k n /
    n_candidates random positions, the distinct candidates among them, k of those at random (no
    random number per weight); for many picks among many candidates, each candidate kept with a
    probability a little above k / n_candidates and the surplus dropped at random (a random
    permutation of millions of indices costs ten times more); else a random permutation of the
    candidates' indices.
    """
    n = candidates.numel()
    device = generator.device
    if n_candidates <= 0:
        return torch.empty(0, dtype=torch.long, device=candidates.device)
    if 4 * k < n_candidates:
        draws = torch.randint(n, (int(1.2 * k * n / n_candidates) + 64,), generator=generator,
                              device=device)
        drawn = torch.unique(draws[candidates[draws]])
        if drawn.numel() >= k:
            return drawn[torch.randperm(drawn.numel(), generator=generator, device=device)[:k]]
    q = k / n_candidates
    p = q + 5.0 * math.sqrt(q * (1.0 - q) / n_candidates) + 1.0 / n_candidates
    if 8 * n_candidates >= n and p < 1.0:
        kept = (torch.rand(n, generator=generator, device=device) < p) & candidates
        picked = kept.nonzero().squeeze(1)
        surplus = picked.numel() - k
        if surplus >= 0:
            all_picked = torch.ones(picked.numel(), dtype=torch.bool, device=picked.device)
            dropped = _uniform(all_picked, picked.numel(), surplus, generator)
            return picked[all_picked.index_fill_(0, dropped, False)]
    idx = candidates.nonzero().squeeze(1)
    return idx[torch.randperm(idx.numel(), generator=generator, device=device)[:k]]


def _preferred(preferred: torch.Tensor, candidates: torch.Tensor, k: int,
               generator: torch.Generator) -> torch.Tensor:
    """k candidates drawn uniformly, the preferred ones first."""
    first = candidates & preferred
    n_first = int(torch.count_nonzero(first))
    if n_first >= k:
        return _uniform(first, n_first, k, generator)
    rest = candidates & ~preferred
    return torch.cat([first.nonzero().squeeze(1),
                      _uniform(rest, int(torch.count_nonzero(rest)), k - n_first, generator)])


ENUMERATE_BELOW = 1 << 22  # layers up to this many positions draw uniform picks by enumeration


def sample_positions(size: int, k: int, generator: torch.Generator,
                     excluded: torch.Tensor | None = None) -> torch.Tensor:
    """k distinct positions of range(size), uniformly among those not in `excluded` (sorted,
    int64), ascending. Small layers enumerate their free positions; large ones draw positions
    at random and reject excluded ones and repeats, in O(k) memory."""
    n_excluded = 0 if excluded is None else excluded.numel()
    free = size - n_excluded
    device = generator.device
    if k > free:
        raise ValueError(f"cannot pick {k} of {free} free positions")
    if k <= 0:
        return torch.empty(0, dtype=torch.long, device=device)
    if size <= ENUMERATE_BELOW or 3 * k > free:
        ok = torch.ones(size, dtype=torch.bool, device=device)
        if n_excluded:
            ok[excluded] = False
        candidates = ok.nonzero().squeeze(1)
        picked = candidates[torch.randperm(candidates.numel(), generator=generator,
                                           device=device)[:k]]
        return picked.sort().values
    drawn = torch.empty(0, dtype=torch.long, device=device)
    while drawn.numel() < k:
        n_draw = int(1.3 * (k - drawn.numel()) * size / free) + 64
        draws = torch.randint(size, (n_draw,), generator=generator, device=device)
        drawn = torch.unique(torch.cat([drawn, draws]))
        if n_excluded:
            at = torch.searchsorted(excluded, drawn).clamp_max(n_excluded - 1)
            drawn = drawn[excluded[at] != drawn]
    picked = drawn[torch.randperm(drawn.numel(), generator=generator, device=device)[:k]]
    return picked.sort().values


def initial_entries(shape: Sequence[int], target: int, weight_init: str, gain: float,
                    generator: torch.Generator, device: torch.device,
                    dtype: torch.dtype, per_row: bool = False
                    ) -> tuple[torch.Tensor, torch.Tensor, float]:
    """A layer's initial active positions (flat, ascending), their values, and the init law's
    mean standard deviation: the same draws from `generator` on every execution path.
    `per_row`: the same number of positions in every output row (constant fan-in)."""
    size = math.prod(shape)
    if per_row and target < size:
        flat = row_positions((shape[0], size // shape[0]), target // shape[0],
                             generator).to(device)
    else:
        flat = sample_positions(size, target, generator).to(device)
    rows = flat // (size // shape[0])
    law = WEIGHT_INITS[weight_init](shape, torch.bincount(rows, minlength=shape[0]).to(dtype),
                                    gain)
    values = torch.empty(target, dtype=dtype, device=device)
    draw_entries(law, values, rows, generator)
    return flat, values, law.mean_std


GROW_SELECTIONS: Registry = Registry("grow_selection")  # name -> (score, generator) -> keys
GROW_CANDIDATES: Registry = Registry("grow_candidates")  # name -> GrowSubset


@GROW_SELECTIONS.register("top")
def top_keys(score: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The score itself: growth takes the highest."""
    return score


@GROW_SELECTIONS.register("multinomial")
def multinomial_keys(weights: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Keys whose k highest are a draw of k positions without replacement, each with
    probability proportional to its weight (Gumbel top-k: log w plus standard Gumbel noise).
    Weights are floored at 1e-12, as CHTs' own sampler does, so that positions scoring zero
    come last, uniformly."""
    u = torch.rand(weights.shape, generator=generator, device=generator.device)
    gumbel = -torch.log(-torch.log(u.clamp(1e-30, 1.0 - 1e-7)))
    return weights.clamp_min(1e-12).log() + gumbel.to(weights)


@GROW_CANDIDATES.register("all")
def every_inactive(size: int, kept: torch.Tensor, n: int,
                   generator: torch.Generator) -> torch.Tensor | None:
    """Growth by score sees every inactive position."""
    return None


@GROW_CANDIDATES.register("sampled")
def sampled_inactive(size: int, kept: torch.Tensor, n: int,
                     generator: torch.Generator) -> torch.Tensor | None:
    """GSE: n inactive positions (not in `kept`, sorted) drawn uniformly, ascending."""
    return sample_positions(size, min(n, size - kept.numel()), generator, kept)


SAMPLE = 8192  # candidate scores sampled to estimate the k-th highest


def _top(scores: torch.Tensor, candidates: torch.Tensor, n_candidates: int, k: int,
         generator: torch.Generator, lowest: bool = False) -> torch.Tensor:
    """Flat indices of the k highest-scoring (`lowest`: lowest) candidates, the same set as a
    masked topk.

    A topk over a whole layer is most of an update's cost, so the k-th highest score is first
    estimated from a random sample of candidate scores: two thresholds `lo` < `hi` bracket it
    with a margin of 4 standard errors. One pass over the layer keeps the candidates >= lo (about
    k of them); those > hi are in the top k for certain, and a small topk over the band between
    the thresholds picks the rest. Where the estimate misses (rarely) or candidates are too few
    to sample, a topk runs over the candidates. On a 1M-weight layer this is 3-5x faster.
    For `lowest`, the scores are negated: only the few gathered ones, not the whole layer.
    """
    sign = -1.0 if lowest else 1.0
    if k <= 0:
        return torch.empty(0, dtype=torch.long, device=scores.device)
    n = scores.numel()
    if k >= n_candidates:
        return candidates.nonzero().squeeze(1)
    if n_candidates > 4 * SAMPLE:
        draws = torch.randint(n, (SAMPLE * n // n_candidates,), generator=generator,
                              device=generator.device)
        sample = sign * scores[draws[candidates[draws]]]
        m = max(sample.numel(), 1)
        q = k / n_candidates
        margin = 4.0 * math.sqrt(q * (1.0 - q) / m) + 4.0 / m
        rank_hi, rank_lo = int(m * (q - margin)), math.ceil(m * (q + margin))
        if rank_lo < sample.numel():
            # kthvalue counts from the lowest: the r-th highest of m is the (m - r + 1)-th lowest
            lo = torch.kthvalue(sample, m - rank_lo + 1).values
            hi = torch.kthvalue(sample, m - rank_hi + 1).values if rank_hi > 0 else math.inf
            above = scores <= -lo if lowest else scores >= lo
            kept = (above & candidates).nonzero().squeeze(1)
            values = sign * scores[kept]
            sure = values > hi
            n_sure = int(torch.count_nonzero(sure))
            if kept.numel() >= k >= n_sure:
                band = (~sure).nonzero().squeeze(1)  # indices: one scan for two gathers
                rest = torch.topk(values[band], k - n_sure, sorted=False).indices
                return torch.cat([kept[sure], kept[band[rest]]])
    if 4 * n_candidates < n:  # few candidates (pruning a sparse layer): gather them first
        idx = candidates.nonzero().squeeze(1)
        return idx[torch.topk(scores[idx], k, largest=not lowest, sorted=False).indices]
    keyed = scores.masked_fill(~candidates, math.inf if lowest else -math.inf)
    return torch.topk(keyed, k, largest=not lowest, sorted=False).indices


def bias_fan_in(module: nn.Module, weight_name: str,
                shape: Sequence[int]) -> tuple[str, int] | None:
    """The name of the bias that goes with weight `weight_name` of `module` and the fan-in of
    torch's own law for it (nn.LSTM draws every bias from its hidden size), or None.

    Every execution path draws these biases from the topology's stream with `draw_bias`, so
    that the paths start from the same network."""
    if isinstance(module, nn.LSTM):
        return weight_name.replace("weight", "bias"), module.hidden_size
    if isinstance(module, nn.Linear | nn.Conv2d) and weight_name == "weight":
        return "bias", math.prod(shape[1:])
    return None


class Topology:
    """What every execution path shares: layer targets, the update schedule, activation capture
    and the statistics. A path builds `self.layers` (each with `name`, `module`, `target`,
    `size`, `active`, `uses_per_sample`, `activations`) and implements `after_step`'s masking
    and `_update_layer`."""

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
        with self._capture(), torch.no_grad():
            was_training = model.training
            model.eval()
            model(batch)
            model.train(was_training)
        for layer in self.layers:
            if layer.activations is not None:
                layer.uses_per_sample = max(1, layer.activations[1].shape[0] // batch.shape[0])
            layer.activations = None

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

    def _layer_state(self, layer) -> dict[str, Any]:
        """The path's state of `layer` that the model's state dict does not hold (copies)."""
        raise NotImplementedError

    def _load_layer_state(self, layer, saved: Mapping[str, Any]) -> None:
        """Take back what `_layer_state` saved (copies: `saved` stays as it is)."""
        raise NotImplementedError

    def observe(self, step: int) -> contextlib.AbstractContextManager:
        """Context for the forward pass of `step`: captures activations if its update needs them."""
        if self.config.grow_score in NEEDS_ACTIVATIONS and self._is_update(step):
            return self._capture()
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
        return self._global_targets(sum(targets), dense)

    def _global_targets(self, total: int, dense: list[bool]) -> list[int]:
        """Current counts less the globally smallest |w| of the layers not `dense`, so that
        the layers hold `total` in all (no change where they hold no more already)."""
        current = [layer.target for layer in self.layers]
        excess = sum(current) - total
        ranked = [i for i, d in enumerate(dense) if not d]
        if excess <= 0 or not ranked:
            return current
        values = [self._active_magnitudes(self.layers[i]) for i in ranked]
        owner = torch.cat([torch.full((v.numel(),), j) for j, v in enumerate(values)])
        lowest = torch.topk(torch.cat(values).float(), excess, largest=False).indices
        removed = torch.bincount(owner[lowest.cpu()], minlength=len(ranked)).tolist()
        for i, r in zip(ranked, removed, strict=True):
            current[i] -= r
        return current

    def _active_magnitudes(self, layer) -> torch.Tensor:
        """|w| of a layer's active weights, one value each."""
        raise NotImplementedError

    @torch.no_grad()
    def update(self, step: int) -> None:
        start = time.perf_counter()
        scheduled = self.schedule.is_update(step)
        fraction = self.schedule.fraction(step) if scheduled else 0.0
        targets = self._step_targets(step)
        grows = [min(round(fraction * t), math.prod(s) - t)
                 for t, s in zip(targets, self.shapes, strict=True)]
        if self.config.redistribution == "momentum" and fraction > 0:
            targets, grows = self._redistribute(targets, grows)
        self.scheduled_updates += scheduled
        if scheduled and self._removes_channels(step):
            grows = [g + f for g, f in zip(grows, self._remove_channels(step, targets),
                                           strict=True)]
        moved = 0
        for layer, target, n_grow in zip(self.layers, targets, grows, strict=True):
            moved += self._update_layer(layer, target, n_grow)
            layer.activations = None
        self._after_update()
        self.stats.updates += 1
        self.stats.moved += moved
        self.stats.seconds += time.perf_counter() - start

    def _after_update(self) -> None:
        """What a path refreshes once all layers are updated."""

    def _removes_channels(self, step: int) -> bool:
        """Chase: whether the scheduled update at `step` removes channels (every
        channel_prune_every-th one until channel_prune_end of training)."""
        c = self.config
        return (c.channel_prune != "none" and self.scheduled_updates % c.channel_prune_every == 0
                and step <= c.channel_prune_end * self.schedule.total_steps)

    def _remove_channels(self, step: int, targets: list[int]) -> list[int]:
        """Remove each eligible layer's lowest-UMM units (see channels.py); the active weights
        each layer freed, which its update regrows among its other units."""
        raise NotImplementedError

    def _update_layer(self, layer, target: int, n_grow: int) -> int:
        """Bring `layer` to `target` active connections, growing n_grow (and pruning what
        makes the count); returns how many it grew."""
        raise NotImplementedError

    def _redistribute(self, targets: list[int], grows: list[int]) -> tuple[list, list]:
        """SNFS: every sparse layer prunes what it would, and the regrowth, their sum, is
        shared among them in proportion to the mean |momentum| of their active weights
        (largest remainders; a layer's share capped at its free positions, the excess shared
        again), so the layers' budgets move towards those that learn."""
        sparse = [i for i, (t, s) in enumerate(zip(targets, self.shapes, strict=True))
                  if t < math.prod(s)]
        momenta = [self._active_momentum(self.layers[i]) for i in sparse]
        if not sparse or any(m is None for m in momenta):
            return targets, grows
        weight = torch.stack([m.abs().mean() for m in momenta]).double().cpu()
        free = torch.tensor([math.prod(self.shapes[i]) - targets[i] + grows[i] for i in sparse])
        share = torch.zeros(len(sparse), dtype=torch.long)
        left = sum(grows[i] for i in sparse)
        open_ = free > 0
        while left > 0 and open_.any() and weight[open_].sum() > 0:
            w = torch.where(open_, weight, 0.0)
            raw = left * w / w.sum()
            add = raw.floor().long()
            rest = left - int(add.sum())
            add[(raw - add).argsort(descending=True, stable=True)[:rest]] += 1
            add = torch.minimum(add, free - share)
            share += add
            left -= int(add.sum())
            open_ = share < free
        targets, grows = list(targets), list(grows)
        for j, i in enumerate(sparse):
            targets[i] += int(share[j]) - grows[i]
            grows[i] = int(share[j])
        return targets, grows

    def _active_momentum(self, layer) -> torch.Tensor | None:
        """The optimizer's first moment of a layer's active weights, one value each."""
        raise NotImplementedError

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
        excluded = torch.cat([kept, chosen]).sort().values
        extra = sample_positions(size, k_random, self.generator, excluded)
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

    def _parameter(self, layer) -> nn.Parameter:
        """The parameter that holds a layer's active weights."""
        raise NotImplementedError

    def _momentum(self, param: nn.Parameter) -> torch.Tensor | None:
        """The optimizer's first moment of `param` (SGD's buffer, Adam's exp_avg), if any."""
        if self.optimizer is None:
            return None
        state = self.optimizer.state.get(param, {})
        for key in ("momentum_buffer", "exp_avg"):
            if state.get(key) is not None:
                return state[key]
        return None

    # -- activation capture (CTRE's cosine growth, FLOP counting) ---------------------------
    @contextlib.contextmanager
    def _capture(self) -> Iterator[None]:
        handles = []
        for layer in self.layers:
            handles.append(layer.module.register_forward_hook(_make_hook(layer)))
        try:
            yield
        finally:
            for h in handles:
                h.remove()


@EXECUTIONS.register("masked")
class SparseTopology(Topology):
    """The `masked` execution path: dense weights, multiplied by masks after every step."""

    def __init__(
        self,
        named_weights: Sequence[tuple[str, nn.Parameter]],
        model: nn.Module,
        config: TopologyConfig,
        update_schedule: UpdateSchedule,
        sparsity_schedule: SparsitySchedule,
        gain: float,
        generator: torch.Generator,
    ) -> None:
        super().__init__([tuple(w.shape) for _, w in named_weights], config, update_schedule,
                         sparsity_schedule, generator)
        targets = self.targets(sparsity_schedule.start)
        history = config.grow_score in NEEDS_HISTORY
        with torch.no_grad():
            for (name, weight), target in zip(named_weights, targets, strict=True):
                flat, values, init_std = initial_entries(
                    weight.shape, target, config.weight_init, gain, generator, weight.device,
                    weight.dtype, per_row=config.fan_in == "constant")
                if target < weight.numel():
                    mask = torch.zeros(weight.numel(), dtype=weight.dtype, device=weight.device)
                    mask[flat] = 1.0
                    mask = mask.view_as(weight)
                else:  # a dense layer holds views of a single 1 instead of masks: no memory
                    mask = weight.new_ones(()).expand_as(weight)
                ever_active = None
                if history:  # the same views for a dense layer (a bool copy would materialize)
                    ever_active = mask.bool() if mask.is_contiguous() else \
                        torch.ones((), dtype=torch.bool, device=weight.device).expand_as(weight)
                weight.zero_()
                weight.view(-1)[flat] = values
                module = model.get_submodule(name.rsplit(".", 1)[0]) if "." in name else model
                bias = bias_fan_in(module, name.rpartition(".")[2], weight.shape)
                if bias is not None and getattr(module, bias[0]) is not None:
                    draw_bias(getattr(module, bias[0]), bias[1], generator)
                self.layers.append(MaskedLayer(name, weight, module, mask, ever_active,
                                               init_std, target))
        if config.channel_prune != "none":  # Conv2d channels and Linear units, not the output
            for layer in self.layers[:-1]:
                if isinstance(layer.module, nn.Conv2d | nn.Linear) and layer.target < layer.size:
                    layer.removed = torch.zeros(layer.weight.shape[0], dtype=torch.bool,
                                                device=layer.weight.device)
        self._after_update()

    def _parameter(self, layer: MaskedLayer) -> nn.Parameter:
        return layer.weight

    def _layer_state(self, layer: MaskedLayer) -> dict[str, Any]:
        """The mask and the history as bool, None for a dense layer's views of a single 1;
        Chase's removed units."""
        dense = not layer.mask.is_contiguous()
        return {"mask": None if dense else layer.mask.bool(),
                "ever_active": None if dense or layer.ever_active is None
                else layer.ever_active.clone(),
                "removed": None if layer.removed is None else layer.removed.clone()}

    def _load_layer_state(self, layer: MaskedLayer, saved: Mapping[str, Any]) -> None:
        weight = layer.weight
        dense = saved["mask"] is None
        layer.mask = weight.new_ones(()).expand_as(weight) if dense else \
            saved["mask"].to(device=weight.device, dtype=weight.dtype)
        if layer.ever_active is not None:
            layer.ever_active = torch.ones((), dtype=torch.bool, device=weight.device).expand_as(
                weight) if dense else saved["ever_active"].to(weight.device, copy=True)
        if layer.removed is not None:
            layer.removed = saved["removed"].to(weight.device, copy=True)

    def _remove_channels(self, step: int, targets: list[int]) -> list[int]:
        c = self.config
        fraction = removed_fraction(step, self.schedule.total_steps, c.channel_prune_ratio,
                                    c.channel_prune_end)
        freed = []
        for layer, target in zip(self.layers, targets, strict=True):
            if layer.removed is None:
                freed.append(0)
                continue
            units = units_to_remove(umm(layer.weight.detach(), layer.mask), layer.removed,
                                    fraction, layer.size // layer.removed.numel(), target)
            freed.append(int(layer.mask[units].sum()))
            layer.removed[units] = True
            layer.mask[units] = 0.0
            layer.weight.detach()[units] = 0.0
        return freed

    def _active_magnitudes(self, layer: MaskedLayer) -> torch.Tensor:
        return layer.weight.detach().view(-1)[layer.mask.reshape(-1).bool()].abs()

    def _active_momentum(self, layer: MaskedLayer) -> torch.Tensor | None:
        momentum = self._momentum(layer.weight)
        return None if momentum is None else momentum.view(-1)[layer.mask.reshape(-1).bool()]

    def _after_update(self) -> None:
        """The layers that need masking after a step: fully dense ones are skipped."""
        sparse = [la for la in self.layers if la.target < la.weight.numel()]
        self._weights = [layer.weight for layer in sparse]
        self._masks = [layer.mask for layer in sparse]

    @torch.no_grad()
    def after_step(self, step: int) -> None:
        """Call after `optimizer.step()`: re-applies masks, then updates the topology if due."""
        # torch._foreach_mul_ is the fused multi-tensor kernel torch.optim itself uses: one call
        # instead of one per layer keeps the per-step cost of masking at a single pass.
        if self._weights:
            torch._foreach_mul_(self._weights, self._masks)
        super().after_step(step)

    # -- the prune/grow step ---------------------------------------------------------------
    def _update_layer(self, layer: MaskedLayer, target: int, n_grow: int) -> int:
        c = self.config
        if not layer.mask.is_contiguous():  # a dense layer (views of a single 1)
            if target == layer.weight.numel():
                return 0
            layer.mask = layer.mask.contiguous()  # becomes sparse: real masks from now on
            if layer.ever_active is not None:
                layer.ever_active = layer.ever_active.contiguous()
        active = layer.mask.bool()
        entries = active.view(-1).nonzero().squeeze(1)  # ascending, as the sparse path's
        n_active = entries.numel()
        n_prune = n_active - target + n_grow
        if n_prune > n_active:  # Chase's removed channels freed more than a gradual target
            n_grow -= n_prune - n_active  # lets the layer keep: regrow only up to the target
            n_prune = n_active
        if n_prune <= 0 and n_grow <= 0:  # (SRigL's ablation may have left it below target)
            layer.target = target if c.fan_in == "free" else min(target, n_active)
            return 0
        state = self._state(layer, active)
        flat_mask = layer.mask.view(-1)
        flat_weight = layer.weight.view(-1)
        if n_prune > 0:  # selected among the active entries, as on the sparse path
            score = PRUNE_SCORES[c.prune_score](state)
            chosen = select(None if score is None else score.reshape(-1)[entries],
                            torch.ones(n_active, dtype=torch.bool, device=entries.device),
                            n_prune, c.prune_random_ratio, self.generator,
                            n_candidates=n_active, lowest=True)
            pruned = entries[chosen]
            flat_mask.index_fill_(0, pruned, 0.0)
            flat_weight.index_fill_(0, pruned, 0.0)
        if n_grow > 0:
            state.mask = flat_mask.bool().view_as(layer.mask)
            n_candidates = layer.weight.numel() - n_active + n_prune
            if layer.removed is not None:  # removed units are never grown into
                state.mask = state.mask | layer.removed.view(-1, *[1] * (layer.mask.dim() - 1))
                n_candidates -= int(layer.removed.sum()) * (layer.size // layer.removed.numel())
            if c.fan_in == "constant":
                ablated, grown = self._grow_rows(state, target, n_grow,
                                                 ablate=layer is not self.layers[-1])
                flat_mask.index_fill_(0, ablated, 0.0)
                flat_weight.index_fill_(0, ablated, 0.0)
            else:
                grown = self._grow(state, n_grow, n_candidates)
            flat_mask.index_fill_(0, grown, 1.0)
            values = REGROW_INITS[c.regrow_init](grown.numel(), layer.init_std, self.generator)
            flat_weight.index_copy_(0, grown, values.to(flat_weight))
            self._reset_optimizer_state(layer.weight, grown)
            if layer.ever_active is not None:
                layer.ever_active.view(-1).index_fill_(0, grown, True)
            if c.fan_in == "constant":  # ablated units leave a remainder of the budget unused
                target = int(torch.count_nonzero(flat_mask))
        layer.target = target
        return max(n_grow, 0)

    def _grow_rows(self, state: LayerState, target: int, n_grow: int,
                   ablate: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """SRigL: the flat positions of the units it ablates and of those it grows.

        If `ablate` (and the grow score has a preference: salience is defined by it), a unit
        whose salient weights (kept after pruning, or among the n_grow best of the whole layer
        by the grow score) number fewer than max(1, floor(min_salient_weights_per_neuron x
        fan-in)) is ablated (all its weights removed), keeping at least the ceil(target /
        inputs) most salient units, as many as can hold the budget; the budget is shared evenly
        by the other units (fan-in = target // units), and each grows to that fan-in.
        """
        c = self.config
        mask = state.mask.reshape(state.mask.shape[0], -1)
        n_out, fan = mask.shape
        kept = mask.sum(dim=1)
        score = self._grow_score(state)
        alive = torch.ones(n_out, dtype=torch.bool, device=mask.device)
        if ablate and c.min_salient_weights_per_neuron > 0 and score is not None:
            salient = mask.clone().view(-1)
            everywhere = torch.ones_like(salient)
            salient[select(score, everywhere, n_grow, 0.0, self.generator)] = True
            counts = salient.view(n_out, fan).sum(dim=1)
            threshold = max(1, int(c.min_salient_weights_per_neuron * (target // n_out)))
            alive = counts >= threshold
            least = -(-target // fan)
            if int(alive.sum()) < least:
                alive = torch.zeros_like(alive).index_fill_(
                    0, counts.argsort(descending=True, stable=True)[:least], True)
        per_row = min(fan, target // int(alive.sum()))
        need = torch.where(alive, per_row - kept, 0).clamp_min(0)
        ablated = (mask & ~alive[:, None]).view(-1).nonzero().squeeze(1)
        keys = None if score is None else score.reshape(n_out, fan)
        grown = grow_rows(keys, ~mask & alive[:, None], need, c.grow_random_ratio,
                          self.generator)
        return ablated, grown

    def _grow(self, state: LayerState, k: int, n_candidates: int) -> torch.Tensor:
        """Ascending flat positions of k inactive connections (see `_grow_positions`)."""
        kept = state.mask.view(-1).nonzero().squeeze(1)

        def by_score(n: int, subset: torch.Tensor | None) -> torch.Tensor | None:
            score = self._grow_score(state)  # after the subset's draws, as on the sparse path
            if score is None:
                return None
            if subset is None:
                return select(score, ~state.mask, n, 0.0, self.generator,
                              n_candidates=n_candidates)
            candidates = torch.zeros(state.mask.numel(), dtype=torch.bool, device=kept.device)
            return select(score, candidates.index_fill_(0, subset, True), n, 0.0,
                          self.generator, n_candidates=subset.numel())

        return self._grow_positions(state.mask.numel(), kept, k, by_score)

    def _state(self, layer: MaskedLayer, active: torch.Tensor) -> LayerState:
        return LayerState(
            weight=layer.weight.detach(),
            grad=None if layer.weight.grad is None else layer.weight.grad.detach(),
            momentum=self._momentum(layer.weight),
            mask=active,
            ever_active=layer.ever_active,
            activations=layer.activations,
            generator=self.generator,
            mest_gamma=self.config.mest_gamma,
        )

    def _reset_optimizer_state(self, weight: nn.Parameter, grown: torch.Tensor) -> None:
        if self.optimizer is None:
            return
        for value in self.optimizer.state.get(weight, {}).values():
            if isinstance(value, torch.Tensor) and value.shape == weight.shape:
                value.view(-1).index_fill_(0, grown, 0.0)


def _make_hook(layer: MaskedLayer):
    def hook(module: nn.Module, inputs: tuple, output) -> None:
        layer.activations = _as_matrices(module, layer.name, inputs[0].detach(), output)

    return hook


def _as_matrices(module: nn.Module, name: str, x: torch.Tensor, output) -> tuple:
    """(inputs, outputs) of a layer as matrices with one column per input / output unit."""
    if isinstance(module, nn.LSTM | SparseLSTM):
        h = output[0].detach()
        x_in = h if "weight_hh" in name else x
        h = h.reshape(-1, h.shape[-1])
        return x_in.reshape(-1, x_in.shape[-1]), h.repeat(1, 4)
    y = output.detach()
    if y.dim() == 4:  # conv: one row per sample and position
        y = y.permute(0, 2, 3, 1).reshape(-1, y.shape[1])
        x = x.mean(dim=(2, 3)).repeat_interleave(y.shape[0] // x.shape[0], dim=0)
        return x, y
    return x.reshape(-1, x.shape[-1]), y.reshape(-1, y.shape[-1])
