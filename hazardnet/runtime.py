"""What every stage relies on from the operating system: worker processes that end with the process that
started them (parsers, checkers, workbook writers), and files that appear whole or not at all."""

from __future__ import annotations

import os
import select
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


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
