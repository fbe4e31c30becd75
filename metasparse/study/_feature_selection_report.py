"""The feature-selection study's report: test accuracy (%) of the top K features per dataset,
method and importance over the seeds, beside the published numbers and the tuned choices."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from metasparse.features import ALL_FEATURES, ENSEMBLE_SEED_STEP
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


LEAVE_ONE_OUT = "leave-one-out"


def _networks(study: FeatureSelectionStudy, table: pd.DataFrame) -> pd.DataFrame:
    """The rows of trained networks (neither a baseline nor a published number)."""
    plain = set(study.baselines)
    return table[~table["method"].isin(plain) & ~table["method"].str.startswith("published")
                 & ~table["method"].str.startswith(LEAVE_ONE_OUT)
                 & ~table["method"].str.startswith(BY_VALIDATION)]


def leave_one_out(study: FeatureSelectionStudy, table: pd.DataFrame) -> pd.DataFrame:
    """For each dataset and K, the network method (preset and importance) of best mean
    validation accuracy over the other datasets (each at the same K where it has it, else its
    largest), scored on this one's test split: a choice made without this dataset at all."""
    nets = _networks(study, table)
    rows = []
    for dataset in study.datasets:
        for k in study.ks(dataset):
            means = []
            for other in study.datasets:
                if other == dataset:
                    continue
                at = k if k in study.ks(other) else max(study.ks(other))
                part = nets[(nets["dataset"] == other) & (nets["k"] == at)]
                means.append(part.set_index("method")["val_mean"])
            if not means:
                continue
            score = pd.concat(means, axis=1).dropna().mean(axis=1)
            here = nets[(nets["dataset"] == dataset) & (nets["k"] == k)].set_index("method")
            score = score[score.index.isin(here.index)]
            if score.empty:
                continue
            pick = score.idxmax()
            row = here.loc[pick]
            rows.append([dataset, k, f"{LEAVE_ONE_OUT}: {pick}", row["test_mean"],
                         row["test_std"], row["val_mean"], row["seeds"]])
    return pd.DataFrame(rows, columns=COLUMNS)


BY_VALIDATION = "best on validation"


def by_validation(study: FeatureSelectionStudy, table: pd.DataFrame) -> pd.DataFrame:
    """For each dataset and K, the network method and the baseline (every feature aside) of
    best mean validation accuracy on this dataset, with their test scores: each side's
    choice made as a user would, on the validation split."""
    nets = _networks(study, table)
    sides = {"sparse training": nets,
             "baseline": table[table["method"].isin(set(study.baselines) - {ALL_FEATURES})]}
    rows = []
    for dataset in study.datasets:
        for k in study.ks(dataset):
            for side, part in sides.items():
                here = part[(part["dataset"] == dataset) & (part["k"] == k)]
                if here.empty:
                    continue
                best = here.loc[here["val_mean"].astype(float).idxmax()]
                rows.append([dataset, k, f"{BY_VALIDATION}, {side}: {best['method']}",
                             best["test_mean"], best["test_std"], best["val_mean"],
                             best["seeds"]])
    return pd.DataFrame(rows, columns=COLUMNS)


def overall(study: FeatureSelectionStudy, table: pd.DataFrame, k: int) -> pd.DataFrame:
    """Mean test accuracy (%) over the datasets scored at K = k, per method present on all of
    them (the all-features baseline too), best first."""
    datasets = [d for d in study.datasets if k in study.ks(d)]
    part = table[table["dataset"].isin(datasets) & (table["k"] == k)
                 & ~table["method"].str.startswith("published")]
    part = part.assign(method=part["method"].str.replace(
        r"^(leave-one-out|best on validation, [a-z ]+): .*", r"\1", regex=True))
    wide = part.pivot_table(index="method", columns="dataset", values="test_mean")
    wide = wide.dropna()
    wide.insert(0, "mean", wide.mean(axis=1))
    return wide.sort_values("mean", ascending=False).reset_index()


def tuned_choices(study: FeatureSelectionStudy,
                  tuned: Mapping[tuple[str, int], Mapping[str, Any]]) -> pd.DataFrame:
    """What the tuner changed from the reference preset, per tuned dataset and K, and the
    study's preset that it is where it is one (the tuner may keep a warm start)."""
    reference = preset_config(study.preset, study.fixed)
    presets = {name: preset_config(name, study.fixed) for name in study.presets}
    rows = []
    for (dataset, k), config in tuned.items():
        changed = {key: value for key, value in config.items() if reference.get(key) != value}
        same = next((name for name, values in presets.items() if values == dict(config)), "")
        rows.append([dataset, k, same,
                     ", ".join(f"{key}={_short(v)}" for key, v in changed.items())])
    return pd.DataFrame(rows, columns=["dataset", "k", "a preset", f"changed from {study.preset}"])


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def feature_selection_report(study: FeatureSelectionStudy, runs: pd.DataFrame,
                             tuned: Mapping[tuple[str, int], Mapping[str, Any]]) -> Path:
    out = study.output_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    table = summary(study, runs)
    table = pd.concat([table, leave_one_out(study, table), by_validation(study, table)],
                      ignore_index=True)
    table.to_csv(out / "summary.csv", index=False)
    choices = tuned_choices(study, tuned)
    lines = [
        f"# Feature selection: {study.name}", "",
        f"Test accuracy (%) of `{study.classifier}` trained on the top K features of each "
        f"ranking, over seeds {study.seeds} ({study.epochs} epochs per network; mean, std). "
        "A network's method names the importance that ranked its features"
        + (f"; `tuned` is SMAC's incumbent of the space `{study.tune_space}` on the "
           f"validation split ({study.tuned_trials} trials, objective fs_error, importance "
           f"{study.tune_importance})"
           + (", tuned on the other datasets: this one held out" if study.tune_held_out else "")
           if study.tune else "")
        + "; the test split played no part in any choice.", "",
    ]
    lines += ["`leave-one-out: X` is the network method X (preset and importance) of best mean "
              "validation accuracy over the other datasets, scored here: chosen without this "
              "dataset. `best on validation, sparse training: X` (`baseline: X`) is the network "
              "method (the baseline) of best mean validation accuracy on this dataset.", ""]
    if study.ensembles():
        n, step = study.ensemble, ENSEMBLE_SEED_STEP
        lines += [f"`X x{n}` is the preset X ranked by an ensemble of {n} networks (seeds s, "
                  f"s + {step}, ..., s + {step * (n - 1)} for the seed s), each importance divided "
                  "by its sum over the features and averaged over the networks.", ""]
    for k in sorted({k for d in study.datasets for k in study.ks(d)}):
        wide = overall(study, table, k)
        if len(wide) and wide.shape[1] > 3:  # two datasets at least
            lines += [f"## Mean over the datasets at K = {k}", "",
                      *markdown_table(wide, 1), ""]
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


__all__ = ["TUNED", "by_validation", "feature_selection_report", "leave_one_out", "overall",
           "summary", "tuned_choices"]
