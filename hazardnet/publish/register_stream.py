"""The consolidated register written while the ingest still runs, in a process of its own.

The register lists the counties in their configured order. Once every file a run took from a county's folder
is done (accepted, rejected, a duplicate), that county's rows in the store are final for this run. A child
process — forked from the workbook parsers' server, so it starts in milliseconds — reads each county's rows
as soon as it and the counties before it are final and appends them to the sheet, while the later counties'
files are still being parsed and stored; the counties outside the configuration come last, once the run
tells it that every file is done. The ingesting process then only decides, by `inputs_fingerprint`, whether
the finished workbook replaces the previous one (`write_consolidated_register(..., written=stream)`).

Before, the whole register (≈2.4 s of one core for 100 registers of 300 rows on the 2-core test machine)
was written after the last file, with the other core idle: bench/README.md, "Session 7". The workbook is
the one `write_consolidated_register` writes itself, cell for cell (tests/test_register_stream.py); when the
child cannot start or fails, the register is written in-process as before. The child is only started when a
file is accepted (a run whose files are all rejected leaves the register as it is).

Failpoints (`hazardnet.failpoints`) stay in the ingesting process: the child runs without them, and the
ingesting process passes the workbook's own checkpoints (`before_workbook_close`, `before_rename`) when it
puts the child's complete workbook in place — the same states a crash there leaves behind.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import queue
import shutil
import threading
import uuid
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

from hazardnet.failpoints import ENV as FAILPOINT_ENV
from hazardnet.failpoints import checkpoint
from hazardnet.settings import Settings

log = logging.getLogger(__name__)

_ALL = "\x00all"  # every file of the run is done (county names never hold NUL)
_STOP = "\x00stop"  # the run is over without this workbook: stop writing
# at most this many counties' rows in memory at once (a re-run with one new file finds all the others ready)
BATCH_COUNTIES = 20
TEMP_PREFIX = ".tmp-register-"  # its folder in outbox/; swept like any `.tmp-*` leftover (xlsx.style.atomic_workbook)


class RegisterStream:
    """Writes the consolidated register in a child process while the ingest runs. Thread-safe."""

    def __init__(self, settings: Settings, as_of: dt.date, files_per_county: Mapping[str, int]):
        from hazardnet.intake.reader import _mp_context

        self.settings, self.as_of = settings, as_of
        self._left = dict(files_per_county)
        self._lock = threading.Lock()
        self._ctx = _mp_context()
        self._queue = self._ctx.Queue()  # a feeder thread sends: put never blocks the ingest
        self._executor: ProcessPoolExecutor | None = None
        self._future: Future | None = None
        self._closed = False
        self._start_failed = False
        # a hidden folder of its own in outbox/, as atomic_workbook's: what a killed run leaves is never taken for
        # output, and is swept like theirs
        self._folder = settings.consolidated_path.parent / f"{TEMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._target = self._folder / "register.xlsx"
        for county in settings.counties:
            if not self._left.get(county):
                self._queue.put(county)  # no file of it in this run: its rows are final already

    def file_done(self, county: str, accepted: bool) -> None:
        """One file of `county` is done; the child starts with the run's first accepted file."""
        with self._lock:
            left = self._left[county] = self._left.get(county, 0) - 1
            if accepted and self._executor is None and not self._start_failed:
                self._start()
            if left == 0:
                self._queue.put(county)

    def _start(self) -> None:
        try:
            self._folder.mkdir(parents=True, exist_ok=True)
            self._executor = ProcessPoolExecutor(1, mp_context=self._ctx, initializer=_child_init,
                                                 initargs=(self._queue, os.getpid()))
            self._future = self._executor.submit(_write, self.settings, self.as_of, str(self._target))
        except Exception as exc:  # noqa: BLE001 - the register is then written in-process, as before
            log.warning("register writer not started (%r); writing the register at the end", exc)
            if self._executor is not None:
                self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor, self._future, self._start_failed = None, None, True

    def place(self, path: Path) -> bool:
        """Put the child's finished workbook at `path`; False (nothing changed) when there is none."""
        if self._future is None:
            return False
        self._queue.put(_ALL)
        try:
            written = Path(self._future.result())
        except Exception as exc:  # noqa: BLE001 - a failed or killed writer: the caller writes it in-process
            log.warning("register writer failed (%r); writing the register in-process", exc)
            self._remove_temp()
            return False
        checkpoint("before_workbook_close")
        checkpoint("before_rename")
        os.replace(written, path)
        self._remove_temp()
        return True

    def discard(self) -> None:
        """The run changed nothing the register shows: the child's workbook is not wanted."""
        self.close()

    def close(self) -> None:
        """Stop the child if it still writes (a failed run) and remove what it left. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._executor is not None:
            if self._future is not None and not self._future.done():
                self._queue.put(_STOP)
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        self._remove_temp()
        self._queue.cancel_join_thread()  # what no writer will read must not hold up this process's exit
        self._queue.close()

    def _remove_temp(self) -> None:
        shutil.rmtree(self._folder, ignore_errors=True)


# ---- the child process ------------------------------------------------------------------------------------
_QUEUE: Any = None


class _Stopped(Exception):
    pass


def _child_init(queue: Any, parent_pid: int) -> None:
    from hazardnet.runtime import exit_with_parent, leave_imports_to_rest

    global _QUEUE
    _QUEUE = queue
    os.environ.pop(FAILPOINT_ENV, None)  # failpoints belong to the ingesting process (module docstring)
    leave_imports_to_rest()
    exit_with_parent(parent_pid)


def _write(settings: Settings, as_of: dt.date, target: str) -> str:
    """Write the register to `target`, each configured county once the run says its rows are final."""
    from hazardnet.publish.consolidated import register_title, sheet_rows, write_sheet_workbook
    from hazardnet.store import Store

    store = Store(settings.database_url)
    ready: set[str] = set()
    state = {"all": False}

    def take(message: str) -> None:
        if message == _STOP:
            raise _Stopped
        if message == _ALL:
            state["all"] = True
        else:
            ready.add(message)

    def wait_for(county: str | None) -> None:
        while not state["all"] and (county is None or county not in ready):
            take(_QUEUE.get())
        while True:  # and whatever else is final by now, so that ready counties are read together
            try:
                take(_QUEUE.get_nowait())
            except queue.Empty:
                return

    flags: deque[bool] = deque()

    def rows() -> Iterator[list]:
        configured = list(dict.fromkeys(settings.counties))
        i = 0
        while i < len(configured):
            wait_for(configured[i])
            j = i + 1
            while j < min(len(configured), i + BATCH_COUNTIES) and (state["all"] or configured[j] in ready):
                j += 1
            block, overdue = sheet_rows(store, settings, as_of, configured[i:j])  # one query for a run of them
            flags.extend(overdue)
            yield from block
            i = j
        wait_for(None)
        others = sorted(set(store.accepted_counties(as_of)) - set(configured))
        if others:
            block, overdue = sheet_rows(store, settings, as_of, others)
            flags.extend(overdue)
            yield from block

    def highlight() -> Iterator[bool]:
        while True:
            yield flags.popleft()

    try:
        write_sheet_workbook(Path(target), rows(), highlight(), title=register_title(settings, as_of))
    finally:
        store.dispose()
    return target
