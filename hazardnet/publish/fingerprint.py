"""Whether the consolidated register is up to date, told without reading a hazard row.

Kept apart from `consolidated_register` (which needs pandas and xlsxwriter) so that `hazardnet ingest`
can tell "nothing new" in a fraction of a second: this module needs only the settings and, for a SQLite
store, Python's own sqlite3 (`_SqliteProbe` asks the three questions `Store` would, in plain SQL, because
importing SQLAlchemy alone took half the CPU of such a run); other stores are asked through `Store`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from hazardnet.home_lock import home_lock
from hazardnet.intake.inbox import INGEST_LOCK, ensure_inbox, leftovers, scan_inbox
from hazardnet.settings import Settings

if TYPE_CHECKING:
    from hazardnet.store import Store

_CODE_DIGEST: str | None = None
CODE_PACKAGES = ("hazardnet", "schemas")  # every module that can shape the consolidated register lives here


def code_roots() -> list[Path]:
    """The folders of CODE_PACKAGES, found without importing them."""
    from importlib.util import find_spec

    return [Path(next(iter(find_spec(name).submodule_search_locations))) for name in CODE_PACKAGES]


def code_files(roots: list[Path]) -> list[tuple[str, Path]]:
    """(name relative to its package's parent, path) of every .py file under `roots`, sorted."""
    return sorted((f"{root.name}/{p.relative_to(root).as_posix()}", p) for root in roots for p in root.rglob("*.py"))


def code_digest(roots: list[Path]) -> str:
    """The digest of xlsxwriter's version and every .py file under `roots` (names and bytes). All of them,
    rather than a list of the modules the consolidated writer imports that someone must keep: a module
    that does not shape the register only costs one rebuild after an upgrade."""
    from importlib.metadata import version

    h = hashlib.sha256(version("xlsxwriter").encode())
    for name, path in code_files(roots):
        h.update(f"\0{name}\0".encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _code_digest() -> str:
    """The source of everything that shapes the workbook: a new layout means a new workbook. The files
    are read without importing them (importing xlsxwriter and pandas would cost more than the check)."""
    global _CODE_DIGEST
    if _CODE_DIGEST is None:
        _CODE_DIGEST = code_digest(code_roots())
    return _CODE_DIGEST


def inputs_fingerprint(store: Store | _SqliteProbe, settings: Settings, as_of: dt.date) -> str:
    """What the consolidated register for `as_of` is made of: the accepted submissions up to that day,
    registers and commitment tables (stored rows never change), the date, the title and county order, and the code. Equal
    fingerprints mean an equal workbook, without reading a single hazard row."""
    basis = {"as_of": as_of.isoformat(), "prefecture": settings.prefecture, "counties": list(settings.counties),
             "submissions": store.accepted_through(as_of), "code": _code_digest()}
    return hashlib.sha256(json.dumps(basis, ensure_ascii=False).encode()).hexdigest()


# ---- "nothing new": the answer of `hazardnet ingest` without a flow run ------------------------------
def _sqlite_file(url: str) -> str | None:
    """The database file of a SQLite URL as SQLAlchemy reads it (sqlite:///relative.db,
    sqlite:////absolute.db, sqlite+pysqlite:///…; "" for sqlite:// in memory); None for any other database."""
    parts = urlsplit(url)
    if parts.scheme.split("+")[0] != "sqlite":
        return None
    return unquote(parts.path[1:]) if parts.path.startswith("/") else unquote(parts.path)


def _store_missing(url: str) -> bool:
    """True for a SQLite store whose file is not there yet (or that lives in memory): a run creates it.
    A server database cannot be told apart without connecting; the fingerprint check covers it."""
    database = _sqlite_file(url)
    if database is None:
        return False
    return database in ("", ":memory:") or not Path(database).is_file()


class _SqliteProbe:
    """The answers of `Store.unfinalized`, `Store.output_hash` and `Store.accepted_through` from a SQLite
    store file (only read), in the SQL SQLAlchemy sends for them (its Boolean is 0/1, its Date ISO text);
    tests/test_ingest_shortcut.py checks that both give the same answers."""

    def __init__(self, database: str):
        self.conn = sqlite3.connect(database, timeout=30)  # not mode=ro: a WAL store's reader may write -shm

    def unfinalized(self) -> list[dict]:
        rows = self.conn.execute("SELECT id, county, file_name, sha256, kept_at FROM submissions "
                                 "WHERE finalized = 0 ORDER BY id").fetchall()
        return [dict(zip(("id", "county", "file_name", "sha256", "kept_at"), r)) for r in rows]

    def output_hash(self, path: str) -> str | None:
        row = self.conn.execute("SELECT content_hash FROM outputs WHERE path = ?", (path,)).fetchone()
        return row[0] if row else None

    def accepted_through(self, as_of: dt.date) -> list[int]:
        return [r[0] for r in self.conn.execute("SELECT id FROM submissions WHERE outcome IN ('accepted', "
                                                "'commitments') AND as_of <= ? ORDER BY id", (as_of.isoformat(),))]

    def dispose(self) -> None:
        self.conn.close()


def _read_store(url: str) -> Store | _SqliteProbe:
    database = _sqlite_file(url)
    if database:
        return _SqliteProbe(database)
    from hazardnet.store import Store

    return Store(url)


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
            store = _read_store(settings.database_url)
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
