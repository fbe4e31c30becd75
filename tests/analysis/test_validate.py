"""`metasparse validate` on a tiny run: the incumbent against every preset on held-out data."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd

from metasparse.analysis import load_results, validation_summary
from metasparse.cli import main
from metasparse.space import preset_names


def test_validate_writes_a_table_with_every_preset(tiny_run, capsys):
    assert main(["validate", str(tiny_run), "--seeds", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    runs = pd.read_csv(tiny_run / "validation.csv")
    candidates = ["incumbent", *preset_names()]
    assert list(dict.fromkeys(runs["candidate"])) == candidates
    assert set(runs["instance"]) == {"breast_cancer"}
    assert runs.groupby("candidate").size().eq(2).all()
    assert runs.set_index("candidate").loc["rigl", "role"].iloc[0] == "reference"
    ok = runs["status"] == "success"
    assert runs.loc[ok, "test_error"].between(0, 1).all()
    for name in candidates:
        assert name in out
    # presets ran with the scenario's fixed settings (a 32-unit MLP, like the incumbent)
    assert runs["config"].str.contains('"hidden_sizes": "32"').all()
    summary = validation_summary(runs)
    assert set(summary["candidate"]) == set(candidates)
    assert summary.set_index("candidate").loc["set", "p_value"] <= 1.0
    assert summary.set_index("candidate").loc["incumbent", "runs"] == 2

    # a second call reuses every run it finds
    assert main(["validate", str(tiny_run), "--seeds", "2", "--no-progress"]) == 0
    again = pd.read_csv(tiny_run / "validation.csv")
    pd.testing.assert_frame_equal(runs, again)

    # and the report shows the validation
    assert main(["analyze", str(tiny_run), "--no-progress"]) == 0
    text = (tiny_run / "report" / "report.md").read_text()
    assert "Not validated yet" not in text
    assert (tiny_run / "report" / "validation.png").is_file()
    assert load_results(tiny_run).heldout_instances == ["breast_cancer"]


def test_validate_without_held_out_instances_says_so_in_one_line(tiny_mo_run):
    result = subprocess.run([sys.executable, "-m", "metasparse.cli", "validate",
                             str(tiny_mo_run)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no heldout_instances" in lines[0]


def test_presets_take_the_fixed_settings_but_dense_stays_dense():
    from metasparse.analysis import preset_config

    fixed = {"hidden_sizes": "64", "density": 0.05}
    assert preset_config("set", fixed)["density"] == 0.05
    assert preset_config("set", fixed)["hidden_sizes"] == "64"
    dense = preset_config("dense", fixed)
    assert dense["density"] == 1.0 and dense["hidden_sizes"] == "64"
