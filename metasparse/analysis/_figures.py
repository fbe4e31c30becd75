"""Interactive figures (Plotly) of the analyses: the dashboard shows them and `metasparse analyze`
writes them into report.html. Each takes the plain tables that the analysis functions return."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from metasparse.analysis._explore import pdp_of
from metasparse.results import CONFIG_PREFIX, OBJECTIVES

__all__ = ["figure_ablation", "figure_budget_correlation", "figure_cost_over_time",
           "figure_footprint", "figure_importance", "figure_parallel", "figure_pareto",
           "figure_partial_dependence", "figure_per_instance", "figure_shapley"]

_LAYOUT = {"template": "plotly_white", "margin": {"l": 60, "r": 20, "t": 50, "b": 50}}


def _label(objective: str) -> str:
    known = OBJECTIVES.get(objective)
    return known.label if known is not None else objective


def _figure(title: str, **layout: Any) -> go.Figure:
    return go.Figure(layout={**_LAYOUT, "title": title, **layout})


def figure_cost_over_time(frame: pd.DataFrame, references: dict[str, float] | None = None, *,
                          objective: str = "val_error") -> go.Figure:
    """Every trial's cost against the seconds since the run started, the incumbent's trajectory
    as a step line, and each reference (a preset's cost on the same instances) as a dashed
    horizontal line."""
    figure = _figure("cost over time", xaxis_title="seconds since the run started",
                     yaxis_title=_label(objective))
    figure.add_scatter(x=frame["elapsed_s"], y=frame["cost"], mode="markers", name="trials",
                       customdata=np.stack([frame["trial_id"], frame["status"]], axis=1)
                       if len(frame) else None,
                       hovertemplate="trial %{customdata[0]} (%{customdata[1]}): %{y}"
                                     "<extra></extra>")
    figure.add_scatter(x=frame["elapsed_s"], y=frame["incumbent_cost"], mode="lines",
                       line_shape="hv", name="incumbent")
    for name, cost in (references or {}).items():
        figure.add_hline(y=cost, line_dash="dash", annotation_text=name,
                         annotation_position="top left")
    return figure


def figure_importance(main: pd.DataFrame, *, value: str = "importance", title: str,
                      top: int = 15) -> go.Figure:
    """Horizontal bars of the `top` parameters by `value` (with `std` as error bars if given)."""
    shown = main[main[value] > 0].head(top).iloc[::-1]
    figure = _figure(title, xaxis_title="share of variance",
                     height=max(300, 28 * len(shown) + 120))
    error = {"type": "data", "array": shown["std"]} if "std" in shown.columns else None
    figure.add_bar(x=shown[value], y=shown["parameter"], orientation="h", error_x=error,
                   name=value)
    return figure


def figure_shapley(frame: pd.DataFrame, value: str, *, title: str) -> go.Figure:
    """Horizontal bars of a Shapley value per parameter (negative ones too)."""
    shown = frame.iloc[::-1]
    figure = _figure(title, xaxis_title="predicted cost gained",
                     height=max(300, 28 * len(shown) + 120))
    figure.add_bar(x=shown[value], y=shown["parameter"], orientation="h", name=value)
    return figure


def figure_ablation(path: pd.DataFrame, *, title: str) -> go.Figure:
    """The cost after each step of the ablation path (step 0: the reference)."""
    labels = [f"{k}: {p}" for k, p in enumerate(path["parameter"])]
    figure = _figure(title, xaxis_title="step", yaxis_title="cost")
    figure.add_scatter(x=labels, y=path["cost"], mode="lines+markers", name="cost")
    return figure


def figure_parallel(trials: pd.DataFrame, params: Sequence[str], *,
                    objective: str = "val_error") -> go.Figure:
    """Parallel coordinates of the trials: one axis per parameter (choices as ticks, numbers on
    a log10 axis where every value is positive and they span more than a decade; inactive
    values at the bottom, as -), the cost as the last axis and the colour."""
    dimensions = []
    for name in params:
        values = trials[f"{CONFIG_PREFIX}{name}"]
        dimensions.append(_dimension(name, values))
    cost = trials["cost"].to_numpy(dtype=float)
    dimensions.append({"label": "cost", "values": cost})
    figure = _figure("parallel coordinates", height=480)
    figure.add_trace(go.Parcoords(line={"color": cost, "colorscale": "Viridis_r",
                                        "showscale": True}, dimensions=dimensions))
    return figure


def _dimension(name: str, values: pd.Series) -> dict[str, Any]:
    present = values.dropna()
    numeric = len(present) and all(isinstance(v, int | float) and not isinstance(v, bool)
                                   for v in present)
    if numeric:
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        finite = numbers[np.isfinite(numbers)]
        if len(finite) and finite.min() > 0 and finite.max() / finite.min() > 10:
            return {"label": f"log10 {name}", "values": np.log10(numbers)}
        return {"label": name, "values": numbers}
    labels = ["-" if v is None or (isinstance(v, float) and v != v) else str(v) for v in values]
    choices = sorted(set(labels) - {"-"})
    ticks = (["-"] if "-" in labels else []) + choices
    codes = [ticks.index(label) for label in labels]
    return {"label": name, "values": codes, "tickvals": list(range(len(ticks))),
            "ticktext": ticks}


def figure_partial_dependence(ice: pd.DataFrame, parameter: str) -> go.Figure:
    """The ICE curves (thin) and their mean, the partial dependence (thick)."""
    figure = _figure(f"partial dependence of {parameter}", xaxis_title=parameter,
                     yaxis_title="predicted cost", showlegend=False)
    for trial_id, curve in ice.groupby("trial_id", sort=False):
        figure.add_scatter(x=curve["value"].astype(str) if _categorical(curve) else
                           curve["value"], y=curve["cost"], mode="lines",
                           line={"width": 1, "color": "rgba(100,100,100,0.3)"},
                           name=f"trial {trial_id}", hoverinfo="skip")
    pdp = pdp_of(ice)
    figure.add_scatter(x=pdp["value"].astype(str) if _categorical(pdp) else pdp["value"],
                       y=pdp["mean"], mode="lines+markers", line={"width": 3},
                       name="partial dependence")
    if not _categorical(pdp) and len(pdp) and pdp["value"].min() > 0 \
            and pdp["value"].max() / pdp["value"].min() > 10:
        figure.update_xaxes(type="log")
    return figure


def _categorical(frame: pd.DataFrame) -> bool:
    return not all(isinstance(v, int | float) and not isinstance(v, bool)
                   for v in frame["value"])


def figure_footprint(points: pd.DataFrame, incumbent: Any = None) -> go.Figure:
    """The configurations in the plane (MDS), coloured by cost; the incumbent as a star."""
    figure = _figure("configuration footprint (MDS of the configurations)",
                     xaxis_title="MDS 1", yaxis_title="MDS 2")
    figure.add_scatter(x=points["x"], y=points["y"], mode="markers", name="trials",
                       marker={"color": points["cost"], "colorscale": "Viridis_r",
                               "showscale": True, "size": 9},
                       customdata=points["trial_id"],
                       hovertemplate="trial %{customdata}: cost %{marker.color}<extra></extra>")
    best = points[points["trial_id"] == incumbent] if incumbent is not None else points[:0]
    if len(best):
        figure.add_scatter(x=best["x"], y=best["y"], mode="markers", name="incumbent",
                           marker={"symbol": "star", "size": 16, "color": "red"})
    return figure


def figure_budget_correlation(correlation: pd.DataFrame) -> go.Figure:
    """Spearman correlation of the costs between each pair of budgets (heatmap)."""
    budgets = sorted(set(correlation["budget_1"]) | set(correlation["budget_2"]))
    matrix = pd.DataFrame(np.eye(len(budgets)), index=budgets, columns=budgets)
    for row in correlation.itertuples():
        matrix.loc[row.budget_1, row.budget_2] = matrix.loc[row.budget_2, row.budget_1] = \
            row.correlation
    labels = [f"{b:g}" for b in budgets]
    figure = _figure("budget correlation (Spearman, costs of the same configurations)",
                     xaxis_title="budget (epochs)", yaxis_title="budget (epochs)")
    figure.add_heatmap(z=matrix.to_numpy(), x=labels, y=labels, zmin=-1, zmax=1,
                       colorscale="RdBu", text=np.round(matrix.to_numpy(), 2),
                       texttemplate="%{text}")
    return figure


def figure_pareto(points: pd.DataFrame, objectives: Sequence[str],
                  presets: pd.DataFrame | None = None) -> go.Figure:
    """The trials in the two objectives, the Pareto front as a step line, presets as crosses."""
    figure = _figure("Pareto front", xaxis_title=_label(objectives[0]),
                     yaxis_title=_label(objectives[1]))
    figure.add_scatter(x=points["cost"], y=points["cost_2"], mode="markers", name="trials",
                       customdata=points["trial_id"],
                       hovertemplate="trial %{customdata}: %{x}, %{y}<extra></extra>")
    front = points[points["on_front"]].sort_values("cost")
    figure.add_scatter(x=front["cost"], y=front["cost_2"], mode="lines+markers",
                       line_shape="hv", name="front")
    if presets is not None and not presets.empty:
        figure.add_scatter(x=presets["cost"], y=presets["cost_2"], mode="markers+text",
                           text=presets["preset"], textposition="top center", name="presets",
                           marker={"symbol": "x", "size": 12})
    return figure


def figure_per_instance(frame: pd.DataFrame, *, title: str) -> go.Figure:
    """Grouped bars: the error of each candidate on each instance, with standard deviations."""
    figure = _figure(title, xaxis_title="instance", yaxis_title="error", barmode="group")
    for candidate, group in frame.groupby("candidate", sort=False):
        figure.add_bar(x=group["instance"], y=group["error"], name=str(candidate),
                       error_y={"type": "data", "array": group["std"]})
    return figure
