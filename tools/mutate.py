"""Mutation testing of the sparse core and the results store: `make mutate`.

    python tools/mutate.py                      # both groups, fresh run, table + survivors
    python tools/mutate.py --group sparse       # one group
    python tools/mutate.py --rev HEAD           # the committed tree instead of the working tree
    python tools/mutate.py --resume             # continue an interrupted run of the same tree
    python tools/mutate.py --report             # print the table of the last run, run nothing
    python tools/mutate.py --only 'metasparse.sparse.selection.x_select*'  # some mutants

The tool is mutmut 3. It never writes into the working tree: each group gets a scratch project
under .mutate/<group>/ (the package, tests, spaces and scenarios copied there, with a
[tool.mutmut] section added to its pyproject.toml), and mutmut writes its mutants into
.mutate/<group>/mutants/. An interrupted run leaves nothing in metasparse/.

Each mutant runs only against its group's tests (tests/sparse/ but its end-to-end invariant runs
for metasparse/sparse/, the store
tests of tests/optimize/ for the results store), and of those only the ones that executed the
mutated function in a first, unmutated run (mutmut records it), with a wall-clock limit per
mutant of TIMEOUT_MULTIPLIER x (their duration + TIMEOUT_CONSTANT s). The test lists are
built at every run, so a new test file in tests/sparse/ is picked up by itself.

mutmut 3 does not mutate decorated functions (here: every registry entry such as
`@PRUNE_SCORES.register("magnitude")`, the `@torch.no_grad()` topology update, properties and
context managers). In the scratch copy, `@d` above `def f` is rewritten as `f = d(f)` after the
function, which is the same function under the same name, so those are mutated too.

Score: killed / mutants per module, where a mutant that timed out counts as killed (the tests
noticed it) and one that no test of the group executes ("no tests") counts as surviving.
Each worker is one process with OMP_NUM_THREADS=1 (set here and by the Makefile); the default is
one worker per core, --max-children 1 leaves a shared machine its other core.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import fnmatch
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRATCH = REPO / ".mutate"
# What a group's scratch project holds: the package, the tests and the data files they read.
COPIED = ("metasparse", "tests", "spaces", "scenarios", "pyproject.toml")
ORIGINALS = "originals"  # the mutated files as they were before undecorate()

# The per-mutant wall-clock limit is TIMEOUT_MULTIPLIER x (the recorded duration of the tests
# it runs + TIMEOUT_CONSTANT s); mutmut's default multiplier of 15 would let one mutant that
# loops forever in a 20 s test cost 5 minutes.
TIMEOUT_MULTIPLIER = 4.0
TIMEOUT_CONSTANT = 5.0

# The address space of mutmut and every mutant, so that a mutant that asks for a huge tensor
# fails its tests instead of taking the machine's memory (one did: 23 GB, then the OOM killer).
# A test process of tests/sparse peaks near 1 GB.
MEMORY_LIMIT_BYTES = 6 * 2**30

# A test file of tests/optimize/ is a store test when it names the store.
STORE_TEST = re.compile(r"\bResultsStore\b|\boptimize\._store\b|\bimport _store\b")


# End-to-end trainings of every preset (the invariants after every step; both execution paths
# side by side): a minute or more per mutant that they cover (nearly all), while the conformance
# suite states the same rules.
# Left out, the score is a lower bound.
SPARSE_SLOW = ("test_topology_invariants.py", "test_execution_equivalence.py")


def sparse_tests(root: Path) -> list[str]:
    """tests/sparse/ less SPARSE_SLOW, and the checkpoint tests of the sparsifier (the
    topology's state_dict lives in metasparse/sparse/)."""
    return sorted([*(str(p.relative_to(root)) for p in (root / "tests" / "sparse").glob("test_*.py")
                     if p.name not in SPARSE_SLOW), "tests/sparsifier/test_checkpoint.py"])


def store_tests(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in
                  [*(root / "tests" / "optimize").glob("test_*.py"),
                   *(root / "tests" / "results").glob("test_*_tables.py")]
                  if "store" in p.stem or "tables" in p.stem or STORE_TEST.search(p.read_text()))


@dataclass(frozen=True)
class Group:
    name: str
    mutate: tuple[str, ...]  # mutmut's only_mutate: globs of files, relative to the repo
    tests: Callable[[Path], list[str]]  # the test files or folders, given the tree's root


GROUPS = {
    "sparse": Group("sparse", ("metasparse/sparse/*",), sparse_tests),
    # the store and the append-only tables it writes through (metasparse.results)
    "store": Group("store", ("metasparse/optimize/_store.py", "metasparse/results/_files.py"),
                   store_tests),
}

# mutmut's exit codes, as its stats module reads them, folded into the columns of the table.
KILLED, TIMEOUT, SURVIVED, NO_TESTS, NOT_RUN, OTHER = (
    "killed", "timeout", "survived", "no tests", "not run", "other")
STATUS = {1: KILLED, 3: KILLED, 36: TIMEOUT, -24: TIMEOUT, 24: TIMEOUT, 152: TIMEOUT,
          255: TIMEOUT, 0: SURVIVED, 5: NO_TESTS, 33: NO_TESTS, None: NOT_RUN}
UNDETECTED = (SURVIVED, NO_TESTS, OTHER)  # what the survivors list shows


# -- the scratch project ---------------------------------------------------------------------
def populate(workdir: Path, rev: str | None) -> None:
    """Copy the tree (the working tree, or `rev`) into workdir, keeping mutmut's mutants/."""
    for name in (*COPIED, ORIGINALS):
        path = workdir / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    workdir.mkdir(parents=True, exist_ok=True)
    if rev is None:
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        for name in COPIED:
            source = REPO / name
            if source.is_dir():
                shutil.copytree(source, workdir / name, ignore=ignore)
            else:
                shutil.copy2(source, workdir / name)
    else:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, *COPIED],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(workdir)], input=archive, check=True)


def write_config(workdir: Path, group: Group) -> list[str]:
    """Add the group's [tool.mutmut] section to the scratch pyproject.toml; return its tests."""
    pyproject = workdir / "pyproject.toml"
    text = pyproject.read_text()
    if re.search(r"^\[tool\.mutmut\]", text, re.MULTILINE):
        sys.exit("pyproject.toml has a [tool.mutmut] section: tools/mutate.py writes its own")
    tests = group.tests(workdir)
    if not tests:
        sys.exit(f"{group.name}: no tests found")
    settings = {
        "source_paths": ["metasparse"],
        "only_mutate": list(group.mutate),
        "also_copy": ["spaces", "scenarios"],
        "pytest_add_cli_args_test_selection": tests,
        "timeout_multiplier": TIMEOUT_MULTIPLIER,
        "timeout_constant": TIMEOUT_CONSTANT,
        "use_git_change_detection": False,
    }
    section = "\n".join(f"{k} = {json.dumps(v)}" for k, v in settings.items())
    pyproject.write_text(text.rstrip("\n") + "\n\n[tool.mutmut]\n" + section + "\n")
    return tests


def undecorate(source: str) -> str:
    """`@d1 @d2 def f` -> `def f` + `f = d1(d2(f))` for the module's functions and methods.

    The same object ends up under the same name (decorators are applied right after the def),
    but mutmut, which skips decorated functions, now mutates f. A lone @staticmethod or
    @classmethod is kept (mutmut handles those), and so are property setters (`@x.setter`
    re-binds x and cannot be applied later).
    """
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    edits: list[tuple[int, int, int, str]] = []  # (first, last decorator line, end, statement)

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef):
                visit(node.body)
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            decorators = node.decorator_list
            if not decorators:
                continue
            if len(decorators) == 1 and isinstance(decorators[0], ast.Name) and \
                    decorators[0].id in ("staticmethod", "classmethod"):
                continue
            texts = [ast.get_source_segment(source, d) for d in decorators]
            if any(t is None or re.search(r"\.(setter|getter|deleter)$", t) for t in texts):
                continue
            applied = node.name
            for text in reversed(texts):
                applied = f"({text})({applied})"
            indent = " " * node.col_offset
            first = decorators[0].lineno
            edits.append((first, node.lineno - 1, node.end_lineno,
                          f"{indent}{node.name} = {applied}\n"))

    visit(tree.body)
    for first, last, end, statement in sorted(edits, reverse=True):
        lines.insert(end, statement)
        del lines[first - 1:last]
    result = "".join(lines)
    ast.parse(result)
    return result


def prepare(group: Group, workdir: Path, rev: str | None, resume: bool) -> list[str]:
    if not resume and workdir.exists():
        shutil.rmtree(workdir)
    populate(workdir, rev)
    tests = write_config(workdir, group)
    mutated = mutated_files(workdir, group)
    # mutmut copies a file of the package only where mutants/ lacks it: drop the unmutated
    # copies of an earlier run so that they are taken from this tree
    keep = {workdir / "mutants" / p.relative_to(workdir) for p in mutated}
    for path in (workdir / "mutants" / "metasparse").rglob("*.py"):
        if path not in keep:
            path.unlink()
    for path in mutated:
        original = workdir / ORIGINALS / path.relative_to(workdir)
        original.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, original)  # for the line numbers of the report
        stat = path.stat()
        path.write_text(undecorate(path.read_text()))
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # mutmut's "unchanged" check
    return tests


def modules(group: Group) -> list[str]:
    """The dotted names of the group's mutated modules, as mutmut names their mutants."""
    return [str(p.relative_to(REPO).with_suffix("")).replace(os.sep, ".")
            for p in mutated_files(REPO, group)]


def mutated_files(root: Path, group: Group) -> list[Path]:
    return sorted({p for pattern in group.mutate for p in root.glob(pattern)
                   if p.suffix == ".py" and p.is_file()})


# -- running mutmut --------------------------------------------------------------------------
def run_mutmut(workdir: Path, max_children: int, only: list[str]) -> int:
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("MKL_NUM_THREADS", "1")
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    env.setdefault("METASPARSE_DATA_DIR", str(REPO.parent / "shared" / "data"))
    env.setdefault("PYTHONHASHSEED", "0")
    mutmut = Path(sys.executable).with_name("mutmut")
    if not mutmut.is_file():
        sys.exit(f"{mutmut} is missing: install the dev extra (make setup)")
    command = [str(mutmut), "run", "--max-children", str(max_children), *only]
    return subprocess.run(command, cwd=workdir, env=env, preexec_fn=limit_memory).returncode


def limit_memory() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard == resource.RLIM_INFINITY or hard > MEMORY_LIMIT_BYTES:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))


# -- the report ------------------------------------------------------------------------------
def load_results(workdir: Path, group: Group) -> dict[str, dict[str, int | None]]:
    """{module path: {mutant name: mutmut exit code}} from mutmut's .meta files."""
    results = {}
    for path in mutated_files(workdir, group):
        rel = path.relative_to(workdir)
        meta = workdir / "mutants" / f"{rel}.meta"
        if meta.is_file():
            results[str(rel)] = json.loads(meta.read_text())["exit_code_by_key"]
    return results


def function_of(mutant: str) -> str:
    """metasparse.sparse.masked.xǁMaskedTopologyǁ_drop__mutmut_3 -> MaskedTopology._drop"""
    mangled = mutant.partition("__mutmut_")[0].rpartition(".")[2]
    if "ǁ" in mangled:
        _, cls, func = mangled.split("ǁ")
        return f"{cls}.{func}"
    return mangled[2:]


def function_lines(source: str) -> dict[str, tuple[int, int]]:
    spans = {}
    tree = ast.parse(source)
    for node in tree.body:
        members = node.body if isinstance(node, ast.ClassDef) else [node]
        prefix = f"{node.name}." if isinstance(node, ast.ClassDef) else ""
        for member in members:
            if isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef):
                spans[prefix + member.name] = (member.lineno, member.end_lineno)
    return spans


def diffs(workdir: Path, names: list[str], module: str) -> dict[str, list[str]]:
    """The changed lines ('-' / '+') of each mutant, as mutmut shows them."""
    found: dict[str, list[str]] = {}
    if not names:
        return found
    cwd = Path.cwd()
    try:
        os.chdir(workdir)
        from mutmut.configuration import reset_config
        from mutmut.mutation.diff_apply import get_diff_for_mutant
        reset_config()
        for name in names:
            try:
                diff = get_diff_for_mutant(name, path=module)
            except Exception as e:  # an unreadable mutant still belongs in the list
                found[name] = [f"? ({type(e).__name__}: {e})"]
                continue
            found[name] = [line.rstrip("\n") for line in diff.splitlines()
                           if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    finally:
        os.chdir(cwd)
    return found


def locate(changed: list[str], span: tuple[int, int] | None, source_lines: list[str]) -> int | None:
    """The line of the original file that a mutant changes."""
    if span is None:
        return None
    removed = [line[1:].strip() for line in changed if line.startswith("-")]
    for line_no in range(span[0], span[1] + 1):
        if removed and source_lines[line_no - 1].strip() == removed[0]:
            return line_no
    return span[0]


def report(workdir: Path, group: Group, out: list[str]) -> Counter:
    """Print the group's table and survivors (appended to `out`); return its totals."""
    results = load_results(workdir, group)
    if not results:
        print(f"{group.name}: no results in {workdir}/mutants (run it first)")
        return Counter()
    rows, total = [], Counter()
    for module, codes in sorted(results.items()):
        counts = Counter(STATUS.get(code, OTHER) for code in codes.values())
        counts["mutants"] = len(codes)
        total.update(counts)
        rows.append((module, counts))
    print(f"\n{group.name}: mutants of {', '.join(group.mutate)}, "
          f"against {' '.join(group.tests(workdir))}")
    print_table([*rows, ("total", total)])

    survivors_by_function: dict[tuple[str, str], list[str]] = defaultdict(list)
    for module, codes in sorted(results.items()):
        original = workdir / ORIGINALS / module
        source = original.read_text() if original.is_file() else ""
        spans = function_lines(source) if source else {}
        names = sorted((n for n, c in codes.items() if STATUS.get(c, OTHER) in UNDETECTED),
                       key=mutant_order)
        changed = diffs(workdir, names, module)
        for name in names:
            function = function_of(name)
            lines = changed.get(name, [])
            line_no = locate(lines, spans.get(function), source.splitlines()) if source else None
            where = f"{module}:{line_no}" if line_no else module
            status = STATUS.get(codes[name], OTHER)
            tag = {SURVIVED: "", OTHER: f"  [mutmut exit code {codes[name]}]"}.get(
                status, f"  [{status}]")
            entry = [f"  {name.rpartition('.')[2]}  {where}{tag}"]
            entry += [f"      {line.strip()[:1]} {line[1:].strip()}" for line in lines]
            survivors_by_function[(module, function)].extend(entry)
    if survivors_by_function:
        print(f"\n{group.name}: surviving mutants by function ('no tests': no test of the group "
              "runs the function)")
        for (module, function), entries in survivors_by_function.items():
            header = f"{module} :: {function}"
            print(header)
            print("\n".join(entries))
            out.append(header)
            out.extend(entries)
    return total


def mutant_order(name: str) -> tuple[str, int]:
    base, _, number = name.rpartition("__mutmut_")
    return base, int(number) if number.isdigit() else 0


def score(counts: Counter) -> str:
    run = counts["mutants"] - counts[NOT_RUN]
    if not run:
        return "-"
    return f"{100.0 * (counts[KILLED] + counts[TIMEOUT]) / run:.1f}%"


def print_table(rows: list[tuple[str, Counter]]) -> None:
    columns = ("mutants", KILLED, TIMEOUT, SURVIVED, NO_TESTS, OTHER, NOT_RUN)
    width = max(len(name) for name, _ in rows)
    header = f"{'module':<{width}}  " + "  ".join(f"{c:>8}" for c in columns) + "     score"
    print(header)
    print("-" * len(header))
    for name, counts in rows:
        cells = "  ".join(f"{counts[c]:>8}" for c in columns)
        print(f"{name:<{width}}  {cells}  {score(counts):>8}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--group", action="append", choices=sorted(GROUPS),
                        help="a group to run (repeatable; default: all)")
    parser.add_argument("--rev", help="mutate this git revision instead of the working tree")
    parser.add_argument("--resume", action="store_true",
                        help="keep the results of the last run and test only mutants not run yet")
    parser.add_argument("--report", action="store_true", help="only print the last results")
    parser.add_argument("--only", action="append", default=[],
                        help="mutant names or globs to (re)run, e.g. 'metasparse.sparse.*'")
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 1,
                        help="mutants run in parallel (default: one per core; 1 on a shared "
                             "machine)")
    parser.add_argument("--survivors", type=Path, help="also write the survivors list here")
    parser.add_argument("--workdir", type=Path, default=SCRATCH,
                        help="where the groups' scratch projects live (.mutate/)")
    args = parser.parse_args(argv)
    groups = [GROUPS[g] for g in args.group or GROUPS]

    if args.only:  # the groups whose modules the names can match
        groups = [g for g in groups if any(fnmatch.fnmatch(f"{m}.x", o) or o.startswith(m)
                                           for o in args.only for m in modules(g))]
    status = 0
    for group in groups:
        if not args.report:
            start = time.monotonic()
            workdir = args.workdir.resolve() / group.name
            tests = prepare(group, workdir, args.rev, args.resume or bool(args.only))
            print(f"== {group.name}: mutmut in {workdir}, tests: {' '.join(tests)}", flush=True)
            only = [o for o in args.only if any(o.startswith(m) for m in modules(group))]
            code = run_mutmut(workdir, args.max_children, only)
            print(f"\n== {group.name}: mutmut exited {code} after "
                  f"{time.monotonic() - start:.0f} s", flush=True)
            status = status or code
    survivors: list[str] = []
    grand = Counter()
    for group in groups:
        grand.update(report(args.workdir.resolve() / group.name, group, survivors))
    if len(groups) > 1 and grand:
        print()
        print_table([("all groups", grand)])
    if args.survivors:
        args.survivors.write_text("\n".join(survivors) + "\n")
        print(f"\nsurvivors written to {args.survivors}")
    return status


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
    sys.exit(130)
