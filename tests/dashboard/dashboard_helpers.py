"""Helpers of the dashboard tests: a copy of a committed results directory, a trial appended to it
through the results store as `metasparse optimize` records one, the dashboard served on a free
loopback port, the text of a rendered page and the numbers in it shown with too many digits."""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from metasparse.dashboard import RunStore, create_app, serve
from metasparse.dashboard._format import SIGNIFICANT
from metasparse.optimize import PairResult, ResultsStore, TrialOutcome
from metasparse.results import CONFIG_PREFIX, TRIALS, JobTable, read_scenario

REPO = Path(__file__).resolve().parents[2]
# SMAC's tuning of the meta-space's randomness ratios (8 trials on coil20 and isolet), committed
# by `make reference`; the dashboard reads it without the datasets.
REFERENCE_RUN = REPO / "results" / "reference" / "randomness" / "tuned" / "gradient"


def copy_reference(tmp_path: Path, name: str = "gradient") -> Path:
    """A writable copy of REFERENCE_RUN (without SMAC's own state)."""
    target = tmp_path / "results" / name
    shutil.copytree(REFERENCE_RUN, target, ignore=shutil.ignore_patterns("smac"))
    return target


def append_trial(directory: Path, cost: float, **changes: object) -> int:
    """Record one more trial, a copy of the first one's configuration with `changes`, through
    the ResultsStore (trial_instances.csv, trials.csv, incumbent and trajectory), as
    `metasparse optimize` records a finished trial. Returns its id."""
    scenario = read_scenario(directory)
    table = JobTable(directory / TRIALS)
    params = [c[len(CONFIG_PREFIX):] for c in table.header() if c.startswith(CONFIG_PREFIX)]
    store = ResultsStore(directory, params, scenario["objectives"], scenario["instances"])
    config = {**store.config_of(table.rows()[0]), **changes}
    now = time.time()
    metrics = {"val_error": cost, "val_accuracy": 1 - cost, "density": 0.02, "wall_time_s": 0.1}
    pairs = [PairResult(instance, 0, "success", dict(metrics), "", now - 1, now)
             for instance in scenario["instances"]]
    outcome = TrialOutcome(config=config, budget=scenario["budget"]["epochs"], instance="all",
                           seed=0, status="success", costs=[cost], metrics=metrics, error="",
                           start_time=now - 1, end_time=now, pairs=pairs)
    return store.record(outcome)


@contextmanager
def dashboard(*paths: Path, interval_s: float = 0.5) -> Iterator[str]:
    """The dashboard of `paths` served on 127.0.0.1 (a free port); yields its URL."""
    server = serve(create_app(RunStore.discover(paths), interval_s=interval_s), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def page_text(component) -> str:
    """The text of a rendered page (Dash components to plain text)."""
    if isinstance(component, list | tuple):
        return " ".join(page_text(c) for c in component)
    if isinstance(component, str):
        return component
    children = getattr(component, "children", None)
    data = getattr(component, "data", None)
    return " ".join([page_text(children) if children is not None else "",
                     json.dumps(data) if data is not None else ""])


def long_numbers(text: str) -> list[str]:
    """The decimal numbers in `text` (not the seconds of a time) with more than SIGNIFICANT
    significant digits: 0.048611111111111105, not 0.04861."""
    numbers = re.findall(r"(?<![\d:.])\d*\.\d+", text)
    return [n for n in numbers if len(n.replace(".", "").lstrip("0")) > SIGNIFICANT]
