"""An exclusive lock per home folder and purpose, held with flock (released by the kernel if we die)."""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def home_lock(home: Path, name: str, *, busy: Exception, timeout_s: float = 600.0) -> Iterator[None]:
    """Hold `<home>/.<name>.lock`; wait for another holder up to `timeout_s`, then raise `busy`."""
    home.mkdir(parents=True, exist_ok=True)
    with open(home / f".{name}.lock", "a+") as fh:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise busy from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
