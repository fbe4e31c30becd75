"""Normalization layers keyed by the values of the 'normalization' axis."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from metasparse._registry import Registry

__all__ = ["NORMALIZATIONS", "make_norm"]

NormFactory = Callable[[int, bool], nn.Module | None]

NORMALIZATIONS: Registry[NormFactory] = Registry("normalization")


@NORMALIZATIONS.register("none")
def _no_norm(num_features: int, spatial: bool) -> None:
    return None


@NORMALIZATIONS.register("batch")
def _batch_norm(num_features: int, spatial: bool) -> nn.Module:
    return nn.BatchNorm2d(num_features) if spatial else nn.BatchNorm1d(num_features)


@NORMALIZATIONS.register("layer")
def _layer_norm(num_features: int, spatial: bool) -> nn.Module:
    # One group over all channels normalizes each sample over (C, H, W): layer norm for images.
    return nn.GroupNorm(1, num_features) if spatial else nn.LayerNorm(num_features)


def make_norm(name: str, num_features: int, *, spatial: bool) -> nn.Module | None:
    """The normalization `name` for `num_features` features or channels; None for 'none'.

    `spatial` selects the variant for (N, C, H, W) feature maps instead of (N, C) vectors.
    """
    return NORMALIZATIONS[name](num_features, spatial)
