"""Waiting on a process by the work it does, not by the wall clock.

Every CLI call spends about 10 s of CPU importing; on a loaded machine a fixed wall-clock
limit of 30 or 120 s failed tests whose processes were only waiting for a core. A process that
does not end is caught by the CPU time it (and its children) spend instead; a wall-clock cap
of half an hour remains for a process that hangs without working.
"""

from __future__ import annotations

import subprocess
import time

import psutil
import pytest

HANG_S = 1800.0


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its living descendants so far."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def communicate(process: subprocess.Popen, cpu_budget: float, what: str) -> tuple[str, str]:
    """`process.communicate()`, failing the test (after killing the process) once it has spent
    `cpu_budget` CPU-seconds more than when this was called, or hung for HANG_S."""
    start_cpu, deadline = cpu_seconds(process.pid), time.monotonic() + HANG_S
    while True:
        try:
            return process.communicate(timeout=1.0)
        except subprocess.TimeoutExpired:
            spent = cpu_seconds(process.pid) - start_cpu
            if spent > cpu_budget or time.monotonic() > deadline:
                process.kill()
                _, stderr = process.communicate()
                pytest.fail(f"{what}: still running after {spent:.0f} CPU-seconds: "
                            f"{(stderr or '')[-3000:]}")


def run(args: list[str], cpu_budget: float, what: str, **popen: object
        ) -> subprocess.CompletedProcess[str]:
    """`subprocess.run(args, capture_output=True, text=True)` bounded by `communicate`."""
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               **popen)
    stdout, stderr = communicate(process, cpu_budget, what)
    return subprocess.CompletedProcess(args, process.returncode, stdout, stderr)
