"""The quarter's figures of the loop from found to closed (the 总览 columns beside the others):

- **本季度复查销号 closed_in_quarter**: hazards closed (rules.closed: 已整改, 复查结论 合格, 复查日期 not before the
  完成日期, 复查人 not the 整改责任人) with a 复查日期 in the quarter;
- **季末待复查 awaiting_at_end**: hazards 已整改 by the quarter's end (完成日期 ≤ its last day) and not closed by then
  (no closing 复查日期 on or before it), and not reopened by then (a 不合格 复查 on or before it counts as 整改中);
- **本季度复查不合格 failed_in_quarter**: re-inspections failed (复查结论 不合格) with a 复查日期 in the quarter,
  counted over every version the store holds (accepted registers up to the report date): a re-inspection that a
  later register overwrote with a passing one still counts; one re-inspection is one (county, 隐患编号, 复查日期);
- **本季度新发现其中已告知 found_notified**: hazards found in the quarter that carry a 告知日期.

Each is a per-hazard column of the quarter's flags (counts for failed_in_quarter), summed like the others, over
the latest version of each hazard known on the report date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from hazardnet.rules import closed, closed_on, reopened
from schemas.vocab import REINSPECT_FAIL, STATUS_DONE

CLOSURE_FIGURES: dict[str, str] = {
    "closed_in_quarter": "本季度复查销号",
    "awaiting_at_end": "季末待复查",
    "failed_in_quarter": "本季度复查不合格",
    "found_notified": "本季度新发现其中已告知",
}


def _day(v) -> dt.date | None:
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    if hasattr(v, "date") and callable(v.date) and not isinstance(v, str):  # pandas Timestamp
        try:
            return v.date()
        except (TypeError, ValueError):
            return None
    return None


def closed_in_quarter(h: dict, qs: dt.date, qe: dt.date) -> bool:
    day = closed_on(h)
    return day is not None and qs <= day <= qe


def awaiting_at_end(h: dict, qe: dt.date) -> bool:
    completed = _day(h.get("completed_date"))
    if h.get("status") != STATUS_DONE or completed is None or completed > qe:
        return False
    when = _day(h.get("reinspect_date"))
    if when is not None and when <= qe and (closed(h) or reopened(h)):
        return False
    return True


def found_notified(h: dict, qs: dt.date, qe: dt.date) -> bool:
    found = _day(h.get("found_date"))
    return found is not None and qs <= found <= qe and _day(h.get("notice_date")) is not None


def failed_reinspections(versions: Iterable[dict], qs: dt.date, qe: dt.date) -> dict[tuple[str, str], int]:
    """(county, hazard_id) -> distinct failed re-inspections dated in the quarter, over every stored version."""
    seen: set[tuple[str, str, dt.date]] = set()
    for v in versions:
        day = _day(v.get("reinspect_date"))
        if v.get("reinspect_result") == REINSPECT_FAIL and day is not None and qs <= day <= qe:
            seen.add((v["county"], str(v["hazard_id"]), day))
    out: dict[tuple[str, str], int] = {}
    for county, hazard, _day_ in seen:
        out[(county, hazard)] = out.get((county, hazard), 0) + 1
    return out
