"""The pipeline's engine calls without Prefect (tests, benchmarks, scripts): what a flow sequences."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from hazardnet.intake.inbox import InboxFile, ensure_inbox, scan_inbox
from hazardnet.intake.reader import WorkbookReaderPool
from hazardnet.intake.transaction import FileOutcome, IngestResult, Intake, group_by_county, ingest_lock
from hazardnet.publish.consolidated import write_consolidated_register
from hazardnet.settings import Settings
from hazardnet.store import Store


def ingest(settings: Settings, as_of: dt.date, *, on_file: Callable[[FileOutcome], None] | None = None,
           store: Store | None = None) -> IngestResult:
    """The whole intake without Prefect: scan, ingest counties in parallel, rewrite the consolidated register."""
    ensure_inbox(settings)
    own_store = store is None
    store = store or Store(settings.database_url)
    try:
        with ingest_lock(settings), WorkbookReaderPool(settings) as reader:
            intake = Intake(settings, store, as_of, reader)
            groups = group_by_county(scan_inbox(settings))

            def run_county(items: list[InboxFile]) -> list[FileOutcome]:
                out = []
                for item in items:
                    outcome = intake.ingest_file(item)
                    if on_file:
                        on_file(outcome)
                    out.append(outcome)
                return out

            try:  # two files in flight per core: one being parsed or checked in a child, one stored here
                with ThreadPoolExecutor(max_workers=2 * max(1, settings.workers)) as pool:
                    results = [o for outs in pool.map(run_county, groups.values()) for o in outs]
            finally:
                intake.close()
            path, rewritten = write_consolidated_register(store, settings, as_of)
        return IngestResult([r for r in results if r.outcome != "skipped"], str(path), rewritten)
    finally:
        if own_store:
            store.dispose()
