"""Truly sparse linear layers: only the active weights are stored, multiplied and differentiated.

A sparse weight W (out_features x in_features) is its active values plus a `CSRLayout`:

- `crow`, `col`: W in CSR form (rows in order, columns sorted within a row), int32;
- `crow_t`, `col_t`, `perm`: the CSR form of W^T (W in CSC form) over the same values,
  `values_t = values[perm]`; built once per pattern, so each backward pays one gather of nnz
  values instead of a transpose.

`sparse_linear` computes y = x W^T + b with torch's own kernels (MKL on CPU, cuSPARSE on CUDA):
forward by SpMM of the CSR weight, input gradient by SpMM of the transposed pattern, weight
gradient by SDDMM (`torch.sparse.sampled_addmm`) on the active pattern only. The gradient of
`values` is a dense 1-D tensor aligned with `values`, so any torch.optim optimizer keeps state
for the active weights only. `SparseLinear` is the module around it.

Layout of activations: SpMM computes (W x^T), out_features x batch, so the output is returned
as its transposed view (a batch x out_features tensor with strides (1, batch), no copy). Element-
wise layers keep that layout and the next sparse layer then reads x^T as a contiguous matrix,
which is MKL's fast case; `.contiguous()` it where a caller needs `.view`.

Growth scores that need a dense quantity (|dense gradient|, CTRE's cosine) are computed at
topology updates only, one block of output rows at a time (compressed.py), from the (input,
output gradient) pairs that a SparseLinear captures.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn
from torch.autograd.function import once_differentiable

# torch warns once per process that its CSR support is "beta"; the kernels used here are
# covered by the tests of this module.
warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")

# torch's CPU build links MKL's LP64 interface: its SpMM takes 32-bit indices and converts int64
# ones on every call (two copies of the index arrays, seen in the profiler). The time difference
# is within noise at 4096 x 4096 (`bench/sparse_kernels.py --choices`); sampled_addmm and
# index_select take either. int32 halves the index memory: training state with SGD momentum is
# 2.0 x density x dense instead of 3.0.
INDEX_DTYPE = torch.int32
BLOCK_ELEMENTS = 1 << 22  # elements of one dense row block in the growth helpers (16 MB fp32)


@dataclass(frozen=True, eq=False)
class CSRLayout:
    """The pattern of one sparse matrix: its CSR indices and those of its transpose.

    Values are not part of the layout: a tensor `values` of length `nnz` in CSR order (row by
    row, columns ascending) gives the matrix `csr(values)`; `values.index_select(0, perm)` is the
    same matrix's values in CSC order, i.e. the CSR values of its transpose.
    """

    shape: tuple[int, int]
    crow: torch.Tensor  # (rows + 1,)
    col: torch.Tensor  # (nnz,)
    crow_t: torch.Tensor  # (cols + 1,)
    col_t: torch.Tensor  # (nnz,): the row of each entry, in CSC order
    perm: torch.Tensor  # (nnz,): CSR position of each entry in CSC order

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def from_coo(cls, rows: torch.Tensor, cols: torch.Tensor,
                 shape: tuple[int, int]) -> tuple[CSRLayout, torch.Tensor]:
        """The layout of the entries (rows[i], cols[i]), given in any order, and `order`:
        the input positions in CSR order (`values[order]` are the CSR values).

        Raises ValueError on an index out of range or a repeated entry. Memory is O(nnz).
        """
        n_rows, n_cols = shape
        rows, cols = rows.reshape(-1).long(), cols.reshape(-1).long()
        if rows.numel() != cols.numel():
            raise ValueError(f"rows and cols differ in length: {rows.numel()} != {cols.numel()}")
        if rows.numel() and (int(rows.min()) < 0 or int(rows.max()) >= n_rows
                             or int(cols.min()) < 0 or int(cols.max()) >= n_cols):
            raise ValueError(f"an index lies outside the {n_rows} x {n_cols} matrix")
        key, order = torch.sort(rows * n_cols + cols)
        if key.numel() > 1 and bool((key[1:] == key[:-1]).any()):
            raise ValueError("an entry is given twice")
        return cls._from_sorted(rows[order], cols[order], shape), order

    @classmethod
    def from_mask(cls, mask: torch.Tensor, block_rows: int | None = None) -> CSRLayout:
        """The layout of the True entries of a bool matrix, read one block of rows at a time."""
        block_rows = block_rows or _default_block_rows(mask.shape[1])
        blocks = ((start, mask[start:start + block_rows])
                  for start in range(0, mask.shape[0], block_rows))
        return cls.from_mask_blocks(blocks, (mask.shape[0], mask.shape[1]))

    @classmethod
    def from_mask_blocks(cls, blocks: Iterable[tuple[int, torch.Tensor]],
                         shape: tuple[int, int]) -> CSRLayout:
        """The layout of the True entries of (first_row, bool block) pairs, blocks in row order.

        For masks that are produced block by block and never exist whole.
        """
        rows, cols, last = [], [], 0
        for start, block in blocks:
            if start < last:
                raise ValueError("mask blocks must come in increasing, disjoint row order")
            r, c = block.nonzero(as_tuple=True)  # row-major: already in CSR order
            rows.append(r + start)
            cols.append(c)
            last = start + block.shape[0]
        if not rows:
            empty = torch.empty(0, dtype=torch.long)
            return cls._from_sorted(empty, empty, shape)
        return cls._from_sorted(torch.cat(rows), torch.cat(cols), shape)

    @classmethod
    def _from_sorted(cls, rows: torch.Tensor, cols: torch.Tensor,
                     shape: tuple[int, int]) -> CSRLayout:
        """rows, cols (int64) already in CSR order, without repeats."""
        n_rows, n_cols = shape
        if rows.numel() >= 2**31:
            raise ValueError(f"{rows.numel()} entries do not fit 32-bit indices")
        # a stable sort by column keeps rows ascending within a column: the CSC order
        perm = torch.sort(cols, stable=True).indices
        return cls(
            shape=(n_rows, n_cols),
            crow=_compressed(rows, n_rows),
            col=cols.to(INDEX_DTYPE),
            crow_t=_compressed(cols, n_cols),
            col_t=rows[perm].to(INDEX_DTYPE),
            perm=perm.to(INDEX_DTYPE),
        )

    # -- reading ---------------------------------------------------------------------------
    @property
    def nnz(self) -> int:
        return self.col.numel()

    def rows(self) -> torch.Tensor:
        """The row (int64) of every entry, in CSR order."""
        counts = self.crow[1:] - self.crow[:-1]
        return torch.repeat_interleave(
            torch.arange(self.shape[0], device=self.crow.device), counts.long(),
            output_size=self.nnz)

    def csr(self, values: torch.Tensor) -> torch.Tensor:
        """The sparse CSR matrix with these values (a view of them, no copy)."""
        return torch.sparse_csr_tensor(self.crow, self.col, values, self.shape,
                                       check_invariants=False)

    def csr_t(self, values: torch.Tensor) -> torch.Tensor:
        """The transpose as a sparse CSR matrix (its values gathered through `perm`)."""
        return torch.sparse_csr_tensor(self.crow_t, self.col_t, values.index_select(0, self.perm),
                                       (self.shape[1], self.shape[0]), check_invariants=False)

    def to_dense(self, values: torch.Tensor) -> torch.Tensor:
        return self.csr(values).to_dense()

    def sddmm(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """(a @ b) at the active entries only, as values in CSR order (a: rows x K, b: K x cols).

        `sampled_addmm` computes beta * self + alpha * (a @ b) on self's pattern; its `self`
        here holds zeros, since beta = 0 would still turn a non-finite value of self into NaN.
        Its CPU kernel makes `a` and `b^T` contiguous first: passing b as the transpose of a
        contiguous matrix saves a copy.
        """
        pattern = self.csr(torch.zeros(self.nnz, dtype=a.dtype, device=a.device))
        return torch.sparse.sampled_addmm(pattern, a, b, beta=0.0).values()

    def to(self, device: torch.device | str) -> CSRLayout:
        return CSRLayout(self.shape, *(t.to(device) for t in (
            self.crow, self.col, self.crow_t, self.col_t, self.perm)))

    def index_bytes(self) -> int:
        return sum(t.numel() * t.element_size()
                   for t in (self.crow, self.col, self.crow_t, self.col_t, self.perm))


def _compressed(index: torch.Tensor, n: int) -> torch.Tensor:
    """Compressed pointers (n + 1,) of a sorted (or, for the transpose, any) index vector."""
    ptr = torch.zeros(n + 1, dtype=torch.long, device=index.device)
    ptr[1:] = torch.bincount(index, minlength=n).cumsum(0)
    return ptr.to(INDEX_DTYPE)


def _default_block_rows(n_cols: int) -> int:
    return max(1, BLOCK_ELEMENTS // max(n_cols, 1))


# -- the autograd function -------------------------------------------------------------------
class _SparseLinearFunction(torch.autograd.Function):
    """y = x W^T + b for a 2-D x; see `sparse_linear`."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, values: torch.Tensor, bias: torch.Tensor | None,
                layout: CSRLayout, sink: list | None) -> torch.Tensor:
        weight = layout.csr(values)
        x_t = x.t()
        out_t = torch.mm(weight, x_t) if bias is None else \
            torch.addmm(bias.unsqueeze(1), weight, x_t)
        ctx.layout, ctx.sink = layout, sink
        ctx.save_for_backward(x, values)
        return out_t.t()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: torch.Tensor):
        x, values = ctx.saved_tensors
        layout: CSRLayout = ctx.layout
        grad_x = grad_values = grad_bias = None
        grad_t = grad_out.t()
        if ctx.needs_input_grad[0]:
            grad_x = torch.mm(layout.csr_t(values), grad_t).t()
        if ctx.needs_input_grad[1]:
            grad_values = layout.sddmm(grad_t, x)
        if ctx.needs_input_grad[2]:
            grad_bias = grad_out.sum(0)
        if ctx.sink is not None:
            # detached: a kept graph would pin the values' gradient accumulator at their old size
            ctx.sink.append((x.detach(), grad_out.detach()))
        return grad_x, grad_values, grad_bias, None, None


def sparse_linear(x: torch.Tensor, values: torch.Tensor, layout: CSRLayout,
                  bias: torch.Tensor | None = None, sink: list | None = None) -> torch.Tensor:
    """y = x W^T + b where W = layout.csr(values); x is (..., in_features).

    Differentiable in x, values and bias; the gradient of `values` is dense and aligned with it.
    For a 2-D x the output is a transposed view (see the module docstring). `sink`, when given,
    receives (x, grad_out) of each backward pass: what the dense gradient is computed from.
    """
    n_out, n_in = layout.shape
    if x.shape[-1] != n_in:
        raise ValueError(f"x has {x.shape[-1]} features, the layer takes {n_in}")
    if x.dim() == 2:
        return _SparseLinearFunction.apply(x, values, bias, layout, sink)
    y = _SparseLinearFunction.apply(x.reshape(-1, n_in), values, bias, layout, sink)
    return y.reshape(*x.shape[:-1], n_out)


# -- the module ------------------------------------------------------------------------------
class SparseLinear(nn.Module):
    """A linear layer that stores only its active weights (`values`) and their `CSRLayout`.

    `values` and `bias` are Parameters; the layout's index tensors are buffers (they follow
    `.to()` and the state dict). A new pattern is set with `set_pattern`, which keeps the same
    `values` Parameter object (so an optimizer keeps referring to it) and returns the order
    needed to carry per-weight optimizer state over.

    With `capture_io` set, each backward pass appends (x, grad_out) to `captured`: what a
    gradient-based growth score reads at a topology update (compressed.py); the caller
    clears the list. A state dict with another number of active weights loads (the tensors are
    resized to it).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        """An empty pattern (no active weight); bias initialised as nn.Linear does."""
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        empty = torch.empty(0, dtype=torch.long, device=device)
        layout = CSRLayout._from_sorted(empty, empty, (out_features, in_features))
        self._set_layout(layout)
        self.values = nn.Parameter(torch.empty(0, device=device, dtype=dtype))
        if bias:
            bound = 1.0 / math.sqrt(in_features) if in_features else 0.0
            self.bias = nn.Parameter(
                torch.empty(out_features, device=device, dtype=dtype).uniform_(-bound, bound))
        else:
            self.register_parameter("bias", None)
        self.capture_io = False
        self.captured: list[tuple[torch.Tensor, torch.Tensor]] = []

    @classmethod
    def from_dense(cls, linear: nn.Linear, mask: torch.Tensor) -> SparseLinear:
        """The sparse layer holding linear.weight where `mask` (bool, same shape) is True."""
        weight = linear.weight.detach()
        if mask.shape != weight.shape:
            raise ValueError(f"mask shape {tuple(mask.shape)} != weight {tuple(weight.shape)}")
        layer = cls(linear.in_features, linear.out_features, bias=linear.bias is not None,
                    device=weight.device, dtype=weight.dtype)
        mask = mask.to(device=weight.device, dtype=torch.bool)
        layer._set_layout(CSRLayout.from_mask(mask))
        with torch.no_grad():
            layer.values.data = weight[mask].clone()  # boolean indexing is row-major: CSR order
            if linear.bias is not None:
                layer.bias.copy_(linear.bias)
        return layer

    @property
    def layout(self) -> CSRLayout:
        return CSRLayout((self.out_features, self.in_features), self.crow, self.col,
                         self.crow_t, self.col_t, self.perm)

    @property
    def nnz(self) -> int:
        return self.col.numel()

    def _set_layout(self, layout: CSRLayout) -> None:
        for name in ("crow", "col", "crow_t", "col_t", "perm"):
            self.register_buffer(name, getattr(layout, name))

    @torch.no_grad()
    def set_pattern(self, rows: torch.Tensor, cols: torch.Tensor,
                    values: torch.Tensor) -> torch.Tensor:
        """Make (rows[i], cols[i]) with weight values[i] the active entries, in any order.

        Returns `order`: the input positions in CSR order. A tensor aligned with the inputs
        (e.g. kept optimizer state followed by zeros for grown entries) is aligned with the new
        `values` after `[order]`. The `values` Parameter keeps its identity while the number of
        entries stays the same; its grad is cleared. A new number of entries makes a new
        Parameter (autograd keeps a parameter's size from its first use while any graph built
        on it lives, e.g. the last loss a training loop holds): an optimizer holding the old
        one must be pointed at the new one, as CompressedTopology does.
        """
        layout, order = CSRLayout.from_coo(rows.to(self.col.device), cols.to(self.col.device),
                                           (self.out_features, self.in_features))
        self._set_layout(layout)
        new = values.to(self.values)[order.to(values.device)].contiguous()
        if new.shape == self.values.shape:
            self.values.data = new
            self.values.grad = None
        else:
            self.values = nn.Parameter(new, requires_grad=self.values.requires_grad)
        return order

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        # the pattern's size is part of the state: take the saved sizes before nn.Module copies
        for name in ("crow", "col", "crow_t", "col_t", "perm", "values"):
            saved, own = state_dict.get(prefix + name), getattr(self, name)
            if isinstance(saved, torch.Tensor) and saved.shape != own.shape:
                own.data = own.new_empty(saved.shape)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sink = self.captured if self.capture_io else None
        return sparse_linear(x, self.values, self.layout, self.bias, sink)

    def to_dense(self) -> torch.Tensor:
        """The dense weight (out_features x in_features), zeros where inactive."""
        return self.layout.to_dense(self.values.detach())

    def state_bytes(self) -> int:
        """Bytes of the stored weight: values and indices (bias excluded)."""
        return self.values.numel() * self.values.element_size() + self.layout.index_bytes()

    def extra_repr(self) -> str:
        total = self.in_features * self.out_features
        density = self.nnz / total if total else 0.0
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"nnz={self.nnz}, density={density:.4g}, bias={self.bias is not None}")

