"""The configuration study end to end on a tiny grid (scikit-learn's datasets, 2 trials of one
epoch), and the one-line errors of its study file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from metasparse.errors import ScenarioError
from metasparse.study import (
    ConfigurationStudy,
    across,
    blocks,
    combination,
    difference,
    load_study,
    rank,
    verdict,
)

TINY = {
    "name": "tiny", "datasets": ["iris", "wine"], "spaces": ["rigl", "set-rigl"],
    "combined": "set-rigl", "presets": ["rigl"], "backends": ["random"],
    "fixed": {"model": "mlp", "hidden_sizes": "16", "batch_size": 32},
    "n_trials": 2, "optimizer_seeds": [0], "seeds": [0, 1], "epochs": 1,
    "warm_start": True, "transfer": ["rigl-run"],
}


def _study(tmp_path, **changes):
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump({**TINY, "output": str(tmp_path / "out"), **changes}))
    return path


def _run(path, tmp_path):
    return subprocess.run([sys.executable, "-m", "metasparse.cli", "study", "configuration",
                           str(path), "--no-progress"], capture_output=True, text=True,
                          timeout=600, cwd=tmp_path)


@pytest.mark.slow  # about 40 s here: eight tuning runs and twenty test trainings
def test_a_tiny_configuration_study_answers_every_question(tmp_path):
    path = _study(tmp_path)
    result = _run(path, tmp_path)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    tuning = pd.read_csv(out / "tuning.csv")
    # per dataset: two spaces, the warm-started combined space, the transfer space
    assert len(tuning) == 2 * 4
    assert set(tuning["variant"]) == {"random", "random-warm"}
    warm = tuning[tuning["variant"] == "random-warm"]
    for directory in warm["directory"]:  # its first trials are the presets that fit set-rigl
        taken = yaml.safe_load((Path(directory) / "warm_start.yaml").read_text())["configs"]
        assert [c["label"] for c in taken] == ["set", "rigl"]
    moved = tuning[tuning["phase"] == "transfer"]
    for row in moved.itertuples():  # tuned on the other dataset only
        scenario = yaml.safe_load((Path(row.directory) / "scenario.yaml").read_text())
        assert scenario["instances"] == [d for d in TINY["datasets"] if d != row.dataset]

    evaluation = pd.read_csv(out / "evaluation.csv")
    assert (evaluation["status"] == "success").all()
    # 4 incumbents and 1 preset in 2 forms per dataset, each over 2 training seeds
    assert len(evaluation) == (4 + 2) * 2 * 2
    assert set(evaluation.loc[evaluation["kind"] == "preset", "space"]) == {"rigl",
                                                                            "rigl-relative"}

    report = out / "report"
    q1 = pd.read_csv(report / "configurability.csv")
    assert sorted(zip(q1["preset"], q1["dataset"], strict=True)) == [
        ("rigl", "iris"), ("rigl", "wine"), ("rigl-relative", "iris"), ("rigl-relative", "wine")]
    row = q1[(q1["preset"] == "rigl") & (q1["dataset"] == "wine")].iloc[0]
    e = evaluation[evaluation["dataset"] == "wine"]
    preset = e[(e["kind"] == "preset") & (e["space"] == "rigl")]["test_error"].mean()
    tuned = e[(e["kind"] == "tuned") & (e["phase"] == "tune") & (e["space"] == "rigl")
              & (e["variant"] == "random")]["test_error"].mean()
    assert row["preset_error"] == pytest.approx(preset)
    assert row["gain"] == pytest.approx(preset - tuned)
    # one epoch of iris or wine is a few steps: rigl's 100 never fire, rigl-relative's do
    assert row["preset_updates"] == 0
    relative = q1[(q1["preset"] == "rigl-relative") & (q1["dataset"] == "wine")].iloc[0]
    assert relative["preset_updates"] > 0
    silent = pd.read_csv(report / "silent_presets.csv")
    assert sorted(zip(silent["preset"], silent["dataset"], strict=True)) == [
        ("rigl", "iris"), ("rigl", "wine")]
    pooled = pd.read_csv(report / "configurability_summary.csv").set_index("preset")
    assert pooled.loc["rigl", "mean_gain"] == pytest.approx(
        q1[q1["preset"] == "rigl"]["gain"].mean())
    assert pooled.loc["rigl", "datasets"] == 2
    chosen = pd.read_csv(report / "choices.csv").set_index("parameter")
    assert chosen.loc["grow_score", "incumbents"] == 2  # one incumbent per dataset

    q2 = pd.read_csv(report / "combination.csv")
    for r in q2.itertuples():  # the best single space is chosen on validation, not test
        singles = tuning[(tuning["dataset"] == r.dataset) & (tuning["phase"] == "tune")
                         & (tuning["space"] == "rigl")]
        chosen = singles[singles["space"] == r.best_single]["val_error"]
        assert chosen.min() == singles["val_error"].min()
    importance = pd.read_csv(report / "importance.csv")
    assert {"pooled", "iris", "wine"} <= set(importance.columns)
    assert importance["pooled"].is_monotonic_decreasing
    ablation = pd.read_csv(report / "ablation.csv")
    assert set(zip(ablation["dataset"], ablation["preset"], strict=True)) == {
        (d, p) for d in TINY["datasets"] for p in TINY["presets"]}
    q4 = pd.read_csv(report / "optimizers.csv")
    assert sorted(zip(q4["variant"], q4["dataset"], strict=True)) == [
        ("random", "iris"), ("random", "wine"), ("random-warm", "iris"), ("random-warm", "wine")]
    transfer = pd.read_csv(report / "transfer.csv")
    assert list(transfer["held_out"]) == TINY["datasets"]
    text = (report / "report.md").read_text()
    for heading in ("## Presets whose published schedule never fired", "## 1. Configurability",
                    "## 2. The combined space", "## 3. Which components matter",
                    "### What the tuner chose", "## 4. The optimizers", "## Transfer"):
        assert heading in text
    assert f"Crashed trials: {tuning['crashed'].sum()} of {tuning['trials'].sum()}" in text
    assert "Too few blocks for a ranking: 2" in text  # 2 datasets x 1 optimizer seed
    assert "`rigl` (every 100 steps) made no topology update on iris, wine" in text
    assert f"note: rigl made no topology update on iris, wine (see {report / 'report.md'})" \
        in result.stdout

    written = {p.name: p.read_bytes() for p in report.iterdir()}
    again = _run(path, tmp_path)  # finished: resumes with nothing to run
    assert again.returncode == 0, again.stderr
    assert pd.read_csv(out / "evaluation.csv").equals(evaluation)
    # the report is rebuilt byte for byte: a committed study rerun leaves `git status` clean
    assert {p.name: p.read_bytes() for p in report.iterdir()} == written


def _evaluation(errors: dict[tuple[str, str], list[float]]) -> pd.DataFrame:
    """Test rows of tuned runs: (space or variant, dataset) -> errors, one per optimizer seed."""
    rows = []
    for (space, dataset), values in errors.items():
        for seed, value in enumerate(values):
            rows.append({"kind": "tuned", "phase": "tune", "space": space, "variant": "smac",
                         "dataset": dataset, "optimizer_seed": seed, "seed": 0,
                         "test_error": value})
    return pd.DataFrame(rows)


def test_spaces_are_ranked_over_blocks_with_a_friedman_test_and_a_diagram(tmp_path):
    datasets = ["a", "b", "c"]
    # "meta" is best on every block, "set" worst: a clear ranking over 3 x 2 = 6 blocks
    errors = {(s, d): [base + 0.01 * k for k in range(2)]
              for d in datasets for s, base in (("meta", 0.1), ("rigl", 0.2), ("set", 0.3))}
    table = blocks(_evaluation(errors), {s: (s, "smac") for s in ("set", "rigl", "meta")})
    assert table.shape == (6, 3)
    text = rank(table, tmp_path / "cd.png")
    assert "Friedman test over 6 blocks" in text and "the columns differ" in text
    assert (tmp_path / "cd.png").stat().st_size > 0
    ranks = [line.split("|")[1].strip() for line in text.splitlines()[-3:]]
    assert ranks == ["meta", "rigl", "set"]  # best first
    few = rank(table.head(4), tmp_path / "few.png")
    assert few.startswith("Too few blocks for a ranking: 4") and not (tmp_path / "few.png").exists()


def test_the_best_single_space_is_chosen_on_validation_not_on_test():
    study = ConfigurationStudy(kind="configuration", name="x", datasets=["a"],
                               spaces=["set", "rigl", "set-rigl"], combined="set-rigl")
    # rigl validates better than set but tests worse: the choice must not peek at the test
    tuning = pd.DataFrame([
        {"phase": "tune", "variant": "smac", "dataset": "a", "space": s, "val_error": v}
        for s, v in (("set", 0.30), ("rigl", 0.20), ("set-rigl", 0.25))])
    evaluation = _evaluation({("set", "a"): [0.10, 0.12], ("rigl", "a"): [0.40, 0.42],
                              ("set-rigl", "a"): [0.20, 0.22]})
    (row,) = combination(study, evaluation, tuning).to_dict("records")
    assert row["best_single"] == "rigl"
    assert row["gain"] == pytest.approx(0.41 - 0.21)


def test_a_mean_over_datasets_its_interval_and_verdict():
    clear = across(pd.Series([0.10, 0.12, 0.11, 0.13]))
    assert clear["mean"] == pytest.approx(0.115) and clear["units"] == 4
    assert 0 < clear["ci_low"] < clear["mean"] < clear["ci_high"]
    assert verdict(clear["ci_low"], clear["ci_high"], "helped", "hurt") == "helped"
    mixed = across(pd.Series([0.2, -0.2, 0.1, -0.1]))
    assert verdict(mixed["ci_low"], mixed["ci_high"], "helped", "hurt") == "within noise"
    assert verdict(-0.3, -0.1, "helped", "hurt") == "hurt"
    assert pd.isna(across(pd.Series([0.1]))["ci_low"])


def test_a_gain_and_its_interval():
    preset, tuned = pd.Series([0.30, 0.32, 0.34]), pd.Series([0.20, 0.21, 0.22])
    d = difference(preset, tuned)
    assert d["gain"] == pytest.approx(0.11)
    assert d["ci_low"] < d["gain"] < d["ci_high"] and d["ci_low"] > 0  # clearly better
    assert d == difference(preset, tuned)  # deterministic
    single = difference(pd.Series([0.3]), tuned)
    assert single["gain"] == pytest.approx(0.09) and pd.isna(single["ci_low"])


@pytest.mark.parametrize(("changes", "message"), [
    ({"combined": "meta"}, "combined: Value error, must be one of the study's spaces"),
    ({"backends": ["hyperopt"]}, "The 'backends' parameter must be one of ["),
    ({"spaces": ["set", "nospace"], "combined": "set"}, "The 'space' parameter must be one of"),
    ({"transfer": ["rigl"], "datasets": ["iris"]}, "transfer needs at least two datasets"),
    ({"presets": ["rigl", "quickselection"]}, "The 'task' parameter must be 'classifier' in a "
     "configuration study (it measures classification accuracy); got 'autoencoder' (preset "
     "'quickselection')"),
    ({"spaces": ["rigl", "feature-selection"], "combined": "rigl"},
     "got 'searched' (space 'feature-selection')"),
])
def test_a_bad_study_file_is_one_line(tmp_path, changes, message):
    with pytest.raises(ScenarioError) as caught:
        load_study(_study(tmp_path, **changes), "configuration")
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert json.dumps(TINY)  # the tiny study itself loads
    load_study(_study(tmp_path), "configuration")


def test_preset_runs_made_with_another_configuration_are_named():
    from metasparse.space import preset_config
    from metasparse.study._configuration import stale_presets

    study = ConfigurationStudy(kind="configuration", name="x", datasets=["a"],
                               spaces=["set", "rigl"], combined="rigl", presets=["set", "rigl"],
                               fixed={"hidden_sizes": "16"})

    def row(name, config):
        return {"kind": "preset", "space": name, "config": json.dumps(config)}

    rigl = preset_config("rigl", study.fixed)
    grown = {k: v for k, v in rigl.items() if k != "erk_power_scale"}  # before it existed
    changed = dict(preset_config("set", study.fixed), zeta=0.5)
    evaluation = pd.DataFrame([row("rigl", grown), row("rigl", rigl), row("set", changed),
                               row("rigl-relative", preset_config("rigl-relative",
                                                                  study.fixed))])
    assert stale_presets(study, evaluation) == ["set"]
    assert stale_presets(study, evaluation.iloc[:0]) == []
