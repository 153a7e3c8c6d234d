"""What every stage relies on from the operating system: worker processes that end with the process that
started them (parsers, checkers, workbook writers), files that appear whole or not at all, and a garbage
collector that leaves the imported modules alone."""

from __future__ import annotations

import gc
import os
import select
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


# young-object collections every 20,000 net allocations instead of Python's 700: the row-by-row work (30,000
# hazard rows of 27 cells stored, read back and written) allocates millions of short-lived objects
GC_YOUNG_THRESHOLD = 20_000


def collect_young_less_often() -> None:
    """Python's default collects young objects every 700 net allocations; importing Prefect, pandas … (a
    command's first second) then runs ~400 collections, several of them full ones over everything imported so
    far. Called first thing by the `hazardnet` command."""
    _gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, gen1, gen2)


def leave_imports_to_rest() -> None:
    """Call once a process has imported what it works with (Prefect, pandas, pandera, SQLAlchemy: about a
    million objects). `gc.freeze()` moves them out of the collector's reach, so its full collections no
    longer walk them all again (a forked worker also keeps sharing their memory pages with its parent),
    and young objects are collected less often. Nothing is collected later than it would be anyway but
    cycles among the young; an ingest of 100 registers spent ~1 CPU s less on collection (bench/README.md)."""
    gc.freeze()
    collect_young_less_often()


def exit_with_parent(parent_pid: int) -> None:
    """End this worker when the process that started it dies, even by SIGKILL: an idle worker waits on
    a queue it holds open itself, so it (and the forkserver) would otherwise live on forever."""
    try:
        pidfd = os.pidfd_open(parent_pid)
    except ProcessLookupError:
        os._exit(1)
    except (AttributeError, OSError):  # no pidfd: poll instead
        pidfd = None

    def watch() -> None:
        if pidfd is not None:
            select.select([pidfd], [], [])  # readable once the parent has exited
        else:
            while os.getppid() != 1:
                try:
                    os.kill(parent_pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def write_atomically(path: Path | str, save: Callable[[BinaryIO], object]) -> Path:
    """Write a file through `save(binary_file)` so that it appears at `path` only when complete and on disk
    (a temporary file beside it, fsynced, then renamed): a crash never leaves a truncated deck, letter or text."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=path.suffix, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            save(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
