"""The pages of the dashboard: each draws one analysis of one run from the RunStore, or says in
one line why it cannot (a run still without trials, a single-objective run on the Pareto page, a
directory from an older version)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from dash import dash_table, dcc, html

from metasparse.analysis import (
    PDP_PARAMETERS,
    Results,
    budget_correlation,
    cost_over_time,
    fanova,
    figure_ablation,
    figure_budget_correlation,
    figure_cost_over_time,
    figure_footprint,
    figure_importance,
    figure_parallel,
    figure_pareto,
    figure_partial_dependence,
    figure_per_instance,
    fit_surrogate,
    footprint,
    incumbent_config,
    incumbent_differences,
    instance_title,
    local_importance,
    pareto_trials,
    partial_dependence,
    per_instance,
    reference_lines,
    reference_point,
    searched_parameters,
    surrogate_ablation,
    top_searched,
)
from metasparse.dashboard._format import columns, number, readable, readable_parallel
from metasparse.dashboard._store import RunStore, Unreadable

__all__ = ["PAGES", "render", "runs_overview", "trial_table_records"]

PARALLEL_PARAMETERS = 8  # the axes of more parameters than this are too narrow to read


def note(text: str) -> html.Div:
    return html.Div(text, className="note")


def graph(name: str, figure: Any) -> dcc.Graph:
    return dcc.Graph(id=f"graph-{name}", figure=readable(figure))


def table(frame: pd.DataFrame, table_id: str) -> dash_table.DataTable:
    return dash_table.DataTable(
        id=table_id, columns=columns(frame), data=_records(frame),
        style_table={"overflowX": "auto"},
        style_cell={"fontFamily": "monospace", "fontSize": 12, "textAlign": "left"})


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows: times as ISO strings, missing values empty, numpy scalars plain."""
    rows = []
    for row in frame.to_dict("records"):
        rows.append({str(k): _cell(v) for k, v in row.items()})
    return rows


def _cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return ""
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value if isinstance(value, int | float | str | bool) else str(value)


# ------------------------------------------------------------------ the pages of a run


def _surrogate(store: RunStore, index: int, results: Results) -> Any:
    return store.cached(index, "surrogate", lambda: fit_surrogate(results.trials, results.space))


def _fanova(store: RunStore, index: int, results: Results) -> Any:
    surrogate = _surrogate(store, index, results)
    if isinstance(surrogate, Unreadable):
        return surrogate
    return store.cached(index, "fanova", lambda: fanova(results.trials, results.space,
                                                        surrogate=surrogate))


def page_trials(store: RunStore, index: int, results: Results) -> list[Any]:
    records, specs = trial_table_records(results.trials)
    return [
        html.P(f"{len(records)} trials; sort by a column header, filter in the row below it "
               "(e.g. > 0.5, or success); click a cell for the trial's whole configuration."),
        dash_table.DataTable(
            id="trials-table", data=records,
            columns=specs,
            sort_action="native", filter_action="native", page_size=15,
            style_table={"overflowX": "auto"},
            style_cell={"fontFamily": "monospace", "fontSize": 12, "textAlign": "left"}),
        html.Div(id="trial-config"),
    ]


def trial_table_records(trials: pd.DataFrame) -> tuple[list[dict[str, Any]],
                                                        list[dict[str, Any]]]:
    """The rows of the trials table and its columns: numbers as numbers, so that sorting and
    filtering compare them as such."""
    frame = trials.drop(columns=["run"], errors="ignore")
    return _records(frame), columns(frame)


def page_cost(store: RunStore, index: int, results: Results) -> list[Any]:
    return [graph("cost", figure_cost_over_time(cost_over_time(results), reference_lines(results),
                                                objective=results.objectives[0]))]


def page_incumbent(store: RunStore, index: int, results: Results) -> list[Any]:
    incumbent = results.incumbent or {}
    reference = results.reference or {}
    lines = [f"Incumbent: trial {incumbent.get('trial_id')}, "
             f"cost {number(incumbent.get('cost'))}."]
    if reference:
        lines.append(f"Reference {reference.get('preset')!r} on the same instances: "
                     f"{reference.get('status')}, cost {number(reference.get('cost'))}.")
    differences = incumbent_differences(results)
    config = incumbent_config(results)
    return [html.P(" ".join(lines)),
            html.H4(f"Where the incumbent differs from {results.reference_preset!r}"),
            table(differences, "incumbent-differences"),
            html.H4("The incumbent's full configuration"),
            table(pd.DataFrame({"parameter": list(config),
                                "value": [str(number(v)) for v in config.values()]}),
                  "incumbent-config")]


def page_importance(store: RunStore, index: int, results: Results) -> list[Any]:
    importance = _fanova(store, index, results)
    if isinstance(importance, Unreadable):
        return [note(f"No fANOVA: {importance}")]
    surrogate = _surrogate(store, index, results)
    parts = [graph("fanova", figure_importance(importance.main,
                                               title="fANOVA: main effects"))]
    local = store.cached(index, "local", lambda: local_importance(
        surrogate, incumbent_config(results)))
    if isinstance(local, Unreadable):
        parts.append(note(f"No local importance: {local}"))
    else:
        parts.append(graph("local", figure_importance(
            local, title="local importance around the incumbent")))
    return parts


def page_ablation(store: RunStore, index: int, results: Results) -> list[Any]:
    surrogate = _surrogate(store, index, results)
    if isinstance(surrogate, Unreadable):
        return [note(f"No ablation path: {surrogate}")]
    path = store.cached(index, "ablation", lambda: surrogate_ablation(results, surrogate))
    if isinstance(path, Unreadable):
        return [note(f"No ablation path from {results.reference_preset!r}: {path}")]
    title = f"ablation path {results.reference_preset} → incumbent (surrogate predictions)"
    return [graph("ablation", figure_ablation(path, title=title)), table(path, "ablation-table")]


def page_parallel(store: RunStore, index: int, results: Results) -> list[Any]:
    params = searched_parameters(results)
    if not params:
        return [note("No parameter took more than one value yet.")]
    parts: list[Any] = []
    if len(params) > PARALLEL_PARAMETERS:
        importance = _fanova(store, index, results)
        if isinstance(importance, Unreadable):
            parts.append(note(f"The first {PARALLEL_PARAMETERS} of the {len(params)} searched "
                              f"parameters (no fANOVA to rank them: {importance})."))
            params = params[:PARALLEL_PARAMETERS]
        else:
            parts.append(html.P(f"The {PARALLEL_PARAMETERS} most important of the "
                                f"{len(params)} searched parameters (fANOVA), most important "
                                "first."))
            params = top_searched(importance.main, _surrogate(store, index, results),
                                  PARALLEL_PARAMETERS)
    figure = figure_parallel(results.trials, params, objective=results.objectives[0])
    return [*parts, graph("parallel", readable_parallel(figure))]


def page_pdp(store: RunStore, index: int, results: Results) -> list[Any]:
    importance = _fanova(store, index, results)
    if isinstance(importance, Unreadable):
        return [note(f"No partial dependence: {importance}")]
    surrogate = _surrogate(store, index, results)
    top = top_searched(importance.main, surrogate, PDP_PARAMETERS)
    parts: list[Any] = [html.P(f"The {PDP_PARAMETERS} most important parameters (fANOVA): "
                               "partial dependence (thick) and ICE curves of the trials "
                               "(thin), predicted by the random-forest surrogate.")]
    for k, name in enumerate(top):
        ice = store.cached(index, f"ice:{name}", lambda name=name: partial_dependence(
            surrogate, results.trials, name))
        parts.append(note(f"{name}: {ice}") if isinstance(ice, Unreadable)
                     else graph(f"pdp-{k}", figure_partial_dependence(ice, name)))
    return parts


def page_footprint(store: RunStore, index: int, results: Results) -> list[Any]:
    surrogate = _surrogate(store, index, results)
    if isinstance(surrogate, Unreadable):
        return [note(f"No footprint: {surrogate}")]
    points = store.cached(index, "footprint", lambda: footprint(surrogate, results.trials))
    if isinstance(points, Unreadable):
        return [note(f"No footprint: {points}")]
    incumbent = (results.incumbent or {}).get("trial_id")
    return [graph("footprint", figure_footprint(points, incumbent))]


def page_budget(store: RunStore, index: int, results: Results) -> list[Any]:
    correlation = budget_correlation(results.trials)
    if correlation.empty:
        budgets = sorted(results.trials["budget"].dropna().unique())
        return [note(f"Budget correlation needs trials at several budgets (a multi-fidelity "
                     f"run); this run's budgets: {[f'{b:g}' for b in budgets]}.")]
    return [graph("budget", figure_budget_correlation(correlation)),
            table(correlation, "budget-table")]


def page_pareto(store: RunStore, index: int, results: Results) -> list[Any]:
    if not results.multi_objective:
        return [note(f"The Pareto front needs two objectives; this run tunes "
                     f"{results.objectives[0]!r} only.")]
    points = pareto_trials(results)
    return [graph("pareto", figure_pareto(points, results.objectives[:2],
                                          reference_point(results)))]


def page_instances(store: RunStore, index: int, results: Results) -> list[Any]:
    frame = per_instance(results)
    if frame.empty:
        return [note("No per-instance results yet (no successful trial).")]
    return [graph("instances", figure_per_instance(
        frame, title=f"{instance_title(results)} (incumbent and reference)")),
        table(frame, "instances-table")]


PAGES: dict[str, tuple[str, Callable[[RunStore, int, Results], list[Any]]]] = {
    "trials": ("Trials", page_trials),
    "cost": ("Cost over time", page_cost),
    "incumbent": ("Incumbent vs reference", page_incumbent),
    "importance": ("Importance", page_importance),
    "ablation": ("Ablation path", page_ablation),
    "parallel": ("Parallel coordinates", page_parallel),
    "pdp": ("Partial dependence", page_pdp),
    "footprint": ("Footprint", page_footprint),
    "budget": ("Budget correlation", page_budget),
    "pareto": ("Pareto front", page_pareto),
    "instances": ("Per instance", page_instances),
}


def runs_overview(store: RunStore) -> list[Any]:
    """Every run: its trials so far against its n_trials, best cost, and what cannot be read."""
    rows = []
    now = time.time()
    for index, directory in enumerate(store.directories):
        count = store.trials(index).total
        results = store.results(index)
        row = {"run": index, "directory": str(directory), "trials": count}
        if isinstance(results, Unreadable):
            row.update({"name": directory.name, "progress": "", "best cost": "",
                        "last trial": "", "note": f"cannot analyze: {results}"})
        else:
            target = results.settings.n_trials
            ends = results.trials["end_time"].dropna() if len(results.trials) else []
            last = f"{now - ends.max().timestamp():.0f} s ago" if len(ends) else "-"
            row.update({"name": results.name, "optimizer": results.label,
                        "progress": f"{count}/{target} ({100 * count / target:.0f}%)"
                        if target else str(count),
                        "best cost": number((results.incumbent or {}).get("cost", "")),
                        "last trial": last, "note": ""})
        rows.append(row)
    frame = pd.DataFrame(rows)
    return [html.P("The runs this dashboard reads (live: a new trial shows without a reload). "
                   "Choose one above and a page."), table(frame, "runs-table")]


def render(store: RunStore, page: str, index: int | None) -> list[Any]:
    """The content of a page; a run that cannot be read shows its raw trials and why."""
    if page in ("", "runs"):
        return runs_overview(store)
    if page not in PAGES:
        return [note(f"There is no page {page!r}; the pages are {['runs', *PAGES]}.")]
    if index is None or not 0 <= index < len(store.directories):
        return [note("Choose a run.")]
    results = store.results(index)
    trials = store.trials(index)
    if isinstance(results, Unreadable):
        return [note(f"{store.directories[index]} cannot be analyzed: {results}. Its raw "
                     f"trials.csv ({trials.summary()}) is below."),
                table(trials.rows, "raw-trials")]
    if results.trials.empty:
        return [note("No finished trial yet; this page fills in as trials finish.")]
    title, draw = PAGES[page]
    content = store.cached(index, f"page:{page}", lambda: draw(store, index, results))
    if isinstance(content, Unreadable):
        return [note(f"{title}: cannot be drawn for this run: {content}")]
    left_out = [] if len(trials.rows) == trials.total else [note(trials.summary())]
    return [html.H3(title), *left_out, *content]
