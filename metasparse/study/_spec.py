"""Study files (scenarios/study-*.yaml): validated before anything runs."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from metasparse.data import check_datasets
from metasparse.errors import ConfigError, DataError, ScenarioError, invalid_choice
from metasparse.space import get_preset, kind_of, load_space, preset_config, resolve_config


class _Study(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    preset: str = "rigl"
    fixed: dict[str, Any] = Field(default_factory=dict)
    datasets: list[str] = Field(min_length=1)
    seeds: list[int] = Field(default=[0, 1, 2], min_length=1)
    epochs: int = Field(default=20, ge=1)
    data_dir: str | None = None
    output: str | None = None

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, value: str) -> str:
        try:
            get_preset(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return value

    def base_config(self) -> dict[str, Any]:
        return preset_config(self.preset, self.fixed)

    @property
    def output_dir(self) -> Path:
        return Path(self.output or f"results/{self.name}")


class RandomnessStudy(_Study):
    """Prune/grow randomness ratio against grow score, density and dataset."""

    kind: Literal["randomness"]
    grow_scores: list[str] = Field(default=["gradient", "cosine", "neuron"], min_length=1)
    densities: list[float] = Field(default=[0.1, 0.02, 0.005], min_length=1)
    ratios: list[float] = Field(default=[0.0, 0.25, 0.5, 0.75, 1.0], min_length=2)
    phases: list[Literal["prune", "grow", "both"]] = Field(default=["grow", "prune", "both"])
    tuned_trials: int = Field(default=0, ge=0, description="SMAC trials per grow score; 0: off")
    tuned_density: float | None = None


class ImportanceStudy(_Study):
    """Magnitude against measured importance, per model x activation x normalization."""

    kind: Literal["importance"]
    models: list[str] = Field(default=["mlp", "cnn", "lstm"], min_length=1)
    activations: list[str] = Field(default=["relu", "tanh", "gelu", "srelu"], min_length=1)
    normalizations: list[str] = Field(default=["none", "batch", "layer"], min_length=1)
    bins: int = Field(default=10, ge=2)
    fractions: list[float] = Field(default=[0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95])


class ConfigurationStudy(_Study):
    """What tuning each algorithm, and combining them, is worth (metasparse.study's
    _configuration module): every space tuned on every dataset at the same budget, over
    optimizer seeds; incumbents and presets scored on the test splits over training seeds."""

    kind: Literal["configuration"]
    spaces: list[str] = Field(default=["set", "rigl", "set-rigl"], min_length=2)
    combined: str = Field(default="set-rigl", description="the space that combines the others")
    presets: list[str] = Field(default=["set", "rigl"], min_length=1)
    backends: list[str] = Field(default=["smac"], min_length=1)
    n_trials: int = Field(default=20, ge=1)
    optimizer_seeds: list[int] = Field(default=[0, 1], min_length=1)
    warm_start: bool = Field(default=True, description="also tune `combined` warm-started "
                                                       "from the presets (first backend)")
    transfer: list[str] = Field(default_factory=list, description="spaces tuned leave-one-"
                                                                  "dataset-out (first backend)")
    min_epochs: int | None = Field(default=None, ge=1, description="multi-fidelity SMAC "
                                   "tuning from this many epochs up to `epochs` (facade mf)")

    @field_validator("min_epochs")
    @classmethod
    def _below_epochs(cls, value: int | None, info: ValidationInfo) -> int | None:
        epochs = info.data.get("epochs")
        if value is not None and epochs is not None and value >= epochs:
            raise ValueError(f"must be less than epochs ({epochs})")
        return value

    @field_validator("combined")
    @classmethod
    def _combined_is_a_space(cls, value: str, info: ValidationInfo) -> str:
        spaces = info.data.get("spaces") or []
        if value not in spaces:
            raise ValueError(f"must be one of the study's spaces {spaces}; got {value!r}")
        return value


class FeatureSelectionStudy(_Study):
    """Sparse training for feature selection (metasparse.study's _feature_selection module):
    presets, a configuration tuned on validation (objective fs_error) and scikit-learn
    baselines, each ranking the features of every dataset; the top K scored on test by
    `classifier` over the seeds, beside the published numbers."""

    kind: Literal["feature-selection"]
    preset: str = "quickselection"  # the reference of the tuning runs
    presets: list[str] = Field(default=["quickselection", "set"], min_length=1)
    importances: list[str] = Field(default=["neuron_strength", "attribution"], min_length=1)
    # the output attribution costs one backward pass per output: for an autoencoder, one per
    # feature (minutes on arcene's 10,000), so autoencoders are ranked by neuron strength only
    autoencoder_importances: list[str] = Field(default=["neuron_strength"], min_length=1)
    k: list[Annotated[int, Field(ge=1)]] = Field(default=[100], min_length=1)
    dataset_k: dict[str, list[Annotated[int, Field(ge=1)]]] = Field(default_factory=dict,
                                            description="K per dataset, in place of `k`")
    classifier: str = "svm"
    baselines: list[str] = Field(default=["all", "mutual_info", "random_forest", "l1_logistic"])
    tune: list[str] = Field(default_factory=list, description="datasets to tune on")
    # held out: the configuration of each `tune` dataset is tuned on the study's other datasets
    # (SMAC across instances), so it is judged on a dataset it was not chosen on at all
    tune_held_out: bool = False
    tune_facade: Literal["hpo", "ac"] = Field(default="hpo", description="hpo: every trial "
                                              "trains on every dataset and tuning seed; ac: "
                                              "SMAC picks one pair per trial (across datasets)")
    tune_space: str = "feature-selection"
    tune_importance: str = "neuron_strength"
    tuned_trials: int = Field(default=20, ge=1)
    # seeds each tuning trial trains (its cost is the mean): one seed rewards a lucky draw
    tune_seeds: list[int] = Field(default=[1000], min_length=1)
    # an ensemble method '<preset> xN' ranks by the combined importances of N networks (seeds
    # s, s + 1000, ...: metasparse.features.member_seeds, combine_rankings), N x the training
    ensemble: int = Field(default=1, ge=1, description="networks of an ensemble method; 1: none")
    ensemble_presets: list[str] | None = Field(default=None, description="the presets ranked by "
                                               "an ensemble too (default: every preset)")
    # dataset -> K -> method -> published test accuracy in % (the report shows them beside ours)
    published: dict[str, dict[int, dict[str, float]]] = Field(default_factory=dict)
    published_source: str = ""

    def ks(self, dataset: str) -> list[int]:
        return self.dataset_k.get(dataset, self.k)

    def ensembles(self) -> dict[str, str]:
        """The ensemble methods, each with its preset: none when `ensemble` is 1."""
        if self.ensemble == 1:
            return {}
        presets = self.presets if self.ensemble_presets is None else self.ensemble_presets
        return {f"{p} x{self.ensemble}": p for p in presets}


def load_study(path: str | Path, kind: str,
               **overrides: Any) -> RandomnessStudy | ImportanceStudy | ConfigurationStudy \
        | FeatureSelectionStudy:
    """Read and validate a study file of the given kind; `overrides` (output, data_dir) replace
    the file's values as the command line does. Every dataset must be available."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ScenarioError(f"study file {str(path)!r} does not exist") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"study file {str(path)!r} is not valid YAML: "
                            f"{' '.join(str(exc).split())}") from None
    if not isinstance(raw, dict):
        raise ScenarioError(f"study file {str(path)!r} must hold a mapping")
    model = {"randomness": RandomnessStudy, "importance": ImportanceStudy,
             "configuration": ConfigurationStudy, "feature-selection": FeatureSelectionStudy}[kind]
    raw.setdefault("kind", kind)
    raw.update({k: v for k, v in overrides.items() if v is not None})
    try:
        study = model.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "study"
        raise ScenarioError(f"study file {str(path)!r}: {where}: {error['msg']}"
                            + (f"; got {error['input']!r}" if "input" in error else "")) from None
    try:
        if isinstance(study, ConfigurationStudy):
            _check_configuration(study)
        elif not isinstance(study, FeatureSelectionStudy):
            base = study.base_config()
            _check_classifier(study, base["task"], f"preset {study.preset!r} with fixed")
            for values in _axis_values(study):
                resolve_config({**base, **values})
        widths = check_datasets(study.datasets, study.data_dir, "datasets")
        if isinstance(study, FeatureSelectionStudy):
            _check_feature_selection(study, widths)
    except (ConfigError, DataError) as exc:
        raise ScenarioError(f"study file {str(path)!r}: {exc}") from None
    return study


def _check_classifier(study: _Study, task: Any, where: str) -> None:
    """The studies other than feature selection measure classification accuracy."""
    if task != "classifier":
        raise ConfigError(f"The 'task' parameter must be 'classifier' in a {study.kind} study "
                          f"(it measures classification accuracy); got {task!r} ({where})")


def _check_configuration(study: ConfigurationStudy) -> None:
    """Spaces (with the fixed values), presets and backends exist; transfer needs two datasets;
    every network is a classifier."""
    from metasparse.optimize import backend_names

    for space in {*study.spaces, *study.transfer}:
        task = load_space(space, fixed=study.fixed).get("task")
        if task is not None:
            _check_classifier(study, task.value if kind_of(task) == "constant" else "searched",
                              f"space {space!r}")
    for name in study.presets:
        _check_classifier(study, preset_config(name, study.fixed)["task"], f"preset {name!r}")
    bad = next((b for b in study.backends if b not in backend_names()), None)
    if bad is not None:
        raise ConfigError(invalid_choice("backends", backend_names(), bad))
    if study.transfer and len(study.datasets) < 2:
        raise ConfigError("transfer needs at least two datasets (one left out, the others "
                          f"tuned on); got {study.datasets}")


def _check_feature_selection(study: FeatureSelectionStudy, widths: dict[str, int]) -> None:
    """Presets, importances, classifier, baselines and the tuning space exist; tuning datasets
    are among the study's, ensemble presets among its presets; every K fits its dataset's
    `widths` (number of features)."""
    from metasparse.features import BASELINES, CLASSIFIERS, IMPORTANCES

    for name in study.presets:
        preset_config(name, study.fixed)
    for name in {*study.importances, *study.autoencoder_importances, study.tune_importance}:
        IMPORTANCES[name]
    CLASSIFIERS[study.classifier]
    for name in study.baselines:
        BASELINES[name]
    load_space(study.tune_space, fixed=study.fixed)
    if study.tune_held_out and study.tune and len(study.datasets) < 2:
        raise ConfigError(f"tune_held_out needs at least two datasets (one held out, the "
                          f"others tuned on); got {study.datasets}")
    both = next((s for s in study.tune_seeds if s in study.seeds), None)
    if both is not None:
        raise ConfigError(f"tune_seeds must differ from the evaluation seeds (a tuned "
                          f"configuration is judged on runs it was not chosen on); got {both} "
                          "in both")
    for key, names, among in (("tune", study.tune, study.datasets),
                              ("dataset_k", list(study.dataset_k), study.datasets),
                              ("ensemble_presets", study.ensemble_presets or [], study.presets)):
        bad = next((d for d in names if d not in among), None)
        if bad is not None:
            raise ConfigError(invalid_choice(key, among, bad))
    for name, n_features in widths.items():
        if max(study.ks(name)) > n_features:
            raise ConfigError(f"K must be at most the number of features of every dataset "
                              f"({name!r} has {n_features}); got {max(study.ks(name))}")


def _axis_values(study: RandomnessStudy | ImportanceStudy) -> Iterator[dict[str, Any]]:
    if isinstance(study, RandomnessStudy):
        axes = {"grow_score": study.grow_scores, "density": study.densities}
    else:
        axes = {"model": study.models, "activation": study.activations,
                "normalization": study.normalizations}
    for values in itertools.product(*axes.values()):
        yield dict(zip(axes, values, strict=True))
