"""The consolidated register: every hazard of every county, current version, with derived columns."""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from hazardnet import rules
from hazardnet.failpoints import checkpoint
from hazardnet.publish.fingerprint import inputs_fingerprint
from hazardnet.rules import STAGE_FIELDS, stage_and_days
from hazardnet.settings import Settings
from hazardnet.store import Store
from hazardnet.xlsx.fast_table import write_table_fast
from hazardnet.xlsx.style import Formats, atomic_workbook
from hazardnet.xlsx.text_width import text_width
from schemas.headers import FIELDS

if TYPE_CHECKING:  # the ingest writes the register from plain rows (sheet_rows): no pandas in its process
    import pandas as pd

DERIVED_HEADERS = {"stage": "阶段", "days_in_stage": "阶段天数", "overdue": "是否逾期", "days_overdue": "逾期天数",
                   "days_open": "存续天数", "absent": "未在最新台账中"}
REGISTER_FIELDS = [f for f in FIELDS if f.name != "county"]
PHOTO_HEADER = "照片"  # how many photos the hazard has; the photos are under outbox/照片/<县(市)>/
PHOTO_FOLDER = "照片"
CONSOLIDATED_HEADERS = ["县(市)", *[f.header for f in REGISTER_FIELDS], *DERIVED_HEADERS.values(), PHOTO_HEADER]
# Text in the shared-string table, each distinct text once (as Excel itself saves): on 90,000 rows the
# sheet shrinks from 148 to 86 MB of XML, the workbook from 18.9 to 10.3 MB, writing it from 4.4 to 3.3 s
SHARED_STRINGS = True
WRAP_FIELDS = {"description", "consequence", "suggestion", "contingency", "remarks", "customer_name"}


def current_register(store: Store, settings: Settings, as_of: dt.date) -> pd.DataFrame:
    """The register as of `as_of`, each hazard at its current deadline (a meeting commitment included; a blank
    整改期限 keeps the last date given), sorted
    by configured county order, customer and hazard id."""
    df = rules.with_current_deadlines(store.register_as_of(as_of), store.deadline_histories(as_of, differing_only=True))
    df = rules.with_derived(df, as_of) if len(df) else df.assign(overdue=[], days_overdue=[], days_open=[], absent=[],
                                                                 stage=[], days_in_stage=[])
    counts = photo_counts(store, as_of)
    df["photos"] = [counts.get(k) for k in zip(df["county"], df["hazard_id"])] if len(df) else []
    order = {c: i for i, c in enumerate(settings.counties)}
    if len(df):
        df = (df.assign(_c=df["county"].map(order).fillna(len(order)))
              .sort_values(["_c", "customer_id", "hazard_id"], kind="stable").drop(columns="_c")
              .reset_index(drop=True))
    return df


def photo_counts(store: Store, as_of: dt.date, counties: Iterable[str] | None = None) -> dict[tuple[str, str], int]:
    """(county, hazard_id) -> how many photos the hazard has as of `as_of` (hazards without any: absent)."""
    return {key: len(shas) for key, shas in store.photo_index(as_of, counties).items()}


SHEET_COLUMNS = ["county", *[f.name for f in REGISTER_FIELDS]]  # hazard_rows columns, in sheet order


def sheet_rows(store: Store, settings: Settings, as_of: dt.date,
               counties: Iterable[str] | None = None) -> tuple[list[list], list[bool]]:
    """The consolidated sheet's rows and which of them are overdue, straight from the store without pandas.

    The same rows, values and order as `current_register`: configured county order (other counties after
    them), then customer id (blank ones last) and hazard id; each hazard at its current deadline (a meeting
    commitment included, and the last date given when the latest register left it blank, its 备注 saying so);
    derived columns by hazardnet.rules. With `counties`, only theirs (`register_stream` writes the sheet county by
    county)."""
    rows = store.current_rows(as_of, SHEET_COLUMNS, counties)
    counts = photo_counts(store, as_of, counties)
    histories = store.deadline_histories(as_of, counties, differing_only=True)
    at = {name: i for i, name in enumerate(SHEET_COLUMNS)}
    i_status, i_found, i_deadline, i_completed = (at["status"], at["found_date"], at["deadline"],
                                                  at["completed_date"])
    if histories:
        i_remarks = at["remarks"]
        for n, r in enumerate(rows):
            history = histories.get((r[0], r[at["hazard_id"]]))
            if history is not None:
                r = rows[n] = list(r)
                note = rules.deadline_note(r[i_deadline], history)
                r[i_deadline] = rules.current_deadline(r[i_deadline], history)
                if note:
                    r[i_remarks] = "；".join(t for t in (r[i_remarks], note) if t)
    i_customer, i_hazard = at["customer_id"], at["hazard_id"]
    stage_at = [(name, at[name]) for name in STAGE_FIELDS]
    order = {c: i for i, c in enumerate(settings.counties)}
    unknown = len(order)
    # counties outside the configuration keep the store's order (county, hazard id), as the stable sort did
    rows.sort(key=lambda r: (order.get(r[0], unknown), r[0] if r[0] not in order else "",
                             r[i_customer] is None, r[i_customer] or "", r[i_hazard]))
    out: list[list] = []
    overdue_flags: list[bool] = []
    for r in rows:
        status, found, deadline, completed = r[i_status], r[i_found], r[i_deadline], r[i_completed]
        row = list(r[:-1])
        facts = {name: r[i] for name, i in stage_at}
        again = rules.reopened_on(facts, as_of)
        overdue = rules.is_overdue(status, deadline, as_of, again)
        row += [*stage_and_days(facts, as_of), "是" if overdue else "否",
                rules.days_overdue(status, deadline, as_of, again),
                rules.days_open(status, found, completed, as_of, again),
                "是" if rules.is_absent(r[-1]) else "否", counts.get((r[0], r[i_hazard]))]
        out.append(row)
        overdue_flags.append(overdue)
    return out, overdue_flags


def column_widths() -> list[float]:
    widths = [8.0]
    for f in REGISTER_FIELDS:
        widths.append(max(f.width, min(text_width(f.header) + 2, 40)))
    widths += [8, 8, 8, 8, 8, 10, 6]
    return widths


def write_sheet_workbook(path: Path, rows: Iterable[list], overdue: Iterable[bool], *, title: str,
                         constant_memory: bool = True) -> Path:
    """Write rows from `sheet_rows` as the print-ready workbook with sheet 隐患台账 (`rows` may be a generator,
    `overdue` then an iterator that has each row's flag when the row is taken)."""
    wrap_cols = [i for i, n in enumerate(SHEET_COLUMNS) if n in WRAP_FIELDS]
    with atomic_workbook(path, constant_memory=constant_memory) as wb:
        fmts = Formats(wb)
        ws = wb.add_worksheet("隐患台账")
        write_table_fast(wb, ws, fmts, CONSOLIDATED_HEADERS, rows, widths=column_widths(), wrap_cols=wrap_cols,
                         highlight=overdue if rows else None, page_header=title, shared_strings=SHARED_STRINGS)
    return path


class WrittenRegister(Protocol):
    """The register written elsewhere while the ingest ran (`register_stream.RegisterStream`)."""

    def place(self, path: Path) -> bool:
        """Put the finished workbook at `path`; False when there is none (then it is written here)."""

    def discard(self) -> None:
        """The register is unchanged: the workbook written elsewhere is not wanted."""


def register_title(settings: Settings, as_of: dt.date) -> str:
    return f"{settings.prefecture}电力安全隐患台账（汇总） 截至{as_of:%Y年%m月%d日}"


def write_consolidated_register(store: Store, settings: Settings, as_of: dt.date,
                                written: WrittenRegister | None = None) -> tuple[Path, bool]:
    """Rewrite the consolidated register in outbox/ if its content changed. Returns (path, rewritten).

    Whether it changed is told by `inputs_fingerprint` (recorded as the output's hash), so a run with
    nothing new reads no hazard rows and writes nothing. `written`: the same workbook, written while the
    ingest ran (`register_stream`), put in place instead of writing it here (here after all if it failed)."""
    checkpoint("before_consolidated")
    path = settings.consolidated_path
    digest = inputs_fingerprint(store, settings, as_of)
    if path.exists() and store.output_hash(str(path)) == digest:
        if written is not None:
            written.discard()
        return path, False
    if written is None or not written.place(path):
        rows, overdue = sheet_rows(store, settings, as_of)
        write_sheet_workbook(path, rows, overdue, title=register_title(settings, as_of))
    checkpoint("after_consolidated_rename")
    write_photo_files(store, settings, as_of)
    store.record_output(str(path), digest)
    return path, True


_UNSAFE = re.compile(r'[\x00-\x1f\\/:*?"<>|]')


def photo_file_name(hazard_id: str, n: int) -> str:
    """`<隐患编号>_<n>.jpg` (n from 1), with characters no file name may hold replaced by _."""
    stem = _UNSAFE.sub("_", str(hazard_id)).strip(" .") or "_"
    return f"{stem[:120]}_{n}.jpg"


def write_photo_files(store: Store, settings: Settings, as_of: dt.date) -> int:
    """Put every hazard's photos under outbox/照片/<县(市)>/<隐患编号>_<n>.jpg (n in the order they came);
    a file already holding the right bytes is left alone. Returns how many files were written."""
    index = store.photo_index(as_of)
    folder = settings.outbox / PHOTO_FOLDER
    wanted: dict[Path, str] = {}
    for (county, hazard), shas in index.items():
        for n, sha in enumerate(shas, start=1):
            wanted[folder / _UNSAFE.sub("_", county) / photo_file_name(hazard, n)] = sha
    sizes = store.photo_sizes(set(wanted.values()))
    todo = {p: sha for p, sha in wanted.items() if not p.is_file() or p.stat().st_size != sizes.get(sha)}
    written = 0
    for chunk in _chunks(list(todo.items()), 200):  # a few hundred photos in memory at a time
        data = store.photo_data(sha for _p, sha in chunk)
        for p, sha in chunk:
            if sha not in data:
                continue
            p.parent.mkdir(parents=True, exist_ok=True)
            tmp = p.with_name(f".{p.name}.tmp")
            tmp.write_bytes(data[sha])
            os.replace(tmp, p)
            written += 1
    return written


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]
