"""The command line: one JSON object from `train --json`, one-line errors with exit code 2."""

import json
import subprocess
import sys

import pytest

from metasparse.cli import _present, main


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "metasparse.cli", *args], capture_output=True,
                          text=True, timeout=300)


def test_train_json_reports_the_promised_keys(capsys):
    # digits takes 11 steps per epoch: delta_t=5 gives updates at steps 5, 10 and 15 (t_end 0.75)
    code = main(["train", "--dataset", "digits", "--preset", "rigl", "--set", "delta_t=5",
                 "--epochs", "2", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("test_accuracy", "val_accuracy", "density", "target_density", "wall_time_s",
                "topology_updates"):
        assert key in out
    assert out["topology_updates"] > 0
    assert out["density"] == pytest.approx(out["target_density"], abs=0.01)
    assert out["test_accuracy"] > 0.5  # well above chance (0.1)


def test_train_says_when_a_published_schedule_never_fired(capsys):
    # iris at batch 100 is one step per epoch: rigl's 100 steps never come, its relative form
    # updates before t_end
    assert main(["train", "--dataset", "iris", "--preset", "rigl", "--set", "hidden_sizes=32",
                 "--epochs", "4"]) == 0
    captured = capsys.readouterr()
    assert "topology_updates: 0" in captured.out
    assert captured.err.strip().splitlines()[-1] == (  # below the progress bar
        "note: no topology update in 4 epochs on iris (updates every 100 steps, until "
        "t_end=0.75): the network trained as a static sparse one; --preset rigl-relative "
        "updates as often, relative to training, as in its paper")
    assert main(["train", "--dataset", "iris", "--preset", "rigl-relative", "--set",
                 "hidden_sizes=32", "--epochs", "4"]) == 0
    captured = capsys.readouterr()
    assert "topology_updates: 2" in captured.out and "note:" not in captured.err  # steps 1, 2
    assert main(["train", "--dataset", "iris", "--preset", "static", "--set",
                 "hidden_sizes=32", "--epochs", "1"]) == 0
    assert "note:" not in capsys.readouterr().err  # static by design


def test_train_is_reproducible(capsys):
    outs = []
    for _ in range(2):
        main(["train", "--dataset", "wine", "--preset", "set", "--set", "hidden_sizes=32",
              "--epochs", "3", "--seed", "4", "--json"])
        out = json.loads(capsys.readouterr().out)
        out.pop("wall_time_s")
        outs.append(out)
    assert outs[0] == outs[1]


@pytest.mark.parametrize("args, message", [
    (["--set", "densty=0.1"], "Unknown parameter 'densty'"),
    (["--set", "zeta=3"], "The 'zeta' parameter must be a number in [0.0, 1.0]; got 3.0"),
    (["--set", "grow_score=best"], "The 'grow_score' parameter must be one of"),
    (["--preset", "sett"], "The 'preset' parameter must be one of"),
    (["--set", "hidden_sizes=a,b"], "hidden_sizes"),
])
def test_bad_input_is_one_line_and_exit_code_2(args, message):
    result = run_cli("train", "--dataset", "digits", "--epochs", "1", *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.stderr


def test_unknown_dataset_lists_what_is_available():
    result = run_cli("train", "--dataset", "nosuchdata", "--epochs", "1")
    assert result.returncode == 2
    assert "Unknown dataset 'nosuchdata'" in result.stderr and "digits" in result.stderr


def test_space_prints_the_space_and_presets(capsys):
    assert main(["space", "rigl"]) == 0
    out = capsys.readouterr().out
    assert "grow_score, Type: Constant, Value: gradient" in out
    assert main(["space", "--presets"]) == 0
    out = capsys.readouterr().out
    for name in ("set", "rigl", "snfs", "ctre", "mest", "granet", "static", "dense", "gse", "chts",
                 "srigl"):
        assert f"{name}:" in out
    assert "source: mikeheddes/guided-stochastic-exploration" in out


@pytest.mark.parametrize("args, prog, message", [
    (["select-features", "--dataset", "digits", "--k", "2.5"], "metasparse select-features",
     "argument --k: invalid int value: '2.5'"),
    (["select-features", "--k", "3"], "metasparse select-features",
     "the following arguments are required: --dataset"),
    (["train", "--dataset", "digits", "--no-such-option", "1"], "metasparse train",
     "unrecognized arguments: --no-such-option 1"),
    (["space", "--format", "xml"], "metasparse space",
     "argument --format: invalid choice: 'xml' (choose from 'text', 'yaml', 'json')"),
    (["no-such-command"], "metasparse", "argument COMMAND: invalid choice: 'no-such-command'"),
])
def test_argparse_errors_are_one_line_and_help_the_whole_usage(args, prog, message, capsys):
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{prog}: error: {message}")
    assert err.endswith(f" (see {prog} --help)\n") and err.count("\n") == 1
    with pytest.raises(SystemExit) as exited:
        main([*prog.split()[1:], "--help"])
    assert exited.value.code == 0
    help_text = capsys.readouterr().out
    assert help_text.startswith(f"usage: {prog} ") and "\noptions:\n" in help_text


def test_a_command_of_an_absent_layer_is_left_out():
    assert _present("metasparse.optimize._command")
    assert _present("metasparse.dashboard._command")
    assert not _present("metasparse.optimize._no_such_command")
    assert not _present("metasparse.no_such_layer._command")
