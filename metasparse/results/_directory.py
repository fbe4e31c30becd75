"""Finding the results directories of a run, its scenario as run, and its reference preset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from metasparse.errors import MetasparseError
from metasparse.results._files import read_yaml
from metasparse.results._schema import SCENARIO, TRIALS

__all__ = ["default_reference", "find_runs", "read_scenario"]

# The reference of a space that is no preset's subspace (meta, set-rigl, a user's file).
FALLBACK_REFERENCE = "rigl"


def default_reference(space: str | Path, reference: str | None = None) -> str:
    """The preset a run compares with: `reference` when given, else the preset whose subspace
    the space is (spaces/rigl.yaml -> rigl), else rigl."""
    if reference:
        return reference
    from metasparse.space import preset_names

    stem = Path(space).stem
    return stem if stem in preset_names() else FALLBACK_REFERENCE


def find_runs(path: str | Path) -> list[Path]:
    """The results directories at `path`: itself, or for a scenario with a list of spaces, the
    directory of each space's run inside it."""
    path = Path(path)
    if (path / TRIALS).is_file():
        return [path]
    if path.is_dir():
        runs = sorted(p for p in path.iterdir() if (p / TRIALS).is_file())
        if runs:
            return runs
    if not path.exists():
        raise MetasparseError(f"results directory {str(path)!r} does not exist")
    raise MetasparseError(f"{str(path)!r} is not a results directory (no {TRIALS}); "
                          "give the output directory of `metasparse optimize`")


def read_scenario(directory: str | Path) -> dict[str, Any]:
    """scenario.yaml of a results directory as written (validate it with
    `metasparse.optimize.Scenario`, which owns its defaults)."""
    return read_yaml(Path(directory) / SCENARIO, required=True)
