"""Layer-wise density: how a global budget of active weights is spread over the layers.

Each distribution gives a raw per-layer shape term; the scale is solved so that the total
number of active weights equals density x total. A layer whose density would exceed 1 is made
dense and its excess handed to the others (the step several peer libraries skip, which leaves
their real density below the one asked for).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from metasparse._registry import Registry
from metasparse.errors import ConfigError

DISTRIBUTIONS: Registry = Registry("distribution")


@DISTRIBUTIONS.register("uniform")
def uniform(shape: Sequence[int]) -> float:
    return 1.0


@DISTRIBUTIONS.register("er")
def erdos_renyi(shape: Sequence[int]) -> float:
    """(n_in + n_out) / (n_in n_out) on the input and output units only (SET's epsilon rule)."""
    n_out, n_in = shape[0], shape[1]
    return (n_in + n_out) / (n_in * n_out)


@DISTRIBUTIONS.register("erk")
def erdos_renyi_kernel(shape: Sequence[int]) -> float:
    """sum(shape) / prod(shape): ER with the kernel dimensions of convolutions (RigL)."""
    return sum(shape) / math.prod(shape)


def layer_densities(
    shapes: Sequence[Sequence[int]],
    density: float,
    distribution: str,
    *,
    dense_first_layer: bool = False,
    dense_last_layer: bool = False,
    power_scale: float = 1.0,
) -> list[float]:
    """Per-layer densities whose weighted mean is `density`, each at most 1."""
    shape_term = DISTRIBUTIONS[distribution]
    sizes = [math.prod(s) for s in shapes]
    raw = [shape_term(s) ** power_scale for s in shapes]
    budget = density * sum(sizes)
    dense = set()
    if dense_first_layer:
        dense.add(0)
    if dense_last_layer:
        dense.add(len(shapes) - 1)
    while True:
        sparse = [i for i in range(len(shapes)) if i not in dense]
        remaining = budget - sum(sizes[i] for i in dense)
        if not sparse:
            break
        if remaining <= 0:
            raise ConfigError(
                f"The 'density' parameter ({density}) is too low to keep the first/last layer "
                f"dense: those layers alone hold {(budget - remaining) / budget:.2f}x the budget")
        scale = remaining / sum(raw[i] * sizes[i] for i in sparse)
        over = [i for i in sparse if raw[i] * scale > 1.0]
        if not over:
            break
        dense.update(over)
    return [1.0 if i in dense else raw[i] * scale for i in range(len(shapes))]


def active_counts(shapes: Sequence[Sequence[int]], densities: Sequence[float]) -> list[int]:
    """Number of active weights per layer: at least one, at most the layer size."""
    counts = []
    for shape, d in zip(shapes, densities, strict=True):
        size = math.prod(shape)
        counts.append(min(size, max(1, round(d * size))))
    return counts
