"""The one dispatch on a parameter's ConfigSpace type: what kind of values it takes. The results
tables, the optimizers (Optuna's distributions, warm starts), the analysis and the studies ask
here instead of testing ConfigSpace's classes themselves."""

from __future__ import annotations

from typing import Any, Literal

from ConfigSpace import CategoricalHyperparameter, Constant, OrdinalHyperparameter
from ConfigSpace.hyperparameters import IntegerHyperparameter

__all__ = ["choices_of", "is_integer", "kind_of"]


def kind_of(hp: Any) -> Literal["categorical", "ordinal", "float", "constant"]:
    """'categorical', 'ordinal', 'float' (any number, integers too: `is_integer` tells them
    apart) or 'constant'."""
    if isinstance(hp, Constant):
        return "constant"
    if isinstance(hp, CategoricalHyperparameter):
        return "categorical"
    if isinstance(hp, OrdinalHyperparameter):
        return "ordinal"
    return "float"


def choices_of(hp: Any) -> list[Any]:
    """The values of a categorical, ordinal or constant parameter."""
    if isinstance(hp, Constant):
        return [hp.value]
    if isinstance(hp, CategoricalHyperparameter):
        return list(hp.choices)
    return list(hp.sequence)


def is_integer(hp: Any) -> bool:
    """True for a numerical parameter of integers (its values are ints, not floats)."""
    return isinstance(hp, IntegerHyperparameter)
