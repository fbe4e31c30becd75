import math

import pytest

from metasparse.errors import ConfigError
from metasparse.sparse import DISTRIBUTIONS, active_counts, layer_densities

MLP = [(1000, 1024), (1000, 1000), (1000, 1000), (20, 1000)]


@pytest.mark.parametrize("name", DISTRIBUTIONS.names())
@pytest.mark.parametrize("density", [0.01, 0.1, 0.5])
def test_total_density_is_the_one_asked(name, density):
    densities = layer_densities(MLP, density, name)
    counts = active_counts(MLP, densities)
    total = sum(math.prod(s) for s in MLP)
    assert all(0 < d <= 1.0 for d in densities)
    assert sum(counts) / total == pytest.approx(density, rel=1e-3)


def test_er_layer_above_one_is_capped_and_the_excess_redistributed():
    # The 20-output classifier gets ER probability > 1 at 40% density: it must be capped at 1
    # and the others must carry the rest (sparse_learning leaves the real density lower).
    shapes = [(300, 784), (100, 300), (10, 100)]
    raw = [DISTRIBUTIONS["er"](s) for s in shapes]
    density = 0.4
    uncapped_scale = density * sum(math.prod(s) for s in shapes) / sum(
        r * math.prod(s) for r, s in zip(raw, shapes, strict=True))
    assert raw[2] * uncapped_scale > 1.0  # the case under test really occurs
    densities = layer_densities(shapes, density, "er")
    assert densities[2] == 1.0
    total = sum(math.prod(s) for s in shapes)
    assert sum(active_counts(shapes, densities)) / total == pytest.approx(density, rel=1e-3)


def test_erk_uses_kernel_dimensions():
    conv = (64, 32, 3, 3)
    assert DISTRIBUTIONS["erk"](conv) == pytest.approx(sum(conv) / math.prod(conv))
    assert DISTRIBUTIONS["er"](conv) == pytest.approx((64 + 32) / (64 * 32))


def test_dense_first_and_last_layers():
    densities = layer_densities(MLP, 0.4, "uniform", dense_first_layer=True, dense_last_layer=True)
    assert densities[0] == 1.0 and densities[-1] == 1.0
    total = sum(math.prod(s) for s in MLP)
    assert sum(active_counts(MLP, densities)) / total == pytest.approx(0.4, rel=1e-3)


def test_dense_layers_beyond_the_budget_is_a_clear_error():
    with pytest.raises(ConfigError, match="density"):
        layer_densities(MLP, 0.05, "uniform", dense_first_layer=True)


def test_power_scale_zero_is_uniform():
    assert layer_densities(MLP, 0.1, "erk", power_scale=0.0) == pytest.approx([0.1] * 4)


def test_unknown_distribution_lists_the_valid_ones():
    with pytest.raises(ConfigError, match=r"must be one of \['er', 'erk', 'uniform'\]"):
        layer_densities(MLP, 0.1, "nope")
