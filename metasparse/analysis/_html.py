"""report.html: the analysis of a run as one self-contained page of interactive Plotly figures
(plotly.js inline, so it opens offline), with the analyses that report.md leaves to it: partial
dependence and ICE, parallel coordinates, the configuration footprint and the budget correlation
(their tables go beside it as CSV). The figures are those the dashboard shows."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.io as pio
from plotly.offline import get_plotlyjs

from metasparse.analysis._analysis import Analysis
from metasparse.analysis._explore import (
    budget_correlation,
    cost_over_time,
    footprint,
    partial_dependence,
    reference_lines,
    searched_parameters,
    top_searched,
)
from metasparse.analysis._figures import (
    figure_ablation,
    figure_budget_correlation,
    figure_cost_over_time,
    figure_footprint,
    figure_importance,
    figure_parallel,
    figure_pareto,
    figure_partial_dependence,
    figure_per_instance,
    figure_shapley,
)
from metasparse.analysis._wording import ablation_description, instance_title

__all__ = ["PDP_PARAMETERS", "write_html"]

# How many of the most important parameters get a partial-dependence plot (here and in the
# dashboard).
PDP_PARAMETERS = 3


def write_html(analysis: Analysis, out: Path) -> Path:
    """Write report.html (and the CSV tables of its extra analyses) into `out`."""
    main = analysis.main
    trials = pd.concat([r.trials for r in analysis.runs], ignore_index=True)
    sections: list[tuple[str, str, list[Any]]] = []
    sections.append(("Cost over time", "Every trial and the incumbent's trajectory; the "
                     "reference preset's cost as a dashed line.",
                     [figure_cost_over_time(cost_over_time(run), reference_lines(run),
                                            objective=main.objectives[0])
                      for run in analysis.runs]))
    sections.append(("Parameter importance", "fANOVA main effects, and local importance "
                     "around the incumbent (surrogate predictions).",
                     [figure_importance(analysis.importance.main, title="fANOVA: main effects"),
                      figure_importance(analysis.local,
                                        title="local importance around the incumbent")]))
    if not analysis.ablation.empty:
        sections.append(("Ablation path", ablation_description(analysis), [figure_ablation(
            analysis.ablation, title=f"ablation path {analysis.ablation_source} → incumbent")]))
    if analysis.shapley is not None and not analysis.shapley.empty:
        sections.append(("Shapley-value ablation and tunability (HyperSHAP)",
                         "Each parameter's predicted gain averaged over every order of the "
                         "changes from the reference to the incumbent; and the predicted gain "
                         "of tuning it from the reference.",
                         [figure_shapley(analysis.shapley, "shapley",
                                         title="Shapley ablation: reference → incumbent"),
                          figure_shapley(analysis.tunability, "tunability",
                                         title="tunability from the reference")]))
    params = searched_parameters(main)
    if params:
        sections.append(("Parallel coordinates", "One line per trial; colour: cost.",
                         [figure_parallel(trials, params, objective=main.objectives[0])]))
    top = top_searched(analysis.importance.main, analysis.surrogate, PDP_PARAMETERS)
    curves = {name: partial_dependence(analysis.surrogate, trials, name) for name in top}
    if curves:
        pd.concat([c.assign(parameter=n) for n, c in curves.items()]).to_csv(
            out / "partial_dependence.csv", index=False)
        sections.append(("Partial dependence and ICE", f"The {len(curves)} most important "
                         "parameters: the mean prediction (thick) and the curve of each trial "
                         "(thin), changing that parameter alone.",
                         [figure_partial_dependence(c, n) for n, c in curves.items()]))
    points = footprint(analysis.surrogate, trials)
    if not points.empty:
        points.to_csv(out / "footprint.csv", index=False)
        incumbent = (analysis.incumbent_run.incumbent or {}).get("trial_id")
        sections.append(("Configuration footprint", "The configurations placed by "
                         "multidimensional scaling of their distances; colour: cost.",
                         [figure_footprint(points, incumbent)]))
    correlation = budget_correlation(trials)
    if not correlation.empty:
        correlation.to_csv(out / "budget_correlation.csv", index=False)
        sections.append(("Budget correlation", "Spearman correlation of the costs of the "
                         "configurations evaluated at two budgets.",
                         [figure_budget_correlation(correlation)]))
    if analysis.pareto is not None and not analysis.pareto.empty:
        sections.append(("Pareto front", "", [figure_pareto(
            analysis.pareto, main.objectives[:2], analysis.presets)]))
    if not analysis.per_instance.empty:
        sections.append(("Per-instance results", "", [figure_per_instance(
            analysis.per_instance, title=instance_title(main))]))
    path = out / "report.html"
    path.write_text(_page(f"Analysis of {main.name}", sections))
    return path


def _page(title: str, sections: list[tuple[str, str, list[Any]]]) -> str:
    body = [f"<h1>{html.escape(title)}</h1>",
            "<p>Interactive figures (zoom, hover); the tables and the text are in "
            "<a href='report.md'>report.md</a>.</p>"]
    for heading, text, figures in sections:
        body.append(f"<h2>{html.escape(heading)}</h2>")
        if text:
            body.append(f"<p>{html.escape(text)}</p>")
        body += [pio.to_html(figure, include_plotlyjs=False, full_html=False)
                 for figure in figures]
    return ("<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title>"
            f"<script>{get_plotlyjs()}</script></head>"
            "<body style='font-family: sans-serif; max-width: 1200px; margin: auto'>\n"
            + "\n".join(body) + "\n</body></html>\n")
