"""From a parsed workbook grid to a normalized register frame, remembering where every value came from.

Real county registers put the header anywhere in the first rows (under merged titles), spell it in
many ways, end with 合计/填报人 footers and type dates in four formats. This module finds the register
sheet and its header row, maps columns to fields, forward-fills merged data cells, drops blank and
footer rows, and normalizes each value (vocabulary synonyms, dates, 户号 as text). It does not judge:
pandera does that (see `validation`).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hazardnet.intake.findings import WARNING, Finding, cell_ref, file_finding
from hazardnet.intake.reader import SheetGrid, WorkbookGrid
from schemas.headers import FIELD_BY_NAME, FIELDS, REQUIRED_FIELDS, match_header, normalize_label
from schemas.table import PlainFrame, per_distinct_value
from schemas.vocab import (
    GRADE_SYNONYMS,
    REINSPECT_SYNONYMS,
    SEVERITY_SYNONYMS,
    STATUS_SYNONYMS,
    YES_NO_SYNONYMS,
)

if TYPE_CHECKING:  # pandas only where registers are read and checked (parser processes): see schemas.table
    import pandas as pd

HEADER_SCAN_ROWS = 30
MIN_HEADER_MATCHES = 4
FOOTER_PREFIXES = ("合计", "总计", "小计", "填报人", "审核人", "填表人", "制表人", "制表", "负责人", "填报日期",
                   "填报单位", "审核", "批准", "备注：", "说明：", "注：")
_FOOTER_FIRST = frozenset(p[0] for p in FOOTER_PREFIXES)
EXCEL_EPOCH = dt.date(1899, 12, 30)
_DATE_RE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?$")
_COMPACT_DATE_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_WS_RE = re.compile(r"[\s\u3000\u00a0\u200b\ufeff]+")


class _RawCells(Mapping):
    """(row, col) -> the original value of a register cell (merged cells filled), for reports: a view of
    the grid instead of a copy of every cell. Holds the kept data rows and the mapped columns only."""

    def __init__(self, grid: list[list[Any]], rows: set[int], cols: set[int]):
        self._grid, self._rows, self._cols = grid, rows, cols

    def __getitem__(self, key: tuple[int, int]) -> Any:
        r, c = key
        if r not in self._rows or c not in self._cols:
            raise KeyError(key)
        cells = self._grid[r]
        return cells[c] if c < len(cells) else None

    def __iter__(self):
        return ((r, c) for r in sorted(self._rows) for c in sorted(self._cols))

    def __len__(self) -> int:
        return len(self._rows) * len(self._cols)


@dataclass
class RegisterSheet:
    """A register read from one sheet: `frame` has one column per field plus `_row` (0-based grid row); a
    parser process sends it back as a PlainFrame (`check_pool`)."""

    sheet: str
    header_row: int  # 0-based
    columns: dict[str, int]  # field name -> 0-based column
    frame: pd.DataFrame | PlainFrame
    raw: Mapping[tuple[int, int], Any] = field(default_factory=dict)  # (row, col) -> original value, for reports
    findings: list[Finding] = field(default_factory=list)
    derived_ids: bool = False


@functools.lru_cache(maxsize=1 << 14)
def _match_header(text: str) -> str | None:
    """match_header, remembered: every register of a run spells its headers (and titles) alike."""
    return match_header(text)


def _score_header_row(cells: list[Any]) -> dict[str, int]:
    mapped: dict[str, int] = {}
    for c, v in enumerate(cells):
        if not isinstance(v, str):
            continue
        name = _match_header(v)
        if name and name not in mapped:
            mapped[name] = c
    return mapped


def find_header(sheet: SheetGrid) -> tuple[int, dict[str, int]] | None:
    """The 0-based header row and its field→column map, or None when the sheet holds no register."""
    best: tuple[int, dict[str, int]] | None = None
    for r, cells in enumerate(sheet.rows[:HEADER_SCAN_ROWS]):
        mapped = _score_header_row(cells)
        if len(mapped) >= MIN_HEADER_MATCHES and (best is None or len(mapped) > len(best[1])):
            best = (r, mapped)
    if best is None:
        return None
    r, mapped = best
    # Two-row headers: a merged group cell ("整改情况") above sub-headers ("整改状态", "完成日期").
    if r + 1 < len(sheet.rows):
        below = _score_header_row(sheet.rows[r + 1])
        extra = {k: v for k, v in below.items() if k not in mapped and v not in mapped.values()}
        if extra:
            mapped.update(extra)
            r += 1
    return r, mapped


def pick_register_sheet(book: WorkbookGrid) -> tuple[SheetGrid, int, dict[str, int]] | None:
    """The sheet whose header matches the most register fields (a 填写说明 sheet may come first)."""
    picked, _others = _pick_register_sheets(book)
    return picked


def _pick_register_sheets(book: WorkbookGrid) -> tuple[tuple[SheetGrid, int, dict[str, int]] | None,
                                                        list[tuple[SheetGrid, int]]]:
    """The register sheet (as pick_register_sheet), and every other visible sheet with a register header and
    something under it: (sheet, 0-based header row) — hazards the intake would not read."""
    best = None
    candidates = []
    for sheet in book.sheets:
        found = find_header(sheet)
        if found is None:
            continue
        key = (not sheet.hidden, len(found[1]))
        candidates.append((sheet, found[0]))
        if best is None or key > best[0]:
            best = (key, sheet, *found)
    if best is None:
        return None, []
    others = [(sheet, r) for sheet, r in candidates if sheet is not best[1] and not sheet.hidden
              and any(sum(not _blank(v) for v in row) >= 2 and not _is_footer(row) for row in sheet.rows[r + 1:])]
    return best[1:], others


def _fill_merged(sheet: SheetGrid, start_row: int) -> list[list[Any]]:
    """The sheet's rows with merged data cells filled from their top-left cell (the sheet itself is left
    as it is: only rows a merge touches are copied)."""
    rows = list(sheet.rows)
    copied: set[int] = set()
    for r0, c0, r1, c1 in sheet.merged:
        if r1 < start_row:
            continue
        top = rows[r0][c0] if r0 < len(rows) and c0 < len(rows[r0]) else None
        for r in range(max(r0, start_row), min(r1, len(rows) - 1) + 1):
            if r not in copied:
                rows[r] = list(rows[r])
                copied.add(r)
            row = rows[r]
            if len(row) <= c1:
                row.extend([None] * (c1 + 1 - len(row)))
            for c in range(c0, c1 + 1):
                if row[c] is None:
                    row[c] = top
    return rows


def clean_str(v: Any) -> str | None:
    """Trim all kinds of whitespace (full-width, non-breaking, zero-width); empty → None."""
    if v is None:
        return None
    s = _WS_RE.sub(" ", str(v)).strip()
    return s or None


def _number_text(v: Any) -> str | None:
    if isinstance(v, bool):
        return "是" if v else "否"
    if isinstance(v, float):
        if math.isnan(v):
            return None
        if v.is_integer():
            return str(int(v))
        return repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, (dt.datetime, dt.date)):
        return v.strftime("%Y-%m-%d")
    return clean_str(v)


def parse_date(v: Any) -> Any:
    """A date from a real date, an Excel serial number or text such as 2026年3月5日; the original value
    (for the report) when it cannot be one; None when empty."""
    if v is None:
        return None
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, (int, float)):
        if isinstance(v, float) and math.isnan(v):
            return None
        if 1 <= v < 2958466:
            return EXCEL_EPOCH + dt.timedelta(days=int(v))
        return _number_text(v)
    s = clean_str(unicodedata.normalize("NFKC", str(v)))
    if s is None:
        return None
    m = _DATE_RE.match(s) or _COMPACT_DATE_RE.match(s)
    if m:
        try:
            return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            return s
    return s


def parse_number(v: Any) -> Any:
    """A float from a number or numeric text ("1.5", "1,200", "3万元"); the text itself otherwise, also for text
    Python would read as a non-finite float ("inf", "nan", "1e999"): no count or amount is one."""
    if v is None or isinstance(v, bool):
        return None if v is None else str(v)
    if isinstance(v, (int, float)):
        if isinstance(v, float) and math.isnan(v):
            return None
        return float(v) if math.isfinite(v) else str(v)
    s = clean_str(unicodedata.normalize("NFKC", str(v)))
    if s is None:
        return None
    t = s.replace(",", "").replace("万元", "").replace("万", "").strip()
    try:
        n = float(t)
    except ValueError:
        return s
    return n if math.isfinite(n) else s


@functools.lru_cache(maxsize=1 << 16, typed=True)
def _label(v: Any) -> str:
    """normalize_label, remembered: registers repeat the same few words in every row."""
    return normalize_label(v)


def _vocab_index(synonyms: dict[str, str], allowed: tuple[str, ...] | None = None) -> dict[str, str]:
    """normalized spelling -> canonical value; the first synonym (then allowed value) of a spelling wins."""
    index: dict[str, str] = {}
    for k, canon in synonyms.items():
        index.setdefault(normalize_label(k), canon)
    for a in allowed or ():
        index.setdefault(normalize_label(a), a)
    return index


_VOCAB_INDEXES: dict[str, dict[str, str]] = {
    "status": _vocab_index(STATUS_SYNONYMS),
    "customer_grade": _vocab_index(GRADE_SYNONYMS),
    "severity": _vocab_index(SEVERITY_SYNONYMS),
    "gov_supervised": _vocab_index(YES_NO_SYNONYMS),
    "reinspect_result": _vocab_index(REINSPECT_SYNONYMS),
    "industry": {},
    "category": {},
}


def _vocab_text(v: Any, index: dict[str, str]) -> str | None:
    s = clean_str(v) if not isinstance(v, (int, float)) else _number_text(v)
    if s is None:
        return None
    return index.get(_label(s), s)


def _vocab(v: Any, synonyms: dict[str, str], allowed: tuple[str, ...] | None = None) -> str | None:
    return _vocab_text(v, _vocab_index(synonyms, allowed))


def normalize_county(v: Any, counties: list[str]) -> str | None:
    """Map "格尔木市供电公司", "国网格尔木供电公司" or "格尔木" to the configured county name."""
    s = clean_str(v)
    if s is None:
        return None
    for c in counties:
        if c in s:
            return c
    for c in counties:
        stem = re.sub(r"(市|县|区|行政区|行委)$", "", c)
        if len(stem) >= 2 and stem in s:
            return c
    return s


def _plain_text(v: Any) -> Any:
    if isinstance(v, (dt.datetime, dt.date)):
        return v.strftime("%Y-%m-%d")
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return _number_text(v)
    return clean_str(v)


def _normalizer(name: str, counties: list[str]) -> Any:
    """The function that normalizes one raw cell value of field `name`."""
    f = FIELD_BY_NAME[name]
    if f.kind == "date":
        return parse_date
    if f.kind == "number":
        return parse_number
    if name in _VOCAB_INDEXES:
        index = _VOCAB_INDEXES[name]
        return lambda v: _vocab_text(v, index)
    if name == "county":
        return lambda v: normalize_county(v, counties)
    if name in ("customer_id", "hazard_id"):
        return _number_text
    return _plain_text


def _normalize_column(values: list[Any], normalize) -> list[Any]:
    """`normalize` applied to every value, each distinct value computed once (keyed by type as well:
    1, 1.0 and True are equal in Python but not the same cell)."""
    results = per_distinct_value(values, normalize)
    if results is not None:  # the usual column: text and blanks, perhaps one kind of number or date
        return list(map(results.__getitem__, values))
    memos: dict[type, dict[Any, Any]] = {}
    out = []
    append = out.append
    for v in values:
        if v.__class__ is float and v == 0.0:  # 0.0 and -0.0 are one key but two cells
            append(normalize(v))
            continue
        memo = memos.get(v.__class__)
        if memo is None:
            memo = memos[v.__class__] = {}
        try:
            append(memo[v])
        except KeyError:
            append(memo.setdefault(v, normalize(v)))
        except TypeError:  # unhashable: never from calamine, but stay safe
            append(normalize(v))
    return out


def _blank(v: Any) -> bool:
    """clean_str(v) is None, cheaply: a value whose first character is visible is not blank."""
    if v is None:
        return True
    if isinstance(v, str):
        return not v or ((v[0].isspace() or v[0] in "\u200b\ufeff") and clean_str(v) is None)
    return clean_str(v) is None


def _is_footer(cells: list[Any]) -> bool:
    """A 合计/填报人/审核人 row: its first text cell (serial numbers skipped) starts with such a word."""
    for v in cells:
        if not isinstance(v, str):
            continue
        if v[:1] in _FOOTER_FIRST or not v[:1].isalnum():
            s = clean_str(v)
            if s:
                return s.replace(" ", "").startswith(FOOTER_PREFIXES)
        else:  # the first visible character starts no footer word
            return False
    return False


def _names_of_one_customer(sheet: str, rows: list[int], ids: list[Any] | None, names: list[Any] | None,
                           col: int | None) -> list[Finding]:
    """A warning at each 客户名称 cell that differs from the name most rows give the same 户号 (a merged 客户名称
    cell running into the next customer's row, a 户号 copied down): one 户号 is one customer, and the name is
    what its bulletins and notices print."""
    if not ids or not names or col is None:
        return []
    seen: dict[str, dict[str, list[int]]] = {}
    for r, cid, name in zip(rows, ids, names):
        if cid is not None and name is not None:
            seen.setdefault(str(cid), {}).setdefault(str(name), []).append(r)
    out: list[Finding] = []
    for cid, by_name in seen.items():
        if len(by_name) < 2:
            continue
        usual = max(by_name, key=lambda n: (len(by_name[n]), -by_name[n][0]))  # most rows, then the first
        where = "、".join(str(r + 1) for r in by_name[usual][:5]) + (" 等" if len(by_name[usual]) > 5 else " ")
        for name, at in by_name.items():
            if name == usual:
                continue
            for r in at:
                out.append(Finding(sheet, cell_ref(r, col), FIELD_BY_NAME["customer_name"].header,
                                   f"户号“{cid}”在第 {where}行的客户名称是“{usual}”，本行却是“{name}”：同一户号应为同一客户，"
                                   "请核对户号和客户名称（合并的单元格会把上一行的内容带到下面几行）。",
                                   value=name, level=WARNING, row=r + 1, col=col + 1))
    return out


def _chinese_labels(f) -> list[str]:
    """A field's header and the variants a clerk may write, the Chinese ones (the English ones are for imports)."""
    return [label for label in (f.header, *f.aliases) if any("\u4e00" <= ch <= "\u9fff" for ch in label)]


def _unknown_headers(sheet: SheetGrid, header_row: int, columns: dict[str, int], missing: list[str]) -> list[Finding]:
    """When a required column is missing: each header cell that names no register column (a 户号 written
    “用户号码”), pointed at, so the clerk sees which header to rename."""
    from hazardnet.intake.photos import PHOTO_FIELD
    from schemas.headers import SERIAL_HEADERS, normalize_label

    known = set(columns.values())
    wanted = "、".join(FIELD_BY_NAME[name].header for name in missing)
    found: list[Finding] = []
    for c, v in enumerate(sheet.rows[header_row]):
        text = clean_str(v) if isinstance(v, str) else None
        if c in known or text is None:
            continue
        key = normalize_label(text)
        if key in SERIAL_HEADERS or normalize_label(PHOTO_FIELD) in key or _match_header(text):
            continue
        found.append(Finding(sheet.name, cell_ref(header_row, c), "表头",
                             f"列名“{text}”无法识别；如果这一列就是所缺的必填列（{wanted}），请把列名改成模板中的写法。",
                             value=text, level=WARNING, row=header_row + 1, col=c + 1))
    return found


def derive_hazard_id(county: str, row: dict[str, Any]) -> str:
    """A stable id for registers without a 隐患编号 column: same customer, date and description → same id."""
    basis = "|".join(str(row.get(k) or "") for k in ("customer_id", "found_date", "description"))
    return f"{county}-{hashlib.sha1(basis.encode('utf-8')).hexdigest()[:10].upper()}"


def read_register(book: WorkbookGrid, county: str, counties: list[str]) -> RegisterSheet | Finding:
    """Locate and normalize the register in `book`; a file-level Finding when there is none."""
    picked, others = _pick_register_sheets(book)
    if picked is None:
        return file_finding("未找到隐患台账表：没有哪张工作表的表头包含“户号、客户名称、隐患描述、整改状态”等列，"
                            "请使用台账模板报送。")
    sheet, header_row, columns = picked
    findings: list[Finding] = []
    header_cells = sheet.rows[header_row]
    missing = [name for name in REQUIRED_FIELDS if name not in columns and name != "hazard_id"]
    for name in missing:
        f = FIELD_BY_NAME[name]
        findings.append(Finding(sheet.name, cell_ref(header_row, 0), f.header,
                                f"缺少必填列“{f.header}”：第 {header_row + 1} 行的表头中没有这一列"
                                f"（列名写作“{'”“'.join(_chinese_labels(f))}”均可）", row=header_row + 1, col=0))
    if missing:
        findings.extend(_unknown_headers(sheet, header_row, columns, missing))
    # a second register sheet (一般隐患 / 重大隐患, or last month's kept beside): one sheet is read, so the file is
    # refused — accepted, the other sheet's hazards would be missing from the store without anyone deciding it
    for other, r in others:
        findings.append(Finding(other.name, cell_ref(r, 0), "工作表",
                                f"工作表“{other.name}”也是一张隐患台账：每个文件只导入一张台账工作表，“{other.name}”"
                                f"中的隐患不会导入。请把要报送的隐患都放到工作表“{sheet.name}”中，不报送的工作表"
                                "请删除或隐藏，然后重新报送。", row=r + 1))
    grid = _fill_merged(sheet, header_row + 1)
    field_cols = [(name, col) for name, col in columns.items()]
    header_keys = {_label(v) for v in header_cells if v is not None}
    # vocabulary and date cells first: their labels are cached, and a data row fails on the first one
    probe_order = sorted(range(len(field_cols)),
                         key=lambda i: FIELD_BY_NAME[field_cols[i][0]].kind not in ("vocab", "date"))
    kept: list[int] = []
    raw_values: list[list[Any]] = []  # per kept row, the raw value of each field in field_cols order
    for r in range(header_row + 1, len(grid)):
        cells = grid[r]
        n = len(cells)
        values = [cells[col] if col < n else None for _name, col in field_cols]
        if all(_blank(v) for v in values):
            continue  # blank row (a pre-numbered 序号 alone does not make a record)
        if _is_footer(cells):
            continue
        if all(values[i] is None or _label(values[i]) in header_keys for i in probe_order):
            continue  # the header repeated (registers printed and retyped page by page)
        kept.append(r)
        raw_values.append(values)
    data: dict[str, list[Any]] = {"_row": kept}
    by_field = list(zip(*raw_values)) if raw_values else [() for _ in field_cols]
    for (name, _col), column in zip(field_cols, by_field):
        data[name] = _normalize_column(list(column), _normalizer(name, counties))
    import pandas as pd

    # one object block from the lists (a Series per column, then aligned, cost 2-3 ms of a 300-row register)
    frame = pd.DataFrame({name: data.get(name, [None] * len(kept)) for name in ["_row", *[f.name for f in FIELDS]]},
                         dtype=object)
    raw = _RawCells(grid, set(kept), {col for _name, col in field_cols})
    findings += _names_of_one_customer(sheet.name, kept, data.get("customer_id"), data.get("customer_name"),
                                       columns.get("customer_name"))
    derived = False
    if "hazard_id" not in columns:
        derived = True
        frame["hazard_id"] = [derive_hazard_id(county, {"customer_id": c, "found_date": f, "description": d})
                              for c, f, d in zip(frame["customer_id"], frame["found_date"], frame["description"])]
        findings.append(Finding(sheet.name, cell_ref(header_row, 0), "隐患编号",
                                "台账中没有“隐患编号”列，已按户号、发现日期和隐患描述自动生成编号；"
                                "请今后在台账中保留固定的隐患编号。", level=WARNING, row=header_row + 1))
    return RegisterSheet(sheet.name, header_row, columns, frame, raw, findings, derived)

