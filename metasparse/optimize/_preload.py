"""Imported by the trial server at its start: reads the run's datasets into the data cache, and
imports what a trial of the feature-selection objective uses (scikit-learn's classifiers), which
the trials then find imported.

Every trial is a process forked from that server, so a dataset the server has read is in every
trial's memory from the start instead of being parsed again per trial (about 70 ms for digits,
half a quickstart trial). The server's preload can only import modules, hence this module that
does its work on import; what to read comes from the environment of the server's start.
"""

from __future__ import annotations

import json
import os

from metasparse.data import load_dataset
from metasparse.errors import MetasparseError
from metasparse.features import evaluate_selection, rank_features  # noqa: F401  (see above)
from metasparse.optimize._worker import PRELOAD_ENV_VAR


def _preload() -> None:
    spec = json.loads(os.environ.get(PRELOAD_ENV_VAR) or "{}")
    for name in spec.get("datasets", []):
        try:
            load_dataset(name, data_dir=spec.get("data_dir"))
        except MetasparseError:
            # not an error here: the trial that needs this dataset loads it again and records
            # the same one-line error as a crashed trial
            continue


_preload()
