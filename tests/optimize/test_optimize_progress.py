"""What a run prints of its incumbent: the key choices that are active in its configuration."""

from __future__ import annotations

from metasparse.optimize._progress import describe_choices
from metasparse.space import get_preset


def test_a_static_topology_shows_no_prune_or_grow_choice():
    # once: `grow=gradient` for update_every: never, a choice that has no effect
    assert describe_choices(get_preset("static")) == "density=0.1"
    assert describe_choices(get_preset("rigl")) == "prune=magnitude grow=gradient density=0.1"


def test_what_a_configuration_leaves_out_has_the_default():
    # the default update_every updates the topology, so a grow score given alone is active
    assert describe_choices({"grow_score": "random", "density": 0.05}) == \
        "prune=magnitude grow=random density=0.05"
    assert describe_choices({"grow_score": "random", "update_every": "never"}) == "density=0.1"


def test_a_finished_run_says_what_to_do_next(tmp_path, capsys):
    from optimize_helpers import write_scenario

    from metasparse.cli import main

    path = write_scenario(tmp_path, "next", backend={"name": "random"}, n_trials=2,
                          instances=["iris"], heldout_instances=["wine"], budget={"epochs": 1})
    assert main(["optimize", str(path), "--no-progress"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    directory = tmp_path / "results" / "next"
    assert lines[-4] == "next:"
    assert lines[-3].startswith(f"  metasparse dashboard {directory} ")
    assert lines[-2].startswith(f"  metasparse analyze {directory} ")
    assert lines[-1].startswith(f"  metasparse validate {directory} ")
