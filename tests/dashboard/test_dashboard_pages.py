"""Pages that the browser test's single-budget run cannot show: the budget correlation of a real
multi-fidelity run, and every preset that `analyze --presets` trained as a reference line; and
how the pages show numbers and lay out their figures, read from the components they return."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from dashboard_helpers import copy_reference, long_numbers, page_text

from metasparse.analysis import (
    PARALLEL_PARAMETERS,
    budget_correlation,
    load_results,
    searched_parameters,
)
from metasparse.dashboard import RunStore, discover_runs, render
from metasparse.dashboard._format import NUMBER, columns, number
from metasparse.results import REPORT


def graph(content: list, name: str):
    return next(c for c in content if getattr(c, "id", None) == f"graph-{name}").figure


def component(content: list, component_id: str):
    return next(c for c in content if getattr(c, "id", None) == component_id)


def test_the_budget_page_of_a_multi_fidelity_run(tiny_mf_run):
    store = RunStore(discover_runs([tiny_mf_run]))
    heatmap = graph(render(store, "budget", 0), "budget").data[0]
    table = budget_correlation(load_results(tiny_mf_run).trials)
    budgets = sorted(set(table["budget_1"]) | set(table["budget_2"]))
    assert list(heatmap.x) == [f"{b:g}" for b in budgets]
    z = pd.DataFrame(heatmap.z, index=budgets, columns=budgets)
    assert z.to_numpy() == pytest.approx(z.T.to_numpy(), nan_ok=True)  # symmetric
    for row in table.itertuples():
        assert z.loc[row.budget_1, row.budget_2] == pytest.approx(row.correlation, nan_ok=True)
    assert (np.diag(z) == 1.0).all()


def test_the_cost_page_draws_every_trained_preset(tmp_path):
    run = copy_reference(tmp_path)
    store = RunStore(discover_runs([run]))
    lines = graph(render(store, "cost", 0), "cost").layout.shapes
    assert len(lines) == 1  # the reference preset of reference.yaml
    (run / REPORT).mkdir()
    pd.DataFrame({"preset": ["rigl", "set", "static"], "status": ["success", "success", "failed"],
                  "cost": [0.3, 0.25, 1.0]}).to_csv(run / REPORT / "presets.csv", index=False)
    store = RunStore(discover_runs([run]))
    figure = graph(render(store, "cost", 0), "cost")
    assert sorted(shape.y0 for shape in figure.layout.shapes) == \
        sorted([0.25, load_results(run).reference["cost"]])  # rigl is the reference; static failed
    assert {a.text for a in figure.layout.annotations} == {"set", "rigl (reference)"}


def test_numbers_as_text_have_four_significant_digits():
    assert number(0.048611111111111105) == "0.04861"
    assert number(0.5) == "0.5"
    assert number(301803840.0) == "3.018e+08"
    assert [number(v) for v in (7, True, "0.123456789", None)] == [7, True, "0.123456789", None]


def test_table_columns_show_floats_with_four_significant_digits():
    configs = {"config.lr": [0.0012345678, None], "config.batch_size": [64, 128],
               "config.model": ["mlp", "cnn"], "config.nesterov": [True, False],
               "config.zeta": [0.3, "cosine"]}  # of mixed type, as read from trials.csv
    frame = pd.DataFrame({"cost": [0.048611111111111105, np.nan], "trial_id": [1, 2],
                          **{k: pd.Series(v, dtype=object) for k, v in configs.items()}})
    specs = {c["id"]: (c["type"], c.get("format")) for c in columns(frame)}
    assert specs == {"cost": ("numeric", {"specifier": NUMBER}), "trial_id": ("numeric", None),
                     "config.lr": ("numeric", {"specifier": NUMBER}),
                     "config.batch_size": ("numeric", None), "config.model": ("text", None),
                     "config.nesterov": ("text", None), "config.zeta": ("text", None)}


def test_the_pages_show_short_numbers(tmp_path):
    store = RunStore(discover_runs([copy_reference(tmp_path)]))
    for page in ("runs", "incumbent", "ablation", "instances"):
        content = render(store, page, 0)
        text = page_text([c for c in content if not hasattr(c, "data")])  # the text, no table
        assert long_numbers(text) == [], page
        for table in (c for c in content if hasattr(c, "data")):
            # a column with a format is shown through it (d3-format, in the browser)
            shown = [c["id"] for c in table.columns if c.get("format") != {"specifier": NUMBER}]
            text = " ".join(str(row[c]) for row in table.data for c in shown)
            assert long_numbers(text) == [], (page, table.id)
    overview = component(render(store, "runs", 0), "runs-table").data[0]
    assert overview["best cost"] == "0.08293"  # 0.08293269230769229
    trials = component(render(store, "trials", 0), "trials-table")
    formatted = {c["id"] for c in trials.columns if c.get("format") == {"specifier": NUMBER}}
    assert {"cost", "val_error", "wall_time_s", "config.grow_random_ratio"} <= formatted


def test_hover_text_shows_four_significant_digits(tmp_path, tiny_mf_run):
    store = RunStore(discover_runs([copy_reference(tmp_path), tiny_mf_run]))
    cost = graph(render(store, "cost", 0), "cost")
    assert (cost.layout.xaxis.hoverformat, cost.layout.yaxis.hoverformat) == (NUMBER, NUMBER)
    footprint = graph(render(store, "footprint", 0), "footprint")
    assert f"%{{marker.color:{NUMBER}}}" in footprint.data[0].hovertemplate
    assert graph(render(store, "budget", 1), "budget").data[0].zhoverformat == NUMBER


def test_the_footprint_legend_is_above_the_plot_clear_of_the_colour_bar(tmp_path):
    store = RunStore(discover_runs([copy_reference(tmp_path)]))
    figure = graph(render(store, "footprint", 0), "footprint")
    bar, legend = figure.data[0].marker.colorbar, figure.layout.legend
    # the colour bar where Plotly puts it (right of the plot, from its bottom to its top), the
    # legend (the trials and the incumbent) in a row above the plot
    assert (bar.x, bar.y, bar.len, legend.orientation, legend.yanchor) == \
        (None, None, None, "h", "bottom") and legend.y >= 1


def test_parallel_coordinates_of_many_parameters_draw_the_most_important(tiny_mo_run):
    searched = len(searched_parameters(load_results(tiny_mo_run)))  # 27
    store = RunStore(discover_runs([tiny_mo_run]))
    content = render(store, "parallel", 0)
    assert f"The {PARALLEL_PARAMETERS} most important of the {searched} searched parameters" \
        in page_text(content)
    figure = graph(content, "parallel")
    labels = [d.label for d in figure.data[0].dimensions]
    assert len(labels) == PARALLEL_PARAMETERS + 1 and labels[-1] == "cost"
    importance = graph(render(store, "importance", 0), "fanova").data[0]
    top = list(importance.y[::-1][:PARALLEL_PARAMETERS])  # the bars, most important on top
    assert [label.removeprefix("log10 ") for label in labels[:len(top)]] == top
    assert figure.layout.margin.t >= 100  # room for the labels below the title
    assert all(d.tickformat == NUMBER for d in figure.data[0].dimensions if d.ticktext is None)


def test_the_help_names_the_pages_that_the_dashboard_has():
    from metasparse.dashboard import PAGES
    from metasparse.dashboard._names import PAGE_NAMES

    assert list(PAGES) == PAGE_NAMES
