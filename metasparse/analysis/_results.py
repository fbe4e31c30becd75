"""A results directory (docs/CONTRACTS.md) read into pandas, through metasparse.results (its
files, cells and validated, torn-line-safe reading) and the Scenario model of metasparse.optimize
(its scenario.yaml, with the defaults that `metasparse optimize` ran with)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from ConfigSpace import ConfigurationSpace
from pydantic import ValidationError

from metasparse.errors import MetasparseError
from metasparse.optimize import Scenario
from metasparse.results import (
    CONFIG_PREFIX,
    INCUMBENT,
    INSTANCE_COLUMNS,
    INSTANCES,
    METRIC_COLUMNS,
    REFERENCE,
    SCENARIO,
    TRAJECTORY,
    TRAJECTORY_COLUMNS,
    TRIALS,
    config_column,
    cost_columns,
    default_reference,
    find_runs,
    parse_cell,
    read_scenario,
    read_table,
    read_trials,
    read_yaml,
)
from metasparse.space import kind_of

__all__ = ["Results", "find_runs", "load_results"]

_NUMERIC = ("budget", *METRIC_COLUMNS)


@dataclass
class Results:
    """One results directory: the scenario as run, its space and its tables.

    `trials` holds one row per trial with typed `config.<name>` columns (None where inactive)
    and a `run` column naming the directory; `instances` is trial_instances.csv. `scenario`
    is scenario.yaml as written, `settings` the same validated by the Scenario model.
    """

    directory: Path
    scenario: dict[str, Any]
    settings: Scenario
    space: ConfigurationSpace
    trials: pd.DataFrame
    instances: pd.DataFrame
    trajectory: pd.DataFrame
    incumbent: dict[str, Any] | None
    reference: dict[str, Any] | None

    def __repr__(self) -> str:
        return (f"Results({str(self.directory)!r}: {len(self.trials)} trials of {self.name!r}, "
                f"space {self.space_name!r}, {self.label})")

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def params(self) -> list[str]:
        """The parameters of the space, in the order of its trials.csv columns."""
        return list(self.space.keys())

    @property
    def objectives(self) -> list[str]:
        return list(self.settings.objectives)

    @property
    def cost_columns(self) -> list[str]:
        return cost_columns(len(self.objectives))

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    @property
    def fixed(self) -> dict[str, Any]:
        return dict(self.settings.fixed)

    @property
    def tuning_instances(self) -> list[str]:
        return list(self.settings.instances)

    @property
    def heldout_instances(self) -> list[str]:
        return list(self.settings.heldout_instances)

    @property
    def seeds(self) -> list[int]:
        return list(self.settings.seeds)

    @property
    def epochs(self) -> int:
        return self.settings.budget.epochs

    @property
    def data_dir(self) -> str | None:
        return self.settings.data_dir

    @property
    def crash_cost(self) -> float:
        return self.settings.crash_cost[0]

    @property
    def backend(self) -> dict[str, Any]:
        return self.settings.as_dict()["backend"]

    @property
    def label(self) -> str:
        """The optimizer, e.g. 'smac-hpo', 'optuna-tpe', 'random'."""
        backend = self.backend
        variant = backend.get("facade") or backend.get("sampler")
        return f"{backend.get('name', 'smac')}-{variant}" if variant else \
            str(backend.get("name", "smac"))

    @property
    def backend_seed(self) -> int:
        return int(self.backend.get("seed", 0))

    @property
    def space_name(self) -> str:
        return Path(self.settings.space[0]).stem

    @property
    def reference_preset(self) -> str:
        """The preset the run compares with: the one it evaluated, else the scenario's choice."""
        if self.reference and self.reference.get("preset"):
            return str(self.reference["preset"])
        return default_reference(self.settings.space[0], self.settings.reference)

    def configs(self, trials: pd.DataFrame | None = None) -> list[dict[str, Any]]:
        """The active configuration of every row of `trials` (default: all trials)."""
        return configs_of(self.trials if trials is None else trials, self.params)


def configs_of(trials: pd.DataFrame, params: Sequence[str]) -> list[dict[str, Any]]:
    """The active configuration of every row (inactive parameters left out)."""
    columns = [f"{CONFIG_PREFIX}{p}" for p in params]
    present = [c for c in columns if c in trials.columns]
    return [{c[len(CONFIG_PREFIX):]: v for c, v in zip(present, row, strict=True)
             if v is not None and not (isinstance(v, float) and v != v)}
            for row in trials[present].itertuples(index=False, name=None)]


def load_results(path: str | Path) -> Results:
    """Read a results directory written by `metasparse optimize`."""
    directory = Path(path)
    if not (directory / TRIALS).is_file():
        find_runs(directory)  # raises with the reason
        raise MetasparseError(
            f"{str(directory)!r} holds the runs of several spaces; analyze one of them: "
            + ", ".join(str(p) for p in find_runs(directory)))
    return results_from_tables(directory, read_trials(directory / TRIALS),
                               read_table(directory / INSTANCES, INSTANCE_COLUMNS),
                               read_table(directory / TRAJECTORY, TRAJECTORY_COLUMNS))


def results_from_tables(path: str | Path, trials: pd.DataFrame, instances: pd.DataFrame,
                        trajectory: pd.DataFrame) -> Results:
    """The run of the results directory `path` from its tables already read as text (as
    `read_trials` / `read_table` give them): what `load_results` does once it has read them,
    for a reader that keeps tables of its own (the dashboard reads only what was appended)."""
    directory = Path(path)
    scenario = read_scenario(directory)
    settings = _settings(directory, scenario)
    space = _space_of(directory, scenario, _recorded_parameters(trials))
    instances, trajectory = instances.copy(), trajectory.copy()
    for column in ("cost", *_NUMERIC):
        if column in instances.columns:
            instances[column] = pd.to_numeric(instances[column], errors="coerce")
    for column in ("elapsed_s", "cost"):
        if column in trajectory.columns:
            trajectory[column] = pd.to_numeric(trajectory[column], errors="coerce")
    if "trial_id" in trajectory.columns:
        trajectory["trial_id"] = trajectory["trial_id"].astype(int)
    return Results(
        directory=directory, scenario=scenario, settings=settings, space=space,
        trials=_typed_trials(directory, trials, space), instances=instances,
        trajectory=trajectory, incumbent=read_yaml(directory / INCUMBENT) or None,
        reference=read_yaml(directory / REFERENCE) or None,
    )


def _settings(directory: Path, scenario: dict[str, Any]) -> Scenario:
    """scenario.yaml validated by the model that wrote it (its defaults, not guesses)."""
    try:
        return Scenario.model_validate(scenario)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in error["loc"]) or "scenario"
        raise MetasparseError(f"{str(directory / SCENARIO)!r} is not a scenario that "
                              f"`metasparse optimize` wrote: {where}: {error['msg']}") from None


def _recorded_parameters(raw: pd.DataFrame) -> set[str]:
    return {c[len(CONFIG_PREFIX):] for c in raw.columns if c.startswith(CONFIG_PREFIX)}


def _space_of(directory: Path, scenario: dict[str, Any],
              recorded: set[str]) -> ConfigurationSpace:
    """The run's space: its scenario's, with every parameter that the space gained after the
    run fixed at its default (the only behaviour the trainer had then, so every trial had it)."""
    from metasparse.space import load_space, resolve_config

    spec = scenario.get("space", "meta")
    if isinstance(spec, list):
        raise MetasparseError(f"{str(directory)!r}: scenario.yaml lists several spaces; "
                              "analyze the directory of each space's run")
    fixed = dict(scenario.get("fixed") or {})
    defaults = resolve_config({})
    try:
        space = load_space(spec, fixed=fixed or None)
        while new := {name: defaults[name] for name in space
                      if name not in recorded and name not in fixed and name in defaults
                      and all(p.name in recorded for p in space.parents_of[name])}:
            fixed.update(new)
            space = load_space(spec, fixed=fixed)
    except MetasparseError as exc:
        raise MetasparseError(f"{str(directory)!r}: cannot rebuild the space of the run: "
                              f"{exc}") from None
    return space


def _typed_trials(directory: Path, raw: pd.DataFrame, space: ConfigurationSpace) -> pd.DataFrame:
    """trials.csv (`raw`, as strings) with typed columns."""
    from metasparse.space import coerce_value, parameter_names

    names = [c[len(CONFIG_PREFIX):] for c in raw.columns if c.startswith(CONFIG_PREFIX)]
    for name in [n for n in space if n not in names and kind_of(space[n]) == "constant"]:
        # A constant that the space gained after the run (execution, say): every trial of
        # the run had its value, the only one the trainer knew then.
        raw[config_column(name)] = str(space[name].value)
        names.append(name)
    if set(names) != set(space.keys()):
        missing = sorted(set(space.keys()) - set(names)) or sorted(set(names) - set(space.keys()))
        raise MetasparseError(
            f"{str(directory / TRIALS)!r} does not match the space of its scenario.yaml "
            f"(parameter {missing[0]!r} differs); was the space file changed after the run?")
    meta = set(parameter_names())
    trials = pd.DataFrame(index=raw.index)
    for column in raw.columns:
        values = raw[column]
        if column.startswith(CONFIG_PREFIX):
            name = column[len(CONFIG_PREFIX):]
            hp = space[name]
            parsed = [parse_cell(hp, text) for text in values]
            if name in meta:
                parsed = [None if v is None else coerce_value(name, v) for v in parsed]
            trials[column] = pd.Series(parsed, index=raw.index, dtype=object)
        elif column == "trial_id":
            trials[column] = values.astype(int)
        elif column.startswith("cost") or column in _NUMERIC:
            trials[column] = pd.to_numeric(values, errors="coerce")
        elif column in ("start_time", "end_time"):
            trials[column] = pd.to_datetime(values, utc=True, format="ISO8601")
        else:
            trials[column] = values
    trials.insert(0, "run", str(directory))
    return trials
