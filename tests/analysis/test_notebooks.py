"""The notebooks of analysis/ run end to end on a results directory of the real optimizer."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).parents[2] / "analysis"


@pytest.mark.parametrize("name", ["importance", "ablation", "optimizers"])
def test_notebook_runs(name, tiny_run, tiny_optuna_run, monkeypatch, tmp_path):
    results = [tiny_run, tiny_optuna_run] if name == "optimizers" else [tiny_run]
    monkeypatch.setenv("METASPARSE_RESULTS", os.pathsep.join(str(r) for r in results))
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    # the kernel runs in a scratch directory: its IPC files must not land in analysis/
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)  # a figure was drawn
