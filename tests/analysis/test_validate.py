"""`metasparse validate` on a tiny run: the incumbent against every preset on held-out data."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy.stats import wilcoxon

from metasparse.analysis import load_results, never_updated, validation_summary
from metasparse.cli import main
from metasparse.space import get_preset, preset_names


def test_validate_writes_a_table_with_every_preset(tiny_run, capsys):
    assert main(["validate", str(tiny_run), "--seeds", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    runs = pd.read_csv(tiny_run / "validation.csv")
    # a classifier run compares with every classifier preset (no autoencoder: QuickSelection,
    # WAST)
    candidates = ["incumbent", *(p for p in preset_names(relative=True)
                                 if get_preset(p)["task"] == "classifier")]
    assert "wast" not in candidates and "rigl" in candidates
    assert list(dict.fromkeys(runs["candidate"])) == candidates
    assert set(runs["instance"]) == {"breast_cancer"}
    assert runs.groupby("candidate").size().eq(2).all()
    assert runs.set_index("candidate").loc["rigl", "role"].iloc[0] == "reference"
    ok = runs["status"] == "success"
    assert runs.loc[ok, "test_error"].between(0, 1).all()
    for name in candidates:
        assert name in out
    # 2 epochs of breast_cancer give 24 steps: RigL's published 100 never fires, SET's per
    # epoch does, and each relative form updates
    assert "note: rigl made no topology update on breast_cancer in 2 runs (its schedule: " \
           "every 100 steps" in out
    assert "note: set made" not in out and "-relative made" not in out
    updates = runs.groupby("candidate")["topology_updates"].min()
    assert updates["rigl"] == 0 and updates["rigl-relative"] > 0 and updates["set"] > 0
    # presets ran with the scenario's fixed settings (a 32-unit MLP, like the incumbent)
    assert runs["config"].str.contains('"hidden_sizes": "32"').all()
    summary = validation_summary(runs).set_index("candidate")
    assert set(summary.index) == set(candidates)
    assert summary.loc["incumbent", "runs"] == 2
    base = scores_by_seed(runs, "incumbent")
    for name in candidates[1:]:  # recomputed from the table's per-seed rows
        scores = scores_by_seed(runs, name)
        difference = np.array([scores[key] - base[key] for key in sorted(base)])
        row = summary.loc[name]
        assert row["test_error"] == pytest.approx(np.mean(list(scores.values())))
        assert row["gain_of_incumbent"] == pytest.approx(difference.mean())
        assert (row["wins"], row["ties"], row["losses"]) == (
            (difference > 0).sum(), (difference == 0).sum(), (difference < 0).sum())
        assert row["p_value"] == pytest.approx(wilcoxon(difference).pvalue
                                               if difference.any() else 1.0)

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


def scores_by_seed(runs: pd.DataFrame, candidate: str) -> dict[tuple[str, int], float]:
    """(instance, seed) -> test error of a candidate's run (1.0 for a failed run)."""
    rows = runs[runs["candidate"] == candidate]
    return {(r.instance, int(r.seed)): float(r.test_error) if r.status == "success" else 1.0
            for r in rows.itertuples()}


def test_the_summary_pairs_runs_by_instance_and_seed():
    # Eight seeds where `set` loses to the incumbent by 0.01 .. 0.08, its rows in reverse
    # order: paired by seed, every difference is positive (p = 2 / 2**8 two-sided); paired by
    # row position they would straddle zero. A failed run of `dense` counts as error 1.0.
    seeds = list(range(8))
    incumbent = [0.10 + 0.03 * s for s in seeds]
    rows = [("incumbent", "incumbent", s, "success", incumbent[s]) for s in seeds]
    rows += [("set", "preset", s, "success", incumbent[s] + 0.01 * (s + 1))
             for s in reversed(seeds)]
    rows += [("dense", "dense", s, "diverged" if s == 0 else "success", incumbent[s])
             for s in seeds]
    runs = pd.DataFrame(
        [{"candidate": c, "role": role, "instance": "wine", "seed": s, "status": status,
          "test_error": error if status == "success" else None, "density": 0.1,
          "train_flops": 1e6} for c, role, s, status, error in rows])
    summary = validation_summary(runs).set_index("candidate")
    assert summary.loc["set", "gain_of_incumbent"] == pytest.approx(0.045)
    assert (summary.loc["set", "wins"], summary.loc["set", "losses"]) == (8, 0)
    assert summary.loc["set", "p_value"] == pytest.approx(2 / 2**8)
    # dense: seven ties and one failure (1.0 against 0.10): one win, p of a single difference
    assert (summary.loc["dense", "wins"], summary.loc["dense", "ties"]) == (1, 7)
    assert summary.loc["dense", "failed"] == 1
    assert summary.loc["dense", "p_value"] == pytest.approx(1.0)
    assert summary.loc["dense", "test_error"] == pytest.approx(
        (1.0 + sum(incumbent[1:])) / 8)
    assert list(summary.index) == ["incumbent", "set", "dense"]  # sorted by test error


def test_a_timed_out_run_is_left_out_not_scored_as_error_one():
    # once: the incumbent's timed-out run counted as error 1.0 and it showed 0.44 worse than
    # RigL; a timeout says the machine was slow, not that the configuration is bad
    runs = pd.DataFrame(
        [{"candidate": c, "role": c, "instance": "wine", "seed": s,
          "status": "timeout" if (c, s) == ("incumbent", 0) else "success",
          "test_error": None if (c, s) == ("incumbent", 0) else error, "density": 0.1,
          "train_flops": 1e6}
         for c, error in [("incumbent", 0.1), ("rigl", 0.2)] for s in range(3)])
    summary = validation_summary(runs).set_index("candidate")
    assert summary.loc["incumbent", "test_error"] == pytest.approx(0.1)
    assert (summary.loc["incumbent", "timed_out"], summary.loc["incumbent", "failed"]) == (1, 0)
    assert summary.loc["rigl", "gain_of_incumbent"] == pytest.approx(0.1)
    assert summary.loc["rigl", "wins"] == 2  # the pair with the timed-out run is dropped


def test_a_schedule_that_never_fired_is_named_once_per_candidate_and_instance():
    def row(candidate, instance, every, updates, status="success"):
        config = json.dumps({"update_every": every, "delta_t": 100, "updates_per_run": 5})
        return {"candidate": candidate, "instance": instance, "config": config,
                "topology_updates": updates, "status": status}

    runs = pd.DataFrame([
        row("a", "x", "steps", 0), row("a", "x", "steps", 0),  # never fired: named
        row("a", "y", "steps", 0), row("a", "y", "steps", 2),  # fired in one run
        row("b", "x", "never", 0),  # static by design
        row("c", "x", "epoch", 0, "diverged"),  # no finished run
        row("d", "y", "run", 0),  # a relative schedule on a run without a step before t_end
    ])
    silent = never_updated(runs)
    assert silent.to_dict("records") == [
        {"candidate": "a", "instance": "x", "schedule": "every 100 steps", "runs": 2},
        {"candidate": "d", "instance": "y", "schedule": "5 updates per run", "runs": 1}]
    assert never_updated(runs.drop(columns="topology_updates")).empty  # older tables


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
