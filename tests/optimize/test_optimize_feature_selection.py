"""Scenarios with the objective fs_error: every backend tunes sparse training for feature
selection, and a trial's cost is the classifier's validation error on the network's top k
features (never a test score)."""

from __future__ import annotations

import numpy as np
import pytest
from optimize_helpers import (
    FS,
    K,
    config_key,
    read_csv,
    selection_errors,
    trial_config,
    write_scenario,
)

from metasparse.errors import ConfigError
from metasparse.features import evaluate_selection, fit_evolving, rank_features
from metasparse.optimize import load_scenario, optimize
from metasparse.space import preset_config
from metasparse.train import fit


# numpy's warnings from SMAC's local search once landed in the middle of progress bars
@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("backend", ["smac", "optuna", "random"])
def test_the_cost_is_the_selection_error_on_validation(tmp_path, backend):
    path = write_scenario(tmp_path, f"fs-{backend}", **FS, backend={"name": backend, "seed": 0})
    summary = optimize(load_scenario(path), progress=False)[0]
    assert "reference (quickselection)" in summary.table()
    assert "feature-selection error" in summary.table()
    rows = read_csv(summary.directory / "trials.csv")
    # a sampled configuration may diverge (recorded as such): on raw wine, an autoencoder
    assert len(rows) == FS["n_trials"] and {r["status"] for r in rows} <= {"success", "diverged"}
    assert sum(r["status"] == "success" for r in rows) >= 2
    assert len({config_key(r) for r in rows}) == len(rows)
    assert {r["config.task"] for r in rows} <= {"classifier", "autoencoder"}
    row = min(rows, key=lambda r: float(r["cost"]))
    val, _, network = selection_errors(trial_config(row))
    assert float(row["cost"]) == pytest.approx(val)
    assert float(row["val_error"]) == pytest.approx(network)  # the network's own, kept apart
    instances = read_csv(summary.directory / "trial_instances.csv")
    assert [float(r["cost"]) for r in instances] == [float(r["cost"]) for r in rows]
    assert not any("test" in column for column in rows[0])  # test scores never reach a search


def test_the_trial_scores_the_scenarios_k_and_importance(tmp_path):
    # the same point scored at another k, or by another importance, costs otherwise: the worker
    # reads the scenario's feature_selection, not a default
    fs = {**FS, "n_trials": 1, "feature_selection": {"k": 1, "importance": "attribution"},
          "backend": {"name": "random", "seed": 0}}
    summary = optimize(load_scenario(write_scenario(tmp_path, "fs-k1", **fs)), progress=False)[0]
    row = read_csv(summary.directory / "trials.csv")[0]
    config = trial_config(row)
    trained = fit(config, "wine", 2, seed=0, device="cpu", fit_dense_layers=True)
    expected = {
        (k, importance): 1 - evaluate_selection(
            trained.data, rank_features(trained, importance), k, "svm", seed=0).val_accuracy
        for k in (1, K) for importance in ("attribution", "neuron_strength")}
    assert float(row["cost"]) == pytest.approx(expected[(1, "attribution")])
    assert len(set(expected.values())) > 1  # the choice matters on this point


@pytest.mark.parametrize("task", ["classifier", "autoencoder"])
def test_an_autoencoder_is_ranked_by_the_autoencoder_importance(tmp_path, task):
    # attribution costs an autoencoder one backward pass per feature: a scenario may rank
    # autoencoders otherwise, and classifiers still by `importance`
    selection = {"k": K, "importance": "attribution", "autoencoder_importance": "neuron_strength"}
    fs = {**FS, "n_trials": 1, "feature_selection": selection,
          "fixed": {**FS["fixed"], "task": task}, "backend": {"name": "random", "seed": 0}}
    summary = optimize(load_scenario(write_scenario(tmp_path, f"fs-{task}", **fs)),
                       progress=False)[0]
    row = read_csv(summary.directory / "trials.csv")[0]
    assert row["status"] == "success"
    trained = fit_evolving(trial_config(row), "wine", 2, seed=0, k=K, device="cpu",
                           fit_dense_layers=True)
    errors = {importance: 1 - evaluate_selection(
        trained.data, rank_features(trained, importance), K, "svm", seed=0).val_accuracy
        for importance in ("attribution", "neuron_strength")}
    expected = "neuron_strength" if task == "autoencoder" else "attribution"
    assert float(row["cost"]) == pytest.approx(errors[expected])
    assert errors["attribution"] != errors["neuron_strength"]  # the choice shows


def test_validation_of_a_feature_selection_run_scores_the_selection(tmp_path):
    from metasparse.analysis import instance_title, load_results, per_instance, validate

    # validate (and the ablation and Pareto evaluations) trains through the same runner: with
    # fs_error, val_error and test_error are the selection's
    fs = {**FS, "n_trials": 2, "heldout_instances": ["breast_cancer"],
          "backend": {"name": "random", "seed": 0}}
    summary = optimize(load_scenario(write_scenario(tmp_path, "fs-val", **fs)), progress=False)[0]
    results = load_results(summary.directory)
    mine = per_instance(results).set_index("candidate").loc["incumbent"]
    assert mine["error"] == pytest.approx(summary.incumbent["cost"])  # the cost, per instance
    assert instance_title(results) == "feature-selection error per tuning instance"
    narrow = tmp_path / "narrow.npz"  # 2 features: fewer than k, refused before any training
    rng = np.random.default_rng(0)
    np.savez(narrow, X=rng.normal(size=(60, 2)).astype(np.float32), y=np.arange(60) % 2)
    with pytest.raises(ConfigError, match=r"The 'k' parameter must be an integer in 1\.\.2"):
        validate(results, seeds=[0], instances=[str(narrow)], progress=False)
    frame = validate(results, seeds=[0], presets=["quickselection"], progress=False)
    assert list(frame["candidate"]) == ["incumbent", "quickselection"]
    for row in frame.to_dict("records"):
        config = summary.incumbent["config"] if row["candidate"] == "incumbent" \
            else preset_config("quickselection", FS["fixed"])
        trained = fit(config, "breast_cancer", 2, seed=0, device="cpu", fit_dense_layers=True)
        scores = evaluate_selection(trained.data, rank_features(trained), K, "svm", seed=0)
        assert row["val_error"] == pytest.approx(1 - scores.val_accuracy)
        assert row["test_error"] == pytest.approx(1 - scores.test_accuracy)



@pytest.mark.parametrize("objective", ["fs_error", "val_error"])
def test_a_selection_trial_reports_no_epochs_and_no_test_score(objective):
    from metasparse.optimize._runner import TrialRunner

    selection = FS["feature_selection"] if objective == "fs_error" else None
    runner = TrialRunner(objectives=[objective], crash_costs=lambda: [1.0],
                         feature_selection=selection)
    steps = []

    def stop_at_once(step: int, value: float) -> bool:  # a pruner that stops every trial
        steps.append(step)
        return True

    config = preset_config("quickselection" if selection else "set", FS["fixed"])
    outcome = runner.evaluate(config, 2, [("wine", 0)], report=stop_at_once)
    if selection is None:  # the network's per-epoch error reaches the pruner
        assert outcome.status == "pruned" and steps == [1]
        return
    # fs_error exists only after training: no epoch reaches the pruner, the trial finishes
    assert outcome.status == "success" and steps == []
    metrics = outcome.pairs[0].metrics
    assert outcome.costs == [pytest.approx(metrics["fs_error"])]
    assert not any("test" in key for key in metrics)  # tuning never sees a test score
