"""Fixtures of the optimize tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from optimize_helpers import write_scenario


@pytest.fixture
def scenario_file(tmp_path: Path) -> Callable[..., Path]:
    """scenario_file(name, **changes): a scenario YAML in tmp_path writing to tmp_path/results."""

    def write(name: str = "t", **changes: object) -> Path:
        return write_scenario(tmp_path, name, **changes)

    return write
