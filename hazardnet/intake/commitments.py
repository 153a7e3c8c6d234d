"""The quarterly meeting's commitments come back (整改承诺表): the 整改承诺 sheet of the quarterly workbook, filled in
at the meeting (承诺完成日期, 责任人) and dropped in inbox/<县(市)>/, is recognised by its header and accepted or
rejected whole like a register, with findings at cells. Each commitment becomes a deadline version with the
reason 通报会承诺 (store.commitments; rules.deadline_history)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hazardnet.intake.findings import ERROR, WARNING, Finding, cell_ref, show_value
from hazardnet.intake.grid import WorkbookGrid
from hazardnet.intake.sheet import HEADER_SCAN_ROWS, _fill_merged, clean_str, find_header, normalize_county, parse_date
from hazardnet.rules import is_closed
from schemas.headers import normalize_label

if TYPE_CHECKING:  # the parser processes read commitment tables without the store (nor SQLAlchemy)
    from hazardnet.store import Store

# Required register columns the quarterly workbook's 整改承诺 sheet never has (it has 户号, 客户名称, 隐患编号, 隐患等级,
# 隐患描述 and 整改状态 too): a sheet whose header names one of them is a register, even with a 承诺完成日期 column.
KIND_COMMITMENTS = "commitments"  # an ingested file's kind (FileOutcome.kind), beside register, customers, drills
REGISTER_ONLY_FIELDS = frozenset({"customer_grade", "found_date", "category"})
# canonical header (the quarterly workbook's COMMITMENT_HEADERS) and the variants a retyped table may use
COMMITMENT_COLUMNS: dict[str, tuple[str, ...]] = {
    "hazard_id": ("隐患编号",),
    "committed_date": ("承诺完成日期", "承诺整改完成日期", "承诺完成时间", "承诺日期", "承诺整改期限"),
    "person": ("责任人（签字）", "责任人", "承诺责任人", "责任人签字", "整改责任人"),
    "county": ("县(市)", "县(市)公司", "所属县市"),
    "customer_name": ("客户名称", "用户名称"),
}
_INDEX = {normalize_label(a): name for name, aliases in COMMITMENT_COLUMNS.items() for a in aliases}
_QUARTER_RE = re.compile(r"(\d{4})\s*年\s*第?\s*([一二三四1-4])\s*季度")
_NUMERALS = {"一": 1, "二": 2, "三": 3, "四": 4}
MAX_COMMITMENT_AHEAD = dt.timedelta(days=2 * 366)  # a date further ahead is a typo (2207 for 2027), not a promise


@dataclass
class CommitmentSheet:
    """A commitment table read from one sheet: each data row as (0-based grid row, raw values by column)."""

    sheet: str
    header_row: int
    columns: dict[str, int]
    rows: list[tuple[int, dict[str, Any]]]
    quarter: str | None = None  # 2026Q3, from the title above the header
    findings: list[Finding] = field(default_factory=list)


def _header(cells: list[Any]) -> dict[str, int]:
    found: dict[str, int] = {}
    for c, v in enumerate(cells):
        name = _INDEX.get(normalize_label(v)) if isinstance(v, str) else None
        if name and name not in found:
            found[name] = c
    return found


def read_commitment_table(book: WorkbookGrid) -> CommitmentSheet | None:
    """The commitment table of `book` (a sheet whose header has 隐患编号 and 承诺完成日期 but none of the register's
    own columns REGISTER_ONLY_FIELDS), or None."""
    for sheet in book.sheets:
        for r, cells in enumerate(sheet.rows[:HEADER_SCAN_ROWS]):
            columns = _header(cells)
            if "hazard_id" in columns and "committed_date" in columns:
                register = find_header(sheet)
                if register is not None and REGISTER_ONLY_FIELDS & register[1].keys():
                    break  # a register with a commitment column: read_register reads it
                title = " ".join(str(v) for row in sheet.rows[:r] for v in row if v is not None)
                m = _QUARTER_RE.search(title + " " + sheet.name)
                quarter = None
                if m:
                    q = _NUMERALS.get(m.group(2)) or int(m.group(2))
                    quarter = f"{m.group(1)}Q{q}"
                grid = _fill_merged(sheet, r + 1)  # a date merged over a customer's rows commits each
                rows = []
                for i in range(r + 1, len(grid)):
                    values = {name: (grid[i][c] if c < len(grid[i]) else None) for name, c in columns.items()}
                    if all(clean_str(values.get(k)) is None for k in ("hazard_id", "committed_date", "person")):
                        continue
                    rows.append((i, values))
                return CommitmentSheet(sheet.name, r, columns, rows, quarter)
    return None


def _quarter_before(day: dt.date) -> str:
    q = (day.month - 1) // 3 + 1
    return f"{day.year - 1}Q4" if q == 1 else f"{day.year}Q{q - 1}"


def check_commitments(store: Store, table: CommitmentSheet, county: str, counties: list[str],
                      as_of: dt.date) -> tuple[list[dict], list[Finding]]:
    """The commitments of `table` (hazard_id, committed_date, person, quarter, sheet, cell) and every finding:
    an unknown 隐患编号, a hazard of another county, a date that is no date, before the meeting (the day the
    table is received, `as_of`) or more than two years after it. A row without 承诺完成日期 commits nothing (a warning
    when it names a person); a commitment for a hazard the latest register has 已整改 is kept, with a warning."""
    where: dict[str, set[str]] = {}
    done: set[tuple[str, str]] = set()  # 已整改 (not reopened by a failed re-inspection) in the latest register
    for c, hazard_id, status, result, reinspected, _in_latest in store.current_rows(
            as_of, ["county", "hazard_id", "status", "reinspect_result", "reinspect_date"]):
        where.setdefault(str(hazard_id), set()).add(c)
        if is_closed({"status": status, "reinspect_result": result, "reinspect_date": reinspected}):
            done.add((c, str(hazard_id)))
    quarter = table.quarter or _quarter_before(as_of)
    out: list[dict] = []
    findings = list(table.findings)
    seen: dict[str, str] = {}

    def finding(r: int, name: str, header: str, message: str, value: Any, level: str = ERROR) -> Finding:
        col = table.columns[name]
        return Finding(table.sheet, cell_ref(r, col), header, message, show_value(value),
                       level=level, row=r + 1, col=col + 1)

    for r, values in table.rows:
        hazard_id = clean_str(values.get("hazard_id"))
        if isinstance(values.get("hazard_id"), float) and values["hazard_id"].is_integer():
            hazard_id = str(int(values["hazard_id"]))
        raw_date = values.get("committed_date")
        committed = parse_date(raw_date)
        person = clean_str(values.get("person"))
        if committed is None:
            if person and hazard_id:
                findings.append(finding(r, "committed_date", "承诺完成日期",
                                        f"隐患“{hazard_id}”填写了责任人但未填写承诺完成日期，该行未作为承诺登记", raw_date,
                                        WARNING))
            continue
        if hazard_id is None:
            findings.append(finding(r, "hazard_id", "隐患编号", "填写了承诺完成日期但未填写隐患编号", None))
            continue
        if "county" in table.columns:
            named = normalize_county(values.get("county"), counties) if clean_str(values.get("county")) else None
            if named is not None and named != county:
                findings.append(finding(r, "county", "县(市)", f"本行县(市)“{named}”与报送目录的县市“{county}”不一致",
                                        values.get("county")))
                continue
        owners = where.get(hazard_id)
        if not owners:
            findings.append(finding(r, "hazard_id", "隐患编号", f"隐患编号“{hazard_id}”不在已接收的任何台账中",
                                    hazard_id))
            continue
        if county not in owners:
            findings.append(finding(r, "hazard_id", "隐患编号",
                                    f"隐患编号“{hazard_id}”是{'、'.join(sorted(owners))}的隐患，不属于{county}", hazard_id))
            continue
        if not isinstance(committed, dt.date):
            findings.append(finding(r, "committed_date", "承诺完成日期",
                                    f"无法识别的日期“{committed}”，请填写如 2026-03-05 的日期", raw_date))
            continue
        if committed < as_of:
            findings.append(finding(r, "committed_date", "承诺完成日期",
                                    f"承诺完成日期 {committed:%Y-%m-%d} 早于通报会（本表报送日 {as_of:%Y-%m-%d}）", raw_date))
            continue
        if committed > as_of + MAX_COMMITMENT_AHEAD:
            findings.append(finding(r, "committed_date", "承诺完成日期",
                                    f"承诺完成日期 {committed:%Y-%m-%d} 晚于通报会（本表报送日 {as_of:%Y-%m-%d}）两年以上，"
                                    f"请核对年份", raw_date))
            continue
        if hazard_id in seen:
            findings.append(finding(r, "hazard_id", "隐患编号", f"隐患编号“{hazard_id}”在本表中重复出现（另见 {seen[hazard_id]}）",
                                    hazard_id))
            continue
        seen[hazard_id] = cell_ref(r, table.columns["hazard_id"])
        if (county, hazard_id) in done:
            findings.append(finding(r, "committed_date", "承诺完成日期",
                                    f"隐患“{hazard_id}”在最新台账中已是“已整改”，承诺已登记；"
                                    f"如隐患未整改完毕，请在下期台账中更正整改状态", raw_date, WARNING))
        out.append(dict(hazard_id=hazard_id, committed_date=committed, person=person, quarter=quarter,
                        sheet=table.sheet, cell=cell_ref(r, table.columns["committed_date"])))
    if not out and not any(f.level == ERROR for f in findings):
        findings.append(Finding(table.sheet, cell_ref(table.header_row, table.columns["committed_date"]), "承诺完成日期",
                                "整改承诺表中没有任何填写了承诺完成日期的隐患，请填写后重新报送。",
                                row=table.header_row + 1, col=table.columns["committed_date"] + 1))
    return out, findings
