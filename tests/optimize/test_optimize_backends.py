"""Real runs of every backend and SMAC facade with the real trainer on small budgets, checked
against the results-directory contract (docs/CONTRACTS.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from optimize_helpers import LR_DECIDES, config_key, read_csv

from metasparse.optimize import load_scenario, optimize
from metasparse.space import load_space

STATUSES = {"success", "crashed", "timeout", "diverged", "pruned"}
LEADING = ["trial_id", "status", "cost"]
AFTER_COSTS = ["budget", "seed", "instance", "val_error", "val_accuracy", "density",
               "train_flops", "inference_flops", "topology_updates", "wall_time_s",
               "start_time", "end_time", "error"]


def check_results(directory: Path, n_trials: int, n_objectives: int = 1,
                  state: str | None = None) -> list[dict[str, str]]:
    for name in ("scenario.yaml", "trials.csv", "trial_instances.csv", "incumbent.yaml",
                 "trajectory.csv", "reference.yaml"):
        assert (directory / name).is_file(), name
    if state is not None:
        assert (directory / state).exists()
    rows = read_csv(directory / "trials.csv")
    assert len(rows) == n_trials
    columns = list(rows[0])
    costs = [f"cost_{k}" for k in range(2, n_objectives + 1)]
    assert columns[:3 + len(costs) + len(AFTER_COSTS)] == LEADING + costs + AFTER_COSTS
    assert not any("test" in c for c in columns)
    space = load_space(yaml.safe_load((directory / "scenario.yaml").read_text())["space"],
                       fixed=yaml.safe_load((directory / "scenario.yaml").read_text())["fixed"])
    assert [c[len("config."):] for c in columns if c.startswith("config.")] == list(space.keys())
    ids = [int(r["trial_id"]) for r in rows]
    assert len(set(ids)) == len(ids)
    assert {r["status"] for r in rows} <= STATUSES
    instance_rows = read_csv(directory / "trial_instances.csv")
    assert {int(r["trial_id"]) for r in instance_rows} <= set(ids)
    incumbent = yaml.safe_load((directory / "incumbent.yaml").read_text())
    assert {"trial_id", "cost", "config", "budget", "instances"} <= set(incumbent)
    assert incumbent["trial_id"] in ids
    best = min(float(r["cost"]) for r in rows if r["status"] == "success"
               and r["budget"] == str(incumbent["budget"]))
    # A mean over several rows of one configuration (mf, ac) may exceed the best single row.
    repeated = len({(r["budget"], config_key(r)) for r in rows}) < len(rows)
    assert incumbent["cost"] <= best + 1e-12 or repeated
    trajectory = read_csv(directory / "trajectory.csv")
    assert trajectory and float(trajectory[-1]["cost"]) == pytest.approx(incumbent["cost"])
    # Across budgets or instances (mf, ac) an incumbent's cost may rise; otherwise it only falls.
    if len({r["budget"] for r in rows}) == 1 and {r["instance"] for r in rows} == {"all"}:
        costs = [float(t["cost"]) for t in trajectory]
        assert costs == sorted(costs, reverse=True)
    reference = yaml.safe_load((directory / "reference.yaml").read_text())
    assert reference["status"] == "success" and reference["preset"] == "rigl"
    return rows


def run(path: Path, **overrides) -> Path:
    scenario = load_scenario(path, **overrides)
    summaries = optimize(scenario, progress=False)
    assert len(summaries) == 1
    assert "reference (rigl)" in summaries[0].table()
    return summaries[0].directory


def test_random_search(scenario_file):
    directory = run(scenario_file("rnd", backend={"name": "random"}))
    rows = check_results(directory, 4)
    assert [r["trial_id"] for r in rows] == ["0", "1", "2", "3"]
    assert all(r["instance"] == "all" for r in rows)
    pairs = read_csv(directory / "trial_instances.csv")
    assert {(r["trial_id"], r["instance"]) for r in pairs if r["status"] == "success"} >= {
        (r["trial_id"], i) for r in rows if r["status"] == "success" for i in ("iris", "wine")}


@pytest.mark.parametrize("facade", ["hpo", "bb"])
def test_smac_aggregated_facades(scenario_file, facade):
    directory = run(scenario_file(f"smac-{facade}", backend={"name": "smac", "facade": facade}))
    rows = check_results(directory, 4, state="smac")
    assert len({config_key(r) for r in rows}) == 4


def test_smac_multi_fidelity_uses_epochs_as_budget(scenario_file):
    path = scenario_file("smac-mf", backend={"name": "smac", "facade": "mf"},
                         budget={"epochs": 4, "min_epochs": 1}, n_trials=6)
    rows = check_results(run(path), 6)
    assert {r["budget"] for r in rows} <= {"1", "4"} and len({r["budget"] for r in rows}) == 2


def test_smac_algorithm_configuration_across_instances(scenario_file):
    path = scenario_file("smac-ac", backend={"name": "smac", "facade": "ac"},
                         instances=["iris", "wine", "breast_cancer"], n_trials=8)
    run(path)
    directory = run(path, n_trials=12)  # resumed: the model is refitted on the told trials
    rows = check_results(directory, 12)
    assert {r["instance"] for r in rows} <= {"iris", "wine", "breast_cancer"}
    assert len({r["instance"] for r in rows}) >= 2
    incumbent = yaml.safe_load((directory / "incumbent.yaml").read_text())
    assert incumbent["instances"] == ["iris", "wine", "breast_cancer"]


def test_smac_multi_objective(scenario_file):
    path = scenario_file("smac-mo", objectives=["val_error", "train_flops"],
                         fixed={"model": "mlp", "hidden_sizes": "128",
                                "dense_first_layer": False, "dense_last_layer": False})
    directory = run(path)
    rows = check_results(directory, 4, n_objectives=2)
    assert all(float(r["cost_2"]) > 0 for r in rows)
    incumbent = yaml.safe_load((directory / "incumbent.yaml").read_text())
    assert incumbent["pareto_front"] and len(incumbent["costs"]) == 2


def test_optuna_tpe_with_hyperband_pruning(scenario_file):
    import optuna

    path = scenario_file("optuna-tpe", backend={"name": "optuna", "seed": 0},
                         budget={"epochs": 3, "min_epochs": 1}, n_trials=12, fixed=LR_DECIDES)
    directory = run(path)
    rows = check_results(directory, 12, state="optuna.journal")
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(directory / "optuna.journal")))
    study = optuna.load_study(study_name="optuna-tpe", storage=storage)
    trials = {t.number: t for t in study.trials if "status" in t.user_attrs}
    assert set(trials) == {int(r["trial_id"]) for r in rows}
    steps = 3 * 2  # epochs x (iris, wine): the runner's step counts epochs over all pairs
    pruned = [r for r in rows if r["status"] == "pruned"]
    assert len(pruned) >= 2, [(r["config.lr"], r["cost"]) for r in rows]  # measured: 7 of 12
    for row in rows:
        trial = trials[int(row["trial_id"])]
        curve = trial.intermediate_values
        if row["status"] == "pruned":
            assert trial.state == optuna.trial.TrialState.PRUNED
            assert row["error"].startswith("pruned at epoch")
            last = max(curve)
            assert last < steps and float(row["cost"]) == pytest.approx(curve[last])
            # Successive halving stops a trial only behind a trial of its rung that did better
            # at the same step.
            assert any(other.intermediate_values.get(last, 1.0) < curve[last]
                       for other in trials.values() if other.number < trial.number), row
        else:
            assert row["status"] == "success"
            assert trial.state == optuna.trial.TrialState.COMPLETE
            assert sorted(curve) == list(range(1, steps + 1))
            assert trial.value == pytest.approx(float(row["cost"]))


def test_optuna_gp_on_the_conditional_meta_space(scenario_file):
    path = scenario_file("optuna-gp", space="meta", backend={"name": "optuna", "sampler": "gp",
                                                             "pruner": "none"})
    rows = check_results(run(path), 4)
    for row in rows:  # inactive parameters are empty, active ones set
        if row["config.prune_score"] != "mest":
            assert row["config.mest_gamma"] == ""
        if row["config.optimizer"] != "sgd":
            assert row["config.momentum"] == ""
        else:
            assert row["config.momentum"] != ""


def test_optuna_nsga2_multi_objective(scenario_file):
    path = scenario_file("optuna-mo", objectives=["val_error", "density"],
                         backend={"name": "optuna", "sampler": "nsga2"})
    rows = check_results(run(path), 4, n_objectives=2)
    assert all(0 < float(r["cost_2"]) <= 1 for r in rows)
