"""Packages whose public names load on first use (PEP 562).

Importing one of a package's modules runs the package's `__init__` first: the command line
imports `metasparse.optimize._command` for `metasparse optimize --help`, which must not import
everything that the package's other modules need (torch, scikit-learn, pandas, ConfigSpace...).
So a package's `__init__` names where each of its public names lives, and the module holding a
name is imported when the name is first read:

    __getattr__ = lazy_exports(__name__, {"_scenario": ["Scenario", "load_scenario"]})
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, Sequence[str]]) -> Callable[[str], Any]:
    """The module-level `__getattr__` of `package`: `exports` maps each of its modules (the
    name relative to the package) to the public names it defines."""
    modules = {name: f"{package}.{module}" for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> Any:
        if name not in modules:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(modules[name]), name)
        setattr(sys.modules[package], name, value)  # later reads find it without this function
        return value

    return __getattr__
