"""metasparse: automated configuration of dynamic sparse training.

`metasparse.sparsify(model, optimizer, total_steps, **config)` trains any PyTorch model
sparsely in the user's own loop (see `metasparse.sparsifier`); it is imported on first use, so
that `import metasparse` stays light.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Sparsifier", "sparsify"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from metasparse import sparsifier

        return getattr(sparsifier, name)
    raise AttributeError(f"module 'metasparse' has no attribute {name!r}")
