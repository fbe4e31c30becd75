"""`active_weights`: a weight budget instead of a density, the same for every width."""

import pytest
import torch

from metasparse.models import build_model
from metasparse.space import resolve_config
from metasparse.train import build_topology

BUDGET = 20_000


def _topology(hidden_sizes: str, execution: str, **config):
    c = resolve_config({"hidden_sizes": hidden_sizes, "execution": execution,
                        "active_weights": BUDGET, **config})
    model = build_model(c, 64, 10, None)
    return build_topology(c, model, 10, 100, torch.Generator().manual_seed(0))


@pytest.mark.parametrize("execution", ["masked", "sparse"])
@pytest.mark.parametrize("hidden_sizes", ["200,200", "800,800", "3200"])
def test_every_width_holds_the_budget(hidden_sizes, execution):
    topology = _topology(hidden_sizes, execution, distribution="erk")
    active = sum(layer.active for layer in topology.layers)
    assert abs(active - BUDGET) <= len(topology.layers)  # rounding, one weight per layer
    assert topology.density() == pytest.approx(BUDGET / topology.total, rel=1e-3)


def test_a_network_smaller_than_the_budget_is_dense_and_density_is_ignored():
    small = _topology("50,50", "masked", density=0.01)  # 64*50 + 50*50 + 50*10 = 6200 weights
    assert small.density() == 1.0
    wide = _topology("800,800", "masked", density=0.9)
    assert wide.density() == pytest.approx(BUDGET / wide.total, rel=1e-3)
