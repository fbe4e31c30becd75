"""The results directory against hostile conditions: one run at a time (a second process is
refused, a SIGKILLed holder leaves no lock behind), outputs that cannot be written, a disk that
fills up in the middle of a run, and damaged files on resume. Each is one line on stderr and exit
code 2, before any trial where it can be known then, and the recorded trials are kept."""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import waiting
from optimize_helpers import REPO, cli, cli_env, read_csv, wait_for_rows

from metasparse.cli import main
from metasparse.errors import OutputError
from metasparse.optimize import load_scenario, optimize
from metasparse.results import LOCK_FILE, hold_directory, output_error


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("metasparse optimize: error: ")
    return lines[0]


# ------------------------------------------------------------------------- one run at a time

def test_a_held_directory_is_refused_naming_the_holder(tmp_path):
    with hold_directory(tmp_path / "run") as directory:
        assert f"pid {os.getpid()} on {socket.gethostname()}" in \
            (directory / LOCK_FILE).read_text()
        refused = pytest.raises(OutputError, match=rf"is in use by pid {os.getpid()} on "
                                                   rf"{socket.gethostname()} \(metasparse optimize")
        with refused, hold_directory(tmp_path / "run"):
            pass
    with hold_directory(tmp_path / "run"):  # released at the end of the block
        pass


def test_a_sigkilled_holder_leaves_no_lock_and_a_later_run_resumes(tmp_path, scenario_file):
    path = scenario_file("killed", backend={"name": "random"}, n_trials=8,
                         instances=["digits", "wine"], budget={"epochs": 30})
    trials = tmp_path / "results" / "killed" / "trials.csv"
    first = subprocess.Popen([sys.executable, "-m", "metasparse.cli", "optimize", str(path),
                              "--no-progress"], cwd=tmp_path, env=cli_env(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
    try:
        wait_for_rows(trials, 2, first)
        first.send_signal(signal.SIGKILL)  # the holder only, not its trial processes
        first.wait(timeout=30)
        before = read_csv(trials)
        assert (trials.parent / LOCK_FILE).read_text().startswith(f"pid {first.pid} ")
        result = cli("optimize", str(path), "--no-progress", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(first.pid, signal.SIGKILL)  # what the killed run left, if anything
    rows = read_csv(trials)
    assert len(rows) == 8 and [r["trial_id"] for r in rows] == [str(i) for i in range(8)]
    assert rows[:len(before)] == before  # the trials of the killed run are kept as they were


# ------------------------------------------------------------------ outputs that cannot be used

def _read_only_output(tmp_path: Path) -> tuple[str, str]:
    if os.geteuid() == 0:  # root writes through chmod: a directory of sysfs refuses it
        return "/sys/kernel", "Permission denied"
    directory = tmp_path / "read-only"
    directory.mkdir()
    directory.chmod(0o555)
    return str(directory), "Permission denied"


@pytest.mark.parametrize("kind", ["proc", "existing file", "below a file", "read-only"])
def test_an_output_that_cannot_be_written_is_one_line_before_any_trial(tmp_path,
                                                                       scenario_file, kind):
    # once: a 25-60 line traceback and exit code 1 for each
    path = scenario_file("out", backend={"name": "random"})
    file = tmp_path / "a-file"
    file.write_text("mine\n")
    output, reason = {
        "proc": ("/proc/metasparse-results", "No such file or directory"),
        "existing file": (str(file), "it is a file, not a directory"),
        "below a file": (str(file / "results"), "Not a directory"),
        "read-only": _read_only_output(tmp_path),
    }[kind]
    result = cli("optimize", str(path), "--output", output, "--no-progress", cwd=tmp_path)
    line = _one_line(result)
    assert line.endswith(f"cannot write the results directory {output!r}: {reason}")
    assert file.read_text() == "mine\n"
    assert not (tmp_path / "results").exists()


def _limit_file_size(limit: int):
    def limit_in_child() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit: OSError EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return limit_in_child


def test_a_full_disk_mid_run_is_one_line_and_keeps_the_recorded_trials(tmp_path, scenario_file):
    path = scenario_file("full", backend={"name": "random"}, n_trials=12, instances=["iris"],
                         budget={"epochs": 1})
    trials = tmp_path / "results" / "full" / "trials.csv"
    # trials.csv passes 6000 bytes at about its tenth row: that append fails with EFBIG
    result = waiting.run([sys.executable, "-m", "metasparse.cli", "optimize", str(path),
                          "--no-progress"], 300, "optimize", cwd=tmp_path, env=cli_env(),
                         preexec_fn=_limit_file_size(6000))
    line = _one_line(result)
    assert f"cannot write the results directory '{trials.parent}': file too large" in line
    assert line.endswith("the trials recorded before are kept")
    data = trials.read_bytes()
    complete = list(csv.DictReader(io.StringIO(data[:data.rfind(b"\n") + 1].decode())))
    assert 3 <= len(complete) < 12
    result = cli("optimize", str(path), "--no-progress", cwd=tmp_path)  # room again: resume
    assert result.returncode == 0, result.stderr
    rows = read_csv(trials)
    assert [r["trial_id"] for r in rows] == [str(i) for i in range(12)]
    assert rows[:len(complete)] == complete  # a row cut short is dropped, the others kept


def test_a_full_disk_mid_run_leaves_no_temporary_file(tmp_path, scenario_file, monkeypatch,
                                                      capsys):
    # once: the temporary file of the derived file being written (cut short) was left behind
    path = scenario_file("enospc", backend={"name": "random"}, n_trials=4, instances=["iris"],
                         budget={"epochs": 1})
    directory = tmp_path / "results" / "enospc"
    write_text, trajectories = Path.write_text, []

    def full_at_the_second_trajectory(self: Path, text: str, *args, **kwargs) -> int:
        if self.name.startswith(".trajectory.csv."):  # rewritten as each trial is recorded
            trajectories.append(self)
            if len(trajectories) == 2:
                write_text(self, text[:10], *args, **kwargs)  # what fits
                raise OSError(errno.ENOSPC, "No space left on device")
        return write_text(self, text, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full_at_the_second_trajectory)
    assert main(["optimize", str(path), "--no-progress"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"metasparse optimize: error: cannot write the results directory '{directory}': No "
        "space left on device; the trials recorded before are kept"]
    assert [r["trial_id"] for r in read_csv(directory / "trials.csv")] == ["0", "1"]
    assert not list(directory.glob("*.tmp"))


def test_output_error_leaves_other_os_errors_alone(tmp_path):
    elsewhere = FileNotFoundError(errno.ENOENT, "No such file or directory", "/data/x.npz")
    assert output_error(elsewhere, tmp_path) is None
    inside = PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "trials.csv"))
    assert "Permission denied" in str(output_error(inside, tmp_path))
    full = OSError(errno.ENOSPC, "No space left on device")
    assert "No space left on device" in str(output_error(full, tmp_path))


# ------------------------------------------------------------------------ damaged on resume

@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A finished run of three trials (random search, iris, one epoch)."""
    from optimize_helpers import write_scenario

    directory = tmp_path_factory.mktemp("finished")
    path = write_scenario(directory, "done", backend={"name": "random"}, n_trials=3,
                          instances=["iris"], budget={"epochs": 1})
    optimize(load_scenario(path), progress=False)
    return path


# what a file holds (or how its bytes change), and what is wrong with it
DAMAGE = [
    ("scenario.yaml", b"\x89PNG\r\n\x1a\n\xff\xfe\x00", "is damaged (not UTF-8 text"),
    ("scenario.yaml", b"name: [done\n  space: {\n", "is damaged (not valid YAML at line 2"),
    ("scenario.yaml", b"- a list\n", "is damaged (a list, not a mapping"),
    ("trials.csv", b"\x89PNG\r\n\x1a\n\xff\xfe\x00\n", "line 1: not UTF-8 text"),
    ("trials.csv", b"a,b,c\n1,2,3\n", "line 1: the header has no column 'trial_id': is it a "
                                       "trials.csv of a run?"),
    ("trials.csv", lambda data: data + b"3,oops\n", "line 5: 2 fields, expected"),  # by hand
    ("trial_instances.csv", lambda data: data.replace(b"\n0,", b"\nseven,", 1),
     "line 2: trial_id is 'seven', not an integer"),
    ("incumbent.yaml", b"cost: [0.5\n", "is damaged (not valid YAML"),
]


@pytest.mark.parametrize(("name", "data", "problem"), DAMAGE,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(DAMAGE)])
def test_a_damaged_results_file_is_one_line_on_resume_and_left_as_it_is(
        tmp_path, finished_run, name, data, problem):
    # once: a traceback (UnicodeDecodeError, yaml.ScannerError) and exit code 1
    directory = tmp_path / "done"
    shutil.copytree(finished_run.parent / "results" / "done", directory)
    target = directory / name
    target.write_bytes(data(target.read_bytes()) if callable(data) else data)
    snapshot = {p.name: p.read_bytes() for p in directory.iterdir() if p.name != LOCK_FILE}
    result = cli("optimize", str(finished_run), "--output", str(directory), "--n-trials", "4",
                 "--no-progress", cwd=tmp_path)
    line = _one_line(result)
    assert f"'{target}' {problem}" in line
    if name.endswith(".yaml"):
        assert "cannot be resumed: restore or remove that file, or pick another --output" in line
    assert {p.name: p.read_bytes() for p in directory.iterdir() if p.name != LOCK_FILE} \
        == snapshot  # nothing was changed or trained


def test_a_resume_refused_for_want_of_room_changes_nothing_and_leaves_no_temporary_file(
        tmp_path, finished_run):
    # once: .scenario.yaml.<pid>.tmp, cut short, was left behind
    directory = tmp_path / "done"
    shutil.copytree(finished_run.parent / "results" / "done", directory)
    snapshot = {p.name: p.read_bytes() for p in directory.iterdir() if p.name != LOCK_FILE}
    # room for run.lock, not for scenario.yaml, the first file that a resume writes
    limit = len(snapshot["scenario.yaml"]) // 2
    result = waiting.run([sys.executable, "-m", "metasparse.cli", "optimize", str(finished_run),
                          "--output", str(directory), "--n-trials", "4", "--no-progress"],
                         300, "optimize", cwd=tmp_path, env=cli_env(),
                         preexec_fn=_limit_file_size(limit))
    line = _one_line(result)
    assert f"cannot write the results directory '{directory}': file too large" in line
    assert {p.name: p.read_bytes() for p in directory.iterdir() if p.name != LOCK_FILE} \
        == snapshot


def test_a_killed_runs_half_line_is_not_damage(tmp_path, finished_run):
    directory = tmp_path / "done"
    shutil.copytree(finished_run.parent / "results" / "done", directory)
    with (directory / "trials.csv").open("ab") as handle:
        handle.write(b"3,success,0.1\xe2")  # cut in the middle of a row and of a character
    summary = optimize(load_scenario(finished_run, output=str(directory), n_trials=4),
                       progress=False)[0]
    assert summary.n_trials == 4
    assert [r["trial_id"] for r in read_csv(directory / "trials.csv")] == ["0", "1", "2", "3"]


def test_the_lock_file_is_not_inherited_by_the_trial_processes(tmp_path):
    # the flock is released when the holder dies only if no child holds the descriptor
    code = ("import os, sys\n"
            "from metasparse.results import hold_directory\n"
            "with hold_directory(sys.argv[1]):\n"
            "    os.system(f'ls -l /proc/{os.getpid()}/fd > {sys.argv[1]}/parent')\n"
            "    os.system(f'ls -l /proc/self/fd > {sys.argv[1]}/child')\n")
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, timeout=60,
                   env={**os.environ, "PYTHONPATH": str(REPO)})
    assert LOCK_FILE in (tmp_path / "parent").read_text()
    assert LOCK_FILE not in (tmp_path / "child").read_text()


@pytest.mark.parametrize("command", [["validate", "--seeds", "1"], ["analyze", "--evaluate"]])
def test_commands_that_train_into_a_results_directory_wait_for_its_run(tmp_path, finished_run,
                                                                      command):
    directory = finished_run.parent / "results" / "done"
    with hold_directory(directory):  # a run of this test's process is going on in it
        result = waiting.run([sys.executable, "-m", "metasparse.cli", command[0],
                              str(directory), *command[1:], "--no-progress"], 120, command[0],
                             cwd=tmp_path, env=cli_env())
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"metasparse {command[0]}: error: results directory "
                               f"'{directory}' is in use by pid {os.getpid()} on ")
    assert lines[0].endswith("); wait for that run to end (or stop it)")
    assert not (directory / "report").exists() and not (directory / "validation.csv").exists()


def test_a_study_directory_belongs_to_one_study(tmp_path):
    study = tmp_path / "s.yaml"
    study.write_text("name: s\ndatasets: [iris]\nepochs: 1\nseeds: [0]\n")
    output = tmp_path / "out"
    command = [sys.executable, "-m", "metasparse.cli", "study", "importance", str(study),
               "--output", str(output), "--no-progress"]
    with hold_directory(output, "study", "metasparse study importance"):
        result = waiting.run(command, 120, "study", cwd=tmp_path, env=cli_env())
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        f"metasparse study: error: study directory '{output}' is in use by pid {os.getpid()} "
        f"on {socket.gethostname()} (metasparse study importance, since "
        + (output / LOCK_FILE).read_text().split("since ")[1].strip()
        + "; wait for that run to end (or stop it), or pick another --output")
    assert sorted(p.name for p in output.iterdir()) == [LOCK_FILE]  # nothing ran
    result = waiting.run([*command[:-2], str(study / "x"), "--no-progress"], 120, "study",
                         cwd=tmp_path, env=cli_env())
    assert result.returncode == 2
    assert result.stderr.strip().endswith(
        f"cannot write the study directory '{study / 'x'}': Not a directory")
