"""The notices job (整改通知书): every customer with open hazards that have no 告知日期 and are on no notice yet
gets one written notice, recorded in the store before it is a file; `send` mails it (and texts that it was
mailed) to that customer's own directory contacts, once, through the dispatcher.

- a hazard is on one notice at most (store.notice_hazards' unique key): a re-run, or a run after a later
  register, never puts it on a second one; a hazard found later gets a new notice;
- 通知书编号 is <县名>-<年>-<序号>, unique per county and year, and stays with the notice;
- service is read from the registers: a later version of the hazard with its 告知日期 (and 签收人) means the
  notice was served;
- each hazard's 整改期限 is its current deadline (`Store.deadline_histories`, as every output's): a meeting
  commitment (noted on the notice) or a later register's date, the last date given when a register left it blank.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hazardnet.delivery.directory import Recipient, directory_in_use, load_directory
from hazardnet.delivery.dispatch import Dispatch, gave_up
from hazardnet.jobs.runner import PlainRunner, RetryPolicy, Runner
from hazardnet.publish.notice import (
    Notice,
    NoticeHazard,
    issuer_of,
    notice_letter,
    notice_path,
    notice_sms,
    number_prefix,
    write_notice,
)
from hazardnet.rules import commitment_note, county_order, current_deadline, needs_notice
from hazardnet.settings import Settings
from hazardnet.store import Store
from schemas.vocab import PARTY_CUSTOMER

KIND = "notice"


@dataclass
class NoticesResult:
    """What a notices run did."""

    as_of: dt.date
    notices: list[dict] = field(default_factory=list)  # issued by this run
    issued: list[dict] = field(default_factory=list)  # every notice issued up to as_of, with its service
    pdf: dict | None = None
    deliveries: list[dict] = field(default_factory=list)
    unreachable: list[dict] = field(default_factory=list)  # notices whose customer is not in the directory

    def as_json(self) -> dict:
        return {"as_of": self.as_of.isoformat(), "notices": self.notices, "issued": self.issued, "pdf": self.pdf,
                "deliveries": self.deliveries, "unreachable": self.unreachable}


def current_hazards(store: Store, as_of: dt.date) -> list[dict[str, Any]]:
    """The current version of every hazard as the store stood on `as_of`, as plain dicts, each at its current
    deadline (`rules.current_deadline`: a meeting commitment or a later register's date, the last date given when
    the latest register left it blank), with `deadline_note` saying when a meeting commitment set it."""
    df = store.register_as_of(as_of)
    if df.empty:
        return []
    df = df.astype(object).where(df.notna(), None)
    hazards = df.to_dict("records")
    histories = store.deadline_histories(as_of, differing_only=True)
    for h in hazards:
        history = histories.get((h["county"], str(h["hazard_id"])))
        h["deadline"] = current_deadline(h["deadline"], history)
        h["deadline_note"] = commitment_note(history)  # the customer's own promise; a carried date needs no word
    return hazards


def unnotified_by_customer(hazards: list[dict], noticed: set[tuple[str, str]],
                           counties: list[str]) -> list[tuple[tuple[str, str], list[dict]]]:
    """(county, customer_id) -> its hazards needing a notice and on no notice yet, counties in configured order."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for h in hazards:
        if needs_notice(h) and (h["county"], str(h["hazard_id"])) not in noticed:
            groups.setdefault((h["county"], str(h["customer_id"])), []).append(h)
    by_county = county_order(counties)
    return sorted(((k, sorted(v, key=lambda h: str(h["hazard_id"]))) for k, v in groups.items()),
                  key=lambda kv: (by_county(kv[0][0]), kv[0]))


def notice_of(record: dict, by_key: dict[tuple[str, str], dict], names: Sequence[Recipient] = ()) -> Notice:
    """The renderable notice of a stored notice record, its hazards as the register holds them now, its issuer as
    the directory (`names`) calls the county's supply company."""
    rows = [by_key.get((record["county"], h)) or {"hazard_id": h} for h in record["hazard_ids"]]
    return Notice(number=record["number"], county=record["county"], customer_id=record["customer_id"],
                  customer_name=record["customer_name"] or "", issued_on=record["issued_on"],
                  issuer=issuer_of(record["county"], names), hazards=tuple(NoticeHazard.of(r) for r in rows))


def service_of(record: dict, by_key: dict[tuple[str, str], dict]) -> dict:
    """Whether a notice was served, as the later registers tell: every hazard's 告知日期 (and 签收人)."""
    dates, signers = [], []
    for h in record["hazard_ids"]:
        row = by_key.get((record["county"], h)) or {}
        if isinstance(row.get("notice_date"), dt.date):
            dates.append(row["notice_date"])
        if row.get("signed_by"):
            signers.append(str(row["signed_by"]))
    served = len(dates) == len(record["hazard_ids"]) and bool(dates)
    return {"served": served, "served_on": max(dates).isoformat() if served else None,
            "signed_by": sorted(set(signers))}


def public(record: dict, path: str | None = None) -> dict:
    """A notice record as the JSON output shows it."""
    return {"county": record["county"], "customer_id": record["customer_id"],
            "customer_name": record["customer_name"], "number": record["number"],
            "hazard_ids": list(record["hazard_ids"]), "issued_on": record["issued_on"].isoformat(),
            "path": path or record.get("path")}


def notices(settings: Settings, as_of: dt.date, *, runner: Runner | None = None, send: bool = False,
            pdf: bool = False, store: Store | None = None) -> NoticesResult:
    """Issue a notice to every customer with unnotified hazards, write the documents (and PDFs), send them."""
    runner = runner or PlainRunner(RetryPolicy.of(settings))
    own_store = store is None
    settings.home.mkdir(parents=True, exist_ok=True)
    store = store or Store(settings.database_url)
    result = NoticesResult(as_of)
    try:
        hazards = runner.step("读取台账", current_hazards, store, as_of)
        by_key = {(h["county"], str(h["hazard_id"])): h for h in hazards}
        noticed = set(runner.step("读取已签发通知书", store.noticed_hazards))
        names = runner.step("通讯录中的供电公司名称", directory_in_use, settings, store, as_of)
        groups = unnotified_by_customer(hazards, noticed, settings.counties)
        runner.progress("total", n=len(groups))

        def issued_notice(group: tuple[tuple[str, str], list[dict]]) -> dict | None:
            """Record one customer's notice in the store and write its document."""
            (county, customer_id), rows = group
            record = store.issue_notice(county=county, number_prefix=number_prefix(county), year=as_of.year,
                                        customer_id=customer_id, customer_name=rows[0].get("customer_name"),
                                        issued_on=as_of, hazard_ids=[str(h["hazard_id"]) for h in rows])
            runner.progress("advance", label=f"{county} {customer_id}")
            if record is None:
                return None
            notice = notice_of(record, by_key, names)
            path = write_notice(notice_path(settings.outbox, notice), notice)
            store.set_notice_path(record["number"], str(path))
            return public(record, str(path))

        made = runner.each("签发通知书", issued_notice, groups,
                           label=lambda g: f"通知书 {g[0][0]} {g[0][1]}", in_order=lambda g: g[0][0])
        result.notices = [m for m in made if m is not None]
        by_county = county_order(settings.counties)  # every list (issued, mails, console) in configured order
        records = sorted(store.notices_list(issued_until=as_of), key=lambda r: (by_county(r["county"]), r["number"]))
        for r in records:  # a notice whose file is gone (a cleaned outbox) is written again from its record
            if not r.get("path") or not Path(r["path"]).is_file():
                notice = notice_of(r, by_key, names)
                path = write_notice(notice_path(settings.outbox, notice), notice)
                store.set_notice_path(r["number"], str(path))
                r["path"] = str(path)
        result.issued = [{**public(r), **service_of(r, by_key)} for r in records]
        if pdf:
            result.pdf = runner.step("打印通知书 PDF", notice_pdfs, settings, [n["path"] for n in result.notices])
        if send:
            result.deliveries, result.unreachable = send_notices(settings, store, as_of, records, by_key, runner, pdf,
                                                                names)
        runner.info("%s: %d notices issued, %d deliveries", as_of, len(result.notices), len(result.deliveries))
        return result
    finally:
        if own_store:
            store.dispose()


def pdf_path(docx: str | Path) -> Path:
    return Path(docx).with_suffix(".pdf")


def notice_pdfs(settings: Settings, paths: list[str]) -> dict:
    """Each notice document printed to PDF beside it (LibreOffice headless)."""
    from hazardnet.publish.paper import convert_all

    return convert_all(settings, [(Path(p).stem, Path(p), pdf_path(p)) for p in paths]).as_json()


def send_notices(settings: Settings, store: Store, as_of: dt.date, records: list[dict],
                 by_key: dict[tuple[str, str], dict], runner: Runner, pdf: bool,
                 names: Sequence[Recipient] = ()) -> tuple[list[dict], list[dict]]:
    """Mail (and text) each notice to its own customer's directory contacts, each once (the ledger)."""
    from hazardnet.delivery.ledger import bulletin_lock
    from hazardnet.jobs.wiring import dispatcher

    directory = load_directory(settings, store, as_of)
    customers = {(r.county, r.customer_id): r for r in directory.recipients
                 if r.party == PARTY_CUSTOMER and r.county and r.customer_id}
    plans: list[Dispatch] = []
    unreachable: list[dict] = []
    for record in records:
        recipient = customers.get((record["county"], record["customer_id"]))
        if recipient is None:
            unreachable.append(public(record))
            continue
        notice = notice_of(record, by_key, names)
        files = [(Path(record["path"]).name, Path(record["path"]))]
        if pdf and pdf_path(record["path"]).is_file():
            files.append((pdf_path(record["path"]).name, pdf_path(record["path"])))
        digest = hashlib.sha256("|".join([notice.number, *record["hazard_ids"]]).encode()).hexdigest()
        plans.append(Dispatch(
            KIND, recipient, [(notice.number, digest)],
            letter=lambda periods, n=notice, f=files: notice_letter(n, f),
            text=lambda periods, n=notice: notice_sms(n), sms_after_mail=True,
            sms_stem=f"通知书_{notice.number}_{recipient.org_name}",
            attachment=Path(record["path"]).name,
            extra={"number": notice.number, "hazard_ids": list(record["hazard_ids"])}))
    if not plans:
        return [], unreachable
    sender = dispatcher(settings, store, runner.secret)
    with bulletin_lock(settings):  # one sender at a time per home, whatever it sends
        deliveries = runner.each("送达通知书", sender.send, plans,
                                 label=lambda d: f"送达 {d.recipient.county_label} {d.recipient.org_name}", io=True,
                                 on_error=lambda d, exc: {**gave_up(d.recipient, exc), **d.extra})
    return deliveries, unreachable
