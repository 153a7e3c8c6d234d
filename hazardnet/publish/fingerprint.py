"""Whether the consolidated register is up to date, told without reading a hazard row.

Kept apart from `consolidated_register` (which needs pandas and xlsxwriter) so that `hazardnet ingest`
can tell "nothing new" in a fraction of a second: this module needs only the store and the settings.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

from hazardnet.home_lock import home_lock
from hazardnet.intake.inbox import INGEST_LOCK, ensure_inbox, leftovers, scan_inbox
from hazardnet.settings import Settings
from hazardnet.store import Store

_CODE_DIGEST: str | None = None


def _code_digest() -> str:
    """The source of everything that shapes the workbook: a new layout means a new workbook. The files
    are found without importing them (importing xlsxwriter and pandas would cost more than the check)."""
    global _CODE_DIGEST
    if _CODE_DIGEST is None:
        from importlib.metadata import version
        from importlib.util import find_spec

        h = hashlib.sha256(version("xlsxwriter").encode())
        for module in ("hazardnet.publish.consolidated", "hazardnet.xlsx.fast_table", "hazardnet.xlsx.style",
                       "hazardnet.store", "schemas.headers", "schemas.vocab"):
            h.update(Path(find_spec(module).origin).read_bytes())
        _CODE_DIGEST = h.hexdigest()
    return _CODE_DIGEST


def inputs_fingerprint(store: Store, settings: Settings, as_of: dt.date) -> str:
    """What the consolidated register for `as_of` is made of: the accepted submissions up to that day
    (stored hazard rows never change), the date, the title and county order, and the code. Equal
    fingerprints mean an equal workbook, without reading a single hazard row."""
    basis = {"as_of": as_of.isoformat(), "prefecture": settings.prefecture, "counties": list(settings.counties),
             "submissions": store.accepted_through(as_of), "code": _code_digest()}
    return hashlib.sha256(json.dumps(basis, ensure_ascii=False).encode()).hexdigest()


# ---- "nothing new": the answer of `hazardnet ingest` without a flow run ------------------------------
def _store_missing(url: str) -> bool:
    """True for a SQLite store whose file is not there yet (or that lives in memory): a run creates it.
    A server database cannot be told apart without connecting; the fingerprint check covers it."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return False
    return parsed.database in (None, "", ":memory:") or not Path(parsed.database).is_file()


def up_to_date_register(settings: Settings, as_of: dt.date) -> Path | None:
    """The consolidated register when an ingest run for `as_of` would find nothing to do, else None.

    Nothing to do means: no candidate file in any county folder (settled or not: what to do with a file
    still being copied stays the run's decision, as it always was), nothing a killed run left for recovery (files on disk, or
    a submission recorded but not finalized), and the consolidated register present with the
    fingerprint of exactly the inputs it would be rebuilt from. A store not created yet always means a
    real run. Looked at under the ingest lock; when another run holds it, the answer is None (that run
    may be changing everything looked at here, and a real run waits for it)."""
    if _store_missing(settings.database_url):
        return None
    path = settings.consolidated_path
    try:
        # the lock of `intake.ingest_lock`, tried once
        with home_lock(settings.home, INGEST_LOCK, timeout_s=0, busy=_Busy()):
            if scan_inbox(settings, settled_only=False) or leftovers(settings) or not path.is_file():
                return None
            store = Store(settings.database_url)
            try:
                if store.unfinalized() or store.output_hash(str(path)) != inputs_fingerprint(store, settings, as_of):
                    return None
            finally:
                store.dispose()
            ensure_inbox(settings)  # as a real run does: folders for a county configured since
    except _Busy:
        return None
    return path


class _Busy(Exception):
    """Another ingest holds the lock."""
