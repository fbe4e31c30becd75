"""report.html: a self-contained page of the run's interactive figures, written by `analyze`."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pandas as pd

from metasparse.analysis import (
    PARALLEL_PARAMETERS,
    PDP_PARAMETERS,
    load_results,
    searched_parameters,
)
from metasparse.cli import main


def figures(page: str) -> dict[str, list[dict]]:
    """The traces of every Plotly figure of the page, by its title."""
    found = {}
    decoder = json.JSONDecoder()
    for match in re.finditer(r'Plotly\.newPlot\(\s*"[^"]+",\s*', page):
        traces, end = decoder.raw_decode(page, match.end())
        layout, _ = decoder.raw_decode(page, page.index("{", end))
        found[layout["title"]["text"]] = traces
    return found


def length(values) -> int:
    """The number of values of a trace array (Plotly writes numpy arrays as base64 typed
    arrays)."""
    if isinstance(values, dict):
        return len(np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]))
    return len(values)


def test_report_html_holds_every_figure_offline(tiny_run, tmp_path):
    output = tmp_path / "report"
    assert main(["analyze", str(tiny_run), "--output", str(output), "--no-progress"]) == 0
    page = (output / "report.html").read_text()
    assert not re.search(r"<script[^>]+src=", page)  # nothing loaded from elsewhere
    assert len(page) > 3_000_000  # plotly.js inline
    results = load_results(tiny_run)
    n = len(results.trials)
    drawn = figures(page)
    cost = drawn["cost over time"]
    assert [length(t["x"]) for t in cost] == [n, n]
    importance = pd.read_csv(output / "importance.csv")
    searched = importance[importance["status"] == "searched"]["parameter"]
    assert len(searched_parameters(results)) > PARALLEL_PARAMETERS
    parallel = drawn["parallel coordinates"][0]["dimensions"]  # the most important, as the
    assert [d["label"].removeprefix("log10 ") for d in parallel] == \
        [*searched[:PARALLEL_PARAMETERS], "cost"]  # dashboard draws them
    assert all(length(d["values"]) == n for d in parallel)
    assert length(drawn["configuration footprint (MDS of the configurations)"][0]["x"]) == n
    curves = pd.read_csv(output / "partial_dependence.csv")
    top = list(dict.fromkeys(curves["parameter"]))
    assert top == list(searched[:PDP_PARAMETERS])
    for name in top:
        traces = drawn[f"partial dependence of {name}"]
        assert len(traces) == curves[curves["parameter"] == name]["trial_id"].nunique() + 1
    assert "fANOVA: main effects" in drawn and "ablation path rigl → incumbent" in drawn
    assert "budget correlation" not in " ".join(drawn)  # one budget: nothing to correlate
    assert (output / "footprint.csv").is_file()
    assert not (output / "budget_correlation.csv").exists()
    assert "[report.html](report.html)" in (output / "report.md").read_text()
