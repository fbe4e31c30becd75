"""Warm start from an earlier run: its best configurations, restricted to the new run's space,
are the first trials; those that are not points of the space are dropped with the reason."""

from __future__ import annotations

import pytest
import yaml
from optimize_helpers import read_csv, run

from metasparse.errors import MetasparseError
from metasparse.optimize._warm_start import BEST_OF_A_RUN, restrict
from metasparse.results import CONFIG_PREFIX, parse_value
from metasparse.space import get_preset, load_space, resolve_config


def _values(row: dict[str, str]) -> dict[str, object]:
    """The configuration that a row trained (int_log values rounded, as the trainer does)."""
    return resolve_config({k.removeprefix(CONFIG_PREFIX): parse_value(v) for k, v in row.items()
                           if k.startswith(CONFIG_PREFIX) and v != ""})


def test_a_run_starts_from_an_earlier_run_s_best_configurations(tmp_path, scenario_file):
    first = run(scenario_file("earlier", backend={"name": "random"}, n_trials=7))
    earlier = [r for r in read_csv(first / "trials.csv") if r["status"] == "success"]
    best = sorted(earlier, key=lambda r: (float(r["cost"]), int(r["trial_id"])))[:BEST_OF_A_RUN]
    # the same space with the learning rate narrowed: earlier points outside it are dropped
    lrs = sorted(float(r["config.lr"]) for r in best)
    space_file = tmp_path / "narrow.yaml"
    space_file.write_text(yaml.safe_dump({"base": "rigl", "restrict": {"lr": [0.0001, lrs[-2]]}}))
    second = run(scenario_file("later", backend={"name": "random", "seed": 9}, n_trials=6,
                               space=str(space_file), warm_start=str(first)))
    warm = yaml.safe_load((second / "warm_start.yaml").read_text())
    kept = [r for r in best if float(r["config.lr"]) <= lrs[-2]]
    assert [c["label"] for c in warm["configs"]] == [f"{first} trial {r['trial_id']}"
                                                     for r in kept]
    (dropped,) = warm["dropped"]
    assert "'lr' parameter must lie in [0.0001," in dropped["reason"]
    rows = sorted(read_csv(second / "trials.csv"), key=lambda r: int(r["trial_id"]))
    assert [_values(r) for r in rows[:len(kept)]] == [_values(r) for r in kept]


def test_a_preset_outside_the_space_is_dropped_with_the_parameter_that_excludes_it():
    space = load_space("rigl", fixed={"model": "mlp", "hidden_sizes": "128"})
    with pytest.raises(ValueError, match="the space fixes the 'distribution' parameter at "
                                         "'erk'; got 'er'"):
        restrict(get_preset("set"), space)
    kept = restrict({**get_preset("rigl"), "hidden_sizes": "128"}, space)
    assert kept["delta_t"] == 100 and kept["grow_score"] == "gradient"
    assert "mest_gamma" not in kept  # inactive where prune_score is not mest


def test_a_list_of_presets_warm_starts_with_those_in_its_order(scenario_file):
    directory = run(scenario_file("listed", backend={"name": "random"}, n_trials=3,
                                  warm_start=["rigl", "set"]))
    warm = yaml.safe_load((directory / "warm_start.yaml").read_text())
    assert [c["label"] for c in warm["configs"]] == ["rigl"]
    assert "'distribution' parameter at 'erk'" \
        in {d["label"]: d["reason"] for d in warm["dropped"]}["set"]
    first = sorted(read_csv(directory / "trials.csv"), key=lambda r: int(r["trial_id"]))[0]
    assert _values(first) == resolve_config(warm["configs"][0]["config"])


def test_smac_keeps_the_warm_start_within_its_initial_design(scenario_file):
    # the meta-space holds 13 presets; SMAC's design refuses more configurations than n_trials
    # and keeps at least one of its own: of 4 trials, the first 3 presets come first
    directory = run(scenario_file("cut", backend={"name": "smac"}, space="meta", n_trials=4,
                                  warm_start="presets"))
    warm = yaml.safe_load((directory / "warm_start.yaml").read_text())
    assert len(warm["configs"]) == 3  # the others are dropped, with the reason
    reasons = {d["label"]: d["reason"] for d in warm["dropped"]}
    assert reasons["dense"] == "smac evaluates at most 3 warm-start configurations in 4 trials"
    rows = sorted(read_csv(directory / "trials.csv"), key=lambda r: int(r["trial_id"]))
    assert len(rows) == 4
    assert [_values(r) for r in rows[:3]] == [resolve_config(c["config"])
                                              for c in warm["configs"]]
    assert _values(rows[3]) not in [resolve_config(c["config"]) for c in warm["configs"]]


def test_a_damaged_earlier_run_is_one_line_before_any_trial(tmp_path, scenario_file):
    first = run(scenario_file("earlier", backend={"name": "random"}, n_trials=2))
    trials = first / "trials.csv"
    header, row, rest = trials.read_text().split("\n", 2)
    trials.write_text(f"{header}\n{row.replace(',success,', ',success,oops,', 1)}\n{rest}")
    path = scenario_file("later", backend={"name": "random"}, n_trials=2, warm_start=str(first))
    with pytest.raises(MetasparseError, match=r"trials.csv' line 2: .* fields, expected") as error:
        run(path)
    assert "\n" not in str(error.value)
    assert not (tmp_path / "results" / "later" / "trials.csv").exists()
