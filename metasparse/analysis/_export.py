"""A run as an Optuna study in a journal file, for optuna-dashboard and Optuna's own analyses:
one Optuna trial per row of trials.csv, its active parameters with the distributions of the
run's space, its costs as values, its metrics and metasparse ids as user attributes."""

from __future__ import annotations

import math
import os
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

from metasparse.analysis._results import Results
from metasparse.errors import MetasparseError, OutputError
from metasparse.optimize import optuna_distribution
from metasparse.results import METRIC_COLUMNS, plain

__all__ = ["export_optuna"]

# metasparse's statuses as Optuna states (a diverged trial is a real outcome: its cost counts).
STATES = {"success": TrialState.COMPLETE, "diverged": TrialState.COMPLETE,
          "pruned": TrialState.PRUNED, "crashed": TrialState.FAIL, "timeout": TrialState.FAIL}
_ATTRIBUTES = ("trial_id", "budget", "seed", "instance", "status", "error", *METRIC_COLUMNS)


def export_optuna(results: Results, path: str | Path, study_name: str | None = None) -> Path:
    """Write the run's trials as a new Optuna study (`study_name`, default the run's name) in
    the journal file `path`, which must not exist yet. The journal is written beside it and
    renamed when complete: an export that fails leaves no file."""
    path = Path(path)
    if path.exists():
        raise MetasparseError(f"{str(path)!r} exists; remove it or give another --output")
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_study(results, temporary, study_name or results.name)
        os.replace(temporary, path)
    except OSError as exc:
        raise OutputError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
    finally:
        temporary.unlink(missing_ok=True)
    return path


def _write_study(results: Results, path: Path, study_name: str) -> None:
    storage = JournalStorage(JournalFileBackend(str(path)))
    study = optuna.create_study(storage=storage, study_name=study_name,
                                directions=["minimize"] * len(results.objectives))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(list(results.objectives))
    distributions = {name: optuna_distribution(results.space[name]) for name in results.params}
    costs = results.cost_columns
    for row, config in zip(results.trials.to_dict("records"), results.configs(), strict=True):
        state = STATES.get(row["status"], TrialState.FAIL)
        values = [float(row[c]) for c in costs] if state == TrialState.COMPLETE else None
        if values is not None and not all(math.isfinite(v) for v in values):
            state, values = TrialState.FAIL, None
        study.add_trial(FrozenTrial(
            number=0, trial_id=0, state=state, value=None, values=values,
            datetime_start=_local(row["start_time"]), datetime_complete=_local(row["end_time"]),
            params={k: plain(v) for k, v in config.items()},
            distributions={k: distributions[k] for k in config},
            user_attrs={k: _attribute(row.get(k)) for k in _ATTRIBUTES if k in row},
            system_attrs={}, intermediate_values={}))


def _local(time: Any) -> datetime:
    """A time as Optuna keeps it: naive, in local time."""
    return time.to_pydatetime().astimezone().replace(tzinfo=None)


def _attribute(value: Any) -> Any:
    value = plain(value)
    return None if isinstance(value, float) and math.isnan(value) else value
