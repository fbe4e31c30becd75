"""The `masked` execution path: every sparsified weight stays a dense tensor, multiplied by its
mask after every optimizer step.

Inactive weights are set back to exactly zero after every step (one fused multiply over all
layers); the optimizer's state of inactive weights keeps following the dense gradient, which is
what momentum-based growth (SNFS) reads. Any layer kind runs here (Linear, Conv2d, LSTM,
attention projections), and so does every axis of the meta-space; a fully dense layer holds a
view of a single 1 instead of a mask. Scores see the whole layer (`LayerState` of the whole
weight). The prune/grow step itself is `Topology._update_layer`; this module says how a masked
layer shows and changes its pattern.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from metasparse.sparse.channels import umm
from metasparse.sparse.fan_in import grow_to_fan_in
from metasparse.sparse.init import bias_fan_in, draw_bias, initial_entries
from metasparse.sparse.schedule import SparsitySchedule, UpdateSchedule
from metasparse.sparse.scores import NEEDS_HISTORY, PRUNE_SCORES, LayerState
from metasparse.sparse.selection import select
from metasparse.sparse.topology import EXECUTIONS, Topology, TopologyConfig


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
        return int(torch.count_nonzero(self.mask))  # exact in any dtype (a sum in fp16 is not)

    @property
    def size(self) -> int:
        return self.weight.numel()


@EXECUTIONS.register("masked")
class MaskedTopology(Topology):
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

    def _unit_umm(self, layer: MaskedLayer) -> torch.Tensor:
        return umm(layer.weight.detach(), layer.mask)

    def _drop_units(self, layer: MaskedLayer, units: torch.Tensor) -> int:
        freed = int(layer.mask[units].sum())
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

    def _follows_weight(self, layer: MaskedLayer) -> bool:
        return layer.mask.dtype == layer.weight.dtype

    def _follow_weight(self, layer: MaskedLayer) -> None:
        layer.mask = _like(layer.mask, layer.weight, layer.weight.dtype)
        if layer.ever_active is not None:
            layer.ever_active = _like(layer.ever_active, layer.weight, torch.bool)

    # -- the prune/grow step's hooks (see Topology._update_layer) ---------------------------
    def _entries(self, layer: MaskedLayer) -> torch.Tensor:
        if not layer.mask.is_contiguous():  # a dense layer becomes sparse: real masks from now on
            layer.mask = layer.mask.contiguous()
            if layer.ever_active is not None:
                layer.ever_active = layer.ever_active.contiguous()
        return layer.mask.view(-1).nonzero().squeeze(1)

    def _prune_scores(self, layer: MaskedLayer, entries: torch.Tensor) -> torch.Tensor | None:
        score = PRUNE_SCORES[self.config.prune_score](self._state(layer, layer.mask.bool()))
        return None if score is None else score.reshape(-1)[entries]

    def _drop(self, layer: MaskedLayer, pruned: torch.Tensor) -> None:
        layer.mask.view(-1).index_fill_(0, pruned, 0.0)
        layer.weight.view(-1).index_fill_(0, pruned, 0.0)

    def _grow(self, layer: MaskedLayer, keep: torch.Tensor, kept: torch.Tensor, target: int,
              n_grow: int) -> torch.Tensor:
        """Never into Chase's removed units; SRigL (constant fan-in) grows row by row and
        ablates (drops) the units it gives up."""
        mask = layer.mask.bool()
        n_candidates = layer.size - kept.numel()
        if layer.removed is not None:  # removed units are never grown into
            mask = mask | layer.removed.view(-1, *[1] * (layer.mask.dim() - 1))
            n_candidates -= int(layer.removed.sum()) * (layer.size // layer.removed.numel())
        state = self._state(layer, mask)
        if self.config.fan_in == "constant":
            ablated, grown = self._grow_rows(state, target, n_grow,
                                             ablate=layer is not self.layers[-1])
            self._drop(layer, ablated)
            return grown
        return self._grow_free(state, n_grow, n_candidates)

    def _add(self, layer: MaskedLayer, keep: torch.Tensor, kept: torch.Tensor,
             grown: torch.Tensor, values: torch.Tensor) -> None:
        layer.mask.view(-1).index_fill_(0, grown, 1.0)
        layer.weight.view(-1).index_copy_(0, grown, values.to(layer.weight))
        self._reset_optimizer_state(layer.weight, grown)
        if layer.ever_active is not None:
            layer.ever_active.view(-1).index_fill_(0, grown, True)

    def _grow_rows(self, state: LayerState, target: int, n_grow: int,
                   ablate: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """SRigL: the flat positions of the units it ablates and of those it grows
        (`fan_in.grow_to_fan_in`, as the sparse path grows; no ablation unless `ablate`)."""
        c = self.config
        mask = state.mask.reshape(state.mask.shape[0], -1)
        alive, grown = grow_to_fan_in(
            self._grow_score(state), mask, target, n_grow,
            c.min_salient_weights_per_neuron if ablate else 0.0, c.grow_random_ratio,
            self.generator)
        return (mask & ~alive[:, None]).view(-1).nonzero().squeeze(1), grown

    def _grow_free(self, state: LayerState, k: int, n_candidates: int) -> torch.Tensor:
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

    def _state(self, layer: MaskedLayer, mask: torch.Tensor) -> LayerState:
        """What the scores see: the whole layer, `mask` (bool) its active positions."""
        return LayerState(
            weight=layer.weight.detach(),
            grad=None if layer.weight.grad is None else layer.weight.grad.detach(),
            momentum=self._momentum(layer.weight),
            mask=mask,
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


SparseTopology = MaskedTopology  # its name before it had a module of its own


def _like(mask: torch.Tensor, weight: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """`mask` on `weight`'s device in `dtype`; a dense layer's view of a single 1 stays one."""
    if mask.device == weight.device and mask.dtype == dtype:
        return mask
    if not mask.is_contiguous():
        return torch.ones((), dtype=dtype, device=weight.device).expand_as(weight)
    return mask.to(device=weight.device, dtype=dtype)
