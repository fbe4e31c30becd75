"""Dynamic sparse training of any PyTorch model in any training loop: `sparsify(model,
optimizer, total_steps, **config)` returns a `Sparsifier`, whose `step()` follows every
optimizer step. The trainer (`metasparse.train`) trains through the same object.
"""

from metasparse.sparsifier._layers import SPARSIFIABLE, check_path, find_layers
from metasparse.sparsifier._sparsifier import Sparsifier, build_topology, sparsify, target_density

__all__ = [
    "SPARSIFIABLE",
    "Sparsifier",
    "build_topology",
    "check_path",
    "find_layers",
    "sparsify",
    "target_density",
]
