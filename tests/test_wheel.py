"""A wheel built from this checkout, installed away from the repository, ships its spaces and
scenarios: it lists the presets and runs `metasparse optimize` on a shipped scenario.

The wheel is built without build isolation (hatchling, the build backend, is in the dev extra),
and installed with --no-deps --no-index into a fresh virtual environment whose only other
entries on sys.path are this environment's site-packages, read through a .pth file: the .pth
files there (among them the editable install's, which puts the repository on sys.path) are not
processed, so nothing of the repository can be imported. Its commands run in an empty
directory.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import waiting
import yaml

REPO = Path(__file__).resolve().parents[1]
SHIPPED = ("spaces", "scenarios")  # the directories metasparse._paths.shipped_dir finds

# one wheel for the module: its tests share a pytest-xdist worker (make test: --dist loadgroup)
pytestmark = pytest.mark.xdist_group("wheel")


def _checked(result: subprocess.CompletedProcess[str], what: str) -> str:
    if result.returncode != 0:
        pytest.fail(f"{what}: exit code {result.returncode}\n{result.stdout[-2000:]}"
                    f"{result.stderr[-4000:]}")
    return result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    if importlib.util.find_spec("hatchling") is None:
        pytest.fail("hatchling, the build backend, is missing: pip install -e '.[dev]'")
    dist = tmp_path_factory.mktemp("dist")
    _checked(waiting.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                          "--no-build-isolation", "--no-index", "-q", "-w", str(dist), str(REPO)],
                         cpu_budget=300, what="pip wheel", cwd=dist), "pip wheel")
    built = sorted(dist.glob("metasparse-*.whl"))
    assert len(built) == 1, built
    return built[0]


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> dict[str, Path]:
    """The wheel installed in a fresh environment: its python, its `metasparse` script and an
    empty working directory."""
    root = tmp_path_factory.mktemp("installed")
    venv = root / "venv"
    _checked(waiting.run([sys.executable, "-m", "venv", "--without-pip", str(venv)],
                         cpu_budget=120, what="venv", cwd=root), "python -m venv")
    python = venv / "bin" / "python"
    site = Path(_checked(waiting.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        cpu_budget=60, what="site-packages", cwd=root), "site-packages").strip())
    # the dependencies (torch, SMAC, ...) and pip from this environment, as plain path entries
    ours = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (site / "_dependencies.pth").write_text("".join(f"{path}\n" for path in ours))
    _checked(waiting.run([str(python), "-m", "pip", "install", "--no-deps", "--no-index",
                          "--no-compile", "-q", str(wheel)], cpu_budget=300,
                         what="pip install", cwd=root), "pip install")
    work = root / "work"
    work.mkdir()
    return {"python": python, "metasparse": venv / "bin" / "metasparse", "venv": venv,
            "work": work}


def _env(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["METASPARSE_DATA_DIR"] = str(work / "no-data")  # the shipped scenario needs none
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def test_the_wheel_holds_every_shipped_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for kind in SHIPPED:
        files = sorted(p.relative_to(REPO / kind).as_posix()
                       for p in (REPO / kind).rglob("*.yaml"))
        assert files, kind
        missing = [f for f in files if f"metasparse/_resources/{kind}/{f}" not in names]
        assert not missing, f"{kind}/ files not in the wheel: {missing}"


def test_the_installed_package_is_the_wheels_not_the_repositorys(installed):
    probe = ("import json, sys, metasparse\n"
             "from metasparse._paths import shipped_dir\n"
             "print(json.dumps({'file': metasparse.__file__, 'path': sys.path,\n"
             "                  'spaces': str(shipped_dir('spaces')),\n"
             "                  'scenarios': str(shipped_dir('scenarios'))}))\n")
    found = json.loads(_checked(waiting.run(
        [str(installed["python"]), "-c", probe], cpu_budget=60, what="import metasparse",
        cwd=installed["work"], env=_env(installed["work"])), "import metasparse"))
    venv = installed["venv"].resolve()
    for key in ("file", "spaces", "scenarios"):
        assert Path(found[key]).resolve().is_relative_to(venv), (key, found[key])
    on_path = [p for p in found["path"] if p and Path(p).resolve() == REPO]
    assert not on_path, f"the repository is on the installed package's sys.path: {on_path}"


def test_the_installed_command_lists_the_presets(installed):
    out = _checked(waiting.run([str(installed["metasparse"]), "space", "--presets"],
                               cpu_budget=120, what="metasparse space --presets",
                               cwd=installed["work"], env=_env(installed["work"])),
                   "metasparse space --presets")
    listed = {line.split(":")[0] for line in out.splitlines() if line and not line[0].isspace()}
    published = set(yaml.safe_load((REPO / "spaces" / "presets.yaml").read_text()))
    assert {"set", "rigl", "snfs", "dense"} <= published
    assert published <= listed, f"presets not listed: {published - listed}"


def test_the_installed_command_optimizes_a_shipped_scenario(installed):
    """`metasparse optimize quickstart` (the scenario by name: the shipped file), 2 trials."""
    work = installed["work"]
    output = work / "results" / "quickstart"
    out = _checked(waiting.run([str(installed["metasparse"]), "optimize", "quickstart",
                                "--n-trials", "2", "--output", str(output), "--no-progress"],
                               cpu_budget=600, what="metasparse optimize quickstart",
                               cwd=work, env=_env(work)), "metasparse optimize quickstart")
    assert "2 trials" in out, out
    with (output / "trials.csv").open() as table:
        rows = list(csv.DictReader(table))
    assert len(rows) == 2, rows
    assert all(row["status"] == "success" and float(row["cost"]) < 1 for row in rows), rows
    assert yaml.safe_load((output / "scenario.yaml").read_text())["name"] == "quickstart"
