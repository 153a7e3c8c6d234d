"""Reads untrusted Excel workbooks (.xlsx, .xlsm, .xls, .ods) into plain grids of cell values, safely.

This is the only place the project parses a file a county sent. Every bad file ends in
`UnreadableWorkbook` with one sentence in Chinese for the county clerk; nothing a file contains can
crash, hang or exhaust the process that asked:

1. the kind of file is sniffed from its content, never its name (a CSV, PDF or picture renamed to
   .xlsx, an encrypted workbook, a 0-byte file are named as such);
2. a zip container is checked in this process before any parser sees it: size, integrity, declared
   uncompressed size and compression ratio (zip bombs), DTD/entity declarations in any XML part
   (billion laughs, external entities) and the cell count each worksheet's <dimension> claims;
3. python-calamine then parses it in a child process under an address-space cap and a time limit,
   so a file that makes calamine abort, run out of memory or spin costs that child, not us;
4. the same child reads the workbook's pictures (`photos`: caps on count, bytes and pixels), so a
   hostile picture is decoded there too; a picture never makes a file unreadable, only a warning.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the child processes never need pydantic
    from hazardnet.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["SheetGrid", "WorkbookGrid", "Followed", "UnreadableWorkbook", "ReaderUnavailable", "read_workbook",
           "WorkbookReaderPool", "sniff_kind"]



from hazardnet.intake.grid import (
    R_CANNOT_OPEN,
    R_CRASHED,
    R_OUT_OF_MEMORY,
    R_TIMEOUT,
    Followed,
    ReaderUnavailable,
    SheetGrid,
    UnreadableWorkbook,
    WorkbookGrid,
)
from hazardnet.intake.guards import _check_before_parsing, sniff_kind  # noqa: F401
from hazardnet.intake.parser_child import _child_init, _parse_in_child  # noqa: F401
from hazardnet.intake.photos import PhotoLimits

# ---- the pool ---------------------------------------------------------------------------------
# A worker that parsed a big file is replaced at once, to give its heap back: a 100,000-row register (16 MB) left
# ≈210 MiB in its parser until the end of the run, beside the register writer's rows (peak of the run's tree
# 0.98 GiB). A 300-row register is ≈40 kB; a fresh worker forks from the parsers' server in tens of ms.
_RECYCLE_AFTER_BYTES = 2 << 20
_CRASH_ATTEMPTS = 2  # a file whose worker died is tried once more alone before it is blamed
_WATCHDOG_TICK_S = 0.5


def _mp_context() -> multiprocessing.context.BaseContext:
    # forkserver: workers fork from a clean single-threaded server that has python_calamine imported, and
    # what checking a register needs (pandas, pandera with its backends registered: `validation` warms them
    # up on import), so the parent's threads (Prefect's) are never forked, a worker starts in tens of ms, and
    # those imports are paid once per run, not once per worker. The main module ("__main__": the CLI's script
    # and what it imports) is imported once by the server too, not again by every worker (so scripts need the
    # __main__ guard, as with any multiprocessing child); pandera without its hypothesis strategies
    # (`no_strategies`). Nothing else: every module here is in each parser's
    # address space, which is capped (parse_memory_mb) — preloading the register writer's SQLAlchemy (0.13 CPU s
    # less per run) made a million-row register crash its parser instead of being refused for its row count
    # (tests/test_hostile_intake.py).
    try:
        ctx = multiprocessing.get_context("forkserver")
    except ValueError:  # pragma: no cover - platforms without fork
        return multiprocessing.get_context("spawn")
    # no_strategies first: pandera, imported by validation, then leaves hypothesis out (its module docstring)
    ctx.set_forkserver_preload(["hazardnet.intake.no_strategies", "__main__", __name__, "python_calamine", "PIL.Image",
                                "hazardnet.intake.check_pool", "hazardnet.intake.validation"])
    return ctx


def start_parser_server() -> None:
    """Start the parsers' forkserver now: it imports pandas and pandera in its own process (a second of CPU)
    while this one goes on importing Prefect and starting its flow run, instead of after them. The first
    parser of the run then forks from a server that is ready. Idempotent; a server that cannot start here
    fails again, and is reported, when the first workbook needs it."""
    from multiprocessing import forkserver

    try:
        if _mp_context().get_start_method() == "forkserver":
            forkserver.ensure_running()
    except Exception as exc:  # noqa: BLE001 - the pool starts it (or says why it cannot) when it needs it
        log.debug("parser server not started early: %r", exc)


def _failed(exc: BaseException) -> Future:
    future: Future = Future()
    future.set_exception(exc)
    return future


@dataclass
class _Job:
    path: Path
    future: Future
    timeout_s: float
    size: int
    attempts: int = 0
    max_rows: int = 0
    then: tuple | None = None
    kind: str = "xlsx"
    photo_limits: Any = None


class _Worker:
    """One child process in its own one-process executor, so a crash or a kill takes only its file."""

    def __init__(self, ctx, memory_mb: int):
        self.executor = ProcessPoolExecutor(1, mp_context=ctx, initializer=_child_init,
                                            initargs=(memory_mb, os.getpid()))
        self.pid: Future = self.executor.submit(os.getpid)
        self.job: _Job | None = None
        self.deadline = 0.0
        self.timed_out = False

    def kill(self) -> bool:
        if not self.pid.done() or self.pid.exception() is not None:
            return False
        try:
            os.kill(self.pid.result(), signal.SIGKILL)
        except ProcessLookupError:
            pass
        return True

    def close(self, wait: bool = False) -> None:
        try:
            self.executor.shutdown(wait=wait, cancel_futures=True)
        except Exception:  # noqa: BLE001 - a broken executor may already be half torn down
            pass


class WorkbookReaderPool:
    """Parses workbooks in `settings.workers` child processes. Thread-safe; use as a context manager.

    `submit(path)` runs the cheap checks right away and returns a Future whose result is a
    WorkbookGrid or whose exception is UnreadableWorkbook, never anything else for a bad file (only
    ReaderUnavailable, when no child process can start at all: a broken installation, not the file).

    Each worker is a one-process ProcessPoolExecutor running one file at a time, so a file that kills
    its worker (abort, memory cap, timeout) takes down nothing but itself: that worker is replaced and
    the file is tried once more alone before it is blamed. Exiting the `with` block waits for the
    files in progress.
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self._memory_mb = settings.parse_memory_mb
        self._photo_limits = PhotoLimits.from_settings(settings)
        self._ctx = _mp_context()
        self._cond = threading.Condition()
        self._pending: deque[_Job] = deque()
        self._workers: list[_Worker | None] = [None] * max(1, settings.workers)
        self._idle = list(range(len(self._workers)))
        self._busy = 0
        self._closed = False
        self._watchdog: threading.Thread | None = None

    def __enter__(self) -> WorkbookReaderPool:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(cancel_pending=exc_type is not None)

    def submit(self, path: Path, then: tuple | None = None) -> Future:
        """Check `path` and queue it for parsing; the Future gives a WorkbookGrid or UnreadableWorkbook.

        `then` = (function, args): the parser process also calls `function(grid, *args)`, which returns
        (keep_grid, value), and the Future gives a `Followed`. For work on the grid that is bigger to send
        back and forth than to do (checking a register): it runs under the same memory and CPU caps."""
        return self._submit(Path(path), self.settings, then)

    def _submit(self, path: Path, settings: Settings, then: tuple | None = None) -> Future:
        if self._closed:
            raise RuntimeError("WorkbookReaderPool is closed")
        future: Future = Future()
        try:
            kind = _check_before_parsing(path, settings)
            size = path.stat().st_size
        except UnreadableWorkbook as exc:
            future.set_exception(exc)
            return future
        except OSError as exc:
            future.set_exception(UnreadableWorkbook(R_CANNOT_OPEN.format(err=exc.strerror or type(exc).__name__)))
            return future
        with self._cond:
            if self._closed:
                raise RuntimeError("WorkbookReaderPool is closed")
            self._pending.append(_Job(path, future, settings.parse_timeout_s, size, max_rows=settings.max_rows,
                                      then=then, kind=kind, photo_limits=self._photo_limits))
        self._dispatch()
        return future

    def close(self, cancel_pending: bool = False) -> None:
        """Wait for the files in progress (and queued ones, unless cancel_pending), then stop the workers."""
        with self._cond:
            if cancel_pending:  # a file being retried after a crash is already running: let it finish
                self._pending = deque(j for j in self._pending if not j.future.cancel())
            while self._pending or self._busy:
                self._cond.wait()
            self._closed = True
            workers, self._workers = self._workers, [None] * len(self._workers)
            self._cond.notify_all()
        for w in workers:  # waiting lets the executors' threads finish before an interpreter exit
            if w is not None:
                w.close(wait=True)

    # -- internals: every state change happens under self._cond; executor calls happen outside it
    def _dispatch(self) -> None:
        while True:
            with self._cond:
                if self._closed or not self._pending or not self._idle:
                    return
                job = self._pending.popleft()
                if job.attempts == 0 and not job.future.set_running_or_notify_cancel():
                    continue  # cancelled while queued
                slot = self._idle.pop()
                worker = self._workers[slot]
                job.attempts += 1
                self._busy += 1
                self._start_watchdog()
            self._run(slot, worker, job)

    def _run(self, slot: int, worker: _Worker | None, job: _Job) -> None:
        inner: Future | None = None
        for fresh in (worker is None, True):  # an idle worker may have died meanwhile: one fresh try
            if fresh:
                if worker is not None:
                    worker.close()
                try:  # outside the lock: the very first one also starts the forkserver
                    worker = _Worker(self._ctx, self._memory_mb)
                except Exception as exc:  # noqa: BLE001
                    worker, inner = None, _failed(ReaderUnavailable(f"cannot start a workbook parser: {exc!r}"))
                    break
            with self._cond:
                self._workers[slot] = worker
                worker.job, worker.timed_out = job, False
                worker.deadline = time.monotonic() + job.timeout_s
                self._cond.notify_all()
            try:
                inner = worker.executor.submit(_parse_in_child, str(job.path), job.timeout_s, job.max_rows, job.then,
                                               job.kind, job.photo_limits)
                break
            except Exception as exc:  # noqa: BLE001 - BrokenProcessPool, or RuntimeError after shutdown
                inner = _failed(exc)
        inner.add_done_callback(lambda f: self._finished(slot, worker, job, f))

    def _finished(self, slot: int, worker: _Worker | None, job: _Job, inner: Future) -> None:
        retry = replace = False
        result: WorkbookGrid | Followed | None = None
        error: Exception | None = None
        exc = inner.exception() if not inner.cancelled() else BrokenProcessPool("cancelled")
        if exc is None:
            outcome = inner.result()
            if outcome[0] == "ok":
                scan = outcome[-1]
                book = None if outcome[1] is None else WorkbookGrid(
                    [SheetGrid(name, rows, merged, hidden) for name, rows, merged, hidden in outcome[1]], scan)
                result = book if len(outcome) == 3 else Followed(book, outcome[2], outcome[3], scan)
                if len(outcome) > 3 and outcome[3] is not None:
                    log.warning("follow-up on %s failed in the parser process: %s", job.path, outcome[3])
            else:
                _, reason, detail, replace = outcome
                if reason == "memory":
                    reason = R_OUT_OF_MEMORY.format(mb=self._memory_mb)
                log.info("unreadable workbook %s: %s", job.path, detail)
                error = UnreadableWorkbook(reason)
        else:
            replace = True
            started = worker is not None and worker.pid.done() and worker.pid.exception() is None
            if isinstance(exc, ReaderUnavailable):
                error = exc
            elif worker is not None and worker.timed_out:
                error = UnreadableWorkbook(R_TIMEOUT.format(s=job.timeout_s))
            elif isinstance(exc, BrokenProcessPool) and job.attempts < _CRASH_ATTEMPTS:
                retry = True  # was it this file? try it again on a fresh worker before blaming it
            elif not started:  # the child died before it ever saw the file: not the file's fault
                error = ReaderUnavailable(f"the workbook parser process failed to start: {exc!r}")
            else:
                log.warning("workbook parser died on %s: %r", job.path, exc)
                error = UnreadableWorkbook(R_CRASHED)
        replace = replace or job.size > _RECYCLE_AFTER_BYTES
        with self._cond:
            if worker is not None:
                worker.job = None
            if replace and self._workers[slot] is worker:
                self._workers[slot] = None  # a new one starts when the slot is next used
            self._idle.append(slot)
            self._busy -= 1
            if retry:
                self._pending.appendleft(job)
            self._cond.notify_all()
        if replace and worker is not None:
            worker.close()
        if not retry:
            if error is not None:
                job.future.set_exception(error)
            else:
                job.future.set_result(result)
        self._dispatch()

    def _start_watchdog(self) -> None:
        if self._watchdog is None:
            self._watchdog = threading.Thread(target=self._watch, name="workbook-reader-watchdog", daemon=True)
            self._watchdog.start()

    def _watch(self) -> None:
        """Kill a worker whose file has run past its deadline (wall clock)."""
        with self._cond:
            while not self._closed:
                now = time.monotonic()
                wake = None
                for w in self._workers:
                    if w is None or w.job is None or w.timed_out:
                        continue
                    if now >= w.deadline:
                        w.timed_out = w.kill()
                        if not w.timed_out:
                            wake = now + _WATCHDOG_TICK_S
                    else:
                        wake = w.deadline if wake is None else min(wake, w.deadline)
                self._cond.wait(None if wake is None else max(0.0, wake - now) + 0.01)


# ---- one file at a time -----------------------------------------------------------------------
_shared_pools: dict[tuple[int, int], WorkbookReaderPool] = {}
_shared_lock = threading.Lock()


def read_workbook(path: Path, settings: Settings) -> WorkbookGrid:
    """Parse one workbook in a child process; raise UnreadableWorkbook for every bad file.

    The child processes are kept between calls (per worker count and memory cap), so reading many
    files one by one costs no process start-up each time.
    """
    key = (max(1, settings.workers), settings.parse_memory_mb)
    with _shared_lock:
        pool = _shared_pools.get(key)
        if pool is None:
            pool = _shared_pools[key] = WorkbookReaderPool(settings)
    return pool._submit(Path(path), settings).result()


@atexit.register
def _close_shared_pools() -> None:
    with _shared_lock:
        pools = list(_shared_pools.values())
        _shared_pools.clear()
    for pool in pools:
        pool.close(cancel_pending=True)
