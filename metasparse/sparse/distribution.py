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
    dense = _kept_dense(len(shapes), dense_first_layer, dense_last_layer)
    if not _dense_fits(sizes, dense, budget):
        raise ConfigError(
            f"The 'density' parameter ({density}) is too low to keep the first/last layer "
            f"dense: those layers alone hold {sum(sizes[i] for i in dense) / budget:.2f}x the "
            "budget")
    while True:
        sparse = [i for i in range(len(shapes)) if i not in dense]
        remaining = budget - sum(sizes[i] for i in dense)
        if not sparse:
            break
        scale = remaining / sum(raw[i] * sizes[i] for i in sparse)
        over = [i for i in sparse if raw[i] * scale > 1.0]
        if not over:
            break
        dense.update(over)
    return [1.0 if i in dense else raw[i] * scale for i in range(len(shapes))]


def fitting_dense_layers(shapes: Sequence[Sequence[int]], density: float,
                         dense_first_layer: bool, dense_last_layer: bool) -> tuple[bool, bool]:
    """The nearest (dense_first_layer, dense_last_layer) whose dense layers fit the budget of
    `density`: the asked flags where they fit, else the fewest of them turned off (of two, the
    larger layer's first), so a search never trains a point that `layer_densities` refuses.

    Whether a dense layer fits depends on the data's width and the model's size, which a
    search space cannot state as a constraint on `density`; this map is deterministic and
    keeps the density, the budget that configurations are compared at."""
    sizes = [math.prod(s) for s in shapes]
    budget = density * sum(sizes)
    first, last = bool(dense_first_layer), bool(dense_last_layer)
    larger_first = sizes[0] >= sizes[-1]
    candidates = [(first, last),
                  *([(first, False), (False, last)] if not larger_first
                    else [(False, last), (first, False)]),
                  (False, False)]
    return next(c for c in candidates if _dense_fits(sizes, _kept_dense(len(shapes), *c), budget))


def _kept_dense(n_layers: int, first: bool, last: bool) -> set[int]:
    return {i for i, keep in ((0, first), (n_layers - 1, last)) if keep}


def _dense_fits(sizes: Sequence[int], dense: set[int], budget: float) -> bool:
    """Whether the layers kept dense leave part of the budget to the others (or, all of them
    dense, are the whole budget)."""
    held = sum(sizes[i] for i in dense)
    return held < budget or (len(dense) == len(sizes) and held <= budget)


def active_counts(shapes: Sequence[Sequence[int]], densities: Sequence[float]) -> list[int]:
    """Number of active weights per layer: at least one, at most the layer size."""
    counts = []
    for shape, d in zip(shapes, densities, strict=True):
        size = math.prod(shape)
        counts.append(min(size, max(1, round(d * size))))
    return counts
