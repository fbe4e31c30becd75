"""The scenario: what `metasparse optimize` tunes, on which datasets, with which backend.

A scenario is a YAML file validated by the pydantic model `Scenario`. Every problem, from a
misspelt key to an unknown dataset, is one `ScenarioError` line that names the key, the bad value
and what is allowed, raised before anything trains. Keys (defaults in brackets):

    name: quickstart              # [the file name] results go to results/<name>
    space: rigl                   # [meta] shipped space or a .yaml path (beside the scenario
                                  #   file, else the working directory); a list of spaces is as
                                  #   many runs of the same budget, results/<name>/<space>/
    fixed: {hidden_sizes: "128"}  # [{}] parameters made constant (checked by resolve_config)
    instances: [digits, wine]     # tuning datasets (names or dataset files)
    heldout_instances: [iris]     # [[]] for validation only, never seen while tuning
    objectives: [val_error]       # [val_error] or fs_error (see feature_selection); a second
                                  #   one: train_flops, density, inference_density (the final
                                  #   density of the network) or train_time (the trainer's
                                  #   measured wall time, seconds)
    feature_selection:            # [none] required by objectives [fs_error], read by no other:
      k: 100                      #   the cost is 1 - the validation accuracy of `classifier`
      classifier: svm             #   [svm] trained on the top k features of the network's
      importance: neuron_strength #   [neuron_strength] ranking (metasparse.features; test
                                  #   scores never reach a search)
    seeds: [0]                    # [[0]] a trial's cost is the mean over instances and seeds
    budget: {epochs: 10, min_epochs: 2}   # [10, epochs // 9] min_epochs: lowest fidelity
    backend:
      name: smac                  # [smac] a registered backend: smac | optuna | random | ray
                                  #   (metasparse.optimize.BACKENDS; each backend's own
                                  #   settings are a model beside its adapter, _<name>_settings)
      seed: 0                     # [0]
      facade: hpo                 # smac only [hpo]: hpo | mf | ac | bb
      sampler: tpe                # optuna only [tpe]: tpe | gp | nsga2
      pruner: hyperband           # optuna only [hyperband; none with two objectives or fs_error]
      address: auto               # ray only [$RAY_ADDRESS, else a local instance on 127.0.0.1]:
                                  #   auto | host:port | ray://host:port
      cpus_per_trial: 1           # ray only [1]; gpus_per_trial [0]
      max_concurrent: 2           # ray only [n_workers] trials at a time
      search: optuna              # ray only [optuna]: optuna | random
      scheduler: asha             # ray only [asha; none with two objectives or fs_error]
      max_failures: 2             # ray only [2] retries of a trial whose worker died
    n_trials: 30                  # finished trials to reach (n_trials and/or walltime)
    walltime: 600                 # [none] seconds in which one command may start trials
    n_workers: 1                  # [1] trials at a time
    trial_timeout: 120            # [none] seconds; a longer trial is killed (status timeout)
    crash_cost: 1.0               # [1.0] cost of a failed trial, or one per objective
    output: results/quickstart    # [results/<name>]
    reference: rigl               # [the space's own preset, else rigl] compared in the summary
    data_dir: ../shared/data      # [$METASPARSE_DATA_DIR, else ~/.cache/metasparse/data]
    warm_start: presets           # [none] evaluate first the published presets (with `fixed`,
                                  #   those that are points of the space), or a list of preset
                                  #   names, or a results directory: its best configurations
                                  #   (warm_start.yaml says which were taken and why others
                                  #   were dropped)
    target: my_target.py:train    # [none: the built-in trainer] a user's function that trains
                                  #   a configuration and returns its metrics (_target.py);
                                  #   its instances are labels for it, not datasets
    axes: [sparse, optimizer]     # [all; [sparse] with a target] the groups of axes searched
                                  #   (spaces/meta.yaml's `axes`: model, sparse, optimizer);
                                  #   the space's other parameters are held at their defaults
                                  #   and written to `fixed` in the run's scenario.yaml. A
                                  #   target sees the sparse axes (weight_init, density ...
                                  #   execution), not the trainer's model and data axes

Keys that steer a run rather than define it (n_trials, walltime, n_workers, trial_timeout,
output) may change when a run is resumed; any other change is refused.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationError,
    field_validator,
    model_validator,
)

from metasparse._paths import shipped_dir
from metasparse.errors import ConfigError, MetasparseError, ScenarioError, invalid_choice
from metasparse.optimize._backends import BACKENDS, DEFAULT_BACKEND, Backend, backend_settings
from metasparse.optimize._describe import describe
from metasparse.results import FIRST_OBJECTIVES, SECOND_OBJECTIVES, default_reference

__all__ = ["Budget", "Scenario", "load_scenario", "shipped_scenarios"]

# Keys that may change between a run and its resumption: they steer the run, not its results.
RUN_CONTROL_KEYS = ("n_trials", "walltime", "n_workers", "trial_timeout", "output")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_FORBID = ConfigDict(extra="forbid", strict=True)


class Budget(BaseModel):
    """Epochs per trial; `min_epochs` is the lowest fidelity of multi-fidelity tuning."""

    model_config = _FORBID
    epochs: int = Field(default=10, ge=1)
    min_epochs: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _min_default(self) -> Budget:
        if self.min_epochs is None:
            self.min_epochs = max(1, self.epochs // 9)
        elif self.min_epochs > self.epochs:
            raise ValueError(f"budget.min_epochs must be at most budget.epochs ({self.epochs}); "
                             f"got {self.min_epochs}")
        return self


class FeatureSelection(BaseModel):
    """What the objective fs_error scores: the top `k` features of the trained network's
    ranking by `importance` (an autoencoder's by `autoencoder_importance` where it is set), by
    the validation accuracy of `classifier` trained on them."""

    model_config = _FORBID
    k: int = Field(ge=1)
    classifier: str = "svm"
    importance: str = "neuron_strength"
    # attribution costs one backward pass per output: for an autoencoder, one per feature
    autoencoder_importance: str | None = None

    @model_validator(mode="after")
    def _registered(self) -> FeatureSelection:
        from metasparse.features import CLASSIFIERS, IMPORTANCES

        for key, registry, value in (("classifier", CLASSIFIERS, self.classifier),
                                     ("importance", IMPORTANCES, self.importance),
                                     ("autoencoder_importance", IMPORTANCES,
                                      self.autoencoder_importance or self.importance)):
            if value not in registry:
                raise ValueError(f"feature_selection.{key} must be one of "
                                 f"{sorted(registry.names())}; got {value!r}")
        return self

    def importance_of(self, task: str) -> str:
        """The importance that ranks the features of a network of this task."""
        return self.autoencoder_importance or self.importance if task == "autoencoder" \
            else self.importance


class Scenario(BaseModel):
    """One tuning run (or, with a list of spaces, several runs of the same budget)."""

    model_config = _FORBID
    name: str
    space: list[str] = Field(default_factory=lambda: ["meta"], min_length=1)
    fixed: dict[str, Any] = Field(default_factory=dict)
    instances: list[str] = Field(min_length=1)
    heldout_instances: list[str] = Field(default_factory=list)
    objectives: list[str] = Field(default_factory=lambda: ["val_error"], min_length=1,
                                  max_length=2)
    feature_selection: FeatureSelection | None = None
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    budget: Budget = Field(default_factory=Budget)
    # the settings model of the registered backend that `name` selects (see _backends.py)
    backend: SerializeAsAny[Backend] = Field(default_factory=lambda: BACKENDS[DEFAULT_BACKEND]())
    n_trials: int | None = Field(default=None, ge=1)
    walltime: float | None = Field(default=None, gt=0)
    n_workers: int = Field(default=1, ge=1)
    trial_timeout: float | None = Field(default=None, gt=0)
    crash_cost: list[float] = Field(default_factory=lambda: [1.0], min_length=1, max_length=2)
    output: str | None = None
    reference: str | None = None
    data_dir: str | None = None
    warm_start: str | list[str] | None = None
    target: str | None = None
    axes: list[str] | None = Field(default=None, min_length=1)

    @field_validator("backend", mode="before")
    @classmethod
    def _backend_of_its_name(cls, value: Any) -> Any:
        return backend_settings(value)

    @field_validator("space", "objectives", "crash_cost", mode="before")
    @classmethod
    def _one_as_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str | int | float) and not isinstance(value, bool) \
            else value

    @field_validator("crash_cost", mode="before")
    @classmethod
    def _numbers_as_floats(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [float(v) if isinstance(v, int) and not isinstance(v, bool) else v
                    for v in value]
        return value

    @field_validator("walltime", "trial_timeout", mode="before")
    @classmethod
    def _seconds_as_float(cls, value: Any) -> Any:
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        if not _NAME.match(self.name):
            raise ValueError("name must be letters, digits, '_', '.' or '-' (a directory name); "
                             f"got {self.name!r}")
        if self.objectives[0] not in FIRST_OBJECTIVES:
            raise ValueError(f"objectives[0] must be one of {list(FIRST_OBJECTIVES)}; "
                             f"got {self.objectives[0]!r}")
        if "fs_error" in self.objectives[1:]:
            raise ValueError("fs_error can only be the first objective (objectives: [fs_error]"
                             f" or [fs_error, <cost>]); got objectives {self.objectives}")
        selecting = self.objectives[0] == "fs_error"
        if selecting != (self.feature_selection is not None):
            raise ValueError("objectives [fs_error] and feature_selection go together; got "
                             + ("fs_error without feature_selection" if selecting else
                                "feature_selection without fs_error"))
        if selecting and self.target is not None:
            raise ValueError("objectives [fs_error] train the built-in network (a target "
                             "returns its own metrics); got a target")
        if len(self.objectives) == 2 and self.objectives[1] not in SECOND_OBJECTIVES:
            raise ValueError(f"objectives[1] must be one of {list(SECOND_OBJECTIVES)}; "
                             f"got {self.objectives[1]!r}")
        for key in ("instances", "heldout_instances", "seeds", "space", "axes"):
            values = getattr(self, key) or []
            repeated = next((v for i, v in enumerate(values) if v in values[:i]), None)
            if repeated is not None:
                raise ValueError(f"{key} must not repeat an entry; got {repeated!r} twice")
        both = next((i for i in self.heldout_instances if i in self.instances), None)
        if both is not None:
            raise ValueError("heldout_instances must not contain a tuning instance; "
                             f"got {both!r} in both")
        if self.n_trials is None and self.walltime is None:
            raise ValueError("n_trials or walltime must be set (a run needs an end); got neither")
        bad = next((c for c in self.crash_cost if not math.isfinite(c)), None)
        if bad is not None:
            raise ValueError(f"crash_cost must be finite (an infinite cost breaks SMAC's model); "
                             f"got {bad}")
        if len(self.crash_cost) > len(self.objectives):
            raise ValueError(f"crash_cost has one entry per objective ({len(self.objectives)}); "
                             f"got {len(self.crash_cost)}")
        from metasparse.optimize._warm_start import check_warm_start  # imports ConfigSpace

        check_warm_start(self.warm_start)
        self.backend.settle(self.multi_objective, per_epoch=self.objectives[0] == "val_error")
        return self

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    @property
    def output_dir(self) -> Path:
        return Path(self.output) if self.output else Path("results") / self.name

    def default_reference(self) -> str:
        """The preset to compare with: `reference`, else the space's own algorithm, else rigl."""
        return default_reference(self.space[0], self.reference)

    def runs(self) -> list[Scenario]:
        """One scenario per space: a list of spaces is that many runs of the same budget."""
        if len(self.space) == 1:
            return [self]
        base = self.output_dir
        return [
            self.model_copy(update={
                "name": f"{self.name}-{Path(space).stem}",
                "space": [space],
                "fixed": _with_held_axes(self, space),
                "output": str(base / Path(space).stem),
                "reference": default_reference(space, self.reference),
            })
            for space in self.space
        ]

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for scenario.yaml: single-element lists written as scalars."""
        data = self.model_dump(mode="json")
        data["backend"] = {k: v for k, v in data["backend"].items() if v is not None}
        data["output"] = str(self.output_dir)
        if data["axes"] is None:  # as a run from before `axes` wrote it
            del data["axes"]
        for key in ("space", "crash_cost"):
            if len(data[key]) == 1:
                data[key] = data[key][0]
        return data


def shipped_scenarios() -> list[str]:
    """Names of the scenarios shipped in scenarios/."""
    try:
        return sorted(p.stem for p in shipped_dir("scenarios").glob("*.yaml"))
    except FileNotFoundError:
        return []


def scenario_path(spec: str | Path) -> Path:
    """A path to a scenario file, or the name of a shipped scenario."""
    path = Path(spec)
    if path.is_file():
        return path
    if path.suffix not in (".yaml", ".yml") and path.name == str(spec):
        try:
            shipped = shipped_dir("scenarios") / f"{spec}.yaml"
        except FileNotFoundError:
            shipped = path
        if shipped.is_file():
            return shipped
    allowed = shipped_scenarios()
    raise ScenarioError(f"scenario {str(spec)!r} does not exist; give a path to a .yaml file"
                        + (f" or one of {allowed}" if allowed else ""))


def load_scenario(path: str | Path, **overrides: Any) -> Scenario:
    """Read and validate a scenario file; `overrides` (n_trials, walltime, output, n_workers,
    backend) replace the file's values as the command line does. Raises ScenarioError."""
    path = scenario_path(path)
    label = f"scenario {path.name!r}"
    raw = _read_yaml(path, label)
    raw.setdefault("name", path.stem)
    raw = _apply_overrides(raw, {k: v for k, v in overrides.items() if v is not None})
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError(f"{label}: {describe(exc, Scenario)}") from None
    _check_references(scenario, path, label)
    return scenario


def _read_yaml(path: Path, label: str) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ScenarioError(f"{label}: not valid YAML{where}: {problem}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{label}: cannot be read: {exc}") from None
    if not isinstance(raw, dict):
        raise ScenarioError(f"{label}: must be a mapping of keys to values; "
                            f"got {type(raw).__name__}")
    return raw


def _apply_overrides(raw: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Command-line values replace the file's. A different backend keeps only `backend.seed`
    of the file's backend settings and, unless an output is given, writes beside the original
    run (results/<name>-<backend>) so that backends can be compared without clashing."""
    raw = {**raw, **{k: v for k, v in overrides.items() if k != "backend"}}
    name = overrides.get("backend")
    if name is not None:
        backend = raw.get("backend")
        backend = dict(backend) if isinstance(backend, dict) else {}
        if backend.get("name", "smac") != name:
            backend = {k: v for k, v in backend.items() if k == "seed"}
            if "output" not in raw:
                raw["output"] = str(Path("results") / f"{raw['name']}-{name}")
        raw["backend"] = {**backend, "name": name}
    return raw


def _settle_axes(scenario: Scenario, label: str) -> None:
    """`axes` as the run records it: [sparse] for a target that names none, in the meta-space's
    order of groups, and none (every group) for the built-in trainer searching them all; so a
    run resumes only with the axes it searched."""
    from metasparse.space import load_definition

    groups = list(load_definition("meta")["axes"])
    if scenario.axes is None and scenario.target is not None:
        scenario.axes = ["sparse"]
    if scenario.axes is None:
        return
    unknown = next((g for g in scenario.axes if g not in groups), None)
    if unknown is not None:
        raise ScenarioError(f"{label}: {invalid_choice('axes', sorted(groups), unknown)}")
    scenario.axes = [g for g in groups if g in scenario.axes]
    if scenario.axes == groups and scenario.target is None:
        scenario.axes = None


def _with_held_axes(scenario: Scenario, space: str | Path) -> dict[str, Any]:
    """`fixed` with the free parameters of `space` outside the searched `axes` held at their
    defaults (the scenario's fixed values first)."""
    from metasparse.space import axes_held

    if scenario.axes is None:
        return dict(scenario.fixed)
    return {**scenario.fixed, **axes_held(space, scenario.axes, scenario.fixed)}


def _check_references(scenario: Scenario, path: Path, label: str) -> None:
    """Spaces, fixed values, datasets and the reference preset: everything outside the file."""
    from metasparse.data import available_datasets, check_datasets
    from metasparse.space import get_preset, load_space, preset_names, resolve_config

    try:
        resolve_config(scenario.fixed)
    except MetasparseError as exc:
        raise ScenarioError(f"{label}: fixed: {exc}") from None
    _settle_axes(scenario, label)
    spaces, fixed = [], {}
    for spec in scenario.space:
        resolved = resolve_space(spec, path)
        try:
            fixed[spec] = _with_held_axes(scenario, resolved)
        except MetasparseError as exc:
            raise ScenarioError(f"{label}: space {spec!r}: {exc}") from None
        try:
            _check_task(scenario, load_space(resolved, fixed=fixed[spec]))
        except MetasparseError as exc:
            raise ScenarioError(f"{label}: space {spec!r} cannot be used: {exc}") from None
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise ScenarioError(f"{label}: space {spec!r} cannot be read: "
                                f"{type(exc).__name__}: {exc}") from None
        spaces.append(str(resolved))
    if len(spaces) == 1:  # a list of spaces holds each one's in its run (Scenario.runs)
        scenario.fixed = fixed[scenario.space[0]]
    scenario.space = spaces
    presets = preset_names(relative=True)
    if scenario.reference is not None and scenario.reference not in presets:
        raise ScenarioError(f"{label}: reference must be one of {presets}; "
                            f"got {scenario.reference!r}")
    if scenario.objectives[0] == "val_error" and scenario.target is None \
            and get_preset(scenario.default_reference())["task"] != "classifier":
        raise ScenarioError(f"{label}: reference {scenario.default_reference()!r} is an "
                            "autoencoder, whose val_error is not a classification error; use "
                            "objectives [fs_error] or a classifier preset")
    if scenario.target is not None:
        from metasparse.optimize._target import load_target, resolve_target

        scenario.target = resolve_target(scenario.target, path)
        try:
            load_target(scenario.target)
        except ValueError as exc:
            raise ScenarioError(f"{label}: {exc}") from None
        return  # its instances are the target's labels, not datasets
    try:
        available_datasets(scenario.data_dir)
    except MetasparseError as exc:
        raise ScenarioError(f"{label}: data_dir: {exc}") from None
    widths = {}
    for key in ("instances", "heldout_instances"):
        try:
            widths.update(check_datasets(getattr(scenario, key), scenario.data_dir, key))
        except MetasparseError as exc:
            raise ScenarioError(f"{label}: {exc}") from None
    if scenario.feature_selection is not None:
        _check_k(scenario.feature_selection.k, widths, label)


def _check_k(k: int, widths: Mapping[str, int], label: str) -> None:
    """feature_selection.k must not exceed any instance's number of features."""
    for name, n_features in widths.items():
        if k > n_features:
            raise ScenarioError(f"{label}: feature_selection.k must be at most the number of "
                                f"features of every instance ({name!r} has {n_features}); "
                                f"got {k}")


def _check_task(scenario: Scenario, space: Any) -> None:
    """The objective val_error compares classification errors: a space in which the task may be
    an autoencoder (whose val_error is 1 - the R² of its reconstruction) needs fs_error."""
    from ConfigSpace import Constant

    if scenario.objectives[0] != "val_error" or scenario.target is not None \
            or "task" not in space:
        return
    task = space["task"]
    if not (isinstance(task, Constant) and task.value == "classifier"):
        raise ConfigError("its task may be an autoencoder, whose val_error is not a "
                          "classification error: use objectives [fs_error] (with "
                          "feature_selection) or fix task: classifier")


def resolve_space(spec: str, scenario_file: Path) -> str:
    """A space given as a path is read relative to the scenario file, then to the working
    directory; a bare name is a shipped space."""
    candidate = Path(spec)
    if candidate.suffix in (".yaml", ".yml") and not candidate.is_absolute():
        beside = scenario_file.parent / candidate
        if beside.is_file():
            return str(beside.resolve())
    return spec
