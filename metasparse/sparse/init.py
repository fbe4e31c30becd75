"""Weight initialisation of masked layers, and the initial value of regrown connections.

Every init draws the dense tensor and returns its standard deviation, which the layer keeps
for `regrow_init`. `sparse_kaiming` scales each output unit by its own active fan-in
(Evci et al., "Gradient flow in sparse neural networks", 2022), so that a sparse layer starts
with the same activation variance as a dense one.
"""

from __future__ import annotations

import math

import torch

from metasparse._registry import Registry

WEIGHT_INITS: Registry = Registry("weight_init")
REGROW_INITS: Registry = Registry("regrow_init")

NORMAL_STD = 0.01  # the 'normal' init: N(0, 0.01^2), the common fixed-scale choice


def _fans(weight: torch.Tensor) -> tuple[int, int]:
    receptive = math.prod(weight.shape[2:]) if weight.dim() > 2 else 1
    return weight.shape[1] * receptive, weight.shape[0] * receptive


@WEIGHT_INITS.register("kaiming_normal")
def kaiming_normal(weight: torch.Tensor, mask: torch.Tensor, gain: float) -> float:
    std = gain / math.sqrt(_fans(weight)[0])
    weight.normal_(0.0, std)
    return std


@WEIGHT_INITS.register("kaiming_uniform")
def kaiming_uniform(weight: torch.Tensor, mask: torch.Tensor, gain: float) -> float:
    std = gain / math.sqrt(_fans(weight)[0])
    bound = math.sqrt(3.0) * std
    weight.uniform_(-bound, bound)
    return std


@WEIGHT_INITS.register("xavier_normal")
def xavier_normal(weight: torch.Tensor, mask: torch.Tensor, gain: float) -> float:
    fan_in, fan_out = _fans(weight)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    weight.normal_(0.0, std)
    return std


@WEIGHT_INITS.register("xavier_uniform")
def xavier_uniform(weight: torch.Tensor, mask: torch.Tensor, gain: float) -> float:
    fan_in, fan_out = _fans(weight)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    weight.uniform_(-bound, bound)
    return std


@WEIGHT_INITS.register("normal")
def normal(weight: torch.Tensor, mask: torch.Tensor, gain: float) -> float:
    weight.normal_(0.0, NORMAL_STD)
    return NORMAL_STD


@WEIGHT_INITS.register("sparse_kaiming")
def sparse_kaiming(weight: torch.Tensor, mask: torch.Tensor, gain: float) -> float:
    fan_in = mask.reshape(mask.shape[0], -1).sum(dim=1).clamp_min(1.0)
    std = gain / fan_in.sqrt()
    weight.normal_(0.0, 1.0)
    weight.mul_(std.view(-1, *([1] * (weight.dim() - 1))))
    return float(std.mean())


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
