"""The derived facts every output uses, each rule written once (docs/domain.md, 派生字段 and 可见范围).

Never typed into a register, always computed from a hazard's fields and a date: whether it is overdue
(逾期), how many days it has been open (存续天数) and overdue (逾期天数), whether it is absent from its
county's latest register (未在最新台账中), the day it was remediated and whether that fell in a period
(销号), and who may see it (可见范围); and the loop from found to closed: a hazard's stage (阶段), whether it
is closed (销号 after a passing re-inspection), reopened by a failed one, due for re-inspection, or due for a
written notice. The rules take plain values of one hazard (dates as
`datetime.date`, blanks as None) and need no pandas; the frame helpers at the end apply the very same
functions to every row of a register frame.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from schemas.vocab import MAJOR_SEVERITY, PARTY_CUSTOMER, REINSPECT_FAIL, REINSPECT_PASS, STATUS_DONE, STATUS_OPEN

if TYPE_CHECKING:
    import pandas as pd


class Audience(Protocol):
    """What scope needs of a recipient (hazardnet.delivery.directory.Recipient has it)."""
    party: str
    county: str | None
    customer_id: str | None
    org_name: str


def as_date(v: Any) -> dt.date | None:
    """A date from a store or frame value: None, NaN, NaT and pandas' NA are None; datetimes lose their time."""
    if v is None or v.__class__ is dt.date:  # what the store gives: the common case first
        return v
    if isinstance(v, dt.datetime):  # pandas.Timestamp and NaT included
        return None if v != v else v.date()  # NaT is not equal to itself
    if isinstance(v, dt.date):
        return v
    if isinstance(v, str) and v:
        return dt.date.fromisoformat(v[:10])
    return None  # None, NaN, pandas.NA


# ---- one hazard --------------------------------------------------------------------------------
def is_done(status: Any) -> bool:
    """已整改: the only status that closes a hazard."""
    return status == STATUS_DONE


def is_open(status: Any, reopened: bool = False) -> bool:
    """Open: not 已整改, or 已整改 but `reopened` by a failed re-inspection (`reopened_on`): a claim that did not
    hold keeps the hazard on every open list, overdue and on the supervision ladder as before."""
    return reopened or not is_done(status)


def is_overdue(status: Any, deadline: dt.date | None, as_of: dt.date, reopened: bool = False) -> bool:
    """逾期: open (`is_open`) and its 整改期限 is before `as_of` (a hazard without a deadline is never overdue)."""
    return is_open(status, reopened) and deadline is not None and deadline < as_of


def days_overdue(status: Any, deadline: dt.date | None, as_of: dt.date, reopened: bool = False) -> int | None:
    """逾期天数: days from the deadline to `as_of` for an overdue hazard, None otherwise."""
    return (as_of - deadline).days if is_overdue(status, deadline, as_of, reopened) else None


def days_open(status: Any, found: dt.date | None, completed: dt.date | None, as_of: dt.date,
              reopened: bool = False) -> int | None:
    """存续天数: days from 发现日期 to 完成日期 (已整改) or to `as_of` (open, a reopened hazard too), never below 0;
    None when a date it needs is blank."""
    end = as_of if is_open(status, reopened) else completed
    if end is None or found is None:
        return None
    return max(0, (end - found).days)


def is_absent(in_latest: Any) -> bool:
    """未在最新台账中: the hazard is not in its county's latest accepted register (it keeps its last status)."""
    return not bool(in_latest)


def done_on(status: Any, completed: dt.date | None, version_as_of: dt.date | None,
            reopened: bool = False) -> dt.date | None:
    """The day a hazard was remediated: its 完成日期 when 已整改; a legacy 已整改 row without one takes the date
    of the submission that carried it; None while open — and when a failed re-inspection `reopened` it (the
    claim did not hold: no remediation to count)."""
    if is_open(status, reopened):
        return None
    return completed or version_as_of


def remediated_in(done: dt.date | None, start: dt.date, end: dt.date) -> bool:
    """Reported remediated (已整改, not 销号) in a period: on a day from `start` to `end`, both inclusive."""
    return done is not None and start <= done <= end


def in_scope(county: Any, customer_id: Any, audience: Audience) -> bool:
    """可见范围: whether a hazard of `county` and 户号 `customer_id` is the `audience`'s to see. A customer sees
    only its own hazards (its 户号 in its county; without 户号 or county nothing); a county authority or
    county supply company its county; a prefecture-level entry (county blank or 全州) every county."""
    if audience.party == PARTY_CUSTOMER:
        if not audience.customer_id or not audience.county:
            return False
        return county == audience.county and customer_id is not None and str(customer_id) == audience.customer_id
    return audience.county is None or county == audience.county


def scope_label(audience: Audience, prefecture: str) -> str:
    """What the scope is called in subjects, headers and file names: 格尔木市, 海西州, or the customer's name."""
    if audience.party == PARTY_CUSTOMER:
        return audience.org_name
    return audience.county or prefecture


def county_order(counties: Sequence[str]) -> Callable[[str], tuple[int, str]]:
    """A sort key for county names: the configured counties (settings.counties) in their configured order, any
    other county after them, by name — the order of every output's counties."""
    rank = {c: i for i, c in enumerate(counties)}
    return lambda county: (rank.get(county, len(rank)), "" if county in rank else str(county))


# ---- the loop from found to closed (阶段, 销号, 复查, 书面告知; docs/domain.md 从发现到销号) ---------------
# the stages of a hazard's life, in order
UNNOTIFIED, NOTIFIED, IN_PROGRESS, AWAITING_REINSPECTION, CLOSED = "未告知", "已告知", "整改中", "待复查", "已销号"
STAGES: tuple[str, ...] = (UNNOTIFIED, NOTIFIED, IN_PROGRESS, AWAITING_REINSPECTION, CLOSED)

REINSPECTION_DAYS = 10  # on-site acceptance within 10 days of the report that a hazard is fixed
NOTICE_DAYS = 7  # a hazard found this many days ago still without 告知日期 is listed (未书面告知)


_day = as_date  # the loop's rules read dates as every other rule does


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


def reopened_on(h: Mapping[str, Any], as_of: dt.date) -> bool:
    """`reopened` by a re-inspection on or before `as_of` (a view of an earlier day, such as a quarter's end,
    does not see a later one): what `is_overdue`, `days_overdue` and `days_open` take as `reopened`."""
    return reopened(h) and _day(h.get("reinspect_date")) <= as_of


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
    return _since(h, stage(h))


def _since(h: Mapping[str, Any], s: str) -> dt.date | None:
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
    return stage_and_days(h, as_of)[1]


def stage_and_days(h: Mapping[str, Any], as_of: dt.date) -> tuple[str, int | None]:
    """(`stage`, `days_in_stage`), the stage worked out once (a register row needs both)."""
    s = stage(h)
    since = _since(h, s)
    return s, None if since is None else max(0, (as_of - since).days)


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


# ---- no longer open (reminders, the ladder) --------------------------------------------------------
def is_closed(row: Mapping[str, Any]) -> bool:
    """Whether a hazard has left the open list, as reminders and the ladder see it: 已整改 and not reopened by a
    failed re-inspection (销号 itself, with a passing one, is `closed`)."""
    return is_done(row.get("status")) and not reopened(row)


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


def days_past_deadline(deadline: dt.date | None, as_of: dt.date) -> int | None:
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
    days = days_past_deadline(row.get("deadline"), as_of)
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
    """The reminder an open hazard is in on `as_of`: the smallest N of `days` (settings.reminder_days) with its
    deadline 1…N days ahead. N days ahead is that reminder's own day; the days after it, until the next one's,
    are when a reminder missed (no run that day) or not delivered (a mail server down) is caught up — the
    supervision job sends those only while the ledger does not have them delivered. None: closed, no deadline,
    the deadline today or past, or further ahead than every N."""
    if is_closed(row) or row.get("deadline") is None:
        return None
    ahead = (row["deadline"] - as_of).days
    if ahead < 1:
        return None
    fitting = [n for n in set(days) if n >= ahead]
    return min(fitting) if fitting else None


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
    person: str | None = None  # who committed (a meeting commitment's 责任人)


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
    versions: list[DeadlineEvent] = field(default_factory=list)  # each event that set the deadline, oldest first

    @property
    def extensions(self) -> list[DeadlineChange]:
        return [c for c in self.changes if c.later]

    @property
    def by_commitment(self) -> DeadlineEvent | None:
        """The meeting commitment that set the current deadline (None: a register set it)."""
        last = self.versions[-1] if self.versions else None
        return last if last is not None and last.source == "commitment" else None

    def as_json(self) -> dict:
        return {"first": self.first, "current": self.current, "committed": self.committed,
                "changes": [{"day": c.day, "old": c.old, "new": c.new, "reason": c.reason,
                             "approval": c.approval, "source": c.source} for c in self.changes]}


def deadline_history(events: Iterable[DeadlineEvent]) -> DeadlineHistory:
    """A hazard's deadline over its versions, oldest first. A register carrying over the deadline its
    previous register gave does not undo a commitment made in between (it did not touch the deadline); a
    register that gives a different date, and every commitment, is a new version. A blank deadline neither
    counts nor resets: a register cannot silently erase a deadline (every change needs a reason), so the last
    date given stays in force (the intake warns the clerk at the blank cell, `intake.extensions`)."""
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
            h.versions.append(e)
            continue
        if e.deadline != h.current:
            h.changes.append(DeadlineChange(e.day, h.current, e.deadline, e.reason, e.approval, e.source))
            h.current = e.deadline
            h.versions.append(e)
    return h


def current_deadline(register_deadline: Any, history: DeadlineHistory | None) -> dt.date | None:
    """The hazard's current 整改期限, the one date every output counts from (the ladder and its reminders, the
    warnings, the consolidated register, the bulletins, the quarterly summaries, the notices, the hazard file):
    the latest version of its deadline history — a register that changed it or a meeting commitment, whichever
    came last; a register that left it blank changes nothing, the last date given stays in force — else the
    register's own (a hazard never given a deadline: None, 未明确整改期限)."""
    if history is not None and history.current is not None:
        return history.current
    return as_date(register_deadline)


def commitment_note(history: DeadlineHistory | None) -> str | None:
    """备注 of a hazard whose current deadline a meeting commitment set: 整改期限为通报会承诺（2026-12-07，责任人 张三）."""
    e = history.by_commitment if history is not None else None
    if e is None:
        return None
    return f"整改期限为{COMMITMENT_REASON}（{e.day:%Y-%m-%d}" + (f"，责任人 {e.person}）" if e.person else "）")


def carried_note(register_deadline: Any, history: DeadlineHistory | None) -> str | None:
    """备注 of a hazard whose latest register left 整改期限 blank while an earlier register gave one (the date
    still in force, `current_deadline`): 本期台账未填写整改期限，沿用2026-07-10台账的整改期限."""
    if as_date(register_deadline) is not None or history is None or not history.versions:
        return None
    e = history.versions[-1]
    return None if e.source == "commitment" else f"本期台账未填写整改期限，沿用{e.day:%Y-%m-%d}台账的整改期限"


def deadline_note(register_deadline: Any, history: DeadlineHistory | None) -> str | None:
    """Why the current deadline is not the register's own, for a 备注: a meeting commitment set it
    (`commitment_note`), or the register left it blank and an earlier one's stays (`carried_note`); else None."""
    return commitment_note(history) or carried_note(register_deadline, history)


def with_current_deadlines(df: pd.DataFrame, histories: Mapping[tuple[str, str], DeadlineHistory]) -> pd.DataFrame:
    """A copy of a register frame with each hazard of `histories` ((county, hazard_id) -> its history, from
    `Store.deadline_histories`) at its `current_deadline`, its 备注 saying why when that is not the register's own
    date (`deadline_note`: a meeting commitment, or a blank 整改期限 in the latest register)."""
    import pandas as pd

    if not histories or not len(df):
        return df
    df = df.copy()
    deadlines, remarks = df["deadline"].astype(object).tolist(), df["remarks"].astype(object).tolist()
    for i, key in enumerate(zip(df["county"], df["hazard_id"].astype(str))):
        history = histories.get(key)
        if history is None:
            continue
        note = deadline_note(deadlines[i], history)
        deadlines[i] = current_deadline(deadlines[i], history)
        if note:  # the clerk's 备注 as it is, then the note (as `consolidated.sheet_rows` writes it)
            old = remarks[i] if isinstance(remarks[i], str) or not pd.isna(remarks[i]) else None
            remarks[i] = "；".join(t for t in (old, note) if t)
    df["deadline"] = pd.Series(deadlines, index=df.index, dtype=object)
    df["remarks"] = pd.Series(remarks, index=df.index, dtype=object)
    return df


# ---- a register frame (columns as from Store.register_as_of) -------------------------------------
DERIVED_COLUMNS = ("overdue", "days_overdue", "days_open", "absent", "stage", "days_in_stage")
STAGE_FIELDS = ("status", "notice_date", "found_date", "completed_date", "owner", "reinspect_date", "reinspector",
                "reinspect_result")  # what `stage` reads of a hazard


def stage_facts(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Each row's `STAGE_FIELDS` (those the frame has) as a dict, blanks as None: what `stage`, `reopened`,
    `reopened_on` and `is_closed` read of a hazard."""
    present = [f for f in STAGE_FIELDS if f in df.columns]
    return df[present].astype(object).where(df[present].notna(), None).to_dict("records")


def with_derived(df: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """A copy of `df` with overdue, days_overdue, days_open, absent, stage and days_in_stage, each row by the
    rules above."""
    import pandas as pd

    df = df.copy()
    status = df["status"].tolist()
    found = [as_date(v) for v in df["found_date"].tolist()]
    deadline = [as_date(v) for v in df["deadline"].tolist()]
    completed = [as_date(v) for v in df["completed_date"].tolist()]
    facts = stage_facts(df)
    again = [reopened_on(h, as_of) for h in facts]
    df["overdue"] = pd.Series([is_overdue(s, d, as_of, r) for s, d, r in zip(status, deadline, again)],
                              index=df.index, dtype=bool)
    df["days_overdue"] = _int_column([days_overdue(s, d, as_of, r) for s, d, r in zip(status, deadline, again)])
    df["days_open"] = _int_column([days_open(s, f, c, as_of, r)
                                   for s, f, c, r in zip(status, found, completed, again)])
    df["absent"] = pd.Series([is_absent(v) for v in df["in_latest"].tolist()], index=df.index, dtype=bool)
    df["stage"] = [stage(h) for h in facts]
    df["days_in_stage"] = _int_column([days_in_stage(h, as_of) for h in facts])
    return df


def _int_column(values: list[int | None]):
    """Whole numbers with blanks (None) as a nullable Int64 array, built from a mask (pandas' own
    conversion of a list with None looks at every value in Python)."""
    import numpy as np
    import pandas as pd

    mask = np.fromiter((v is None for v in values), dtype=bool, count=len(values))
    data = np.fromiter((0 if v is None else v for v in values), dtype="int64", count=len(values))
    return pd.arrays.IntegerArray(data, mask)


def scoped(register: pd.DataFrame, audience: Audience) -> pd.DataFrame:
    """The rows of `register` the `audience` may see (`in_scope`), as a copy."""
    if register.empty:
        return register.copy()
    mask = [in_scope(c, k, audience) for c, k in zip(register["county"].tolist(), register["customer_id"].tolist())]
    return register.loc[mask].copy()
