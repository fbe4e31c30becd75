"""Parallel workers end with exactly n_trials recorded trials: SMAC through Dask, Optuna and
random search with threads in one process; a second process on the same results directory is
refused while the first one runs."""

from __future__ import annotations

import os
import signal
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


@pytest.mark.parametrize("backend", ["optuna", "smac", "random"])
def test_a_second_process_on_the_same_directory_is_refused_and_the_first_ends_intact(
        tmp_path, scenario_file, backend):
    # Once: Optuna's second process joined the study, SMAC's two processes evaluated the same
    # configurations (16 rows for 15 trials), random search's second died with a traceback.
    # The first process is stopped (SIGSTOP) while the second starts, so that it is certainly
    # still running then, however slow the machine; a stopped process keeps its lock.
    path = scenario_file("held", backend={"name": backend}, n_trials=6,
                         instances=["digits", "wine"], budget={"epochs": 5},
                         fixed={"model": "mlp", "hidden_sizes": "256,256",
                                "dense_first_layer": False, "dense_last_layer": False})
    trials = tmp_path / "results" / "held" / "trials.csv"
    first = popen("optimize", str(path), "--no-progress", cwd=tmp_path)
    wait_for_rows(trials, 2, first)
    os.kill(first.pid, signal.SIGSTOP)
    try:
        second = popen("optimize", str(path), "--no-progress", cwd=tmp_path)
        _, stderr = second.communicate(timeout=120)
    finally:
        os.kill(first.pid, signal.SIGCONT)
    assert second.returncode == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert f"is in use by pid {first.pid} on {socket.gethostname()}" in lines[0]
    _, stderr = first.communicate(timeout=240)
    assert first.returncode == 0, stderr
    rows = read_csv(trials)
    assert len(rows) == 6
    assert len({r["trial_id"] for r in rows}) == 6
    assert len({config_key(r) for r in rows}) == 6
    if backend == "optuna":
        storage = optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(trials.parent / "optuna.journal")))
        study = optuna.load_study(study_name="held", storage=storage)
        workers = {t.user_attrs["worker"] for t in study.trials if "status" in t.user_attrs}
        assert workers == {f"{socket.gethostname()}:{first.pid}"}
