"""The packages talk through their public modules only, results/ sits below the packages that
write and read results directories, and the command line imports what a command needs only when
the command runs."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "metasparse"


# The command modules that cli.py loads by name (importlib), so that `metasparse` runs where a
# layer is absent: the one sanctioned way into another package's private module.
CLI_PLUGINS = {"metasparse.optimize._command", "metasparse.analysis._command",
               "metasparse.analysis._validate_command", "metasparse.study._command",
               "metasparse.dashboard._command", "metasparse.analysis._export_command",
               "metasparse.features._command"}
_DOTTED = re.compile(r"metasparse(\.\w+)+")


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, dotted module) of every import of a file, lazy ones inside functions included;
    `from metasparse.x import _y` counts as the module metasparse.x._y, and a string that
    names a module (for importlib) as an import of it."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and _DOTTED.fullmatch(node.value) and node.value not in CLI_PLUGINS:
            found.append((node.lineno, node.value))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names
                      if alias.name.startswith("_")]
    return found


def _package_of(path: Path, root: Path) -> str:
    parts = path.relative_to(root).parts
    return parts[0] if len(parts) > 1 else path.stem


def private_imports_across_packages(root: Path = PACKAGE) -> list[str]:
    """Every `metasparse.<pkg>._<module>` imported from outside <pkg>."""
    wrong = []
    for path in sorted(root.rglob("*.py")):
        for line, module in _imports(path):
            parts = module.split(".")
            if len(parts) >= 3 and parts[0] == "metasparse" and parts[2].startswith("_") \
                    and parts[1] != _package_of(path, root):
                wrong.append(f"{path.relative_to(root.parent)}:{line} imports {module}")
    return wrong


def test_no_package_imports_the_private_modules_of_another():
    assert private_imports_across_packages() == []


def test_the_scan_sees_a_private_import_across_packages(tmp_path):
    (tmp_path / "analysis").mkdir()
    (tmp_path / "optimize").mkdir()
    (tmp_path / "analysis" / "_x.py").write_text(
        "def f():\n    from metasparse.optimize._store import ResultsStore\n")
    (tmp_path / "analysis" / "_y.py").write_text("from metasparse.optimize import _runner\n")
    (tmp_path / "optimize" / "_z.py").write_text("from metasparse.optimize._store import X\n")
    (tmp_path / "cli.py").write_text("import importlib\n"
                                     "importlib.import_module('metasparse.optimize._store')\n"
                                     "importlib.import_module('metasparse.optimize._command')\n")
    assert private_imports_across_packages(tmp_path) == [
        f"{tmp_path.name}/analysis/_x.py:2 imports metasparse.optimize._store",
        f"{tmp_path.name}/analysis/_y.py:1 imports metasparse.optimize._runner",
        f"{tmp_path.name}/cli.py:2 imports metasparse.optimize._store"]


def test_results_imports_none_of_the_packages_that_write_or_read_results():
    above = {"optimize", "analysis", "study", "cli", "train"}
    for path in sorted((PACKAGE / "results").rglob("*.py")):
        for line, module in _imports(path):
            parts = module.split(".")
            assert not (parts[0] == "metasparse" and len(parts) > 1 and parts[1] in above), \
                f"{path.name}:{line} imports {module}"



# What `metasparse --help` or a usage error has no use for: seconds of CPU to import.
HEAVY = ("torch", "sklearn", "pandas", "scipy", "ConfigSpace", "smac", "dash", "plotly",
         "matplotlib", "optuna", "ray")
PRINT_HEAVY = f"import sys\nprint(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
COMMANDS = ("train", "space", "datasets", "optimize", "analyze", "validate", "export",
            "dashboard", "select-features", "study")


def fresh_python(code: str, cwd: Path) -> str:
    """What `code` prints, run by a fresh Python in `cwd`."""
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_help_and_usage_errors_import_nothing_heavy(tmp_path):
    code = f"""
import contextlib, io
from metasparse.cli import main
calls = [["--help"], ["nosuch"], ["train", "--dataset", "digits", "--epochs", "ten"],
         ["optimize", "missing.yaml"], ["train", "--dataset", "nosuch"],
         *([command, "--help"] for command in {COMMANDS!r})]
for argv in calls:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            main(argv)
        except SystemExit:
            pass
"""
    assert fresh_python(code + PRINT_HEAVY, tmp_path) == "[]\n"


def test_the_packages_import_their_public_names_on_first_use(tmp_path):
    packages = ["metasparse", "metasparse.optimize", "metasparse.analysis", "metasparse.features",
                "metasparse.study", "metasparse.results", "metasparse.data",
                "metasparse.dashboard"]
    code = f"""
import importlib
packages = [importlib.import_module(name) for name in {packages!r}]
{PRINT_HEAVY}
for package in packages:
    for name in package.__all__:
        getattr(package, name)
"""
    assert fresh_python(code, tmp_path) == "[]\n"
