"""The configuration study's grid serial against parallel (Ray, --workers N): wall time of the
same grid, side by side in one run, and whether both wrote the same rows; then the same grid
with multi-fidelity SMAC (min_epochs 2, in parallel): its wall time and its incumbents' mean
test error against the full-budget tuning's.

The grid: scikit-learn's wine, breast_cancer and digits; the set, rigl and set-rigl spaces tuned
by SMAC with 10 trials of 10 epochs over two optimizer seeds, the presets set and rigl in both
forms; 18 tuning runs and 90 test runs (18 incumbents and 4 preset forms on 3 datasets, over 3
seeds). Each run is a fresh `metasparse study
configuration` process in its own output directory under --out (removed first), so each pays
its own start (and the parallel one Ray's). Run it on a quiet machine: both sides share it.

    python bench/study_parallel.py [--workers 2] [--out results/bench/study-parallel]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

GRID = {
    "name": "bench-study-parallel", "datasets": ["wine", "breast_cancer", "digits"],
    "spaces": ["set", "rigl", "set-rigl"], "combined": "set-rigl", "presets": ["set", "rigl"],
    "backends": ["smac"], "fixed": {"model": "mlp", "hidden_sizes": "64", "batch_size": 32,
                                    "density": 0.1},
    "n_trials": 10, "optimizer_seeds": [0, 1], "seeds": [0, 1, 2], "epochs": 10,
    "warm_start": False,
}


def run(study: Path, output: Path, workers: int) -> float:
    """Wall time of one `metasparse study configuration` process on `study`."""
    shutil.rmtree(output, ignore_errors=True)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "metasparse.cli", "study", "configuration",
                    str(study), "--output", str(output), "--workers", str(workers),
                    "--no-progress"], check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return time.perf_counter() - start


def rows(output: Path, name: str) -> pd.DataFrame:
    frame = pd.read_csv(output / name).drop(columns=["directory"], errors="ignore")
    return frame.sort_values("key").reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--out", type=Path, default=Path("results/bench/study-parallel"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    study = args.out / "study.yaml"
    study.write_text(yaml.safe_dump(GRID, sort_keys=False))
    serial = run(study, args.out / "serial", 1)
    parallel = run(study, args.out / "parallel", args.workers)
    same = all(rows(args.out / "serial", n).equals(rows(args.out / "parallel", n))
               for n in ("tuning.csv", "evaluation.csv"))
    multi = args.out / "study-mf.yaml"
    multi.write_text(yaml.safe_dump({**GRID, "min_epochs": 2}, sort_keys=False))
    fidelity = run(multi, args.out / "multi-fidelity", args.workers)
    cells = len(pd.read_csv(args.out / "serial" / "tuning.csv")), \
        len(pd.read_csv(args.out / "serial" / "evaluation.csv"))
    print(f"grid: {cells[0]} tuning runs, {cells[1]} test runs; {os.cpu_count()} cores")
    print(f"serial:               {serial:7.1f} s")
    print(f"parallel ({args.workers} workers): {parallel:7.1f} s")
    print(f"speed-up:             {serial / parallel:7.2f}x; same rows: {same}")
    print(f"multi-fidelity ({args.workers} workers, min_epochs 2): {fidelity:7.1f} s, "
          f"{fidelity / parallel:.2f}x the full-budget parallel run; incumbents' mean test "
          f"error {tuned_error(args.out / 'multi-fidelity'):.4f} against "
          f"{tuned_error(args.out / 'parallel'):.4f}")


def tuned_error(output: Path) -> float:
    frame = pd.read_csv(output / "evaluation.csv")
    return float(frame.loc[frame["kind"] == "tuned", "test_error"].mean())


if __name__ == "__main__":
    main()
