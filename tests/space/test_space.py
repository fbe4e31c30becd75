import io

import pytest
import yaml
from ConfigSpace import ConfigurationSpace

from metasparse.errors import ConfigError
from metasparse.space import (
    axes_held,
    load_definition,
    load_space,
    parameter_names,
    parse_assignment,
    preset_info,
    preset_names,
    resolve_config,
    shipped_spaces,
)
from metasparse.space._definition import restrict

DESIGN_NAMES = {
    "model", "hidden_sizes", "channels", "activation", "normalization", "input_scaling",
    "dropout", "weight_init", "density", "distribution", "dense_first_layer",
    "dense_last_layer", "prune_score", "grow_score", "prune_random_ratio", "grow_random_ratio",
    "regrow_init", "delta_t", "zeta", "zeta_decay", "t_end", "sparsity_schedule",
    "initial_density", "mest_gamma", "optimizer", "lr", "momentum", "nesterov", "weight_decay",
    "lr_schedule", "batch_size", "label_smoothing",
}


def test_meta_space_has_every_axis_of_the_design():
    assert set(load_space("meta")) >= DESIGN_NAMES
    assert set(load_space("meta")) == set(parameter_names())


@pytest.mark.parametrize("name", shipped_spaces())
def test_every_space_round_trips_through_configspace_yaml_and_json(name):
    space = load_space(name)
    for write, read, kwargs in (("to_json", "from_json", {}),
                                ("to_yaml", "from_yaml", {"Dumper": yaml.SafeDumper})):
        buffer = io.StringIO()
        getattr(space, write)(buffer, **kwargs)
        buffer.seek(0)
        copy = getattr(ConfigurationSpace, read)(buffer)
        # its content: ConfigSpace's own == also compares the order of its internal graph,
        # which a space with forbidden clauses on conditional parameters does not keep
        assert (dict(copy), copy.conditions, copy.forbidden_clauses) == \
            (dict(space), space.conditions, space.forbidden_clauses)


@pytest.mark.parametrize("name", shipped_spaces())
def test_samples_of_every_space_are_valid_trainer_configs(name):
    for sample in load_space(name, seed=0).sample_configuration(20):
        resolve_config(dict(sample))


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_cites_its_paper(name):  # being a point of the space: test_registry_agreement
    assert preset_info(name)["paper"]


def test_subspace_fixes_the_algorithm_axes_and_drops_dead_children():
    space = load_space("set")
    assert space["prune_score"].value == "set"
    assert space["grow_score"].value == "random"
    assert "mest_gamma" not in space  # its parent prune_score can never be 'mest' here
    assert "delta_t" not in space  # SET updates once per epoch
    assert "lr" in space and "density" in space  # its own hyperparameters stay free


def test_restricted_subspace_narrows_choices():
    space = load_space("set-rigl")
    assert set(space["prune_score"].choices) == {"set", "magnitude"}
    assert "mest_gamma" not in space


def test_fixed_settings_become_constants():
    space = load_space("rigl", fixed={"model": "mlp", "hidden_sizes": "128", "density": 0.05})
    assert space["density"].value == 0.05
    assert "channels" not in space


def test_fixing_one_side_of_a_gradual_schedule_keeps_initial_density_above_density():
    # once: fixing density dropped the rule, and SMAC proposed points that crashed (7 of 30
    # trials of a dense madelon scenario, 1 of 30 at density 0.05)
    for density in (0.05, 0.1):
        space = load_space("meta", fixed={"density": density, "sparsity_schedule": "gradual"})
        samples = space.sample_configuration(300)
        assert min(c["initial_density"] for c in samples) >= density
        assert max(c["initial_density"] for c in samples) > 0.9  # the rest of the range stays
    dense = load_space("meta", fixed={"density": 1.0, "sparsity_schedule": "gradual"})
    assert dense["initial_density"].value == 1.0
    space = load_space("meta", fixed={"initial_density": 0.3, "sparsity_schedule": "gradual"})
    assert max(c["density"] for c in space.sample_configuration(300)) <= 0.3
    with pytest.raises(ConfigError, match=r"'initial_density' parameter must be at least "
                                          r"'density' \(0.5\); got 0.3"):
        load_space("meta", fixed={"density": 0.5, "initial_density": 0.3,
                                  "sparsity_schedule": "gradual"})


def test_resolve_config_fills_defaults_and_rejects_bad_input():
    config = resolve_config({"density": 0.2})
    assert config["density"] == 0.2 and set(config) == set(parameter_names())
    with pytest.raises(ConfigError, match="Unknown parameter 'densty'"):
        resolve_config({"densty": 0.2})
    with pytest.raises(ConfigError, match=r"The 'grow_score' parameter must be one of \["):
        resolve_config({"grow_score": "magic"})
    with pytest.raises(ConfigError, match=r"'density' parameter must be a number in"):
        resolve_config({"density": 0.0})
    with pytest.raises(ConfigError, match="initial_density"):
        resolve_config({"sparsity_schedule": "gradual", "density": 0.5, "initial_density": 0.2})


def test_parse_assignment_types_values_like_the_space():
    assert parse_assignment("hidden_sizes=128") == ("hidden_sizes", "128")
    assert parse_assignment("dense_first_layer=true") == ("dense_first_layer", True)
    assert parse_assignment("lr=1e-3") == ("lr", 0.001)
    assert parse_assignment("delta_t=50.4") == ("delta_t", 50)
    with pytest.raises(ConfigError, match="key=value"):
        parse_assignment("lr")


def test_unknown_space_lists_the_shipped_ones():
    with pytest.raises(ConfigError, match="'meta'"):
        load_space("nonexistent")


def test_a_parameter_budget_is_a_constant_set_within_its_bounds():
    assert load_space("meta")["active_weights"].value == 0  # off: never searched
    assert resolve_config({"active_weights": 372900})["active_weights"] == 372900
    for bad in (-1, "many", float("inf")):
        with pytest.raises(ConfigError, match=r"'active_weights' parameter must be a number in"):
            resolve_config({"active_weights": bad})


def test_restricting_an_open_categorical_takes_new_values_of_its_type():
    widths = load_space("wide-sparse")["hidden_sizes"].choices
    assert "9600,9600,9600" in widths and "256,256" not in widths
    definition = load_definition("meta")
    restrict(definition, "hidden_sizes", ["64,64", "4096"])
    assert definition["parameters"]["hidden_sizes"]["choices"] == ["64,64", "4096"]
    with pytest.raises(ConfigError, match="'hidden_sizes' parameter must be comma-separated"):
        restrict(definition, "hidden_sizes", ["64", "64,wide"])
    with pytest.raises(ConfigError, match="'activation' parameter must be one of"):
        restrict(load_definition("meta"), "activation", ["relu", "swish"])


def test_the_meta_spaces_axes_sort_every_parameter_into_one_group():
    definition = load_definition("meta")
    grouped = [name for names in definition["axes"].values() for name in names]
    assert sorted(grouped) == sorted(definition["parameters"])
    assert load_definition("rigl")["axes"] == definition["axes"]  # a derived space inherits


def test_a_search_of_some_axes_holds_the_others_at_their_defaults():
    held = axes_held("meta", ["sparse"], fixed={"model": "cnn", "lr": 0.1})
    defaults = resolve_config({})
    assert held["channels"] == defaults["channels"] and held["batch_size"] == 128
    # what is fixed stays as fixed; what cannot be active once held is not held
    assert "model" not in held and "lr" not in held and "hidden_sizes" not in held
    assert "momentum" in held  # active: the held optimizer is sgd
    assert not set(held) & set(load_definition("meta")["axes"]["sparse"])
    space = load_space("meta", fixed={"model": "cnn", "lr": 0.1, **held})
    assert {n for n, hp in space.items() if hp.__class__.__name__ != "Constant"} <= \
        set(load_definition("meta")["axes"]["sparse"])
    assert axes_held("meta", ["model", "sparse", "optimizer"]) == {}
    with pytest.raises(ConfigError, match="The 'axes' parameter must be one of"):
        axes_held("meta", ["models"])
