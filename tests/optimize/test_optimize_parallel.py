"""Two processes sharing one Optuna study end with exactly n_trials recorded trials. That every
backend's parallel workers do (SMAC through Dask, the others with threads) is
test_optimize_backend_contract.py."""

from __future__ import annotations

import socket

import optuna
from optimize_helpers import config_key, popen, read_csv, wait_for_rows


def test_a_second_process_joins_the_optuna_study(tmp_path, scenario_file):
    # trials long enough (about 0.5 s) that the first process cannot finish all 16 before the
    # second one has started
    path = scenario_file("joined", backend={"name": "optuna", "pruner": "none"}, n_trials=16,
                         instances=["digits", "wine"], budget={"epochs": 30},
                         fixed={"model": "mlp", "hidden_sizes": "256,256",
                                "dense_first_layer": False, "dense_last_layer": False})
    trials = tmp_path / "results" / "joined" / "trials.csv"
    first = popen("optimize", str(path), "--no-progress", cwd=tmp_path)
    wait_for_rows(trials, 2, first)
    second = popen("optimize", str(path), "--no-progress", cwd=tmp_path)
    for process in (first, second):
        _, stderr = process.communicate(timeout=240)
        assert process.returncode == 0, stderr
    rows = read_csv(trials)
    assert len(rows) == 16
    assert len({r["trial_id"] for r in rows}) == 16
    assert len({config_key(r) for r in rows}) == 16
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(trials.parent / "optuna.journal")))
    study = optuna.load_study(study_name="joined", storage=storage)
    workers = {t.user_attrs["worker"] for t in study.trials if "status" in t.user_attrs}
    assert workers == {f"{socket.gethostname()}:{p.pid}" for p in (first, second)}
