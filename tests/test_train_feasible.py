"""No search budget on points that cannot be built: the rigl and set-rigl spaces sample a dense
first or last layer at densities where it does not fit the budget (`layer_densities` refuses
them). Trials train with `fit_dense_layers`, which keeps such a layer dense only where it fits
(metasparse.sparse.fitting_dense_layers), so no sampled point crashes when it is built."""

from __future__ import annotations

import pytest
import torch

from metasparse.data import load_dataset
from metasparse.errors import ConfigError
from metasparse.models import build_model, sparsifiable_parameters
from metasparse.optimize import evaluate_run
from metasparse.space import load_space, resolve_config
from metasparse.sparse import fitting_dense_layers, layer_densities
from metasparse.train import fit, target_density

SAMPLES = 200


def _targets(config: dict, data, fit_dense: bool) -> list[float]:
    """What building the topology computes: the layer densities (ConfigError if they cannot
    be met), on a model built on the meta device (shapes only, no weights allocated)."""
    with torch.device("meta"):
        model = build_model(config, data.n_features, data.n_classes, data.image_shape)
    weights = sparsifiable_parameters(model)
    shapes = [tuple(w.shape) for _, w in weights]
    density = target_density(config, weights)
    first, last = config["dense_first_layer"], config["dense_last_layer"]
    if fit_dense:
        first, last = fitting_dense_layers(shapes, density, first, last)
    return layer_densities(shapes, density, config["distribution"], dense_first_layer=first,
                           dense_last_layer=last, power_scale=config["erk_power_scale"])


@pytest.mark.parametrize("space_name", ["rigl", "set-rigl"])
def test_no_sampled_point_of_the_space_crashes_when_built(space_name):
    space = load_space(space_name, seed=1)
    datasets = [load_dataset("digits"), load_dataset("wine")]  # images (cnn runs), tabular
    configs = [resolve_config(dict(c)) for c in space.sample_configuration(SAMPLES)]
    refused = 0
    for config in configs:
        for data in datasets:
            if config["model"] == "cnn" and data.image_shape is None:
                continue  # a cnn on tabular data: a scenario fixes the model to its data
            try:
                _targets(config, data, fit_dense=False)
            except ConfigError:
                refused += 1
            densities = _targets(config, data, fit_dense=True)
            assert all(0.0 < d <= 1.0 for d in densities)
    assert refused >= SAMPLES // 10  # the points under test are sampled (about a fifth)


def test_a_trial_trains_the_nearest_point_where_a_direct_run_refuses_it():
    # wine through a 128-unit MLP: 1,664 + 384 weights; at density 0.05 (102 weights) neither
    # layer fits dense
    config = {"hidden_sizes": "128", "density": 0.05, "dense_first_layer": True,
              "dense_last_layer": True, "distribution": "uniform"}
    with pytest.raises(ConfigError, match="too low to keep the first/last layer dense"):
        fit(config, "wine", 1)
    trained = fit(config, "wine", 1, fit_dense_layers=True)
    assert max(trained.result.layer_densities.values()) < 0.1
    assert trained.result.density == pytest.approx(0.05, abs=0.005)
    # the trial runner (every search and evaluation) trains it so too
    run = evaluate_run(config, "wine", 0, 1, evaluate_test=False)
    assert run.status == "success", run.error
    assert run.metrics["density"] == pytest.approx(trained.result.density)
