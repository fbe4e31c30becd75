"""Memory and time of `metasparse dashboard` on a run with a large trials.csv: the committed
reference run (the dashboard tests') grown in a temporary folder to --mb MB of trials.csv (its
rows repeated with new trial ids and random costs; trial_instances.csv grown with it), then read
as a request does, first and again after --append trials are appended:

- incremental: the RunStore (the poll's trial count, then the trials page);
- full (before): every row as a dict for the count (read_rows), then load_results and the rows
  of the trials table, as the dashboard read a run on every request before the incremental
  store (it read trials.csv more than once per request, so this is its floor); run on a run of
  --old-mb MB only, as it needs some 6 GB of memory per GB of trials.csv.

Each measurement runs in a fresh process, so that its peak RSS (ru_maxrss) is its own; the
appended rows are cut off again after it.

    .venv/bin/python bench/dashboard_memory.py [--mb 1024] [--old-mb 200] [--append 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REFERENCE_RUN = (Path(__file__).resolve().parents[1] / "results" / "reference" / "randomness"
                 / "tuned" / "gradient")
TRIALS, INSTANCES = "trials.csv", "trial_instances.csv"


def append_trials(directory: Path, first: int, count: int) -> None:
    """Trials `first` ... `first + count - 1`: the reference run's rows in turn with these ids
    and random costs, and their instance rows."""
    templates = [line.split(",", 3) for line in
                 (REFERENCE_RUN / TRIALS).read_text().splitlines()[1:]]
    pair_templates = [line.split(",", 1)[1] for line in
                      (REFERENCE_RUN / INSTANCES).read_text().splitlines()[1:3]]
    rng = random.Random(first)
    with (directory / TRIALS).open("a") as trials, (directory / INSTANCES).open("a") as pairs:
        for start in range(first, first + count, 10_000):
            ids = range(start, min(start + 10_000, first + count))
            rows = [templates[k % len(templates)] for k in ids]
            trials.write("".join(f"{k},{status},{rng.uniform(0.05, 0.9)!r},{rest}\n"
                                 for k, (_, status, _, rest) in zip(ids, rows, strict=True)))
            pairs.write("".join(f"{k},{line}\n" for k in ids for line in pair_templates))


def make_run(parent: Path, mb: float) -> tuple[Path, int]:
    """The reference run grown to `mb` MB of trials.csv; returns it and its number of trials."""
    directory = parent / f"run-{mb:g}mb"
    shutil.copytree(REFERENCE_RUN, directory, ignore=shutil.ignore_patterns("smac"))
    lines = (REFERENCE_RUN / TRIALS).read_text().splitlines()[1:]
    row_bytes = sum(len(line) + 1 for line in lines) / len(lines)
    count = int(mb * 2**20 / row_bytes)
    append_trials(directory, len(lines), count - len(lines))
    return directory, count


def measure(approach: str, directory: Path, trials: int, append: int) -> dict[str, object]:
    """One approach on `directory` in this process: a request, `append` more trials, the
    request again."""
    from metasparse.analysis import load_results
    from metasparse.dashboard import RunStore, render
    from metasparse.dashboard._pages import trial_table_records
    from metasparse.results import read_rows

    store = RunStore([directory])

    def poll() -> int:
        if approach == "incremental":
            return store.counts()[0]
        return len(read_rows(directory / TRIALS))

    def page() -> int:
        if approach == "incremental":
            render(store, "trials", 0)
            return len(store.trials(0).rows)
        return len(trial_table_records(load_results(directory).trials)[0])

    result: dict[str, object] = {"base_mb": peak_mb()}
    for phase in ("first", "again"):
        if phase == "again":
            append_trials(directory, trials, append)
        start = time.perf_counter()
        count = poll()
        polled = time.perf_counter()
        shown = page()
        parsed = store.trials(0).offset if approach == "incremental" else \
            (directory / TRIALS).stat().st_size
        result[phase] = {"poll_s": polled - start, "page_s": time.perf_counter() - polled,
                         "shown": f"{shown:,} of {count:,}", "parsed": parsed,
                         "peak_mb": peak_mb()}
    if approach == "incremental":  # the bytes of trials.csv parsed by the second request
        result["again"]["parsed"] -= result["first"]["parsed"]
    return result


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(approach: str, directory: Path, trials: int, append: int) -> dict[str, object]:
    sizes = {name: (directory / name).stat().st_size for name in (TRIALS, INSTANCES)}
    try:
        out = subprocess.run([sys.executable, __file__, "--child", approach, str(directory),
                              str(trials), "--append", str(append)],
                             check=True, capture_output=True, text=True).stdout
    finally:
        for name, size in sizes.items():  # the appended trials cut off again
            os.truncate(directory / name, size)
    return json.loads(out.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=1024, help="trials.csv size (default 1024)")
    parser.add_argument("--old-mb", type=float, default=200,
                        help="trials.csv size for the full read too (default 200; 0: none)")
    parser.add_argument("--append", type=int, default=1000, help="trials appended (1000)")
    parser.add_argument("--child", nargs=3, metavar=("APPROACH", "DIR", "TRIALS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        approach, directory, trials = args.child
        print(json.dumps(measure(approach, Path(directory), int(trials), args.append)))
        return
    runs = [(mb, approach) for mb in sorted({args.old_mb, args.mb} - {0})
            for approach in ("incremental", "full") if approach == "incremental"
            or mb == args.old_mb]
    print(f"{'trials.csv':>10} {'trials':>10} {'approach':>11} {'base MB':>7} | first: "
          f"{'poll s':>6} {'page s':>6} {'peak MB':>7} | again: {'poll s':>6} {'page s':>6} "
          f"{'peak MB':>7} {'parsed MB':>9} | trials shown (again)")
    with tempfile.TemporaryDirectory() as parent:
        for mb in sorted({mb for mb, _ in runs}):
            directory, trials = make_run(Path(parent), mb)
            for _, approach in [r for r in runs if r[0] == mb]:
                result = run_child(approach, directory, trials, args.append)
                first, again = result["first"], result["again"]
                print(f"{mb:>8g}MB {trials:>10,} {approach:>11} {result['base_mb']:>7.0f} | "
                      f"{'':>6} {first['poll_s']:>6.2f} {first['page_s']:>6.2f} "
                      f"{first['peak_mb']:>7.0f} | {'':>6} {again['poll_s']:>6.2f} "
                      f"{again['page_s']:>6.2f} {again['peak_mb']:>7.0f} "
                      f"{again['parsed'] / 2**20:>9.3f} | {again['shown']}", flush=True)
            shutil.rmtree(directory)


if __name__ == "__main__":
    main()
