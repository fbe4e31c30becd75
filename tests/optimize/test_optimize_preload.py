"""The trial server reads the run's datasets once: every trial forked from it has them cached."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from metasparse.optimize._worker import PRELOAD_ENV_VAR

PROBE = """
from metasparse.data._read import read_source
import metasparse.optimize._preload
print(read_source.cache_info().currsize)
"""


def _cached_after_preload(spec: dict) -> int:
    env = dict(os.environ, **{PRELOAD_ENV_VAR: json.dumps(spec)})
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                          text=True, check=True)
    return int(done.stdout.strip())


def test_preload_reads_the_datasets_into_the_cache():
    assert _cached_after_preload({"datasets": []}) == 0
    assert _cached_after_preload({"datasets": ["digits", "wine"], "data_dir": None}) == 2


def test_a_missing_dataset_does_not_stop_the_server_and_the_others_load():
    # the trial that needs it records the one-line error instead
    spec = {"datasets": ["no_such_dataset", "wine"], "data_dir": None}
    assert _cached_after_preload(spec) == 1
