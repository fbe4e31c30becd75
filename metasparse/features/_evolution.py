"""Input-neuron evolution for feature selection: sparse training that moves the connections of
the input neurons themselves, so that the features a network reads are chosen while it trains.

The configuration's `input_evolution` names it (spaces/meta.yaml); `fit_evolving` trains with
it (it is `metasparse.train.fit` with a step hook). Either method owns every topology update of
the network (the configuration's `update_every` must be `never`) and runs on the masked path
only: it reads the dense weights and gradients and writes the pattern through the path's own
hooks (`_entries`, `_drop`, `_add`: grown weights start at zero, as in both codes, with zero
optimizer state, as at every update).

- `wast` (Sokar, Atashgahi, Pechenizkiy, Mocanu, NeurIPS 2022; GhadaSokar/WAST, main.py and
  dst.py), on a denoising autoencoder. After every optimizer step each input neuron j gains
  importance lambda * mean_batch |x_j - xhat_j| + (1 - lambda) * strength_j (its sum of |w|),
  and each output neuron likewise with its incoming strength; hidden neurons are equally
  important. Then every layer drops the `evolution_zeta` of its active connections whose
  |w| x importance of their input neuron (first layer) or output neuron (last layer) is
  smallest, smallest positive and largest negative in proportion (SET's two thresholds, counted
  exactly), and regrows as many: the first layer in the columns of the most important input
  neurons, the last in the rows of the most important outputs, the hidden layers at random.
  Features are ranked by their accumulated importance (the importance `wast`).
  Departures: the reconstruction error is read from the loss gradient at the output,
  2 (xhat - x) / batch for this project's loss, so it is exact, from the first step on whose
  hooks were in place (the second); ties in a neuron's importance are broken at random (the
  code's argpartition breaks them by position); the count dropped is exactly zeta x active
  (the code's thresholds remove about that), and the same count is regrown.
- `neurofs` (Atashgahi et al., TMLR 2023; zahraatashgahi/NeuroFS, code/NeuroFS.py), on a
  classifier. At the end of every epoch but the last: in the first two, the first layer drops as
  SET does (`evolution_zeta` of its weights, the code's zeta_hid) and grows by |gradient|; from
  the third, the input neurons are evolved: until `neurofs_remove_end` of the epochs the weakest
  mature input neurons (by strength) are removed so that, at the end, neurofs_zeta_in x d + K
  remain, spread evenly over the epochs left; besides, int(removed so far x zeta_in x (1 - epoch
  / epochs)) neurons are replaced: the weakest go, and the inactive neurons (never one just
  removed) of largest |gradient| come in. A neuron that came in is immature (never removed)
  until it has survived one update. The kept neurons lose zeta_in of their weights (SET), then
  the layer regrows to its initial count among the kept and the new neurons by |gradient|. Every
  other sparse layer drops `evolution_zeta` (SET) and regrows by |gradient|. Features are ranked
  by neuron strength. Departures: the gradient is the loss's, summed over the epoch's batches
  (the code differentiates the sum of the softmax outputs, which is zero up to rounding, over
  the training set); the last epoch is not followed by an update, so that the ranking reads
  trained weights (the code ranks by the strength measured before its last update, the same
  weights); K is the largest K asked for; the network's layer sizes, density and epochs are
  the configuration's (the preset `neurofs` holds the code's, see spaces/presets.yaml).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from metasparse._registry import Registry
from metasparse.errors import ConfigError
from metasparse.sparse.compressed import sparse_path_refusal
from metasparse.sparse.selection import sample_positions
from metasparse.train import Trained, fit

NONE = "none"
INPUT_EVOLUTIONS: Registry[type] = Registry("input_evolution")
# the feature scores each evolution kept, by the topology it evolved (for the importance `wast`)
FEATURE_SCORES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def check_evolution(config: Mapping[str, Any]) -> None:
    """Refuse, in one line, a configuration whose input evolution cannot run."""
    name = config.get("input_evolution", NONE)
    if name == NONE:
        return
    INPUT_EVOLUTIONS[name]
    refusal = sparse_path_refusal({"input_evolution": name})
    if config.get("execution") != "masked" and refusal is not None:
        raise ConfigError(refusal)
    task = {"wast": "autoencoder", "neurofs": "classifier"}[name]
    needs = [("update_every", "never"), ("task", task), ("model", "mlp")]
    for key, value in needs:
        if config.get(key) != value:
            raise ConfigError(f"The 'input_evolution' parameter {name!r} owns the topology "
                              f"updates of a masked MLP {task}; it needs {key}={value!r}, "
                              f"got {config.get(key)!r}")


def fit_evolving(config: Mapping[str, Any], dataset: Any, epochs: int, seed: int = 0, *,
                 k: int | None = None, **options: Any) -> Trained:
    """`metasparse.train.fit` with the configuration's `input_evolution` (none: plain fit);
    `k` is the number of features to be selected (NeuroFS's end point; default 50)."""
    from metasparse.space import resolve_config

    c = resolve_config(config)
    name = c["input_evolution"]
    if name == NONE:
        return fit(config, dataset, epochs, seed, **options)
    check_evolution(c)
    evolution = INPUT_EVOLUTIONS[name](c, epochs, 50 if k is None else k)
    user = options.pop("on_step", None)

    def on_step(step: int, topology: Any, optimizer: torch.optim.Optimizer) -> None:
        evolution.step(step, topology, optimizer)
        if user is not None:
            user(step, topology, optimizer)

    on_step.input_evolution = name  # train.fit refuses the evolution without this hook
    try:
        trained = fit(config, dataset, epochs, seed, on_step=on_step, **options)
    finally:
        evolution.close()
    if evolution.topology is not None:
        FEATURE_SCORES[trained.topology] = evolution.feature_scores()
    return trained


class _Evolution:
    """What both methods share: the layers, their weights and pattern hooks."""

    def __init__(self, config: Mapping[str, Any], epochs: int, k: int) -> None:
        self.config, self.epochs, self.k = config, epochs, k
        self.topology: Any = None
        self.handles: list[Any] = []

    def step(self, step: int, topology: Any, optimizer: torch.optim.Optimizer) -> None:
        if self.topology is None:
            self.topology = topology
            self.start()
        self.after_step(step)

    def start(self) -> None: ...

    def after_step(self, step: int) -> None: ...

    def feature_scores(self) -> np.ndarray | None:
        return None

    def close(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles.clear()

    @property
    def layers(self) -> list[Any]:
        return self.topology.layers

    @property
    def generator(self) -> torch.Generator:
        return self.topology.generator

    def rewire(self, layer: Any, pruned: torch.Tensor, grown: torch.Tensor) -> None:
        """Drop the flat positions `pruned` (active) and grow `grown` (inactive after the
        drop) through the path's hooks; the layer keeps its count when both are as long."""
        topology = self.topology
        entries = topology._entries(layer)
        keep = ~torch.isin(entries, pruned)
        kept = entries[keep]
        topology._drop(layer, pruned)
        # both codes regrow at zero (WAST masks a weight that was zero; NeuroFS rebuilds its
        # model from the masked weights)
        values = torch.zeros(grown.numel(), device=layer.weight.device)
        topology._add(layer, keep, kept, grown.sort().values, values)
        layer.target = layer.active


@INPUT_EVOLUTIONS.register(NONE)
class NoEvolution(_Evolution):
    """No input evolution: the configuration's own topology updates (fit_evolving calls plain
    fit)."""


def set_prune(weight: torch.Tensor, entries: torch.Tensor, n: int) -> torch.Tensor:
    """SET's drop counted exactly: the n active entries (flat positions `entries`) of lowest
    rank of |w| within their sign, as a fraction of their sign's count (the smallest positive
    and the largest negative weights, in proportion)."""
    if n <= 0:
        return entries.new_empty(0)
    w = weight.reshape(-1)[entries]
    score = torch.empty_like(w)
    for group in (w >= 0, w < 0):
        idx = group.nonzero().squeeze(1)
        if idx.numel():
            ranks = torch.empty_like(w[idx])
            ranks[w[idx].abs().argsort(stable=True)] = torch.arange(
                1, idx.numel() + 1, dtype=w.dtype, device=w.device)
            score[idx] = ranks / idx.numel()
    return entries[score.argsort(stable=True)[:n]]


def grow_by_units(mask: torch.Tensor, unit_score: torch.Tensor, n: int, dim: int,
                  generator: torch.Generator) -> torch.Tensor:
    """Flat positions of n inactive connections of the 2-D `mask`, in the units (rows: dim 0,
    columns: dim 1) of highest `unit_score` first: every free position of the best unit, then
    of the next, and at random within the unit where the count runs out. Ties between units
    are broken at random."""
    if n <= 0:
        return torch.empty(0, dtype=torch.long, device=mask.device)
    free = ~mask.bool()
    counts = free.sum(dim=1 - dim)
    perm = torch.randperm(unit_score.numel(), generator=generator,
                          device=generator.device).to(mask.device)
    order = perm[(-unit_score[perm]).argsort(stable=True)]
    total = counts[order].cumsum(0)
    if int(total[-1]) < n:
        raise ValueError(f"cannot grow {n} of {int(total[-1])} free positions")
    whole = int((total <= n).sum())  # units taken whole
    taken = torch.zeros(unit_score.numel(), dtype=torch.bool, device=mask.device)
    taken[order[:whole]] = True
    picked = [(free & (taken[:, None] if dim == 0 else taken[None, :])).reshape(-1)
              .nonzero().squeeze(1)]
    need = n - (int(total[whole - 1]) if whole else 0)
    if need > 0:  # the unit where the count runs out: at random among its free positions
        unit = int(order[whole])
        line = (free[unit] if dim == 0 else free[:, unit]).nonzero().squeeze(1)
        line = line[torch.randperm(line.numel(), generator=generator,
                                   device=generator.device)[:need].to(line.device)]
        picked.append(unit * mask.shape[1] + line if dim == 0 else line * mask.shape[1] + unit)
    return torch.cat(picked)


def _weight(layer: Any) -> torch.Tensor:
    return layer.weight.reshape(layer.weight.shape[0], -1)


def _is_sparse(layer: Any) -> bool:
    return layer.target < layer.size


@INPUT_EVOLUTIONS.register("wast")
class Wast(_Evolution):
    """WAST: see the module's docstring."""

    def start(self) -> None:
        first, last = self.layers[0], self.layers[-1]
        n_in, n_out = _weight(first).shape[1], _weight(last).shape[0]
        device = first.weight.device
        self.importance_in = torch.zeros(n_in, dtype=torch.float64, device=device)
        self.importance_out = torch.zeros(n_out, dtype=torch.float64, device=device)
        self.error: torch.Tensor | None = None

        def keep_error(module: Any, inputs: Any, output: torch.Tensor) -> None:
            if output.requires_grad:
                output.register_hook(self._take_error)

        self.handles.append(last.module.register_forward_hook(keep_error))

    def _take_error(self, grad: torch.Tensor) -> None:
        # this project's loss is sum((xhat - x)^2) / batch: its gradient at the output is
        # 2 (xhat - x) / batch, so mean_batch |x - xhat| = sum_batch |grad| / 2
        self.error = grad.detach().abs().sum(dim=0).double() / 2

    @torch.no_grad()
    def after_step(self, step: int) -> None:
        lam = self.config["wast_lambda"]
        first, last = self.layers[0], self.layers[-1]
        error = self.error if self.error is not None else torch.zeros_like(self.importance_in)
        strength_in = (_weight(first) * first.mask.reshape(first.mask.shape[0], -1)).abs().sum(0)
        strength_out = (_weight(last) * last.mask.reshape(last.mask.shape[0], -1)).abs().sum(1)
        self.importance_in += lam * error + (1 - lam) * strength_in.double()
        self.importance_out += lam * error + (1 - lam) * strength_out.double()
        self.error = None
        for index, layer in enumerate(self.layers):
            if not _is_sparse(layer):
                continue
            weight = _weight(layer)
            if index == 0:
                scaled, unit, dim = weight * self.importance_in.to(weight)[None, :], \
                    self.importance_in, 1
            elif index == len(self.layers) - 1:
                scaled, unit, dim = weight * self.importance_out.to(weight)[:, None], \
                    self.importance_out, 0
            else:
                scaled, unit, dim = weight, None, 0
            entries = self.topology._entries(layer)
            n = round(self.config["evolution_zeta"] * entries.numel())
            pruned = set_prune(scaled, entries, n)
            mask = layer.mask.reshape(weight.shape).clone()
            mask.view(-1)[pruned] = 0
            if unit is None:
                kept = entries[~torch.isin(entries, pruned)]
                grown = sample_positions(layer.size, n, self.generator, kept)
            else:
                grown = grow_by_units(mask, unit, n, dim, self.generator)
            self.rewire(layer, pruned, grown)

    def feature_scores(self) -> np.ndarray:
        return self.importance_in.cpu().numpy()


@INPUT_EVOLUTIONS.register("neurofs")
class NeuroFS(_Evolution):
    """NeuroFS: see the module's docstring."""

    def start(self) -> None:
        first = self.layers[0]
        n_in = _weight(first).shape[1]
        self.dim = n_in
        zeta_in = self.config["neurofs_zeta_in"]
        self.dim_to_remove = max(0, int((1 - zeta_in) * n_in - self.k))
        self.epoch_remove = max(1, int(self.epochs * self.config["neurofs_remove_end"]))
        self.dim_removed = 0
        self.protection = torch.zeros(n_in, dtype=torch.long)
        self.count = first.active  # the first layer's initial number of connections
        self.gradients = [torch.zeros_like(layer.weight) for layer in self.layers]
        self.steps_per_epoch = self.topology.schedule.steps_per_epoch

    @torch.no_grad()
    def after_step(self, step: int) -> None:
        for index, (total, layer) in enumerate(zip(self.gradients, self.layers, strict=True)):
            if (index == 0 or _is_sparse(layer)) and layer.weight.grad is not None:
                total += layer.weight.grad
        if step % self.steps_per_epoch:
            return
        epoch = step // self.steps_per_epoch - 1  # 0-based, as the code's
        if epoch >= self.epochs - 1:
            return
        for index, layer in enumerate(self.layers):
            if index == 0:
                self._input_layer(layer, epoch, self.gradients[0].reshape(_weight(layer).shape))
            elif _is_sparse(layer):
                self._hidden_layer(layer, self.gradients[index])
        for total in self.gradients:
            total.zero_()

    def _hidden_layer(self, layer: Any, gradient: torch.Tensor) -> None:
        """SET's drop, then growth by |gradient| among the inactive positions."""
        entries = self.topology._entries(layer)
        n = round(self.config["evolution_zeta"] * entries.numel())
        pruned = set_prune(layer.weight, entries, n)
        score = gradient.abs().reshape(-1).clone()
        score[entries[~torch.isin(entries, pruned)]] = -math.inf
        self.rewire(layer, pruned, _top(score, n))

    def _input_layer(self, layer: Any, epoch: int, gradient: torch.Tensor) -> None:
        zeta_in = self.config["neurofs_zeta_in"]
        weight = _weight(layer)
        mask = layer.mask.reshape(weight.shape).bool()
        if epoch < 2:  # the first two updates: as a hidden layer's
            self._hidden_layer(layer, gradient)
            self.protection += 1
            return
        strength = (weight * mask).abs().sum(dim=0).cpu()
        active = (mask.any(dim=0)).cpu()
        keep, remove, n_update = self._select_neurons(epoch, strength, active)
        self.protection[remove] = 0
        # the kept neurons lose zeta_in of their weights (SET); the removed ones all theirs
        entries = self.topology._entries(layer)
        cols = entries % weight.shape[1]
        keep_mask = torch.zeros(self.dim, dtype=torch.bool)
        keep_mask[keep] = True
        in_kept = keep_mask.to(cols.device)[cols]
        pruned_kept = set_prune(weight, entries[in_kept], round(zeta_in * int(in_kept.sum())))
        pruned = torch.cat([entries[~in_kept], pruned_kept])
        candidates = torch.zeros(self.dim, dtype=torch.bool)
        candidates[keep] = True
        if n_update > 0:  # new neurons: the inactive ones of largest |gradient|
            inactive = (~active).nonzero().squeeze(1)
            best = gradient.abs().amax(dim=0).cpu()[inactive]
            added = inactive[best.argsort(descending=True, stable=True)[:n_update]]
            candidates[added] = True
        remaining = entries[~torch.isin(entries, pruned)]
        score = gradient.abs().clone()
        score[:, ~candidates.to(score.device)] = -math.inf
        score = score.reshape(-1)
        score[remaining] = -math.inf
        n_grow = min(self.count - remaining.numel(),
                     int(torch.isfinite(score).sum()))
        self.rewire(layer, pruned, _top(score, n_grow))

    def _select_neurons(self, epoch: int, strength: torch.Tensor,
                        active: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
        """The code's select_input_neurons_to_remove: (neurons kept, neurons removed, number
        of neurons to replace)."""
        zeta_in = self.config["neurofs_zeta_in"]
        n_update = int(self.dim_removed * zeta_in * (1 - epoch / self.epochs))
        if self.dim_removed >= self.dim_to_remove:
            n_remove = 0
        else:
            n_remove = math.ceil((self.dim_to_remove - self.dim_removed)
                                 / max(1, self.epoch_remove - epoch))
        self.dim_removed += n_remove
        n_keep = max(0, self.dim - self.dim_removed - n_update)
        active_idx = active.nonzero().squeeze(1)
        top = _top_indices(strength, n_keep)
        if self.dim_removed >= self.dim_to_remove:
            keep = top
            remove = active_idx[~torch.isin(active_idx, keep)]
            return keep, remove, n_update
        immature = self.protection < 1
        mature = active_idx[~immature[active_idx]]
        mature_keep = mature[torch.isin(mature, top)]
        n_total_remove = mature.numel() - mature_keep.numel()
        remove = mature[~torch.isin(mature, mature_keep)]
        active_immature = active_idx[immature[active_idx]]
        self.protection[active_immature] += 1
        self.protection[mature_keep] += 1
        keep = torch.cat([mature_keep, active_immature])
        if n_total_remove < n_remove + n_update:
            n_update = n_total_remove - n_remove
            if n_update < 0:
                self.dim_removed += n_total_remove - n_remove
                n_update = 0
        return keep, remove, n_update


def _top(score: torch.Tensor, n: int) -> torch.Tensor:
    """The n positions of highest finite score (fewer if fewer are finite)."""
    n = min(n, int(torch.isfinite(score).sum()))
    if n <= 0:
        return torch.empty(0, dtype=torch.long, device=score.device)
    return score.topk(n).indices


def _top_indices(values: torch.Tensor, n: int) -> torch.Tensor:
    if n <= 0:
        return torch.empty(0, dtype=torch.long)
    return values.argsort(descending=True, stable=True)[:n]

