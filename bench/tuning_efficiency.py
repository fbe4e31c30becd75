"""SMAC (hpo), Optuna (TPE) and random search on one scenario: quality, throughput, overhead.

Every backend tunes the same scenario (default: the shipped quickstart) with the same number of
trials, once per seed (the backend's seed). Three tables, all computed from the results files
(trials.csv, trial_instances.csv, reference.yaml) plus the measured wall time of each run:

1. per backend and seed: the final best cost (mean validation error of the best successful
   trial) and the trials needed to first reach random search's final best, of the same seed and
   of the mean over seeds (">N": not reached in N trials); then the median over seeds.
2. trials per hour with n_workers 1 and 2 (seed = first seed), and the most trials seen running
   at once in trials.csv (1 with n_workers 2 would mean that the backend ignores n_workers).
3. the overhead share of every n_workers=1 run: 1 - training time / run time, split into the
   time between trials (the optimizer: model fits, ask/tell, storage, start-up) and the time
   inside a trial that is not training (process start, data loading, messages). Target < 10%.

Each run executes in its own Python process (so each pays its own trial-server start) under
--out/<backend>-seed<S>-n<N>-w<K>-e<E>/; its wall time, minus the evaluation of the reference
preset that `optimize` does after the search, is the run time. A rerun with the same --out
reuses finished runs; a run left unfinished is deleted and redone (a resumed run's wall time
would cover only its second part).

    python bench/tuning_efficiency.py [--n-trials 30] [--seeds 0 1 2] [--epochs 10] [--out DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

import torch
import yaml

from metasparse.optimize import Scenario, load_scenario

BACKENDS = ("smac", "optuna", "random")
TARGET = 0.10  # overhead share of a run
CHILD = """import json, sys, time
from metasparse.optimize import Scenario, optimize
scenario = Scenario.model_validate_json(sys.argv[1])
start = time.time()
optimize(scenario, progress=False)
print(json.dumps({"wall_s": time.time() - start}))
"""


def seconds(stamp: object) -> float:
    """An ISO 8601 time stamp of the results files (or a datetime YAML made of it) in seconds."""
    if not isinstance(stamp, datetime):
        stamp = datetime.fromisoformat(str(stamp))
    return stamp.timestamp()


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def scenario_for(args: argparse.Namespace, backend: str, seed: int, n: int, workers: int
                 ) -> Scenario:
    overrides = {"budget": {"epochs": args.epochs}} if args.epochs else {}
    base = load_scenario(args.scenario, backend=backend, n_trials=n, n_workers=workers,
                         **overrides)
    settings = {"seed": seed}
    if backend == "optuna" and args.optuna_pruner:
        settings["pruner"] = args.optuna_pruner
    settings = base.backend.model_copy(update=settings)
    pruner = f"-{settings.pruner}" if backend == "optuna" else ""
    name = f"{base.name}-{backend}{pruner}-seed{seed}-n{n}-w{workers}-e{base.budget.epochs}"
    return base.model_copy(update={"name": name, "output": str(args.out / name),
                                   "backend": settings})


def run(scenario: Scenario) -> dict:
    """The run's measured numbers, from its results files (running it first if needed)."""
    directory = scenario.output_dir
    wall_file, as_run = directory / "bench_wall.json", directory / "scenario.yaml"
    if not wall_file.is_file() or not as_run.is_file() \
            or yaml.safe_load(as_run.read_text()) != scenario.as_dict():  # unfinished or stale
        shutil.rmtree(directory, ignore_errors=True)
        print(f"running {scenario.name} ...", file=sys.stderr, flush=True)
        done = subprocess.run([sys.executable, "-c", CHILD, scenario.model_dump_json()],
                              capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"{scenario.name} failed:\n{done.stderr[-3000:]}")
        wall_file.write_text(done.stdout.strip().splitlines()[-1])
    trials = sorted(read_csv(directory / "trials.csv"), key=lambda r: seconds(r["end_time"]))
    pairs = read_csv(directory / "trial_instances.csv")
    reference = yaml.safe_load((directory / "reference.yaml").read_text())
    wall = json.loads(wall_file.read_text())["wall_s"]
    wall -= seconds(reference["end_time"]) - seconds(reference["start_time"])
    best, curve = float("inf"), []
    for row in trials:
        if row["status"] == "success":
            best = min(best, float(row["cost"]))
        curve.append(best)
    spans = [(seconds(r["start_time"]), seconds(r["end_time"])) for r in trials]
    # a pruned or timed-out pair has no wall_time_s: its span (which includes its start) counts
    train = sum(float(p["wall_time_s"]) if p["wall_time_s"] else
                seconds(p["end_time"]) - seconds(p["start_time"]) for p in pairs)
    begun: dict[str, float] = {}  # trial id -> when its first pair began in the child
    for p in pairs:
        begun[p["trial_id"]] = min(begun.get(p["trial_id"], math.inf), seconds(p["start_time"]))
    launches = sorted((a, begun[r["trial_id"]] - a) for r, (a, _) in zip(trials, spans, strict=True)
                      if r["trial_id"] in begun)  # in the order the trials started
    active = max(b for _, b in spans) - min(a for a, _ in spans)
    return {"curve": curve, "best": best, "wall": wall, "train": train, "n": len(trials),
            "span": sum(b - a for a, b in spans), "concurrent": most_at_once(spans),
            "active": active, "server": launches[0][1],
            "launch": sum(t for _, t in launches[1:]),
            "statuses": {s: sum(r["status"] == s for r in trials) for s in
                         sorted({r["status"] for r in trials})}}


def most_at_once(spans: list[tuple[float, float]]) -> int:
    events = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


def reach(curve: list[float], target: float) -> float:
    """1-based index of the first trial whose best-so-far is <= target (inf: never)."""
    return next((i + 1 for i, c in enumerate(curve) if c <= target), float("inf"))


def fmt_trials(value: float, n: int) -> str:
    return f">{n}" if value == float("inf") else f"{value:g}"


def table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(row, widths, strict=True))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default="quickstart", help="scenario file or shipped name")
    parser.add_argument("--n-trials", type=int, default=30)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--throughput-trials", type=int, default=12)
    parser.add_argument("--epochs", type=int, help="override the scenario's budget.epochs")
    parser.add_argument("--optuna-pruner", choices=("hyperband", "none"),
                        help="default: the scenario's (hyperband for one objective)")
    parser.add_argument("--out", type=Path, help="results of every run (default: a temp dir)")
    args = parser.parse_args()
    args.out = (args.out or Path(tempfile.mkdtemp(prefix="tuning_efficiency-"))).resolve()
    n = args.n_trials

    quality = {(b, s): run(scenario_for(args, b, s, n, 1)) for s in args.seeds for b in BACKENDS}
    speed = {(b, w): run(scenario_for(args, b, args.seeds[0], args.throughput_trials, w))
             for b in BACKENDS for w in (1, 2)}

    first = scenario_for(args, "optuna", args.seeds[0], n, 1)
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}; scenario "
          f"{args.scenario} (space {Path(first.space[0]).stem}, instances "
          f"{'+'.join(first.instances)}, {first.budget.epochs} epochs, training seeds "
          f"{first.seeds}); smac facade hpo, optuna {first.backend.sampler} + pruner "
          f"{first.backend.pruner}; runs in {args.out}")
    targets = {s: quality["random", s]["best"] for s in args.seeds}
    mean_target = statistics.mean(targets.values())
    print(f"\n## quality: {n} trials, n_workers 1, backend seeds {args.seeds}; target = random "
          f"search's final best cost (same seed, and mean over seeds = {mean_target:.4f})")
    rows = []
    for b in BACKENDS:
        runs = [quality[b, s] for s in args.seeds]
        same = [reach(r["curve"], targets[s]) for r, s in zip(runs, args.seeds, strict=True)]
        mean = [reach(r["curve"], mean_target) for r in runs]
        for r, s, a, m in zip(runs, args.seeds, same, mean, strict=True):
            status = " ".join(f"{k} {v}" for k, v in r["statuses"].items() if k != "success")
            rows.append([b, str(s), f"{r['best']:.4f}", fmt_trials(a, n), fmt_trials(m, n),
                         status or "-"])
        rows.append([b, "median", f"{statistics.median(r['best'] for r in runs):.4f}",
                     fmt_trials(statistics.median(same), n),
                     fmt_trials(statistics.median(mean), n), ""])
    table(["backend", "seed", "best cost", "trials to random(seed)", "trials to random(mean)",
           "not success"], rows)

    print(f"\n## throughput: {args.throughput_trials} trials, seed {args.seeds[0]}, "
          f"torch threads per trial = cores / n_workers (the runner's default)")
    rows = []
    for b in BACKENDS:
        for w in (1, 2):
            r, per_hour = speed[b, w], 3600 * speed[b, w]["n"] / speed[b, w]["wall"]
            rows.append([b, str(w), str(r["n"]), f"{r['wall']:.1f}", f"{per_hour:.0f}",
                         f"{per_hour / (3600 * speed[b, 1]['n'] / speed[b, 1]['wall']):.2f}",
                         str(r["concurrent"]), f"{r['train'] / r['n']:.2f}"])
    table(["backend", "n_workers", "trials", "run s", "trials/h", "speedup", "most at once",
           "train s/trial"], rows)
    print("(most at once: trials whose start..end overlap in trials.csv; 1 with n_workers 2 "
          "means n_workers is ignored. Configurations differ between the runs.)")

    print(f"\n## overhead of the n_workers=1 runs: 1 - training / run time (target < "
          f"{TARGET:.0%}); training = the trainer's wall_time_s (trial_instances.csv), and the "
          "rest as shares of the run time:\n#   fixed: before the first and after the last "
          "trial (imports, space, optimizer set-up) plus the trial server's start (in the first "
          "trial);\n#   between: gaps between trials (ask/tell, model fits, storage); launch: "
          "trial start to its child's first run_config; data: the rest (data loading, messages)")
    rows = []
    for (b, s), r in sorted(quality.items(), key=lambda item: BACKENDS.index(item[0][0])):
        shares = [r["wall"] - r["active"] + r["server"], r["active"] - r["span"], r["launch"],
                  r["span"] - r["train"] - r["launch"] - r["server"]]
        rows.append([b, str(s), f"{r['wall']:.1f}", f"{r['train']:.1f}",
                     f"{1 - r['train'] / r['wall']:.1%}",
                     *(f"{part / r['wall']:.1%}" for part in shares),
                     "yes" if 1 - r["train"] / r["wall"] < TARGET else "no"])
    table(["backend", "seed", "run s", "training s", "overhead", "fixed", "between", "launch",
           "data", f"< {TARGET:.0%}"], rows)

if __name__ == "__main__":
    main()
