"""The dynamic-sparse-training core, independent of models and data.

Each axis is a registry keyed by the strings of the search space: `DISTRIBUTIONS`,
`WEIGHT_INITS`, `REGROW_INITS`, `PRUNE_SCORES`, `GROW_SCORES`, `GROW_CANDIDATES`,
`GROW_SELECTIONS`, `LR_SCALINGS`, `DECAYS`, and the execution
paths `EXECUTIONS` (`masked`: dense weights times masks; `sparse`: only active weights stored).
"""

# the paths register themselves in EXECUTIONS, the default one first
from metasparse.sparse.masked import MaskedTopology, SparseTopology

# isort: split
from metasparse.sparse.compressed import (  # registers the 'sparse' path
    CompressedTopology,
    check_installable,
)
from metasparse.sparse.distribution import (
    DISTRIBUTIONS,
    active_counts,
    fitting_dense_layers,
    layer_densities,
)
from metasparse.sparse.init import REGROW_INITS, WEIGHT_INITS, bias_fan_in
from metasparse.sparse.recurrent import SparseLSTM
from metasparse.sparse.schedule import DECAYS, SparsitySchedule, UpdateSchedule
from metasparse.sparse.scores import GROW_SCORES, PRUNE_SCORES, LayerState
from metasparse.sparse.selection import (
    GROW_CANDIDATES,
    GROW_SELECTIONS,
    multinomial_keys,
    select,
)
from metasparse.sparse.sparse_conv import SparseConv2d
from metasparse.sparse.topology import EXECUTIONS, LR_SCALINGS, Topology, TopologyConfig

__all__ = [
    "DECAYS",
    "DISTRIBUTIONS",
    "EXECUTIONS",
    "GROW_CANDIDATES",
    "GROW_SCORES",
    "GROW_SELECTIONS",
    "LR_SCALINGS",
    "PRUNE_SCORES",
    "REGROW_INITS",
    "WEIGHT_INITS",
    "CompressedTopology",
    "LayerState",
    "MaskedTopology",
    "SparseConv2d",
    "SparseLSTM",
    "SparseTopology",
    "SparsitySchedule",
    "Topology",
    "TopologyConfig",
    "UpdateSchedule",
    "active_counts",
    "bias_fan_in",
    "check_installable",
    "fitting_dense_layers",
    "layer_densities",
    "multinomial_keys",
    "select",
]
