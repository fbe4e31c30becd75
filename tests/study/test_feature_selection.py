"""The feature-selection study: presets ranked by every importance, a configuration tuned on
validation only, and the baselines, scored at every K beside the published numbers."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from metasparse.cli import main
from metasparse.data import load_dataset
from metasparse.errors import ConfigError, ScenarioError
from metasparse.features import combine_rankings, evaluate_selection, rank_features
from metasparse.space import preset_config
from metasparse.study import load_study
from metasparse.study._feature_selection import _network, points
from metasparse.train import fit

TINY = {
    "name": "tiny-fs", "datasets": ["wine", "breast_cancer"], "seeds": [0, 1], "epochs": 2,
    "presets": ["quickselection", "set"], "fixed": {"hidden_sizes": "32"},
    "k": [3], "dataset_k": {"breast_cancer": [3, 5]}, "tune": ["wine"], "tuned_trials": 3,
    "tune_seeds": [7, 8],
    "baselines": ["all", "mutual_info"],
    "published": {"wine": {3: {"a paper": 90.0}}}, "published_source": "a paper, 2024",
}


def _study(tmp_path, **changes):
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump({**TINY, "output": str(tmp_path / "out"), **changes}))
    return path


def test_a_tiny_study_scores_every_method_at_every_k(tmp_path, capsys):
    assert main(["study", "feature-selection", str(_study(tmp_path)), "--no-progress"]) == 0
    out = tmp_path / "out"
    runs = pd.read_csv(out / "runs.csv")
    assert (runs["status"] == "success").all()
    counts = runs.groupby(["dataset", "method"]).size().to_dict()
    # per seed: set ranks by both importances at each K, the autoencoder by neuron strength
    assert counts[("wine", "set")] == 2 * 2 * 1 and counts[("breast_cancer", "set")] == 2 * 2 * 2
    tuned_task = yaml.safe_load((out / "tuned.yaml").read_text())["wine-k3"]["task"]
    importances = 1 if tuned_task == "autoencoder" else 2  # the autoencoder: strength only
    assert counts[("wine", "quickselection")] == 2 * 1
    assert counts[("wine", "tuned")] == 2 * importances
    assert ("breast_cancer", "tuned") not in counts  # tuned on wine only
    assert counts[("breast_cancer", "mutual_info")] == 2 * 2
    assert set(runs[runs["method"] == "all"]["k_selected"]) == {13, 30}  # every feature

    # a row is what it says: SET, seed 1, breast_cancer, attribution at K = 5, retrained here
    row = runs[(runs["dataset"] == "breast_cancer") & (runs["method"] == "set")
               & (runs["seed"] == 1) & (runs["importance"] == "attribution")
               & (runs["k_selected"] == 5)].iloc[0]
    trained = fit(preset_config("set", TINY["fixed"]), load_dataset("breast_cancer"), 2, seed=1)
    scores = evaluate_selection(trained.data, rank_features(trained, "attribution"), 5, "svm", 1)
    assert row["test_accuracy"] == pytest.approx(scores.test_accuracy)
    assert row["val_accuracy"] == pytest.approx(scores.val_accuracy)

    tuning = yaml.safe_load((out / "tuning" / "wine-k3" / "scenario.yaml").read_text())
    assert tuning["objectives"] == "fs_error" or tuning["objectives"] == ["fs_error"]
    assert tuning["feature_selection"]["k"] == 3 and tuning["seeds"] == [7, 8]
    assert tuning["warm_start"] == ["quickselection", "set"]
    assert tuning["fixed"]["input_evolution"] == "none"  # no preset evolves its inputs
    tuned = yaml.safe_load((out / "tuned.yaml").read_text())["wine-k3"]
    incumbent = yaml.safe_load((out / "tuning" / "wine-k3" / "incumbent.yaml").read_text())
    assert tuned == incumbent["config"]

    summary = pd.read_csv(out / "report" / "summary.csv")
    wine = summary[(summary["dataset"] == "wine") & (summary["k"] == 3)]
    means = dict(zip(wine["method"], wine["test_mean"], strict=True))
    assert means["published: a paper"] == 90.0
    ours = runs[(runs["dataset"] == "wine") & (runs["method"] == "set")
                & (runs["importance"] == "neuron_strength")]
    assert means["set (neuron_strength)"] == pytest.approx(100 * ours["test_accuracy"].mean())
    assert "all" in means  # the all-features level at every K
    report = (out / "report" / "report.md").read_text()
    assert "## breast_cancer, K = 5" in report and "## What the tuner chose" in report
    assert "a paper, 2024" in report
    assert capsys.readouterr().out.strip() == f"report: {out / 'report' / 'report.md'}"

    before = (out / "runs.csv").read_text()  # a finished study reruns nothing
    assert main(["study", "feature-selection", str(_study(tmp_path)), "--no-progress"]) == 0
    assert (out / "runs.csv").read_text() == before


@pytest.mark.parametrize(("changes", "message"), [
    ({"importances": ["shap"]}, "The 'importance' parameter must be one of ["),
    ({"baselines": ["lasso"]}, "The 'baseline' parameter must be one of ["),
    ({"classifier": "knn"}, "The 'classifier' parameter must be one of ["),
    ({"tune": ["iris"]}, "The 'tune' parameter must be one of ['wine', 'breast_cancer']"),
    ({"presets": ["quickselect"]}, "The 'preset' parameter must be one of ["),
    ({"k": [0]}, "k.0: Input should be greater than or equal to 1"),
    ({"tune_seeds": [1, 9]}, "tune_seeds must differ from the evaluation seeds"),
    ({"dataset_k": {"wine": [14]}}, "K must be at most the number of features of every dataset "
                                    "('wine' has 13); got 14"),
    ({"ensemble_presets": ["wast"], "ensemble": 3},
     "The 'ensemble_presets' parameter must be one of ['quickselection', 'set']; got 'wast'"),
    ({"ensemble": 0}, "ensemble: Input should be greater than or equal to 1"),
])
def test_a_bad_study_file_is_one_line(tmp_path, changes, message):
    with pytest.raises(ScenarioError) as caught:
        load_study(_study(tmp_path, **changes), "feature-selection")
    assert message in str(caught.value) and "\n" not in str(caught.value)
    load_study(_study(tmp_path), "feature-selection")


def test_a_network_trains_as_a_trial_and_a_refused_one_is_a_failed_row(tmp_path):
    study = load_study(_study(tmp_path), "feature-selection")
    wine = load_dataset("wine")
    # a dense first layer that a 1% budget cannot pay for: trials train it sparse, so must this
    dense = {**preset_config("set", TINY["fixed"]), "dense_first_layer": True, "density": 0.01}
    with pytest.raises(ConfigError, match="dense"):
        fit(dense, wine, 1, seed=0)
    rows = _network(study, dense, wine, 0, [3])
    assert [r["status"] for r in rows] == ["success", "success"]  # one per importance
    refused = {**preset_config("quickselection", TINY["fixed"]), "model": "cnn"}
    (row,) = _network(study, refused, wine, 0, [3])
    assert row["status"] == "crashed" and row["test_accuracy"] is None
    assert row["error"].startswith("The 'task' autoencoder needs the 'model' mlp")


def test_input_evolutions_in_a_study_and_the_leave_one_out_choice(tmp_path):
    """NeuroFS trains once per K (it aims at one), WAST is ranked by its own importance too;
    the report's leave-one-out row of a dataset is the network method of best validation
    accuracy on the other dataset, with this dataset's test score."""
    study = _study(tmp_path, presets=["wast", "neurofs", "quickselection"], seeds=[0],
                   epochs=3, tune=[], fixed={"hidden_sizes": "16"}, published={},
                   baselines=["mutual_info"])
    assert main(["study", "feature-selection", str(study), "--no-progress"]) == 0
    out = tmp_path / "out"
    runs = pd.read_csv(out / "runs.csv")
    assert (runs["status"] == "success").all()
    neurofs = runs[(runs["dataset"] == "breast_cancer") & (runs["method"] == "neurofs")]
    pairs = zip(neurofs["k"], neurofs["k_selected"], strict=True)
    assert sorted(pairs) == [(3, 3), (3, 3), (5, 5), (5, 5)]
    wast = runs[(runs["dataset"] == "wine") & (runs["method"] == "wast")]
    assert set(wast["importance"]) == {"neuron_strength", "wast"}

    summary = pd.read_csv(out / "report" / "summary.csv")
    at = summary[summary["k"] == 3]
    chosen = at["method"].str.startswith(("leave-one-out", "best on validation"))
    nets = at[~at["method"].isin(["mutual_info"]) & ~chosen]
    for held, other in (("wine", "breast_cancer"), ("breast_cancer", "wine")):
        there = nets[nets["dataset"] == other].set_index("method")["val_mean"]
        loo = at[(at["dataset"] == held) & at["method"].str.startswith("leave-one-out")]
        assert loo["method"].tolist() == [f"leave-one-out: {there.idxmax()}"]
        here = nets[nets["dataset"] == held].set_index("method")
        assert loo["test_mean"].iloc[0] == pytest.approx(here.loc[there.idxmax(), "test_mean"])
        best = at[(at["dataset"] == held)
                  & at["method"].str.startswith("best on validation, sparse training")]
        assert best["method"].tolist() == [
            f"best on validation, sparse training: {here['val_mean'].idxmax()}"]
    report = (out / "report" / "report.md").read_text()
    assert "## Mean over the datasets at K = 3" in report


def test_an_ensemble_method_combines_its_networks_and_leaves_the_others_as_they_were(tmp_path):
    changes = {"tune": [], "baselines": ["mutual_info"], "published": {}, "ensemble": 2,
               "ensemble_presets": ["set"]}
    path = _study(tmp_path, **changes)
    study = load_study(path, "feature-selection")
    (tmp_path / "plain").mkdir()
    plain = load_study(_study(tmp_path / "plain", **{**changes, "ensemble": 1}),
                       "feature-selection")
    # the other points are those of the study without an ensemble: a study resumes them
    assert [p for p in points(study, {}) if p["method"] != "set x2"] == points(plain, {})
    assert main(["study", "feature-selection", str(path), "--no-progress"]) == 0
    out = tmp_path / "out"
    runs = pd.read_csv(out / "runs.csv")
    assert (runs["status"] == "success").all()
    counts = runs.groupby(["dataset", "method"]).size().to_dict()
    assert counts[("breast_cancer", "set x2")] == 2 * 2 * 2  # seeds, importances, K
    assert ("wine", "quickselection x2") not in counts  # set only

    row = runs[(runs["dataset"] == "breast_cancer") & (runs["method"] == "set x2")
               & (runs["seed"] == 1) & (runs["importance"] == "attribution")
               & (runs["k_selected"] == 5)].iloc[0]
    data = load_dataset("breast_cancer")
    members = [fit(preset_config("set", TINY["fixed"]), data, 2, seed=seed) for seed in (1, 1001)]
    ranking = combine_rankings([rank_features(t, "attribution") for t in members])
    scores = evaluate_selection(members[0].data, ranking, 5, "svm", 1)
    assert row["test_accuracy"] == pytest.approx(scores.test_accuracy)
    assert row["val_accuracy"] == pytest.approx(scores.val_accuracy)
    assert row["network_val_score"] == pytest.approx(
        (members[0].result.val_accuracy + members[1].result.val_accuracy) / 2)
    single = runs[(runs["dataset"] == "breast_cancer") & (runs["method"] == "set")
                  & (runs["seed"] == 1) & (runs["importance"] == "attribution")
                  & (runs["k_selected"] == 5)].iloc[0]
    alone = evaluate_selection(members[0].data, rank_features(members[0], "attribution"), 5,
                               "svm", 1)
    assert single["test_accuracy"] == pytest.approx(alone.test_accuracy)
    report = (out / "report" / "report.md").read_text()
    assert "| set x2 (attribution)" in report
    assert "`X x2` is the preset X ranked by an ensemble of 2 networks (seeds s, s + 1000" in report


def test_held_out_tuning_never_sees_the_dataset_it_is_judged_on(tmp_path):
    """With tune_held_out the configuration of wine is SMAC's incumbent on breast_cancer alone,
    across instances with the ac facade, warm-started from every preset (an input evolution
    among them, which the space searches); autoencoders are ranked by their own importance."""
    path = _study(tmp_path, tune_held_out=True, tune_facade="ac", tuned_trials=4,
                  presets=["neurofs", "quickselection"], importances=["attribution"],
                  tune_importance="attribution", baselines=[], seeds=[0], published={},
                  dataset_k={}, fixed={"hidden_sizes": "16"})
    assert main(["study", "feature-selection", str(path), "--no-progress"]) == 0
    out = tmp_path / "out"
    directory = out / "tuning" / "without-wine-k3"
    scenario = yaml.safe_load((directory / "scenario.yaml").read_text())
    assert scenario["instances"] == ["breast_cancer"]
    assert scenario["backend"]["facade"] == "ac"
    assert scenario["warm_start"] == ["neurofs", "quickselection"]
    assert "input_evolution" not in scenario["fixed"]  # a preset evolves: searched
    assert scenario["feature_selection"]["importance"] == "attribution"
    assert scenario["feature_selection"]["autoencoder_importance"] == "neuron_strength"
    trials = pd.read_csv(directory / "trials.csv")
    assert set(trials["instance"]) == {"breast_cancer"} and (trials["status"] == "success").all()
    assert "neurofs" in set(trials["config.input_evolution"])  # not held at none
    tuned = yaml.safe_load((out / "tuned.yaml").read_text())
    incumbent = yaml.safe_load((directory / "incumbent.yaml").read_text())["config"]
    assert tuned == {"wine-k3": incumbent}
    runs = pd.read_csv(out / "runs.csv")
    assert len(runs[(runs["method"] == "tuned") & (runs["dataset"] == "wine")]) == 1
    report = (out / "report" / "report.md").read_text()
    assert "tuned on the other datasets: this one held out" in report


def test_a_study_resumes_only_with_the_settings_its_runs_were_made_with(tmp_path):
    from metasparse.study._command import check_unchanged

    check_unchanged(load_study(_study(tmp_path), "feature-selection"))
    with pytest.raises(ScenarioError, match="holds runs made with tuned_trials=3, not 4"):
        check_unchanged(load_study(_study(tmp_path, tuned_trials=4), "feature-selection"))
    check_unchanged(load_study(_study(tmp_path, seeds=[0, 1, 2]), "feature-selection"))  # grows
    # a folder that predates a setting was made with its default
    settings = tmp_path / "out" / "study-settings.json"
    before = json.loads(settings.read_text())
    settings.write_text(json.dumps({k: v for k, v in before.items() if k != "tune_held_out"}))
    check_unchanged(load_study(_study(tmp_path), "feature-selection"))
    with pytest.raises(ScenarioError, match="tune_held_out=False, not True"):
        check_unchanged(load_study(_study(tmp_path, tune_held_out=True), "feature-selection"))


def test_the_tuner_table_names_the_preset_a_tuned_configuration_is(tmp_path):
    from metasparse.study._feature_selection_report import tuned_choices

    study = load_study(_study(tmp_path), "feature-selection")
    kept = preset_config("set", TINY["fixed"])
    moved = {**kept, "density": 0.2}
    table = tuned_choices(study, {("wine", 3): kept, ("breast_cancer", 3): moved})
    assert table["a preset"].tolist() == ["set", ""]
    assert "density=0.2" in table["changed from quickselection"].iloc[1]
