"""Parallel workers end with exactly n_trials recorded trials: SMAC through Dask, Optuna with
threads in one process and with two processes sharing one study."""

from __future__ import annotations

import socket

import optuna
import pytest
from optimize_helpers import config_key, popen, read_csv, wait_for_rows

from metasparse.optimize import load_scenario, optimize


@pytest.mark.parametrize("backend", ["smac", "optuna", "random"])
def test_two_workers_record_exactly_n_trials(scenario_file, backend):
    path = scenario_file(f"par-{backend}", backend={"name": backend}, n_trials=8, n_workers=2)
    summary = optimize(load_scenario(path), progress=False)[0]
    rows = read_csv(summary.directory / "trials.csv")
    assert len(rows) == 8
    assert len({r["trial_id"] for r in rows}) == 8
    assert len({config_key(r) for r in rows}) == 8
    starts = sorted(r["start_time"] for r in rows)
    ends = sorted(r["end_time"] for r in rows)
    assert any(s < e for s, e in zip(starts[1:], ends[:-1], strict=True))  # trials overlapped


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
