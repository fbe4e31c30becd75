"""The results directory (docs/CONTRACTS.md): the one record of a run, and how it resumes.

`trials.csv` is the commit log: a trial is finished when its row is there (appended, flushed and
fsynced as the trial ends). Everything else is derived from it or is the backends' own state:
`trial_instances.csv` (written just before the trial's row; rows of a trial that never reached
trials.csv are dropped when the directory is opened again), `incumbent.yaml` and `trajectory.csv`
(rewritten after every trial), `reference.yaml` (the reference preset, evaluated once). One run
holds the directory (`run.lock`, _lock.py); within it, a file lock serialises the writers.
"""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from metasparse.errors import ScenarioError
from metasparse.optimize._runner import TrialOutcome
from metasparse.results import (
    INCUMBENT,
    INSTANCE_COLUMNS,
    INSTANCES,
    METRIC_COLUMNS,
    OBJECTIVES,
    REFERENCE,
    SCENARIO,
    TRAINED,
    TRAINED_COLUMNS,
    TRAJECTORY,
    TRAJECTORY_COLUMNS,
    TRIALS,
    JobTable,
    config_column,
    cost_columns,
    csv_text,
    format_value,
    incumbent_history,
    iso_time,
    number,
    parse_value,
    read_rows,
    read_yaml,
    trial_columns,
    write_atomic,
)

__all__ = ["CrashCosts", "ResultsStore"]


@dataclass(frozen=True)
class CrashCosts:
    """The costs of a failed trial, one per objective. A None entry (training FLOPs, whose
    scale depends on the datasets) is the worst value of that objective among the successful
    trials recorded so far, or 1e12 before the first success."""

    fixed: tuple[float | None, ...]
    directory: str

    def __call__(self) -> list[float]:
        if all(c is not None for c in self.fixed):
            return [float(c) for c in self.fixed if c is not None]
        rows = read_rows(Path(self.directory) / TRIALS)
        columns = cost_columns(len(self.fixed))
        costs = []
        for column, fixed in zip(columns, self.fixed, strict=True):
            if fixed is not None:
                costs.append(float(fixed))
                continue
            seen = [float(r[column]) for r in rows if r["status"] == "success" and r[column]]
            costs.append(max(seen) if seen else 1e12)
        return costs


class ResultsStore:
    """Reads and appends one results directory."""

    def __init__(self, directory: str | Path, params: Sequence[str],
                 objectives: Sequence[str], instances: Sequence[str],
                 constants: Mapping[str, Any] | None = None) -> None:
        """`constants` are the parameters that the space holds at one value: a run recorded
        before one of them existed resumes without its column (see _repair)."""
        self.directory = Path(directory)
        self.params = list(params)
        self.constants = dict(constants or {})
        self.absent: dict[str, Any] = {}  # the constants that the table has no column for
        self.objectives = list(objectives)
        self.instances = list(instances)
        self.columns = trial_columns(len(self.objectives), self.params)
        self.trials = JobTable(self.directory / TRIALS, key="trial_id", columns=self.columns)
        self.trial_instances = JobTable(self.directory / INSTANCES, key="trial_id",
                                        columns=[*INSTANCE_COLUMNS, *TRAINED_COLUMNS])
        if self.trial_instances.header() == list(INSTANCE_COLUMNS):
            self.trial_instances.columns = list(INSTANCE_COLUMNS)  # a run from before TRAINED
        self._thread_lock = threading.Lock()

    # ---------------------------------------------------------------- opening
    def open(self, scenario: Mapping[str, Any], may_change: Sequence[str] = ()) -> None:
        """Create the directory or check that it holds this scenario (up to the keys that
        `may_change`); repair a killed run's half-written lines; write scenario.yaml as run."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with self.lock():
            previous = self.directory / SCENARIO
            if previous.is_file() and self.trials.path.is_file():
                _check_same(self.directory, read_yaml(previous), scenario, may_change,
                            self.trials.header())
            self._repair()
            write_atomic(previous, yaml.safe_dump(dict(scenario), sort_keys=False))

    def _repair(self) -> None:
        self.trials.repair()
        header = self.trials.header()
        if header and header != self.columns and not self._predates_constants(header):
            raise ScenarioError(
                f"{self.trials.path} has other columns than this scenario writes (was it made "
                "with another space or objectives?); pick another --output")
        ids = self.trials.keys()
        self.trial_instances.repair()
        rows = self.trial_instances.rows()
        kept = [row for row in rows if row["trial_id"] in ids]
        if len(kept) != len(rows):
            write_atomic(self.trial_instances.path, csv_text(self.trial_instances.columns, kept))

    def _predates_constants(self, header: list[str]) -> bool:
        """Whether `header` is this store's, in any order, but for parameters added to the
        meta-space since, which the space holds at their defaults (what the run trained with, as
        they did not exist); if so, the store goes on writing that header."""
        from metasparse.space import default_config

        defaults = default_config()
        absent = [p for p in self.params if config_column(p) not in header]
        kept = [p for p in self.params if p not in absent]
        if sorted(header) != sorted(trial_columns(len(self.objectives), kept)) or not all(
                p in self.constants and self.constants[p] == defaults[p] for p in absent):
            return False
        self.absent = {p: self.constants[p] for p in absent}
        self.params, self.columns = kept, header
        self.trials.columns = header
        return True

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive access to the directory, across threads and processes."""
        with self._thread_lock, (self.directory / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # ---------------------------------------------------------------- reading
    def rows(self) -> list[dict[str, str]]:
        """The rows of trials.csv as strings (a torn last line is no trial)."""
        return self.trials.rows()

    def instance_rows(self) -> list[dict[str, str]]:
        return self.trial_instances.rows()

    def count(self) -> int:
        """How many trials are finished (rows in trials.csv)."""
        return len(self.rows())

    def finished_ids(self) -> set[int]:
        return {int(row["trial_id"]) for row in self.rows()}

    def config_of(self, row: Mapping[str, str]) -> dict[str, Any]:
        """The configuration of a trials.csv row (active parameters only)."""
        values = {p: parse_value(row[config_column(p)]) for p in self.params
                  if row.get(config_column(p), "") != ""}
        if not self.absent:
            return values
        from metasparse.space import active_config, resolve_config

        active = active_config(resolve_config({**self.absent, **values}))
        return {**{p: v for p, v in self.absent.items() if p in active}, **values}

    def costs_of(self, row: Mapping[str, str]) -> list[float]:
        return [float(row[c]) for c in cost_columns(len(self.objectives))]

    def incumbent(self) -> dict[str, Any] | None:
        return read_yaml(self.directory / INCUMBENT) or None

    def reference(self) -> dict[str, Any] | None:
        return read_yaml(self.directory / REFERENCE) or None

    # ---------------------------------------------------------------- writing
    def record(self, outcome: TrialOutcome, trial_id: int | None = None) -> int:
        """Append a finished trial (its instance rows, then its row) and update the incumbent
        and the trajectory. Returns the trial id (the next free one unless given)."""
        with self.lock():
            rows = self.rows()
            if trial_id is None:
                trial_id = max((int(r["trial_id"]) for r in rows), default=-1) + 1
            elif any(int(r["trial_id"]) == trial_id for r in rows):
                raise RuntimeError(f"trial {trial_id} is already recorded in {self.directory}")
            self.trial_instances.append(
                [self._instance_row(trial_id, outcome, i) for i in range(len(outcome.pairs))])
            row = self._trial_row(trial_id, outcome)
            self.trials.append([row])
            rows.append(row)
            self._write_derived(rows)
        return trial_id

    def write_reference(self, preset: str, outcome: TrialOutcome) -> dict[str, Any]:
        """reference.yaml: the reference preset evaluated like a trial (not a row of trials.csv,
        so that every row of trials.csv is a tuning trial)."""
        data = {
            "preset": preset, "status": outcome.status, "cost": outcome.costs[0],
            "costs": list(outcome.costs), "budget": outcome.budget,
            "instances": sorted({p.instance for p in outcome.pairs}),
            "metrics": dict(outcome.metrics), "error": outcome.error,
            "per_instance": [
                {"instance": p.instance, "seed": p.seed, "status": p.status,
                 "cost": p.metrics.get(OBJECTIVES[self.objectives[0]].metric),
                 **{k: p.metrics.get(k) for k in METRIC_COLUMNS}, "error": p.error}
                for p in outcome.pairs
            ],
            "config": dict(outcome.config),
            "start_time": iso_time(outcome.start_time), "end_time": iso_time(outcome.end_time),
        }
        with self.lock():
            write_atomic(self.directory / REFERENCE, yaml.safe_dump(data, sort_keys=False))
        return data

    def _trial_row(self, trial_id: int, outcome: TrialOutcome) -> dict[str, str]:
        row = {
            "trial_id": str(trial_id), "status": outcome.status, "budget": str(outcome.budget),
            "seed": str(outcome.seed), "instance": outcome.instance,
            "start_time": iso_time(outcome.start_time), "end_time": iso_time(outcome.end_time),
            "error": outcome.error,
        }
        row.update(zip(cost_columns(len(self.objectives)), map(repr, map(float, outcome.costs)),
                       strict=True))
        row.update({key: number(outcome.metrics.get(key)) for key in METRIC_COLUMNS})
        row.update({config_column(p): format_value(outcome.config[p]) if p in outcome.config else ""
                    for p in self.params})
        return row

    def _instance_row(self, trial_id: int, outcome: TrialOutcome, index: int) -> dict[str, str]:
        pair = outcome.pairs[index]
        metric = OBJECTIVES[self.objectives[0]].metric
        cost = pair.metrics[metric] if pair.status == "success" else outcome.costs[0]
        row = {
            "trial_id": str(trial_id), "instance": pair.instance, "seed": str(pair.seed),
            "budget": str(outcome.budget), "status": pair.status, "cost": repr(float(cost)),
            **{key: number(pair.metrics.get(key)) for key in METRIC_COLUMNS},
            "start_time": iso_time(pair.start_time), "end_time": iso_time(pair.end_time),
            "error": pair.error,
            **{column: format_value(pair.trained[p]) if p in pair.trained else ""
               for p, column in zip(TRAINED, TRAINED_COLUMNS, strict=True)},
        }
        return {key: row[key] for key in self.trial_instances.columns}

    def _write_derived(self, rows: list[dict[str, str]]) -> None:
        trajectory, best = incumbent_history(rows, len(self.objectives))
        write_atomic(self.directory / TRAJECTORY, csv_text(TRAJECTORY_COLUMNS, trajectory))
        if best is None:
            return
        from metasparse.space import resolve_config

        first = next(r for r in rows if r["trial_id"] == best["trial_ids"][0])
        config = resolve_config(self.config_of(first))
        data = {
            "trial_id": int(first["trial_id"]),
            "cost": best["costs"][0],
            "costs": best["costs"],
            "config": config,
            "active_config": {p: config[p] for p in self.config_of(first)},
            "budget": best["budget"],
            "instances": self.instances,
            "trial_ids": [int(t) for t in best["trial_ids"]],
        }
        if len(self.objectives) > 1:
            data["pareto_front"] = best["pareto_front"]
        write_atomic(self.directory / INCUMBENT, yaml.safe_dump(data, sort_keys=False))


def _check_same(directory: Path, previous: Mapping[str, Any], scenario: Mapping[str, Any],
                may_change: Sequence[str], header: Sequence[str]) -> None:
    previous = _with_new_constants(_with_recorded_axes(previous), scenario, header)
    difference = _first_difference(
        {k: v for k, v in previous.items() if k not in may_change},
        {k: v for k, v in scenario.items() if k not in may_change})
    if difference is not None:
        key, old, new = difference
        raise ScenarioError(
            f"{directory} holds results of a different scenario ({key}: {old!r} there, {new!r} "
            "now); rerun with the same scenario to resume, or pick another --output")


def _with_recorded_axes(previous: Mapping[str, Any]) -> Mapping[str, Any]:
    """`previous` with the `axes` it searched: a target's run from before `axes` existed
    searched every group (the built-in trainer's records none for every group)."""
    if "axes" in previous or previous.get("target") is None:
        return previous
    from metasparse.space import load_definition

    return {**previous, "axes": list(load_definition("meta")["axes"])}


def _with_new_constants(previous: Mapping[str, Any], scenario: Mapping[str, Any],
                        header: Sequence[str]) -> Mapping[str, Any]:
    """`previous` with the fixed values that a parameter added to the space since then takes by
    default (a run from before it existed trained with that default): a parameter that its
    trials.csv (`header`) has no column for."""
    from metasparse.space import resolve_config

    old, new = previous.get("fixed"), scenario.get("fixed")
    if not isinstance(old, Mapping) or not isinstance(new, Mapping):
        return previous
    defaults = resolve_config({})
    added = {k: v for k, v in new.items() if k not in old and k in defaults
             and v == defaults[k] and config_column(k) not in header}
    return {**previous, "fixed": {**old, **added}} if added else previous


def _first_difference(old: Mapping[str, Any], new: Mapping[str, Any],
                      prefix: str = "") -> tuple[str, Any, Any] | None:
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            found = _first_difference(a, b, f"{prefix}{key}.")
            if found is not None:
                return found
        elif a != b:
            return f"{prefix}{key}", a, b
    return None
