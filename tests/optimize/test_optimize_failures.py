"""Failed trials (NaN divergence, a timeout) are recorded with the crash cost and a one-line
error, and the run goes on to n_trials; the trial runner really stops what it ends. A trial that
raises, under every backend: test_optimize_backend_contract.py."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from optimize_helpers import read_csv

from metasparse.optimize import TrialRunner, TrialStartFailed, load_scenario, optimize

# SGD at lr 0.3 with momentum 0.99 on unscaled breast_cancer features: the loss is NaN at once.
DIVERGING = {"model": "mlp", "hidden_sizes": "128", "activation": "srelu", "optimizer": "sgd",
             "lr": 10.0, "momentum": 0.99, "nesterov": True, "input_scaling": "none",
             "weight_init": "normal", "lr_schedule": "constant", "batch_size": 32,
             "normalization": "none", "dropout": 0.0, "dense_first_layer": False,
             "dense_last_layer": False}


def test_a_diverging_trial_is_recorded_as_diverged(scenario_file):
    path = scenario_file("nan", backend={"name": "random"}, n_trials=2,
                         instances=["breast_cancer"], fixed=DIVERGING)
    summary = optimize(load_scenario(path), progress=False)[0]
    rows = read_csv(summary.directory / "trials.csv")
    assert [r["status"] for r in rows] == ["diverged", "diverged"]
    assert all(r["cost"] == "1.0" and "not finite" in r["error"] for r in rows)
    pairs = read_csv(summary.directory / "trial_instances.csv")
    assert [p["status"] for p in pairs] == ["diverged", "diverged"]


def test_a_trial_over_its_timeout_is_killed_and_recorded(scenario_file):
    path = scenario_file("slow", backend={"name": "smac"}, n_trials=2, trial_timeout=0.5,
                         instances=["digits"], budget={"epochs": 200},
                         fixed={"model": "mlp", "hidden_sizes": "1000,1000,1000",
                                "batch_size": 32})
    started = time.time()
    summary = optimize(load_scenario(path), progress=False)[0]
    rows = read_csv(summary.directory / "trials.csv")
    assert [r["status"] for r in rows] == ["timeout", "timeout"]
    assert all("trial_timeout of 0.5 s" in r["error"] for r in rows)
    pairs = read_csv(summary.directory / "trial_instances.csv")
    assert [(p["instance"], p["status"]) for p in pairs] == [("digits", "timeout")] * 2
    assert time.time() - started < 30  # two trials and the reference, each cut at 0.5 s


def test_runner_prunes_and_kills_the_trial_process():
    runner = TrialRunner(["val_error"], lambda: [1.0])
    seen: list[tuple[int, float]] = []

    def report(step: int, value: float) -> bool:
        seen.append((step, value))
        return step >= 2

    outcome = runner.evaluate({"hidden_sizes": "128", "lr": 0.1}, 50, [("iris", 0), ("wine", 0)],
                              report)
    assert outcome.status == "pruned"
    assert [s for s, _ in seen] == [1, 2]
    assert outcome.costs == [seen[-1][1]]
    assert [(p.instance, p.status) for p in outcome.pairs] == [("iris", "pruned")]
    assert outcome.pairs[0].metrics == {"val_error": seen[-1][1]}


def test_runner_aggregates_instances_and_seeds():
    runner = TrialRunner(["val_error", "density"], lambda: [1.0, 1.0])
    outcome = runner.evaluate({"hidden_sizes": "128", "lr": 0.1}, 2,
                              [("iris", 0), ("iris", 1), ("wine", 0)])
    assert outcome.status == "success" and outcome.instance == "all" and outcome.seed == "all"
    assert [(p.instance, p.seed) for p in outcome.pairs] == [("iris", 0), ("iris", 1),
                                                              ("wine", 0)]
    mean = sum(p.metrics["val_error"] for p in outcome.pairs) / 3
    assert outcome.costs[0] == pytest.approx(mean)
    assert 0 < outcome.costs[1] <= 1


UNGUARDED = """
import sys
from metasparse.optimize import load_scenario, optimize
optimize(load_scenario(sys.argv[1]), progress=False)  # no `if __name__ == "__main__":`
"""


@pytest.mark.parametrize("backend", ["smac", "random"])
def test_a_trial_process_that_cannot_start_stops_the_run_with_one_line(scenario_file, tmp_path,
                                                                       backend):
    # every trial process imports the script again: unguarded, it runs the optimization once
    # more, whose directory the first one holds; every trial would crash the same way, so the
    # run stops at the first, records nothing and says why
    path = scenario_file(f"unguarded-{backend}", backend={"name": backend}, n_trials=3)
    script = tmp_path / "unguarded.py"
    script.write_text(UNGUARDED)
    done = subprocess.run([sys.executable, str(script), str(path)], capture_output=True,
                          text=True, cwd=tmp_path)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("metasparse.optimize._runner.TrialStartFailed: a trial process "
                           "ended (exit code 1) before it began training")
    assert 'if __name__ == "__main__":' in last
    assert done.stderr.count("is in use by pid") == 1  # one trial process tried, not three
    trials = load_scenario(path).output_dir / "trials.csv"
    assert not trials.exists() or read_csv(trials) == []


def test_a_trial_process_killed_before_it_starts_is_not_blamed_on_the_script():
    killed = str(TrialStartFailed(-9))
    assert killed == "a trial process ended (killed by signal 9) before it began training"
    assert "__main__" in str(TrialStartFailed(1))
