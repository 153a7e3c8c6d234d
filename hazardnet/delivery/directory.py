"""The recipient directory (通讯录): read it, judge it, and keep the last valid one in the store.

The directory is a spreadsheet kept by hand (config/通讯录.xlsx, `HAZARDNET_DIRECTORY_PATH`; never in the inbox the
counties write to). A problem in one row never stops the
others: a row with an error is left out and reported at its cell (and in outbox/通讯录问题报告.xlsx) while
every valid row is served. Only a directory that cannot be used at all (unreadable, no header, no valid row)
falls back to the last version that was accepted. Mobile numbers are stored normalized (11 digits); a
number that is not a mainland mobile is a warning at its cell and that row simply gets no SMS.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.errors as pe
import sqlalchemy as sa

from hazardnet.intake.findings import ERROR, WARNING, Finding, cell_ref, file_finding
from hazardnet.settings import Settings
from hazardnet.store import Store, directory_versions
from hazardnet.xlsx.style import Formats, atomic_workbook, setup_print, write_cell
from schemas.directory import (
    DIRECTORY_ALIASES,
    DIRECTORY_CHECK_MESSAGES,
    DIRECTORY_FRAME_CHECK_FIELDS,
    DIRECTORY_HEADER_OF,
    DIRECTORY_WARNING_CHECKS,
    PARTY_SYNONYMS,
    blank,
    directory_schema,
    is_whole_prefecture,
    split_emails,
    split_mobiles,
)
from schemas.directory_headers import DIRECTORY_FIELD_NAMES
from schemas.headers import normalize_label
from schemas.vocab import PARTY_CUSTOMER, PARTY_TYPES, WHOLE_PREFECTURE

HEADER_SCAN_ROWS = 10
MIN_HEADER_MATCHES = 3
REPORT_NAME = "通讯录问题报告.xlsx"

@dataclass(frozen=True)
class DirectoryEntry:
    """One valid row of the directory. `county` is None for prefecture-level units (全州)."""

    party: str
    county: str | None
    customer_id: str | None
    org_name: str
    contact: str | None
    addresses: tuple[str, ...]
    mobile: str | None = None  # the normalized mainland mobiles, "；"-joined (None: no SMS)
    row: int = 0  # 1-based Excel row it came from
    mobiles: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> DirectoryEntry:
        mobiles = d.get("mobiles")
        if mobiles is None:  # stored before SMS existed: the cell's text as written
            mobiles = split_mobiles(d.get("mobile"))[0]
        return cls(**{**d, "addresses": tuple(d.get("addresses") or ()), "mobiles": tuple(mobiles),
                      "mobile": "；".join(mobiles) or None})


@dataclass(frozen=True)
class Recipient:
    """Who receives one scoped bulletin: one organisation (a customer, a county authority or supply
    company, or a prefecture-level unit) with every address the directory gives for it."""

    party: str
    county: str | None  # None: the whole prefecture
    customer_id: str | None
    org_name: str
    contacts: tuple[str, ...]
    addresses: tuple[str, ...]
    mobiles: tuple[str, ...] = ()  # normalized mainland mobiles (11 digits) for SMS

    @property
    def key(self) -> str:
        """Stable identity for the delivery ledger."""
        who = self.customer_id if self.party == PARTY_CUSTOMER else self.org_name
        return f"{self.party}|{self.county or WHOLE_PREFECTURE}|{who}"

    @property
    def county_label(self) -> str:
        return self.county or WHOLE_PREFECTURE

    def as_json(self) -> dict:
        return {"recipient": self.org_name, "party": self.party, "county": self.county_label,
                "customer_id": self.customer_id, "addresses": list(self.addresses), "mobiles": list(self.mobiles)}


@dataclass
class DirectoryResult:
    """What the bulletin works with: the recipients in use and what is wrong with the file on disk."""

    recipients: list[Recipient]
    findings: list[Finding] = field(default_factory=list)
    source: str = "none"  # file: the file on disk was accepted now | store: the last valid one | none
    file_name: str | None = None
    loaded_at: dt.datetime | None = None
    report: str | None = None  # problem report of a directory file with errors
    left_out: list[int] = field(default_factory=list)  # Excel rows of the file left out for their errors

    @property
    def usable(self) -> bool:
        return self.source != "none"


_NFKC_FIELDS = ("party_type", "customer_id", "email", "mobile")  # names keep their full-width brackets


def _clean(v: Any, fold: bool = False) -> Any:
    """Trimmed text, None for blank cells; `fold` applies NFKC (full-width letters, digits and @ → ASCII)."""
    if v is None or (isinstance(v, float) and v != v):
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    s = unicodedata.normalize("NFKC", str(v)) if fold else str(v)
    s = re.sub(r"[\u200b\ufeff]", "", s).strip()
    return s or None


def _alias_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for name, aliases in DIRECTORY_ALIASES.items():
        for a in (DIRECTORY_HEADER_OF[name], *aliases):
            index.setdefault(normalize_label(a), name)
    return index


_HEADER_INDEX = _alias_index()


def _header_columns(cells: list[Any]) -> dict[str, int]:
    mapped: dict[str, int] = {}
    for c, v in enumerate(cells):
        if isinstance(v, str):
            name = _HEADER_INDEX.get(normalize_label(v))
            if name and name not in mapped:
                mapped[name] = c
    return mapped


@dataclass
class DirectorySheet:
    """The directory as read from a sheet: `frame` has DIRECTORY_FIELD_NAMES plus `_row` (0-based)."""

    sheet: str
    columns: dict[str, int]
    frame: pd.DataFrame
    raw: dict[tuple[int, int], Any]
    grid: Any = None  # the SheetGrid, for the problem report


def parse_directory(book) -> DirectorySheet | Finding:
    """Find the directory sheet and its header row in a WorkbookGrid and normalize every row."""
    best: tuple[int, Any, int, dict[str, int]] | None = None
    for sheet in book.sheets:
        for r, cells in enumerate(sheet.rows[:HEADER_SCAN_ROWS]):
            cols = _header_columns(cells)
            score = len(cols) - (100 if sheet.hidden else 0)
            if len(cols) >= MIN_HEADER_MATCHES and (best is None or score > best[0]):
                best = (score, sheet, r, cols)
    if best is None:
        return file_finding("未找到通讯录表头：第一行应为 " + "、".join(DIRECTORY_HEADER_OF.values()) + "。")
    _, sheet, header_row, cols = best
    missing = [DIRECTORY_HEADER_OF[n] for n in ("party_type", "org_name", "email") if n not in cols]
    if missing:
        return file_finding(f"通讯录缺少必需的列：{'、'.join(missing)}。", sheet=sheet.name)
    records, raw = [], {}
    for r in range(header_row + 1, len(sheet.rows)):
        cells = sheet.rows[r]
        values = {n: (cells[c] if c < len(cells) else None) for n, c in cols.items()}
        if all(blank(v) for v in values.values()):
            continue
        for n, c in cols.items():
            raw[(r, c)] = values[n]
        rec = {n: _clean(values.get(n), n in _NFKC_FIELDS) for n in DIRECTORY_FIELD_NAMES}
        if rec["party_type"] is not None:
            rec["party_type"] = PARTY_SYNONYMS.get(re.sub(r"\s+", "", rec["party_type"]), rec["party_type"])
        rec["_row"] = r
        records.append(rec)
    frame = pd.DataFrame(records, columns=[*DIRECTORY_FIELD_NAMES, "_row"], dtype=object)
    return DirectorySheet(sheet.name, cols, frame, raw, sheet)


def _show(v: Any) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def validate_directory(parsed: DirectorySheet, settings: Settings,
                       known_customers: Mapping[str, set[str]] | None) -> list[Finding]:
    """Every rule of the directory checked at once (lazy); one Finding per failing cell."""
    frame = parsed.frame.drop(columns=["_row"]).reset_index(drop=True)
    findings: dict[tuple[int, str, str], Finding] = {}
    if frame.empty:
        return [file_finding("通讯录中没有任何收件人（表头以下为空）。", sheet=parsed.sheet)]
    schema = directory_schema(settings.counties, known_customers, settings.prefecture)
    try:
        schema.validate(frame, lazy=True)
        cases = None
    except pe.SchemaErrors as exc:
        cases = exc.failure_cases
    for case in ([] if cases is None else cases.itertuples(index=False)):
        check = str(case.check)
        idx = case.index
        if idx is None or (isinstance(idx, float) and idx != idx):
            continue
        idx = int(idx)
        name = DIRECTORY_FRAME_CHECK_FIELDS.get(check, case.column)
        if name not in DIRECTORY_HEADER_OF:
            continue
        key = (idx, name, check)
        if key in findings:
            continue
        value = frame.at[idx, name]
        grid_row = int(parsed.frame.at[idx, "_row"])
        col = parsed.columns.get(name)
        template = DIRECTORY_CHECK_MESSAGES.get(check, f"不符合规则 {check}")
        if check == "bad_email":
            bad = [a for a in split_emails(value) if not _email_ok(a)]
            value_shown = "、".join(bad) or _show(value)
        elif check == "bad_mobile":
            value_shown = "、".join(split_mobiles(value)[1]) or _show(value)
        else:
            value_shown = _show(value)
        message = template.format(value=value_shown, counties="、".join(settings.counties),
                                  county=frame.at[idx, "county"] or "")
        findings[key] = Finding(
            sheet=parsed.sheet,
            cell=cell_ref(grid_row, col) if col is not None else f"第{grid_row + 1}行",
            field=DIRECTORY_HEADER_OF[name],
            message=message,
            value=_show(parsed.raw.get((grid_row, col), value) if col is not None else value),
            level=WARNING if check in DIRECTORY_WARNING_CHECKS else ERROR,
            row=grid_row + 1,
            col=(col + 1) if col is not None else 0,
        )
    out = sorted(findings.values(), key=lambda f: (f.row, f.col, f.message))
    if known_customers is not None:
        unchecked = sorted({c for c in frame.loc[frame["party_type"] == PARTY_CUSTOMER, "county"].dropna()
                            if c in settings.counties and c not in known_customers})
        for county in unchecked:
            out.append(file_finding(f"{county}尚无已接收的隐患台账，无法核对该县(市)用电客户的户号。",
                                    sheet=parsed.sheet, level=WARNING))
    return out


def _email_ok(address: str) -> bool:
    from schemas.directory import valid_email

    return valid_email(address)


def entries_of(parsed: DirectorySheet, settings: Settings) -> list[DirectoryEntry]:
    """The rows of a valid directory as entries (county None for prefecture-level units)."""
    out = []
    for rec in parsed.frame.to_dict("records"):
        county = None if is_whole_prefecture(rec["county"], settings.prefecture) else rec["county"]
        mobiles = split_mobiles(rec["mobile"])[0]
        out.append(DirectoryEntry(party=rec["party_type"], county=county, customer_id=rec["customer_id"],
                                  org_name=rec["org_name"], contact=rec["contact"],
                                  addresses=split_emails(rec["email"]), mobile="；".join(mobiles) or None,
                                  row=int(rec["_row"]) + 1, mobiles=mobiles))
    return out


def recipients_of(entries: list[DirectoryEntry], settings: Settings | None = None) -> list[Recipient]:
    """Merge rows naming the same organisation (several contacts, several addresses) into one recipient,
    ordered: prefecture-level units, then county by county (authority, supply company, customers)."""
    merged: dict[str, dict[str, Any]] = {}
    for e in entries:
        probe = Recipient(e.party, e.county, e.customer_id, e.org_name, (), ())
        slot = merged.setdefault(probe.key, {"first": e, "contacts": [], "addresses": {}, "mobiles": {}})
        if e.contact and e.contact not in slot["contacts"]:
            slot["contacts"].append(e.contact)
        for a in e.addresses:
            slot["addresses"].setdefault(a.lower(), a)
        for m in e.mobiles:
            slot["mobiles"].setdefault(m)
    order = {c: i for i, c in enumerate(settings.counties)} if settings else {}
    party_order = {p: i for i, p in enumerate(PARTY_TYPES)}
    out = [Recipient(s["first"].party, s["first"].county, s["first"].customer_id, s["first"].org_name,
                     tuple(s["contacts"]), tuple(s["addresses"].values()), tuple(s["mobiles"]))
           for s in merged.values()]
    return sorted(out, key=lambda r: (r.county is not None, order.get(r.county, len(order)),
                                      r.party == PARTY_CUSTOMER, party_order.get(r.party, 9),
                                      r.customer_id or "", r.org_name))


def known_customers_of(store: Store, as_of: dt.date) -> dict[str, set[str]]:
    """户号 of every county that has an accepted register, as the store stood on `as_of`."""
    reg = store.register_as_of(as_of)
    if reg.empty:
        return {}
    return {county: set(ids.dropna().astype(str)) for county, ids in reg.groupby("county")["customer_id"]}


# ---- the store keeps the last valid directory -------------------------------------------------
class DirectoryStore:
    """Versions of the directory that passed validation; the newest is the one in use."""

    def __init__(self, store: Store):
        self.engine = store.engine  # the table comes with the store (hazardnet.store)

    def latest(self) -> tuple[list[DirectoryEntry], dict] | None:
        q = sa.select(directory_versions).order_by(directory_versions.c.id.desc()).limit(1)
        with self.engine.connect() as conn:
            row = conn.execute(q).mappings().first()
        if row is None:
            return None
        return [DirectoryEntry.from_json(d) for d in json.loads(row["entries"])], dict(row)

    def save(self, entries: list[DirectoryEntry], sha256: str, file_name: str) -> None:
        """Record a valid directory unless the newest version already has this content."""
        current = self.latest()
        if current is not None and current[1]["sha256"] == sha256:
            return
        with self.engine.begin() as conn:
            conn.execute(directory_versions.insert().values(
                sha256=sha256, file_name=file_name, loaded_at=dt.datetime.now(),
                entries=json.dumps([asdict(e) for e in entries], ensure_ascii=False)))


def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def read_directory_file(path: Path, settings: Settings,
                        known_customers: Mapping[str, set[str]] | None) -> tuple[DirectorySheet | None, list[Finding]]:
    """Read and validate one directory workbook. Returns (parsed sheet or None, findings)."""
    from hazardnet.intake.reader import UnreadableWorkbook, read_workbook

    try:
        book = read_workbook(path, settings)
    except UnreadableWorkbook as exc:
        return None, [file_finding(exc.reason)]
    parsed = parse_directory(book)
    if isinstance(parsed, Finding):
        return None, [parsed]
    return parsed, validate_directory(parsed, settings, known_customers)


def load_directory(settings: Settings, store: Store, as_of: dt.date, path: Path | None = None, *,
                   transport=None) -> DirectoryResult:
    """The directory to use now: the valid rows of the file on disk (they then become the stored version;
    rows with errors are left out and reported), otherwise — the file unreadable, without a header or without
    one valid row — the last valid version in the store, with the file's problems as findings. A valid file
    that changes who receives what is used only once the change was mailed to the previous version's
    prefecture supply company (`directory_change`; `transport`, default the settings' mail transport);
    until then the previous version stays in use."""
    path = Path(path or settings.directory_file)
    versions = DirectoryStore(store)
    findings: list[Finding] = []
    report = None
    if path.is_file():
        sha = _sha256(path)
        parsed, findings = read_directory_file(path, settings, known_customers_of(store, as_of))
        file_errors = [f for f in findings if f.level == ERROR and not f.row]
        bad_rows = sorted({f.row for f in findings if f.level == ERROR and f.row})
        entries = [e for e in entries_of(parsed, settings) if e.row not in bad_rows] \
            if parsed is not None and not file_errors else []
        held = bool(entries) and not _change_announced(settings, versions, entries, sha, path.name,
                                                       transport, findings)
        if entries and not held:
            versions.save(entries, sha, path.name)
            report_path = settings.outbox / REPORT_NAME
            if bad_rows:
                findings.append(file_finding(
                    f"通讯录中 {len(bad_rows)} 行有错误，未予采用（第 {'、'.join(map(str, bad_rows))} 行），"
                    f"其余 {len(entries)} 行照常使用；请按问题报告修改。", sheet=parsed.sheet, level=WARNING))
                report = str(write_directory_report(report_path, path.name, findings, parsed.grid, partial=True))
            else:
                report_path.unlink(missing_ok=True)  # a stale report would mislead
            return DirectoryResult(recipients_of(entries, settings), findings, "file", path.name,
                                   dt.datetime.now(), report, bad_rows)
        if not held:
            report = str(write_directory_report(settings.outbox / REPORT_NAME, path.name, findings,
                                                parsed.grid if parsed is not None else None))
    else:
        findings = [file_finding(f"未找到通讯录文件 {path}，沿用上一次有效的通讯录。", level=WARNING)]
    current = versions.latest()
    if current is None:
        findings.append(file_finding(f"没有可用的通讯录：请放置 {path}（HAZARDNET_DIRECTORY_PATH；可用 hazardnet "
                                     "template --directory 生成模板）。"))
        return DirectoryResult([], findings, "none", report=report)
    entries, meta = current
    if path.is_file() and any(f.level == ERROR for f in findings):
        findings.append(file_finding(f"通讯录存在错误，未予采用；继续使用 {meta['loaded_at']:%Y-%m-%d %H:%M} 接收的"
                                     f"上一版有效通讯录（{meta['file_name']}）。", level=WARNING))
    return DirectoryResult(recipients_of(entries, settings), findings, "store", meta["file_name"], meta["loaded_at"],
                           report)


def directory_in_use(settings: Settings, store: Store, as_of: dt.date) -> list[Recipient]:
    """The recipients documents name their parties after, read without side effects (no version saved, no
    report written, nothing mailed): the last accepted version, else the valid rows of the file on disk, else
    none (a document then uses its generic wording)."""
    current = DirectoryStore(store).latest()
    if current is not None:
        return recipients_of(current[0], settings)
    path = Path(settings.directory_file)
    if not path.is_file():
        return []
    parsed, findings = read_directory_file(path, settings, known_customers_of(store, as_of))
    if parsed is None or any(f.level == ERROR and not f.row for f in findings):
        return []
    bad_rows = {f.row for f in findings if f.level == ERROR and f.row}
    return recipients_of([e for e in entries_of(parsed, settings) if e.row not in bad_rows], settings)


def org_names(recipients: Sequence[Recipient], party: str, county: str | None) -> list[str]:
    """The directory's organisations of `party` in `county` (None: prefecture level), in directory order."""
    return list(dict.fromkeys(r.org_name for r in recipients if r.party == party and r.county == county))


def _change_announced(settings: Settings, versions: DirectoryStore, entries: list[DirectoryEntry],
                      sha: str, file_name: str, transport, findings: list[Finding]) -> bool:
    """True when the file's version may be used: the first version, the version in use, one that changes no
    recipient, or one whose change was mailed to the previous version's prefecture supply company."""
    current = versions.latest()
    if current is None or current[1]["sha256"] == sha:
        return True
    from hazardnet.delivery.directory_change import DirectoryChangeNotMailed, announce_directory_change
    from hazardnet.delivery.mail import MailError, make_transport

    try:
        announce_directory_change(settings, recipients_of(current[0], settings), recipients_of(entries, settings),
                                  sha, file_name, transport or make_transport(settings))
        return True
    except (DirectoryChangeNotMailed, MailError) as exc:
        findings.append(file_finding(f"通讯录《{file_name}》有变更，但变更通知未能发给州供电公司（{exc.reason}），"
                                     f"新通讯录暂不采用，继续使用上一版。", level=WARNING))
        return False


def write_directory_report(path: Path, file_name: str, findings: list[Finding], sheet, partial: bool = False) -> Path:
    """Sheet 问题清单 listing every problem, and a copy of the directory sheet with failing cells in red.
    `partial`: the valid rows were accepted, only the rows with errors were left out."""
    errors = [f for f in findings if f.level == ERROR]
    if partial:
        title = (f"《{file_name}》中有 {len(errors)} 处错误：有错误的行未予采用，其余行照常使用；"
                 f"修改原文件后保存，下次发送时自动采用")
    else:
        title = (f"《{file_name}》未通过校验：共 {len(errors)} 处问题，修改原文件后保存即可；"
                 f"在此之前沿用上一版有效通讯录")
    headers = ["序号", "工作表", "单元格", "字段", "单元格内容", "问题说明", "类型"]
    with atomic_workbook(path) as wb:
        fmts = Formats(wb)
        ws = wb.add_worksheet("问题清单")
        ws.merge_range(0, 0, 0, len(headers) - 1, title, fmts.title)
        ws.set_row(0, 28)
        for c, h in enumerate(headers):
            ws.write_string(1, c, h, fmts.header)
        for i, f in enumerate(findings, start=1):
            for c, v in enumerate([i, f.sheet, f.cell, f.field, f.value, f.message,
                                   "错误" if f.level == ERROR else "提示"]):
                write_cell(ws, 1 + i, c, v, fmts.wrap if c in (4, 5) else fmts.text)
        for c, w in enumerate([6, 12, 8, 12, 30, 60, 6]):
            ws.set_column(c, c, w)
        ws.freeze_panes(2, 0)
        setup_print(ws, header_rows=(1, 1), page_header="通讯录校验问题清单")
        ws.activate()
        if sheet is not None:
            copy = wb.add_worksheet("通讯录（问题已标红）")
            marks: dict[tuple[int, int], list[str]] = {}
            for f in findings:
                if f.row and f.col:
                    marks.setdefault((f.row - 1, f.col - 1), []).append(f.message)
            for r, cells in enumerate(sheet.rows):
                for c, v in enumerate(cells):
                    if isinstance(v, (dt.time, dt.timedelta)):
                        v = str(v)
                    write_cell(copy, r, c, v, fmts.bad if (r, c) in marks else fmts.text, date_fmt=fmts.date)
            for (r, c), msgs in marks.items():
                if r >= len(sheet.rows) or c >= len(sheet.rows[r]):
                    copy.write_blank(r, c, None, fmts.bad)
                copy.write_comment(r, c, "\n".join(msgs), {"author": "通讯录校验", "x_scale": 2, "y_scale": 1.5})
            copy.set_column(0, max((len(r) for r in sheet.rows), default=1), 16)
            setup_print(copy, header_rows=None, page_header="通讯录（问题单元格已标红）")
    return path
