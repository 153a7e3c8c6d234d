"""Quarterly figures (季度隐患治理情况): what the quarterly workbook, briefing deck and newsletter show.

Pure computation over the store; the files are written by `quarterly_workbook`, `briefing_deck` and
`newsletter`.

Definitions
-----------
A quarter Q runs from its first day `qs` to its last day `qe`, both inclusive. A summary is made **on a
report date** `as_of` (数据截至; `hazardnet quarterly --as-of`, default today in the configured time zone, `HAZARDNET_TIMEZONE`, Asia/Shanghai by default) and counts the
quarter's events by their own dates over what is known on that date: the snapshot
``store.register_as_of(as_of)``, the latest version of every hazard reported by an accepted submission
dated on or before `as_of`. A meeting held in October thus counts the September remediations that the
October registers report; a summary made with ``as_of = qe`` is the store as it stood at the quarter's end.

For each hazard of that snapshot found on or before `qe`:

- *found* is its 发现日期 (found_date);
- *done on* is the day it was remediated: its 完成日期 (completed_date) when its status is 已整改; when a
  register says 已整改 without a completed date (the schema rejects that, so only legacy rows), the date of
  the submission that carried that version stands in; an open hazard has no *done on*, nor has a hazard
  已整改 that a failed re-inspection (复查结论 不合格) reopened: as known on the report date its claim did not hold,
  so it is open at the quarter's end (and judged overdue there by its deadline), never remediated.

Then, per hazard (each a yes/no flag):

- **季初未整改 open at quarter start**: found before `qs`, and not done before `qs`
  (no *done on*, or *done on* ≥ `qs`);
- **本季度新发现 found in quarter**: `qs` ≤ found ≤ `qe`;
- **本季度报告已整改 remediated in quarter**: `qs` ≤ *done on* ≤ `qe` (the customer's claim: 销号, closed after a
  passing re-inspection, is 本季度复查销号 of `closure_figures`);
- **季末未整改 open at quarter end**: found ≤ `qe` and (no *done on*, or *done on* > `qe`);
- **本季度涉及 hazards of the quarter** = open at start + found in quarter (the two are disjoint): every
  hazard found in or still open during the quarter — the rows of the 通报清单;
- **季末逾期 overdue at quarter end**: ``rules.with_derived(view, qe)["overdue"]`` — the very
  same rule as the consolidated register and the bulletins — applied to the hazard as it stood at `qe`: a
  hazard done after `qe` counts as not yet done, and its 整改期限 is the one in force at `qe` (the version of
  ``register_as_of(qe)``; for a hazard first reported after `qe`, the version known on the report date), so
  an extension granted after the quarter does not hide that the hazard was overdue at its end.
  季末逾期天数 days overdue = `qe` − that deadline.

A hazard found *and* remediated within the quarter counts once in "found" and once in "remediated", and
in neither "open" figure. Because each hazard contributes 1 + 0 − 1 = 0, 0 + 1 − 1 = 0, 1 + 0 − 0 = 1,
0 + 1 − 0 = 1 or 0 + 0 − 0 = 0 to both sides, **open at start + found − remediated = open at end** holds
for every single hazard, hence for every county, severity, category and customer grade, and in total.

Aggregates over a set of hazards:

- **涉及客户数 customers with hazards**: distinct 户号 (per county) among the hazards of the quarter;
- **整改率 remediation rate**: remediated in quarter ÷ hazards of the quarter (blank when there are none);
- **整改用时中位数 median days to remediate**: median of (*done on* − found) in days over the hazards
  remediated in the quarter (rules.days_open of a done hazard);
- **上季度末台账记载未整改 open at start as reported then**: hazards found before `qs` and not done
  before `qs` in the register as the store stood on the previous quarter's report date, i.e. what last
  quarter's summary showed as open at its end. That report date is taken at the same distance after its
  quarter's end as this one (``previous_report_date``: as_of 2026-11-15 for 2026Q3 → 2026-08-15 for
  2026Q2), so summaries made on the same schedule compare like with like. The difference **补报及更正** =
  open at start − that figure counts hazards reported late or statuses corrected since; it explains why two
  summaries differ. For a county with no accepted register on that earlier date (the first quarter the system
  knows of it) and hazards open at start, there was no previous summary to reconcile those with: both figures
  are None (shown as "—"), never "0" and "open at start"; so is a total over such a county. A county without
  an earlier register and with nothing open at start (one that never submitted) shows 0 and 0, truthfully.

Deadline history (逾期督办): for each hazard overdue at quarter end, its first 整改期限 ever given, its
current one (the version known on the report date) and 整改期限变更次数, how often a given deadline was
replaced by a different one over the versions stored up to the report date — registers and meeting commitments,
as the 督办 ladder counts them (``Store.deadline_histories``). Every deadline here, at quarter end and on the report
date, is the hazard's current one then (``rules.with_current_deadlines``: a commitment dated by then included).

整改承诺 (the commitment table of the meeting): the hazards of the quarter still open as known on the report
date (not 已整改 in the latest version, or 已整改 but reopened by a failed re-inspection).

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

import pandas as pd

from hazardnet import rules
from hazardnet.publish.closure_figures import (
    CLOSURE_FIGURES,
    awaiting_at_end,
    closed_in_quarter,
    failed_reinspections,
    found_notified,
)
from hazardnet.settings import Settings
from hazardnet.store import Store

QUARTER_NUMERALS = {1: "一", 2: "二", 3: "三", 4: "四"}

# figure key -> Chinese column header, in the order of every figures table
FIGURES: dict[str, str] = {
    "customers": "涉及客户数",
    "hazards": "本季度涉及隐患",
    "open_at_start": "季初未整改",
    "found": "本季度新发现",
    "remediated": "本季度报告已整改",
    "open_at_end": "季末未整改",
    "overdue_at_end": "季末逾期",
    "remediation_rate": "整改率",
    "median_days": "整改用时中位数(天)",
    "county_supervised": "本季度县级督办",
    "prefecture_supervised": "本季度州级挂牌督办",
}
# 整改状态 of a hazard of the quarter reported done: within the quarter, or after its end (still open at its end)
DONE_IN_QUARTER = "已整改（本季度）"
DONE_AFTER_QUARTER = "已整改（季度结束后）"
RECONCILIATION: dict[str, str] = {
    "open_at_start_reported": "上季度末台账记载未整改",
    "restated": "补报及更正",
}


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


def report_date_problem(quarter: Quarter, day: dt.date) -> str | None:
    """The sentence refusing a quarter's summary as known before the quarter began (a quarter not begun yet:
    its workbooks and decks would be empty, and with sending mailed to everyone), else None."""
    if day < quarter.start:
        return f"数据截至日期 {day} 早于{quarter.title}的第一天（{quarter.start}），该季度尚无可统计的台账。"
    return None


# ---- per-hazard flags ------------------------------------------------------------------------
def done_on(df: pd.DataFrame) -> pd.Series:
    """The day each hazard was remediated (None while open): `rules.done_on` of each row."""
    if not len(df):
        return pd.Series([], dtype=object)
    facts = rules.stage_facts(df)
    return pd.Series([rules.done_on(s, rules.as_date(c), rules.as_date(v), rules.reopened(h))
                      for s, c, v, h in zip(df["status"], df["completed_date"], df["version_as_of"], facts)],
                     index=df.index, dtype=object)


FLAG_COLUMNS = ("overdue", "days_overdue", "days_open", "absent", "done_on", "status_at_end", "deadline_at_end",
                "open_at_start", "found_in_quarter", "remediated_in_quarter", "open_at_end", "overdue_at_end",
                "in_quarter", "first_deadline", "deadline_changes", *CLOSURE_FIGURES)


def quarter_flags(register: pd.DataFrame, quarter: Quarter, at_end: pd.DataFrame | None = None) -> pd.DataFrame:
    """The hazards of `register` (latest versions known on the report date) found on or before the quarter's
    end, with the per-hazard flags of the module docstring: done_on, open_at_start, found_in_quarter,
    remediated_in_quarter, open_at_end, in_quarter, and, for the hazard as it stood at quarter end
    (status_at_end, deadline_at_end — the deadline of its version in `at_end`, the register as of `qe`),
    rules.with_derived's overdue / days_overdue / days_open / absent and overdue_at_end."""
    qs, qe = quarter.start, quarter.end
    if not len(register):
        df = register.copy()
        for col in FLAG_COLUMNS:
            df[col] = pd.Series([], dtype=object)
        return df
    found = register["found_date"].map(rules.as_date)
    known = found.map(lambda d: d is not None and d <= qe).astype(bool)
    df = register[known].copy()
    found, done = found[known], done_on(register[known])
    if not len(df):
        for col in FLAG_COLUMNS:
            df[col] = pd.Series([], dtype=object)
        return df
    # the hazard as it stood at quarter end: not yet done if done later (or never: 已整改 but reopened by a
    # failed re-inspection), under the deadline then in force
    later = done.map(lambda d: d is not None and d > qe).astype(bool)
    later |= done.isna() & df["status"].map(rules.is_done).astype(bool)
    view = df.copy()
    view["status"] = view["status"].where(~later, "整改中")
    view["completed_date"] = view["completed_date"].where(~later, None)
    if at_end is not None and len(at_end):
        then = dict(zip(zip(at_end["county"], at_end["hazard_id"]), at_end["deadline"]))
        keys = list(zip(df["county"], df["hazard_id"]))
        view["deadline"] = [then[k] if k in then else d for k, d in zip(keys, df["deadline"])]
    derived = rules.with_derived(view, qe)
    for col in ("overdue", "days_overdue", "days_open", "absent"):
        df[col] = derived[col]
    df["status_at_end"] = view["status"]
    df["deadline_at_end"] = view["deadline"]
    not_done_before = done.map(lambda d: d is None or d >= qs)
    df["done_on"] = done
    df["open_at_start"] = found.map(lambda d: d < qs) & not_done_before
    df["found_in_quarter"] = found.map(lambda d: qs <= d <= qe)
    df["remediated_in_quarter"] = done.map(lambda d: rules.remediated_in(d, qs, qe))
    df["open_at_end"] = done.map(lambda d: d is None or d > qe)
    df["overdue_at_end"] = df["overdue"].astype(bool)
    df["in_quarter"] = df["open_at_start"] | df["found_in_quarter"]
    for col in ("open_at_start", "found_in_quarter", "remediated_in_quarter", "open_at_end", "overdue_at_end",
                "in_quarter"):
        df[col] = df[col].astype(bool)
    df["first_deadline"] = df["deadline"]
    df["deadline_changes"] = 0
    facts = df.astype(object).where(df.notna(), None).to_dict("records")
    df["closed_in_quarter"] = [closed_in_quarter(h, qs, qe) for h in facts]
    df["awaiting_at_end"] = [awaiting_at_end(h, qe) for h in facts]
    df["failed_in_quarter"] = 0  # from every stored version: quarter_data
    df["found_notified"] = [found_notified(h, qs, qe) for h in facts]
    return df


def with_deadline_history(flags: pd.DataFrame, history: dict) -> pd.DataFrame:
    """Fill first_deadline and deadline_changes from ``Store.deadline_histories`` (keys (county, hazard_id))."""
    if not len(flags) or not history:
        return flags
    keys = list(zip(flags["county"], flags["hazard_id"]))
    flags = flags.copy()
    flags["first_deadline"] = [history[k].first if k in history and history[k].first else d
                               for k, d in zip(keys, flags["first_deadline"])]
    flags["deadline_changes"] = [len(history[k].changes) if k in history else n
                                 for k, n in zip(keys, flags["deadline_changes"])]
    return flags


def current_register_on(store: Store, day: dt.date) -> pd.DataFrame:
    """The register as the store stood on `day`, each hazard at its current deadline then (commitments included)."""
    return rules.with_current_deadlines(store.register_as_of(day), store.deadline_histories(day, differing_only=True))


def previous_report_date(quarter: Quarter, as_of: dt.date) -> dt.date:
    """The report date of the previous quarter's summary that this one reconciles with: as far after
    that quarter's end as `as_of` is after this quarter's end."""
    return quarter.previous().end + (as_of - quarter.end)


def open_reported_at_start(register_before: pd.DataFrame, quarter: Quarter) -> pd.DataFrame:
    """Hazards found before the quarter and not done before it began, in an earlier snapshot of the register
    (the one the previous quarter's summary was made from)."""
    if not len(register_before):
        return register_before
    done = done_on(register_before)
    found = register_before["found_date"].map(rules.as_date)
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
        **{k: int(flags[k].sum()) if len(flags) and k in flags.columns else 0 for k in CLOSURE_FIGURES},
        # hazards that reached the rung in the quarter (the supervision job records the day: store.supervision_rungs)
        "county_supervised": _count(flags, "county_supervised_in_quarter"),
        "prefecture_supervised": _count(flags, "prefecture_supervised_in_quarter"),
    }
    if reported is not None:
        out["open_at_start_reported"] = len(reported)
        out["restated"] = out["open_at_start"] - len(reported)
    return out


def _count(flags: pd.DataFrame, column: str) -> int:
    return int(flags[column].sum()) if len(flags) and column in flags.columns else 0


def with_supervision(flags: pd.DataFrame, reached: dict, quarter: Quarter) -> pd.DataFrame:
    """Each hazard's rung on the ladder (the highest reached, `rung`, and the day, `rung_reached`) and whether it
    reached 县级督办 / 州级挂牌督办 in the quarter; `reached` from ``Store.rungs_reached`` ((county, hazard_id) ->
    {rung: day})."""
    from hazardnet.rules import COUNTY, PREFECTURE, RUNG_ZH, RUNGS

    flags = flags.copy()
    got = [reached.get(key, {}) for key in zip(flags["county"], flags["hazard_id"].astype(str))]
    tops = [next((r for r in reversed(RUNGS) if r in g), None) for g in got]
    flags["rung"] = [RUNG_ZH[t] if t else None for t in tops]
    flags["rung_reached"] = [g[t] if t else None for g, t in zip(got, tops)]
    flags["county_supervised_in_quarter"] = [quarter.start <= g[COUNTY] <= quarter.end if COUNTY in g else False
                                             for g in got]
    flags["prefecture_supervised_in_quarter"] = [quarter.start <= g[PREFECTURE] <= quarter.end
                                                 if PREFECTURE in g else False for g in got]
    return flags


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
    as_of: dt.date  # the report date (数据截至)
    by_county: list[dict] = field(default_factory=list)  # [{"county", **figures}], total last (county "合计")
    scope: str = "prefecture"  # "prefecture" | "county" | "customer": whose summary this is

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
            found = sum(1 for d in self.flags["found_date"].map(rules.as_date) if d is not None and d.month == m
                        and self.quarter.start <= d <= self.quarter.end) if len(self.flags) else 0
            rem = sum(1 for d in self.flags["done_on"] if d is not None and d.month == m
                      and self.quarter.start <= d <= self.quarter.end) if len(self.flags) else 0
            rows.append({"month": f"{m}月", "found": found, "remediated": rem})
        return rows

    def status_by_county(self) -> list[dict]:
        """Hazards of the quarter per county by status at quarter end: 未整改, 整改中, 已整改 (in quarter).
        A hazard done after the quarter ended was not done at its end: it counts as 整改中."""
        rows = []
        for county in self.counties:
            f = self.flags[self.flags["county"] == county] if len(self.flags) else self.flags
            open_ = f[f["open_at_end"]] if len(f) else f
            rows.append({"county": county,
                         "未整改": int((open_["status_at_end"] == "未整改").sum()) if len(open_) else 0,
                         "整改中": int((open_["status_at_end"] != "未整改").sum()) if len(open_) else 0,
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
        df["_f"] = df["found_date"].map(lambda d: rules.as_date(d) or dt.date.min)
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

    def commitments(self) -> pd.DataFrame:
        """The 整改承诺 rows: hazards of the quarter still open as known on the report date, by county,
        customer, severity (major first), hazard id."""
        f = self.flags
        if not len(f):
            return f.copy()
        facts = rules.stage_facts(f)
        # not 已整改, or 已整改 but reopened by a failed re-inspection: to be remediated (again)
        df = f[[end and not rules.is_closed(h) for end, h in zip(f["open_at_end"], facts)]].copy()
        rank = {s: i for i, s in enumerate(reversed(self.severities))}
        corder = {c: i for i, c in enumerate(self.counties)}
        df["_c"] = df["county"].map(corder).fillna(len(corder))
        df["_s"] = df["severity"].map(rank).fillna(len(rank))
        return (df.sort_values(["_c", "customer_id", "_s", "hazard_id"], kind="stable")
                .drop(columns=["_c", "_s"]).reset_index(drop=True))

    def digest(self) -> str:
        """A hash of what the workbook shows (for the delivery ledger; stable across rewrites)."""
        cols = [c for c in ("county", "hazard_id", "status", "deadline", "completed_date", "description",
                            "consequence", "suggestion", "owner", "gov_supervised", "severity", "category",
                            "deadline_at_end", "first_deadline", "deadline_changes")
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
                  as_of: dt.date, county: str | None = None, customer: tuple[str, str] | None = None,
                  scope_name: str | None = None, reported_counties: Iterable[str] | None = None) -> QuarterlySummary:
    """A summary of the whole prefecture, of one county, or of one customer ((county, customer_id)).
    `reported_counties`: the counties the previous report date knew a register of (None: every county)."""
    if customer is not None:
        county = customer[0]
    if county is None:
        seen = set(flags["county"]) if len(flags) else set()
        counties = _ordered(seen, settings.counties)
    else:
        counties = [county]
    f, r = _scope(flags, reported, counties, customer)
    name = scope_name or (county if county is not None else settings.prefecture)
    scope = "customer" if customer is not None else ("county" if county is not None else "prefecture")
    s = QuarterlySummary(quarter, name, counties, f, r, list(settings.severities), as_of, scope=scope)
    known = set(counties) if reported_counties is None else set(reported_counties)
    rows = []
    for c in counties:
        fc = f[f["county"] == c] if len(f) else f
        rc = r[r["county"] == c] if len(r) else r
        rows.append({"county": c, **figures_of(fc, rc)})
    unreconciled = [row for row in rows if row["county"] not in known and row["open_at_start"]]
    total = {"county": "合计", **figures_of(f, r)}
    for row in [*unreconciled, *([total] if unreconciled else [])]:  # no earlier summary counted these hazards
        row["open_at_start_reported"] = row["restated"] = None
    rows.append(total)
    s.by_county = rows
    return s


@dataclass
class QuarterData:
    """What a quarter's summaries are built from: the flags of the hazards known on the report date, and
    the hazards open at the quarter's start as the previous summary reported them."""

    quarter: Quarter
    flags: pd.DataFrame
    reported: pd.DataFrame
    as_of: dt.date
    reported_counties: frozenset[str] | None = None  # counties with a register on the previous report date

def quarter_data(store: Store, quarter: Quarter, as_of: dt.date) -> QuarterData:
    """Read the store as known on `as_of`, the deadlines in force at the quarter's end, the overdue hazards'
    deadline history, and the previous report's snapshot."""
    at_end = current_register_on(store, min(quarter.end, as_of))
    flags = quarter_flags(current_register_on(store, as_of), quarter, at_end)
    if len(flags):
        overdue = flags[flags["overdue_at_end"]]
        keys = set(zip(overdue["county"], overdue["hazard_id"].astype(str)))
        history = {k: h for k, h in store.deadline_histories(as_of, {c for c, _h in keys}).items() if k in keys}
        flags = with_deadline_history(flags, history)
        failed = failed_reinspections(store.reinspection_versions(as_of), quarter.start, quarter.end)
        flags["failed_in_quarter"] = [failed.get((c, str(h)), 0) for c, h in zip(flags["county"], flags["hazard_id"])]
        flags = with_supervision(flags, store.rungs_reached(as_of), quarter)
    previous = previous_report_date(quarter, as_of)
    before = store.register_as_of(previous)
    return QuarterData(quarter, flags, open_reported_at_start(before, quarter), as_of,
                       frozenset(store.accepted_counties(previous)))


def summaries(data: QuarterData, settings: Settings) -> list[QuarterlySummary]:
    """The prefecture-wide summary first, then one per configured county."""
    known = data.reported_counties
    out = [build_summary(data.flags, data.reported, data.quarter, settings, as_of=data.as_of, reported_counties=known)]
    for county in settings.counties:
        out.append(build_summary(data.flags, data.reported, data.quarter, settings, as_of=data.as_of, county=county,
                                 reported_counties=known))
    return out


def customer_summary(data: QuarterData, settings: Settings, county: str, customer_id: str) -> QuarterlySummary | None:
    """A summary of one customer's own hazards, or None when it has none in the quarter."""
    f = data.flags
    if not len(f):
        return None
    mine = f[(f["county"] == county) & (f["customer_id"] == customer_id) & f["in_quarter"]]
    if not len(mine):
        return None
    name = cell_value(mine.iloc[0]["customer_name"]) or customer_id
    return build_summary(data.flags, data.reported, data.quarter, settings, as_of=data.as_of,
                         customer=(county, customer_id), scope_name=str(name), reported_counties=data.reported_counties)


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
            elif k in RECONCILIATION and v is None:  # no previous summary to reconcile with
                v = "—"
            row[h] = v
        rows.append(row)
    return rows


def quarter_status(rec) -> str:
    """整改状态 of a hazard of the quarter as the quarterly material shows it (通报清单, 逾期督办, the deck):
    DONE_IN_QUARTER when remediated in the quarter, DONE_AFTER_QUARTER when reported done after its end (open at
    the end, so still listed as overdue there, but not to be supervised), else its status on the report date."""
    if rec["remediated_in_quarter"]:
        return DONE_IN_QUARTER
    if cell_value(rec["done_on"]) is not None:
        return DONE_AFTER_QUARTER
    return cell_value(rec["status"]) or ""


def to_supervise(df: pd.DataFrame) -> int:
    """How many of the overdue rows `df` (QuarterlySummary.overdue) the authority is asked to supervise: those not
    reported done since the quarter's end."""
    return int(sum(1 for d in df["done_on"] if cell_value(d) is None)) if len(df) else 0


def supervision_request(df: pd.DataFrame) -> str:
    """The request under the overdue list (sheet and slides alike): only the hazards not reported done since the
    quarter's end are the authority's to supervise."""
    if not len(df):
        return ""
    ask, done = to_supervise(df), len(df) - to_supervise(df)
    text = (f"请政府主管部门对逾期督办清单中尚未整改的 {ask} 项隐患予以督办。" if ask else
            "逾期督办清单中的隐患均已在季度结束后报告整改，无需督办。")
    if done and ask:
        text += f"整改状态为“{DONE_AFTER_QUARTER}”的 {done} 项已在季度结束后报告整改，不列入督办。"
    return text


def cell_value(v):
    """A frame value as plain Python: None for every null, a date for a Timestamp, numpy scalars unwrapped."""
    if v is None or (not isinstance(v, (str, dt.date)) and pd.isna(v)):
        return None
    if isinstance(v, pd.Timestamp):
        return v.date()
    if hasattr(v, "item") and not isinstance(v, str):  # numpy scalars → plain Python
        return v.item()
    return v
