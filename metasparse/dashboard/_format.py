"""How the dashboard shows numbers and lays out the figures of metasparse.analysis: every number
with SIGNIFICANT digits (tables, text and hover text), a legend clear of the colour bar, and
parallel coordinates with room for their labels."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go

__all__ = ["NUMBER", "SIGNIFICANT", "columns", "number", "readable", "readable_parallel"]

SIGNIFICANT = 4
# d3-format (Plotly's hover text, the tables' number columns): SIGNIFICANT digits, no trailing 0s
NUMBER = f".{SIGNIFICANT}~g"
PARALLEL_MARGIN = {"l": 80, "r": 40, "t": 110, "b": 40}  # the labels sit above the range text
CARTESIAN = ("scatter", "bar", "heatmap")  # the traces of the figures drawn on x and y axes


def number(value: Any) -> Any:
    """A float as text with SIGNIFICANT digits (0.048611111111111105: '0.04861'); any other
    value as it is."""
    return f"{value:.{SIGNIFICANT}g}" if isinstance(value, float) else value


def columns(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A DataTable's columns for `frame`: numbers as numbers (sorted and filtered as such, also in
    a column of mixed type, a configuration's, of numbers and missing values), floats shown with
    NUMBER."""
    specs = []
    for name in frame.columns:
        numeric, floats = _numbers(frame[name])
        spec: dict[str, Any] = {"name": str(name), "id": str(name),
                                "type": "numeric" if numeric else "text"}
        if floats:
            spec["format"] = {"specifier": NUMBER}
        specs.append(spec)
    return specs


def _numbers(values: pd.Series) -> tuple[bool, bool]:
    """Whether a column holds numbers, and whether floats among them."""
    if pd.api.types.is_numeric_dtype(values):
        return True, pd.api.types.is_float_dtype(values)
    present = values.dropna().tolist()
    numeric = bool(present) and all(isinstance(v, int | float) and not isinstance(v, bool)
                                    for v in present)
    return numeric, numeric and any(isinstance(v, float) for v in present)


def readable(figure: go.Figure) -> go.Figure:
    """`figure` with its hover text in NUMBER (the axes' values, a heatmap's z and a marker's
    colour), and its legend in a row above the plot where markers have a colour bar (which
    takes the legend's place, right of the plot)."""
    if any(trace.type in CARTESIAN for trace in figure.data):
        figure.update_xaxes(hoverformat=NUMBER)
        figure.update_yaxes(hoverformat=NUMBER)
    figure.update_traces(zhoverformat=NUMBER, selector={"type": "heatmap"})
    for trace in figure.data:
        template = getattr(trace, "hovertemplate", None)
        if template:
            trace.hovertemplate = template.replace("%{marker.color}",
                                                   f"%{{marker.color:{NUMBER}}}")
    colour_bar = any(getattr(getattr(trace, "marker", None), "showscale", False)
                     for trace in figure.data)
    if colour_bar and len(figure.data) > 1:  # a legend: below the title, above the plot
        figure.update_layout(legend={"orientation": "h", "x": 0, "xanchor": "left",
                                     "y": 1.02, "yanchor": "bottom"}, margin={"t": 90})
    return figure


def readable_parallel(figure: go.Figure) -> go.Figure:
    """Parallel coordinates with their numbers in NUMBER and room above the axes for the labels
    (and below the title)."""
    for trace in figure.data:
        for dimension in trace.dimensions:
            if dimension.ticktext is None:
                dimension.tickformat = NUMBER
    figure.update_layout(margin=PARALLEL_MARGIN)
    return figure
