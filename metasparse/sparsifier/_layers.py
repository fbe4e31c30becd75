"""Which weights of any PyTorch model a sparsifier trains sparsely, and whether its path can."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence

from torch import nn

from metasparse.errors import ConfigError
from metasparse.models import sparsifiable_parameters
from metasparse.sparse import EXECUTIONS

SPARSIFIABLE = (nn.Linear, nn.Conv2d, nn.LSTM, nn.MultiheadAttention)


def find_layers(model: nn.Module, exclude_types: Sequence[type] = (),
                exclude_names: Sequence[str] = ()) -> list[tuple[str, nn.Parameter]]:
    """The sparsifiable weights of `model` (see `sparsifiable_parameters`) less those inside a
    module of one of `exclude_types` and those whose weight or module name matches one of the
    shell patterns `exclude_names` (`fnmatch`: "head.*", "*.out_proj").

    Raises ConfigError for a bad exclusion (not a module type; a pattern that matches no
    sparsifiable weight, most likely a typo) and for a model left with nothing to sparsify.
    """
    if not isinstance(model, nn.Module):
        raise ConfigError(f"The 'model' parameter must be a torch.nn.Module; got "
                          f"{type(model).__name__}")
    for kind in exclude_types:
        if not (isinstance(kind, type) and issubclass(kind, nn.Module)):
            raise ConfigError(f"The 'exclude_types' parameter must hold torch.nn.Module "
                              f"subclasses; got {kind!r}")
    found = sparsifiable_parameters(model)
    for pattern in exclude_names:
        if not any(_matches(name, pattern) for name, _ in found):
            raise ConfigError(f"The 'exclude_names' pattern {pattern!r} matches none of the "
                              f"sparsifiable weights [{', '.join(n for n, _ in found)}]")
    kept = [(name, weight) for name, weight in found
            if not any(isinstance(m, tuple(exclude_types)) for m in _path(model, name))
            and not any(_matches(name, pattern) for pattern in exclude_names)]
    if not kept:
        kinds = ", ".join(t.__name__ for t in SPARSIFIABLE)
        raise ConfigError(f"The model has no layer to sparsify (a weight of {kinds}) "
                          f"{'after the exclusions' if found else 'in it'}")
    return kept


def check_path(model: nn.Module, layers: Sequence[tuple[str, nn.Parameter]],
               execution: str) -> None:
    """Raise the one-line ConfigError if `execution` cannot run one of `layers`, before any
    layer is touched (each path's `check_layers`: the masked path runs every layer that
    `find_layers` finds)."""
    EXECUTIONS[execution].check_layers(model, layers)


def _path(model: nn.Module, name: str) -> list[nn.Module]:
    """The modules from `model` down to the owner of weight `name`."""
    parts = name.split(".")[:-1]
    return [model.get_submodule(".".join(parts[:i])) for i in range(len(parts) + 1)]


def _matches(name: str, pattern: str) -> bool:
    """A weight matches by its own name or by its module's."""
    return fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(name.rpartition(".")[0],
                                                                     pattern)
