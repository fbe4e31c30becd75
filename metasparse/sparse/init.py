"""Weight initialisation of sparse layers, and the initial value of regrown connections.

A weight init is a law: normal or uniform, with a standard deviation for the whole layer or one
per output unit. It fills the active entries (`draw_entries`) of a masked weight and of a
compressed one alike, so both execution paths start from the same distribution.
`sparse_kaiming` scales each output unit by its own active fan-in (Evci et al.,
"Gradient flow in sparse neural networks", 2022), so that a sparse layer starts with the same
activation variance as a dense one. The layer keeps the law's mean standard deviation for
`regrow_init`. Every execution path draws a layer's initial pattern and values
(`initial_entries`) and its bias (`bias_fan_in`, `draw_bias`) here, from the same stream.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from metasparse._registry import Registry
from metasparse.sparse.fan_in import row_positions
from metasparse.sparse.selection import sample_positions

WEIGHT_INITS: Registry = Registry("weight_init")
REGROW_INITS: Registry = Registry("regrow_init")

NORMAL_STD = 0.01  # the 'normal' init: N(0, 0.01^2), the common fixed-scale choice


@dataclass(frozen=True)
class InitLaw:
    """A zero-mean law of initial weights: `std` is one value or one per output unit."""

    uniform: bool
    std: float | torch.Tensor

    @property
    def mean_std(self) -> float:
        return float(self.std.mean()) if isinstance(self.std, torch.Tensor) else self.std


def _fans(shape: Sequence[int]) -> tuple[int, int]:
    receptive = math.prod(shape[2:]) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


@WEIGHT_INITS.register("kaiming_normal")
def kaiming_normal(shape: Sequence[int], fan_in: torch.Tensor, gain: float) -> InitLaw:
    return InitLaw(False, gain / math.sqrt(_fans(shape)[0]))


@WEIGHT_INITS.register("kaiming_uniform")
def kaiming_uniform(shape: Sequence[int], fan_in: torch.Tensor, gain: float) -> InitLaw:
    return InitLaw(True, gain / math.sqrt(_fans(shape)[0]))


@WEIGHT_INITS.register("xavier_normal")
def xavier_normal(shape: Sequence[int], fan_in: torch.Tensor, gain: float) -> InitLaw:
    return InitLaw(False, gain * math.sqrt(2.0 / sum(_fans(shape))))


@WEIGHT_INITS.register("xavier_uniform")
def xavier_uniform(shape: Sequence[int], fan_in: torch.Tensor, gain: float) -> InitLaw:
    return InitLaw(True, gain * math.sqrt(2.0 / sum(_fans(shape))))


@WEIGHT_INITS.register("normal")
def normal(shape: Sequence[int], fan_in: torch.Tensor, gain: float) -> InitLaw:
    return InitLaw(False, NORMAL_STD)


@WEIGHT_INITS.register("sparse_kaiming")
def sparse_kaiming(shape: Sequence[int], fan_in: torch.Tensor, gain: float) -> InitLaw:
    """`fan_in`: the active inputs of each output unit (kernel positions included)."""
    return InitLaw(False, gain / fan_in.clamp_min(1.0).sqrt())


def _standard(law: InitLaw, out: torch.Tensor,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """Fill `out` with draws of unit variance of the law's shape."""
    if law.uniform:
        return out.uniform_(-math.sqrt(3.0), math.sqrt(3.0), generator=generator)
    return out.normal_(0.0, 1.0, generator=generator)


def draw_entries(law: InitLaw, values: torch.Tensor, rows: torch.Tensor,
                 generator: torch.Generator | None = None) -> None:
    """Fill the values of active entries, whose output units are `rows`, with the law."""
    _standard(law, values, generator)
    std = law.std
    values.mul_(std.to(values)[rows] if isinstance(std, torch.Tensor) else std)


def draw_bias(bias: torch.Tensor, fan_in: int, generator: torch.Generator) -> None:
    """nn.Linear's and nn.Conv2d's bias law, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), from `generator`
    (so that every execution path draws the same biases)."""
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    bias.uniform_(-bound, bound, generator=generator)


@REGROW_INITS.register("zero")
def regrow_zero(n: int, init_std: float, generator: torch.Generator) -> torch.Tensor:
    return torch.zeros(n, device=generator.device)


@REGROW_INITS.register("small_random")
def regrow_small_random(n: int, init_std: float, generator: torch.Generator) -> torch.Tensor:
    """A tenth of the layer's init scale: new connections start near zero but not at it."""
    return torch.randn(n, generator=generator, device=generator.device) * (0.1 * init_std)


@REGROW_INITS.register("layer_init")
def regrow_layer_init(n: int, init_std: float, generator: torch.Generator) -> torch.Tensor:
    return torch.randn(n, generator=generator, device=generator.device) * init_std


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
