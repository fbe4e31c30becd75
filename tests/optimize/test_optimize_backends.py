"""Real runs of each backend's own features (random search's draws, every SMAC facade, Optuna's
pruning and samplers) with the real trainer on small budgets, checked against the
results-directory contract (docs/CONTRACTS.md). What every backend must do is
test_optimize_backend_contract.py."""

from __future__ import annotations

import pytest
import yaml
from optimize_helpers import LR_DECIDES, check_results, config_key, read_csv, run


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
