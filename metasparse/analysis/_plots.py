"""Plots of the analysis as matplotlib Figures drawn with the Agg canvas: no display, no pyplot
state, the same figures in a report and in a notebook."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from metasparse.results import OBJECTIVES

__all__ = ["plot_ablation", "plot_convergence", "plot_importance", "plot_pareto",
           "plot_per_instance", "save_figure"]



def _label(objective: str) -> str:
    known = OBJECTIVES.get(objective)
    return known.label if known is not None else objective


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save_figure(figure: Figure, path: str | Path) -> Path:
    """Write the figure as a PNG (100 dpi)."""
    path = Path(path)
    figure.savefig(path, dpi=100)
    return path


def plot_importance(main: pd.DataFrame, pairs: pd.DataFrame | None = None, *,
                    top: int = 15) -> Figure:
    """Horizontal bars: the `top` main effects (share of variance, with the standard deviation
    over trees) and, when given, the strongest pairwise interactions."""
    main = main[main["importance"] > 0].head(top)
    with_pairs = pairs is not None and not pairs.empty
    figure = _figure(11 if with_pairs else 6.5, max(2.5, 0.32 * max(len(main), 4) + 1))
    axes = figure.subplots(1, 2 if with_pairs else 1, squeeze=False)[0]
    _bars(axes[0], main["parameter"], main["importance"], main["std"],
          "main effects (fANOVA)")
    if with_pairs:
        shown = pairs.head(min(top, 10))
        labels = shown["parameter_1"] + " × " + shown["parameter_2"]
        _bars(axes[1], labels, shown["importance"], shown["std"], "pairwise interactions")
    return figure


def _bars(axis, labels, values, errors, title: str) -> None:
    positions = np.arange(len(labels))
    axis.barh(positions, values, xerr=errors, color="tab:blue", alpha=0.8,
              error_kw={"elinewidth": 0.8, "capsize": 2})
    axis.set_yticks(positions, list(labels))
    axis.invert_yaxis()
    axis.set_xlabel("share of variance")
    axis.set_title(title)
    axis.set_xlim(left=0)
    if len(labels) == 0:
        axis.text(0.5, 0.5, "no parameter explains any variance", ha="center",
                  transform=axis.transAxes)


def plot_ablation(path: pd.DataFrame, *, title: str = "ablation path") -> Figure:
    """The cost after each step of an ablation path (step 0: the source), and the surrogate's
    prediction where the path has a `predicted` column."""
    figure = _figure(max(6.0, 0.55 * len(path) + 2), 4.2)
    axis = figure.subplots()
    steps = path["step"].to_numpy()
    axis.plot(steps, path["cost"], marker="o", color="tab:blue", label="cost")
    if "predicted" in path.columns:
        axis.plot(steps, path["predicted"], linestyle="--", marker=".", color="0.5",
                  label="predicted by the surrogate")
        axis.legend(fontsize=8)
    for step, cost, gain in zip(steps[1:], path["cost"].iloc[1:], path["gain"].iloc[1:],
                                strict=True):
        axis.annotate(f"{gain:+.3g}", (step, cost), textcoords="offset points", xytext=(0, 6),
                      ha="center", fontsize=7)
    axis.set_xticks(steps, [str(p) for p in path["parameter"]], rotation=45, ha="right",
                    fontsize=8)
    axis.set_ylabel("cost")
    axis.set_title(title)
    axis.grid(alpha=0.3)
    return figure


def plot_convergence(curves: pd.DataFrame, summaries: Sequence[pd.DataFrame] = ()) -> Figure:
    """Best-so-far cost against trials and against wall time: one line per run, and for each
    optimizer with several runs its mean with a band of one standard deviation (`summaries`:
    convergence_summary by n_trials, then by elapsed_s)."""
    figure = _figure(11, 4.2)
    axes = figure.subplots(1, 2)
    colors = {label: f"C{k}" for k, label in enumerate(sorted(curves["label"].unique()))}
    runs_per_label = curves.groupby("label")["run"].nunique()
    for axis, by, xlabel in ((axes[0], "n_trials", "trials finished"),
                             (axes[1], "elapsed_s", "wall time (s)")):
        for _, run in curves.groupby("run", sort=False):
            run = run.sort_values(by)
            label = run["label"].iloc[0]
            axis.step(run[by], run["cost"], where="post", color=colors[label],
                      alpha=0.35 if runs_per_label[label] > 1 else 0.9, linewidth=1)
        for summary in summaries:
            if by not in summary.columns:
                continue
            for label, group in summary.groupby("label"):
                if group["runs"].max() < 2:
                    continue
                axis.step(group[by], group["mean"], where="post", color=colors[label],
                          linewidth=2)
                axis.fill_between(group[by], group["mean"] - group["std"],
                                  group["mean"] + group["std"], step="post",
                                  color=colors[label], alpha=0.2)
        axis.set_xlabel(xlabel)
        axis.set_ylabel("incumbent cost")
        axis.grid(alpha=0.3)
    for label, color in colors.items():
        axes[0].plot([], [], color=color, label=label)
    axes[0].legend(fontsize=8)
    figure.suptitle("convergence")
    return figure


def plot_pareto(trials: pd.DataFrame, presets: pd.DataFrame | None = None, *,
                objectives: Sequence[str] = ("val_error", "density")) -> Figure:
    """The trials (the Pareto front highlighted, column `on_front`) and the presets (rows with
    `preset`, `cost`, `cost_2`) in the plane of the two objectives."""
    figure = _figure(6.5, 4.8)
    axis = figure.subplots()
    axis.scatter(trials["cost"], trials["cost_2"], s=14, color="0.6", label="trials")
    front = trials[trials["on_front"]].sort_values("cost")
    axis.step(front["cost"], front["cost_2"], where="post", color="tab:blue")
    axis.scatter(front["cost"], front["cost_2"], s=24, color="tab:blue", label="Pareto front")
    if presets is not None and not presets.empty:
        axis.scatter(presets["cost"], presets["cost_2"], marker="D", s=36, color="tab:red",
                     label="presets")
        for name, x, y in zip(presets["preset"], presets["cost"], presets["cost_2"],
                              strict=True):
            axis.annotate(str(name), (x, y), textcoords="offset points", xytext=(4, 4),
                          fontsize=8, color="tab:red")
    axis.set_xlabel(_label(objectives[0]))
    axis.set_ylabel(_label(objectives[1]))
    if objectives[1] == "train_flops":
        axis.set_yscale("log")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    axis.set_title("Pareto front")
    return figure


def plot_per_instance(frame: pd.DataFrame, *, value: str = "error",
                      title: str = "per instance") -> Figure:
    """Grouped bars: `value` (with `std` where present) per `instance`, one bar per
    `candidate`."""
    instances = list(dict.fromkeys(frame["instance"]))
    candidates = list(dict.fromkeys(frame["candidate"]))
    figure = _figure(max(6.0, 1.2 * len(instances) * max(1, len(candidates)) / 3 + 3), 4.2)
    axis = figure.subplots()
    width = 0.8 / max(1, len(candidates))
    for k, candidate in enumerate(candidates):
        rows = frame[frame["candidate"] == candidate].set_index("instance").reindex(instances)
        errors = rows["std"].to_numpy(dtype=float) if "std" in rows.columns else None
        axis.bar(np.arange(len(instances)) + k * width - 0.4 + width / 2, rows[value],
                 width, yerr=errors, label=str(candidate), color=f"C{k % 10}",
                 error_kw={"elinewidth": 0.8, "capsize": 2})
    axis.set_xticks(np.arange(len(instances)), instances)
    axis.set_ylabel(value.replace("_", " "))
    axis.set_title(title)
    axis.legend(fontsize=7, ncols=min(4, len(candidates)))
    axis.grid(axis="y", alpha=0.3)
    return figure
