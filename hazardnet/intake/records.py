"""The customer file (一户一档) and the joint-drills workbook: recognised by their header among the workbooks of
inbox/<县(市)>/, read like a register (a title above the header, footers, merged cells, dates typed four ways)
and judged by the pandera contracts of `schemas.customer_file`, one finding per failing cell.

A sheet is a customer file or a drills workbook when its header names enough of the columns only that kind
has (供电电源数量, 自备应急电源类型, … / 演练日期, 演练名称, 参加单位); otherwise the workbook is a hazard register.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from hazardnet.intake.findings import WARNING, Finding, cell_ref, file_finding
from hazardnet.intake.reader import SheetGrid, WorkbookGrid
from hazardnet.intake.sheet import (
    HEADER_SCAN_ROWS,
    _blank,
    _fill_merged,
    _is_footer,
    _number_text,
    clean_str,
    parse_date,
    parse_number,
)
from schemas.customer_file import (
    BACKUP_TYPES,
    DISTINCT,
    FIELDS_OF,
    KIND_CUSTOMERS,
    KIND_DRILLS,
    KIND_ZH,
    LONGEST_HEADER_CELL,
    MIN_DISTINCT,
    record_field_of,
)
from schemas.headers import normalize_label
from schemas.vocab import GRADE_SYNONYMS

REGISTER = "register"


@dataclass
class RecordSheet:
    """A customer file or drills workbook read from one sheet: plain rows (field name -> value, `_row` the
    0-based grid row), so a parser process sends it back without pandas."""

    kind: str  # customers | drills
    sheet: str
    header_row: int
    columns: dict[str, int]
    rows: list[dict[str, Any]]
    raw: dict[tuple[int, int], Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)


def _header_of(kind: str, keys: list[str | None]) -> dict[str, int]:
    mapped: dict[str, int] = {}
    for c, key in enumerate(keys):
        if key:
            name = record_field_of(kind, key)
            if name and name not in mapped:
                mapped[name] = c
    return mapped


def _row_keys(cells: list[Any]) -> list[str | None]:
    """Each text cell of a row as a header key (normalize_label), once for both kinds of record table; a cell
    far longer than any header (a description, a note) is no header and is not folded."""
    return [normalize_label(v) if isinstance(v, str) and len(v) <= LONGEST_HEADER_CELL else None for v in cells]


def find_record_header(sheet: SheetGrid, kind: str,
                       keyed: list[list[str | None]] | None = None) -> tuple[int, dict[str, int]] | None:
    """The header row of a `kind` table in the sheet (the row naming most of its distinctive columns).
    `keyed`: the sheet's first rows as `_row_keys`, when the caller has them already."""
    best = None
    rows = keyed if keyed is not None else [_row_keys(cells) for cells in sheet.rows[:HEADER_SCAN_ROWS]]
    for r, keys in enumerate(rows):
        mapped = _header_of(kind, keys)
        if len(DISTINCT[kind] & mapped.keys()) >= MIN_DISTINCT[kind] and (best is None or len(mapped) > len(best[1])):
            best = (r, mapped)
    return best


def record_kind(book: WorkbookGrid) -> tuple[str, SheetGrid, int, dict[str, int]] | None:
    """(kind, sheet, header row, columns) when the workbook is a customer file or a drills workbook; None for
    anything else (a register)."""
    best = None
    for sheet in book.sheets:
        keyed = [_row_keys(cells) for cells in sheet.rows[:HEADER_SCAN_ROWS]]
        for kind in (KIND_CUSTOMERS, KIND_DRILLS):
            found = find_record_header(sheet, kind, keyed)
            if found is None:
                continue
            key = (not sheet.hidden, len(DISTINCT[kind] & found[1].keys()), len(found[1]))
            if best is None or key > best[0]:
                best = (key, kind, sheet, *found)
    return None if best is None else best[1:]


def _grade(v: Any) -> Any:
    s = clean_str(v)
    if s is None:
        return None
    s = s.replace(" ", "")
    s = GRADE_SYNONYMS.get(s, s)
    for suffix in ("重要用户", "重要客户", "用户", "客户"):
        if s.endswith(suffix) and s[:-len(suffix)] in ("特级", "一级", "二级", "临时性"):
            return s[:-len(suffix)]
    return "一般" if s in ("一般用户", "一般客户", "非重要用户") else s


_BACKUP_INDEX = {normalize_label(t): t for t in BACKUP_TYPES} | {
    normalize_label(k): v for k, v in {"柴油机": "柴油发电机", "发电机": "柴油发电机", "柴发": "柴油发电机",
                                       "柴油发电机组": "柴油发电机", "ups电源": "UPS", "eps电源": "EPS",
                                       "没有": "无", "未配置": "无", "/": "无", "-": "无"}.items()}


def _backup(v: Any) -> Any:
    """One type, or several ("柴油发电机+UPS") as "柴油发电机、UPS" when every part is a known type."""
    s = clean_str(v)
    if s is None:
        return None
    one = _BACKUP_INDEX.get(normalize_label(s))
    if one is not None:
        return one
    parts = [_BACKUP_INDEX.get(normalize_label(p)) for p in re.split(r"[、,，;；+＋/和及]+", s) if p.strip()]
    if len(parts) > 1 and all(p is not None and p != "无" for p in parts):
        return "、".join(dict.fromkeys(parts))
    return s


_COUNT_WORDS = {"单": 1, "一": 1, "双": 2, "两": 2, "二": 2, "三": 3, "四": 4, "多": 2}
_COUNT_RE = re.compile(r"^(\d+|[单一双两二三四多])\s*(路|回|个|条|路电源|回路|电源|回线)?(供电)?$")


def _sources(v: Any) -> Any:
    """供电电源数量: a number, or words such as 双电源, 两路, 2回, 单回路 (多电源 counts as 2)."""
    n = parse_number(v)
    if not isinstance(n, str):
        return n
    m = _COUNT_RE.match(n.replace(" ", ""))
    if m is None:
        return n
    word = m.group(1)
    return parse_number(word) if word.isdigit() else float(_COUNT_WORDS[word])  # 400 digits: text, not inf


def _have(v: Any) -> Any:
    s = clean_str(v)
    if s is None:
        return None
    key = normalize_label(s)
    return {"有": "有", "无": "无", "是": "有", "否": "无", "没有": "无", "√": "有", "×": "无"}.get(key, s)


def _text(v: Any) -> Any:
    if isinstance(v, (dt.datetime, dt.date)):
        return v.strftime("%Y-%m-%d")
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return _number_text(v)
    return clean_str(v)


def _normalizer(name: str, kind: str):
    f = next(x for x in FIELDS_OF[kind] if x.name == name)
    if f.kind == "date":
        return parse_date
    if name == "supply_sources":
        return _sources
    if f.kind == "number":
        return parse_number
    if name == "customer_grade":
        return _grade
    if name == "backup_type":
        return _backup
    if name == "non_electric":
        return _have
    if name in ("customer_id", "phone"):
        return _number_text
    return _text


def read_records(book: WorkbookGrid, found: tuple[str, SheetGrid, int, dict[str, int]]) -> RecordSheet:
    """The rows of the customer file or drills table `found` (from `record_kind`), normalized, blank rows,
    repeated headers and 合计/填报人 footers left out."""
    kind, sheet, header_row, columns = found
    findings: list[Finding] = []
    for f in FIELDS_OF[kind]:
        if f.required and f.name not in columns:
            findings.append(Finding(sheet.name, cell_ref(header_row, 0), f.header, f"缺少必填列“{f.header}”",
                                    row=header_row + 1, col=0))
    grid = _fill_merged(sheet, header_row + 1)
    header_keys = {normalize_label(v) for v in sheet.rows[header_row] if v is not None}
    normalizers = {name: _normalizer(name, kind) for name in columns}
    rows: list[dict[str, Any]] = []
    raw: dict[tuple[int, int], Any] = {}
    for r in range(header_row + 1, len(grid)):
        cells = grid[r]
        values = {name: (cells[c] if c < len(cells) else None) for name, c in columns.items()}
        if all(_blank(v) for v in values.values()) or _is_footer(cells):
            continue
        if all(v is None or normalize_label(v) in header_keys for v in values.values()):
            continue
        row: dict[str, Any] = {f.name: None for f in FIELDS_OF[kind]}
        row.update({name: normalizers[name](v) for name, v in values.items()})
        row["_row"] = r
        rows.append(row)
        raw.update({(r, c): values[name] for name, c in columns.items()})
    return RecordSheet(kind, sheet.name, header_row, columns, rows, raw, findings)


def validate_records(parsed: RecordSheet, as_of: dt.date) -> list[Finding]:
    """Every rule of `schemas.customer_file` on report date `as_of` checked at once (lazy); one finding per failing
    cell."""
    import pandas as pd
    import pandera.errors as pe

    from schemas.customer_file import CHECK_MESSAGES, record_schema

    fields = {f.name: f for f in FIELDS_OF[parsed.kind]}
    if not parsed.rows:
        return [file_finding(f"{KIND_ZH[parsed.kind]}中没有任何记录（表头以下为空），请填写后重新报送。",
                             sheet=parsed.sheet)]
    frame = pd.DataFrame({name: pd.Series([row[name] for row in parsed.rows], dtype=object) for name in fields})
    try:
        record_schema(parsed.kind, as_of).validate(frame, lazy=True)
        return []
    except pe.SchemaErrors as exc:
        cases = exc.failure_cases
    out: dict[tuple[int, str, str], Finding] = {}
    for case in cases.itertuples(index=False):
        idx, name, check = case.index, case.column, str(case.check)
        if idx is None or (isinstance(idx, float) and idx != idx) or name not in fields:
            continue
        if name not in parsed.columns:
            continue  # a missing column is one finding at the header
        idx = int(idx)
        check = "not_nullable" if check.startswith("not_nullable") else check
        row = parsed.rows[idx]
        r, c = row["_row"], parsed.columns[name]
        value = parsed.raw.get((r, c), row[name])
        shown = "" if value is None else (value.isoformat() if isinstance(value, dt.date) else _text(value) or "")
        out.setdefault((idx, name, check), Finding(
            parsed.sheet, cell_ref(r, c), fields[name].header,
            CHECK_MESSAGES.get(check, f"不符合规则 {check}").format(value=shown), value=shown, row=r + 1, col=c + 1))
    return sorted(out.values(), key=lambda f: (f.row, f.col, f.message))


def check_records(book: WorkbookGrid, found, as_of: dt.date) -> tuple[RecordSheet, list[Finding]]:
    """The customer file or drills workbook of `book` and every finding about it on report date `as_of`."""
    parsed = read_records(book, found)
    findings = parsed.findings + (validate_records(parsed, as_of) if not parsed.findings else [])
    return parsed, findings


def unknown_customer_findings(parsed: RecordSheet, customers: list[dict] | None) -> list[Finding]:
    """A warning at the 户号 cell of each drill whose customer is not in the county's customer file (`customers`,
    its rows as the store has them); none when the county has no customer file yet."""
    col = parsed.columns.get("customer_id")
    if parsed.kind != KIND_DRILLS or not customers or col is None:
        return []
    known = {str(c["customer_id"]) for c in customers if c.get("customer_id")}
    out = []
    for row in parsed.rows:
        cid = row.get("customer_id")
        if cid and str(cid) not in known:
            out.append(Finding(parsed.sheet, cell_ref(row["_row"], col), "户号",
                               f"户号“{cid}”不在本县(市)已接收的客户档案（一户一档）中，这次演练不计入任何客户的联合应急演练；"
                               f"请核对户号，或在客户档案中补充该客户后重新报送。",
                               value=str(cid), level=WARNING, row=row["_row"] + 1, col=col + 1))
    return out
