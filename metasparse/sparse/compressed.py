"""The `sparse` execution path: every sparsified Linear and Conv2d layer and LSTM gate matrix
stores only its active weights.

Each such matrix becomes a `SparseLinear` (values plus CSR indices, forward and backward by
sparse kernels, see csr.py; an LSTM becomes a `SparseLSTM` of two, see recurrent.py), so time
and memory follow the number of active weights, and the optimizer
keeps state for active weights only. The topology update (`Topology._update_layer`, the same
step as the masked path's; the conformance suite checks both) acts on that compressed structure
through this path's hooks:

- pruning scores the active entries only (one value per entry: `LayerState` in entries form) and
  selects with the same `select` as the masked path;
- growth scores the inactive positions one block of output rows at a time (a dense block of the
  gradient, of CTRE's cosine, ...), keeping a running top k, so that peak memory is one block;
  uniform picks (random growth, the random share) are drawn among the positions that are not
  active by rejection sampling, never by enumerating a huge layer;
- grown weights get their regrow init, and every optimizer state tensor is carried over for the
  kept entries and starts at zero for the grown ones;
- constant fan-in (SRigL) ranks within each output row and decides its neuron ablation over the
  whole layer: its update puts the layer's grow score together as one dense tensor, block by
  block, with a dense bool of the kept pattern, and grows through fan_in.py's row-wise code (the
  masked path's), so that both paths draw alike. While one layer updates it holds the dense
  tensors that the masked path's update holds (the score, 4 bytes a position; the uniform draws
  of the random share, 4; a few bools) and one block of the ranking: about 16 bytes a position
  of a large layer, where RigL's growth holds one block of the gradient.

Dense quantities exist only at update steps: the dense gradient block by block from the
(input, output gradient) pairs captured in the update step's backward pass; RigL's growth
finds its top k by a threshold (gradient_growth.py) instead of ranking every position.
Convolutions (groups 1, zero padding) run as `SparseConv2d` (sparse_conv.py): unfolded patches
times a SparseLinear, evolved as any other layer. Chase's removed units leave the CSR pattern; the
positions of their rows are excluded from growth: RigL's exact growth skips their rows
(`top_gradient`'s rows_out); other growth holds an index per position of a removed unit while a
layer grows (`_blocked`). Growth by momentum
(SNFS) needs the momentum of inactive weights, which exists only as a dense buffer updated at
every step: it is refused here (use the masked path).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from metasparse.errors import ConfigError
from metasparse.sparse.channels import umm_of_entries, unit_positions
from metasparse.sparse.csr import BLOCK_ELEMENTS, SparseLinear
from metasparse.sparse.fan_in import grow_to_fan_in
from metasparse.sparse.gradient_growth import gradient_rows, top_gradient
from metasparse.sparse.init import bias_fan_in, draw_bias, initial_entries
from metasparse.sparse.install import check_installable, install, owner_of
from metasparse.sparse.recurrent import SparseLSTM
from metasparse.sparse.schedule import SparsitySchedule, UpdateSchedule
from metasparse.sparse.scores import (
    GROW_SCORES,
    NEEDS_DENSE_MOMENTUM,
    NEEDS_GRADIENT,
    NEEDS_HISTORY,
    PRUNE_SCORES,
    LayerState,
    grow_gradient,
    unit_strength,
)
from metasparse.sparse.selection import merge_sorted
from metasparse.sparse.topology import EXECUTIONS, Topology, TopologyConfig


@dataclass
class CompressedLayer:
    """A layer of the sparse path; `name` is the dense weight's name, as on the masked path."""

    name: str
    linear: SparseLinear  # the active weights
    module: nn.Module  # the module owning the weight `name`: `linear`, or a SparseLSTM
    init_std: float
    target: int
    ever_active: torch.Tensor | None  # sorted flat positions ever active (NEEDS_HISTORY only)
    uses_per_sample: int = 1
    # the dense weight's shape after its first dimension (a convolution's (in, kh, kw)): grow
    # scores see their blocks in it, as on the masked path; () for (in_features,)
    unit_shape: tuple[int, ...] = ()
    activations: tuple[torch.Tensor, torch.Tensor] | None = None
    removed: torch.Tensor | None = None  # bool per output unit: Chase's removed units

    @property
    def shape(self) -> tuple[int, int]:
        return self.linear.out_features, self.linear.in_features

    @property
    def active(self) -> int:
        return self.linear.nnz

    @property
    def size(self) -> int:
        return self.linear.out_features * self.linear.in_features


# What the sparse path cannot run: configuration key -> (values, why). One table for the
# trainer's refusal and the search space's (a scenario on this path searches none of these).
_MASKS_ONLY = "which only the 'masked' execution keeps"
REFUSED: dict[str, tuple[frozenset[str], str]] = {
    "grow_score": (NEEDS_DENSE_MOMENTUM, f"reads the momentum of inactive weights, {_MASKS_ONLY}"),
    "input_evolution": (frozenset({"wast", "neurofs"}),
                        f"rewires input neurons in dense masks, {_MASKS_ONLY}"),
}


def sparse_path_refusal(config: Mapping[str, Any]) -> str | None:
    """The one-line reason why the sparse path cannot run `config` (the keys of REFUSED that it
    sets), or None."""
    for key, (values, why) in REFUSED.items():
        if config.get(key) in values:
            return f"The {key!r} parameter {config[key]!r} {why}; use execution=masked"
    return None


@EXECUTIONS.register("sparse")
class CompressedTopology(Topology):
    """Replaces `model`'s sparsifiable Linear and Conv2d layers and LSTM gates by
    `SparseLinear`s (a Conv2d's inside a `SparseConv2d`) and evolves them."""

    replaces_weights = True

    @classmethod
    def check_layers(cls, model: nn.Module, layers: Sequence[tuple[str, nn.Parameter]]) -> None:
        """Linear layers, Conv2d layers (groups 1) and simple LSTMs, but no part of an
        attention block (nn.MultiheadAttention reads its projections' dense weights itself)."""
        attention = [prefix for prefix, module in model.named_modules()
                     if isinstance(module, nn.MultiheadAttention)]
        for name, _ in layers:
            if any(name.startswith(f"{p}." if p else "") for p in attention):
                raise ConfigError(
                    f"The 'execution' parameter 'sparse' cannot run attention projections "
                    f"({name} belongs to a MultiheadAttention): use execution=masked, or "
                    "exclude_types=[nn.MultiheadAttention]")
            check_installable(model, name)

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
        self.block_elements = BLOCK_ELEMENTS  # positions scored at once when growing
        refusal = sparse_path_refusal({key: getattr(config, key, None) for key in REFUSED})
        if refusal is not None:
            raise ConfigError(refusal)
        targets = self.targets(sparsity_schedule.start)
        device = generator.device  # the training device (the model may be on the meta device)
        for name, _ in named_weights:  # refused before any layer is replaced
            check_installable(model, name)
        # read before any layer is replaced: an LSTM's second gate matrix finds a SparseLSTM
        fans = [bias_fan_in(owner_of(model, name), name.rpartition(".")[2], weight.shape)
                for name, weight in named_weights]
        biases = [None if fan is None else getattr(owner_of(model, name), fan[0])
                  for (name, _), fan in zip(named_weights, fans, strict=True)]
        with torch.no_grad():
            for (name, weight), target, fan, bias in zip(named_weights, targets, fans, biases,
                                                         strict=True):
                linear, owner = install(model, name, device, weight.dtype)
                n_in = math.prod(weight.shape[1:])  # a convolution's patch size
                flat, values, init_std = initial_entries(
                    weight.shape, target, config.weight_init, gain, generator, device,
                    weight.dtype, per_row=config.fan_in == "constant")
                if fan is not None and linear.bias is not None:
                    draw_bias(linear.bias, fan[1], generator)
                linear.set_pattern(flat // n_in, flat % n_in, values)
                history = flat.clone() if config.grow_score in NEEDS_HISTORY else None
                self.layers.append(CompressedLayer(name, linear, owner, init_std, target,
                                                   history, unit_shape=tuple(weight.shape[1:])))
                self.replaced += [(old, new) for old, new in
                                  ((weight, linear.values), (bias, linear.bias)) if old is not None]
        if config.channel_prune != "none":  # Conv2d channels and Linear units, not the output
            for layer in self.layers[:-1]:
                if not isinstance(layer.module, SparseLSTM) and layer.target < layer.size:
                    layer.removed = torch.zeros(layer.shape[0], dtype=torch.bool, device=device)

    def observe(self, step: int) -> contextlib.AbstractContextManager:
        """Context for the forward pass of `step`: captures what its update will score with."""
        if not self._is_update(step):
            return contextlib.nullcontext()
        stack = contextlib.ExitStack()
        stack.enter_context(super().observe(step))
        if self.config.grow_score in NEEDS_GRADIENT:
            stack.enter_context(self._capture_io())
        return stack

    @contextlib.contextmanager
    def _capture_io(self) -> Iterator[None]:
        for layer in self.layers:
            layer.linear.captured.clear()
            layer.linear.capture_io = True
        try:
            yield
        finally:
            for layer in self.layers:
                layer.linear.capture_io = False

    def _parameter(self, layer: CompressedLayer) -> nn.Parameter:
        return layer.linear.values

    def _active_magnitudes(self, layer: CompressedLayer) -> torch.Tensor:
        return layer.linear.values.detach().abs()

    def _active_momentum(self, layer: CompressedLayer) -> torch.Tensor | None:
        return self._momentum(layer.linear.values)

    def _layer_state(self, layer: CompressedLayer) -> dict[str, Any]:
        """The history of active positions; the pattern itself is in the model's state dict
        (the SparseLinear's index buffers, which load at their saved size)."""
        return {"ever_active": None if layer.ever_active is None else layer.ever_active.clone(),
                "removed": None if layer.removed is None else layer.removed.clone()}

    def _load_layer_state(self, layer: CompressedLayer, saved: Mapping[str, Any]) -> None:
        if layer.ever_active is not None:
            layer.ever_active = saved["ever_active"].to(layer.ever_active.device, copy=True)
        if layer.removed is not None:
            layer.removed = saved["removed"].to(layer.removed.device, copy=True)

    def _follow_weight(self, layer: CompressedLayer) -> None:
        device = layer.linear.values.device
        if layer.ever_active is not None:
            layer.ever_active = layer.ever_active.to(device)
        if layer.removed is not None:
            layer.removed = layer.removed.to(device)

    def _unit_umm(self, layer: CompressedLayer) -> torch.Tensor:
        n_out, n_in = layer.shape
        return umm_of_entries(self._entries(layer) // n_in, layer.linear.values.detach(), n_out,
                              n_in)

    def _drop_units(self, layer: CompressedLayer, units: torch.Tensor) -> int:
        """The units' entries leave the CSR pattern with their optimizer state (`_add`);
        growth never enters them again (`_blocked`)."""
        entries = self._entries(layer)
        keep = ~torch.isin(entries // layer.shape[1], units)
        if not keep.all():
            self._add(layer, keep, entries[keep], entries.new_empty(0),
                      layer.linear.values.new_empty(0))
        return int((~keep).sum())

    def _blocked(self, layer: CompressedLayer, kept: torch.Tensor) -> torch.Tensor:
        """The positions growth never takes (sorted): the kept ones, and Chase's removed units'
        (as the masked path's mask, which holds them as active while it grows)."""
        if layer.removed is None or not layer.removed.any():
            return kept
        units = unit_positions(layer.removed.nonzero().squeeze(1), layer.shape[1])
        return merge_sorted(kept, units)

    # -- the prune/grow step's hooks (see Topology._update_layer) ---------------------------
    def _entries(self, layer: CompressedLayer) -> torch.Tensor:
        return layer.linear.layout.rows() * layer.shape[1] + layer.linear.col.long()

    def _prune_scores(self, layer: CompressedLayer, entries: torch.Tensor) -> torch.Tensor | None:
        """Scored in entries form: one value per active entry, none for inactive positions."""
        m, n_in = layer.linear, layer.shape[1]
        rows, cols, values = entries // n_in, entries % n_in, m.values.detach()
        state = LayerState(
            weight=values, grad=None if m.values.grad is None else m.values.grad.detach(),
            momentum=self._momentum(m.values),
            mask=torch.ones(entries.numel(), dtype=torch.bool, device=values.device),
            ever_active=None, activations=None, generator=self.generator,
            mest_gamma=self.config.mest_gamma, rows=rows, cols=cols,
            unit_strength=_strength(layer.shape, rows, cols, values))
        return PRUNE_SCORES[self.config.prune_score](state)

    def _grow(self, layer: CompressedLayer, keep: torch.Tensor, kept: torch.Tensor, target: int,
              n_grow: int) -> torch.Tensor:
        """Scored one block of output rows at a time (`_top_by_blocks`); SRigL (constant
        fan-in) grows row by row and ablates units (`_grow_rows`)."""
        if self.config.fan_in == "constant":
            return self._grow_rows(layer, keep, kept, target, n_grow)
        n_in = layer.shape[1]
        rows, cols = kept // n_in, kept % n_in
        values = layer.linear.values.detach()[keep]
        c, removed = self.config, layer.removed
        # RigL's exact growth, with no uniform draw, skips Chase's removed units row by row
        by_rows = (self._grows_by_gradient() and c.grow_random_ratio == 0
                   and c.grow_candidates == "all" and removed is not None and bool(removed.any()))
        blocked = kept if by_rows else self._blocked(layer, kept)
        return self._grow_positions(
            layer.size, blocked, n_grow,
            lambda n, subset: self._top_by_blocks(layer, rows, cols, values, blocked, n, subset,
                                                  removed if by_rows else None))

    def _add(self, layer: CompressedLayer, keep: torch.Tensor, kept: torch.Tensor,
             grown: torch.Tensor, values: torch.Tensor) -> None:
        """A new pattern (kept entries stay in CSR order) and optimizer state to match."""
        m, n_in = layer.linear, layer.shape[1]
        old = m.values
        kept_values = old.detach()[keep]
        flat = torch.cat([kept, grown])
        order = m.set_pattern(flat // n_in, flat % n_in,
                              torch.cat([kept_values, values.to(kept_values)]))
        self._carry_optimizer_state(old, m.values, keep, grown.numel(), order)
        if layer.ever_active is not None:
            layer.ever_active = torch.unique(torch.cat([layer.ever_active, grown]))

    def _release(self, layer: CompressedLayer) -> None:
        super()._release(layer)
        layer.linear.captured.clear()

    def _grow_rows(self, layer: CompressedLayer, keep: torch.Tensor, kept: torch.Tensor,
                   target: int, n_grow: int) -> torch.Tensor:
        """SRigL: the flat positions grown, every unit back to the layer's fan-in, by the grow
        score of the whole layer (`_dense_score`) and `fan_in.grow_to_fan_in`, as the masked
        path grows (ablation: not in the last layer). The kept entries of the units it ablates
        leave `keep` (set False here; `_add` reads it)."""
        c = self.config
        n_out, n_in = layer.shape
        rows = kept // n_in
        score = self._dense_score(layer, rows, kept % n_in, layer.linear.values.detach()[keep])
        mask = torch.zeros(layer.size, dtype=torch.bool, device=kept.device)
        ablate = layer is not self.layers[-1]
        alive, grown = grow_to_fan_in(
            score, mask.index_fill_(0, kept, True).view(n_out, n_in), target, n_grow,
            c.min_salient_weights_per_neuron if ablate else 0.0, c.grow_random_ratio,
            self.generator)
        keep[keep.nonzero().squeeze(1)[~alive[rows]]] = False
        return grown

    def _dense_score(self, layer: CompressedLayer, rows: torch.Tensor, cols: torch.Tensor,
                     values: torch.Tensor) -> torch.Tensor | None:
        """The grow score of every position of the layer after pruning (flat), put together
        from `_block_scores`; None for a score without preference."""
        n_in = layer.shape[1]
        dense = None
        for start, stop, _, score in self._block_scores(layer, rows, cols, values):
            if score is None:
                return None
            if dense is None:
                dense = score.new_empty(layer.size)
            dense[start * n_in:stop * n_in] = score.reshape(-1)
        return dense

    def _block_scores(self, layer: CompressedLayer, rows: torch.Tensor, cols: torch.Tensor,
                      values: torch.Tensor
                      ) -> Iterator[tuple[int, int, torch.Tensor, torch.Tensor | None]]:
        """(start, stop, mask, score) for each block of output rows start:stop in order: which
        of its positions are active (flat bool) and their grow score (`_grow_score`: a block of
        the dense gradient, of CTRE's cosine, ...; None for a score without preference). The
        layer after pruning is its active entries (rows, cols, values), in CSR order."""
        c = self.config
        n_out, n_in = layer.shape
        captured = self._captured(layer)
        strength = _strength(layer.shape, rows, cols, values)
        block_rows = max(1, self.block_elements // n_in)
        bounds = torch.searchsorted(rows, torch.arange(0, n_out + block_rows, block_rows,
                                                       device=rows.device).clamp_max(n_out))
        for b, start in enumerate(range(0, n_out, block_rows)):
            stop = min(n_out, start + block_rows)
            lo, hi = int(bounds[b]), int(bounds[b + 1])
            local = (rows[lo:hi] - start) * n_in + cols[lo:hi]
            mask = torch.zeros((stop - start) * n_in, dtype=torch.bool, device=values.device)
            mask[local] = True
            if layer.removed is not None:  # as the masked path's mask while it grows
                mask.view(stop - start, n_in)[layer.removed[start:stop]] = True
            weight = torch.zeros_like(mask, dtype=values.dtype)
            weight[local] = values[lo:hi]
            dims = (-1, *(layer.unit_shape or (n_in,)))  # a convolution's blocks are 4-D
            history = _block_history(layer.ever_active, start, stop, n_in)
            state = LayerState(
                weight=weight.view(dims),
                grad=gradient_rows(captured, start, stop).view(dims)
                if c.grow_score in NEEDS_GRADIENT else None,
                momentum=None, mask=mask.view(dims),
                ever_active=None if history is None else history.view(dims),
                activations=None if layer.activations is None else
                (layer.activations[0], layer.activations[1][:, start:stop]),
                generator=self.generator, mest_gamma=c.mest_gamma,
                unit_strength=(strength[0][start:stop], strength[1]),
                graph=(rows, cols, n_out), row_offset=start)
            yield start, stop, mask, self._grow_score(state)

    def _top_by_blocks(self, layer: CompressedLayer, rows: torch.Tensor, cols: torch.Tensor,
                       values: torch.Tensor, kept: torch.Tensor, k: int,
                       subset: torch.Tensor | None,
                       rows_out: torch.Tensor | None = None) -> torch.Tensor | None:
        """Flat positions of the k highest grow scores among positions not in `kept` (those in
        `subset`, sorted, if given) nor in the rows `rows_out`, scored one block of output rows
        at a time (`_block_scores`, which excludes Chase's removed units itself); None for a
        score without preference."""
        n_in = layer.shape[1]
        if subset is None and self._grows_by_gradient():  # RigL: exact, by a threshold
            top = top_gradient(self._captured(layer), kept, layer.shape, k, self.block_elements,
                               rows_out)
            if top is not None:
                return top
        best_scores = values.new_empty(0)
        best_flat = kept.new_empty(0)
        for start, stop, mask, score in self._block_scores(layer, rows, cols, values):
            if score is None:
                return None
            if score.dtype == torch.bool:  # a preference: its tiers, uniformly within each
                score = score.to(values.dtype) + 0.5 * torch.rand(
                    score.shape, generator=self.generator, device=self.generator.device)
            excluded = mask if subset is None else ~_block_positions(subset, start, stop, n_in)
            flat_score = score.reshape(-1).masked_fill(excluded, -math.inf)
            top = torch.topk(flat_score, min(k, flat_score.numel()), sorted=False)
            ok = top.values > -math.inf
            best_scores = torch.cat([best_scores, top.values[ok]])
            best_flat = torch.cat([best_flat, top.indices[ok] + start * n_in])
            if best_scores.numel() > k:
                top = torch.topk(best_scores, k, sorted=False)
                best_scores, best_flat = top.values, best_flat[top.indices]
        return best_flat

    def _captured(self, layer: CompressedLayer) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The (input, output gradient) pairs of the update step's backward pass; a grow score
        that reads the gradient raises where none were captured."""
        if self.config.grow_score in NEEDS_GRADIENT and not layer.linear.captured:
            raise RuntimeError(f"{layer.name}: no captured backward pass at this update")
        return layer.linear.captured

    def _grows_by_gradient(self) -> bool:
        """Whether growth takes the highest |dense gradient| (RigL's score, selected by `top`):
        then `top_gradient` finds them without ranking every inactive position."""
        c = self.config
        return GROW_SCORES[c.grow_score] is grow_gradient and c.grow_selection == "top"

    def _carry_optimizer_state(self, old: nn.Parameter, new: nn.Parameter, keep: torch.Tensor,
                               n_grown: int, order: torch.Tensor) -> None:
        """Per-weight optimizer state: kept entries keep theirs, grown ones start at zero; the
        optimizer follows a parameter that a new number of entries replaced."""
        if self.optimizer is None:
            return
        state = self.optimizer.state.pop(old, {})
        for key, value in state.items():
            if isinstance(value, torch.Tensor) and value.shape == keep.shape:
                carried = torch.cat([value[keep], value.new_zeros(n_grown)])
                state[key] = carried[order.to(carried.device)]
        if state:
            self.optimizer.state[new] = state
        if new is not old:
            for group in self.optimizer.param_groups:
                group["params"] = [new if p is old else p for p in group["params"]]


def _strength(shape: tuple[int, int], rows: torch.Tensor, cols: torch.Tensor,
              values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised neuron strengths of a layer given by its active entries."""
    magnitude = values.abs()
    s_out = magnitude.new_zeros(shape[0]).index_add_(0, rows, magnitude)
    s_in = magnitude.new_zeros(shape[1]).index_add_(0, cols, magnitude)
    return unit_strength(s_out, s_in)


def _block_history(ever: torch.Tensor | None, start: int, stop: int,
                   n_in: int) -> torch.Tensor | None:
    """Which positions of rows start:stop were ever active, from the sorted flat history."""
    if ever is None:
        return None
    return _block_positions(ever, start, stop, n_in).view(-1, n_in)


def _block_positions(positions: torch.Tensor, start: int, stop: int,
                     n_in: int) -> torch.Tensor:
    """Which flat positions of rows start:stop are in `positions` (sorted), as a flat bool."""
    lo, hi = torch.searchsorted(positions, torch.tensor([start * n_in, stop * n_in],
                                                        device=positions.device)).tolist()
    block = torch.zeros((stop - start) * n_in, dtype=torch.bool, device=positions.device)
    block[positions[lo:hi] - start * n_in] = True
    return block
