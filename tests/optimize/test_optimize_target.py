"""A scenario's `target:` a user's function in place of the built-in trainer, tuned by real
backends, with its failures recorded as failed trials."""

from __future__ import annotations

import textwrap

import numpy
import pytest
import yaml
from ConfigSpace import Constant, UniformFloatHyperparameter
from optimize_helpers import read_csv, run, write_scenario

from metasparse.errors import ScenarioError
from metasparse.optimize import evaluate_run, load_scenario
from metasparse.optimize._target import call_target
from metasparse.space import get_preset, load_definition, load_space, resolve_config

# A user's own model and loop on iris, made sparse by metasparse.sparsify
TARGET = textwrap.dedent('''
    import torch
    from sklearn.datasets import load_iris
    from torch import nn

    import metasparse

    CALLS = []


    def train(config, budget, seed, instance):
        torch.manual_seed(seed)
        x, y = load_iris(return_X_y=True)
        x = torch.tensor((x - x.mean(0)) / x.std(0), dtype=torch.float32)
        y = torch.tensor(y)
        order = torch.randperm(len(x))
        train, val = order[:100], order[100:]
        model = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 3))
        steps = 10 * budget
        sparsifier = metasparse.sparsify(model, None, steps, **config)
        optimizer = torch.optim.SGD(sparsifier.param_groups(config["lr"]), lr=config["lr"],
                                    momentum=0.9)
        sparsifier.attach(optimizer)
        for step in range(steps):
            idx = train[torch.randint(100, (20,))]
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            optimizer.step()
            sparsifier.step()
            optimizer.zero_grad()
        accuracy = float((model(x[val]).argmax(1) == y[val]).float().mean())
        return {"val_error": 1.0 - accuracy, "val_accuracy": accuracy,
                "density": sparsifier.density()}


    def fails(config, budget, seed):
        if config["lr"] > 0.002:
            raise RuntimeError("no good at this learning rate")
        return {"val_accuracy": 0.5}
''')


def _scenario(tmp_path, name: str, target: str, **changes):
    (tmp_path / "user_target.py").write_text(TARGET)
    return write_scenario(tmp_path, name, target=target, instances=["iris-a", "iris-b"],
                          **changes)


def test_smac_tunes_a_users_target_and_records_its_metrics(tmp_path):
    path = _scenario(tmp_path, "target", "user_target.py:train",
                     backend={"name": "smac", "facade": "hpo"}, n_trials=4)
    directory = run(path)
    rows = read_csv(directory / "trials.csv")
    assert len(rows) == 4 and {r["status"] for r in rows} == {"success"}
    for row in rows:
        assert float(row["cost"]) == pytest.approx(1.0 - float(row["val_accuracy"]))
        # the search's density (the rigl subspace leaves it free), as the sparsifier kept it
        assert float(row["density"]) == pytest.approx(float(row["config.density"]), abs=0.02)
    pairs = read_csv(directory / "trial_instances.csv")
    assert {p["instance"] for p in pairs} == {"iris-a", "iris-b"}
    assert (directory / "smac").exists()
    assert yaml.safe_load((directory / "reference.yaml").read_text())["status"] == "success"


def test_a_target_that_raises_or_returns_no_val_error_makes_failed_trials(tmp_path):
    path = _scenario(tmp_path, "fails", "user_target.py:fails", backend={"name": "random"},
                     n_trials=6, axes=["sparse", "optimizer"])
    directory = run(path)
    rows = read_csv(directory / "trials.csv")
    assert len(rows) == 6 and {r["status"] for r in rows} == {"crashed"}
    errors = {r["error"].split(": ", 1)[1] for r in rows}
    assert errors <= {"RuntimeError: no good at this learning rate",
                      "ValueError: the target must return a finite 'val_error'; got none"}
    assert len(errors) == 2  # random search draws both kinds of learning rate


@pytest.mark.parametrize(("target", "message"), [
    ("user_target.py:missing", "user_target.py has no function 'missing'"),
    ("nowhere.py:train", "cannot be imported: FileNotFoundError"),
    ("no_such_package.mod:train", "cannot be imported: ModuleNotFoundError"),
    ("user_target.py", "must be 'path/to/file.py:function' or 'package.module:function'"),
])
def test_a_target_that_cannot_be_had_is_one_line_before_any_work(tmp_path, target, message):
    path = _scenario(tmp_path, "bad", target)
    with pytest.raises(ScenarioError, match=message) as error:
        load_scenario(path)
    assert "\n" not in str(error.value)
    assert not (tmp_path / "results").exists()


def test_evaluations_outside_tuning_run_the_target_and_keep_its_test_scores(tmp_path):
    (tmp_path / "scored.py").write_text(textwrap.dedent('''
        def train(config, budget, seed):
            return {"val_error": config["density"], "test_accuracy": 0.5 + seed / 10}
    '''))
    run = evaluate_run(get_preset("rigl"), "anything", 2, 1, target=f"{tmp_path}/scored.py:train")
    assert run.status == "success"
    assert run.metrics["val_error"] == 0.1 and run.metrics["test_accuracy"] == 0.7


# A user's loop that reports every epoch: its validation error is its density, so the pruner
# has a clear order; each epoch it has begun is logged, to show where a pruned trial stopped
# (an epoch takes 0.2 s, time enough for the runner to stop it).
REPORTING = textwrap.dedent('''
    import time
    from pathlib import Path


    def train(config, budget, seed, report):
        log = Path(__file__).with_name("epochs.log")
        for epoch in range(1, budget + 1):
            with log.open("a") as handle:
                handle.write(f"{config['density']!r} {epoch}\\n")
            time.sleep(0.2)
            report(epoch, {"val_error": config["density"]})
        return {"val_error": config["density"]}


    def reports_garbage(config, budget, seed, report):
        report(1, {"val_error": "bad"})
        return {"val_error": 0.5}
''')


def test_a_target_scenario_searches_the_sparse_axes_and_holds_the_trainers(tmp_path):
    path = _scenario(tmp_path, "axes", "user_target.py:train", space="set-rigl", fixed=None)
    scenario = load_scenario(path)
    space = load_space(scenario.space[0], fixed=scenario.fixed)
    free = {name for name, hp in space.items() if not isinstance(hp, Constant)}
    groups = load_definition("meta")["axes"]
    assert free and free <= set(groups["sparse"])
    # the trainer's model and data axes and the optimizer's are held at the defaults
    defaults = resolve_config({})
    for name in ("model", "hidden_sizes", "activation", "normalization", "input_scaling",
                 "dropout", "lr", "lr_scaling", "batch_size"):
        assert scenario.fixed[name] == defaults[name], name
    # `axes` adds the optimizer's; what the user fixes stays as fixed
    path = _scenario(tmp_path, "axes", "user_target.py:train", space="set-rigl",
                     fixed={"activation": "tanh", "optimizer": "sgd"},
                     axes=["sparse", "optimizer"])
    scenario = load_scenario(path)
    space = load_space(scenario.space[0], fixed=scenario.fixed)
    assert isinstance(space["lr"], UniformFloatHyperparameter) and "lr" not in scenario.fixed
    assert scenario.fixed["activation"] == "tanh" and scenario.fixed["model"] == "mlp"
    directory = run(path, n_trials=2)
    written = yaml.safe_load((directory / "scenario.yaml").read_text())
    assert written["axes"] == ["sparse", "optimizer"] and written["fixed"] == scenario.fixed
    assert {r["config.model"] for r in read_csv(directory / "trials.csv")} == {"mlp"}


def test_the_built_in_trainer_searches_every_axis_unless_told(tmp_path):
    scenario = load_scenario(write_scenario(tmp_path, "all", space="set-rigl", fixed=None))
    assert scenario.fixed == {} and "axes" not in scenario.as_dict()
    scenario = load_scenario(write_scenario(tmp_path, "some", space="set-rigl", fixed=None,
                                            axes=["model", "sparse"]))
    assert "activation" not in scenario.fixed and scenario.fixed["lr"] == 0.01


def test_each_space_of_a_list_holds_its_own_defaults(tmp_path):
    # The held axes are each space's own: meta's distribution is held at erk, which ctre
    # (er only) is not forced to.
    path = _scenario(tmp_path, "spaces", "user_target.py:train", space=["meta", "ctre"],
                     fixed=None, axes=["model", "optimizer"])
    scenario = load_scenario(path)
    assert "distribution" not in scenario.fixed
    held = {run.space[0]: run.fixed for run in scenario.runs()}
    assert held["meta"]["distribution"] == resolve_config({})["distribution"] == "erk"
    assert "distribution" not in held["ctre"]  # ctre holds er itself
    ctre = load_space("ctre", fixed=held["ctre"])
    assert ctre["distribution"].value == get_preset("ctre")["distribution"] == "er"


def test_a_target_run_from_before_axes_resumes_only_searching_every_axis(tmp_path):
    # Such a run searched every group: resumed with the [sparse] default it would go on in
    # another space, so it is refused, naming the difference; with every group it resumes.
    path = _scenario(tmp_path, "pre-axes", "user_target.py:train", space="set-rigl",
                     fixed=None, n_trials=2, axes=["model", "sparse", "optimizer"])
    directory = run(path)
    written = yaml.safe_load((directory / "scenario.yaml").read_text())
    assert written["axes"] == ["model", "sparse", "optimizer"] and written["fixed"] == {}
    del written["axes"]  # as a run of the version before `axes` wrote it
    (directory / "scenario.yaml").write_text(yaml.safe_dump(written, sort_keys=False))
    default = _scenario(tmp_path, "pre-axes", "user_target.py:train", space="set-rigl",
                        fixed=None, n_trials=3)
    with pytest.raises(ScenarioError, match=r"axes: \['model', 'sparse', 'optimizer'\] "
                                            r"there, \['sparse'\] now"):
        run(default)
    assert len(read_csv(directory / "trials.csv")) == 2
    run(_scenario(tmp_path, "pre-axes", "user_target.py:train", space="set-rigl", fixed=None,
                  n_trials=3, axes=["optimizer", "sparse", "model"]))
    assert len(read_csv(directory / "trials.csv")) == 3


@pytest.mark.parametrize(("axes", "message"), [
    (["sparse", "spars"], r"The 'axes' parameter must be one of \['model', 'optimizer', "
                          r"'sparse'\]; got 'spars'"),
    (["sparse", "sparse"], "axes must not repeat an entry; got 'sparse' twice"),
    ([], "axes"),
])
def test_bad_axes_are_one_line_before_any_work(tmp_path, axes, message):
    path = _scenario(tmp_path, "bad", "user_target.py:train", axes=axes)
    with pytest.raises(ScenarioError, match=message) as error:
        load_scenario(path)
    assert "\n" not in str(error.value)


def test_a_pruner_stops_a_bad_trial_of_a_users_loop_early(tmp_path):
    (tmp_path / "reporting.py").write_text(REPORTING)
    path = write_scenario(tmp_path, "pruned", target="reporting.py:train", fixed=None,
                          instances=["only"], budget={"epochs": 8, "min_epochs": 1},
                          backend={"name": "optuna", "seed": 0}, n_trials=10)
    directory = run(path)
    rows = read_csv(directory / "trials.csv")
    pruned = [r for r in rows if r["status"] == "pruned"]
    assert pruned and len(pruned) < len(rows), [(r["status"], r["cost"]) for r in rows]
    begun: dict[float, list[int]] = {}
    for line in (tmp_path / "epochs.log").read_text().splitlines():
        density, epoch = line.split()
        begun.setdefault(float(density), []).append(int(epoch))
    for row in rows:
        epochs = begun[float(row["config.density"])]
        if row["status"] == "pruned":  # stopped where it was pruned, not after its budget
            stopped = int(row["error"].removeprefix("pruned at epoch ").split()[0])
            assert stopped < 8 and max(epochs) <= stopped + 1, (row["error"], epochs)
            assert float(row["cost"]) == pytest.approx(float(row["config.density"]))
        else:
            assert row["status"] == "success" and max(epochs) == 8
    # the curve of the evaluation outside tuning is what the target reported
    evaluated = evaluate_run({"density": 0.25}, "only", 0, 3,
                             target=f"{tmp_path}/reporting.py:train")
    assert evaluated.metrics["val_curve"] == [0.75, 0.75, 0.75]


def test_a_target_that_reports_badly_makes_a_failed_trial(tmp_path):
    (tmp_path / "reporting.py").write_text(REPORTING)
    path = write_scenario(tmp_path, "garbage", target="reporting.py:reports_garbage",
                          fixed=None, instances=["only"], backend={"name": "random"},
                          n_trials=1)
    (row,) = read_csv(run(path) / "trials.csv")
    assert row["status"] == "crashed"
    assert row["error"].endswith("report's metrics must hold a finite 'val_error'; got 'bad'")


@pytest.mark.parametrize(("epochs", "metrics", "message"), [
    ([1, 1], {"val_error": 0.1}, r"epoch must be an integer in \(1, 3\]"),
    ([4], {"val_error": 0.1}, r"epoch must be an integer in \(0, 3\]"),
    ([True], {"val_error": 0.1}, "got True"),
    ([1], {"val_error": float("nan")}, "finite 'val_error'"),
    ([1], {"val_error": 0.1, "val_accuracy": None}, "finite 'val_accuracy'"),
    ([1], [0.1], "must be a mapping"),
])
def test_a_targets_report_is_checked(epochs, metrics, message):
    seen = []

    def target(config, budget, seed, report):
        for epoch in epochs:
            report(epoch, metrics)
        return {"val_error": 0.1}

    with pytest.raises(ValueError, match=message):
        call_target(target, {}, 3, 0, "x", ["val_error"], [], lambda e, m: seen.append(e))
    assert len(seen) == len(epochs) - 1


def test_a_targets_reports_reach_the_runner_as_numbers():
    seen = []

    def target(config, budget, seed, report):
        report(1, {"val_error": numpy.float32(0.25), "val_loss": 3})
        report(3, {"val_error": 0.5, "val_accuracy": 0.5})
        return {"val_error": 0.5}

    call_target(target, {}, 3, 0, "x", ["val_error"], [], lambda e, m: seen.append((e, m)))
    assert seen == [(1, {"val_error": 0.25}), (3, {"val_error": 0.5, "val_accuracy": 0.5})]
