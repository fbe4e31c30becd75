"""The CPU time of `metasparse` commands that do nothing but print: help texts and one-line errors.

Each case runs N times, each time in a fresh process, and the table shows the median user+sys
CPU seconds of each (the process and its children, read from the kernel's accounting, so a
loaded machine makes it less noisy than wall time), beside `python -c "import torch"`, the
reference that a command importing torch cannot go below. Target: `metasparse --help` and a
one-line input error under 1 s. The commands run as from a user's shell, without
PYTHONHASHSEED, so `optimize` includes its restart with a fixed hash seed (metasparse.cli.main).

    python bench/cli_startup.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

# (label, the arguments after `metasparse`, the exit code it must end with)
CASES = [
    ("metasparse --help", ["--help"], 0),
    ("metasparse train --help", ["train", "--help"], 0),
    ("metasparse optimize --help", ["optimize", "--help"], 0),
    ("metasparse dashboard --help", ["dashboard", "--help"], 0),
    ("argparse error (train --epochs ten)", ["train", "--dataset", "digits", "--epochs", "ten"],
     2),
    ("metasparse optimize missing.yaml", ["optimize", "missing.yaml"], 2),
    ("metasparse train --dataset nosuch", ["train", "--dataset", "nosuch"], 2),
]


def command() -> list[str]:
    """The installed `metasparse` script beside this Python, else `python -m metasparse.cli`."""
    script = shutil.which("metasparse", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "metasparse.cli"]


def cpu_seconds(argv: list[str], expected_rc: int, cwd: str) -> float:
    """User+sys CPU seconds of one run of `argv` in a fresh process (and what it starts)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != expected_rc:
        raise SystemExit(f"{' '.join(argv)}: exit code {done.returncode}, expected "
                         f"{expected_rc}:\n{done.stderr}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs per case (default: 5)")
    args = parser.parse_args()
    metasparse = command()
    cases = [("python -c 'import torch' (reference)", [sys.executable, "-c", "import torch"], 0)]
    cases += [(label, [*metasparse, *rest], rc) for label, rest, rc in CASES]
    print(f"# {platform.machine()}, Python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}; median of {args.repeats} fresh processes")
    with tempfile.TemporaryDirectory() as cwd:  # where missing.yaml is missing
        medians = {label: statistics.median(cpu_seconds(argv, rc, cwd)
                                            for _ in range(args.repeats))
                   for label, argv, rc in cases}
    reference = medians[cases[0][0]]
    width = max(len(label) for label in medians)
    print(f"{'case':<{width}}  CPU s  x torch import")
    for label, seconds in medians.items():
        print(f"{label:<{width}}  {seconds:5.2f}  {seconds / reference:14.2f}")


if __name__ == "__main__":
    main()
