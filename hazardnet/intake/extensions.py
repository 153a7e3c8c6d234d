"""Extensions with reasons (延期): a register that moves a hazard's 整改期限 later than the county's previous
accepted register (or the meeting's commitment) did must say why (延期原因), and for a 重大 hazard who approved
it (延期批准). Without them the register is accepted with a warning at the 整改期限 cell."""

from __future__ import annotations

import datetime as dt

from hazardnet.intake.findings import WARNING, Finding, cell_ref
from hazardnet.intake.sheet import RegisterSheet
from hazardnet.rules import deadline_history
from hazardnet.store import Store
from schemas.headers import FIELD_BY_NAME
from schemas.vocab import MAJOR_SEVERITY


def _blank(v) -> bool:
    return v is None or (isinstance(v, float) and v != v) or (isinstance(v, str) and not v.strip())


def extension_findings(store: Store, county: str, as_of: dt.date, parsed: RegisterSheet) -> list[Finding]:
    """A warning at the 整改期限 cell of every hazard whose deadline this register moves later than its current
    deadline in the store, without 延期原因 (and, for a 重大 hazard, without 延期批准)."""
    col = parsed.columns.get("deadline")
    frame = parsed.frame
    if col is None or not len(frame):
        return []
    ids = frame["hazard_id"].tolist()
    deadlines = frame["deadline"].tolist()
    moved = [i for i, d in enumerate(deadlines) if isinstance(d, dt.date)]
    if not moved:
        return []
    events = store.deadline_events(as_of, [county])
    if not events:
        return []
    rows, severity = frame["_row"].tolist(), frame["severity"].tolist()
    reasons, approvals = frame["extension_reason"].tolist(), frame["extension_approval"].tolist()
    header = FIELD_BY_NAME["deadline"].header
    out: list[Finding] = []
    for i in moved:
        history = events.get((county, str(ids[i])))
        previous = deadline_history(history).current if history else None
        new = deadlines[i]
        if previous is None or new <= previous:
            continue
        where = dict(sheet=parsed.sheet, cell=cell_ref(rows[i], col), field=header, value=f"{new:%Y-%m-%d}",
                     level=WARNING, row=rows[i] + 1, col=col + 1)
        if _blank(reasons[i]):
            out.append(Finding(message=f"隐患“{ids[i]}”的整改期限由 {previous:%Y-%m-%d} 推迟至 {new:%Y-%m-%d}，"
                                       f"但未填写延期原因（延期原因列）", **where))
        if severity[i] == MAJOR_SEVERITY and _blank(approvals[i]):
            out.append(Finding(message=f"重大隐患“{ids[i]}”的整改期限由 {previous:%Y-%m-%d} 推迟至 {new:%Y-%m-%d}，"
                                       f"但未填写延期批准（批准单位）", **where))
    return out
