"""The feature-selection study's report: test accuracy (%) of the top K features per dataset,
method and importance over the seeds, beside the published numbers and the tuned choices."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from metasparse.features import ALL_FEATURES
from metasparse.results import markdown_table
from metasparse.space import preset_config
from metasparse.study._feature_selection import TUNED, tuning_directory
from metasparse.study._spec import FeatureSelectionStudy

COLUMNS = ["dataset", "k", "method", "test_mean", "test_std", "val_mean", "seeds"]


def summary(study: FeatureSelectionStudy, runs: pd.DataFrame) -> pd.DataFrame:
    """One row per dataset, K and method (a network's method names its importance): test and
    validation accuracy in %, mean and std over seeds; the all-features baseline at every K;
    the published numbers as rows with no spread."""
    rows = []
    ok = runs[runs["status"] == "success"]
    for dataset in study.datasets:
        for k in study.ks(dataset):
            here = ok[ok["dataset"] == dataset]
            here = here[(here["k_selected"] == k) | (here["method"] == ALL_FEATURES)]
            for (method, importance), group in here.groupby(
                    [here["method"], here["importance"].fillna("")], sort=False):
                label = f"{method} ({importance})" if importance else method
                test = 100 * group["test_accuracy"].astype(float)
                val = 100 * group["val_accuracy"].astype(float)
                rows.append([dataset, k, label, test.mean(), test.std(ddof=0), val.mean(),
                             len(group)])
            for method, value in study.published.get(dataset, {}).get(k, {}).items():
                rows.append([dataset, k, f"published: {method}", value, None, None, None])
    return pd.DataFrame(rows, columns=COLUMNS)


def tuned_choices(study: FeatureSelectionStudy,
                  tuned: Mapping[tuple[str, int], Mapping[str, Any]]) -> pd.DataFrame:
    """What the tuner changed from the reference preset, per tuned dataset and K."""
    reference = preset_config(study.preset, study.fixed)
    rows = []
    for (dataset, k), config in tuned.items():
        changed = {key: value for key, value in config.items() if reference.get(key) != value}
        rows.append([dataset, k, ", ".join(f"{key}={_short(v)}" for key, v in changed.items())])
    return pd.DataFrame(rows, columns=["dataset", "k", f"changed from {study.preset}"])


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def feature_selection_report(study: FeatureSelectionStudy, runs: pd.DataFrame,
                             tuned: Mapping[tuple[str, int], Mapping[str, Any]]) -> Path:
    out = study.output_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    table = summary(study, runs)
    table.to_csv(out / "summary.csv", index=False)
    choices = tuned_choices(study, tuned)
    lines = [
        f"# Feature selection: {study.name}", "",
        f"Test accuracy (%) of `{study.classifier}` trained on the top K features of each "
        f"ranking, over seeds {study.seeds} ({study.epochs} epochs per network; mean, std). "
        "A network's method names the importance that ranked its features; `tuned` is SMAC's "
        f"incumbent of the space `{study.tune_space}` on the validation split "
        f"({study.tuned_trials} trials, objective fs_error, importance "
        f"{study.tune_importance}); the test split played no part in any choice.", "",
    ]
    for dataset in study.datasets:
        for k in study.ks(dataset):
            part = table[(table["dataset"] == dataset) & (table["k"] == k)]
            part = part.drop(columns=["dataset", "k"]).sort_values("test_mean", ascending=False)
            part["seeds"] = part["seeds"].astype("Int64")
            part = part.astype(object).where(part.notna(), "")  # published: no spread
            lines += [f"## {dataset}, K = {k}", "", *markdown_table(part, 1), ""]
    if len(choices):
        lines += ["## What the tuner chose", "", *markdown_table(choices, 3), ""]
        for (dataset, k) in tuned:
            lines.append(f"- {dataset}, K = {k}: {tuning_directory(study, dataset, k)}")
        lines.append("")
    if study.published_source:
        lines += [f"Published numbers: {study.published_source}", ""]
    crashed = runs[runs["status"] != "success"]
    lines.append(f"Failed networks: {len(crashed)} of {len(runs)} rows.")
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path


__all__ = ["TUNED", "feature_selection_report", "summary", "tuned_choices"]
