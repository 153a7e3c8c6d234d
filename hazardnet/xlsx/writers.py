"""Independent workbooks (one per recipient) written on every core.

Writing a workbook with xlsxwriter is pure Python: threads (Prefect's task runner) take turns on one
interpreter lock, so a bulletin of hundreds of recipients would use one core. `WorkbookWriters` hands
each workbook to a pool of worker processes instead; the calling thread waits for its own workbook, so
the caller's code stays the same (write, then mail, then book in the ledger). A run with a handful of
workbooks never starts the processes (`start_after`), and when they cannot start or one dies, the
workbook is written in the calling thread: the same workbook either way.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from hazardnet.runtime import exit_with_parent

log = logging.getLogger(__name__)

# Workbooks expected before worker processes are worth starting (bench/run_bench.py --only f, 2 cores: with
# 62 recipients of small registers they cost 1.1 s more than threads alone; 242 recipients −6 %, 602 −18 %)
START_AFTER = 100

T = TypeVar("T")


class WorkbookWriters:
    """Run `write(function, *args)` in worker processes when many workbooks are expected; thread-safe."""

    def __init__(self, workers: int, expected: int, *, start_after: int | None = None):
        self.workers = max(1, workers)
        self.wanted = self.workers >= 2 and expected > (START_AFTER if start_after is None else start_after)
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._broken = False
        self.in_workers = 0  # workbooks written by the worker processes (for tests and logs)

    def __enter__(self) -> WorkbookWriters:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def write(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`function(*args, **kwargs)` in a worker process (the arguments and result travel pickled)."""
        executor = self._get()
        if executor is not None:
            try:
                result = executor.submit(function, *args, **kwargs).result()
                with self._lock:
                    self.in_workers += 1
                return result
            except (BrokenProcessPool, RuntimeError) as exc:  # a worker died, or the pool is shut down
                log.warning("workbook writer process failed (%r); writing in-process", exc)
                with self._lock:
                    self._broken = True
        return function(*args, **kwargs)

    def _get(self) -> ProcessPoolExecutor | None:
        with self._lock:
            if not self.wanted or self._broken:
                return None
            if self._executor is None:
                try:  # forkserver: this process has threads (Prefect's); forking it is not safe. A worker
                    # ends with this process, even a killed one (it would hold the caller's pipes open)
                    self._executor = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("forkserver"),
                                                         initializer=exit_with_parent, initargs=(os.getpid(),))
                except Exception as exc:  # noqa: BLE001 - no processes: write in-process
                    log.warning("cannot start workbook writer processes (%r); writing in-process", exc)
                    self._broken = True
                    return None
            return self._executor

    def close(self) -> None:
        with self._lock:
            executor, self._executor, self._broken = self._executor, None, True
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
