"""User-facing errors: each prints as one line in the command line, never as a traceback."""

from __future__ import annotations

__all__ = ["ConfigError", "DataError", "MetasparseError", "OutputError", "ScenarioError",
           "invalid_choice", "one_line"]


class MetasparseError(Exception):
    """Base class of every error that the command line shows as one line (exit code 2)."""


class ConfigError(MetasparseError, ValueError):
    """A configuration value or key is not valid."""


class DataError(MetasparseError, ValueError):
    """A dataset cannot be found or read."""


class ScenarioError(MetasparseError, ValueError):
    """A scenario file is not valid."""


class OutputError(MetasparseError):
    """An output directory cannot be used: held by another run, not writable, or full."""


def invalid_choice(what: str, allowed, got) -> str:
    """The message "The 'x' parameter must be one of [...]; got 'y'"."""
    listed = ", ".join(repr(a) for a in allowed)
    return f"The {what!r} parameter must be one of [{listed}]; got {got!r}"


def one_line(exc: BaseException, limit: int = 500) -> str:
    """An exception as one line: its type, then its message with every run of whitespace
    (newlines included) made one space, cut to `limit` characters."""
    message = " ".join(str(exc).split())
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."
