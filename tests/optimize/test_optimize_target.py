"""A scenario's `target:` a user's function in place of the built-in trainer, tuned by real
backends, with its failures recorded as failed trials."""

from __future__ import annotations

import textwrap

import pytest
import yaml
from optimize_helpers import read_csv, run, write_scenario

from metasparse.errors import ScenarioError
from metasparse.optimize import evaluate_run, load_scenario
from metasparse.space import get_preset

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
                     n_trials=6)
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
