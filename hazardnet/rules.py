"""Derived facts every output uses, each one function: the stage of a hazard (阶段), whether it is closed
(销号), reopened by a failed re-inspection, due for re-inspection, or due for a written notice.

A hazard here is any mapping with the register's field names (a store row, a frame row as a dict). Dates are
`datetime.date` or None; blank text is None or "".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from schemas.vocab import REINSPECT_FAIL, REINSPECT_PASS, STATUS_DONE, STATUS_OPEN

# the stages of a hazard's life, in order
UNNOTIFIED, NOTIFIED, IN_PROGRESS, AWAITING_REINSPECTION, CLOSED = "未告知", "已告知", "整改中", "待复查", "已销号"
STAGES: tuple[str, ...] = (UNNOTIFIED, NOTIFIED, IN_PROGRESS, AWAITING_REINSPECTION, CLOSED)

REINSPECTION_DAYS = 10  # on-site acceptance within 10 days of the report that a hazard is fixed
NOTICE_DAYS = 7  # a hazard found this many days ago still without 告知日期 is listed (未书面告知)


def _day(v: Any) -> dt.date | None:
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    return None


def _text(v: Any) -> str | None:
    if v is None or (isinstance(v, float) and v != v):
        return None
    s = str(v).strip()
    return s or None


def closed(h: Mapping[str, Any]) -> bool:
    """销号: 已整改 with 复查结论 合格, a 复查日期 not before the 完成日期, by a 复查人 who is not the hazard's
    整改责任人."""
    if h.get("status") != STATUS_DONE or _text(h.get("reinspect_result")) != REINSPECT_PASS:
        return False
    when = _day(h.get("reinspect_date"))
    if when is None:
        return False
    completed = _day(h.get("completed_date"))
    if completed is not None and when < completed:
        return False
    inspector = _text(h.get("reinspector"))
    return inspector is not None and inspector != _text(h.get("owner"))


def reopened(h: Mapping[str, Any]) -> bool:
    """A failed re-inspection (复查结论 不合格 with its 复查日期): the hazard counts as 整改中 from that day."""
    return _text(h.get("reinspect_result")) == REINSPECT_FAIL and _day(h.get("reinspect_date")) is not None


def stage(h: Mapping[str, Any]) -> str:
    """The hazard's stage: 未告知 (未整改, no 告知日期), 已告知 (未整改 with 告知日期), 整改中 (整改中, or reopened by
    不合格), 待复查 (已整改, not closed), 已销号 (closed)."""
    if closed(h):
        return CLOSED
    if reopened(h):
        return IN_PROGRESS
    status = h.get("status")
    if status == STATUS_DONE:
        return AWAITING_REINSPECTION
    if status == "整改中":
        return IN_PROGRESS
    return NOTIFIED if _day(h.get("notice_date")) is not None else UNNOTIFIED


def stage_since(h: Mapping[str, Any]) -> dt.date | None:
    """The day the hazard entered its stage, as the register row tells it: 未告知 its 发现日期, 已告知 its 告知日期,
    整改中 the failed 复查日期 (reopened) or else its 告知日期 (发现日期 without one), 待复查 its 完成日期, 已销号 its
    复查日期."""
    s = stage(h)
    found = _day(h.get("found_date"))
    if s == UNNOTIFIED:
        return found
    if s == NOTIFIED:
        return _day(h.get("notice_date"))
    if s == IN_PROGRESS:
        if reopened(h):
            return _day(h.get("reinspect_date"))
        return _day(h.get("notice_date")) or found
    if s == AWAITING_REINSPECTION:
        return _day(h.get("completed_date")) or found
    return _day(h.get("reinspect_date"))


def days_in_stage(h: Mapping[str, Any], as_of: dt.date) -> int | None:
    """Days from `stage_since` to `as_of` (never negative), None when the row has no such date."""
    since = stage_since(h)
    return None if since is None else max(0, (as_of - since).days)


def needs_notice(h: Mapping[str, Any]) -> bool:
    """Whether the hazard still needs a written notice: open (未整改 / 整改中) and no 告知日期."""
    return h.get("status") in STATUS_OPEN and _day(h.get("notice_date")) is None


def unnotified_due(h: Mapping[str, Any], as_of: dt.date, days: int = NOTICE_DAYS) -> bool:
    """未书面告知: needs a notice and was found more than `days` days before `as_of`."""
    found = _day(h.get("found_date"))
    return needs_notice(h) and found is not None and (as_of - found).days > days


def reinspection_due(h: Mapping[str, Any], as_of: dt.date, days: int = REINSPECTION_DAYS) -> bool:
    """待复查 for more than `days` days: 已整改 since its 完成日期 without a passing re-inspection."""
    if stage(h) != AWAITING_REINSPECTION:
        return False
    completed = _day(h.get("completed_date"))
    return completed is not None and (as_of - completed).days > days


def closed_on(h: Mapping[str, Any]) -> dt.date | None:
    """The 复查日期 that closed the hazard, or None when it is not closed."""
    return _day(h.get("reinspect_date")) if closed(h) else None
