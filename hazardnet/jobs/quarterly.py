"""The quarterly job (季度隐患治理情况汇总): the quarter as known on the report date → one prefecture workbook and
briefing deck (each hazard's slide with its photos), one of each per county, the newsletter text, optionally
the paper copies, and (with send) the mail to the three parties, once each. One sequence: the flow runs it with
Prefect's runner, tests and scripts with the plain one."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from hazardnet.delivery.directory import Recipient, load_directory
from hazardnet.delivery.dispatch import Dispatch, Dispatcher, delivery_record, failure_summary, gave_up, undelivered
from hazardnet.delivery.ledger import bulletin_lock
from hazardnet.jobs.runner import PlainRunner, RetryPolicy, Runner
from hazardnet.jobs.wiring import dispatcher
from hazardnet.publish.briefing_deck import Photos
from hazardnet.publish.paper import PaperResult, quarterly_paper_copies
from hazardnet.publish.quarterly import Quarter, QuarterData, QuarterlySummary, quarter_data, summaries
from hazardnet.publish.quarterly_mail import QUARTERLY_KIND, book_for, customer_book, quarterly_files, quarterly_letter
from hazardnet.publish.emergency_slides import quarter_emergency
from hazardnet.publish.quarterly_workbook import QuarterlyWorkbook, write_deck, write_quarter_newsletter, write_summary
from hazardnet.settings import Settings, today
from hazardnet.store import Store
from schemas.vocab import PARTY_CUSTOMER


@dataclass
class QuarterOutcome:
    """What the quarterly job did: the summaries (prefecture first), their workbooks with their decks, the
    newsletter text, `result` (its JSON) and, when some recipient could not be served, `problem`."""

    prefecture: QuarterlySummary
    books: list[QuarterlyWorkbook] = field(default_factory=list)
    summaries: list[QuarterlySummary] = field(default_factory=list)  # of `books`, in their order
    newsletter: Path | None = None
    result: dict = field(default_factory=dict)
    problem: str | None = None


def quarterly(settings: Settings, quarter: Quarter, as_of: dt.date | None = None, *, send: bool = False,
              pdf: bool | None = None, runner: Runner | None = None, store: Store | None = None,
              sender: Dispatcher | None = None, photos: Photos = None) -> QuarterOutcome:
    """Write the quarter's workbooks and briefing decks (prefecture and counties) and the newsletter text, as
    known on `as_of` (数据截至, default today); with `pdf` (default: the paper_copies setting) print the
    prefecture and county workbooks to PDF; with `send`, mail them to every recipient once. `photos`: each
    hazard's photos for the decks (default: the store's, as known on the report date)."""
    runner = runner or PlainRunner(RetryPolicy.of(settings))
    day = as_of or today(settings)
    settings.home.mkdir(parents=True, exist_ok=True)
    own_store = store is None
    store = store or Store(settings.database_url)
    try:
        data = runner.step("读取季度台账", quarter_snapshot, store, quarter, day)
        scoped = summaries(data, settings)
        if photos is None:
            photos = store.photos_by_hazard(day)  # every photographed hazard's photos as known on the report date
        emergency = quarter_emergency(store, settings, quarter, day)  # customer files and joint drills (None: none)

        def workbook(s: QuarterlySummary) -> QuarterlyWorkbook:
            """Write one quarterly summary workbook under outbox/quarterly/<quarter>/."""
            return quarterly_workbook(s, settings)

        def deck(s: QuarterlySummary) -> Path:
            """Write one briefing deck (pptx) beside its workbook, each hazard's slide with its photos."""
            return briefing_deck(s, settings, photos, emergency)

        books = runner.each("生成季度汇总", workbook, scoped, label=lambda s: f"生成季度汇总：{s.scope_name}")
        decks = runner.each("生成通报会PPT", deck, scoped, label=lambda s: f"生成通报会PPT：{s.scope_name}")
        for book, deck in zip(books, decks):
            book.deck = deck
        newsletter = runner.step("生成工作开展情况", newsletter_text, scoped[0], settings, emergency)
        out = QuarterOutcome(scoped[0], books, scoped, newsletter)
        out.result = {"quarter": quarter.label, "as_of": day.isoformat(), "figures": scoped[0].by_county,
                      "workbooks": [b.as_json() for b in books], "newsletter": str(newsletter)}
        if settings.paper_copies if pdf is None else pdf:
            out.result["paper"] = runner.step("生成纸质版", quarterly_paper, settings, scoped, books).as_json()
        if send:
            deliveries = quarterly_deliveries(settings, store, data, books, runner, sender)
            out.result["deliveries"] = deliveries
            out.problem = failure_summary(deliveries) if undelivered(deliveries) else None
        runner.info("%s: %d workbooks", quarter.label, len(books))
        return out
    finally:
        if own_store:
            store.dispose()


def quarter_snapshot(store: Store, quarter: Quarter, as_of: dt.date) -> QuarterData:
    """The quarter's hazards as known on the report date (and the previous report's snapshot)."""
    return quarter_data(store, quarter, as_of)


def quarterly_workbook(summary: QuarterlySummary, settings: Settings) -> QuarterlyWorkbook:
    """Write one quarterly summary workbook under outbox/quarterly/<quarter>/."""
    return write_summary(summary, settings)


def briefing_deck(summary: QuarterlySummary, settings: Settings, photos: Photos = None, emergency=None) -> Path:
    """Write one briefing deck (pptx) beside its workbook, each hazard's slide with its photos (and, with
    customer files, the customer-file problems and the joint drills)."""
    return write_deck(summary, settings, photos=photos, emergency=emergency)


def newsletter_text(summary: QuarterlySummary, settings: Settings, emergency=None) -> Path:
    """Write 工作开展情况.docx for the company newsletter."""
    return write_quarter_newsletter(summary, settings, emergency)


def quarterly_paper(settings: Settings, summaries: list[QuarterlySummary],
                    books: list[QuarterlyWorkbook]) -> PaperResult:
    """The printed handouts (PDF, by LibreOffice) of the prefecture and county workbooks, in 纸质版/."""
    return quarterly_paper_copies(settings, summaries, books)


def quarterly_deliveries(settings: Settings, store: Store, data: QuarterData, books: list[QuarterlyWorkbook],
                         runner: Runner, sender: Dispatcher | None = None) -> list[dict]:
    """Send every recipient of the directory its quarterly workbook (one step each)."""
    directory = load_directory(settings, store, today(settings))
    if not directory.usable:
        raise RuntimeError("没有可用的通讯录，无法发送季度汇总：" + "；".join(f.message for f in directory.findings))
    sender = sender or dispatcher(settings, store, runner.secret, sms=False)

    def mailed(recipient: Recipient) -> dict:
        """Mail one recipient its scope's workbook (a customer: its own, written now), once per quarter."""
        return quarterly_delivery(sender, settings, recipient, data, books)

    with bulletin_lock(settings):
        return runner.each("发送季度汇总", mailed, directory.recipients,
                           label=lambda r: f"发送季度汇总：{r.county_label} {r.org_name}", io=True,
                           on_error=gave_up,
                           threads=1)  # the plain runner: one mail in flight at a time


def quarterly_delivery(sender: Dispatcher, settings: Settings, recipient: Recipient, data: QuarterData,
                       books: list[QuarterlyWorkbook], resend: bool = False) -> dict:
    """One recipient's quarterly mail: its county's or the prefecture's workbook and deck, a customer its own
    workbook (written now); a customer with no hazard in the quarter gets nothing. Its delivery record."""
    book = customer_book(data, settings, recipient) if recipient.party == PARTY_CUSTOMER else book_for(recipient, books)
    if book is None:
        return delivery_record(recipient, status="skipped", note="本季度范围内无隐患，不发送")
    return sender.send(Dispatch(
        QUARTERLY_KIND, recipient, [(data.quarter.label, book.digest)],
        letter=lambda _p: quarterly_letter(recipient, book, data.quarter, settings),
        rows_of=lambda _p: book.hazards, attachment="、".join(f.name for f in quarterly_files(book)), resend=resend))
