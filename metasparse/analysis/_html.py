"""report.html: the analysis of a run as one self-contained page of interactive Plotly figures
(plotly.js inline, so it opens offline), with the analyses that report.md leaves to it: partial
dependence and ICE, parallel coordinates, the configuration footprint and the budget correlation
(their tables go beside it as CSV). Its views are those the dashboard shows (_views.VIEWS)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import plotly.io as pio
from plotly.offline import get_plotlyjs

from metasparse.analysis._analysis import Analysis
from metasparse.analysis._views import VIEWS, AnalysisSource, NoView

__all__ = ["write_html"]


def write_html(analysis: Analysis, out: Path) -> Path:
    """Write report.html (and the CSV tables of its views) into `out`: every view of VIEWS
    that the analysis can show, in the table's order."""
    source = AnalysisSource(analysis)
    sections: list[tuple[str, str, list[Any]]] = []
    for view in VIEWS.values():
        try:
            drawn = view.draw(source)
        except NoView:
            continue
        for name, frame in [*drawn.tables, *drawn.data]:
            frame.to_csv(out / f"{name}.csv", index=False)
        sections.append((view.title, drawn.text, [figure for _, figure in drawn.figures]))
    path = out / "report.html"
    path.write_text(_page(f"Analysis of {analysis.main.name}", sections))
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
