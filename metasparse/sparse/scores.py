"""Prune and grow scores: one small function each, in two registries.

A score maps a layer's state to a tensor shaped like its weight. Pruning removes the active
connections of LOWEST prune score; growing adds the inactive connections of HIGHEST grow score.
A score without preference returns None: the choice is then uniform among the candidates
(drawn without a random number per weight). A boolean score is a preference without order: its
True candidates are drawn first, uniformly, then the others. The step that uses them, with the
randomness ratios, is `Topology._update_layer` (topology.py); the choosing is selection.py's.

How to add a criterion:

1. One function here, registered by its decorator (`@GROW_SCORES.register("name")` or
   `@PRUNE_SCORES.register`). It reads the `LayerState` fields it needs and is elementwise over
   the state's positions (the whole weight, a block of output rows, or entries: see LayerState).
2. A prune score reads the active weights' `weight`, `grad` and `momentum`; what a grow score
   reads beyond `weight` and `mask` goes in the sets at the end of this module, which is how
   the execution paths know to provide it:
   `NEEDS_ACTIVATIONS` (`activations`, captured in the update step's forward pass),
   `NEEDS_HISTORY` (`ever_active`, kept only then), `NEEDS_GRADIENT` (`grad` of inactive
   weights, which the sparse path captures from the update step's backward pass),
   `NEEDS_DENSE_MOMENTUM` (the momentum of inactive weights, which the sparse path does not
   have: it refuses the score). A new quantity of the whole layer (as `unit_strength`,
   `graph`) is a LayerState field computed here from `weight` and `mask` where it is None (the
   masked path, which scores whole layers), and passed by the sparse path for its pruning
   (`CompressedTopology._prune_scores`, entries) and its growth (`_top_by_blocks`, row blocks).
   A hyperparameter of its own (as `mest_gamma`) is a meta.yaml parameter with a condition
   line `{prune_score: name}`, listed in docs/CONTRACTS.md, and a field of `TopologyConfig`
   and of `LayerState`, which the paths' builders of LayerState fill (as `mest_gamma`).
3. spaces/meta.yaml: the name in the choices of `prune_score` or `grow_score`; a grow score
   with an order (a float tensor) also in the condition lines of `grow_candidates` and
   `grow_selection`, and one with any preference (float or bool) in that of
   `min_salient_weights_per_neuron` (the random score is in none of them).
4. tests/sparse/test_conformance.py: its entry in `PRUNE_SPEC` or `GROW_SPEC`, the expected
   score stated independently from the harness's dense `Snapshot` (None where a test of its own
   states it, as for `unfired` and `random`); the suite fails for a registered score without
   one, on every execution path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy import sparse

from metasparse._registry import Registry

PRUNE_SCORES: Registry = Registry("prune_score")
GROW_SCORES: Registry = Registry("grow_score")


@dataclass
class LayerState:
    """What a score may look at for a set of positions of one weight tensor at an update.

    The positions are the whole weight (the masked path), a block of its output rows (growth
    on the sparse path: `activations` then hold those rows' outputs only), or a list of entries
    given by `rows` and `cols` (pruning on the sparse path: every tensor is 1-D, one value per
    entry). A score is elementwise over the positions; what needs the whole layer comes in
    `unit_strength`.
    """

    weight: torch.Tensor
    grad: torch.Tensor | None  # dense gradient of the last batch (inactive weights included)
    momentum: torch.Tensor | None  # SGD momentum buffer or Adam's first moment
    mask: torch.Tensor  # bool, True = active
    ever_active: torch.Tensor | None  # bool, True = active at some point (for NEEDS_HISTORY)
    activations: tuple[torch.Tensor, torch.Tensor] | None  # (inputs M x n_in, outputs M x n_out)
    generator: torch.Generator
    mest_gamma: float
    rows: torch.Tensor | None = None  # entries form: output unit of each entry
    cols: torch.Tensor | None = None  # entries form: input unit of each entry
    # normalised strength of the output units of these positions and of every input unit;
    # computed from `weight` when None (the whole layer is there)
    unit_strength: tuple[torch.Tensor, torch.Tensor] | None = None
    # the whole layer's active entries (rows, cols, n_out) after pruning, for scores that read
    # the layer's graph, and the first row of these positions in it; from `mask` when None
    graph: tuple[torch.Tensor, torch.Tensor, int] | None = None
    row_offset: int = 0


def _grad(s: LayerState) -> torch.Tensor:
    return s.grad if s.grad is not None else torch.zeros_like(s.weight)


def _momentum(s: LayerState) -> torch.Tensor:
    """The optimizer's momentum, or the gradient where the optimizer keeps none (momentum 0)."""
    return s.momentum if s.momentum is not None else _grad(s)


def unit_strength(s_out: torch.Tensor, s_in: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Neuron strengths (sums of |w| per output and per input unit), each over its mean."""
    return s_out / s_out.mean().clamp_min(1e-12), s_in / s_in.mean().clamp_min(1e-12)


def _neuron_strength(s: LayerState) -> torch.Tensor:
    """Normalised strength of the input plus that of the output neuron of every connection."""
    if s.unit_strength is None:
        w = s.weight.abs().reshape(s.weight.shape[0], s.weight.shape[1], -1).sum(dim=2)
        s_out, s_in = unit_strength(w.sum(dim=1), w.sum(dim=0))
    else:
        s_out, s_in = s.unit_strength
    if s.rows is not None:
        return s_out[s.rows] + s_in[s.cols]
    combined = s_out[:, None] + s_in[None, :]
    return combined.view(*combined.shape, *([1] * (s.weight.dim() - 2))).expand_as(s.weight)


@PRUNE_SCORES.register("magnitude")
def prune_magnitude(s: LayerState) -> torch.Tensor:
    return s.weight.abs()


@PRUNE_SCORES.register("set")
def prune_set(s: LayerState) -> torch.Tensor:
    """SET: the smallest positive and the largest negative weights go first, in proportion.

    The score is the rank of |w| within its sign group divided by the group size, so removing
    the k lowest scores removes the same fraction of positive and of negative weights (as the
    original SET code does with its two thresholds, fixed here to count exactly k).
    """
    w = s.weight.flatten()
    active = s.mask.flatten()
    score = torch.full_like(w, float("inf"))
    for group in (active & (w >= 0), active & (w < 0)):
        idx = group.nonzero().squeeze(1)
        if idx.numel():
            order = w[idx].abs().argsort()
            ranks = torch.empty_like(order, dtype=w.dtype)
            ranks[order] = torch.arange(1, idx.numel() + 1, dtype=w.dtype)
            score[idx] = ranks / idx.numel()
    return score.view_as(s.weight)


@PRUNE_SCORES.register("random")
def prune_random(s: LayerState) -> None:
    return None


@PRUNE_SCORES.register("snip")
def prune_snip(s: LayerState) -> torch.Tensor:
    """|w g|: the first-order Taylor estimate of the loss change when w is removed."""
    return (s.weight * _grad(s)).abs()


@PRUNE_SCORES.register("momentum")
def prune_momentum(s: LayerState) -> torch.Tensor:
    return _momentum(s).abs()


@PRUNE_SCORES.register("mest")
def prune_mest(s: LayerState) -> torch.Tensor:
    """MEST: |w| + gamma |g|."""
    return s.weight.abs() + s.mest_gamma * _grad(s).abs()


@PRUNE_SCORES.register("neuron")
def prune_neuron(s: LayerState) -> torch.Tensor:
    """Connections of weak neurons first; within a neuron, the smallest weights first."""
    w = s.weight.abs()
    n_active = torch.count_nonzero(s.mask).clamp_min(1)
    mean_active = ((w * s.mask).sum() / n_active).clamp_min(1e-12)  # no gather of 1M weights
    return _neuron_strength(s) + w / mean_active


@GROW_SCORES.register("random")
def grow_random(s: LayerState) -> None:
    return None


@GROW_SCORES.register("gradient")
def grow_gradient(s: LayerState) -> torch.Tensor:
    """RigL: |dense gradient| of one batch."""
    return _grad(s).abs()


@GROW_SCORES.register("momentum")
def grow_momentum(s: LayerState) -> torch.Tensor:
    """SNFS: |momentum of the dense gradient|."""
    return _momentum(s).abs()


@GROW_SCORES.register("cosine")
def grow_cosine(s: LayerState) -> torch.Tensor:
    """CTRE: |cosine similarity| of the activations of the two neurons a connection would join.

    Without captured activations (a layer kind the capture does not cover) every candidate
    scores the same and the grow randomness decides, as CTRE refills unfilled slots at random.
    """
    if s.activations is None:
        return torch.zeros_like(s.weight)
    a_in, a_out = s.activations
    sim = (F.normalize(a_out, dim=0).T @ F.normalize(a_in, dim=0)).abs()
    return sim.view(*sim.shape, *([1] * (s.weight.dim() - 2))).expand_as(s.weight)


@GROW_SCORES.register("neuron")
def grow_neuron(s: LayerState) -> torch.Tensor:
    """WAST-style: connections between strong neurons first."""
    return _neuron_strength(s)


@GROW_SCORES.register("unfired")
def grow_unfired(s: LayerState) -> torch.Tensor:
    """ITOP: random, but connections never active before come first."""
    return ~s.ever_active


@GROW_SCORES.register("ch2_l3n")
def grow_ch2_l3n(s: LayerState) -> torch.Tensor:
    """CHTs: Cannistraci-Hebb link prediction CH2-L3n on the layer's bipartite graph (outputs
    and inputs as nodes, active connections as links), gradient-free.

    An output i and an input j score by the L3 paths i - u - k - j, through the outputs k that
    share inputs with i and the inputs u that share outputs with j: with c the number of common
    neighbours of two nodes of one side and d the degree of the second,
    sum_k f(c_ik, d_k) A_kj + sum_u A_iu f(c_ju, d_u), f(c, d) = (c + 1) / max(d - c, 1) for
    c > 0 and 0 otherwise (the node-based CH2-L3n of the CHTs code). Computed on the graph as
    sparse matrices (scipy): no dense layer-sized product.
    """
    rows, cols, n_out = _graph(s)
    n_in = s.weight[0].numel()
    adj = sparse.csr_matrix((np.ones(rows.numel()), (rows.cpu().numpy(), cols.cpu().numpy())),
                            shape=(n_out, n_in))
    part = adj[s.row_offset:s.row_offset + s.weight.shape[0]]
    through_outputs = _ch2(part @ adj.T, adj.getnnz(axis=1))  # block x n_out
    through_inputs = _ch2(adj.T @ adj, adj.getnnz(axis=0))  # n_in x n_in
    score = (through_outputs @ adj + part @ through_inputs.T).toarray()
    return torch.from_numpy(score).to(s.weight).view_as(s.weight)


def _graph(s: LayerState) -> tuple[torch.Tensor, torch.Tensor, int]:
    if s.graph is not None:
        return s.graph
    mask = s.mask.reshape(s.mask.shape[0], -1)
    rows, cols = mask.nonzero(as_tuple=True)
    return rows, cols, mask.shape[0]


def _ch2(common: sparse.csr_matrix, degree: np.ndarray) -> sparse.csr_matrix:
    """f(c, d) of `grow_ch2_l3n` on the nonzero entries of a common-neighbour count."""
    common = common.tocoo()
    c = common.data
    f = (c + 1.0) / np.maximum(degree[common.col] - c, 1.0)
    return sparse.csr_matrix((f, (common.row, common.col)), shape=common.shape)


NEEDS_ACTIVATIONS = frozenset({"cosine"})
NEEDS_HISTORY = frozenset({"unfired"})  # grow scores that read ever_active
NEEDS_GRADIENT = frozenset({"gradient"})  # grow scores that read the gradient of inactive weights
NEEDS_DENSE_MOMENTUM = frozenset({"momentum"})  # grow scores that read inactive weights' momentum
