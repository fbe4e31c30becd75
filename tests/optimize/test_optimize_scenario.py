"""Scenario validation: every malformed scenario is one line naming the key, the value and what
is allowed, before anything trains; the shipped scenarios are valid."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from optimize_helpers import BASE, SHARED_DATA, cli, merge

from metasparse.errors import ScenarioError
from metasparse.optimize import backend_names, load_scenario, shipped_scenarios
from metasparse.space import load_space

MALFORMED = [
    ({"backend": {"name": "smac", "facade": "foo"}},
     "backend.facade must be one of ['ac', 'bb', 'hpo', 'mf']; got 'foo'"),
    ({"backend": {"name": "hyperopt"}},
     f"backend.name must be one of {sorted(backend_names())}; got 'hyperopt'"),
    ({"budget": {"epochs": 0}}, "budget.epochs must be >= 1; got 0"),
    ({"budget": {"epochs": 3, "min_epochs": 5}}, "budget.min_epochs must be at most"),
    ({"budget": {"epoch": 3}},
     "unknown key 'budget.epoch'; allowed keys: ['epochs', 'min_epochs']"),
    ({"instances": ["no_such_dataset"]}, "instances must name available datasets"),
    ({"instances": []}, "instances must not be empty"),
    ({"space": "no_such_space"}, "space 'no_such_space' cannot be used"),
    ({"space": "missing.yaml"}, "space 'missing.yaml' cannot be used"),
    ({"fixed": {"density": 5}}, "fixed: The 'density' parameter must be a number"),
    ({"objectives": ["train_flops"]},
     "objectives[0] must be one of ['val_error', 'fs_error']; got 'train_flops'"),
    ({"objectives": ["fs_error"]}, "objectives [fs_error] and feature_selection go together; "
                                   "got fs_error without feature_selection"),
    ({"feature_selection": {"k": 2}}, "got feature_selection without fs_error"),
    ({"objectives": ["val_error", "fs_error"], "feature_selection": {"k": 2}},
     "fs_error can only be the first objective (objectives: [fs_error] or [fs_error, <cost>]); "
     "got objectives ['val_error', 'fs_error']"),
    ({"objectives": ["fs_error"], "feature_selection": {"k": 2, "classifier": "knn"}},
     "feature_selection.classifier must be one of ['extra_trees', 'svm']; got 'knn'"),
    ({"objectives": ["fs_error"], "feature_selection": {"k": 2, "importance": "shap"}},
     "feature_selection.importance must be one of ['attribution', 'neuron_strength', 'wast']; "
     "got 'shap'"),
    ({"objectives": ["fs_error"],
      "feature_selection": {"k": 2, "autoencoder_importance": "shap"}},
     "feature_selection.autoencoder_importance must be one of ['attribution', "
     "'neuron_strength', 'wast']; got 'shap'"),
    ({"objectives": ["fs_error"], "feature_selection": {"k": 0}},
     "feature_selection.k must be >= 1; got 0"),
    ({"objectives": ["fs_error"], "feature_selection": {"k": 2, "kk": 2}},
     "unknown key 'feature_selection.kk'"),
    ({"objectives": ["fs_error"], "feature_selection": {"k": 5}},
     "feature_selection.k must be at most the number of features of every instance ('iris' "
     "has 4); got 5"),
    ({"objectives": ["val_error", "accuracy"]},
     "objectives[1] must be one of ['density', 'inference_density', 'train_flops', 'train_time']"),
    ({"objectives": ["val_error", "train_flops"], "backend": {"name": "smac", "facade": "mf"}},
     "backend.facade must be one of ['ac', 'hpo'] with two objectives"),
    ({"objectives": ["val_error", "train_flops"],
      "backend": {"name": "optuna", "pruner": "hyperband"}},
     "backend.pruner must be 'none' with two objectives"),
    ({"crash_cost": ".inf"}, "crash_cost must be finite"),
    ({"n_trials": "ten"}, "n_trials must be an integer; got 'ten'"),
    ({"n_trials": None}, "n_trials or walltime must be set"),
    ({"n_workers": 0}, "n_workers must be >= 1; got 0"),
    ({"warm_start": "preset"},
     "warm_start must be 'presets' or a results directory holding trials.csv; got 'preset'"),
    ({"reference": "sett"}, "reference must be one of"),
    ({"warm_start": ["rigl", "sett"]}, "warm_start must list preset names among ["),
    ({"space": "feature-selection"}, "space 'feature-selection' cannot be used: its task may be "
                                     "an autoencoder, whose val_error is not a classification"),
    ({"fixed": {"task": "autoencoder"}}, "space 'rigl' cannot be used: its task may be an "
                                         "autoencoder"),
    ({"reference": "quickselection"}, "reference 'quickselection' is an autoencoder"),
    ({"objectives": ["fs_error"], "feature_selection": {"k": 2},
      "backend": {"name": "optuna", "pruner": "hyperband"}},
     "backend.pruner must be 'none' with objective fs_error (it is scored once, after training)"),
    ({"objectives": ["fs_error"], "feature_selection": {"k": 2},
      "backend": {"name": "ray", "scheduler": "asha"}},
     "backend.scheduler must be 'none' with objective fs_error"),
    ({"seeds": [0, 0]}, "seeds must not repeat an entry; got 0 twice"),
    ({"backend": {"name": "optuna", "facade": "hpo"}},
     "backend.facade applies to backend.name 'smac' only; got it with 'optuna'"),
    ({"backend": {"name": "optuna", "sampler": "cmaes"}},
     "backend.sampler must be one of ['gp', 'nsga2', 'tpe']; got 'cmaes'"),
    ({"heldout_instances": ["iris"]}, "heldout_instances must not contain a tuning instance"),
    ({"name": "two words"}, "name must be letters, digits"),
    ({"epochs": 3}, "unknown key 'epochs'; allowed keys:"),
    ({"walltime": -5}, "walltime must be > 0"),
    ({"seeds": "zero"}, "seeds must be a list; got 'zero'"),
]


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "bad.yaml"
    text = yaml.safe_dump(data, sort_keys=False)
    path.write_text(text.replace("'.inf'", ".inf"))
    return path


@pytest.mark.parametrize(("change", "message"), MALFORMED,
                         ids=[str(i) for i in range(len(MALFORMED))])
def test_malformed_scenario_is_one_line_naming_the_key(tmp_path, change, message):
    path = _write(tmp_path, merge({"name": "bad", **BASE}, change))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith("scenario 'bad.yaml': ")
    assert message in text


def test_bad_yaml_syntax_is_one_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\n  instances: [iris\n")
    with pytest.raises(ScenarioError, match=r"scenario 'broken.yaml': not valid YAML at line 2"):
        load_scenario(path)


def test_not_a_mapping_and_missing_file(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ScenarioError, match="must be a mapping of keys to values; got list"):
        load_scenario(path)
    with pytest.raises(ScenarioError, match="does not exist"):
        load_scenario(tmp_path / "nowhere.yaml")


@pytest.mark.parametrize(("change", "message"), [MALFORMED[0], MALFORMED[5], MALFORMED[4]])
def test_cli_prints_one_line_and_exits_2(tmp_path, change, message):
    path = _write(tmp_path, merge({"name": "bad", **BASE}, change))
    result = cli("optimize", str(path), cwd=tmp_path, cpu_budget=120)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert not (tmp_path / "results").exists()  # nothing ran


# Fixed values of every kind that the trainer cannot use: each is refused when the scenario is
# loaded (before any trial), naming the parameter, what it must be and the value found.
BAD_FIXED = [
    ({"hidden_sizes": {"a": 1}}, "The 'hidden_sizes' parameter must be comma-separated positive "
                                 "integers such as '1000,1000,1000'; got {'a': 1}"),
    ({"hidden_sizes": [256, 256]}, "'hidden_sizes' parameter must be comma-separated"),
    ({"hidden_sizes": True}, "got True"),
    ({"hidden_sizes": "0,5"}, "got '0,5'"),
    ({"hidden_sizes": "256,,256"}, "got '256,,256'"),
    ({"hidden_sizes": None}, "'hidden_sizes' parameter must be comma-separated"),
    ({"channels": "a,b"}, "The 'channels' parameter must be comma-separated positive integers"),
    ({"batch_size": -5}, "The 'batch_size' parameter must be a positive integer such as 256; "
                         "got -5"),
    ({"batch_size": "big"}, "'batch_size' parameter must be a positive integer"),
    ({"delta_t": float("inf")}, "The 'delta_t' parameter must be a number in [1, 1000000000]; "
                                "got inf"),
    ({"density": float("nan")}, "The 'density' parameter must be a number in"),
    ({"lr": "abc"}, "The 'lr' parameter must be a number in [0.0, 10.0]; got 'abc'"),
    ({"dropout": True}, "The 'dropout' parameter must be a number in"),
    ({"execution": "dense"}, "The 'execution' parameter must be one of ['masked', 'sparse']; "
                             "got 'dense'"),
    ({"nesterov": "maybe"}, "The 'nesterov' parameter must be one of [False, True]; got 'maybe'"),
    ({"activation": ["relu"]}, "The 'activation' parameter must be one of ["),
]


@pytest.mark.parametrize(("fixed", "message"), BAD_FIXED,
                         ids=[str(i) for i in range(len(BAD_FIXED))])
def test_every_fixed_value_is_checked_against_the_space_at_load(tmp_path, fixed, message):
    path = _write(tmp_path, merge({"name": "bad", **BASE}, {"fixed": {**BASE["fixed"], **fixed}}))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith("scenario 'bad.yaml': fixed: ")
    assert message in str(caught.value)


@pytest.mark.parametrize(("space", "fixed", "message"), [
    ("snfs", {}, "The 'grow_score' parameter 'momentum' reads the momentum of inactive"),
])
def test_what_the_sparse_path_cannot_run_is_refused_at_load(tmp_path, space, fixed, message):
    # once accepted: every trial crashed in the trainer and the run exited 0
    path = _write(tmp_path, merge({"name": "bad", **BASE}, {
        "space": space, "fixed": {**BASE["fixed"], "execution": "sparse", **fixed}}))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert "\n" not in str(caught.value)
    assert message in str(caught.value) and str(caught.value).endswith("use execution=masked")


def test_the_sparse_path_searches_only_what_it_runs(tmp_path):
    path = _write(tmp_path, merge({"name": "ok", **BASE}, {
        "space": "meta", "fixed": {**BASE["fixed"], "execution": "sparse"}}))
    space = load_space("meta", fixed=load_scenario(path).fixed)  # as the run builds it
    assert "momentum" not in space["grow_score"].choices
    assert "gradient" in space["grow_score"].choices  # only the refused choices leave
    assert list(space["fan_in"].choices) == ["free", "constant"]  # SRigL runs on both paths
    assert list(space["channel_prune"].choices) == ["none", "umm"]  # Chase runs on both paths


@pytest.mark.parametrize("backend", ["smac", "random", "ray"])
def test_a_mapping_for_hidden_sizes_is_refused_before_any_trial(tmp_path, backend):
    # once accepted: every trial crashed in the trainer and the run exited 0 (Ray kept running)
    path = _write(tmp_path, merge({"name": "bad", **BASE, "backend": {"name": backend},
                                   "output": str(tmp_path / "results")},
                                  {"fixed": {**BASE["fixed"], "hidden_sizes": {"a": 1}}}))
    result = cli("optimize", str(path), "--no-progress", cwd=tmp_path, cpu_budget=120)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "The 'hidden_sizes' parameter must be" in lines[0], result.stderr
    assert not (tmp_path / "results").exists()  # nothing ran


@pytest.mark.parametrize("key", ["instances", "heldout_instances"])
def test_a_dataset_that_cannot_be_learned_is_refused_before_any_trial(tmp_path, key):
    # once: every trial of a single-class dataset crashed (or scored 1.0) and the run exited 0
    data = tmp_path / "one.csv"
    data.write_text("a,b,label\n" + "".join(f"{i},{i % 7},x\n" for i in range(50)))
    path = _write(tmp_path, merge({"name": "bad", **BASE, "output": str(tmp_path / "results")},
                                  {key: [str(data)]}))
    result = cli("optimize", str(path), "--no-progress", cwd=tmp_path, cpu_budget=120)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].endswith(f"scenario 'bad.yaml': {key}: {data}: every one of the 50 samples "
                             "has the label 'x'; classification needs at least 2 classes")
    assert not (tmp_path / "results").exists()  # nothing ran


def test_defaults_overrides_and_the_scenario_as_run(tmp_path):
    path = _write(tmp_path, {"name": "ok", **BASE})
    scenario = load_scenario(path)
    assert scenario.backend.name == "smac" and scenario.backend.facade == "hpo"
    assert scenario.crash_cost == [1.0] and scenario.seeds == [0]
    assert scenario.output_dir == Path("results/ok")
    assert scenario.default_reference() == "rigl"
    other = load_scenario(path, backend="optuna", n_trials=9, n_workers=2)
    assert other.backend.name == "optuna" and not hasattr(other.backend, "facade")
    assert other.backend.sampler == "tpe" and other.backend.pruner == "hyperband"
    assert other.n_trials == 9 and other.n_workers == 2
    assert other.output_dir == Path("results/ok-optuna")


def test_a_list_of_spaces_is_one_run_per_space(tmp_path):
    path = _write(tmp_path, {"name": "study", **BASE, "space": ["set", "rigl", "meta"]})
    runs = load_scenario(path).runs()
    assert [r.name for r in runs] == ["study-set", "study-rigl", "study-meta"]
    assert [r.default_reference() for r in runs] == ["set", "rigl", "rigl"]
    assert [r.output_dir for r in runs] == [Path("results/study") / s for s in
                                            ("set", "rigl", "meta")]


@pytest.mark.parametrize("name", ["quickstart", "tabular-ac", "multi-objective"])
def test_shipped_offline_scenarios_are_valid(name):
    assert name in shipped_scenarios()
    scenario = load_scenario(name)
    assert scenario.name == name


def test_shipped_feature_selection_scenario_is_valid(monkeypatch):
    if not (SHARED_DATA / "madelon.npz").is_file():
        pytest.skip(f"the feature-selection scenario tunes on madelon of {SHARED_DATA}: absent")
    monkeypatch.setenv("METASPARSE_DATA_DIR", str(SHARED_DATA))
    scenario = load_scenario("feature-selection")
    assert scenario.objectives == ["fs_error"] and scenario.feature_selection.k == 20


def test_shipped_set_rigl_meta_is_valid(monkeypatch):
    if not (SHARED_DATA / "coil20.npz").is_file():
        pytest.skip(f"set-rigl-meta tunes on coil20/isolet/madelon of {SHARED_DATA}, absent here")
    monkeypatch.setenv("METASPARSE_DATA_DIR", str(SHARED_DATA))
    runs = load_scenario("set-rigl-meta").runs()
    assert [r.space for r in runs] == [["set"], ["rigl"], ["meta"]]
