"""`metasparse analyze` on results directories that the real optimizer wrote."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from metasparse.analysis import analyze, load_results, write_report
from metasparse.cli import main


def test_results_load_with_typed_configurations(tiny_run):
    results = load_results(tiny_run)
    assert len(results.trials) == 10
    column = results.trials["config.hidden_sizes"]
    assert set(column) == {"32"}  # a string of sizes, not the number 32
    assert set(results.trials["config.dense_first_layer"]) == {False}
    steps = results.trials[results.trials["config.update_every"] == "epoch"]
    assert steps["config.delta_t"].isna().all()  # inactive
    assert results.incumbent is not None and results.reference_preset == "rigl"


def test_analyze_writes_the_report_with_every_parameter_of_the_space(tiny_run, capsys):
    assert main(["analyze", str(tiny_run), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "most important" in out
    report = tiny_run / "report"
    for name in ("report.md", "importance.csv", "interactions.csv", "ablation.csv",
                 "local_importance.csv", "convergence.csv", "importance.png", "ablation.png",
                 "convergence.png", "per_instance.png"):
        assert (report / name).is_file(), name
    space = load_results(tiny_run).space
    importance = pd.read_csv(report / "importance.csv")
    assert set(space) <= set(importance["parameter"])
    assert importance["importance"].between(0, 1).all()
    text = (report / "report.md").read_text()
    for parameter in space:
        assert f"| {parameter} |" in text, parameter
    for section in ("## Summary", "## Parameter importance (fANOVA)", "### Strongest pairwise",
                    "## Ablation path: `rigl` → incumbent", "## Convergence",
                    "## Per-instance results", "## Validation on held-out instances",
                    "![importance](importance.png)", "fixed settings"):
        assert section in text, section
    ablation = pd.read_csv(report / "ablation.csv")
    assert ablation["parameter"].iloc[0] == "(source)"
    assert len(ablation) > 1
    assert ablation["cost"].iloc[0] - ablation["cost"].iloc[-1] == \
        pytest.approx(ablation["gain"].sum())


def test_analyze_compares_optimizers_of_the_same_scenario(tiny_run, tiny_optuna_run, tmp_path):
    output = tmp_path / "comparison"
    code = main(["analyze", str(tiny_run), str(tiny_optuna_run), "--output", str(output),
                 "--no-progress"])
    assert code == 0
    curves = pd.read_csv(output / "convergence.csv")
    assert set(curves["label"]) == {"random", "optuna-tpe"}
    assert curves.groupby("run")["cost"].apply(lambda c: c.is_monotonic_decreasing).all()
    text = (output / "report.md").read_text()
    assert "Best cost at the end, per optimizer" in text
    assert (output / "convergence.png").is_file()


def test_analyze_multi_objective_draws_the_pareto_front_with_the_presets(tiny_mo_run):
    assert main(["analyze", str(tiny_mo_run), "--presets", "--no-progress"]) == 0
    report = tiny_mo_run / "report"
    assert (report / "pareto.png").is_file()
    pareto = pd.read_csv(report / "pareto.csv")
    assert pareto["on_front"].any()
    presets = pd.read_csv(report / "presets.csv")
    from metasparse.space import get_preset, preset_names

    # the autoencoder presets have no classification error: a val_error run leaves them out
    assert list(presets["preset"]) == [p for p in preset_names(relative=True)
                                       if get_preset(p).get("task") != "autoencoder"]
    assert {"cost", "cost_2", "dominated_by"} <= set(presets.columns)
    assert presets.set_index("preset").loc["dense", "cost_2"] == pytest.approx(1.0)
    assert "## Pareto front" in (report / "report.md").read_text()


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "metasparse.cli", *args], capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("arguments, message", [
    (["{missing}"], "does not exist"),
    (["{empty}"], "is not a results directory"),
    (["{run}", "--from", "sett"], "--from must be one of"),
])
def test_bad_input_is_one_line_and_exit_code_2(arguments, message, tiny_run, tmp_path):
    (tmp_path / "empty").mkdir()
    paths = {"missing": tmp_path / "nothing", "empty": tmp_path / "empty", "run": tiny_run}
    result = run_cli("analyze", *(a.format(**paths) for a in arguments))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


def test_a_scenario_with_several_spaces_gets_a_report_per_space_and_an_index(tmp_path,
                                                                            optimizer_run):
    parent = optimizer_run(tmp_path, "two-spaces", space=["set", "rigl"], n_trials=3,
                           instances=["wine"], backend={"name": "random", "seed": 0})
    assert main(["analyze", str(parent), "--no-progress"]) == 0
    for space in ("set", "rigl"):
        text = (parent / space / "report" / "report.md").read_text()
        assert f"## Ablation path: `{space}` → incumbent" in text
    index = (parent / "report" / "report.md").read_text()
    assert "[report](../set/report/report.md)" in index
    assert "[report](../rigl/report/report.md)" in index


def test_analyze_can_train_the_steps_of_the_ablation_path(tiny_run, tmp_path):
    output = tmp_path / "trained"
    code = main(["analyze", str(tiny_run), "--evaluate-path", "--seeds", "1", "--output",
                 str(output), "--no-progress"])
    assert code == 0
    section = _section((output / "report.md").read_text(), "Ablation path")
    assert ("(order from the random forest on 10 trials, predicting the validation error; each "
            "step trained: mean validation error over 2 tuning instance(s) x seeds [0] at 2 "
            "epochs)") in section
    assert "Measured costs for comparison" not in section
    path = pd.read_csv(output / "ablation.csv")
    assert {"cost", "predicted"} <= set(path.columns)
    runs = pd.read_csv(output / "ablation_runs.csv")
    assert len(runs) == len(path) * 2  # every configuration of the path on digits and wine
    assert set(runs["instance"]) == {"digits", "wine"}
    assert path["gain"].iloc[1:].sum() == pytest.approx(path["cost"].iloc[0]
                                                        - path["cost"].iloc[-1])


def _section(report: str, heading: str) -> str:
    """The text of the report's `## heading...` section."""
    return report.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]


def test_the_ablation_section_says_why_it_has_no_path(tiny_run, tmp_path):
    # A reference outside the run's space (SNFS grows by momentum, which set-rigl does not
    # search) has no surrogate path, nor Shapley values: the ablation section gives the
    # ablation's reason, not the Shapley analysis's.
    results = load_results(tiny_run)
    results.reference = {**(results.reference or {}), "preset": "snfs"}
    analysis = analyze([results], progress=False)
    report = write_report(analysis, tmp_path).read_text()
    section = _section(report, "Ablation path")
    assert "No surrogate ablation path from 'snfs'" in section
    assert "Shapley" not in section
    assert analysis.ablation.empty and analysis.ablation_mode == "surrogate"
    assert analysis.ablation_note.startswith("No surrogate ablation path from 'snfs'")
    assert any(note.startswith("No Shapley-value ablation") for note in analysis.notes)


def test_the_ablation_mode_is_a_plain_value_and_the_report_words_it(tiny_run, tmp_path):
    analysis = analyze([load_results(tiny_run)], progress=False)
    assert analysis.ablation_mode == "surrogate" and analysis.ablation_seeds == []
    report = write_report(analysis, tmp_path).read_text()
    section = _section(report, "Ablation path")
    assert ("(surrogate: random forest on 10 trials, predicting the validation error)"
            in section)
    assert "Measured costs for comparison" in section
    assert "(surrogate): " in _section(report, "Summary")
