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
    VIEWS,
    Ablation,
    Drawn,
    NoView,
    Results,
    Source,
    explain_shapley,
    fanova,
    fit_surrogate,
    incumbent_config,
    incumbent_differences,
    local_importance,
    pareto_trials,
    per_instance,
    preset_config,
    reference_point,
    surrogate_ablation,
)
from metasparse.dashboard._format import columns, number, readable, readable_parallel
from metasparse.dashboard._store import RunStore, Unreadable

__all__ = ["PAGES", "RunSource", "render", "runs_overview", "trial_table_records"]


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


class RunSource(Source):
    """One run of the store, whose analyses are computed when a page first needs them and kept
    by the store until the run has another trial."""

    def __init__(self, store: RunStore, index: int, results: Results) -> None:
        super().__init__([results])
        self.store, self.index = store, index

    def cached(self, key: str, compute: Callable[[], Any]) -> Any:
        value = self.store.cached(self.index, key, compute)
        if isinstance(value, Unreadable):
            raise NoView(f"{key}: {value}")
        return value

    def surrogate(self) -> Any:
        return self.cached("surrogate", lambda: fit_surrogate(self.trials, self.main.space))

    def importance(self) -> pd.DataFrame:
        return self.cached("fanova", lambda: fanova(
            self.trials, self.main.space, surrogate=self.surrogate())).main

    def local(self) -> pd.DataFrame:
        return self.cached("local", lambda: local_importance(
            self.surrogate(), incumbent_config(self.main)))

    def ablation(self) -> Ablation:
        path = self.cached("ablation", lambda: surrogate_ablation(self.main, self.surrogate()))
        return Ablation(path, self.main.reference_preset, "surrogate predictions")

    def shapley(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        def compute() -> tuple[pd.DataFrame, pd.DataFrame]:
            source = preset_config(self.main.reference_preset, self.main.fixed)
            shapley, tunable, why = explain_shapley(
                self.surrogate(), source, incumbent_config(self.main), self.importance())
            if shapley is None or tunable is None:
                raise NoView(why)
            return shapley, tunable
        return self.cached("shapley", compute)

    def pareto(self) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        return pareto_trials(self.main), reference_point(self.main)

    def per_instance(self) -> pd.DataFrame:
        return per_instance(self.main)


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


def _view_page(key: str) -> Callable[[RunStore, int, Results], list[Any]]:
    """The page of the view `key` of VIEWS, or a note why this run cannot show it."""
    def page(store: RunStore, index: int, results: Results) -> list[Any]:
        try:
            drawn: Drawn = VIEWS[key].draw(RunSource(store, index, results))
        except NoView as why:
            return [note(str(why))]
        figures = [graph(name, readable_parallel(figure) if name == "parallel" else figure)
                   for name, figure in drawn.figures]
        tables = [table(frame, f"{name}-table") for name, frame in drawn.tables]
        return [*([html.P(drawn.text)] if drawn.text else []), *figures, *tables]
    return page


# The pages: the trials table, the incumbent, and every view of the analysis (VIEWS).
_VIEW_PAGES = {key: (view.title, _view_page(key)) for key, view in VIEWS.items()}
PAGES: dict[str, tuple[str, Callable[[RunStore, int, Results], list[Any]]]] = {
    "trials": ("Trials", page_trials),
    "cost": _VIEW_PAGES.pop("cost"),
    "incumbent": ("Incumbent vs reference", page_incumbent),
    **_VIEW_PAGES,
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
