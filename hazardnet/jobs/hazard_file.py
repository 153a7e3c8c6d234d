"""One file per hazard (一患一档): a hazard's whole life from the store — every register version that carried it,
its notice and service, deadline changes, re-inspections, the warnings and messages sent about it, its photos."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from hazardnet.delivery.ledger import deliveries
from hazardnet.jobs.notices import service_of
from hazardnet.rules import COMMITMENT_REASON, DeadlineHistory, current_deadline, days_in_stage, stage
from hazardnet.store import Store, submissions

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


def hazard_file(store: Store, county: str, hazard_id: str, as_of: dt.date) -> dict | None:
    """The hazard's file as of `as_of`, or None when the store never had it."""
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
    periods = [n["number"] for n in notices]
    prefix = f"{county}|{hazard_id}"
    with store.engine.connect() as conn:
        q = (sa.select(deliveries).where(sa.or_(deliveries.c.period == prefix,
                                                 deliveries.c.period.like(prefix.replace("%", r"\%") + "|%",
                                                                          escape="\\"),
                                                 deliveries.c.period.in_(periods or [""])))
             .order_by(deliveries.c.id))
        messages = [{"kind": r.kind, "period": r.period, "recipient": r.recipient_key.split("|")[-1],
                     "recipient_key": r.recipient_key, "channel": r.channel, "status": r.status,
                     "sent_at": r.updated_at.isoformat(timespec="seconds") if r.updated_at else None}
                    for r in conn.execute(q)]
    photos = store.photo_index(as_of, [county]).get((county, hazard_id), [])
    return {"county": county, "hazard_id": hazard_id, "customer_id": current.get("customer_id"),
            "customer_name": current.get("customer_name"), "as_of": as_of.isoformat(),
            "stage": stage(current), "days_in_stage": days_in_stage(current, as_of),
            "current": {k: _plain(v) for k, v in current.items() if k not in ("id",)},
            "versions": versions, "notices": notices, "deadline_changes": deadlines,
            "reinspections": reinspections, "messages": messages, "photos": photos}
