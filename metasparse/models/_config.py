"""Reading and checking the model parameters of a configuration dict."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

from metasparse.errors import ConfigError, DataError

ImageShape = tuple[int, int, int]


def require(config: Mapping[str, Any], key: str) -> Any:
    """config[key], or a ConfigError naming the missing parameter."""
    if key not in config:
        raise ConfigError(f"The configuration has no {key!r} parameter, which the model needs")
    return config[key]


def parse_sizes(config: Mapping[str, Any], key: str) -> tuple[int, ...]:
    """Layer sizes from a string of comma-separated positive ints ("1000,1000,1000").

    A single int, or a sequence of ints, is accepted as well (YAML reads "1000" as an int).
    """
    value = require(config, key)
    sizes: list[Any] | None
    if isinstance(value, str):
        parts = [part.strip() for part in value.split(",")]
        sizes = [int(part) if part.isdigit() else None for part in parts]
    elif isinstance(value, numbers.Integral) and not isinstance(value, bool):
        sizes = [value]
    elif isinstance(value, Sequence):
        sizes = list(value)
    else:
        sizes = None
    if not sizes or not all(_is_positive_int(size) for size in sizes):
        raise ConfigError(
            f"The {key!r} parameter must be comma-separated positive integers such as "
            f"'1000,1000,1000'; got {value!r}"
        )
    return tuple(int(size) for size in sizes)


def parse_dropout(config: Mapping[str, Any]) -> float:
    """The dropout probability, in [0, 1); a configuration without one has no dropout."""
    value = config.get("dropout", 0.0)
    try:
        rate = float(value)
    except (TypeError, ValueError):
        rate = math.nan
    if isinstance(value, bool) or not 0.0 <= rate < 1.0:
        raise ConfigError(f"The 'dropout' parameter must be a number in [0, 1); got {value!r}")
    return rate


def check_image_shape(image_shape: Sequence[int] | None, n_features: int) -> ImageShape | None:
    """The image shape as a (channels, height, width) tuple that matches `n_features`."""
    if image_shape is None:
        return None
    shape = tuple(image_shape)
    if len(shape) != 3 or not all(_is_positive_int(size) for size in shape):
        raise DataError(
            f"An image shape must be three positive integers (channels, height, width); "
            f"got {image_shape!r}"
        )
    if math.prod(shape) != n_features:
        raise DataError(
            f"The image shape {shape} holds {math.prod(shape)} values, but the data has "
            f"{n_features} features"
        )
    channels, height, width = (int(size) for size in shape)
    return channels, height, width


def check_positive(name: str, value: int) -> int:
    """`value` if it is a positive int, else a ValueError naming it."""
    if not _is_positive_int(value):
        raise ValueError(f"{name} must be a positive integer; got {value!r}")
    return int(value)


def _is_positive_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value > 0
