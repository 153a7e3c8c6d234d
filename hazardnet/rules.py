"""Derived facts every output uses, one function each: whether a hazard is closed, the supervision rung it is
on, which reminder is due, its deadline history. Pure functions over plain values (no store, no pandas)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from schemas.vocab import MAJOR_SEVERITY, STATUS_DONE

# ---- closed ---------------------------------------------------------------------------------------
def is_closed(row: Mapping[str, Any]) -> bool:
    """Whether a hazard (a register row: `status`) has left the open list: 已整改. (Issue 23 tightens
    "closed" to 已整改 with a passing re-inspection; supervision only needs "no longer open".)"""
    return row.get("status") == STATUS_DONE


# ---- the supervision ladder ----------------------------------------------------------------------
OVERDUE, COUNTY, PREFECTURE = "overdue", "county", "prefecture"
RUNGS = (OVERDUE, COUNTY, PREFECTURE)  # lowest first
RUNG_ZH = {OVERDUE: "逾期", COUNTY: "县级督办", PREFECTURE: "州级挂牌督办"}


@dataclass(frozen=True)
class Ladder:
    """The ladder's days (settings: supervision_county_days, supervision_prefecture_days,
    supervision_major_prefecture_days)."""

    county_days: int = 30
    prefecture_days: int = 90
    major_prefecture_days: int = 30

    @classmethod
    def of(cls, settings: Any) -> Ladder:
        return cls(settings.supervision_county_days, settings.supervision_prefecture_days,
                   settings.supervision_major_prefecture_days)


def days_overdue(deadline: dt.date | None, as_of: dt.date) -> int | None:
    """Days past the deadline on `as_of` (None when there is no deadline or it has not passed)."""
    if deadline is None or deadline >= as_of:
        return None
    return (as_of - deadline).days


def rung(row: Mapping[str, Any], as_of: dt.date, ladder: Ladder = Ladder(), *,
         missed_commitment: bool = False) -> str | None:
    """The highest rung a hazard is on: `row` has status, severity and deadline (the current deadline, a
    meeting commitment included). 逾期 the day after the deadline; 县级督办 overdue ≥ county_days, or a
    重大 hazard overdue at all, or a missed meeting commitment; 州级挂牌督办 overdue ≥ prefecture_days, or a
    重大 hazard overdue ≥ major_prefecture_days. None: closed, or not overdue."""
    if is_closed(row):
        return None
    days = days_overdue(row.get("deadline"), as_of)
    major = row.get("severity") == MAJOR_SEVERITY
    if days is None:
        return COUNTY if missed_commitment else None
    if days >= ladder.prefecture_days or (major and days >= ladder.major_prefecture_days):
        return PREFECTURE
    if days >= ladder.county_days or major or missed_commitment:
        return COUNTY
    return OVERDUE


def rungs_up_to(top: str | None) -> tuple[str, ...]:
    """Every rung from 逾期 up to `top` (a hazard found high up reached the lower rungs on the same day)."""
    if top is None:
        return ()
    return RUNGS[:RUNGS.index(top) + 1]


def reminder_due(row: Mapping[str, Any], as_of: dt.date, days: Sequence[int] = (10, 3)) -> int | None:
    """The reminder due on `as_of` for an open hazard: N when its deadline is exactly N days ahead and N is
    one of `days` (settings.reminder_days), else None."""
    if is_closed(row) or row.get("deadline") is None:
        return None
    ahead = (row["deadline"] - as_of).days
    return ahead if ahead in set(days) else None


def missed_commitment(row: Mapping[str, Any], committed: dt.date | None, as_of: dt.date) -> bool:
    """A meeting commitment is missed when its date has passed and the hazard is still open."""
    return committed is not None and committed < as_of and not is_closed(row)


# ---- deadline history ----------------------------------------------------------------------------
COMMITMENT_REASON = "通报会承诺"


@dataclass(frozen=True)
class DeadlineEvent:
    """One version of a hazard's deadline: from a register (`source` "register") or a meeting commitment
    ("commitment"), on `day` (the register's report date or the commitment table's)."""

    day: dt.date
    deadline: dt.date | None
    source: str = "register"
    reason: str | None = None
    approval: str | None = None
    order: int = 0  # ties on one day: the store's order


@dataclass(frozen=True)
class DeadlineChange:
    day: dt.date
    old: dt.date
    new: dt.date
    reason: str | None
    approval: str | None
    source: str

    @property
    def later(self) -> bool:
        return self.new > self.old

    def text(self) -> str:
        """One line: 2026-03-31→2026-05-31（延期原因；批准：…）."""
        why = self.reason or "未说明延期原因"
        if self.approval:
            why += f"；批准：{self.approval}"
        return f"{self.old:%Y-%m-%d}→{self.new:%Y-%m-%d}（{why}）"


@dataclass
class DeadlineHistory:
    first: dt.date | None = None
    current: dt.date | None = None
    changes: list[DeadlineChange] = field(default_factory=list)
    committed: dt.date | None = None  # the latest meeting commitment, if any

    @property
    def extensions(self) -> list[DeadlineChange]:
        return [c for c in self.changes if c.later]

    def as_json(self) -> dict:
        return {"first": self.first, "current": self.current, "committed": self.committed,
                "changes": [{"day": c.day, "old": c.old, "new": c.new, "reason": c.reason,
                             "approval": c.approval, "source": c.source} for c in self.changes]}


def deadline_history(events: Iterable[DeadlineEvent]) -> DeadlineHistory:
    """A hazard's deadline over its versions, oldest first. A register carrying over the deadline its
    previous register gave does not undo a commitment made in between (it did not touch the deadline); a
    register that gives a different date, and every commitment, is a new version. A blank deadline
    neither counts nor resets."""
    h = DeadlineHistory()
    last_register: dt.date | None = None
    for e in sorted(events, key=lambda e: (e.day, e.source == "commitment", e.order)):
        if e.deadline is None:
            continue
        if e.source == "register":
            carried = last_register is not None and e.deadline == last_register
            last_register = e.deadline
            if carried:
                continue
        else:
            h.committed = e.deadline
        if h.first is None:
            h.first = h.current = e.deadline
            continue
        if e.deadline != h.current:
            h.changes.append(DeadlineChange(e.day, h.current, e.deadline, e.reason, e.approval, e.source))
            h.current = e.deadline
    return h
