"""The supervision job (督办): reminders before a deadline and the ladder after it, one sequence.

1. Every hazard's state on the report date, from the store: its current deadline (register versions and meeting
   commitments, `Store.deadline_histories`, `rules.current_deadline`), the rung it is on (`rules.rung`), the reminder due (`rules.reminder_due`).
2. The day each rung was first reached is recorded (store.supervision_rungs).
3. Letters: per county, one 《隐患督办建议函》 naming the hazards newly at 县级督办; for the whole prefecture one
   naming the hazards newly at 州级挂牌督办 — a record first (number, rung, date, county, hazards), then
   outbox/督办/<县(市) or 海西州>/<number>.docx (and a PDF with `pdf`).
4. Sending through the one dispatcher: reminders to the customer's own directory contacts (mail + SMS), each
   letter to its authority (the county authority and, in copy, the county supply company; 州能源局 and the
   prefecture supply company), attached; once per item, recipient and channel (the delivery ledger). A customer
   never receives a letter.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hazardnet.delivery.directory import DirectoryResult, Recipient, directory_in_use, load_directory
from hazardnet.delivery.dispatch import Dispatch, Dispatcher, Letter, gave_up
from hazardnet.delivery.ledger import DeliveryLedger, LedgerEntry, bulletin_lock
from hazardnet.jobs.runner import PlainRunner, RetryPolicy, Runner
from hazardnet.publish.supervision import (
    LetterDraft,
    LetterHazard,
    Reminder,
    letter_mail,
    letter_number,
    letter_path,
    letter_sms,
    reminder_mail,
    reminder_sms,
    write_letter,
)
from hazardnet.rules import (
    COUNTY,
    PREFECTURE,
    RUNG_ZH,
    DeadlineHistory,
    Ladder,
    current_deadline,
    days_past_deadline,
    missed_commitment,
    reminder_due,
    rung,
    rungs_up_to,
)
from hazardnet.settings import Settings
from hazardnet.store import Store
from schemas.vocab import MAJOR_SEVERITY, PARTY_CUSTOMER, PARTY_GOV, PARTY_UTILITY

REMINDER_KIND = "reminder"
LETTER_KIND = "supervision"
LETTER_SEND_DAYS = 7  # a letter not delivered yet (a failed or interrupted run) is sent by the runs of a week


@dataclass
class HazardState:
    """One hazard on the report date, as supervision sees it."""

    hazard: LetterHazard
    status: str
    rung: str | None
    reminder: int | None
    missed_commitment: bool
    committed: dt.date | None
    acts: dict = field(default_factory=dict)  # what the register says the authority did: 督办单位, 督办日期, 督办期限, 政府督办

    @property
    def key(self) -> tuple[str, str]:
        return self.hazard.county, self.hazard.hazard_id


@dataclass
class SupervisionResult:
    as_of: dt.date
    states: list[HazardState] = field(default_factory=list)
    reached: dict = field(default_factory=dict)  # (county, hazard_id) -> {rung: day}
    reminders: list[Reminder] = field(default_factory=list)
    letters: list[dict] = field(default_factory=list)  # store records (with "draft")
    deliveries: list[dict] = field(default_factory=list)
    paper: dict | None = None
    directory: DirectoryResult | None = None

    def as_json(self) -> dict:
        rungs = []
        for s in self.states:
            if s.rung is None:
                continue
            h = s.hazard
            rungs.append({"county": h.county, "customer_id": h.customer_id, "customer_name": h.customer_name,
                          "hazard_id": h.hazard_id, "severity": h.severity, "rung": s.rung, "rung_name": RUNG_ZH[s.rung],
                          "reached_on": self.reached.get(s.key, {}).get(s.rung), "deadline": h.deadline,
                          "days_overdue": h.days_overdue, "why": h.why, "committed": s.committed,
                          "missed_commitment": s.missed_commitment, **s.acts})
        reminders = []
        for r in self.reminders:
            sent = [d for d in self.deliveries if d.get("kind") == REMINDER_KIND and r.key in d.get("items", [])]
            reminders.append({"county": r.hazard.county, "customer_id": r.hazard.customer_id,
                              "customer_name": r.hazard.customer_name, "hazard_id": r.hazard.hazard_id,
                              "deadline": r.hazard.deadline, "days_before": r.days_before, "days_left": r.left,
                              "recipients": [_who(d) for d in sent]})
        letters = []
        for x in self.letters:
            sent = [d for d in self.deliveries if d.get("kind") == LETTER_KIND and d.get("letter") == x["number"]]
            letters.append({"number": x["number"], "rung": x["rung"], "rung_name": RUNG_ZH[x["rung"]],
                            "county": x["county"], "issued_on": x["issued_on"],
                            "hazard_ids": [h for _c, h in x["hazards"]],
                            "hazards": [{"county": c, "hazard_id": h} for c, h in x["hazards"]],
                            "path": x.get("path"), "pdf": x.get("pdf"), "recipients": [_who(d) for d in sent]})
        return {"as_of": self.as_of, "reminders": reminders, "rungs": rungs, "letters": letters,
                "deliveries": self.deliveries, "paper": self.paper,
                "directory": None if self.directory is None else {
                    "source": self.directory.source, "file": self.directory.file_name}}


def _who(d: dict) -> dict:
    return {"recipient": d.get("recipient"), "party": d.get("party"), "county": d.get("county"),
            "customer_id": d.get("customer_id"), "addresses": d.get("addresses"), "mobiles": d.get("mobiles"),
            "status": d.get("status"), "sms_status": d.get("sms_status"), "copy": d.get("copy", False)}


def _text(v) -> str | None:
    if v is None or (isinstance(v, float) and v != v):
        return None
    s = str(v).strip()
    return s or None


def _date(v) -> dt.date | None:
    if v is None or (isinstance(v, float) and v != v):
        return None
    if isinstance(v, dt.datetime):
        return v.date()
    return v if isinstance(v, dt.date) else None


# ---- 1. the state of every hazard --------------------------------------------------------------------
def hazard_states(store: Store, settings: Settings, as_of: dt.date) -> list[HazardState]:
    """Every hazard of the register as the store stood on `as_of`, with its current deadline, rung and reminder."""
    register = store.register_as_of(as_of)
    if not len(register):
        return []
    histories = store.deadline_histories(as_of)
    ladder = Ladder.of(settings)
    out = []
    for rec in register.to_dict("records"):
        key = (rec["county"], str(rec["hazard_id"]))
        history = histories.get(key) or DeadlineHistory()
        deadline = current_deadline(rec["deadline"], history)
        row = {"status": rec["status"], "severity": rec["severity"], "deadline": deadline,  # a failed re-inspection
               "reinspect_result": rec.get("reinspect_result"), "reinspect_date": rec.get("reinspect_date")}  # reopens
        missed = missed_commitment(row, history.committed, as_of)
        top = rung(row, as_of, ladder, missed_commitment=missed)
        late = days_past_deadline(deadline, as_of)
        why = ""
        if top is not None:
            parts = []
            if late is not None:
                parts.append(f"逾期 {late} 天")
            if rec["severity"] == MAJOR_SEVERITY and late is not None:
                parts.append("重大隐患逾期")
            if missed:
                parts.append(f"未兑现通报会承诺（承诺 {history.committed:%Y-%m-%d} 前完成）")
            why = "；".join(parts)
        hazard = LetterHazard(
            county=rec["county"], customer_id=str(rec["customer_id"]), customer_name=_text(rec["customer_name"]) or "",
            hazard_id=key[1], severity=rec["severity"], description=_text(rec["description"]) or "",
            first_deadline=history.first or deadline, deadline=deadline, changes=tuple(history.changes),
            days_overdue=late, contingency=_text(rec.get("contingency")), why=why,
            notice_date=_date(rec.get("notice_date")))
        acts = {"supervisor": _text(rec.get("supervisor")), "supervised_date": _date(rec.get("supervised_date")),
                "supervision_deadline": _date(rec.get("supervision_deadline")),
                "gov_supervised": _text(rec.get("gov_supervised"))}
        out.append(HazardState(hazard, rec["status"], top, reminder_due(row, as_of, settings.reminder_days),
                               missed, history.committed, acts))
    return out


# ---- 2. the rungs reached ----------------------------------------------------------------------------
def record_rungs(store: Store, states: Sequence[HazardState], as_of: dt.date) -> dict:
    """Remember the day each hazard first stood on each rung (a hazard found high up reached the lower rungs
    the same day); (county, hazard_id) -> {rung: day} as recorded up to `as_of`."""
    store.record_rungs((s.hazard.county, s.hazard.hazard_id, r, as_of, s.hazard.why)
                       for s in states for r in rungs_up_to(s.rung))
    return store.rungs_reached(as_of)


# ---- 3. the letters ----------------------------------------------------------------------------------
def _in_county_order(keys, settings: Settings) -> list:
    """(county, hazard_id) keys in the configured county order (settings.counties), the given order within a county."""
    order = {c: i for i, c in enumerate(settings.counties)}
    return sorted(keys, key=lambda k: order.get(k[0], len(order)))


def _draft(record: dict, by_key: dict[tuple[str, str], HazardState], settings: Settings) -> LetterDraft:
    hazards = [by_key[k].hazard for k in _in_county_order(record["hazards"], settings) if k in by_key]
    return LetterDraft(record["number"], record["rung"], record["county"], record["issued_on"], hazards,
                       record["issued_on"] + dt.timedelta(days=settings.supervision_term_days))


def issue_letters(store: Store, settings: Settings, states: Sequence[HazardState], as_of: dt.date) -> list[dict]:
    """Record and write today's letters (hazards newly at a rung), and write any letter of the last week whose
    file a stopped run did not write; every letter of the last week, each with its `draft`."""
    by_key = {s.key: s for s in states}
    for county in dict.fromkeys(k[0] for k in _in_county_order([s.key for s in states], settings)):
        at_county = [s.key for s in states if s.hazard.county == county and s.rung in (COUNTY, PREFECTURE)]
        if at_county:
            store.issue_letter(rung=COUNTY, county=county, issued_on=as_of, hazards=at_county,
                               number=lambda seq, c=county: letter_number(c, COUNTY, as_of.year, seq))
    at_prefecture = _in_county_order([s.key for s in states if s.rung == PREFECTURE], settings)
    if at_prefecture:
        store.issue_letter(rung=PREFECTURE, county=settings.prefecture, issued_on=as_of, hazards=at_prefecture,
                           number=lambda seq: letter_number(settings.prefecture, PREFECTURE, as_of.year, seq))
    letters = store.letters(since=as_of - dt.timedelta(days=LETTER_SEND_DAYS), until=as_of)
    names: list[Recipient] | None = None  # the directory, read once a letter is to be written
    for record in letters:
        record["draft"] = _draft(record, by_key, settings)
        path = letter_path(settings, record["county"], record["number"])
        if not path.is_file():
            if names is None:
                names = directory_in_use(settings, store, as_of)
            write_letter(path, record["draft"], settings, names)
        if record.get("path") != str(path):
            store.set_letter_path(record["id"], str(path))
            record["path"] = str(path)
    return letters


def letter_pdfs(settings: Settings, letters: Sequence[dict]) -> dict:
    """A PDF beside each letter (LibreOffice headless, hazardnet.publish.paper)."""
    from hazardnet.publish.paper import convert_all

    jobs = [(x["number"], Path(x["path"]), Path(x["path"]).with_suffix(".pdf")) for x in letters
            if not Path(x["path"]).with_suffix(".pdf").is_file()]
    result = convert_all(settings, jobs)
    for x in letters:
        pdf = Path(x["path"]).with_suffix(".pdf")
        x["pdf"] = str(pdf) if pdf.is_file() else None
    return result.as_json()


# ---- 4. who gets what ----------------------------------------------------------------------------------
def _digest(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


def letter_recipients(recipients: Sequence[Recipient], rung_: str, scope: str) -> list[tuple[Recipient, bool]]:
    """(recipient, in copy) of a letter: the county authority and (in copy) the county supply company for
    县级督办; prefecture-level authorities (州能源局) and the prefecture supply company for 州级挂牌督办.
    Never a customer."""
    out = []
    for r in recipients:
        if r.party == PARTY_CUSTOMER:
            continue
        if rung_ == PREFECTURE:
            if r.county is None and r.party in (PARTY_GOV, PARTY_UTILITY):
                out.append((r, r.party == PARTY_UTILITY))
        elif r.county == scope and r.party in (PARTY_GOV, PARTY_UTILITY):
            out.append((r, r.party == PARTY_UTILITY))
    return out


def reminders_of(states: Sequence[HazardState], as_of: dt.date, settled: set[str] = frozenset()) -> list[Reminder]:
    """The reminders to send on `as_of`: each on its own day, and after it (rules.reminder_due) while its ledger
    period is not `settled` (a day without a run, a delivery that failed)."""
    out = []
    for s in states:
        if s.reminder is None or s.hazard.deadline is None:  # no reminder: closed (rules.reminder_due)
            continue
        left = (s.hazard.deadline - as_of).days
        r = Reminder(s.hazard, s.reminder, left)
        if left == s.reminder or r.key not in settled:
            out.append(r)
    return out


def settled_reminders(store: Store) -> set[str]:
    """The reminder periods the ledger has delivered to every recipient on every channel it was sent on."""
    latest: dict[tuple[str, str, str], LedgerEntry] = {}
    for e in DeliveryLedger(store).entries(kind=REMINDER_KIND):  # oldest first: the last one of a key wins
        latest[(e.period, e.recipient_key, e.channel)] = e
    open_periods = {period for (period, _r, _c), e in latest.items() if not e.is_delivered}
    return {period for period, _r, _c in latest} - open_periods


def dispatches(settings: Settings, recipients: Sequence[Recipient], reminders: Sequence[Reminder],
               letters: Sequence[dict], as_of: dt.date) -> list[Dispatch]:
    """One Dispatch per recipient and reminder batch, and per recipient and letter."""
    out: list[Dispatch] = []
    by_customer: dict[tuple[str, str], list[Reminder]] = {}
    for r in reminders:
        by_customer.setdefault((r.hazard.county, r.hazard.customer_id), []).append(r)
    for recipient in recipients:
        if recipient.party != PARTY_CUSTOMER:
            continue
        mine = by_customer.get((recipient.county, recipient.customer_id))
        if not mine:
            continue
        by_key = {r.key: r for r in mine}

        stem = f"整改期限提醒_{as_of:%Y%m%d}_{recipient.county_label}_{recipient.customer_id}"  # .eml and SMS

        def letter(periods, recipient=recipient, by_key=by_key, stem=stem):
            subject, body = reminder_mail(recipient.org_name, [by_key[p] for p in periods], as_of, settings)
            return Letter(subject, body, file_stem=stem)

        def text(periods, recipient=recipient, by_key=by_key):
            return reminder_sms(recipient.org_name, [by_key[p] for p in periods])

        keys = list(by_key)
        out.append(Dispatch(REMINDER_KIND, recipient, [(k, _digest(k)) for k in keys], letter=letter, text=text,
                            sms_stem=stem, extra={"kind": REMINDER_KIND, "items": keys}))
    for record in letters:
        draft: LetterDraft = record["draft"]
        if not draft.hazards:
            continue
        name = Path(record["path"]).name
        for recipient, copy in letter_recipients(recipients, record["rung"], record["county"]):
            stem = f"督办建议函_{draft.number}_{recipient.org_name}"  # .eml and SMS

            def letter(periods, recipient=recipient, copy=copy, draft=draft, path=record["path"], name=name,
                       stem=stem):
                subject, body = letter_mail(draft, recipient.org_name, copy, settings)
                return Letter(subject, body, files=[(name, Path(path))], file_stem=stem)

            out.append(Dispatch(LETTER_KIND, recipient,
                                [(record["number"], _digest(record["number"], *record["hazards"]))],
                                letter=letter, text=lambda periods, draft=draft: letter_sms(draft), sms_stem=stem,
                                attachment=name,
                                rows_of=lambda periods, n=len(draft.hazards): n,
                                extra={"kind": LETTER_KIND, "letter": record["number"], "copy": copy}))
    return out


def _label(d: Dispatch) -> str:
    what = d.extra.get("letter") or "整改期限提醒"
    return f"{what} → {d.recipient.county_label} {d.recipient.org_name}"


# ---- the job -------------------------------------------------------------------------------------------
def supervision(settings: Settings, as_of: dt.date, *, runner: Runner | None = None, store: Store | None = None,
                pdf: bool = False, send: bool = True, sender: Dispatcher | None = None) -> SupervisionResult:
    """Reminders before the deadline and the supervision ladder after it, for report date `as_of`. `sender`:
    the dispatcher to use (default: the one jobs.wiring makes from the settings)."""
    runner = runner or PlainRunner(RetryPolicy.of(settings))
    own_store = store is None
    store = store or Store(settings.database_url)
    try:
        result = SupervisionResult(as_of)
        result.states = runner.step("隐患整改期限与督办层级", hazard_states, store, settings, as_of)
        result.reached = runner.step("记录督办层级", record_rungs, store, result.states, as_of)
        result.reminders = reminders_of(result.states, as_of, settled_reminders(store))
        result.letters = runner.step("生成隐患督办建议函", issue_letters, store, settings, result.states, as_of)
        if pdf and result.letters:
            result.paper = runner.step("督办建议函纸质版", letter_pdfs, settings, result.letters)
        if not send:
            return result
        result.directory = runner.step("读取通讯录", load_directory, settings, store, as_of)
        planned = dispatches(settings, result.directory.recipients, result.reminders, result.letters, as_of)
        runner.info("%s: %d reminders, %d letters, %d dispatches", as_of, len(result.reminders), len(result.letters),
                    len(planned))
        if planned:
            if sender is None:
                from hazardnet.jobs.wiring import dispatcher

                sender = dispatcher(settings, store, runner.secret)

            def failed(d: Dispatch, exc: BaseException) -> dict:
                return {**gave_up(d.recipient, exc), **d.extra}

            with bulletin_lock(settings):  # one sender at a time per home, whatever it sends
                result.deliveries = runner.each("发送整改提醒与督办建议函", sender.send, planned, label=_label, io=True,
                                                on_error=failed)
        return result
    finally:
        if own_store:
            store.dispose()
