"""metasparse: automated configuration of dynamic sparse training.

`metasparse.sparsify(model, optimizer, total_steps, **config)` trains any PyTorch model
sparsely in the user's own loop (see `metasparse.sparsifier`); it is imported on first use, so
that `import metasparse` stays light.
"""

from __future__ import annotations

from metasparse._lazy import lazy_exports

__all__ = ["Sparsifier", "sparsify"]
__getattr__ = lazy_exports(__name__, {"sparsifier": __all__})
