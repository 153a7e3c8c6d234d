"""Quarterly summary (季度隐患治理情况汇总): the figures of a quarter and the briefing-meeting workbooks.

Definitions
-----------
A quarter Q runs from its first day `qs` to its last day `qe`, both inclusive. Every figure is computed
from **one** snapshot, the register as the store stood at the quarter's end, ``store.register_as_of(qe)``
(the current version of every hazard reported by an accepted submission dated on or before `qe`).

For each hazard of that snapshot:

- *found* is its 发现日期 (found_date);
- *done on* is the day it was remediated: its 完成日期 (completed_date) when its status is 已整改; when a
  register says 已整改 without a completed date (the schema rejects that, so only legacy rows), the date of
  the submission that carried that version stands in; an open hazard has no *done on*.

Then, per hazard (each a yes/no flag):

- **季初未整改 open at quarter start**: found before `qs`, and not done before `qs`
  (no *done on*, or *done on* ≥ `qs`);
- **本季度新发现 found in quarter**: `qs` ≤ found ≤ `qe`;
- **本季度销号 remediated in quarter**: `qs` ≤ *done on* ≤ `qe`;
- **季末未整改 open at quarter end**: found ≤ `qe` and (no *done on*, or *done on* > `qe`);
- **本季度涉及 hazards of the quarter** = open at start + found in quarter (the two are disjoint): every
  hazard found in or still open during the quarter — the rows of the 通报清单;
- **季末逾期 overdue at quarter end**: ``consolidated_register.add_derived(df, qe)["overdue"]``, i.e. not
  已整改 and 整改期限 before `qe` — the very same rule as the consolidated register and the bulletins.

A hazard found *and* remediated within the quarter counts once in "found" and once in "remediated", and
in neither "open" figure. Because each hazard contributes 1 + 0 − 1 = 0, 0 + 1 − 1 = 0, 1 + 0 − 0 = 1,
0 + 1 − 0 = 1 or 0 + 0 − 0 = 0 to both sides, **open at start + found − remediated = open at end** holds
for every single hazard, hence for every county, severity, category and customer grade, and in total.

Aggregates over a set of hazards:

- **涉及客户数 customers with hazards**: distinct 户号 (per county) among the hazards of the quarter;
- **整改率 remediation rate**: remediated in quarter ÷ hazards of the quarter (blank when there are none);
- **整改用时中位数 median days to remediate**: median of (*done on* − found) in days over the hazards
  remediated in the quarter (add_derived's days_open of a done hazard);
- **上季度末台账记载未整改 open at start as reported then**: hazards open in the register as the store
  stood on the day before `qs` (``register_as_of(qs − 1)``), i.e. what last quarter's summary showed as
  open at its end. The difference **补报及更正** = open at start − that figure counts hazards reported late
  or statuses corrected after the previous quarter closed; it explains why two summaries differ.

Hazards that disappeared from a county's latest submission stay in every figure with their last known
status (the store is the truth; a row vanishing from a spreadsheet is not a remediation) and are marked
in the 通报清单.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from hazardnet.publish.consolidated import add_derived
from hazardnet.settings import Settings
from hazardnet.store import Store
from hazardnet.xlsx.style import Formats, atomic_workbook, setup_print, write_cell, write_table
from schemas.vocab import CATEGORIES, CUSTOMER_GRADES, MAJOR_SEVERITY, STATUS_DONE

QUARTER_NUMERALS = {1: "一", 2: "二", 3: "三", 4: "四"}

# figure key -> Chinese column header, in the order of every figures table
FIGURES: dict[str, str] = {
    "customers": "涉及客户数",
    "hazards": "本季度涉及隐患",
    "open_at_start": "季初未整改",
    "found": "本季度新发现",
    "remediated": "本季度销号",
    "open_at_end": "季末未整改",
    "overdue_at_end": "季末逾期",
    "remediation_rate": "整改率",
    "median_days": "整改用时中位数(天)",
}
RECONCILIATION: dict[str, str] = {
    "open_at_start_reported": "上季度末台账记载未整改",
    "restated": "补报及更正",
}
INT_FIGURES = ("customers", "hazards", "open_at_start", "found", "remediated", "open_at_end", "overdue_at_end")


# ---- quarters --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Quarter:
    """A calendar quarter such as 2026Q3."""

    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> "Quarter":
        """Parse "2026Q3" (also "2026q3", "2026-Q3", "2026 Q3"); ValueError with a Chinese message otherwise."""
        m = re.fullmatch(r"\s*(\d{4})\s*[-_ ]?\s*[Qq]\s*([1-4])\s*", str(text))
        if not m:
            raise ValueError(f"季度“{text}”格式不正确，请写成如 2026Q3 的形式（年份 + Q + 1～4）。")
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def containing(cls, day: dt.date) -> "Quarter":
        return cls(day.year, (day.month - 1) // 3 + 1)

    @property
    def start(self) -> dt.date:
        return dt.date(self.year, 3 * self.number - 2, 1)

    @property
    def end(self) -> dt.date:
        nxt = self.next().start
        return nxt - dt.timedelta(days=1)

    @property
    def months(self) -> list[int]:
        return [3 * self.number - 2, 3 * self.number - 1, 3 * self.number]

    def next(self) -> "Quarter":
        return Quarter(self.year + 1, 1) if self.number == 4 else Quarter(self.year, self.number + 1)

    def previous(self) -> "Quarter":
        return Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year, self.number - 1)

    @property
    def label(self) -> str:
        """"2026Q3"."""
        return f"{self.year}Q{self.number}"

    @property
    def title(self) -> str:
        """"2026年第三季度"."""
        return f"{self.year}年第{QUARTER_NUMERALS[self.number]}季度"

    def __str__(self) -> str:
        return self.label


# ---- per-hazard flags ------------------------------------------------------------------------
def _as_date(v) -> dt.date | None:
    if v is None or (not isinstance(v, dt.date) and pd.isna(v)):
        return None
    if isinstance(v, pd.Timestamp):
        return v.date()
    if isinstance(v, dt.datetime):
        return v.date()
    return v


def done_on(df: pd.DataFrame) -> pd.Series:
    """The day each hazard was remediated (None while open); see the module docstring."""
    def one(status, completed, version_as_of):
        if status != STATUS_DONE:
            return None
        return _as_date(completed) or _as_date(version_as_of)
    if not len(df):
        return pd.Series([], dtype=object)
    return pd.Series([one(s, c, v) for s, c, v in zip(df["status"], df["completed_date"], df["version_as_of"])],
                     index=df.index, dtype=object)


def quarter_flags(register: pd.DataFrame, quarter: Quarter) -> pd.DataFrame:
    """The register at quarter end with add_derived's columns (as of quarter end) and the per-hazard flags
    done_on, open_at_start, found_in_quarter, remediated_in_quarter, open_at_end, overdue_at_end, in_quarter."""
    qs, qe = quarter.start, quarter.end
    if not len(register):
        df = register.copy()
        for col in ("overdue", "days_overdue", "days_open", "absent", "done_on", "open_at_start",
                    "found_in_quarter", "remediated_in_quarter", "open_at_end", "overdue_at_end", "in_quarter"):
            df[col] = pd.Series([], dtype=object)
        return df
    df = add_derived(register, qe)
    found = df["found_date"].map(_as_date)
    done = done_on(df)
    known = found.notna() & found.map(lambda d: d is not None and d <= qe)
    df = df[known].copy()
    found, done = found[known], done[known]
    not_done_before = done.map(lambda d: d is None or d >= qs)
    df["done_on"] = done
    df["open_at_start"] = found.map(lambda d: d < qs) & not_done_before
    df["found_in_quarter"] = found.map(lambda d: qs <= d <= qe)
    df["remediated_in_quarter"] = done.map(lambda d: d is not None and qs <= d <= qe)
    df["open_at_end"] = done.map(lambda d: d is None or d > qe)
    df["overdue_at_end"] = df["overdue"].astype(bool)
    df["in_quarter"] = df["open_at_start"] | df["found_in_quarter"]
    for col in ("open_at_start", "found_in_quarter", "remediated_in_quarter", "open_at_end", "overdue_at_end",
                "in_quarter"):
        df[col] = df[col].astype(bool)
    return df


def open_reported_at_start(register_before: pd.DataFrame, quarter: Quarter) -> pd.DataFrame:
    """Hazards open in the register as the store stood the day before the quarter began."""
    if not len(register_before):
        return register_before
    done = done_on(register_before)
    found = register_before["found_date"].map(_as_date)
    mask = done.map(lambda d: d is None or d >= quarter.start) & found.map(lambda d: d is not None
                                                                           and d < quarter.start)
    return register_before[mask.astype(bool)]


def figures_of(flags: pd.DataFrame, reported: pd.DataFrame | None = None) -> dict:
    """The figures (FIGURES keys, plus RECONCILIATION keys when `reported` is given) of a set of hazards."""
    q = flags[flags["in_quarter"]] if len(flags) else flags
    n_rem = int(flags["remediated_in_quarter"].sum()) if len(flags) else 0
    hazards = len(q)
    days = flags.loc[flags["remediated_in_quarter"], "days_open"].dropna().astype(int) if len(flags) else []
    out = {
        "customers": int(q[["county", "customer_id"]].drop_duplicates().shape[0]) if len(q) else 0,
        "hazards": hazards,
        "open_at_start": int(flags["open_at_start"].sum()) if len(flags) else 0,
        "found": int(flags["found_in_quarter"].sum()) if len(flags) else 0,
        "remediated": n_rem,
        "open_at_end": int(flags["open_at_end"].sum()) if len(flags) else 0,
        "overdue_at_end": int(flags["overdue_at_end"].sum()) if len(flags) else 0,
        "remediation_rate": (n_rem / hazards) if hazards else None,
        "median_days": float(pd.Series(days).median()) if len(days) else None,
    }
    if reported is not None:
        out["open_at_start_reported"] = len(reported)
        out["restated"] = out["open_at_start"] - len(reported)
    return out


def _ordered(values: Iterable[str], preferred: Sequence[str]) -> list[str]:
    seen = [v for v in preferred]
    extra = sorted({v for v in values if isinstance(v, str) and v and v not in preferred})
    return seen + extra


# ---- one summary (prefecture, county or customer scope) --------------------------------------
@dataclass
class QuarterlySummary:
    """Everything one quarterly workbook shows, for one scope (whole prefecture, a county or a customer)."""

    quarter: Quarter
    scope_name: str  # 海西州 / 格尔木市 / a customer's name
    counties: list[str]  # the counties of the scope, in configured order
    flags: pd.DataFrame  # quarter_flags rows of the scope
    reported: pd.DataFrame  # open_reported_at_start rows of the scope
    severities: list[str]
    by_county: list[dict] = field(default_factory=list)  # [{"county", **figures}], total last (county "合计")

    @property
    def total(self) -> dict:
        return self.by_county[-1]

    def breakdown(self, column: str, values: Sequence[str]) -> list[dict]:
        """Figures per value of `column` (severity, category or customer_grade)."""
        keys = _ordered(self.flags[column].dropna().unique() if len(self.flags) else [], values)
        return [{"key": k, **figures_of(self.flags[self.flags[column] == k] if len(self.flags) else self.flags)}
                for k in keys]

    def by_month(self) -> list[dict]:
        """Found and remediated per calendar month of the quarter."""
        rows = []
        for m in self.quarter.months:
            found = sum(1 for d in self.flags["found_date"].map(_as_date) if d is not None and d.month == m
                        and self.quarter.start <= d <= self.quarter.end) if len(self.flags) else 0
            rem = sum(1 for d in self.flags["done_on"] if d is not None and d.month == m
                      and self.quarter.start <= d <= self.quarter.end) if len(self.flags) else 0
            rows.append({"month": f"{m}月", "found": found, "remediated": rem})
        return rows

    def status_by_county(self) -> list[dict]:
        """Hazards of the quarter per county by status at quarter end: 未整改, 整改中, 已整改 (in quarter)."""
        rows = []
        for county in self.counties:
            f = self.flags[self.flags["county"] == county] if len(self.flags) else self.flags
            open_ = f[f["open_at_end"]] if len(f) else f
            rows.append({"county": county,
                         "未整改": int((open_["status"] == "未整改").sum()) if len(open_) else 0,
                         "整改中": int((open_["status"] != "未整改").sum()) if len(open_) else 0,
                         "已整改": int(f["remediated_in_quarter"].sum()) if len(f) else 0})
        return rows

    def briefing(self) -> pd.DataFrame:
        """The 通报清单 rows: hazards of the quarter by county, customer (customers with major hazards first),
        severity (major first), found date."""
        df = self.flags[self.flags["in_quarter"]].copy() if len(self.flags) else self.flags.copy()
        if not len(df):
            return df
        rank = {s: i for i, s in enumerate(reversed(self.severities))}  # 重大 → 0
        corder = {c: i for i, c in enumerate(self.counties)}
        df["_c"] = df["county"].map(corder).fillna(len(corder))
        df["_s"] = df["severity"].map(rank).fillna(len(rank))
        df["_cust"] = df.groupby(["county", "customer_id"])["_s"].transform("min")
        df["_f"] = df["found_date"].map(lambda d: _as_date(d) or dt.date.min)
        return (df.sort_values(["_c", "_cust", "customer_id", "_s", "_f", "hazard_id"], kind="stable")
                .drop(columns=["_c", "_s", "_cust", "_f"]).reset_index(drop=True))

    def overdue(self) -> pd.DataFrame:
        """Overdue at quarter end, by county, major first, longest overdue first."""
        df = self.flags[self.flags["overdue_at_end"]].copy() if len(self.flags) else self.flags.copy()
        if not len(df):
            return df
        rank = {s: i for i, s in enumerate(reversed(self.severities))}
        corder = {c: i for i, c in enumerate(self.counties)}
        df["_c"] = df["county"].map(corder).fillna(len(corder))
        df["_s"] = df["severity"].map(rank).fillna(len(rank))
        df["_d"] = -df["days_overdue"].fillna(0).astype(int)
        return (df.sort_values(["_c", "_s", "_d", "customer_id", "hazard_id"], kind="stable")
                .drop(columns=["_c", "_s", "_d"]).reset_index(drop=True))

    def remediated(self) -> pd.DataFrame:
        """Remediated in the quarter, by county, completion date."""
        df = self.flags[self.flags["remediated_in_quarter"]].copy() if len(self.flags) else self.flags.copy()
        if not len(df):
            return df
        corder = {c: i for i, c in enumerate(self.counties)}
        df["_c"] = df["county"].map(corder).fillna(len(corder))
        return (df.sort_values(["_c", "done_on", "customer_id", "hazard_id"], kind="stable")
                .drop(columns=["_c"]).reset_index(drop=True))

    def digest(self) -> str:
        """A hash of what the workbook shows (for the delivery ledger; stable across rewrites)."""
        cols = [c for c in ("county", "hazard_id", "status", "deadline", "completed_date", "description",
                            "consequence", "suggestion", "owner", "gov_supervised", "severity", "category")
                if c in self.flags.columns]
        h = hashlib.sha256(json.dumps({"q": self.quarter.label, "scope": self.scope_name,
                                       "fig": self.by_county}, ensure_ascii=False, default=str).encode())
        if len(self.flags):
            h.update(self.flags[cols].astype(str).to_csv(index=False).encode())
        return h.hexdigest()


def _scope(flags: pd.DataFrame, reported: pd.DataFrame, counties: Sequence[str],
           customer: tuple[str, str] | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    def cut(df: pd.DataFrame) -> pd.DataFrame:
        if not len(df):
            return df
        mask = df["county"].isin(list(counties))
        if customer is not None:
            mask &= (df["county"] == customer[0]) & (df["customer_id"] == customer[1])
        return df[mask]
    return cut(flags), cut(reported)


def build_summary(flags: pd.DataFrame, reported: pd.DataFrame, quarter: Quarter, settings: Settings, *,
                  county: str | None = None, customer: tuple[str, str] | None = None,
                  scope_name: str | None = None) -> QuarterlySummary:
    """A summary of the whole prefecture, of one county, or of one customer ((county, customer_id))."""
    if customer is not None:
        county = customer[0]
    if county is None:
        seen = set(flags["county"]) if len(flags) else set()
        counties = _ordered(seen, settings.counties)
    else:
        counties = [county]
    f, r = _scope(flags, reported, counties, customer)
    name = scope_name or (county if county is not None else settings.prefecture)
    s = QuarterlySummary(quarter, name, counties, f, r, list(settings.severities))
    rows = []
    for c in counties:
        fc = f[f["county"] == c] if len(f) else f
        rc = r[r["county"] == c] if len(r) else r
        rows.append({"county": c, **figures_of(fc, rc)})
    rows.append({"county": "合计", **figures_of(f, r)})
    s.by_county = rows
    return s


@dataclass
class QuarterData:
    """The two snapshots a quarter's summaries are built from."""

    quarter: Quarter
    flags: pd.DataFrame
    reported: pd.DataFrame


def quarter_data(store: Store, quarter: Quarter) -> QuarterData:
    """Read the store as it stood at the quarter's end (and, for reconciliation, the day before it began)."""
    flags = quarter_flags(store.register_as_of(quarter.end), quarter)
    before = store.register_as_of(quarter.start - dt.timedelta(days=1))
    return QuarterData(quarter, flags, open_reported_at_start(before, quarter))


# ---- file names ------------------------------------------------------------------------------
def quarterly_dir(settings: Settings, quarter: Quarter) -> Path:
    return settings.outbox / "quarterly" / quarter.label


def workbook_name(scope_name: str, quarter: Quarter) -> str:
    return f"{scope_name}{quarter.title}电力安全隐患治理情况汇总.xlsx"


def _safe(name: str) -> str:
    return re.sub(r'[\\/:*?"<>|\x00-\x1f]', "_", name).strip() or "未命名"


# ---- the workbook ----------------------------------------------------------------------------
OVERVIEW = "总览"
BRIEFING = "通报清单"
OVERDUE = "逾期督办"
REMEDIATED = "本季度销号"

BRIEFING_HEADERS = ["序号", "隐患编号", "隐患等级", "隐患类别", "发现日期", "本季度情况", "隐患描述", "可能后果",
                    "整改建议", "整改期限", "整改责任人", "整改状态", "完成日期", "逾期天数", "政府督办"]
BRIEFING_WIDTHS = [5, 14, 7, 10, 11, 9, 30, 22, 22, 11, 9, 8, 11, 7, 7]
OVERDUE_HEADERS = ["县(市)", "户号", "客户名称", "重要用户等级", "隐患编号", "隐患等级", "隐患类别", "隐患描述",
                   "发现日期", "告知日期", "整改期限", "逾期天数", "整改状态", "整改责任人", "防控措施", "政府督办"]
OVERDUE_WIDTHS = [9, 13, 22, 8, 14, 7, 10, 30, 11, 11, 11, 7, 8, 9, 20, 7]
REMEDIATED_HEADERS = ["县(市)", "户号", "客户名称", "重要用户等级", "隐患编号", "隐患等级", "隐患类别", "隐患描述",
                      "发现日期", "整改期限", "完成日期", "整改用时(天)", "是否按期", "整改资金(万元)"]
REMEDIATED_WIDTHS = [9, 13, 22, 8, 14, 7, 10, 32, 11, 11, 11, 8, 7, 9]

NOTES = [
    "口径说明：",
    "1. 数据取自截至季末各县(市)报送并通过校验的隐患台账（每项隐患取季末前最新一次报送的版本）。",
    "2. 季初未整改：季度开始前发现、且季度开始时尚未整改完成的隐患；本季度新发现：发现日期在本季度内的隐患。",
    "3. 本季度销号：整改状态为“已整改”且完成日期在本季度内的隐患；季末未整改：截至季末尚未整改完成的隐患。",
    "4. 季初未整改 + 本季度新发现 − 本季度销号 = 季末未整改（本季度内发现并销号的隐患计入新发现和销号，不计入未整改）。",
    "5. 本季度涉及隐患 = 季初未整改 + 本季度新发现；整改率 = 本季度销号 ÷ 本季度涉及隐患；整改用时为完成日期与发现日期相差的天数。",
    "6. 季末逾期：季末尚未整改且整改期限早于季末最后一天的隐患，与汇总台账、月度通报的逾期口径一致。",
    "7. 上季度末台账记载未整改：按上季度末报送台账统计的未整改数；补报及更正 = 季初未整改 − 该数，反映季度结束后补报或更正状态的隐患。",
    "8. 从县(市)最新台账中消失的隐患仍按最后报送的状态统计，在通报清单中注明。",
]


class _Styles:
    """Formats of the quarterly workbook beyond the shared ones."""

    def __init__(self, wb):
        self.base = Formats(wb)
        f = self.base
        self.section = wb.add_format({"font_name": "宋体", "font_size": 11, "bold": True})
        self.note = wb.add_format({"font_name": "宋体", "font_size": 9, "text_wrap": False})
        self.median = wb.add_format({"font_name": "宋体", "font_size": 10, "valign": "vcenter", "border": 1,
                                     "num_format": "0.0", "align": "center"})
        self.total_pct = wb.add_format({"font_name": "宋体", "font_size": 10, "valign": "vcenter", "border": 1,
                                        "bold": True, "bg_color": "#F2F2F2", "num_format": "0.0%",
                                        "align": "center"})
        self.total_median = wb.add_format({"font_name": "宋体", "font_size": 10, "valign": "vcenter", "border": 1,
                                           "bold": True, "bg_color": "#F2F2F2", "num_format": "0.0",
                                           "align": "center"})
        self.county_band = wb.add_format({"font_name": "宋体", "font_size": 11, "bold": True, "border": 1,
                                          "bg_color": "#BDD7EE", "valign": "vcenter"})
        self.customer_band = wb.add_format({"font_name": "宋体", "font_size": 10, "bold": True, "border": 1,
                                            "bg_color": "#EDEDED", "valign": "vcenter", "text_wrap": True})
        self.major = wb.add_format({"font_name": "宋体", "font_size": 10, "border": 1, "bold": True,
                                    "font_color": "#C00000", "align": "center", "valign": "vcenter"})
        self.f = f


def _cell_value(v):
    if v is None or (not isinstance(v, (str, dt.date)) and pd.isna(v)):
        return None
    if isinstance(v, pd.Timestamp):
        return v.date()
    if hasattr(v, "item") and not isinstance(v, str):  # numpy scalars → plain Python
        return v.item()
    return v


def _write_figures_table(ws, st: _Styles, row: int, label: str, rows: list[dict], *, key: str,
                         with_reconciliation: bool, total: bool) -> tuple[int, int, int]:
    """Write a figures table with header at `row`. Returns (first data row, last data row, next free row)."""
    f = st.f
    headers = [label, *FIGURES.values(), *(RECONCILIATION.values() if with_reconciliation else ())]
    keys = [*FIGURES, *(RECONCILIATION if with_reconciliation else ())]
    ws.set_row(row, 30)
    for c, h in enumerate(headers):
        ws.write_string(row, c, h, f.header)
    r = row
    for i, rec in enumerate(rows):
        r = row + 1 + i
        is_total = total and i == len(rows) - 1
        write_cell(ws, r, 0, rec[key], f.total if is_total else f.text)
        for c, k in enumerate(keys, start=1):
            v = rec[k]
            if k == "remediation_rate":
                fmt = st.total_pct if is_total else f.percent
            elif k == "median_days":
                fmt = st.total_median if is_total else st.median
            else:
                fmt = f.total_int if is_total else f.integer
            if v is None:
                ws.write_string(r, c, "—", f.total if is_total else f.center)
            else:
                write_cell(ws, r, c, v, fmt)
    return row + 1, r, r + 2


def write_overview(wb, st: _Styles, s: QuarterlySummary, settings: Settings) -> dict:
    """Sheet 总览: the figures tables, the notes and three native charts. Returns the table positions."""
    f = st.f
    ws = wb.add_worksheet(OVERVIEW)
    ws.set_column(0, 0, 16)
    ws.set_column(1, 11, 10)
    ws.merge_range(0, 0, 0, 11, f"{s.scope_name}{s.quarter.title}电力安全隐患治理情况汇总", f.title)
    ws.set_row(0, 28)
    ws.write_string(1, 0, f"统计期间：{s.quarter.start:%Y年%m月%d日}至{s.quarter.end:%Y年%m月%d日}；"
                          f"数据截至{s.quarter.end:%Y年%m月%d日}各县(市)报送的隐患台账；"
                          f"编制单位：{settings.company}", f.subtitle)
    pos: dict = {}
    row = 3
    ws.write_string(row, 0, "一、分县(市)情况", st.section)
    first, last, row = _write_figures_table(ws, st, row + 1, "县(市)", s.by_county, key="county",
                                            with_reconciliation=True, total=True)
    pos["by_county"] = (first, last)
    for title, label, column, values in (("二、按隐患等级", "隐患等级", "severity", s.severities),
                                          ("三、按隐患类别", "隐患类别", "category", CATEGORIES),
                                          ("四、按重要用户等级", "重要用户等级", "customer_grade", CUSTOMER_GRADES)):
        ws.write_string(row, 0, title, st.section)
        rows = s.breakdown(column, values)
        first, last, row = _write_figures_table(ws, st, row + 1, label, rows, key="key",
                                                with_reconciliation=False, total=False)
        pos[column] = (first, last)

    ws.write_string(row, 0, "五、分月新发现与销号", st.section)
    row += 1
    for c, h in enumerate(["月份", "本季度新发现", "本季度销号"]):
        ws.write_string(row, c, h, f.header)
    months = s.by_month()
    for i, m in enumerate(months, start=1):
        write_cell(ws, row + i, 0, m["month"], f.center)
        write_cell(ws, row + i, 1, m["found"], f.integer)
        write_cell(ws, row + i, 2, m["remediated"], f.integer)
    pos["by_month"] = (row + 1, row + len(months))
    row += len(months) + 2

    ws.write_string(row, 0, "六、季末整改状态（本季度涉及隐患）", st.section)
    row += 1
    for c, h in enumerate(["县(市)", "未整改", "整改中", "已整改（本季度销号）"]):
        ws.write_string(row, c, h, f.header)
    status = s.status_by_county()
    for i, rec in enumerate(status, start=1):
        write_cell(ws, row + i, 0, rec["county"], f.text)
        for c, k in enumerate(("未整改", "整改中", "已整改"), start=1):
            write_cell(ws, row + i, c, rec[k], f.integer)
    pos["status"] = (row + 1, row + len(status))
    row += len(status) + 2

    for line in NOTES:
        ws.write_string(row, 0, line, st.note)
        row += 1
    row += 1
    pos["charts_row"] = row
    _insert_charts(wb, ws, pos, row)
    setup_print(ws, header_rows=None, landscape=True, page_header=f"{s.scope_name}{s.quarter.title}隐患治理情况汇总")
    return pos


def _insert_charts(wb, ws, pos: dict, row: int) -> None:
    """Three native Excel charts whose data are the tables above (so they stay true if a cell is corrected)."""
    sheet = OVERVIEW
    s_first, s_last = pos["status"]
    chart = wb.add_chart({"type": "column", "subtype": "stacked"})
    for c, (name, colour) in enumerate((("未整改", "#C00000"), ("整改中", "#FFC000"),
                                        ("已整改（本季度销号）", "#70AD47")), start=1):
        chart.add_series({"name": [sheet, s_first - 1, c], "categories": [sheet, s_first, 0, s_last, 0],
                          "values": [sheet, s_first, c, s_last, c], "fill": {"color": colour},
                          "data_labels": {"value": True}})
    chart.set_title({"name": "各县(市)季末整改状态"})
    chart.set_y_axis({"name": "隐患数（项）", "major_gridlines": {"visible": True}})
    chart.set_legend({"position": "bottom"})
    ws.insert_chart(row, 0, chart, {"x_scale": 1.4, "y_scale": 1.1})

    m_first, m_last = pos["by_month"]
    chart = wb.add_chart({"type": "column"})
    for c, colour in ((1, "#4472C4"), (2, "#70AD47")):
        chart.add_series({"name": [sheet, m_first - 1, c], "categories": [sheet, m_first, 0, m_last, 0],
                          "values": [sheet, m_first, c, m_last, c], "fill": {"color": colour},
                          "data_labels": {"value": True}})
    chart.set_title({"name": "本季度分月新发现与销号"})
    chart.set_y_axis({"name": "隐患数（项）"})
    chart.set_legend({"position": "bottom"})
    ws.insert_chart(row, 7, chart, {"x_scale": 1.0, "y_scale": 1.1})

    c_first, c_last = pos["category"]
    chart = wb.add_chart({"type": "bar"})
    chart.add_series({"name": [sheet, c_first - 1, 2], "categories": [sheet, c_first, 0, c_last, 0],
                      "values": [sheet, c_first, 2, c_last, 2], "fill": {"color": "#4472C4"},
                      "data_labels": {"value": True}})
    chart.set_title({"name": "本季度涉及隐患（按类别）"})
    chart.set_legend({"none": True})
    chart.set_y_axis({"reverse": True})
    ws.insert_chart(row + 18, 0, chart, {"x_scale": 1.4, "y_scale": 1.1})


def _yes_no(v) -> str | None:
    return v if v in ("是", "否") else None


def write_briefing(wb, st: _Styles, s: QuarterlySummary) -> int:
    """Sheet 通报清单: the meeting handout, a band per county and per customer. Returns the hazard count."""
    f = st.f
    ws = wb.add_worksheet(BRIEFING)
    ncol = len(BRIEFING_HEADERS)
    for c, w in enumerate(BRIEFING_WIDTHS):
        ws.set_column(c, c, w)
    ws.merge_range(0, 0, 0, ncol - 1, f"{s.scope_name}{s.quarter.title}电力安全隐患通报清单", f.title)
    ws.set_row(0, 28)
    ws.merge_range(1, 0, 1, ncol - 1, f"本季度新发现及截至季末仍未整改的全部隐患（含本季度已销号）。"
                                      f"统计期间：{s.quarter.start:%Y-%m-%d}至{s.quarter.end:%Y-%m-%d}",
                   f.subtitle)
    ws.set_row(2, 30)
    for c, h in enumerate(BRIEFING_HEADERS):
        ws.write_string(2, c, h, f.header)
    df = s.briefing()
    r = 3
    n = 0
    if not len(df):
        ws.merge_range(r, 0, r, ncol - 1, "本季度无隐患。", f.text)
    for county, cdf in df.groupby("county", sort=False):
        majors = int((cdf["severity"] == MAJOR_SEVERITY).sum())
        ws.merge_range(r, 0, r, ncol - 1,
                       f"{county}：涉及客户 {cdf['customer_id'].nunique()} 户，隐患 {len(cdf)} 项"
                       f"（其中重大隐患 {majors} 项，季末未整改 {int(cdf['open_at_end'].sum())} 项）",
                       st.county_band)
        ws.set_row(r, 22)
        r += 1
        for (cid, name), kdf in cdf.groupby(["customer_id", "customer_name"], sort=False, dropna=False):
            first = kdf.iloc[0]
            extra = "，".join(x for x in (f"重要用户等级：{first['customer_grade']}" if first["customer_grade"] else "",
                                         f"行业：{first['industry']}" if _cell_value(first["industry"]) else "") if x)
            ws.merge_range(r, 0, r, ncol - 1, f"户号 {cid}　{_cell_value(name) or ''}（{extra}）", st.customer_band)
            r += 1
            for rec in kdf.to_dict("records"):
                n += 1
                situation = "本季度新发现" if rec["found_in_quarter"] else "季初未整改"
                status = rec["status"]
                if rec["remediated_in_quarter"]:
                    status = "已整改（本季度销号）"
                if rec.get("absent"):
                    status = f"{status}（未在最新台账中）"
                days = _cell_value(rec["days_overdue"])
                values = [n, rec["hazard_id"], rec["severity"], rec["category"], _cell_value(rec["found_date"]),
                          situation, rec["description"], _cell_value(rec["consequence"]),
                          _cell_value(rec["suggestion"]),
                          _cell_value(rec["deadline"]) if _cell_value(rec["deadline"]) else "未明确整改期限",
                          _cell_value(rec["owner"]), status, _cell_value(rec["completed_date"]),
                          int(days) if days is not None else None, _yes_no(rec["gov_supervised"])]
                overdue = bool(rec["overdue_at_end"])
                for c, v in enumerate(values):
                    if c == 2 and v == MAJOR_SEVERITY:
                        fmt = st.major
                    elif isinstance(v, dt.date):
                        fmt = f.alert_date if overdue and c == 9 else f.date
                    elif c in (6, 7, 8, 11):
                        fmt = f.alert if overdue and c == 11 else f.wrap
                    elif isinstance(v, int):
                        fmt = f.integer
                    else:
                        fmt = f.center if c in (2, 3, 5, 10, 14) else f.text
                    write_cell(ws, r, c, v, fmt)
                r += 1
    ws.freeze_panes(3, 0)
    setup_print(ws, header_rows=(2, 2), landscape=True,
                page_header=f"{s.scope_name}{s.quarter.title}隐患通报会材料")
    return n


def _rows(df: pd.DataFrame, columns: list) -> Iterable[list]:
    for rec in df.to_dict("records"):
        yield [c(rec) if callable(c) else _cell_value(rec[c]) for c in columns]


def write_overdue(wb, st: _Styles, s: QuarterlySummary) -> int:
    """Sheet 逾期督办: overdue at quarter end, for government supervision."""
    ws = wb.add_worksheet(OVERDUE)
    ws.merge_range(0, 0, 0, len(OVERDUE_HEADERS) - 1,
                   f"{s.scope_name}{s.quarter.title}逾期未整改隐患督办清单（截至{s.quarter.end:%Y-%m-%d}）", st.f.title)
    ws.set_row(0, 28)
    df = s.overdue()
    cols = ["county", "customer_id", "customer_name", "customer_grade", "hazard_id", "severity", "category",
            "description", "found_date", "notice_date", "deadline",
            lambda r: int(r["days_overdue"]) if _cell_value(r["days_overdue"]) is not None else None,
            "status", "owner", "contingency", lambda r: _yes_no(r["gov_supervised"]) or "否"]
    return write_table(wb, ws, st.f, OVERDUE_HEADERS, _rows(df, cols) if len(df) else [], first_row=1,
                       widths=OVERDUE_WIDTHS, wrap_cols=[2, 7, 14],
                       page_header=f"{s.scope_name}{s.quarter.title}逾期督办清单")


def write_remediated(wb, st: _Styles, s: QuarterlySummary) -> int:
    """Sheet 本季度销号: hazards remediated in the quarter."""
    ws = wb.add_worksheet(REMEDIATED)
    ws.merge_range(0, 0, 0, len(REMEDIATED_HEADERS) - 1, f"{s.scope_name}{s.quarter.title}已整改销号隐患清单",
                   st.f.title)
    ws.set_row(0, 28)
    df = s.remediated()

    def on_time(r):
        d, done = _cell_value(r["deadline"]), r["done_on"]
        return "未明确期限" if d is None else ("是" if done <= d else "否")

    cols = ["county", "customer_id", "customer_name", "customer_grade", "hazard_id", "severity", "category",
            "description", "found_date", "deadline", lambda r: r["done_on"],
            lambda r: int(r["days_open"]) if _cell_value(r["days_open"]) is not None else None,
            on_time, lambda r: _cell_value(r["funds"])]
    return write_table(wb, ws, st.f, REMEDIATED_HEADERS, _rows(df, cols) if len(df) else [], first_row=1,
                       widths=REMEDIATED_WIDTHS, wrap_cols=[2, 7],
                       page_header=f"{s.scope_name}{s.quarter.title}销号清单")


def write_quarterly_workbook(path: Path, s: QuarterlySummary, settings: Settings) -> Path:
    """Write one quarterly summary workbook (总览, 通报清单, 逾期督办, 本季度销号) atomically."""
    with atomic_workbook(path) as wb:
        st = _Styles(wb)
        write_overview(wb, st, s, settings)
        write_briefing(wb, st, s)
        write_overdue(wb, st, s)
        write_remediated(wb, st, s)
    return path


# ---- everything for a quarter -----------------------------------------------------------------
@dataclass
class QuarterlyWorkbook:
    scope: str  # "prefecture" | "county" | "customer"
    name: str  # 海西州 / county / customer name
    county: str | None
    customer_id: str | None
    path: Path
    digest: str
    figures: dict  # the scope's total figures
    hazards: int  # rows of the 通报清单

    def as_json(self) -> dict:
        return {"scope": self.scope, "name": self.name, "county": self.county, "customer_id": self.customer_id,
                "path": str(self.path), "digest": self.digest, "figures": self.figures, "hazards": self.hazards}


def summaries(data: QuarterData, settings: Settings) -> list[QuarterlySummary]:
    """The prefecture-wide summary first, then one per configured county."""
    out = [build_summary(data.flags, data.reported, data.quarter, settings)]
    for county in settings.counties:
        out.append(build_summary(data.flags, data.reported, data.quarter, settings, county=county))
    return out


def write_summary(s: QuarterlySummary, settings: Settings, *, scope: str, customer_id: str | None = None,
                  folder: Path | None = None) -> QuarterlyWorkbook:
    """Write one summary under outbox/quarterly/<quarter>/ (customers in a 客户 sub-folder)."""
    base = folder or quarterly_dir(settings, s.quarter)
    if scope == "customer":
        path = base / "客户" / _safe(f"{s.counties[0]}_{customer_id}_{workbook_name(s.scope_name, s.quarter)}")
    else:
        path = base / _safe(workbook_name(s.scope_name, s.quarter))
    write_quarterly_workbook(path, s, settings)
    return QuarterlyWorkbook(scope, s.scope_name, None if scope == "prefecture" else s.counties[0], customer_id,
                             path, s.digest(), s.total, int(s.flags["in_quarter"].sum()) if len(s.flags) else 0)


def customer_summary(data: QuarterData, settings: Settings, county: str, customer_id: str) -> QuarterlySummary | None:
    """A summary of one customer's own hazards, or None when it has none in the quarter."""
    f = data.flags
    if not len(f):
        return None
    mine = f[(f["county"] == county) & (f["customer_id"] == customer_id) & f["in_quarter"]]
    if not len(mine):
        return None
    name = _cell_value(mine.iloc[0]["customer_name"]) or customer_id
    return build_summary(data.flags, data.reported, data.quarter, settings, customer=(county, customer_id),
                         scope_name=str(name))


def county_figures_rows(s: QuarterlySummary) -> list[dict]:
    """Per-county figures with Chinese keys (for artifacts and the CLI)."""
    rows = []
    for rec in s.by_county:
        row = {"县(市)": rec["county"]}
        for k, h in {**FIGURES, **RECONCILIATION}.items():
            v = rec.get(k)
            if k == "remediation_rate" and v is not None:
                v = f"{v:.1%}"
            elif k == "median_days" and v is not None:
                v = round(v, 1)
            row[h] = v
        rows.append(row)
    return rows


def write_quarterly_summaries(store: Store, settings: Settings, quarter: Quarter) -> list[QuarterlyWorkbook]:
    """The whole quarterly output without Prefect: the prefecture workbook and one per county."""
    data = quarter_data(store, quarter)
    out = []
    for i, s in enumerate(summaries(data, settings)):
        out.append(write_summary(s, settings, scope="prefecture" if i == 0 else "county"))
    return out


# ---- sending the summaries to the three parties ------------------------------------------------
QUARTERLY_KIND = "quarterly"
SUBJECT_PREFIX = "【用电安全1+1+1工作网】"


def book_for(recipient, books: list[QuarterlyWorkbook]) -> QuarterlyWorkbook | None:
    """The workbook an authority or supply company gets: its county's, or the prefecture's for
    prefecture-level units. Customers get their own (see `customer_book`)."""
    from schemas.vocab import PARTY_CUSTOMER

    if recipient.party == PARTY_CUSTOMER:
        return None
    scope = "prefecture" if recipient.county is None else "county"
    return next((b for b in books if b.scope == scope and (scope == "prefecture" or b.county == recipient.county)),
                None)


def customer_book(data: QuarterData, settings: Settings, recipient) -> QuarterlyWorkbook | None:
    """Write the customer's own quarterly workbook (its hazards only), or None when it has none this quarter."""
    if not recipient.county or not recipient.customer_id:
        return None
    s = customer_summary(data, settings, recipient.county, recipient.customer_id)
    if s is None:
        return None
    s.scope_name = recipient.org_name or s.scope_name
    return write_summary(s, settings, scope="customer", customer_id=recipient.customer_id)


def quarterly_mail_text(recipient, book: QuarterlyWorkbook, quarter: Quarter, settings: Settings) -> tuple[str, str]:
    """(subject, body) of the mail carrying a quarterly summary."""
    from schemas.vocab import PARTY_CUSTOMER, PARTY_GOV, PARTY_UTILITY

    f = book.figures
    subject = f"{SUBJECT_PREFIX}{quarter.title}电力安全隐患治理情况汇总（{book.name}）"
    meeting = quarter.next().start
    rate = "—" if f.get("remediation_rate") is None else f"{f['remediation_rate']:.1%}"
    ask = {PARTY_CUSTOMER: "请贵单位对照通报清单逐项落实整改，并在季度隐患通报会上明确整改期限。",
           PARTY_GOV: "请贵单位对“逾期督办”工作表所列隐患予以督办，并督促客户按期整改。",
           PARTY_UTILITY: "请据此准备季度隐患通报会材料，并跟踪服务直至隐患销号。"}.get(recipient.party, "")
    lines = [f"{recipient.org_name}：", "",
             f"现将{book.name}{quarter.title}电力安全隐患治理情况汇总发送给贵单位"
             f"（统计期间 {quarter.start:%Y年%m月%d日}至{quarter.end:%Y年%m月%d日}）。", "",
             f"季初未整改 {f['open_at_start']} 项，本季度新发现 {f['found']} 项，本季度销号 {f['remediated']} 项，"
             f"季末未整改 {f['open_at_end']} 项（其中逾期 {f['overdue_at_end']} 项），整改率 {rate}。", "",
             f"季度隐患通报会请于 {meeting:%Y年%m月}10日前召开；附件中的“通报清单”工作表已按 A4 横向设置，可直接打印作为会议材料。",
             ask, "", settings.company, settings.mail_from_name,
             f"本邮件由用电安全“1+1+1”工作网隐患台账系统自动发送；如有疑问，请回复 {settings.mail_from}。"]
    return subject, "\n".join(lines)


def send_quarterly_book(ledger, transport, settings: Settings, recipient, book: QuarterlyWorkbook,
                        quarter: Quarter, resend: bool = False):
    """Mail one recipient its quarterly workbook, at most once per quarter (ledger kind "quarterly")."""
    from hazardnet.delivery.ledger import deliver_items
    from hazardnet.delivery.mail import build_message

    name = book.path.name

    def build(message_id: str, periods: list[str]):
        subject, body = quarterly_mail_text(recipient, book, quarter, settings)
        return build_message(settings, to=list(recipient.addresses), subject=subject, body=body,
                             attachment=(name, Path(book.path).read_bytes()), message_id=message_id,
                             file_stem=f"{quarter.label}_{Path(book.path).stem}")

    return deliver_items(ledger, transport, settings, kind=QUARTERLY_KIND, recipient=recipient,
                         items=[(quarter.label, book.digest)], build=build, rows_of=lambda _: book.hazards,
                         attachment=name, resend=resend)


def quarterly_delivery(ledger, transport, settings: Settings, recipient, data: QuarterData,
                       books: list[QuarterlyWorkbook]) -> dict:
    """One recipient's quarterly mail: its county's or the prefecture's workbook, a customer its own one
    (written now); a customer with no hazard in the quarter gets nothing. Returns its delivery record."""
    from hazardnet.delivery.ledger import delivery_record
    from schemas.vocab import PARTY_CUSTOMER

    book = customer_book(data, settings, recipient) if recipient.party == PARTY_CUSTOMER else book_for(recipient, books)
    if book is None:
        return delivery_record(recipient, status="skipped", note="本季度范围内无隐患，不发送")
    return send_quarterly_book(ledger, transport, settings, recipient, book, data.quarter).as_json()


def send_quarterly_summaries(settings: Settings, store: Store, quarter: Quarter, transport, *,
                             retries: int = 0) -> dict:
    """Write the quarter's workbooks and mail them to every recipient once, without Prefect (tests, scripts)."""
    from hazardnet.delivery.directory import load_directory
    from hazardnet.delivery.ledger import DeliveryLedger, bulletin_lock, failed_record
    from hazardnet.delivery.mail import TemporaryMailError
    from hazardnet.settings import today

    data = quarter_data(store, quarter)
    books = [write_summary(s, settings, scope="prefecture" if i == 0 else "county")
             for i, s in enumerate(summaries(data, settings))]
    directory = load_directory(settings, store, today())
    ledger = DeliveryLedger(store)
    deliveries = []
    with bulletin_lock(settings):
        for recipient in directory.recipients:
            for attempt in range(retries + 1):
                try:
                    deliveries.append(quarterly_delivery(ledger, transport, settings, recipient, data, books))
                    break
                except TemporaryMailError as exc:
                    if attempt == retries:
                        deliveries.append(failed_record(recipient, exc.reason))
    return {"quarter": quarter.label, "workbooks": [b.as_json() for b in books], "deliveries": deliveries,
            "directory": {"source": directory.source, "file": directory.file_name,
                          "findings": [f.as_json() for f in directory.findings]}}
