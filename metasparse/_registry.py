"""A tiny string-keyed registry: most design axes of the trainer are one of these.

The keys are the strings used in the search space, so a value sampled by SMAC or Optuna
selects an implementation directly. Not every axis is a registry: input scaling names its
methods in a tuple (`metasparse.data.SCALING_METHODS`), and `update_every` and
`sparsity_schedule` are compared as strings by the schedules (`metasparse.sparse.schedule`);
tests/space/test_registry_agreement.py checks all of them against spaces/meta.yaml.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from metasparse.errors import ConfigError, invalid_choice

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps the names of one axis (e.g. 'grow_score') to implementations."""

    def __init__(self, axis: str) -> None:
        self.axis = axis
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(item: T) -> T:
            if name in self._items:
                raise KeyError(f"{self.axis}: {name!r} is registered twice")
            self._items[name] = item
            return item

        return decorator

    def unregister(self, name: str) -> None:
        """Remove `name` (a test's temporary entry)."""
        del self._items[name]

    def __getitem__(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise ConfigError(invalid_choice(self.axis, sorted(self._items), name)) from None

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def names(self) -> list[str]:
        return list(self._items)
