"""The child process of one trial: trains a configuration on each (instance, seed) pair in turn.

It talks to the parent through a one-way pipe: ("epoch", pair, epoch, metrics) after every
epoch, ("result", pair, metrics) after every finished pair, ("error", pair, message) when a pair
raises. It stops at the first failed pair. A dense first or last layer that does not fit the
density's budget on a dataset is trained sparse like the others (`fit_dense_layers`): a search
spends no trial on a point that cannot be built. A killed `metasparse optimize` leaves no training
behind: the forkserver, the child's parent, exits with it, and on Linux the kernel then kills the
child (PR_SET_PDEATHSIG); elsewhere the child's next send fails and it ends.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time
from multiprocessing.connection import Connection
from typing import Any

# JSON {"datasets": [...], "data_dir": ...} that the trial server reads at its start (_preload)
PRELOAD_ENV_VAR = "METASPARSE_PRELOAD"
# Metrics of a TrialResult that the results store keeps (test metrics never leave the child).
METRICS = ("val_error", "val_accuracy", "val_loss", "density", "train_flops", "inference_flops",
           "topology_updates", "wall_time_s", "epochs")
# What an evaluation outside tuning (a job with "evaluation": true) gets back besides: the test
# split's scores and the validation curve.
EVALUATION_METRICS = (*METRICS, "test_accuracy", "test_loss", "val_curve")


def one_line(exc: BaseException) -> str:
    """An exception as one line of at most 500 characters."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= 500 else text[:497] + "..."


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        parent = os.getppid()
        ctypes.CDLL(None).prctl(1, int(signal.SIGKILL))  # 1 = PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before the call
            os._exit(1)


def main(conn: Connection, job: dict[str, Any]) -> None:
    """Entry point of the trial process (importable, so that 'forkserver' can start it)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what Ctrl-C ends
    _die_with_parent()
    import torch

    from metasparse.train import run_config

    torch.set_num_threads(job["threads"])
    evaluation = job.get("evaluation", False)
    keys = EVALUATION_METRICS if evaluation else METRICS
    for index, (instance, seed) in enumerate(job["pairs"]):
        start = time.time()

        def report(epoch: int, metrics: dict[str, float], index: int = index) -> None:
            conn.send(("epoch", index, epoch, dict(metrics)))

        try:
            result = run_config(job["config"], instance, job["budget"], seed, report=report,
                                data_dir=job["data_dir"], evaluate_test=evaluation,
                                fit_dense_layers=True)
        except (BrokenPipeError, EOFError):
            os._exit(1)
        except Exception as exc:
            conn.send(("error", index, one_line(exc), start, time.time()))
            break
        values = result.to_dict()
        metrics = {key: values[key] for key in keys}
        conn.send(("result", index, result.status, metrics, result.error, start, time.time()))
        if result.status != "success":
            break
    conn.close()
