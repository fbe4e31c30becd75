"""A results directory (docs/CONTRACTS.md) read into pandas."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from ConfigSpace import ConfigurationSpace

from metasparse.analysis._configspace import parse_cell
from metasparse.errors import MetasparseError
from metasparse.optimize._table import INSTANCES, METRIC_COLUMNS, TRIALS, cost_columns

__all__ = ["Results", "find_runs", "load_results"]

CONFIG_PREFIX = "config."
_NUMERIC = ("budget", *METRIC_COLUMNS)
# The metric of the results tables behind each objective name of a scenario.
OBJECTIVE_METRICS = {"val_error": "val_error", "density": "density",
                     "inference_density": "density", "train_flops": "train_flops",
                     "train_time": "wall_time_s"}


@dataclass
class Results:
    """One results directory: the scenario as run, its space and its tables.

    `trials` holds one row per trial with typed `config.<name>` columns (None where inactive)
    and a `run` column naming the directory; `instances` is trial_instances.csv.
    """

    directory: Path
    scenario: dict[str, Any]
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
        return str(self.scenario.get("name", self.directory.name))

    @property
    def params(self) -> list[str]:
        """The parameters of the space, in the order of its trials.csv columns."""
        return list(self.space.keys())

    @property
    def objectives(self) -> list[str]:
        objectives = self.scenario.get("objectives") or ["val_error"]
        return [objectives] if isinstance(objectives, str) else list(objectives)

    @property
    def cost_columns(self) -> list[str]:
        return cost_columns(len(self.objectives))

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    @property
    def fixed(self) -> dict[str, Any]:
        return dict(self.scenario.get("fixed") or {})

    @property
    def tuning_instances(self) -> list[str]:
        return list(self.scenario.get("instances") or [])

    @property
    def heldout_instances(self) -> list[str]:
        return list(self.scenario.get("heldout_instances") or [])

    @property
    def seeds(self) -> list[int]:
        seeds = self.scenario.get("seeds", [0])
        return [seeds] if isinstance(seeds, int) else list(seeds)

    @property
    def epochs(self) -> int:
        return int((self.scenario.get("budget") or {}).get("epochs", 10))

    @property
    def data_dir(self) -> str | None:
        return self.scenario.get("data_dir")

    @property
    def crash_cost(self) -> float:
        cost = self.scenario.get("crash_cost", 1.0)
        return float(cost[0] if isinstance(cost, list) else cost)

    @property
    def backend(self) -> dict[str, Any]:
        return dict(self.scenario.get("backend") or {"name": "smac"})

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
        return Path(str(self.scenario.get("space", "meta"))).stem

    @property
    def reference_preset(self) -> str:
        """The preset the run compares with: the one it evaluated, else the scenario's choice."""
        if self.reference and self.reference.get("preset"):
            return str(self.reference["preset"])
        if self.scenario.get("reference"):
            return str(self.scenario["reference"])
        from metasparse.space import preset_names

        return self.space_name if self.space_name in preset_names() else "rigl"

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


def find_runs(path: str | Path) -> list[Path]:
    """The results directories at `path`: itself, or for a scenario with a list of spaces, the
    directory of each space's run inside it."""
    path = Path(path)
    if (path / TRIALS).is_file():
        return [path]
    if path.is_dir():
        runs = sorted(p for p in path.iterdir() if (p / TRIALS).is_file())
        if runs:
            return runs
    if not path.exists():
        raise MetasparseError(f"results directory {str(path)!r} does not exist")
    raise MetasparseError(f"{str(path)!r} is not a results directory (no {TRIALS}); "
                          "give the output directory of `metasparse optimize`")


def load_results(path: str | Path) -> Results:
    """Read a results directory written by `metasparse optimize`."""
    directory = Path(path)
    if not (directory / TRIALS).is_file():
        find_runs(directory)  # raises with the reason
        raise MetasparseError(
            f"{str(directory)!r} holds the runs of several spaces; analyze one of them: "
            + ", ".join(str(p) for p in find_runs(directory)))
    scenario = _read_yaml(directory / "scenario.yaml", required=True)
    space = _space_of(directory, scenario)
    trials = _read_trials(directory, space)
    instances = _read_csv(directory / INSTANCES)
    for column in ("cost", *_NUMERIC):
        if column in instances.columns:
            instances[column] = pd.to_numeric(instances[column], errors="coerce")
    trajectory = _read_csv(directory / "trajectory.csv")
    for column in ("elapsed_s", "cost"):
        if column in trajectory.columns:
            trajectory[column] = pd.to_numeric(trajectory[column], errors="coerce")
    if "trial_id" in trajectory.columns:
        trajectory["trial_id"] = trajectory["trial_id"].astype(int)
    return Results(
        directory=directory, scenario=scenario, space=space, trials=trials,
        instances=instances, trajectory=trajectory,
        incumbent=_read_yaml(directory / "incumbent.yaml") or None,
        reference=_read_yaml(directory / "reference.yaml") or None,
    )


def _read_yaml(path: Path, required: bool = False) -> dict[str, Any]:
    if not path.is_file():
        if required:
            raise MetasparseError(f"{str(path)!r} is missing: is {str(path.parent)!r} a "
                                  "results directory of `metasparse optimize`?")
        return {}
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise MetasparseError(f"{str(path)!r} is not valid YAML: "
                              f"{' '.join(str(exc).split())}") from None
    return data if isinstance(data, dict) else {}


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.is_file() or path.stat().st_size == 0:
        return pd.DataFrame()
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _space_of(directory: Path, scenario: dict[str, Any]) -> ConfigurationSpace:
    from metasparse.space import load_space

    spec = scenario.get("space", "meta")
    if isinstance(spec, list):
        raise MetasparseError(f"{str(directory)!r}: scenario.yaml lists several spaces; "
                              "analyze the directory of each space's run")
    try:
        return load_space(spec, fixed=scenario.get("fixed") or None)
    except MetasparseError as exc:
        raise MetasparseError(f"{str(directory)!r}: cannot rebuild the space of the run: "
                              f"{exc}") from None


def _read_trials(directory: Path, space: ConfigurationSpace) -> pd.DataFrame:
    from metasparse.space import coerce_value, parameter_names

    raw = _read_csv(directory / TRIALS)
    names = [c[len(CONFIG_PREFIX):] for c in raw.columns if c.startswith(CONFIG_PREFIX)]
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
