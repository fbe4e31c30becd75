"""A results directory belongs to one run at a time: the run holds `run.lock` in it.

The lock is an `flock` on that file, which the kernel releases when its process ends, however it
ends (a SIGKILL included), so no lock outlives its run and nothing needs to be cleaned up by hand;
the file holds the holder's pid, host and command for the refusal message. The file descriptor is
not inherited by the processes a run starts (Python opens files close-on-exec, and the trial
server is started by exec), so a leftover trial process never keeps a directory locked.

`hold_directory` is also where a directory that cannot be written is refused: a path under /proc,
an existing file, a read-only or full file system are one `OutputError` line (exit code 2), not a
traceback. `output_error` turns the OSError of a later write (the disk filling up in the middle
of a run) into the same line (`hold_directory` does so for its block); what was recorded before
it stays recorded.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path

from metasparse.errors import OutputError

__all__ = ["LOCK_FILE", "hold_directories", "hold_directory", "output_error"]

LOCK_FILE = "run.lock"
# Errors of the storage itself, whichever file they hit: no space, file too large (a disk quota
# or RLIMIT_FSIZE), read-only file system, quota exceeded.
_STORAGE_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EROFS, errno.EDQUOT}


@contextmanager
def hold_directory(directory: str | Path, what: str = "results",
                   command: str = "metasparse optimize",
                   hint: str = ", or pick another --output") -> Iterator[Path]:
    """Create `directory` if needed and hold it for this process (running `command`) until the
    block ends; refuse (OutputError) when another live process holds it or when it cannot be
    written. A write of the block that fails for want of storage ends it with OutputError."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle = (directory / LOCK_FILE).open("a+")
    except OSError as exc:
        raise OutputError(_cannot_write(directory, what, exc)) from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise OutputError(
                f"{what} directory {str(directory)!r} is in use by {holder}; wait for that run "
                f"to end (or stop it){hint}") from None
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()} on {socket.gethostname()} "
                         f"({command}, since {datetime.now().astimezone():%Y-%m-%d %H:%M:%S})\n")
            handle.flush()
        except OSError as exc:
            raise OutputError(_cannot_write(directory, what, exc)) from None
        try:
            yield directory
        except OSError as exc:  # a write of the block that failed for want of storage
            error = output_error(exc, directory, what)
            if error is None:
                raise
            raise error from None
    finally:
        handle.close()  # releases the lock


@contextmanager
def hold_directories(directories: Iterable[str | Path], command: str) -> Iterator[None]:
    """`hold_directory` for each of several results directories (a command that writes into
    each, such as `metasparse validate`), all held until the block ends."""
    with ExitStack() as held:
        for directory in dict.fromkeys(Path(d) for d in directories):
            held.enter_context(hold_directory(directory, command=command, hint=""))
        yield


def output_error(exc: OSError, directory: str | Path, what: str = "results") -> OutputError | None:
    """The one-line error of a write that failed for want of storage or in `directory`; None for
    an OSError of anything else (which stays a bug to see)."""
    filename = getattr(exc, "filename", None)
    inside = filename is not None and _is_within(Path(os.fsdecode(filename)), Path(directory))
    if exc.errno in _STORAGE_ERRNOS or inside:
        return OutputError(_cannot_write(Path(directory), what, exc)
                           + "; the trials recorded before are kept")
    return None


def _cannot_write(directory: Path, what: str, exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    if directory.exists() and not directory.is_dir():
        reason = "it is a file, not a directory"
    elif exc.errno == errno.EFBIG:
        reason = "file too large (disk quota or file size limit reached)"
    return f"cannot write the {what} directory {str(directory)!r}: {reason}"


def _is_within(path: Path, directory: Path) -> bool:
    try:
        path.resolve().relative_to(directory.resolve())
    except (ValueError, OSError):
        return False
    return True
