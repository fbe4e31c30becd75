"""The truly sparse layer (metasparse.sparse.csr) against a dense and a masked nn.Linear.

One out x in layer, batch B, measured side by side in one process: for each density, every
variant of every operation runs once per repeat, in turn, and the median over repeats is
reported, so that a noisy shared machine slows all sides alike. Operations:

- fwd: y = layer(x);
- dgrad: the input gradient alone (autograd on a kept graph, only x requires grad);
- wgrad: the weight gradient alone (values, resp. weight);
- step: forward + full backward (input, weight and bias gradients); the masked variant also
  re-applies its mask to the weight, as the masked trainer does after each optimizer step.

Columns are times relative to the dense layer (below 1 = faster); `sp/masked` compares the full
step with the masked path. Memory: the stored weight (values + indices, against the dense
weight) and the training state with SGD momentum (weight, gradient, momentum; plus the mask for
the masked path, plus the indices for the sparse one).
`--choices` also prints the measurements behind the design choices of csr.py (index dtype,
SDDMM method, transposed pattern).

    OMP_WAIT_POLICY=PASSIVE python bench/sparse_kernels.py [--width 4096] [--batch 128]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
import warnings
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from metasparse.sparse.csr import SparseLinear, sparse_linear

DENSITIES = (0.2, 0.1, 0.05, 0.01, 0.001)
OPS = ("fwd", "dgrad", "wgrad", "step")


def interleaved(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds of each function, the functions alternating within every repeat."""
    for fn in fns.values():  # warm-up
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def layers(width: int, density: float, seed: int = 0):
    """A dense nn.Linear, its mask, and the SparseLinear holding its masked weights."""
    gen = torch.Generator().manual_seed(seed)
    dense = nn.Linear(width, width)
    mask = torch.rand(width, width, generator=gen) < density
    sparse = SparseLinear.from_dense(dense, mask)
    return dense, mask, sparse


def op_fns(dense: nn.Linear, mask: torch.Tensor, sparse: SparseLinear, x: torch.Tensor,
           grad: torch.Tensor) -> dict[str, Callable[[], object]]:
    """Every (op, variant) to time, keyed 'op/variant'."""
    x_in = x.detach().requires_grad_()
    fns: dict[str, Callable[[], object]] = {}
    frozen = {"dense": lambda x: F.linear(x, dense.weight.detach(), dense.bias.detach()),
              "sparse": lambda x: sparse_linear(x, sparse.values.detach(), sparse.layout,
                                                sparse.bias.detach())}
    for name, layer, weight in (("dense", dense, dense.weight), ("sparse", sparse, sparse.values)):
        # kept graphs: backward on them repeatedly times the backward alone; the input gradient
        # with frozen weights, since a custom Function computes every gradient its inputs need
        y_x = frozen[name](x_in)
        y_w = layer(x)
        fns[f"fwd/{name}"] = lambda layer=layer: layer(x)
        fns[f"dgrad/{name}"] = lambda y=y_x: torch.autograd.grad(y, x_in, grad, retain_graph=True)
        fns[f"wgrad/{name}"] = lambda y=y_w, w=weight: torch.autograd.grad(
            y, w, grad, retain_graph=True)
        fns[f"step/{name}"] = lambda layer=layer: _step(layer, x_in, grad)
    masked = copy.deepcopy(dense)  # its own weight: the in-place masking must not touch dense's
    float_mask = mask.to(masked.weight.dtype)  # the trainer's masks are in the weight's dtype
    with torch.no_grad():
        masked.weight.mul_(float_mask)
    fns["step/masked"] = lambda: _step(masked, x_in, grad, float_mask)
    return fns


def _step(layer: nn.Module, x: torch.Tensor, grad: torch.Tensor,
          mask: torch.Tensor | None = None) -> None:
    layer.zero_grad(set_to_none=True)
    x.grad = None
    layer(x).backward(grad)
    if mask is not None:
        with torch.no_grad():
            layer.weight.mul_(mask)


def memory(dense: nn.Linear, sparse: SparseLinear) -> dict[str, float]:
    """Bytes of the stored weight and of the SGD-momentum training state, as ratios to dense."""
    weight = dense.weight.numel() * dense.weight.element_size()
    values = sparse.values.numel() * sparse.values.element_size()
    indices = sparse.state_bytes() - values
    return {"stored": sparse.state_bytes() / weight,
            "state_sparse": (3 * values + indices) / (3 * weight),
            "state_masked": (3 * weight + weight) / (3 * weight)}  # + a float mask


def table(width: int, batch: int, repeats: int, densities: tuple[float, ...]) -> None:
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(batch, width, generator=gen)
    grad = torch.randn(batch, width, generator=gen)
    print(f"{'density':>8} {'dense fwd ms':>12} " + " ".join(f"{op:>6}" for op in OPS)
          + f" {'masked':>7} {'sp/masked':>9} {'stored':>7} {'state sp':>8} "
          f"{'state/d':>7} {'st mask':>7}")
    for density in densities:
        dense, mask, sparse = layers(width, density)
        t = interleaved(op_fns(dense, mask, sparse, x, grad), repeats)
        ratios = [t[f"{op}/sparse"] / t[f"{op}/dense"] for op in OPS]
        mem = memory(dense, sparse)
        print(f"{density:>8} {1000 * t['fwd/dense']:>12.2f} "
              + " ".join(f"{r:>6.3f}" for r in ratios)
              + f" {t['step/masked'] / t['step/dense']:>7.3f}"
              f" {t['step/sparse'] / t['step/masked']:>9.3f} {mem['stored']:>7.4f}"
              f" {mem['state_sparse']:>8.4f} {mem['state_sparse'] / density:>7.2f}"
              f" {mem['state_masked']:>7.2f}", flush=True)


def choices(width: int, batch: int, repeats: int, densities: tuple[float, ...]) -> None:
    """The alternatives behind csr.py's design, timed side by side (ms)."""
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(batch, width, generator=gen)
    grad = torch.randn(batch, width, generator=gen)
    for density in densities:
        t = interleaved(choice_fns(layers(width, density)[2], x, grad), repeats)
        print(f"# density {density}: " + ", ".join(f"{k} {1000 * v:.2f}" for k, v in t.items()),
              flush=True)


def choice_fns(sparse: SparseLinear, x: torch.Tensor,
               grad: torch.Tensor) -> dict[str, Callable[[], object]]:
    lay, values = sparse.layout, sparse.values.detach()
    w32 = lay.csr(values)
    w64 = torch.sparse_csr_tensor(lay.crow.long(), lay.col.long(), values, lay.shape)
    zeros64 = torch.sparse_csr_tensor(lay.crow.long(), lay.col.long(), torch.zeros_like(values),
                                      lay.shape)
    rows, cols, perm64 = lay.rows(), lay.col.long(), lay.perm.long()
    return {
        "fwd SpMM int32": lambda: torch.mm(w32, x.t()),
        "fwd SpMM int64": lambda: torch.mm(w64, x.t()),
        "values[perm] int32": lambda: values.index_select(0, lay.perm),
        "values[perm] int64": lambda: values.index_select(0, perm64),
        "dgrad CSR of W^T": lambda: torch.mm(lay.csr_t(values), grad.t()),
        "dgrad CSC view W.t()": lambda: torch.mm(w32.t(), grad.t()),
        "wgrad sampled_addmm int32": lambda: lay.sddmm(grad.t(), x),
        "wgrad sampled_addmm int64": lambda: torch.sparse.sampled_addmm(
            zeros64, grad.t(), x, beta=0.0).values(),
        "wgrad gather + row dot": lambda: _gather_dot(grad, x, rows, cols),
    }


def _gather_dot(grad: torch.Tensor, x: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor,
                chunk: int = 1 << 15) -> torch.Tensor:
    """SDDMM without sampled_addmm: gather rows of grad^T and x^T per entry, dot row-wise."""
    g_t, x_t = grad.t().contiguous(), x.t().contiguous()
    out = torch.empty(rows.numel())
    for s in range(0, rows.numel(), chunk):
        r, c = rows[s:s + chunk], cols[s:s + chunk]
        out[s:s + chunk] = torch.einsum("ij,ij->i", g_t[r], x_t[c])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--densities", type=float, nargs="+", default=list(DENSITIES))
    parser.add_argument("--choices", type=float, nargs="*", metavar="DENSITY",
                        help="also time the alternatives behind csr.py's design at these "
                             "densities (none given: 0.05 0.01 0.001)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="Sparse invariant checks")
    torch.set_num_threads(args.threads)
    densities = tuple(args.densities)
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, layer "
          f"{args.width}x{args.width}, batch {args.batch}, median of {args.repeats} interleaved "
          f"repeats; times relative to dense nn.Linear")
    table(args.width, args.batch, args.repeats, densities)
    if args.choices is not None:
        choices(args.width, args.batch, args.repeats, tuple(args.choices or (0.05, 0.01, 0.001)))


if __name__ == "__main__":
    main()
