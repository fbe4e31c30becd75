"""Reports of the two studies: Markdown + PNG + CSV, like `metasparse analyze` writes."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from metasparse.results import markdown_table
from metasparse.study import _importance, _randomness
from metasparse.study._spec import ImportanceStudy, RandomnessStudy


def _md(frame: pd.DataFrame, digits: int = 3) -> str:
    return "\n".join(markdown_table(frame, digits))


def _errorbar(ax, x: pd.Series, mean: pd.Series, std: pd.Series, label: str) -> None:
    """One curve: mean with its std as error bars."""
    ax.errorbar(x, mean, yerr=std, marker="o", capsize=3, label=label)


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def randomness_report(study: RandomnessStudy, runs: pd.DataFrame,
                      tuned: pd.DataFrame | None) -> Path:
    out = study.output_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    axes = list(study.phases)
    table = _randomness.summarize(runs, axes)
    by_density = _randomness.summarize(runs, axes, by=("density",))
    table.to_csv(out / "summary.csv", index=False)
    by_density.to_csv(out / "summary_by_density.csv", index=False)

    fig, grid = plt.subplots(len(_randomness.METRICS), len(study.grow_scores), squeeze=False,
                             figsize=(4 * len(study.grow_scores), 9), sharex=True)
    for col, grow in enumerate(study.grow_scores):
        for row, metric in enumerate(_randomness.METRICS):
            ax = grid[row][col]
            for axis in axes:
                part = table[(table["grow_score"] == grow) & (table["phase"] == axis)]
                _errorbar(ax, part["ratio"], part[f"{metric}_mean"], part[f"{metric}_std"], axis)
            ax.set_title(f"{grow}: {metric}")
            ax.set_xlabel("randomness ratio")
    grid[0][0].legend(title="ratio applied to")
    _save(fig, out / "randomness.png")

    lines = [
        f"# Randomness in prune and grow: {study.name}", "",
        f"Datasets {', '.join(study.datasets)}; densities {study.densities}; seeds "
        f"{study.seeds}; {study.epochs} epochs; base preset `{study.preset}` with "
        f"{study.fixed or 'no changes'}. Each seed's value is averaged over datasets and "
        "densities; mean ± std over seeds. `auc` is the mean validation accuracy over epochs, "
        "`epochs_to_95` the first epoch reaching 95% of the final validation accuracy.", "",
        "![randomness](randomness.png)", "", "## All densities", "", _md(table), "",
        "## Per density", "", _md(by_density), "",
    ]
    if tuned is not None and len(tuned):
        per = tuned.groupby(["grow_score", "which", "seed"])["test_accuracy"].mean()
        agg = per.groupby(["grow_score", "which"]).agg(["mean", "std"]).reset_index()
        ratios = tuned.groupby(["grow_score", "which"])[
            ["prune_random_ratio", "grow_random_ratio"]].first().reset_index()
        agg = agg.merge(ratios, on=["grow_score", "which"])
        agg.to_csv(out / "tuned_vs_fixed.csv", index=False)
        lines += ["## SMAC-tuned ratio against the best fixed ratio (chosen on validation)",
                  "", _md(agg), ""]
    (out / "report.md").write_text("\n".join(lines))
    return out / "report.md"


def importance_report(study: ImportanceStudy, rows: pd.DataFrame) -> Path:
    out = study.output_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    table = _importance.summary(rows)
    table.to_csv(out / "summary.csv", index=False)
    profile = _importance.bin_profile(rows)
    profile.to_csv(out / "bins.csv", index=False)
    curves = rows[rows["measure"] == "curve"]
    mean_curves = curves.groupby(["model", "order", "fraction"])["value"].agg(["mean", "std"])
    mean_curves = mean_curves.reset_index()
    mean_curves.to_csv(out / "curves.csv", index=False)
    halves = rows[rows["measure"] == "layer_half"].pivot_table(
        index=["model", "layer"], columns="order", values="value", aggfunc="mean").reset_index()
    halves.to_csv(out / "layer_ablations.csv", index=False)

    models = list(dict.fromkeys(mean_curves["model"]))
    fig, axes = plt.subplots(1, len(models) + 1, figsize=(4.5 * (len(models) + 1), 4),
                             squeeze=False)
    for ax, model in zip(axes[0], models, strict=False):
        for order in _importance.ORDERS:
            part = mean_curves[(mean_curves["model"] == model) & (mean_curves["order"] == order)]
            _errorbar(ax, part["fraction"], part["mean"], part["std"], order)
        ax.set_title(f"{model}: accuracy vs removed")
        ax.set_xlabel("fraction of each layer's weights removed")
        ax.legend(title="removal order")
    ax = axes[0][-1]
    for measure, part in profile.groupby("measure"):
        _errorbar(ax, part["index"], part["mean"], part["std"], measure)
    ax.set_title("accuracy drop per |w| bin (0 = smallest)")
    ax.legend()
    _save(fig, out / "importance.png")

    lines = [
        f"# Weight magnitude and importance: {study.name}", "",
        f"Datasets {', '.join(study.datasets)}; seeds {study.seeds}; {study.epochs} epochs; "
        f"base preset `{study.preset}` with {study.fixed or 'no changes'}. Importance of a "
        "group = drop in validation accuracy when it is set to zero.", "",
        "`spearman`: rank correlation between a bin's mean |w| and its importance (1 = "
        "magnitude orders importance perfectly). `magnitude_minus_random`: mean accuracy over "
        "the removal curve when removing smallest-|w| first, minus removing at random (how "
        "much magnitude pruning beats random pruning). `snip_minus_magnitude`: the same for a "
        "prune score built on |w g| against |w|. Mean ± std over seeds and datasets.", "",
        "![importance](importance.png)", "", "## Per model x activation x normalization", "",
        _md(table), "", "## Drop per magnitude bin against random groups", "", _md(profile),
        "", "## Half of one layer removed: smallest |w| first against random", "",
        _md(halves), "",
    ]
    (out / "report.md").write_text("\n".join(lines))
    return out / "report.md"
