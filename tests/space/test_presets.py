"""Each published preset in its relative form: as many topology updates per run as its paper
made, whatever the dataset's size, where the published interval of steps never fires on a small
dataset."""

from __future__ import annotations

import pytest

from metasparse.errors import ConfigError
from metasparse.space import get_preset, preset_config, preset_info, preset_names, relative_form
from metasparse.train import run_config

UPDATING = [n for n in preset_names() if get_preset(n)["update_every"] != "never"]


def test_every_preset_whose_topology_changes_has_a_relative_form_and_only_those():
    assert set(UPDATING) >= {"set", "rigl", "snfs", "ctre", "mest", "granet"}
    assert [relative_form(n) for n in UPDATING] == [n + "-relative" for n in UPDATING]
    assert relative_form("static") is None and relative_form("dense") is None
    assert preset_names(relative=True) == [
        form for n in preset_names() for form in (n, relative_form(n)) if form]


@pytest.mark.parametrize("name", UPDATING)
def test_the_relative_form_changes_the_schedule_only(name):
    published, relative = get_preset(name), get_preset(name + "-relative")
    assert relative["update_every"] == "run"
    assert relative["updates_per_run"] >= 2
    changed = {k for k in published if published[k] != relative[k]}
    assert changed <= {"update_every", "updates_per_run", "delta_t"}  # delta_t: inactive now
    assert "delta_t" not in preset_info(name + "-relative")["config"]
    note = preset_info(name + "-relative")["note"]
    assert f"{relative['updates_per_run']} topology updates" in note and " = " in note


def test_a_preset_without_a_relative_form_is_refused_with_the_valid_names():
    with pytest.raises(ConfigError, match=r"one of \[.*'rigl-relative'.*\]; got 'static-"
                                          r"relative'"):
        get_preset("static-relative")


def test_a_published_interval_never_fires_on_a_small_dataset_and_the_relative_form_does():
    # iris at batch 32: 3 steps per epoch, 12 in 4 epochs, RigL's t_end 0.75 ends at step 9
    fixed = {"hidden_sizes": "32", "batch_size": 32}
    published = run_config(preset_config("rigl", fixed), "iris", 4)
    relative = run_config(preset_config("rigl-relative", fixed), "iris", 4)
    assert published.topology_updates == 0  # every 100 steps
    assert relative.topology_updates == 8  # 250 per run: every step before t_end
    # a paper with fewer updates than the run has steps: MEST's 24 on digits' 34 steps/epoch
    mest = run_config(preset_config("mest-relative", fixed), "digits", 4)
    assert mest.topology_updates == 24
