"""Changes of a deadline need a reason (延期) and a deadline cannot be erased by leaving it blank.

A register that moves a hazard's 整改期限 later than the county's previous accepted register (or the meeting's
commitment) did must say why (延期原因), and for a 重大 hazard who approved it (延期批准). A register that leaves
整改期限 blank for a hazard an earlier one gave a date does not erase it: that date stays in force in every output
(`rules.deadline_history`). Either way the register is accepted with a warning at the 整改期限 cell."""

from __future__ import annotations

import datetime as dt

from hazardnet.intake.findings import WARNING, Finding, cell_ref, file_finding
from hazardnet.intake.sheet import RegisterSheet
from hazardnet.rules import deadline_history, is_closed
from hazardnet.store import Store
from schemas.headers import FIELD_BY_NAME
from schemas.vocab import MAJOR_SEVERITY

CARRIED_LISTED = 10  # a register without a 整改期限 column: hazards named in its one warning


def _blank(v) -> bool:
    return v is None or (isinstance(v, float) and v != v) or (isinstance(v, str) and not v.strip())


def extension_findings(store: Store, county: str, as_of: dt.date, parsed: RegisterSheet) -> list[Finding]:
    """The intake's warnings that need the county's earlier registers: a deadline moved or left blank
    (`deadline_findings`), a 户号 that lost its leading zeros (`lost_zero_findings`)."""
    return deadline_findings(store, county, as_of, parsed) + lost_zero_findings(store, county, as_of, parsed)


def lost_zero_findings(store: Store, county: str, as_of: dt.date, parsed: RegisterSheet) -> list[Finding]:
    """A warning at the 户号 cell of every row whose 户号 is not in the county's registers so far but is one of
    them without its leading zeros (0941880670 typed into a number cell reads 941880670): stored as written it is
    another customer — the customer's bulletins, warnings and notices would miss the hazard."""
    frame = parsed.frame
    col = parsed.columns.get("customer_id")
    if col is None or not len(frame):
        return []
    ids = [str(v) for v in frame["customer_id"].tolist()]
    if not any(v.isdigit() and not v.startswith("0") for v in ids):
        return []
    known: set[str] = set()  # the county's 户号 so far
    padded: dict[str, tuple[str, str]] = {}  # 941880670 -> ("0941880670", its name)
    for _county, cid, name, _latest in store.current_rows(as_of, ["county", "customer_id", "customer_name"], [county]):
        cid = str(cid or "")
        known.add(cid)
        if cid.startswith("0") and cid.lstrip("0"):
            padded.setdefault(cid.lstrip("0"), (cid, str(name or "")))
    if not padded:
        return []
    header = FIELD_BY_NAME["customer_id"].header
    out: list[Finding] = []
    for r, cid in zip(frame["_row"].tolist(), ids):
        meant = padded.get(cid)
        if meant is None or cid in known:  # a customer of its own since (or before) is no lost zero
            continue
        out.append(Finding(sheet=parsed.sheet, cell=cell_ref(r, col), field=header, value=cid, level=WARNING,
                           row=r + 1, col=col + 1,
                           message=f"户号“{cid}”在此前的台账中没有，但有户号“{meant[0]}”（{meant[1]}），可能是开头的 0 "
                                   f"被 Excel 去掉了（单元格为数字格式）；按“{cid}”导入将被视为另一个客户，该客户收不到这项隐患的"
                                   f"通报和预警。请把户号列设为文本格式，填写“{meant[0]}”后重新报送。"))
    return out


def deadline_findings(store: Store, county: str, as_of: dt.date, parsed: RegisterSheet) -> list[Finding]:
    """A warning at the 整改期限 cell of every hazard whose deadline this register moves later than its current
    deadline in the store, without 延期原因 (and, for a 重大 hazard, without 延期批准); and of every open hazard
    whose 整改期限 it leaves blank while the store has a date for it (that date stays in force)."""
    frame = parsed.frame
    if not len(frame):
        return []
    col = parsed.columns.get("deadline")
    ids = frame["hazard_id"].tolist()
    deadlines = frame["deadline"].tolist() if col is not None else [None] * len(ids)
    dated = [isinstance(d, dt.date) for d in deadlines]
    events = store.deadline_events(as_of, [county])  # nothing for a county's first register
    if not events:
        return []
    rows, severity = frame["_row"].tolist(), frame["severity"].tolist()
    reasons, approvals = frame["extension_reason"].tolist(), frame["extension_approval"].tolist()
    facts = [dict(zip(("status", "reinspect_result", "reinspect_date"), v)) for v in
             zip(frame["status"].tolist(), frame["reinspect_result"].tolist(), frame["reinspect_date"].tolist())]
    header = FIELD_BY_NAME["deadline"].header
    out: list[Finding] = []
    carried: list[str] = []  # without a 整改期限 column
    for i, hazard_id in enumerate(ids):
        history = events.get((county, str(hazard_id)))
        if not history:
            continue
        previous = deadline_history(history)
        if previous.current is None:
            continue
        if not dated[i]:
            if is_closed(facts[i]):
                continue  # 已整改: the date no longer matters to anyone
            source = "通报会承诺" if previous.by_commitment is not None else "此前台账"
            if col is None:
                carried.append(f"{hazard_id}（{previous.current:%Y-%m-%d}）")
                continue
            out.append(Finding(
                sheet=parsed.sheet, cell=cell_ref(rows[i], col), field=header, value="", level=WARNING,
                row=rows[i] + 1, col=col + 1,
                message=f"隐患“{hazard_id}”本次未填写整改期限，{source}的整改期限 {previous.current:%Y-%m-%d} 仍然有效，"
                        f"汇总台账、预警和督办均按此日期计算；如需变更，请填写新的整改期限（延期须填写延期原因）"))
            continue
        new = deadlines[i]
        if new <= previous.current:
            continue
        where = dict(sheet=parsed.sheet, cell=cell_ref(rows[i], col), field=header, value=f"{new:%Y-%m-%d}",
                     level=WARNING, row=rows[i] + 1, col=col + 1)
        if _blank(reasons[i]):
            out.append(Finding(message=f"隐患“{hazard_id}”的整改期限由 {previous.current:%Y-%m-%d} 推迟至 {new:%Y-%m-%d}，"
                                       f"但未填写延期原因（延期原因列）", **where))
        if severity[i] == MAJOR_SEVERITY and _blank(approvals[i]):
            out.append(Finding(message=f"重大隐患“{hazard_id}”的整改期限由 {previous.current:%Y-%m-%d} 推迟至 "
                                       f"{new:%Y-%m-%d}，但未填写延期批准（批准单位）", **where))
    if carried:
        named = "、".join(carried[:CARRIED_LISTED]) + (f"等 {len(carried)} 项" if len(carried) > CARRIED_LISTED else "")
        out.append(file_finding(f"本表没有整改期限列：{named}沿用此前的整改期限，汇总台账、预警和督办均按此日期计算",
                                sheet=parsed.sheet, level=WARNING))
    return out
