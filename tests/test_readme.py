"""Every code block of README.md is executed, or listed here with the reason it is not.

The fenced blocks are read from the README itself: a ```python block runs in a fresh
interpreter (with the objects it leaves to the reader, in PYTHON_SETUP); each command of a
```bash / ```sh / ```console block is run as written by the environment's own `metasparse`, in
a scratch directory (`scenarios` linked to the repository's), in README order, with at most a
budget override appended (RUN); the commands that cannot run in a test are in SKIP with their
reason. A block or a command that is in none of these fails
`test_every_readme_block_is_run_or_listed`, so the README cannot drift from what is tested.
"""

from __future__ import annotations

import csv
import json
import os
import queue
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import waiting
import yaml

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
SHELL = {"bash", "sh", "shell", "console"}


@dataclass(frozen=True)
class Block:
    language: str
    line: int  # README line of the block's first line of code
    text: str


def readme_blocks(path: Path = README) -> list[Block]:
    """The fenced code blocks of a Markdown file, in order."""
    blocks, fence, start, language, lines = [], None, 0, "", []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if fence is None:
            match = re.match(r"^\s*(`{3,}|~{3,})\s*([\w+-]*)", line)
            if match:
                fence, language, start, lines = match.group(1), match.group(2).lower(), number, []
        elif line.strip().startswith(fence) and not line.strip().strip(fence[0]):
            blocks.append(Block(language, start + 1, "\n".join(lines) + "\n"))
            fence = None
        else:
            lines.append(line)
    assert fence is None, f"{path.name}: the code block opened at line {start} is not closed"
    return blocks


def shell_commands(block: Block) -> list[tuple[int, str]]:
    """(README line, command without its comment) of each command of a shell block."""
    commands, pending, first = [], "", 0
    for offset, raw in enumerate(block.text.splitlines()):
        line = raw.strip()
        if block.language == "console":
            if not line.startswith("$"):
                continue  # a command's output
            line = line[1:].strip()
        if not pending:
            first = block.line + offset
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        words = shlex.split(line, comments=True)
        if words:
            commands.append((first, shlex.join(words)))
    return commands


# -- how each block is treated -------------------------------------------------------------

# Lines that set up the shell the commands run in; the test makes the same environment.
ENVIRONMENT = {
    "source .venv/bin/activate":
        "the commands run the `metasparse` of this test's environment (beside sys.executable)",
    "export METASPARSE_DATA_DIR=../shared/data":
        "applied: the commands get METASPARSE_DATA_DIR=<repository>/../shared/data",
}


def check_presets(directory: Path, out: str) -> None:
    listed = {line.split(":")[0] for line in out.splitlines() if line and not line[0].isspace()}
    presets = yaml.safe_load((REPO / "spaces" / "presets.yaml").read_text())
    assert set(presets) <= listed, f"presets missing from the list: {set(presets) - listed}"


def check_datasets(directory: Path, out: str) -> None:
    assert "digits" in out.split(), out


def check_yaml_mapping(directory: Path, out: str) -> None:
    assert isinstance(yaml.safe_load(out), dict), out[:500]


def check_train_json(directory: Path, out: str) -> None:
    assert json.loads(out)["status"] == "success", out


def check_trials(directory: Path, out: str) -> None:
    with (directory / "results" / "quickstart" / "trials.csv").open() as table:
        rows = list(csv.DictReader(table))
    assert len(rows) == 2 and all(row["status"] == "success" for row in rows), rows


@dataclass(frozen=True)
class Run:
    """A command run as the README writes it, `extra` appended (argparse: a repeated option's
    last value wins) where the README's own budget is too large for a test."""

    extra: tuple[str, ...] = ()
    why: str = ""  # the reason for `extra`
    cpu_s: float = 300.0  # CPU-seconds (of the command and its children) before it fails
    needs: tuple[str, ...] = ()  # datasets it reads from the data directory
    writes: str = ""  # a file the command leaves in the scratch directory
    check: Callable[[Path, str], None] | None = None  # (scratch directory, stdout)
    quick: bool = False  # trains nothing: runs outside the slow test too
    server: bool = False  # serves until Ctrl-C: stopped once it answers


RUN = {
    "metasparse datasets": Run(quick=True, cpu_s=60, check=check_datasets),
    "metasparse space --presets": Run(quick=True, cpu_s=60, check=check_presets),
    "metasparse space rigl": Run(quick=True, cpu_s=60),
    "metasparse space meta --format yaml": Run(quick=True, cpu_s=60, check=check_yaml_mapping),
    "metasparse train --dataset coil20 --preset rigl --epochs 20 --seed 0 --json": Run(
        needs=("coil20",), check=check_train_json),
    "metasparse train --dataset digits --preset set --set grow_score=gradient --set "
    "density=0.05": Run(),
    "metasparse optimize scenarios/quickstart.yaml": Run(
        extra=("--n-trials", "2", "--no-progress"), cpu_s=600, check=check_trials,
        why="2 trials instead of the scenario's 30 (minutes)"),
    "metasparse analyze results/quickstart": Run(
        extra=("--no-progress",), why="no progress bars in a log",
        writes="results/quickstart/report/report.md"),
    "metasparse dashboard": Run(
        extra=("--port", "0"), server=True, cpu_s=120,
        why="a free port (8050 may be taken); stopped by Ctrl-C once it has served its page"),
    "metasparse export results/quickstart --to optuna": Run(
        writes="results/quickstart/optuna-export.journal"),
    "metasparse validate results/quickstart --seeds 3": Run(
        extra=("--seeds", "1", "--no-progress"), cpu_s=900,
        why="one test seed of every preset instead of three"),
    "metasparse study importance scenarios/study-importance-small.yaml": Run(
        cpu_s=300, writes="results/reference/importance/report/report.md",
        why="run on a copy of the committed results/reference/importance, which it retrains "
            "nothing of (the README: the studies resume; their reference is committed)"),
    "metasparse select-features --dataset madelon --k 20 --k 100 --baselines all "
    "random_forest --output fs": Run(needs=("madelon",), writes="fs/ranking.csv"),
    "metasparse select-features --dataset madelon --k 20 --preset set --importance "
    "attribution": Run(needs=("madelon",)),
    "metasparse study randomness scenarios/study-randomness-small.yaml": Run(
        needs=("coil20", "isolet"), cpu_s=300,
        writes="results/reference/randomness/report/report.md",
        why="run on a copy of the committed reference, as importance's"),
    "metasparse study feature-selection scenarios/study-feature-selection.yaml": Run(
        needs=("madelon", "isolet", "coil20", "arcene"), cpu_s=600,
        writes="results/reference/feature-selection/report/report.md",
        why="run on a copy of the committed reference, as importance's"),
}

SKIP = {
    "make run": "sets up .venv (pip) and runs the whole quickstart (30 trials, minutes); its "
                "optimize command is run from the next block with 2 trials",
    "make test": "runs the whole test suite, this test included",
    "metasparse study configuration scenarios/study-configuration-small.yaml":
        "about 10 minutes (the README); tests/study/test_configuration.py runs the "
        "command on a tiny study file",
}

# Blocks that are not code (their first line): no reason to run them.
NOT_CODE = {
    "metasparse/   data/ models/ sparse/ (distribution, init, scores, schedule, topology)":
        "the Layout section: a directory tree",
}

# What a ```python block leaves to the reader (its first line -> code run before it), and what
# the test checks after it.
SPARSIFY_SETUP = """\
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
_digits = load_digits()
_data = TensorDataset(torch.tensor(_digits.data / 16.0, dtype=torch.float32),
                      torch.tensor(_digits.target))
loader = DataLoader(_data, batch_size=8, shuffle=True)
model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                      nn.Linear(256, 10))
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
loss_fn = nn.CrossEntropyLoss()
total_steps = len(loader)  # one epoch, 225 steps: rigl updates the topology at step 100
"""
SPARSIFY_CHECK = """\
assert sparsifier.steps == len(loader), sparsifier
assert abs(sparsifier.density() - 0.05) < 0.005, sparsifier
_weights = [m.weight for m in model if isinstance(m, nn.Linear)]
_active = sum(int((w != 0).sum()) for w in _weights)
assert _active < 0.1 * sum(w.numel() for w in _weights), _active
print("sparsify block:", sparsifier)
"""
PYTHON_SETUP = {"import metasparse": (SPARSIFY_SETUP, SPARSIFY_CHECK)}


def first_line(block: Block) -> str:
    return next((line.strip() for line in block.text.splitlines() if line.strip()), "")


# -- the tests -------------------------------------------------------------------------------

def test_every_readme_block_is_run_or_listed():
    """A new block or command in the README must be run here or skipped with a reason; an entry
    here whose command left the README is removed."""
    blocks = readme_blocks()
    assert blocks, "no code block found in README.md"
    unlisted, seen = [], set()
    for block in blocks:
        if block.language == "python":
            compile(block.text, f"README.md:{block.line}", "exec")
            seen.add(first_line(block))
        elif block.language in SHELL:
            for line, command in shell_commands(block):
                seen.add(command)
                if command not in RUN and command not in SKIP and command not in ENVIRONMENT:
                    unlisted.append(f"README.md:{line}: {command}")
        else:
            seen.add(first_line(block))
            if first_line(block) not in NOT_CODE:
                unlisted.append(f"README.md:{block.line}: a ```{block.language} block "
                                f"starting {first_line(block)!r}")
    assert not unlisted, ("README code that tests/test_readme.py neither runs nor lists "
                          "(add it to RUN, SKIP or NOT_CODE there):\n" + "\n".join(unlisted))
    stale = [key for table in (RUN, SKIP, ENVIRONMENT, NOT_CODE, PYTHON_SETUP) for key in table
             if key not in seen]
    assert not stale, f"entries of tests/test_readme.py no longer in the README: {stale}"
    assert not set(RUN) & set(SKIP)


def test_readme_parser_sees_commands_blocks_and_continuations(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("text\n```bash\nfoo --a 1   # a comment\n\nbar \\\n  --b 'x y'\n```\n"
                    "```console\n$ baz\noutput line\n```\n~~~python\nprint(1)\n~~~\n")
    blocks = readme_blocks(page)
    assert [b.language for b in blocks] == ["bash", "console", "python"]
    assert shell_commands(blocks[0]) == [(3, "foo --a 1"), (5, "bar --b 'x y'")]
    assert shell_commands(blocks[1]) == [(9, "baz")]
    assert blocks[2] == Block("python", 13, "print(1)\n")


def test_readme_python_blocks_run(tmp_path):
    """Every ```python block, in order, in one fresh interpreter (a later block may use what an
    earlier one made); a traceback names the README's line."""
    python = [block for block in readme_blocks() if block.language == "python"]
    assert python
    steps = []  # (file name for tracebacks, code), run in order in one namespace
    for block in python:
        setup, check = PYTHON_SETUP.get(first_line(block), ("", ""))
        steps.append((f"<setup of README.md:{block.line}>", setup))
        # blank lines first, so that the code's line numbers are the README's
        steps.append((str(README), "\n" * (block.line - 1) + block.text))
        steps.append((f"<check of README.md:{block.line}>", check))
    (tmp_path / "steps.json").write_text(json.dumps(steps))
    script = tmp_path / "readme_blocks.py"
    script.write_text("import json\n"
                      "namespace = {'__name__': '__main__'}\n"
                      "for name, code in json.load(open('steps.json')):\n"
                      "    exec(compile(code, name, 'exec'), namespace)\n")
    result = waiting.run([sys.executable, str(script)], cpu_budget=300,
                         what="the README's python blocks", cwd=tmp_path, env=command_env())
    if result.returncode != 0:
        pytest.fail(f"a README python block fails:\n{result.stdout[-2000:]}{result.stderr[-4000:]}")


def command_env() -> dict[str, str]:
    """The environment the README's `source` and `export` lines make."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["METASPARSE_DATA_DIR"] = str((REPO / ".." / "shared" / "data").resolve())
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def metasparse_program() -> list[str]:
    script = Path(sys.executable).parent / "metasparse"
    return [str(script)] if script.exists() else [sys.executable, "-m", "metasparse.cli"]


# The studies whose README commands resume their committed reference (retraining nothing)
STUDIES_RESUMED = ("importance", "randomness", "feature-selection")


@pytest.fixture
def scratch(tmp_path) -> Path:
    """A directory to run the commands in, as if it were the repository: its `scenarios` is the
    repository's (read only), `results/` is its own."""
    (tmp_path / "scenarios").symlink_to(REPO / "scenarios", target_is_directory=True)
    for study in STUDIES_RESUMED:
        reference = REPO / "results" / "reference" / study
        if reference.is_dir():
            shutil.copytree(reference, tmp_path / "results" / "reference" / study)
    return tmp_path


def run_commands(directory: Path, quick: bool) -> None:
    env = command_env()
    data_dir = Path(env["METASPARSE_DATA_DIR"])
    failures, missing, ran = [], [], 0
    for block in readme_blocks():
        if block.language not in SHELL:
            continue
        for line, command in shell_commands(block):
            run = RUN.get(command)
            if run is None or run.quick != quick:
                continue
            absent = [name for name in run.needs if not (data_dir / f"{name}.npz").exists()]
            if absent:
                missing.append(f"{command} (needs {', '.join(absent)} in {data_dir})")
                continue
            words = shlex.split(command)
            assert words[0] == "metasparse", command
            args = [*metasparse_program(), *words[1:], *run.extra]
            what = f"README.md:{line}: {command}"
            started = time.monotonic()
            if run.server:
                problem = serve_and_stop(args, directory, env, run.cpu_s, what)
            else:
                problem = run_one(args, directory, env, run, what)
            print(f"{time.monotonic() - started:6.1f} s  {what} {' '.join(run.extra)}")
            ran += 1
            if problem:
                failures.append(f"{what} {' '.join(run.extra)}\n{problem}")
    assert not failures, "README commands that fail:\n\n" + "\n\n".join(failures)
    assert ran, "no README command ran"
    if missing:
        pytest.skip("the other README commands pass; not run for want of the shared data: "
                    + "; ".join(missing))


def run_one(args: list[str], directory: Path, env: dict[str, str], run: Run, what: str
            ) -> str | None:
    result = waiting.run(args, cpu_budget=run.cpu_s, what=what, cwd=directory, env=env)
    if result.returncode != 0:
        return f"exit code {result.returncode}: {result.stderr[-3000:]}"
    if run.writes and not (directory / run.writes).is_file():
        return f"{run.writes} was not written: {result.stdout[-2000:]}"
    if run.check is not None:
        try:
            run.check(directory, result.stdout)
        except (AssertionError, ValueError) as exc:
            return f"unexpected output: {exc}"
    return None


def serve_and_stop(args: list[str], directory: Path, env: dict[str, str], cpu_s: float,
                   what: str) -> str | None:
    """Start a server command, wait for the URL it prints, fetch the page, stop it by SIGINT
    (Ctrl-C) and wait for it to end."""
    log = directory / "server.stderr"
    with log.open("w") as stderr:
        process = subprocess.Popen(args, cwd=directory, env=env, stdout=subprocess.PIPE,
                                   stderr=stderr, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout],
                     daemon=True).start()
    try:
        url = None
        while url is None:
            if process.poll() is not None:
                return f"ended with {process.returncode} before serving: {log.read_text()[-3000:]}"
            if waiting.cpu_seconds(process.pid) > cpu_s:
                return f"no URL printed after {cpu_s:.0f} CPU-seconds"
            try:
                found = re.search(r"http://[\w.:]+/", lines.get(timeout=1.0))
            except queue.Empty:
                continue
            url = found.group(0) if found else None
        with urllib.request.urlopen(url, timeout=120) as response:
            if response.status != 200:
                return f"{url} answered {response.status}"
        process.send_signal(signal.SIGINT)
        process.wait(timeout=120)
        if process.returncode != 0:
            return f"exit code {process.returncode} after Ctrl-C: {log.read_text()[-3000:]}"
        return None
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_readme_quick_commands_run(scratch):
    """The commands that train nothing (datasets, space)."""
    run_commands(scratch, quick=True)


@pytest.mark.slow
def test_readme_training_commands_run(scratch):
    """train, optimize (2 trials) -> analyze, dashboard, export, validate on its results, the
    importance study (resumed from the committed reference) and select-features."""
    run_commands(scratch, quick=False)
