"""One table of views (VIEWS) that report.html and the dashboard both draw: for one run, each
view either shows the same figures in both or is left out of the report and explained on the
dashboard; a view added to the table shows in both."""

from __future__ import annotations

import re

import pytest
from test_html import figures

from metasparse.analysis import VIEWS, AnalysisSource, Drawn, NoView, View, analyze, load_results
from metasparse.analysis._html import write_html
from metasparse.dashboard import PAGES, RunStore, discover_runs, render


def dashboard_figures(content: list) -> list[str]:
    return [c.figure.layout.title.text for c in content if getattr(c, "figure", None)]


@pytest.mark.parametrize("run", ["tiny_run", "tiny_mo_run", "tiny_mf_run"])
def test_the_report_and_the_dashboard_draw_the_same_views(run, request, tmp_path):
    directory = request.getfixturevalue(run)
    analysis = analyze([load_results(directory)], progress=False)
    page = (write_html(analysis, tmp_path)).read_text()
    sections = re.findall(r"<h2>(.*?)</h2>", page)
    report = figures(page)
    store = RunStore(discover_runs([directory]))
    shown, left_out = [], []
    for key, view in VIEWS.items():
        assert PAGES[key][0] == view.title  # the dashboard's page of the view
        content = render(store, key, 0)
        drawn = dashboard_figures(content)
        if drawn:
            shown.append(view.title)
            assert set(drawn) <= set(report), key  # the same figures, by their titles
        else:
            left_out.append(key)
            with pytest.raises(NoView):
                view.draw(AnalysisSource(analysis))
    assert [s.replace("&amp;", "&") for s in sections] == shown
    expected = {"tiny_run": {"budget", "pareto"}, "tiny_mo_run": {"budget"},
                "tiny_mf_run": {"pareto"}}[run]
    assert expected <= set(left_out)


def test_a_view_added_to_the_table_shows_in_the_report(tiny_run, tmp_path, monkeypatch):
    analysis = analyze([load_results(tiny_run)], progress=False)
    seen = []

    def draw(source):
        seen.append(len(source.trials))
        return Drawn("trials per status", [], [("statuses", source.trials["status"]
                                                .value_counts().reset_index())])

    monkeypatch.setitem(VIEWS, "statuses", View("statuses", "Trial statuses", draw))
    page = write_html(analysis, tmp_path).read_text()
    assert "<h2>Trial statuses</h2>" in page and "trials per status" in page
    assert seen == [len(analysis.main.trials)]
    assert (tmp_path / "statuses.csv").read_text().splitlines()[0] == "status,count"
