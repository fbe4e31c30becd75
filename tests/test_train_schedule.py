"""A schedule stated relative to training length: `update_every: run` makes `updates_per_run`
topology updates whatever the dataset's size, where `delta_t` (a step count) makes as many as
the dataset has steps for."""

import pytest

from metasparse.train import run_config

SMALL, LARGE = "iris", "digits"  # 90 and 1,078 training samples: 3 and 34 steps per epoch
BASE = {"hidden_sizes": "32", "batch_size": 32, "density": 0.3, "t_end": 0.75}


@pytest.mark.parametrize("updates", [3, 7])
def test_updates_per_run_is_the_number_of_updates_on_every_dataset(updates):
    config = {**BASE, "update_every": "run", "updates_per_run": updates}
    for dataset in (SMALL, LARGE):
        result = run_config(config, dataset, 4)
        assert result.topology_updates == updates, dataset


def test_a_step_interval_updates_as_often_as_the_dataset_has_steps():
    config = {**BASE, "update_every": "steps", "delta_t": 5}
    small, large = (run_config(config, d, 4).topology_updates for d in (SMALL, LARGE))
    assert (small, large) == (1, 20)  # 12 and 136 steps, updates until 0.75 of them
