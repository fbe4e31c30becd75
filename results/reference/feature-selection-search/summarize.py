"""report.md of the search: test accuracy (%, mean ± std over the evaluation seeds 0-4) of the
leave-one-out pick of each dataset, of the pick over every searched dataset (select-features'
default) and of scikit-learn's rankings, per dataset and K, with the mean over the datasets at
K = 50 (those that every method has finished).

    python results/reference/feature-selection-search/summarize.py
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

HERE = Path(__file__).parent


def cell(group: pd.Series) -> str:
    return f"{100 * group.mean():.1f} ± {100 * group.std(ddof=0):.1f} ({len(group)})"


def main() -> None:
    picks = json.loads((HERE / "picks.json").read_text())
    loo = pd.read_csv(HERE / "loo.csv")
    base = pd.read_csv(HERE / "baselines.csv") if (HERE / "baselines.csv").exists() \
        else loo.iloc[:0]
    rows, means = [], {}
    for key, pick in picks.items():
        if key == "all":
            continue
        dataset, k = key.rsplit("-k", 1)
        k = int(k)
        row = {"dataset": dataset, "K": k}
        for label, name, table in [(f"leave-one-out ({pick})", pick, loo),
                                   (f"all datasets ({picks['all']})", picks["all"], loo),
                                   ("random_forest", "random_forest", base),
                                   ("l1_logistic", "l1_logistic", base),
                                   ("mutual_info", "mutual_info", base)]:
            part = table[(table["candidate"] == name) & (table["dataset"] == dataset)
                         & (table["k"] == k)]["test_accuracy"]
            short = label.split(" (")[0]
            row[short] = cell(part) if len(part) else ""
            if k == 50 and len(part) == 5:
                means.setdefault(short, {})[dataset] = 100 * part.mean()
        row["leave-one-out pick"] = pick
        rows.append(row)
    table = pd.DataFrame(rows)
    complete = set.intersection(*(set(v) for v in means.values())) if means else set()
    mean_row = {name: round(sum(v[d] for d in complete) / len(complete), 1)
                for name, v in means.items()} if complete else {}
    lines = ["# Leave-one-out search: test accuracy (%) of the SVM on the top K features",
             "", "mean ± std (seeds), evaluation seeds 0-4; the picks were made on the "
             "validation split with the tuning seeds 1000-1002 (search.csv, picks.json).", "",
             table.to_markdown(index=False), ""]
    if mean_row:
        lines += [f"Mean over the datasets at K = 50 that every method finished "
                  f"({', '.join(sorted(complete))}):", "",
                  pd.DataFrame([mean_row]).to_markdown(index=False), ""]
    every = loo.groupby(["candidate", "dataset", "k"])["test_accuracy"].apply(cell)
    lines += ["Every candidate scored on test (an earlier pick made without isolet, "
              "picks-five.json, added qs-h24-d0.7 and wast):", "",
              every.unstack("dataset").fillna("").reset_index().to_markdown(index=False), ""]
    (HERE / "report.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
