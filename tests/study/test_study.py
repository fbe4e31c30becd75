import subprocess
import sys

import pandas as pd
import pytest
import waiting

from metasparse.errors import ScenarioError
from metasparse.study import learning_speed, load_study, measure, summarize
from metasparse.study._grid import run_grid
from metasparse.train import fit


def test_learning_speed_auc_and_epochs_to_95_percent():
    auc, epochs = learning_speed([0.5, 0.8, 0.9, 1.0])
    assert auc == pytest.approx(0.8)
    assert epochs == 4  # 0.9 < 0.95 * 1.0: only the last epoch reaches 95% of the final value
    auc, epochs = learning_speed([0.2, 0.96, 0.97, 1.0])
    assert epochs == 2


def test_grid_resumes_without_repeating_finished_points(tmp_path):
    calls = []

    def run(point):
        calls.append(point["x"])
        if point["x"] == 2 and len(calls) == 3:
            raise KeyboardInterrupt
        return [{"y": point["x"] ** 2}]

    points = [{"x": i} for i in range(5)]
    with pytest.raises(KeyboardInterrupt):
        run_grid(tmp_path / "g.csv", points, run, description="t", progress=False)
    assert list(pd.read_csv(tmp_path / "g.csv")["x"]) == [0, 1]
    frame = run_grid(tmp_path / "g.csv", points, run, description="t", progress=False)
    assert calls == [0, 1, 2, 2, 3, 4]
    assert sorted(frame["y"]) == [0, 1, 4, 9, 16]


def test_importance_measures_on_a_trained_network():
    config = {"hidden_sizes": "64", "batch_size": 64, "lr": 0.05}
    trained = fit(config, "digits", 4, seed=0, evaluate_test=False)
    rows = pd.DataFrame(measure(trained, bins=4, fractions=[0.0, 1.0], seed=0))
    base = rows.loc[rows["measure"] == "base", "value"].item()
    assert base == pytest.approx(trained.result.val_accuracy)
    curve = rows[rows["measure"] == "curve"]
    assert (curve[curve["fraction"] == 0.0]["value"] == base).all()
    # every weight removed: the network outputs its biases only, near chance (10 classes)
    assert (curve[curve["fraction"] == 1.0]["value"] < 0.3).all()
    assert set(curve["order"]) == {"magnitude", "snip", "random"}
    bins = rows[rows["measure"] == "bin"]
    assert len(bins) == 4 * len(trained.topology.layers)
    # the largest-|w| bin matters more than the smallest one
    by_index = bins.groupby("index")["value"].mean()
    assert by_index[3] > by_index[0]


def test_summary_keeps_the_ratio_zero_point_on_every_axis():
    runs = pd.DataFrame([
        dict(grow_score="gradient", phase="none", ratio=0.0, seed=s, test_accuracy=0.5 + s / 10,
             auc=0.4, epochs_to_95=3.0, density=0.1, dataset="d") for s in (0, 1)
    ] + [
        dict(grow_score="gradient", phase=a, ratio=1.0, seed=s, test_accuracy=0.6,
             auc=0.5, epochs_to_95=2.0, density=0.1, dataset="d") for a in ("grow", "prune")
        for s in (0, 1)
    ])
    table = summarize(runs, ["grow", "prune"])
    assert len(table) == 4
    zero = table[table["ratio"] == 0.0]
    assert set(zero["phase"]) == {"grow", "prune"}
    assert zero["test_accuracy_mean"].tolist() == pytest.approx([0.55, 0.55])
    assert zero["test_accuracy_std"].tolist() == pytest.approx([0.0707, 0.0707], abs=1e-3)


def test_bad_study_file_is_one_line(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("name: x\ndatasets: [digits]\ngrow_scores: [magic]\n")
    with pytest.raises(ScenarioError, match="grow_score"):
        load_study(path, "randomness")
    path.write_text("name: x\ndatasets: [digits]\nbogus: 1\n")
    with pytest.raises(ScenarioError, match="bogus"):
        load_study(path, "randomness")
    for kind in ("randomness", "importance"):  # they measure classification accuracy
        path.write_text("name: x\ndatasets: [digits]\npreset: quickselection\n")
        with pytest.raises(ScenarioError, match=f"The 'task' parameter must be 'classifier' in "
                                                f"a {kind} study .*got 'autoencoder'"):
            load_study(path, kind)


@pytest.mark.parametrize("kind", ["randomness", "importance"])
def test_an_unknown_dataset_is_refused_at_load_with_the_valid_names(tmp_path, kind):
    # once: the study trained the known datasets for minutes before reaching the unknown one
    path = tmp_path / "s.yaml"
    path.write_text("name: x\ndatasets: [digits, nosuchset]\nepochs: 1\n")
    result = waiting.run([sys.executable, "-m", "metasparse.cli", "study", kind, str(path),
                          "--output", str(tmp_path / "out"), "--no-progress"], 120, "study")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "datasets must name available datasets [" in lines[0] and "'digits'" in lines[0]
    assert lines[0].endswith("got 'nosuchset'")
    assert not (tmp_path / "out").exists()  # nothing ran
    data = tmp_path / "mine.csv"  # a dataset file, and a data directory given on the command
    data.write_text("a,label\n" + "".join(f"{i},{i % 2}\n" for i in range(30)))
    path.write_text(f"name: x\ndatasets: [{data}, wine]\n")
    assert load_study(path, kind, data_dir=str(tmp_path)).datasets == [str(data), "wine"]


def test_randomness_study_end_to_end(tmp_path):
    study = tmp_path / "r.yaml"
    study.write_text(
        "name: r\nfixed: {hidden_sizes: '32', delta_t: 5, batch_size: 64}\n"
        "datasets: [digits]\ndensities: [0.2]\ngrow_scores: [gradient]\nratios: [0.0, 1.0]\n"
        "phases: [grow]\nseeds: [0, 1]\nepochs: 2\n")
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "metasparse.cli", "study", "randomness",
                             str(study), "--output", str(out), "--no-progress"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    runs = pd.read_csv(out / "runs.csv")
    assert len(runs) == 4 and set(runs["phase"]) == {"none", "grow"}
    report = (out / "report" / "report.md").read_text()
    assert "![randomness](randomness.png)" in report
    assert (out / "report" / "randomness.png").stat().st_size > 0


def test_resuming_with_other_settings_is_refused(tmp_path):
    study = tmp_path / "r.yaml"
    base = ("name: r\nfixed: {hidden_sizes: '32', delta_t: 5}\ndatasets: [wine]\n"
            "densities: [0.2]\ngrow_scores: [gradient]\nratios: [0.0, 1.0]\nphases: [grow]\n"
            "seeds: [0]\nepochs: %d\n")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "metasparse.cli", "study", "randomness", str(study),
               "--output", str(out), "--no-progress"]
    study.write_text(base % 1)
    assert subprocess.run(command, capture_output=True, timeout=300).returncode == 0
    study.write_text(base % 2)
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert "epochs=1" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_unkeyed_fields_are_recorded_but_make_no_new_run(tmp_path):
    calls = []

    def run(point):
        calls.append(point["x"])
        return [{"y": point["x"]}]

    points = [{"x": i, "config": "first"} for i in range(3)]
    run_grid(tmp_path / "g.csv", points, run, description="t", progress=False,
             unkeyed=("config",))
    again = [{"x": i, "config": "grown"} for i in range(3)]  # e.g. the space gained a parameter
    frame = run_grid(tmp_path / "g.csv", again, run, description="t", progress=False,
                     unkeyed=("config",))
    assert calls == [0, 1, 2]
    assert list(frame["config"]) == ["first"] * 3  # what the runs were made of


def test_the_rows_come_back_in_the_points_order_whatever_order_they_finished_in(tmp_path):
    class Reversed:  # a parallel grid whose runs finish last first
        def map(self, run, points):
            for i in reversed(range(len(points))):
                yield i, run(points[i])

    points = [{"x": i} for i in range(4)]
    frame = run_grid(tmp_path / "g.csv", points, lambda p: [{"y": p["x"] * 10}],
                     description="t", progress=False, parallel=Reversed())
    assert list(pd.read_csv(tmp_path / "g.csv")["x"]) == [3, 2, 1, 0]  # appended as finished
    assert list(frame["x"]) == [0, 1, 2, 3] and list(frame["y"]) == [0, 10, 20, 30]
