"""Tuning sees the validation split only: on a dataset whose test split is labelled against the
rule that train and validation follow, every cost, per-epoch pruning signal and reference
metric of a run is near 0 (it would be near 1 from the test split)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import optuna
import yaml
from optimize_helpers import LR_DECIDES, read_csv

from metasparse.data import load_dataset
from metasparse.optimize import load_scenario, optimize

N = 300


def split_revealing_dataset(directory: Path) -> None:
    """directory/revealing.npz: two classes told apart by the sign of feature 0 (feature 1 is
    noise), the sign reversed on exactly the rows that load_dataset puts in the test split."""
    y = np.arange(N) % 2
    # The split depends on the labels and the split seed only: a probe with the same labels
    # and the row index as a feature shows which rows the test split gets.
    np.savez(directory / "probe.npz", X=np.c_[np.arange(N), np.zeros(N)].astype(np.float32), y=y)
    test_rows = load_dataset("probe", data_dir=directory).X_test[:, 0].numpy().astype(int)
    sign = np.where(y == 1, 1.0, -1.0)
    sign[test_rows] *= -1.0
    rng = np.random.default_rng(0)
    X = np.c_[2.0 * sign + rng.normal(0.0, 0.3, N), rng.normal(0.0, 1.0, N)]
    np.savez(directory / "revealing.npz", X=X.astype(np.float32), y=y)


def rule_accuracy(X: np.ndarray, y: np.ndarray) -> float:
    """Accuracy of "class 1 where feature 0 is positive"."""
    return float(np.mean((X[:, 0] > 0) == (y == 1)))


def test_costs_and_pruning_signals_come_from_the_validation_split(tmp_path, scenario_file):
    split_revealing_dataset(tmp_path)
    data = load_dataset("revealing", data_dir=tmp_path)
    assert rule_accuracy(data.X_train.numpy(), data.y_train.numpy()) == 1.0
    assert rule_accuracy(data.X_val.numpy(), data.y_val.numpy()) == 1.0
    assert rule_accuracy(data.X_test.numpy(), data.y_test.numpy()) == 0.0

    path = scenario_file("revealing", instances=["revealing"], data_dir=str(tmp_path),
                         fixed={**LR_DECIDES, "lr": 0.05}, budget={"epochs": 3, "min_epochs": 1},
                         n_trials=3, backend={"name": "optuna", "seed": 0})
    directory = optimize(load_scenario(path), progress=False)[0].directory

    rows = read_csv(directory / "trials.csv")
    assert len(rows) == 3
    for row in rows:  # the cost and the metrics beside it
        assert float(row["cost"]) < 0.1, row
        if row["status"] == "success":
            assert float(row["val_error"]) == float(row["cost"])
            assert float(row["val_accuracy"]) > 0.9
    for row in read_csv(directory / "trial_instances.csv"):
        assert float(row["cost"]) < 0.1, row
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(directory / "optuna.journal")))
    reported = [value for trial in optuna.load_study(study_name="revealing",
                                                     storage=storage).trials
                for value in trial.intermediate_values.values()]
    assert len(reported) >= 3 and max(reported) < 0.1  # the pruner's per-epoch signal
    reference = yaml.safe_load((directory / "reference.yaml").read_text())
    assert reference["status"] == "success" and reference["cost"] < 0.1
