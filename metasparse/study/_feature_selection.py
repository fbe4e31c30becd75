"""The feature-selection study: which features sparse training selects, against the baselines.

1. Tuning (`tune` datasets, each K): a `metasparse optimize` run of the `tune_space` with the
   objective fs_error, on the validation split only, with the seeds `tune_seeds` (none of the
   evaluation seeds, so no evaluation repeats a tuning run), warm-started from the presets, in
   tuning/<dataset>-k<K>/ (it resumes itself). Its incumbent is the `tuned` method there. With
   `tune_held_out` the run tunes on the study's other datasets (tuning/without-<dataset>-k<K>/):
   the configuration is judged on a dataset that played no part in choosing it.
2. `runs.csv`, a resumable grid (run_grid), one point per dataset, seed and method: every preset
   (trained once, ranked by every importance, scored at every K; a preset whose input evolution
   aims at one K, NeuroFS, once per K; WAST's network is ranked by its own importance too),
   the tuned configuration (at its own K), with `ensemble` N > 1 each of `ensemble_presets` again
   as '<preset> xN' (N networks, seeds s + 1000 j, every importance combined over them by
   combine_rankings), and every baseline (scikit-learn on the standardized training split).
   Each row holds the validation and test accuracy of `classifier` on the top K features
   (standardized by the classifier, whatever scaling the network trained on); a network that
   fails is a row with its status and one-line error.

The test split plays no part in any choice: tuning reads validation scores only.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from metasparse.data import load_dataset, scale_inputs
from metasparse.errors import MetasparseError
from metasparse.features import (
    ALL_FEATURES,
    BASELINES,
    combine_rankings,
    evaluate_selection,
    fit_evolving,
    member_seeds,
    rank_features,
)
from metasparse.optimize import load_scenario, optimize
from metasparse.space import preset_config
from metasparse.study._grid import run_grid
from metasparse.study._spec import FeatureSelectionStudy

TUNED = "tuned"
# the evolutions that aim at one K: their networks are trained once per K
PER_K = {"neurofs"}
# the importance that an evolution keeps beside the study's own
OWN_IMPORTANCE = {"wast": "wast"}


def _evolution(study: FeatureSelectionStudy, method: str) -> str:
    return preset_config(method, study.fixed).get("input_evolution", "none")


def tuning_directory(study: FeatureSelectionStudy, dataset: str, k: int) -> Path:
    name = f"without-{dataset}-k{k}" if study.tune_held_out else f"{dataset}-k{k}"
    return study.output_dir / "tuning" / name


def tuning_datasets(study: FeatureSelectionStudy, dataset: str) -> list[str]:
    """The datasets the configuration of `dataset` is tuned on: itself, or held out, the
    study's others."""
    return [d for d in study.datasets if d != dataset] if study.tune_held_out else [dataset]


def tune(study: FeatureSelectionStudy, dataset: str, k: int,
         progress: bool = True) -> dict[str, Any]:
    """The incumbent configuration of SMAC for the top `k` features of `dataset` (tuned on
    tuning_datasets), warm-started from the presets; an autoencoder's trials are ranked by the
    study's first autoencoder importance."""
    directory = tuning_directory(study, dataset, k)
    directory.mkdir(parents=True, exist_ok=True)
    selection = {"k": k, "classifier": study.classifier, "importance": study.tune_importance}
    # only where it differs: the scenario of a study tuned before this key stays as it was
    if study.autoencoder_importances[0] != study.tune_importance:
        selection["autoencoder_importance"] = study.autoencoder_importances[0]
    # the input evolutions are searched where a preset brings one, else held at none
    evolving = any(_evolution(study, p) != "none" for p in study.presets)
    scenario = {
        "name": f"{study.name}-{directory.name}", "space": study.tune_space,
        "fixed": {**({} if evolving else {"input_evolution": "none"}), **study.fixed},
        "instances": tuning_datasets(study, dataset), "seeds": list(study.tune_seeds),
        "objectives": ["fs_error"], "feature_selection": selection,
        "budget": {"epochs": study.epochs},
        "backend": {"name": "smac", "facade": study.tune_facade},
        "n_trials": study.tuned_trials, "warm_start": list(study.presets),
        "reference": study.preset, "output": str(directory), "data_dir": study.data_dir,
    }
    path = directory / "scenario-in.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False))
    summary = optimize(load_scenario(path), progress=progress)[0]
    if summary.incumbent is None:
        raise RuntimeError(f"tuning for {dataset} (k={k}) finished no trial; see {directory}")
    return dict(summary.incumbent["config"])


def points(study: FeatureSelectionStudy,
           tuned: Mapping[tuple[str, int], Any]) -> list[dict[str, Any]]:
    """Every (dataset, seed, method[, k]) to run."""
    result = []
    for dataset in study.datasets:
        for seed in study.seeds:
            for p in study.presets:
                ks = study.ks(dataset) if _evolution(study, p) in PER_K else [None]
                result += [{"dataset": dataset, "seed": seed, "method": p, "k": k} for k in ks]
            for method, p in study.ensembles().items():
                ks = study.ks(dataset) if _evolution(study, p) in PER_K else [None]
                result += [{"dataset": dataset, "seed": seed, "method": method, "k": k}
                           for k in ks]
            result += [{"dataset": dataset, "seed": seed, "method": TUNED, "k": k}
                       for (d, k) in tuned if d == dataset]
            result += [{"dataset": dataset, "seed": seed, "method": b, "k": None}
                       for b in study.baselines]
    return result


def run(study: FeatureSelectionStudy,
        progress: bool = True) -> tuple[pd.DataFrame, dict[tuple[str, int], dict[str, Any]]]:
    """Tune, then run the grid; returns its rows and the tuned configurations."""
    tuned = {(d, k): tune(study, d, k, progress) for d in study.tune for k in study.ks(d)}
    write = {f"{d}-k{k}": c for (d, k), c in tuned.items()}
    (study.output_dir / "tuned.yaml").write_text(yaml.safe_dump(write, sort_keys=False))
    datasets: dict[str, Any] = {}

    def data(name: str):
        if name not in datasets:
            datasets[name] = load_dataset(name, data_dir=study.data_dir)
        return datasets[name]

    ensembles = study.ensembles()

    def one(point: Mapping[str, Any]) -> list[dict[str, Any]]:
        dataset, seed, method = point["dataset"], point["seed"], point["method"]
        if method in study.baselines:
            return _baseline(study, data(dataset), method, seed, study.ks(dataset))
        config = tuned[(dataset, point["k"])] if method == TUNED \
            else preset_config(ensembles.get(method, method), study.fixed)
        ks = study.ks(dataset) if point["k"] is None else [point["k"]]
        return _network(study, config, data(dataset), seed, ks,
                        study.ensemble if method in ensembles else 1)

    rows = run_grid(study.output_dir / "runs.csv", points(study, tuned), one,
                    description="feature selection", progress=progress)
    return rows, tuned


def _network(study: FeatureSelectionStudy, config: Mapping[str, Any], dataset: Any, seed: int,
             ks: list[int], ensemble: int = 1) -> list[dict[str, Any]]:
    """The rows of one network (seed `seed`), or of an ensemble of `ensemble` networks (seeds
    member_seeds) ranked by their combined importances: its network_val_score is their mean,
    its wall_time_s their sum; if one fails, every row is failed with its status and error."""
    failed = {"importance": None, "val_accuracy": None, "test_accuracy": None,
              "network_val_score": None, "wall_time_s": None}
    rankings: dict[str, list[Any]] = {}
    results = []
    for member in member_seeds(seed, ensemble):
        try:  # a dense layer that the density cannot pay for is trained sparse, as in tuning
            trained = fit_evolving(config, dataset, study.epochs, member, k=max(ks),
                                   fit_dense_layers=True)
        except MetasparseError as exc:
            return [{**failed, "task": config["task"], "status": "crashed", "k_selected": k,
                     "error": str(exc)} for k in ks]  # one line, as every ConfigError
        result = trained.result
        results.append(result)
        if result.status != "success":
            base = {"task": trained.config["task"], "status": result.status,
                    "network_val_score": result.val_accuracy,
                    "wall_time_s": sum(r.wall_time_s for r in results), "error": result.error}
            return [{**base, **failed, "k_selected": k} for k in ks]
        importances = study.autoencoder_importances if trained.config["task"] == "autoencoder" \
            else study.importances
        own = OWN_IMPORTANCE.get(trained.config["input_evolution"])
        importances = [*importances, *([own] if own and own not in importances else [])]
        for importance in importances:  # ranked now: the network itself is let go
            rankings.setdefault(importance, []).append(rank_features(trained, importance))
        data, task = trained.data, trained.config["task"]
    base = {"task": task, "status": "success",
            "network_val_score": sum(r.val_accuracy for r in results) / len(results),
            "wall_time_s": sum(r.wall_time_s for r in results), "error": results[0].error}
    rows = []
    for importance, members in rankings.items():
        ranking = combine_rankings(members)
        for k in ks:
            scores = evaluate_selection(data, ranking, k, study.classifier, seed)
            rows.append({**base, "importance": importance, "k_selected": k,
                         "val_accuracy": scores.val_accuracy,
                         "test_accuracy": scores.test_accuracy})
    return rows


def _baseline(study: FeatureSelectionStudy, dataset: Any, name: str, seed: int,
              ks: list[int]) -> list[dict[str, Any]]:
    data = scale_inputs(dataset, "standard")  # the classifiers standardize the selection anyway
    ranking = BASELINES[name](data, seed)
    ks = [data.n_features] if name == ALL_FEATURES else ks
    rows = []
    for k in ks:
        scores = evaluate_selection(data, ranking, k, study.classifier, seed)
        rows.append({"task": None, "status": "success", "network_val_score": None,
                     "wall_time_s": None, "error": "", "importance": None, "k_selected": k,
                     "val_accuracy": scores.val_accuracy, "test_accuracy": scores.test_accuracy})
    return rows
