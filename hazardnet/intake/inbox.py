"""What waits in the inbox — told without pandas, Prefect or a workbook library (pandas is imported only by
the status views at the end), so `hazardnet ingest` with nothing new answers in a fraction of a second
(see `hazardnet.publish.fingerprint.up_to_date_register`). The intake itself lives in `transaction`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hazardnet.settings import Settings

if TYPE_CHECKING:
    import pandas as pd

    from hazardnet.store import Store

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


def settled_files(settings: Settings, *, on_wait=None, sleep=time.sleep) -> tuple[list[InboxFile], list[InboxFile]]:
    """The candidate files of inbox/<folder>/ once those still being written have settled: (settled, still
    being written). Waits at most `settings.settle_wait_seconds` for a file changed less than `settle_seconds`
    ago (a register still being copied in), so a run started right after a copy takes the file; what has not
    settled by then is returned second, for the run to name and leave for later. `on_wait(files)` is called
    once, when the waiting starts."""
    deadline = time.monotonic() + max(0.0, settings.settle_wait_seconds)
    told = False
    while True:
        files = scan_inbox(settings, settled_only=False)
        moving = [f for f in files if not (f.path.is_symlink() or is_settled(f.path, settings.settle_seconds))]
        left = deadline - time.monotonic()
        if not moving or left <= 0:
            return [f for f in files if f not in moving], moving
        if on_wait is not None and not told:
            on_wait(moving)
            told = True
        sleep(min(left, max(0.05, min(0.5, settings.settle_seconds / 4))))


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


# ---- what is waiting, and which rejections were not resubmitted (`hazardnet status`) ---------------------
@dataclass
class WaitingFile:
    county: str
    name: str
    settled: bool  # False: still being written, left alone until it settles


def waiting_files(settings: Settings) -> list[WaitingFile]:
    """Every candidate file in inbox/<county>/, settled or not: exactly what an ingest run considers."""
    return [WaitingFile(f.county, f.path.name, f.path.is_symlink() or is_settled(f.path, settings.settle_seconds))
            for f in scan_inbox(settings, settled_only=False)]


def pending_rejections(store: Store, timezone: str) -> pd.DataFrame:
    """Per county, the rejected submissions since its last accepted one (county, file_name, received_at on the
    wall clock of `timezone`, problems): the registers a county still owes a corrected version of."""
    import pandas as pd

    subs = store.submissions_frame()
    if subs.empty:
        return pd.DataFrame(columns=["county", "file_name", "received_at", "problems", "kept_at"])
    rows = []
    for county, group in subs.groupby("county", sort=False):
        accepted = group[group.outcome == "accepted"]
        last_ok = accepted.id.max() if len(accepted) else -1
        for sub in group[(group.outcome == "rejected") & (group.id > last_ok)].itertuples():
            problems = sum(1 for f in json.loads(sub.findings) if f.get("level", "error") == "error")
            local = pd.Timestamp(sub.received_at).tz_localize("UTC").tz_convert(timezone)
            rows.append({"county": county, "file_name": sub.file_name, "received_at": local.strftime("%Y-%m-%d %H:%M"),
                         "problems": problems, "kept_at": sub.kept_at,
                         "report": str(Path(sub.kept_at).with_name(Path(sub.kept_at).stem + REPORT_SUFFIX))
                         if sub.kept_at else ""})
    return pd.DataFrame(rows, columns=["county", "file_name", "received_at", "problems", "kept_at", "report"])


def last_submissions(store: Store, settings: Settings) -> list[dict]:
    """For each configured county: its last accepted register and when (None when it never submitted)."""
    import pandas as pd

    subs = store.submissions_frame()
    out = []
    for county in settings.counties:
        mine = subs[(subs.county == county) & (subs.outcome == "accepted")] if len(subs) else subs
        last = mine.iloc[-1] if len(mine) else None
        out.append({"county": county,
                    "file_name": None if last is None else last.file_name,
                    "as_of": None if last is None else pd.Timestamp(last.as_of).date(),
                    "rows": 0 if last is None else int(last.rows)})
    return out
