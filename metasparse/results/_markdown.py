"""Tables of the reports (report.md of `metasparse analyze` and of the studies) as Markdown."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["format_number", "markdown_table"]


def format_number(value: Any) -> str:
    """A cell of a report: '-' for a missing value, 4 significant digits (scientific notation
    outside [1e-3, 1e5)), integers and booleans as they are."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        value = float(value)
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
            return f"{value:.3e}"
        return f"{value:.4g}"
    return str(value)


def markdown_table(frame: pd.DataFrame, digits: int | None = None) -> list[str]:
    """The lines of a Markdown table of `frame` (its index left out). Cells are written by
    `format_number`, unless `digits` is given: then floats get that many decimals and the
    columns are padded to align (numbers to the right), as the studies' reports have them."""
    if digits is not None:
        return frame.to_markdown(index=False, floatfmt=f".{digits}f").split("\n")
    columns = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for row in frame.itertuples(index=False, name=None):
        cells = [format_number(v).replace("|", "\\|") for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return lines
