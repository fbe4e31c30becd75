"""The one evaluation path outside tuning: a run in the trial runner's child process, with its
timeout and failure handling, and the test scores that tuning never sees."""

from test_optimize_failures import DIVERGING

from metasparse.analysis import train_runs
from metasparse.optimize import evaluate_run

SMALL = {"hidden_sizes": "32", "density": 0.3}


def test_a_run_comes_back_with_its_test_scores_and_curve():
    run = evaluate_run(SMALL, "iris", 0, 3)
    assert run.status == "success" and run.error == ""
    assert 0.0 <= run.metrics["test_accuracy"] <= 1.0 and run.metrics["test_loss"] > 0
    assert len(run.metrics["val_curve"]) == 3
    again = evaluate_run(SMALL, "iris", 0, 3)
    assert again.metrics["val_curve"] == run.metrics["val_curve"]  # same seed, same run


def test_every_failure_is_a_row_with_its_status_and_one_line():
    runs = train_runs({"rejected": {**SMALL, "hidden_sizes": "0"}, "diverging": DIVERGING,
                       "slow": {"hidden_sizes": "2000,2000,2000", "density": 1.0}},
                      ["breast_cancer"], [0], epochs=40, timeout=3, progress=False)
    status = dict(zip(runs["candidate"], runs["status"], strict=True))
    assert status == {"rejected": "crashed", "diverging": "diverged", "slow": "timeout"}
    errors = dict(zip(runs["candidate"], runs["error"], strict=True))
    assert "hidden_sizes" in errors["rejected"] and "\n" not in errors["rejected"]
    assert "trial_timeout of 3 s" in errors["slow"]
    assert runs["test_error"].isna().all()  # no test score for a failed run


def test_a_run_for_tuning_purposes_never_sees_the_test_split():
    runs = train_runs({"small": SMALL}, ["iris"], [0], epochs=2, evaluate_test=False,
                      progress=False)
    assert list(runs["status"]) == ["success"]
    assert runs["test_error"].isna().all() and runs["test_accuracy"].isna().all()
    assert runs["val_error"].notna().all()
