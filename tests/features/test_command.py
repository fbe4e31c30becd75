"""`metasparse select-features`: its files, its JSON, and one-line refusals."""

from __future__ import annotations

import csv
import errno
import json
import os

import pytest

from metasparse.cli import main
from metasparse.features import BASELINES, CLASSIFIERS, IMPORTANCES, _names, _plot, _select

FAST = ["--dataset", "wine", "--preset", "quickselection", "--set", "hidden_sizes=16", "--epochs",
        "2"]


def test_writes_ranking_results_and_plot(tmp_path, capsys):
    code = main(["select-features", *FAST, "--k", "3", "--k", "6", "--baselines", "all",
                 "mutual_info", "--classifier", "extra_trees", "--output", str(tmp_path),
                 "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    with (tmp_path / "ranking.csv").open() as f:
        ranking = list(csv.DictReader(f))
    assert [int(r["feature"]) for r in ranking] == out["ranking"]
    assert sorted(out["ranking"]) == list(range(13))  # wine: 13 features, each ranked once
    assert [int(r["rank"]) for r in ranking] == list(range(1, 14))
    scores = [float(r["score"]) for r in ranking]
    assert scores == sorted(scores, reverse=True)
    with (tmp_path / "results.csv").open() as f:
        results = [(r["method"], int(r["k"]), r["classifier"]) for r in csv.DictReader(f)]
    assert results == [("sparse_training", 3, "extra_trees"), ("sparse_training", 6, "extra_trees"),
                       ("all", 13, "extra_trees"), ("mutual_info", 3, "extra_trees"),
                       ("mutual_info", 6, "extra_trees")]
    assert [(r["method"], r["k"]) for r in out["results"]] == [r[:2] for r in results]
    assert (tmp_path / "accuracy.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(("args", "message"), [
    (["--k", "0"], "The 'k' parameter must be an integer in 1..13; got 0"),
    (["--k", "14"], "The 'k' parameter must be an integer in 1..13; got 14"),
    (["--k", "3", "--classifier", "knn"],
     "The 'classifier' parameter must be one of ['extra_trees', 'svm']; got 'knn'"),
    (["--k", "3", "--baselines", "lasso"], "The 'baseline' parameter must be one of ["),
    (["--k", "3", "--importance", "shap"],
     "The 'importance' parameter must be one of ['attribution', 'neuron_strength', 'wast']; "
     "got 'shap'"),
    (["--k", "3", "--epochs", "0"], "The 'epochs' parameter must be a positive integer; got 0"),
    (["--k", "3", "--seed", "-1"], "The 'seed' parameter must be an integer in 0..4294967295; "
                                   "got -1"),  # scikit-learn's random_state range
    (["--k", "3", "--ensemble", "0"], "The 'ensemble' parameter must be a positive integer; "
                                      "got 0"),
])
def test_refuses_bad_input_in_one_line(args, message, tmp_path, capsys):
    assert main(["select-features", *FAST, *args, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("metasparse select-features: error: ") and message in err
    assert err.count("\n") == 1
    assert not list(tmp_path.iterdir())  # refused before training: nothing written


def test_refuses_an_unknown_dataset_in_one_line(capsys):
    assert main(["select-features", "--dataset", "no_such_data", "--k", "3"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("metasparse select-features: error: ") and err.count("\n") == 1


def test_json_names_the_networks_score_by_its_task(capsys):
    for preset, task, score, other in [("quickselection", "autoencoder", "r2", "accuracy"),
                                       ("set", "classifier", "accuracy", "r2")]:
        assert main(["select-features", *FAST, "--k", "3", "--preset", preset, "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["config"]["task"] == task
        assert f"val_{score}" in out and f"test_{score}" in out
        assert f"val_{other}" not in out and f"test_{other}" not in out


def test_the_help_lists_the_names_of_the_registries():
    # the help takes the names from _names, which imports neither torch nor scikit-learn
    assert IMPORTANCES.names() == _names.IMPORTANCE_NAMES
    assert CLASSIFIERS.names() == _names.CLASSIFIER_NAMES
    assert BASELINES.names() == _names.BASELINE_NAMES


def _no_training(*args, **kwargs):
    pytest.fail("trained before refusing the input")


@pytest.mark.parametrize("out", ["file", "file/sub", "/proc/metasparse-out"])
def test_refuses_an_out_that_cannot_be_written_before_training(out, tmp_path, monkeypatch,
                                                               capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file").write_text("kept")
    monkeypatch.setattr(_select, "select_features", _no_training)
    assert main(["select-features", *FAST, "--k", "3", "--out", out]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"metasparse select-features: error: cannot write the output "
                          f"directory {out!r}: ") and err.count("\n") == 1
    assert [p.name for p in tmp_path.iterdir()] == ["file"]
    assert (tmp_path / "file").read_text() == "kept"


def test_a_full_disk_is_one_line_and_leaves_the_files_as_they_were(tmp_path, monkeypatch,
                                                                  capsys):
    (tmp_path / "ranking.csv").write_text("a previous run's")

    def fill_the_disk(rows, path):
        path.write_bytes(b"\x89PNG half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(_plot, "plot_accuracy", fill_the_disk)
    assert main(["select-features", *FAST, "--k", "3", "--out", str(tmp_path), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.err == (f"metasparse select-features: error: cannot write "
                            f"{str(tmp_path / 'accuracy.png')!r}: No space left on device\n")
    assert captured.out == ""
    assert [p.name for p in tmp_path.iterdir()] == ["ranking.csv"]
    assert (tmp_path / "ranking.csv").read_text() == "a previous run's"


def test_the_training_shows_its_progress_and_json_none(capsys):
    # once: minutes of training with no sign of life before the 'evaluating' bar
    assert main(["select-features", *FAST, "--k", "3"]) == 0
    err = capsys.readouterr().err
    assert "training: 100%" in err and "2/2" in err and "epoch" in err
    assert main(["select-features", *FAST, "--k", "3", "--json"]) == 0
    assert "training" not in capsys.readouterr().err


def test_the_default_is_the_studys_best_method_and_help_says_so(capsys):
    """Without --preset: NeuroFS ranked by attribution (the k50 study's best on validation) for
    50 epochs; with --preset, the importance is neuron strength. The help says so."""
    from metasparse.features._command import DEFAULT_CHANGES, DEFAULT_PRESET
    from metasparse.space import get_preset

    assert main(["select-features", "--dataset", "wine", "--k", "3", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["epochs"] == 50 and summary["importance"] == "attribution"
    expected = {**get_preset(DEFAULT_PRESET), **DEFAULT_CHANGES}
    assert {key: summary["config"][key] for key in expected} == expected
    assert summary["config"]["input_evolution"] == "neurofs"
    assert main(["select-features", *FAST, "--k", "3", "--preset", "set", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["importance"] == "neuron_strength"
    with pytest.raises(SystemExit):
        main(["select-features", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "a preset as published (default: neurofs ranked by attribution" in text
    assert "(default: attribution without --preset, neuron_strength with it)" in text
    assert "training epochs (default: 50)" in text


def test_an_ensemble_ranks_by_its_networks_combined_and_reports_each(tmp_path, capsys):
    from metasparse.data import load_dataset
    from metasparse.features import combine_rankings, fit_evolving, rank_features
    from metasparse.space import get_preset, resolve_config

    assert main(["select-features", *FAST, "--k", "3", "--seed", "4", "--ensemble", "2",
                 "--output", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ensemble"] == 2 and out["status"] == "success"
    assert [m["seed"] for m in out["members"]] == [4, 1004]
    assert out["members"][0]["val_r2"] == out["val_r2"]  # the first network is reported above
    config = resolve_config({**get_preset("quickselection"), "hidden_sizes": 16})
    wine = load_dataset("wine")
    members = [rank_features(fit_evolving(config, wine, 2, seed, k=3)) for seed in (4, 1004)]
    expected = combine_rankings(members)
    assert out["ranking"] == expected.order.tolist()
    with (tmp_path / "ranking.csv").open() as f:
        scores = [float(r["score"]) for r in csv.DictReader(f)]
    assert scores == expected.scores[expected.order].tolist()
    with pytest.raises(SystemExit):
        main(["select-features", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--ensemble N train N networks (seeds SEED, SEED+1000, ...)" in text
