"""`metasparse export RESULTS --to optuna`: the run as an Optuna study in a journal file, read
back by Optuna itself."""

from __future__ import annotations

import errno
import math

import optuna
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from metasparse.analysis import load_results
from metasparse.cli import main


def load_study(path, name) -> optuna.Study:
    return optuna.load_study(study_name=name,
                             storage=JournalStorage(JournalFileBackend(str(path))))


@pytest.mark.parametrize("fixture", ["tiny_run", "tiny_mo_run"])
def test_the_exported_study_holds_every_trial(fixture, request, tmp_path, capsys):
    directory = request.getfixturevalue(fixture)
    output = tmp_path / "study.journal"
    assert main(["export", str(directory), "--to", "optuna", "--output", str(output)]) == 0
    assert "optuna-dashboard" in capsys.readouterr().out
    results = load_results(directory)
    study = load_study(output, results.name)
    assert study.metric_names == results.objectives
    assert len(study.trials) == len(results.trials)
    for trial, row, config in zip(study.trials, results.trials.to_dict("records"),
                                  results.configs(), strict=True):
        assert trial.user_attrs["trial_id"] == row["trial_id"]
        assert trial.params == config  # the active parameters, with their values
        if row["status"] in ("success", "diverged"):
            assert trial.values == pytest.approx([row[c] for c in results.cost_columns])
        else:
            assert trial.values is None
        assert trial.user_attrs["val_accuracy"] == pytest.approx(row["val_accuracy"]) \
            or math.isnan(row["val_accuracy"])
        # Optuna keeps naive local times
        assert trial.datetime_start.astimezone() == row["start_time"].to_pydatetime()
    if not results.multi_objective:
        assert study.best_value == pytest.approx(results.incumbent["cost"])
        assert study.best_trial.user_attrs["trial_id"] == results.incumbent["trial_id"]
        importance = optuna.importance.get_param_importances(study)  # Optuna can analyse it
        assert set(importance) <= set(results.params)


def test_export_refuses_to_overwrite_and_bad_formats(tiny_run, tmp_path, capsys):
    output = tmp_path / "study.journal"
    output.write_text("")
    assert main(["export", str(tiny_run), "--to", "optuna", "--output", str(output)]) == 2
    assert "exists; remove it or give another --output" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["export", str(tiny_run), "--to", "deepcave"])
    assert "invalid choice: 'deepcave'" in capsys.readouterr().err


def test_an_export_that_fails_midway_is_one_line_and_leaves_no_file(tiny_run, tmp_path,
                                                                   monkeypatch, capsys):
    # once: a traceback, and the journal of the trials written until then
    output = tmp_path / "study.journal"
    append_logs, calls = JournalFileBackend.append_logs, []

    def full_at_the_fifth_write(self, logs):
        calls.append(logs)
        if len(calls) == 5:  # the study and its first trials are written
            raise OSError(errno.ENOSPC, "No space left on device")
        return append_logs(self, logs)

    monkeypatch.setattr(JournalFileBackend, "append_logs", full_at_the_fifth_write)
    assert main(["export", str(tiny_run), "--to", "optuna", "--output", str(output)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"metasparse export: error: cannot write '{output}': No space left on device"]
    assert list(tmp_path.iterdir()) == []


def test_optuna_dashboard_opens_the_export(tiny_run, tmp_path):
    import json

    import optuna_dashboard
    from werkzeug.test import Client

    output = tmp_path / "study.journal"
    assert main(["export", str(tiny_run), "--to", "optuna", "--output", str(output)]) == 0
    results = load_results(tiny_run)
    client = Client(optuna_dashboard.wsgi(JournalStorage(JournalFileBackend(str(output)))))
    studies = json.loads(client.get("/api/studies").get_data(as_text=True))["study_summaries"]
    assert [s["study_name"] for s in studies] == [results.name]
    study = json.loads(client.get(f"/api/studies/{studies[0]['study_id']}")
                       .get_data(as_text=True))
    assert len(study["trials"]) == len(results.trials)
    assert study["objective_names"] == results.objectives
    best = study["best_trials"][0]
    assert float(best["values"][0]) == pytest.approx(results.incumbent["cost"])
