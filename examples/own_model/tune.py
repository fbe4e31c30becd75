"""Tune sparse training of the user's model of target.py with SMAC, then ask fANOVA which
choices mattered.

    python examples/own_model/tune.py [--trials N] [--output DIR]

The same as `metasparse optimize examples/own_model/scenario.yaml` followed by
`metasparse analyze results/own-model`; walkthrough.ipynb runs the same steps.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from metasparse.analysis import fanova, load_results
from metasparse.optimize import load_scenario, optimize

SCENARIO = Path(__file__).with_name("scenario.yaml")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, help="trials to run (default: the scenario's)")
    parser.add_argument("--output", help="results directory (default: the scenario's)")
    args = parser.parse_args()
    scenario = load_scenario(SCENARIO, n_trials=args.trials, output=args.output)
    (summary,) = optimize(scenario)
    print(summary.table())
    results = load_results(summary.directory)
    importance = fanova(results.trials, results.space)
    print("\nfANOVA: share of the validation error's variance each choice explains")
    print(importance.main.head(8).to_string())


if __name__ == "__main__":
    main()
