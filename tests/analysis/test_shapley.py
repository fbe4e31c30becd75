"""Shapley-value ablation and tunability (HyperSHAP) on the run's surrogate."""

from __future__ import annotations

import pandas as pd
import pytest

from metasparse.analysis import (
    fanova,
    fit_surrogate,
    incumbent_config,
    load_results,
    preset_config,
    shapley_ablation,
    tunability,
)


@pytest.fixture(scope="module")
def game(tiny_run):
    results = load_results(tiny_run)
    surrogate = fit_surrogate(results.trials, results.space)
    main = fanova(results.trials, results.space, surrogate=surrogate).main
    inputs = {f.name for f in surrogate.features}
    order = [p for p in main[main["status"] == "searched"]["parameter"] if p in inputs]
    source = preset_config(results.reference_preset, results.fixed)
    return surrogate, source, incumbent_config(results), order


def test_the_shapley_ablation_shares_out_the_predicted_gain(game):
    surrogate, source, target, order = game
    players = order[:5]
    table = shapley_ablation(surrogate, source, target, players)
    changed = [p for p in players if source[p] != target[p]]
    assert list(table["parameter"]) == changed
    # efficiency: the values add up to the gain of making every change
    gain = surrogate.predict([source])[0] - surrogate.predict(
        [{**source, **{p: target[p] for p in changed}}])[0]
    assert table["shapley"].sum() == pytest.approx(gain, abs=1e-9)
    # with one player, its value is its own gain
    alone = shapley_ablation(surrogate, source, target, changed[:1])
    one = surrogate.predict([source])[0] - surrogate.predict(
        [{**source, changed[0]: target[changed[0]]}])[0]
    assert alone["shapley"].iloc[0] == pytest.approx(one, abs=1e-9)
    assert shapley_ablation(surrogate, source, source, players).empty  # nothing differs


def test_a_parameter_that_the_surrogate_ignores_earns_nothing(tiny_run, game):
    _, source, target, order = game
    results = load_results(tiny_run)
    trials = results.trials.copy()
    trials["config.lr"] = 0.01  # one value in every trial: the forest never splits on it
    surrogate = fit_surrogate(trials, results.space)
    top = next(p for p in order if p != "lr")
    values = tunability(surrogate, source, [top, "lr"], n_samples=200)
    values = values.set_index("parameter")["tunability"]
    assert values["lr"] == pytest.approx(0.0, abs=1e-12)  # a null player
    assert values[top] != pytest.approx(0.0, abs=1e-6)
    target = {**target, "lr": source["lr"] * 3}
    ablation = shapley_ablation(surrogate, source, target, [top, "lr"]).set_index("parameter")
    assert ablation.loc["lr", "shapley"] == pytest.approx(0.0, abs=1e-12)


def test_analyze_reports_the_shapley_values(tiny_run, tmp_path):
    from metasparse.cli import main

    output = tmp_path / "report"
    assert main(["analyze", str(tiny_run), "--output", str(output), "--no-progress"]) == 0
    table = pd.read_csv(output / "shapley_ablation.csv")
    assert len(table) > 0 and table["shapley"].sum() == pytest.approx(table["total"].iloc[0])
    assert len(pd.read_csv(output / "tunability.csv")) > 0
    assert "### Shapley-value ablation and tunability (HyperSHAP)" in \
        (output / "report.md").read_text()
    assert "Shapley ablation: reference" in (output / "report.html").read_text()
