"""Test accuracy against the number of selected features, one line per method."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def plot_accuracy(rows: Sequence[dict[str, Any]], path: Path) -> None:
    """One line per method over K; a method scored at one K only (all features) is a level."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ks = sorted({row["k"] for row in rows})
    for method in dict.fromkeys(row["method"] for row in rows):
        points = sorted((row["k"], row["test_accuracy"]) for row in rows
                        if row["method"] == method)
        if len(points) == 1 and len(ks) > 1:
            ax.axhline(points[0][1], linestyle="--", color="grey",
                       label=f"{method} ({points[0][0]})")
        else:
            ax.plot(*zip(*points, strict=True), marker="o", label=method)
    ax.set_xlabel("selected features K")
    ax.set_ylabel("test accuracy")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
