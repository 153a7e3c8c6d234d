"""What is waiting in the inbox and which rejected registers have not been resubmitted (no Prefect here)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .inbox_scan import REPORT_SUFFIX, is_settled, scan_inbox
from .settings import Settings
from .store import Store


@dataclass
class WaitingFile:
    county: str
    name: str
    settled: bool  # False: still being written, left alone until it settles


def waiting_files(settings: Settings) -> list[WaitingFile]:
    """Every candidate file in inbox/<county>/, settled or not: exactly what an ingest run considers."""
    return [WaitingFile(f.county, f.path.name, f.path.is_symlink() or is_settled(f.path, settings.settle_seconds))
            for f in scan_inbox(settings, settled_only=False)]


def pending_rejections(store: Store) -> pd.DataFrame:
    """Per county, the rejected submissions since its last accepted one (county, file_name, received_at,
    problems): the registers a county still owes a corrected version of."""
    subs = store.submissions_frame()
    if subs.empty:
        return pd.DataFrame(columns=["county", "file_name", "received_at", "problems", "kept_at"])
    rows = []
    for county, group in subs.groupby("county", sort=False):
        accepted = group[group.outcome == "accepted"]
        last_ok = accepted.id.max() if len(accepted) else -1
        for sub in group[(group.outcome == "rejected") & (group.id > last_ok)].itertuples():
            problems = sum(1 for f in json.loads(sub.findings) if f.get("level", "error") == "error")
            local = pd.Timestamp(sub.received_at).tz_localize("UTC").tz_convert("Asia/Shanghai")
            rows.append({"county": county, "file_name": sub.file_name, "received_at": local.strftime("%Y-%m-%d %H:%M"),
                         "problems": problems, "kept_at": sub.kept_at,
                         "report": str(Path(sub.kept_at).with_name(Path(sub.kept_at).stem + REPORT_SUFFIX))
                         if sub.kept_at else ""})
    return pd.DataFrame(rows, columns=["county", "file_name", "received_at", "problems", "kept_at", "report"])


def last_submissions(store: Store, settings: Settings) -> list[dict]:
    """For each configured county: its last accepted register and when (None when it never submitted)."""
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
