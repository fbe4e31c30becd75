import math

import pytest

from metasparse.errors import ConfigError
from metasparse.sparse import DISTRIBUTIONS, active_counts, fitting_dense_layers, layer_densities

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


@pytest.mark.parametrize(("density", "first", "last", "expected"), [
    (0.4, True, True, (True, True)),     # both fit: kept as asked
    (0.05, True, True, (False, True)),   # the input layer does not fit, the classifier does
    (0.05, True, False, (False, False)),
    (0.05, False, True, (False, True)),
    (0.0005, True, True, (False, False)),  # not even the classifier (20,000 weights) fits
])
def test_the_dense_layers_that_fit_are_the_nearest_to_those_asked(density, first, last, expected):
    assert fitting_dense_layers(MLP, density, first, last) == expected
    layer_densities(MLP, density, "uniform", dense_first_layer=expected[0],
                    dense_last_layer=expected[1])  # accepted, where the asked flags are not
    if expected != (first, last):
        with pytest.raises(ConfigError, match="too low to keep the first/last layer dense"):
            layer_densities(MLP, density, "uniform", dense_first_layer=first,
                            dense_last_layer=last)


def test_of_two_dense_layers_that_fit_only_alone_the_larger_is_turned_off():
    shapes = [(100, 100), (100, 100), (50, 100)]  # 10,000 + 10,000 + 5,000 weights
    # budget 0.5 x 25,000 = 12,500: either dense layer alone fits, both together do not
    assert fitting_dense_layers(shapes, 0.5, True, True) == (False, True)
    assert fitting_dense_layers(shapes[::-1], 0.5, True, True) == (True, False)
