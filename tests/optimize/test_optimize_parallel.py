"""A second process on a results directory that a run holds is refused while the first one runs,
and the first ends intact. That every backend's parallel workers record exactly n_trials (SMAC
through Dask, the others with threads) is test_optimize_backend_contract.py."""

from __future__ import annotations

import os
import signal
import socket

import optuna
import pytest
import waiting
from optimize_helpers import config_key, popen, read_csv, wait_for_rows


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
        _, stderr = waiting.communicate(second, 120, "the second run")
    finally:
        os.kill(first.pid, signal.SIGCONT)
    assert second.returncode == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert f"is in use by pid {first.pid} on {socket.gethostname()}" in lines[0]
    _, stderr = waiting.communicate(first, 240, "the first run")
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


@pytest.mark.parametrize(("budget", "workers", "threads"), [
    (None, 1, os.cpu_count() or 1), ("1", 1, 1), ("4", 2, 2), ("3", 4, 1), ("x", 1, None)])
def test_threads_per_trial_share_the_process_budget(monkeypatch, budget, workers, threads):
    from metasparse.optimize._runner import default_threads

    if budget is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", budget)
    expected = threads if threads is not None else os.cpu_count() or 1  # not a number: cores
    assert default_threads(workers) == expected
