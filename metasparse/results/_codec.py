"""The cells of a results table: configuration values, numbers and time stamps, written and read
back (a `config.<name>` cell holds the space's value; empty where the parameter is inactive)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from metasparse.space import choices_of, is_integer, kind_of

__all__ = ["format_value", "iso_time", "number", "parse_cell", "parse_value", "plain",
           "timestamp"]


def plain(value: Any) -> Any:
    """A numpy scalar as the plain Python value (others unchanged)."""
    return value.item() if hasattr(value, "item") else value


def format_value(value: Any) -> str:
    """A configuration value as a table cell (floats keep every digit)."""
    return repr(value) if isinstance(value, float) else str(value)


def parse_value(text: str) -> Any:
    """A table cell back to the plain value it was written from, without the space (a string
    stays one unless it reads as a bool or a number; `parse_cell` types it by its parameter)."""
    if text in ("True", "False"):
        return text == "True"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def number(value: Any) -> str:
    """A metric as a cell: empty for None, integers without a fraction, floats with every digit."""
    if value is None:
        return ""
    value = float(value)
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def iso_time(seconds: float) -> str:
    """Seconds since the epoch as ISO 8601 with the local offset."""
    return datetime.fromtimestamp(seconds).astimezone().isoformat(timespec="milliseconds")


def timestamp(text: str) -> float:
    """ISO 8601 back to seconds since the epoch."""
    return datetime.fromisoformat(text).timestamp()


def parse_cell(hp: Any, text: str) -> Any:
    """A `config.<name>` cell -> the value of the parameter `hp` (None when empty: inactive)."""
    if text == "":
        return None
    if kind_of(hp) == "float":
        value = float(text)
        return round(value) if is_integer(hp) else value
    for choice in choices_of(hp):
        if str(choice) == text:
            return choice
    for choice in choices_of(hp):  # a number written as 1.0 for a choice 1, and so on
        if isinstance(choice, int | float) and not isinstance(choice, bool):
            try:
                if float(text) == float(choice):
                    return choice
            except ValueError:
                break
    return text
