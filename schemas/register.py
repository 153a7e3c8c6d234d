"""The pandera contract of one normalized register row.

The engine first reads a county workbook into a frame whose columns are the field names of
`schemas.headers.FIELDS` (text already trimmed, dates already parsed where they could be). This
schema then decides what is wrong, lazily, so a clerk sees every problem of the file in one run.
Every check carries a name; `CHECK_MESSAGES` turns that name into the Chinese sentence shown at
the failing cell.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

import pandas as pd
import pandera.pandas as pa

from schemas.headers import FIELDS, REQUIRED_FIELDS
from schemas.table import per_distinct_value
from schemas.vocab import (
    CATEGORIES,
    CUSTOMER_GRADES,
    DEFAULT_SEVERITIES,
    INDUSTRIES,
    REINSPECT_RESULTS,
    STATUS_DONE,
    STATUSES,
    YES_NO,
)

# check name -> (field the finding points at, Chinese message template; {value} is the cell's value)
CHECK_MESSAGES: dict[str, str] = {
    "not_nullable": "必填项为空",
    "required": "必填项为空",
    "is_date": "无法识别的日期“{value}”，请填写如 2026-03-05 的日期",
    "not_future": "日期“{value}”晚于报送基准日，不能是将来的日期",
    "is_number": "不是数字：“{value}”",
    "non_negative": "整改资金不能为负数：“{value}”",
    "vocab_customer_grade": "重要用户等级“{value}”不在可选范围内（特级、一级、二级、临时性、一般）",
    "vocab_industry": "行业类别“{value}”不在可选范围内",
    "vocab_category": "隐患类别“{value}”不在可选范围内（供电电源、自备应急电源、非电性质保安措施、电气设备、运行管理、其他）",
    "vocab_severity": "隐患等级“{value}”不在可选范围内（{choices}）",
    "vocab_status": "整改状态“{value}”不在可选范围内（未整改、整改中、已整改）",
    "vocab_gov_supervised": "政府督办只能填“是”或“否”，而不是“{value}”",
    "county_matches_folder": "本行所属县市“{value}”与报送目录的县市“{county}”不一致",
    "unique_hazard_id": "隐患编号“{value}”在本表中重复出现",
    "deadline_not_before_found": "整改期限“{value}”早于发现日期",
    "completed_not_before_found": "完成日期“{value}”早于发现日期",
    "notice_not_before_found": "告知日期“{value}”早于发现日期",
    "completed_date_when_done": "整改状态为“已整改”，但未填写完成日期",
    "text_too_long": "内容过长（超过 {limit} 个字符）",
    "vocab_reinspect_result": "复查结论“{value}”不在可选范围内（合格、不合格；也可写通过/不通过、符合/不符合）",
    "reinspect_not_before_found": "复查日期“{value}”早于发现日期",
    "reinspect_not_before_completed": "复查日期“{value}”早于完成日期",
}

# frame-level checks: check name -> the field whose cell the finding points at
FRAME_CHECK_FIELDS: dict[str, str] = {
    "deadline_not_before_found": "deadline",
    "completed_not_before_found": "completed_date",
    "notice_not_before_found": "notice_date",
    "completed_date_when_done": "completed_date",
    "reinspect_not_before_found": "reinspect_date",
    "reinspect_not_before_completed": "reinspect_date",
}

MAX_TEXT = 2000
FUTURE_DATE_FIELDS = frozenset({"deadline", "supervision_deadline"})  # a deadline is a plan; every other date records the past


def _blank(v: object) -> bool:
    return v is None or (isinstance(v, float) and pd.isna(v)) or v is pd.NaT or (isinstance(v, str) and not v.strip())


# Checks run on whole columns (one call per column, not one pandera call per cell): each is the
# element rule applied in a list comprehension, which is what makes validation cheap at scale.
def _verdict(ok: list[bool] | pd.Series, index: pd.Index) -> bool | pd.Series:
    """A check's answer: plain True when every value passes (most columns of most registers: pandera then
    has no failure cases to look for, and no Series is built), else which values pass, as a Series."""
    if all(ok):
        return True
    return ok if isinstance(ok, pd.Series) else pd.Series(ok, index=index, dtype=bool)


def _each(rule):
    """A vectorized pandera check function applying `rule(value) -> bool` to every value of a column, once per
    distinct value where that is safe (`per_distinct_value`): a column whose distinct values all pass passes."""
    def check(s: pd.Series) -> bool | pd.Series:
        values = s.tolist()
        verdicts = per_distinct_value(values, rule)
        if verdicts is None:
            return _verdict([rule(v) for v in values], s.index)
        if all(verdicts.values()):
            return True
        return _verdict(list(map(verdicts.__getitem__, values)), s.index)
    return check


def _blank_mask(s: pd.Series) -> pd.Series:
    return pd.Series([_blank(v) for v in s.tolist()], index=s.index, dtype=bool)


def _check(function, name: str) -> pa.Check:
    """A named pandera check. Every rule here passes blank cells itself (a blank required cell is the
    column's not_nullable failure), so pandera need not find and drop the missing values around each call
    (ignore_na): that took about a third of the time of validating a register."""
    return pa.Check(function, name=name, error=name, ignore_na=False)


def _vocab_check(name: str, choices: Sequence[str]) -> pa.Check:
    allowed = frozenset(choices)
    return _check(_each(lambda v: v in allowed or _blank(v)), f"vocab_{name}")


def _date_checks(as_of: dt.date, *, may_be_future: bool) -> list[pa.Check]:
    checks = [_check(_each(lambda v: isinstance(v, dt.date) or _blank(v)), "is_date")]
    if not may_be_future:
        checks.append(_check(_each(lambda v: _blank(v) or not isinstance(v, dt.date) or v <= as_of), "not_future"))
    return checks


def _pairs_ok(df: pd.DataFrame, field: str) -> bool | pd.Series:
    """True where `field` is not earlier than the found date (or either is not a date)."""
    ok = [not (isinstance(a, dt.date) and isinstance(b, dt.date)) or a >= b
          for a, b in zip(df[field].tolist(), df["found_date"].tolist())]
    return _verdict(ok, df.index)


def _dates_not_before(field: str, name: str):
    def check(df: pd.DataFrame) -> bool | pd.Series:
        return _pairs_ok(df, field)
    return _check(check, name)


def _reinspect_not_before_completed(df: pd.DataFrame) -> bool | pd.Series:
    ok = [not (isinstance(a, dt.date) and isinstance(b, dt.date)) or a >= b
          for a, b in zip(df["reinspect_date"].tolist(), df["completed_date"].tolist())]
    return _verdict(ok, df.index)


def _completed_when_done(df: pd.DataFrame) -> bool | pd.Series:
    return _verdict(~((df["status"] == STATUS_DONE) & _blank_mask(df["completed_date"])), df.index)


def _unique_hazard_id(s: pd.Series) -> bool | pd.Series:
    return _verdict(~(s.duplicated(keep=False) & ~_blank_mask(s)), s.index)


# The county a schema built without one (register_schema(as_of, None)) expects, set around each validation:
# one schema then serves every county (building one costs more than validating a 300-row register's columns).
_EXPECTED_COUNTY: ContextVar[str | None] = ContextVar("expected_county", default=None)


@contextmanager
def expecting_county(county: str) -> Iterator[None]:
    """Validate with a county-less schema as the schema of `county`."""
    token = _EXPECTED_COUNTY.set(county)
    try:
        yield
    finally:
        _EXPECTED_COUNTY.reset(token)


def register_schema(
    as_of: dt.date,
    county: str | None,
    severities: Sequence[str] = DEFAULT_SEVERITIES,
) -> pa.DataFrameSchema:
    """Build the schema a register submitted by `county` must satisfy on report date `as_of`; with county None,
    the county of the surrounding `expecting_county`."""
    columns: dict[str, pa.Column] = {}
    for f in FIELDS:
        checks: list[pa.Check] = []
        if f.kind == "date":
            checks += _date_checks(as_of, may_be_future=f.name in FUTURE_DATE_FIELDS)
        elif f.kind == "number":
            checks += [
                _check(_each(lambda v: (isinstance(v, (int, float)) and math.isfinite(v)) or _blank(v)), "is_number"),
                _check(_each(lambda v: _blank(v) or not isinstance(v, (int, float)) or v >= 0), "non_negative"),
            ]
        elif f.kind == "text":
            checks.append(_check(_each(lambda v: (type(v) is str and len(v) <= MAX_TEXT) or _blank(v)
                                       or len(str(v)) <= MAX_TEXT), "text_too_long"))
        if f.name == "customer_grade":
            checks.append(_vocab_check("customer_grade", CUSTOMER_GRADES))
        elif f.name == "industry":
            checks.append(_vocab_check("industry", INDUSTRIES))
        elif f.name == "category":
            checks.append(_vocab_check("category", CATEGORIES))
        elif f.name == "severity":
            checks.append(_vocab_check("severity", severities))
        elif f.name == "status":
            checks.append(_vocab_check("status", STATUSES))
        elif f.name == "reinspect_result":
            checks.append(_vocab_check("reinspect_result", REINSPECT_RESULTS))
        elif f.name == "gov_supervised":
            checks.append(_vocab_check("gov_supervised", YES_NO))
        elif f.name == "county":
            if county is None:
                checks.append(_check(_each(lambda v: _blank(v) or v == _EXPECTED_COUNTY.get()),
                                     "county_matches_folder"))
            else:
                checks.append(_check(_each(lambda v, county=county: _blank(v) or v == county),
                                     "county_matches_folder"))
        columns[f.name] = pa.Column(
            None,
            checks=checks,
            nullable=f.name not in REQUIRED_FIELDS,  # a blank required cell fails "not_nullable"
            unique=False,
            required=True,
        )
    columns["hazard_id"] = pa.Column(
        None,
        checks=[*columns["hazard_id"].checks,
                _check(_unique_hazard_id, "unique_hazard_id")],
        nullable=False,
    )
    return pa.DataFrameSchema(
        columns,
        checks=[
            _dates_not_before("deadline", "deadline_not_before_found"),
            _dates_not_before("completed_date", "completed_not_before_found"),
            _dates_not_before("notice_date", "notice_not_before_found"),
            _check(_completed_when_done, "completed_date_when_done"),
            _dates_not_before("reinspect_date", "reinspect_not_before_found"),
            _check(_reinspect_not_before_completed, "reinspect_not_before_completed"),
        ],
        strict=False,
        coerce=False,
        name="隐患台账",
    )
