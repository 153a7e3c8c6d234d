"""The reminders job (复查提醒): each county supply company is told, by mail and SMS and once per hazard, which
of its own county's hazards have been 已整改 for more than `settings.reinspection_days` days without a passing
re-inspection, and which were found more than `settings.notice_days` days ago without a written notice
(未书面告知). Only the county's own supply company: never a customer, an authority or another county.
`hazardnet warnings` runs it after the risk warnings."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

from hazardnet.delivery.dispatch import Dispatch, gave_up
from hazardnet.jobs.notices import current_hazards
from hazardnet.jobs.runner import PlainRunner, RetryPolicy, Runner
from hazardnet.publish.reminders import (
    REINSPECTION,
    UNNOTIFIED,
    Reminder,
    reminder_letter,
    reminder_sms,
    reminder_stem,
)
from hazardnet.rules import reinspection_due, unnotified_due
from hazardnet.settings import Settings
from hazardnet.store import Store
from schemas.vocab import PARTY_UTILITY


@dataclass
class RemindersResult:
    as_of: dt.date
    reinspection_days: int | None = None  # the thresholds the lists were drawn with (settings)
    notice_days: int | None = None
    reinspection_due: list[Reminder] = field(default_factory=list)
    unnotified: list[Reminder] = field(default_factory=list)
    reminders: list[dict] = field(default_factory=list)  # one record per (supply company, kind)
    unreachable: list[str] = field(default_factory=list)  # counties without a supply company in the directory

    def as_json(self) -> dict:
        return {"as_of": self.as_of.isoformat(), "reinspection_days": self.reinspection_days,
                "notice_days": self.notice_days,
                "reinspection_due": [r.as_json() for r in self.reinspection_due],
                "unnotified": [r.as_json() for r in self.unnotified],
                "reminders": self.reminders, "unreachable_counties": self.unreachable,
                # the re-inspection reminders alone, one per supply company: which hazards, to whom
                "reinspection_reminders": [
                    {"county": r["county"], "recipient": r["recipient"], "party": r["party"],
                     "addresses": r["addresses"], "mobiles": r.get("mobiles") or [], "hazard_ids": r["hazard_ids"],
                     "sent_hazard_ids": r.get("sent_hazard_ids", []), "status": r["status"],
                     "sms_status": r.get("sms_status")}
                    for r in self.reminders if r.get("kind") == REINSPECTION]}


def _reminder(kind: str, h: dict, as_of: dt.date, notice_number: str | None = None) -> Reminder:
    since = h["completed_date"] if kind == REINSPECTION else h["found_date"]
    return Reminder(kind=kind, county=h["county"], hazard_id=str(h["hazard_id"]), customer_id=str(h["customer_id"]),
                    customer_name=str(h.get("customer_name") or ""), severity=h.get("severity"),
                    description=str(h.get("description") or ""), found_date=h.get("found_date"),
                    completed_date=h.get("completed_date"), days=(as_of - since).days, notice_number=notice_number)


def due_reminders(settings: Settings, store: Store, as_of: dt.date) -> tuple[list[Reminder], list[Reminder]]:
    """(hazards due for re-inspection, hazards not notified in writing) on `as_of`, county then hazard order."""
    hazards = current_hazards(store, as_of)
    noticed = store.noticed_hazards()
    order = {c: i for i, c in enumerate(settings.counties)}
    hazards.sort(key=lambda h: (order.get(h["county"], len(order)), h["county"], str(h["hazard_id"])))
    due = [_reminder(REINSPECTION, h, as_of) for h in hazards
           if reinspection_due(h, as_of, settings.reinspection_days)]
    late = [_reminder(UNNOTIFIED, h, as_of, noticed.get((h["county"], str(h["hazard_id"])))) for h in hazards
            if unnotified_due(h, as_of, settings.notice_days)]
    return due, late


def reminders(settings: Settings, as_of: dt.date, *, runner: Runner | None = None,
              store: Store | None = None) -> RemindersResult:
    """Find the hazards waiting on each county supply company and remind it of the new ones, once each."""
    from hazardnet.delivery.directory import load_directory
    from hazardnet.delivery.ledger import bulletin_lock
    from hazardnet.jobs.wiring import dispatcher

    runner = runner or PlainRunner(RetryPolicy.of(settings))
    own_store = store is None
    settings.home.mkdir(parents=True, exist_ok=True)
    store = store or Store(settings.database_url)
    result = RemindersResult(as_of, settings.reinspection_days, settings.notice_days)
    try:
        result.reinspection_due, result.unnotified = runner.step("查找待复查与未告知隐患", due_reminders,
                                                                 settings, store, as_of)
        if not result.reinspection_due and not result.unnotified:
            return result
        directory = runner.step("读取通讯录", load_directory, settings, store, as_of)
        utilities: dict[str, list] = {}
        for r in directory.recipients:
            if r.party == PARTY_UTILITY and r.county:  # the county's own supply company only
                utilities.setdefault(r.county, []).append(r)
        plans: list[Dispatch] = []
        for kind, items, days in ((REINSPECTION, result.reinspection_due, settings.reinspection_days),
                                  (UNNOTIFIED, result.unnotified, settings.notice_days)):
            by_county: dict[str, list[Reminder]] = {}
            for rem in items:
                by_county.setdefault(rem.county, []).append(rem)
            for county, mine in by_county.items():
                if not utilities.get(county):
                    if county not in result.unreachable:
                        result.unreachable.append(county)
                    continue
                by_period = {rem.period: rem for rem in mine}
                ledger_items = [(rem.period, hashlib.sha256(f"{kind}|{rem.period}".encode()).hexdigest())
                                for rem in mine]
                for recipient in utilities[county]:
                    plans.append(Dispatch(
                        kind, recipient, ledger_items,
                        letter=lambda periods, k=kind, c=county, n=recipient.org_name, b=by_period, d=days:
                            reminder_letter(k, c, n, [b[p] for p in periods], as_of, d),
                        text=lambda periods, k=kind, c=county, b=by_period, d=days:
                            reminder_sms(k, c, [b[p] for p in periods], d, settings),
                        rows_of=len, sms_stem=reminder_stem(kind, county, recipient.org_name, as_of),
                        extra={"kind": kind, "hazard_ids": [rem.hazard_id for rem in mine]}))
        if plans:
            sender = dispatcher(settings, store, runner.secret)
            with bulletin_lock(settings):
                records = runner.each(
                    "发送复查提醒", sender.send, plans, io=True,
                    label=lambda d: f"提醒 {d.recipient.county_label} {d.recipient.org_name}",
                    on_error=lambda d, exc: {**gave_up(d.recipient, exc), **d.extra})
            for rec in records:  # which hazards this run told it about (a re-run tells nothing new)
                rec["sent_hazard_ids"] = [p.split("|")[1] for p in rec.get("items") or []]
            result.reminders = records
        runner.info("%s: %d due for re-inspection, %d not notified, %d reminders", as_of,
                    len(result.reinspection_due), len(result.unnotified), len(result.reminders))
        return result
    finally:
        if own_store:
            store.dispose()
