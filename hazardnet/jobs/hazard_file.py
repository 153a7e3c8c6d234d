"""One file per hazard (一患一档): a hazard's whole life from the store — every register version that carried it,
its notice and service, deadline changes, re-inspections, the 督办建议函 that named it, the warnings and messages sent
about it (in words: what, to whom by name, when on the local clock), its photos."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from hazardnet.delivery.labels import CHANNEL_ZH, delivery_status
from hazardnet.delivery.ledger import KIND_ZH, deliveries
from hazardnet.jobs.notices import service_of
from hazardnet.publish.warnings import STAGE_ZH
from hazardnet.rules import COMMITMENT_REASON, RUNG_ZH, DeadlineHistory, current_deadline, days_in_stage, stage
from hazardnet.settings import local_time
from hazardnet.store import Store, submissions
from schemas.vocab import PARTY_CUSTOMER

VERSION_FIELDS = ("status", "deadline", "owner", "notice_date", "signed_by", "completed_date", "reinspect_date",
                  "reinspector", "reinspect_result", "severity", "description")


def _plain(v: Any) -> Any:
    if v is None:
        return None
    try:
        import pandas as pd

        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(v, dt.datetime):
        return v.date().isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    return v.item() if hasattr(v, "item") else v


def deadline_versions(history: DeadlineHistory | None) -> list[dict]:
    """Each version of the hazard's deadline, oldest first, as the ladder counts them (`Store.deadline_histories`):
    the day, the new and the previous deadline, where it came from (台账 or 通报会承诺), the reason (延期原因, or
    通报会承诺（责任人：…）), the approval and who committed."""
    out, previous = [], None
    for e in history.versions if history is not None else []:
        out.append({"as_of": e.day.isoformat(), "deadline": e.deadline.isoformat(),
                    "previous": previous.isoformat() if previous else None,
                    "source": COMMITMENT_REASON if e.source == "commitment" else "台账", "reason": e.reason,
                    "approval": e.approval, "committed_by": e.person})
        previous = e.deadline
    return out


def message_item(kind: str, period: str, hazard_id: str) -> str:
    """What a ledger period is about, in words: "逾期升级预警（整改期限 2026-02-14）" for
    "德令哈市|DLH-2026-002|escalated|2026-02-14"; a notice's or letter's period is its number."""
    parts = period.split("|")
    if len(parts) < 2 or parts[1] != hazard_id:
        return period  # 通知书编号, 督办建议函编号
    rest = parts[2:]
    if kind == "warning" and rest:
        deadline = rest[1] if len(rest) > 1 and rest[1] != "-" else None
        return f"{STAGE_ZH.get(rest[0], rest[0])}（{'整改期限 ' + deadline if deadline else '未明确整改期限'}）"
    if kind == "reminder" and rest and rest[0].startswith("reminder-"):
        deadline = f"（整改期限 {rest[1]}）" if len(rest) > 1 else ""
        return f"整改期限前 {rest[0].removeprefix('reminder-')} 天提醒{deadline}"
    if kind == "reinspection" and rest and rest[0] != "-":
        return f"{rest[0]} 报告已整改，待复查"
    return KIND_ZH.get(kind, kind) if not rest else "、".join(rest)


def recipient_name(recipient_key: str, customer_id: str | None, customer_name: str | None) -> str:
    """Who a ledger row went to, by name: the organisation, or for a customer (only ever the hazard's own: a customer
    sees only its hazards) its name and 户号."""
    party, _, rest = recipient_key.partition("|")
    who = rest.partition("|")[2] or rest
    if party == PARTY_CUSTOMER:
        name = customer_name if who == customer_id and customer_name else None
        return f"{name}（户号 {who}）" if name else f"户号 {who}"
    return who


def hazard_file(store: Store, county: str, hazard_id: str, as_of: dt.date,
                timezone: str = "Asia/Shanghai") -> dict | None:
    """The hazard's file as of `as_of`, or None when the store never had it; message times on the wall clock of
    `timezone` (settings.timezone)."""
    hist = store.hazard_history(county, hazard_id)
    if hist.empty:
        return None
    with store.engine.connect() as conn:
        accepted = {r.id: r for r in conn.execute(sa.select(submissions.c.id, submissions.c.file_name,
                                                            submissions.c.outcome, submissions.c.as_of))}
    hist = hist[[accepted.get(int(s)) is not None and accepted[int(s)].outcome == "accepted"
                 and accepted[int(s)].as_of <= as_of for s in hist["submission_id"]]]
    if hist.empty:
        return None
    versions = []
    for rec in hist.to_dict("records"):
        sub = accepted[int(rec["submission_id"])]
        versions.append({"as_of": _plain(rec["as_of"]), "file": sub.file_name,
                         **{k: _plain(rec.get(k)) for k in VERSION_FIELDS}})
    current = {k: (v.date() if isinstance(v, dt.datetime) else v) for k, v in hist.iloc[-1].to_dict().items()}
    current = {k: (None if _plain(v) is None else v) for k, v in current.items()}
    history = store.deadline_histories(as_of, [county]).get((county, hazard_id))
    deadlines = deadline_versions(history)
    current["deadline"] = current_deadline(current.get("deadline"), history)  # a meeting commitment included
    reinspections, seen = [], set()
    for v in versions:
        key = (v["reinspect_date"], v["reinspect_result"])
        if v["reinspect_result"] and key not in seen:
            seen.add(key)
            reinspections.append({"reinspect_date": v["reinspect_date"], "reinspector": v["reinspector"],
                                  "reinspect_result": v["reinspect_result"], "reported_in": v["as_of"]})
    by_key = {(county, hazard_id): current}
    notices = [{"number": n["number"], "issued_on": n["issued_on"].isoformat(), "path": n.get("path"),
                **service_of(n, by_key)}
               for n in store.notices_list(county=county, hazard_id=hazard_id, issued_until=as_of)]
    letters = [{"number": x["number"], "rung": x["rung"], "rung_name": RUNG_ZH.get(x["rung"], x["rung"]),
                "scope": x["county"], "issued_on": _plain(x["issued_on"]), "hazards": len(x["hazards"]),
                "path": x.get("path")}
               for x in store.letters(until=as_of) if (county, hazard_id) in {tuple(h) for h in x["hazards"]}]
    periods = [n["number"] for n in notices] + [x["number"] for x in letters]
    prefix = f"{county}|{hazard_id}"
    customer_id, customer_name = _plain(current.get("customer_id")), _plain(current.get("customer_name"))
    with store.engine.connect() as conn:
        q = (sa.select(deliveries).where(sa.or_(deliveries.c.period == prefix,
                                                 deliveries.c.period.like(prefix.replace("%", r"\%") + "|%",
                                                                          escape="\\"),
                                                 deliveries.c.period.in_(periods or [""])))
             .order_by(deliveries.c.id))
        messages = [{"kind": r.kind, "kind_name": KIND_ZH.get(r.kind, r.kind), "period": r.period,
                     "item": message_item(r.kind, r.period, hazard_id),
                     "recipient": recipient_name(r.recipient_key, customer_id and str(customer_id), customer_name),
                     "recipient_key": r.recipient_key, "channel": r.channel,
                     "channel_name": CHANNEL_ZH.get(r.channel, r.channel), "status": r.status,
                     "status_name": delivery_status(r.status, r.channel),
                     "sent_at": local_time(r.updated_at, timezone),
                     "sent_at_utc": r.updated_at.isoformat(timespec="seconds") if r.updated_at else None}
                    for r in conn.execute(q)]
    photos = store.photo_index(as_of, [county]).get((county, hazard_id), [])
    return {"county": county, "hazard_id": hazard_id, "customer_id": current.get("customer_id"),
            "customer_name": current.get("customer_name"), "as_of": as_of.isoformat(),
            "stage": stage(current), "days_in_stage": days_in_stage(current, as_of),
            "current": {k: _plain(v) for k, v in current.items() if k not in ("id",)},
            "versions": versions, "notices": notices, "deadline_changes": deadlines,
            "reinspections": reinspections, "letters": letters, "messages": messages, "photos": photos}
