"""Validation: the incumbent against every preset on held-out instances, scored on test splits."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import wilcoxon
from tqdm import tqdm

from metasparse.analysis._results import Results
from metasparse.analysis._training import (
    RUN_COLUMNS,
    _train_one,
    comparable_presets,
    preset_config,
    selection_of,
)
from metasparse.errors import MetasparseError
from metasparse.results import VALIDATION

__all__ = ["VALIDATION_COLUMNS", "never_updated", "validate", "validation_candidates",
           "validation_summary"]

VALIDATION_FILE = VALIDATION
VALIDATION_COLUMNS = ["candidate", "role", *RUN_COLUMNS[1:], "config"]
# A run that fails (diverges, or crashes on its configuration) scores as if it got every test
# example wrong; one that ran out of time says nothing of the algorithm (the machine was slow):
# it is left out of the means and the pairs, and counted as timed out.
FAILED_ERROR = 1.0
UNSCORED_STATUSES = ("timeout",)


def validation_candidates(results: Results, presets: Sequence[str] | None = None
                          ) -> dict[str, tuple[str, dict[str, Any]]]:
    """name -> (role, configuration): the incumbent, then every preset (or `presets`) with the
    scenario's fixed settings applied. Roles: incumbent, reference, dense, preset."""

    if results.incumbent is None or "config" not in results.incumbent:
        raise MetasparseError(f"{str(results.directory)!r} has no incumbent yet (no successful "
                              "trial): nothing to validate")
    reference = results.reference_preset
    candidates: dict[str, tuple[str, dict[str, Any]]] = {
        "incumbent": ("incumbent", dict(results.incumbent["config"]))}
    for name in presets if presets is not None else comparable_presets(results.objectives[0]):
        role = "reference" if name == reference else "dense" if name == "dense" else "preset"
        candidates[name] = (role, preset_config(name, results.fixed))
    return candidates


def validate(results: Results, *, seeds: int | Sequence[int] = 3,
             instances: Sequence[str] | None = None, presets: Sequence[str] | None = None,
             data_dir: str | None = None, progress: bool = True,
             previous: pd.DataFrame | None = None,
             on_run: Callable[[pd.DataFrame], None] | None = None) -> pd.DataFrame:
    """Train the incumbent and every preset on the held-out instances (`instances`, default
    the scenario's heldout_instances) with each seed, at the scenario's budget, and score them
    on the test splits. One row per run (VALIDATION_COLUMNS).

    Rows of `previous` with the same configuration, instance, seed and epochs are reused rather
    than trained again; `on_run(frame)` gets the frame so far after every run (to save it).
    """
    instances = list(instances) if instances else results.heldout_instances
    if not instances:
        raise MetasparseError(f"scenario {results.name!r} has no heldout_instances, so there is "
                              "nothing to validate on (add heldout_instances to the scenario, "
                              "or give --instances)")
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    if not seed_list:
        raise MetasparseError("validation needs at least one seed")
    selection = selection_of(results.settings)
    if selection is not None:  # the top k of each instance is scored: k must fit them all
        from metasparse.data import load_dataset
        from metasparse.features import check_k

        for name in instances:
            check_k(selection["k"], load_dataset(name, data_dir=data_dir
                                                  or results.data_dir).n_features)
    candidates = validation_candidates(results, presets)
    epochs = results.epochs
    data_dir = data_dir or results.data_dir
    done = _reusable(previous)
    rows: list[dict[str, Any]] = []
    jobs = [(name, instance, seed) for name in candidates for instance in instances
            for seed in seed_list]
    with tqdm(total=len(jobs), desc="validation", unit="run", disable=not progress) as bar:
        for name, instance, seed in jobs:
            role, config = candidates[name]
            key = _config_key(config)
            bar.set_postfix_str(f"{name} on {instance}, seed {seed}")
            row = done.get((key, instance, int(seed), int(epochs)))
            if row is None:
                row = _train_one(name, config, instance, seed, epochs, data_dir, True,
                                 results.settings.trial_timeout, results.settings.target,
                                 selection_of(results.settings))
            rows.append({**row, "candidate": name, "role": role, "config": key})
            bar.update(1)
            if on_run is not None:
                on_run(pd.DataFrame(rows, columns=VALIDATION_COLUMNS))
    return pd.DataFrame(rows, columns=VALIDATION_COLUMNS)


def _config_key(config: Mapping[str, Any]) -> str:
    from metasparse.space import active_config

    return json.dumps(active_config(config), sort_keys=True)


def _reusable(previous: pd.DataFrame | None) -> dict[tuple[str, str, int, int], dict[str, Any]]:
    if previous is None or previous.empty or "config" not in previous.columns:
        return {}
    done = {}
    for row in previous.to_dict("records"):
        row = {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
        done[(row["config"], str(row["instance"]), int(row["seed"]), int(row["epochs"]))] = row
    return done


def validation_summary(runs: pd.DataFrame, baseline: str = "incumbent") -> pd.DataFrame:
    """Per candidate: mean and standard deviation of the test error over the runs, and the
    paired comparison with `baseline` (by instance and seed): the baseline's mean gain (the
    candidate's error minus the baseline's), its wins/ties/losses and the two-sided Wilcoxon
    signed-rank p-value. Failed runs count as test error 1.0; timed-out runs are left out
    (UNSCORED_STATUSES). Sorted by mean test error."""
    runs = runs.copy()
    runs["score"] = np.select(
        [runs["status"] == "success", runs["status"].isin(UNSCORED_STATUSES)],
        [pd.to_numeric(runs["test_error"], errors="coerce"), np.nan], FAILED_ERROR)
    roles = runs.groupby("candidate", sort=False)["role"].first()
    base = runs[runs["candidate"] == baseline].set_index(["instance", "seed"])["score"]
    rows = []
    for name, group in runs.groupby("candidate", sort=False):
        scores = group.set_index(["instance", "seed"])["score"]
        row = {
            "candidate": name, "role": roles[name], "runs": len(group),
            "failed": int((~group["status"].isin(("success", *UNSCORED_STATUSES))).sum()),
            "timed_out": int(group["status"].isin(UNSCORED_STATUSES).sum()),
            "test_error": float(scores.mean()), "std": float(scores.std(ddof=1))
            if len(scores) > 1 else 0.0,
            "test_accuracy": float(1.0 - scores.mean()),
            "density": float(pd.to_numeric(group["density"]).mean()),
            "train_mflops": float(pd.to_numeric(group["train_flops"]).mean() / 1e6),
            "updates": float(pd.to_numeric(group.get("topology_updates"),
                                           errors="coerce").mean()),
        }
        if name != baseline and not base.empty:
            paired = pd.concat([base, scores], axis=1, keys=["base", "other"],
                               join="inner").dropna()
            difference = paired["other"] - paired["base"]
            row.update({
                "gain_of_" + baseline: float(difference.mean()) if len(paired) else np.nan,
                "wins": int((difference > 0).sum()), "ties": int((difference == 0).sum()),
                "losses": int((difference < 0).sum()), "p_value": _wilcoxon(difference),
            })
        rows.append(row)
    columns = ["candidate", "role", "runs", "failed", "timed_out", "test_error", "std",
               "test_accuracy", "density", "train_mflops", "updates", "gain_of_" + baseline,
               "wins", "ties", "losses", "p_value"]
    frame = pd.DataFrame(rows).reindex(columns=columns)
    return frame.sort_values("test_error", kind="stable").reset_index(drop=True)


def never_updated(runs: pd.DataFrame, by: Sequence[str] = ("candidate", "instance")
                  ) -> pd.DataFrame:
    """The groups (`by`) of finished runs whose configuration schedules topology updates (its
    `config` JSON has an update_every other than never) but whose runs made none: a published
    interval of steps longer than the training on a small dataset. Columns: `by`, schedule
    (metasparse.space.schedule_text) and runs."""
    from metasparse.space import schedule_text

    columns = [*by, "schedule", "runs"]
    if "topology_updates" not in runs.columns:  # written before the count was recorded
        return pd.DataFrame(columns=columns)
    done = runs[runs["status"] == "success"].copy()
    configs = done["config"].map(json.loads)
    done["update_every"] = configs.map(lambda c: c.get("update_every", "never"))
    done["schedule"] = configs.map(schedule_text)
    done["updates"] = pd.to_numeric(done["topology_updates"], errors="coerce")
    rows = []
    for keys, group in done[done["update_every"] != "never"].groupby(list(by), sort=False):
        if (group["updates"] == 0).all():
            first = group.iloc[0]
            rows.append({**dict(zip(by, keys if isinstance(keys, tuple) else (keys,),
                                    strict=True)),
                         "schedule": first["schedule"], "runs": len(group)})
    return pd.DataFrame(rows, columns=columns)


def _wilcoxon(difference: pd.Series) -> float:
    """Two-sided Wilcoxon signed-rank p-value; 1.0 when every pair ties."""
    nonzero = difference[difference != 0].to_numpy()
    if len(nonzero) == 0:
        return 1.0
    return float(wilcoxon(nonzero).pvalue)
