"""The configuration study: what tuning each algorithm, and combining them, is worth.

Two resumable grids (metasparse.study's run_grid) in the study's output directory:

- `tuning.csv`, one row per tuning run: each space on each dataset with each backend and
  optimizer seed, the same n_trials everywhere, on the validation split (a `metasparse optimize`
  run of its own in tuning/<space>/<variant>/<dataset>/seed-<k>/, which resumes itself); the
  combined space also warm-started from the presets (variant `<backend>-warm`); and the
  `transfer` spaces tuned leave-one-dataset-out (instances: every other dataset).
- `evaluation.csv`, one row per test run: every incumbent and every preset in both forms
  (published, and `<name>-relative` with as many updates per run as its paper) trained again on
  the dataset it is judged on (the held-out one for transfer) over the training seeds, and
  scored on its test split, with the number of topology updates it made. Tuning trains with
  seeds of its own (TUNING_SEED + optimizer seed), so no evaluation repeats a tuning run; the
  test split plays no part in any choice. A run's key is what it is (kind, space, variant,
  dataset, seeds), not the full configuration it trains (`config`, recorded beside it), so the
  committed grid stays valid when the space gains a parameter.

Either grid runs its cells one after another in this process, or as tasks on Ray with a
`parallel` study._parallel.RayGrid (the same rows).

With `min_epochs`, the SMAC tuning runs are multi-fidelity (SMAC's Hyperband over epochs from
min_epochs to epochs, facade `mf`): n_trials then counts (configuration, budget) evaluations,
most of them short.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from metasparse.optimize import evaluate_run, load_scenario, optimize
from metasparse.results import TRIALS, read_rows
from metasparse.space import preset_config
from metasparse.space import preset_forms as forms_of
from metasparse.study._grid import run_grid
from metasparse.study._spec import ConfigurationStudy

TUNING_SEED = 1000  # tuning trains with seed TUNING_SEED + optimizer seed
WARM = "-warm"
EVALUATION_UNKEYED = ("config",)  # recorded, not part of an evaluation run's key


def tuning_points(study: ConfigurationStudy) -> Iterator[dict[str, Any]]:
    """Every tuning run: (phase, space, backend, variant, dataset, optimizer_seed)."""
    main = study.backends[0]
    for dataset in study.datasets:
        for seed in study.optimizer_seeds:
            for space in study.spaces:
                backends = study.backends if space == study.combined else [main]
                for backend in backends:
                    yield _point("tune", space, backend, backend, dataset, seed)
            if study.warm_start:
                yield _point("tune", study.combined, main, main + WARM, dataset, seed)
            for space in study.transfer:
                yield _point("transfer", space, main, main, dataset, seed)


def _point(phase: str, space: str, backend: str, variant: str, dataset: str,
           seed: int) -> dict[str, Any]:
    return {"phase": phase, "space": space, "backend": backend, "variant": variant,
            "dataset": dataset, "optimizer_seed": seed}


def tuning_directory(study: ConfigurationStudy, point: Mapping[str, Any]) -> Path:
    return (study.output_dir / ("tuning" if point["phase"] == "tune" else "transfer")
            / Path(point["space"]).stem / point["variant"] / point["dataset"]
            / f"seed-{point['optimizer_seed']}")


def tune(study: ConfigurationStudy, point: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One tuning run: its incumbent (JSON), validation cost, and trial counts."""
    directory = tuning_directory(study, point)
    directory.mkdir(parents=True, exist_ok=True)
    instances = [point["dataset"]] if point["phase"] == "tune" else \
        [d for d in study.datasets if d != point["dataset"]]
    scenario = {
        "name": "-".join(directory.relative_to(study.output_dir).parts),
        "space": point["space"], "fixed": study.fixed, "instances": instances,
        "seeds": [TUNING_SEED + point["optimizer_seed"]], "budget": {"epochs": study.epochs},
        "backend": {"name": point["backend"], "seed": point["optimizer_seed"]},
        "n_trials": study.n_trials, "output": str(directory), "data_dir": study.data_dir,
    }
    if point["variant"].endswith(WARM):
        scenario["warm_start"] = "presets"
    if study.min_epochs is not None and point["backend"] == "smac":
        scenario["backend"]["facade"] = "mf"
        scenario["budget"]["min_epochs"] = study.min_epochs
    path = directory / "scenario-in.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False))
    (summary,) = optimize(load_scenario(path), progress=False)
    rows = read_rows(directory / TRIALS)
    incumbent = summary.incumbent
    return [{
        "incumbent": json.dumps(incumbent["config"], sort_keys=True) if incumbent else "",
        "val_error": incumbent["cost"] if incumbent else float("nan"),
        "trials": len(rows), "crashed": sum(r["status"] == "crashed" for r in rows),
        "directory": str(directory),
    }]


def evaluation_points(study: ConfigurationStudy,
                      tuning: pd.DataFrame) -> Iterator[dict[str, Any]]:
    """Each incumbent and each preset on the dataset it is judged on, per training seed."""
    for row in tuning.itertuples():
        if not isinstance(row.incumbent, str) or not row.incumbent:
            continue  # no trial of the run succeeded
        for seed in study.seeds:
            yield {"kind": "tuned", "phase": row.phase, "space": row.space,
                   "variant": row.variant, "dataset": row.dataset,
                   "optimizer_seed": int(row.optimizer_seed), "seed": seed,
                   "config": row.incumbent}
    for dataset in study.datasets:
        for name in preset_forms(study):
            config = json.dumps(preset_config(name, study.fixed), sort_keys=True)
            for seed in study.seeds:
                yield {"kind": "preset", "phase": "preset", "space": name, "variant": name,
                       "dataset": dataset, "optimizer_seed": -1, "seed": seed,
                       "config": config}


def preset_forms(study: ConfigurationStudy) -> list[str]:
    """The study's presets, each followed by its relative form where it has one."""
    return [form for name in study.presets for form in forms_of(name)]


def evaluate(study: ConfigurationStudy, point: Mapping[str, Any]) -> list[dict[str, Any]]:
    run = evaluate_run(json.loads(point["config"]), point["dataset"], point["seed"],
                       study.epochs, data_dir=study.data_dir)
    accuracy = run.metrics.get("test_accuracy")
    return [{"status": run.status, "error": run.error,
             "test_error": None if accuracy is None else 1.0 - accuracy,
             "val_error": run.metrics.get("val_error"),
             "topology_updates": run.metrics.get("topology_updates")}]


def stale_presets(study: ConfigurationStudy, evaluation: pd.DataFrame) -> list[str]:
    """The preset forms whose finished test runs trained another configuration than the preset
    is today (active values compared, so a parameter the space gained at its default changes
    nothing): presets.yaml or the space changed since. Their rows are kept, not retrained."""
    from metasparse.errors import ConfigError
    from metasparse.space import active_config, resolve_config

    def recorded(config: str) -> dict[str, Any] | None:
        try:
            return active_config(resolve_config(json.loads(config)))
        except ConfigError:  # a parameter the space no longer has
            return None

    if not len(evaluation):
        return []
    presets = evaluation[evaluation["kind"] == "preset"]
    return [name for name, part in presets.groupby("space", sort=False)
            if any(recorded(c) != active_config(preset_config(name, study.fixed))
                   for c in part["config"].unique())]


def run(study: ConfigurationStudy, progress: bool = True,
        parallel: Any = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both grids (resuming what an earlier run of the study finished), on `parallel` (a
    study._parallel.RayGrid) where given."""
    tuning = run_grid(study.output_dir / "tuning.csv", tuning_points(study),
                      partial(tune, study), description="tuning", progress=progress,
                      parallel=parallel)
    evaluation = run_grid(study.output_dir / "evaluation.csv",
                          evaluation_points(study, tuning), partial(evaluate, study),
                          description="test evaluation", progress=progress,
                          unkeyed=EVALUATION_UNKEYED, parallel=parallel)
    return tuning, evaluation
