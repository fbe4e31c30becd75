"""examples/own_model: a user's model and loop tuned with SMAC and analysed with fANOVA; the
notebook runs end to end (a few SMAC trials of the real target)."""

from __future__ import annotations

import csv
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

EXAMPLE = Path(__file__).parents[2] / "examples" / "own_model"


@pytest.mark.slow  # 25-40 s here (a kernel, SMAC and four trials)
def test_the_walkthrough_tunes_the_users_target_and_draws_its_importance(monkeypatch, tmp_path):
    output = tmp_path / "own-model"
    monkeypatch.setenv("OWN_MODEL_TRIALS", "4")
    monkeypatch.setenv("OWN_MODEL_OUTPUT", str(output))
    monkeypatch.setenv("OWN_MODEL_DIR", str(EXAMPLE))
    notebook = nbformat.read(EXAMPLE / "walkthrough.ipynb", as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the importance plot
    with (output / "trials.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4 and {r["status"] for r in rows} == {"success"}
    # the user's loop kept the density that SMAC chose for each trial
    for row in rows:
        assert abs(float(row["density"]) - float(row["config.density"])) < 0.01
    assert min(float(r["val_error"]) for r in rows) < 0.5  # chance is 0.9: the best learned
