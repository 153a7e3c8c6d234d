"""Checking a parsed register (read_register + validate_register), on every core when there are many.

Parsing already happens in child processes (workbook_reader). Normalizing and validating the grid is
pure Python too, and on a run of hundreds of registers it would be most of the work left in the
ingesting process, where threads share one interpreter lock. So the parser process checks the register
right after parsing it (`check_in_parser`, passed as the parser's follow-up): the grid then never travels
to this process unless the file is rejected (its error report shows the sheet). The parser processes
fork from a server that has imported this module and `validation` (pandas, pandera, its backends) once,
so no process pays for those imports again. A bigger register (intake.PARSER_CHECKS_UP_TO) is checked by
`CheckPool`: worker processes without the parser's memory cap once more than START_AFTER such registers
came, the calling thread before that. The result is the same either way (tests/test_register_check.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import os
import threading
import weakref
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from hazardnet.intake.commitments import CommitmentSheet, read_commitment_table
from hazardnet.intake.findings import Finding, has_errors
from hazardnet.intake.reader import WorkbookGrid
from hazardnet.intake.records import RecordSheet, check_records, record_kind
from hazardnet.intake.sheet import RegisterSheet, read_register
from hazardnet.runtime import exit_with_parent
from schemas.table import PlainFrame

log = logging.getLogger(__name__)

START_AFTER = 8  # registers checked in-process before worker processes are worth starting


def check_register(book: WorkbookGrid, county: str, counties: list[str], as_of: dt.date,
                   severities: list[str]) -> tuple[RegisterSheet | RecordSheet | Finding, list[Finding]]:
    """The register of `book` and every finding about it, or (a file-level Finding, [that finding]); a customer
    file or drills workbook (recognised by its header) as a RecordSheet."""
    from hazardnet.intake.validation import validate_register  # pandera: only where registers are checked

    found = record_kind(book)  # a customer file or a drills workbook dropped beside the registers
    if found is not None:
        return check_records(book, found, as_of)
    table = read_commitment_table(book)  # a meeting's 整改承诺表 comes back: checked against the store later
    if table is not None:
        return table, list(table.findings)
    parsed = read_register(book, county, counties)
    if isinstance(parsed, Finding):
        return parsed, [parsed]
    from hazardnet.intake.closure import closure_findings

    return parsed, parsed.findings + validate_register(parsed, county, as_of, severities) + closure_findings(parsed)


def _check_in_worker(book: WorkbookGrid, county: str, counties: list[str], as_of: dt.date,
                     severities: list[str]) -> tuple[RegisterSheet | Finding, list[Finding]]:
    parsed, findings = check_register(book, county, counties, as_of, severities)
    if isinstance(parsed, RegisterSheet):
        parsed.raw = {}  # the original cells were needed for the findings only; the caller has the grid
        parsed.frame = PlainFrame.of(parsed.frame)  # plain lists: the caller needs no pandas to take them
    return parsed, findings


def check_in_parser(book: WorkbookGrid, county: str, counties: list[str], as_of: dt.date,
                    severities: list[str]) -> tuple[bool, tuple[RegisterSheet | Finding, list[Finding]]]:
    """`check_register` as a follow-up in the parser process (WorkbookReaderPool.submit(then=...)): the
    grid comes back only when the file will be rejected, for its error report."""
    parsed, findings = _check_in_worker(book, county, counties, as_of, severities)
    rejected = (isinstance(parsed, (Finding, CommitmentSheet)) or has_errors(findings)
                or (isinstance(parsed, RegisterSheet) and not len(parsed.frame)))
    if isinstance(parsed, RecordSheet) and not rejected:
        parsed.raw = {}
    return rejected, (parsed, findings)


def _worker_ready() -> bool:
    return True


class CheckPool:
    """Worker processes that check registers; thread-safe. `check()` blocks until the result is there."""

    def __init__(self, workers: int, *, start_after: int | None = None):
        self.workers = max(1, workers)
        self.start_after = START_AFTER if start_after is None else start_after
        self._calls = 0
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._ready: Future | None = None
        self._broken = False
        self._finalizer: weakref.finalize | None = None

    def check(self, book: WorkbookGrid, county: str, counties: list[str], as_of: dt.date,
              severities: list[str]) -> tuple[RegisterSheet | Finding, list[Finding]]:
        executor = self._executor_when_ready()
        if executor is not None:
            try:
                return executor.submit(_check_in_worker, book, county, counties, as_of, severities).result()
            except (BrokenProcessPool, RuntimeError) as exc:  # a worker died (or the pool is shut down)
                log.warning("register check worker failed (%r); checking in-process", exc)
                with self._lock:
                    self._broken = True
        return check_register(book, county, counties, as_of, severities)

    def _executor_when_ready(self) -> ProcessPoolExecutor | None:
        with self._lock:
            self._calls += 1
            if self._broken or self.workers < 2:
                return None
            if self._executor is None:
                if self._calls <= self.start_after:
                    return None
                try:
                    # the same forkserver as the workbook parsers: no fork of this (threaded) process
                    ctx = multiprocessing.get_context("forkserver")
                    self._executor = ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=exit_with_parent,
                                                         initargs=(os.getpid(),))  # ends with this process
                    self._ready = self._executor.submit(_worker_ready)
                    self._finalizer = weakref.finalize(self, self._executor.shutdown, wait=False,
                                                       cancel_futures=True)
                except Exception as exc:  # noqa: BLE001 - no workers: check in-process, as before
                    log.warning("cannot start register check workers (%r); checking in-process", exc)
                    self._broken = True
                    return None
            if self._ready is None or not self._ready.done():
                return None  # still starting: do not wait for it
            if self._ready.exception() is not None:
                self._broken = True
                return None
            return self._executor

    def close(self) -> None:
        """Stop the workers (waiting for checks in progress)."""
        with self._lock:
            executor, self._executor = self._executor, None
            if self._finalizer is not None:
                self._finalizer.detach()
                self._finalizer = None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
