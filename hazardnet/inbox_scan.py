"""What waits in the inbox, and whether an ingest run would have anything to do — told without pandas,
Prefect or a workbook library, so `hazardnet ingest` with nothing new answers in a fraction of a second.

`hazardnet.intake` re-exports the scan functions; the intake itself (and its recovery) lives there.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path

from .settings import Settings

REJECTED_DIR = "rejected"
REPORT_SUFFIX = "_问题报告.xlsx"
ASIDE_PREFIX = ".hazardnet-removing-"  # an original renamed aside while it is checked and deleted
INGEST_LOCK = "hazardnet"  # the home lock an ingest run holds (intake.ingest_lock)
STAGING_DIR = ".staging"  # private snapshots of the files being ingested (Intake.staging)


@dataclass(frozen=True)
class InboxFile:
    """A settled file waiting in a county folder."""

    path: Path
    county: str  # the folder it was dropped in


def is_ignorable(name: str) -> bool:
    """Excel/WPS lock files, hidden files and temporary copies are never submissions."""
    return (name.startswith(("~$", ".~lock.", ".", "~")) or name.endswith(("#", ".tmp", ".crdownload", ".part"))
            or name == "Thumbs.db" or name == "desktop.ini")


def is_settled(path: Path, settle_seconds: float, now: float | None = None) -> bool:
    """A file is settled when it has not changed for `settle_seconds` (so it is not still being copied)."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return False
    return ((now or time.time()) - st.st_mtime) >= settle_seconds


def scan_inbox(settings: Settings, *, settled_only: bool = True) -> list[InboxFile]:
    """Every settled candidate file in inbox/<folder>/ (folders named for unconfigured counties included:
    their files are rejected with that reason). Files directly in inbox/ (the 通讯录) are not registers.
    With `settled_only=False`, also the candidates still being written (which a run leaves for later)."""
    found: list[InboxFile] = []
    if not settings.inbox.is_dir():
        return found
    for folder in sorted(p for p in settings.inbox.iterdir() if p.is_dir() and not p.is_symlink()):
        if is_ignorable(folder.name):
            continue
        for entry in sorted(folder.iterdir(), key=lambda p: p.name):
            if is_ignorable(entry.name) or (entry.is_dir() and not entry.is_symlink()):
                continue
            if entry.is_symlink() or entry.is_file():
                if entry.is_symlink() or not settled_only or is_settled(entry, settings.settle_seconds):
                    found.append(InboxFile(entry, folder.name))
    return found


def ensure_inbox(settings: Settings) -> None:
    """Create inbox/<county>/ for every configured county, and outbox/."""
    for county in settings.counties:
        (settings.inbox / county).mkdir(parents=True, exist_ok=True)
    settings.outbox.mkdir(parents=True, exist_ok=True)


def leftovers(settings: Settings) -> list[Path]:
    """What a killed run left on disk for `Intake.recover` to finish: staging snapshots, half-written
    error reports, originals set aside while being taken out of the inbox (the same globs it uses)."""
    found = list((settings.home / STAGING_DIR).glob("*.part"))
    if settings.inbox.is_dir():
        found += settings.inbox.glob(f"*/{REJECTED_DIR}/.tmp-*")
        found += settings.inbox.glob(f"*/{ASIDE_PREFIX}*")
    return found


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
    from .home_lock import home_lock
    from .register_fingerprint import inputs_fingerprint
    from .store import Store

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
