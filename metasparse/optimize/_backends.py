"""Backend name -> the module that adapts it. A backend is one module with `run(session)`;
adding one (e.g. `ray`) is one more module and one more line here, plus its name in the
scenario's `backend.name`."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from metasparse.optimize._session import Session

BACKENDS = {
    "optuna": "metasparse.optimize._optuna",
    "random": "metasparse.optimize._random",
    "ray": "metasparse.optimize._ray",
    "smac": "metasparse.optimize._smac",
}


def get_backend(name: str) -> Callable[[Session], None]:
    """The `run(session)` of backend `name` (its optional dependencies imported only now)."""
    return importlib.import_module(BACKENDS[name]).run
