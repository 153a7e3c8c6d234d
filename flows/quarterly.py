"""Flow 季度隐患治理情况汇总: the quarter as known on the report date → one prefecture workbook and deck, one
of each per county, the newsletter text (→ optionally mailed to the three parties, once)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.schedules import Cron

from flows.artifacts import publish_link, publish_table
from flows.mailing import mail_transport, outcome, with_mail_retries
from hazardnet.delivery.directory import Recipient, load_directory
from hazardnet.delivery.ledger import DeliveryLedger, bulletin_lock, failure_summary, undelivered
from hazardnet.delivery.mail import Transport
from hazardnet.publish.quarterly import (
    Quarter,
    QuarterData,
    QuarterlySummary,
    county_figures_rows,
    quarter_data,
    summaries,
)
from hazardnet.publish.paper import PaperResult, quarterly_paper_copies
from hazardnet.publish.quarterly_mail import quarterly_delivery
from hazardnet.publish.quarterly_workbook import QuarterlyWorkbook, write_deck, write_quarter_newsletter, write_summary
from hazardnet.publish.emergency_slides import quarter_emergency
from hazardnet.settings import Settings, load_settings, today
from hazardnet.store import Store


@task(name="读取季度台账", cache_policy=NO_CACHE)
def quarter_snapshot(store: Store, quarter: Quarter, as_of: dt.date) -> QuarterData:
    """The quarter's hazards as known on the report date (and the previous report's snapshot)."""
    return quarter_data(store, quarter, as_of)


@task(name="生成季度汇总", task_run_name="生成季度汇总：{name}", cache_policy=NO_CACHE, retries=2,
      retry_delay_seconds=[2, 5])
def quarterly_workbook(summary: QuarterlySummary, settings: Settings, scope: str, name: str) -> QuarterlyWorkbook:
    """Write one quarterly summary workbook under outbox/quarterly/<quarter>/."""
    return write_summary(summary, settings, scope=scope)


@task(name="生成通报会PPT", task_run_name="生成通报会PPT：{name}", cache_policy=NO_CACHE, retries=2,
      retry_delay_seconds=[2, 5])
def briefing_deck(summary: QuarterlySummary, settings: Settings, scope: str, name: str,
                  photos: dict | None = None, emergency=None) -> Path:
    """Write one briefing deck (pptx) beside its workbook, each hazard's slide with its photos."""
    return write_deck(summary, settings, scope=scope, photos=photos, emergency=emergency)


@task(name="生成工作开展情况", cache_policy=NO_CACHE)
def newsletter_text(summary: QuarterlySummary, settings: Settings, emergency=None) -> Path:
    """Write 工作开展情况.docx for the company newsletter."""
    return write_quarter_newsletter(summary, settings, emergency)


@task(name="发送季度汇总", task_run_name="发送季度汇总：{name}", cache_policy=NO_CACHE)
def quarterly_mail(ledger: DeliveryLedger, transport: Transport, settings: Settings, recipient: Recipient,
                   data: QuarterData, books: list[QuarterlyWorkbook], name: str) -> dict:
    """Mail one recipient its scope's workbook (a customer: its own, written now), once per quarter."""
    return quarterly_delivery(ledger, transport, settings, recipient, data, books)


def quarterly_deliveries(store: Store, settings: Settings, data: QuarterData,
                         books: list[QuarterlyWorkbook]) -> list[dict]:
    """Send every recipient of the directory its quarterly workbook (one task run each)."""
    directory = load_directory(settings, store, today())
    if not directory.usable:
        raise RuntimeError("没有可用的通讯录，无法发送季度汇总：" + "；".join(f.message for f in directory.findings))
    ledger, transport = DeliveryLedger(store), mail_transport(settings)
    with bulletin_lock(settings):
        send = with_mail_retries(quarterly_mail, settings)
        futures = [(r, send.submit(ledger, transport, settings, r, data, books, f"{r.county_label} {r.org_name}"))
                   for r in directory.recipients]
        return [outcome(r, f) for r, f in futures]


@task(name="生成纸质版", cache_policy=NO_CACHE)
def quarterly_paper(settings: Settings, books: list[QuarterlyWorkbook]) -> PaperResult:
    """The printed handouts (PDF, by LibreOffice) of the prefecture and county workbooks, in 纸质版/."""
    return quarterly_paper_copies(settings, books)


def publish_quarterly_artifacts(prefecture: QuarterlySummary, books: list[QuarterlyWorkbook],
                                newsletter: Path | None = None) -> None:
    """Per-county figures as a table, and a link to every workbook, deck and the newsletter text."""
    publish_table("quarterly-figures", county_figures_rows(prefecture),
                  f"{prefecture.quarter.title}各县(市)隐患治理情况（季初 + 新发现 − 销号 = 季末；"
                  f"数据截至{prefecture.as_of:%Y-%m-%d}）")
    for i, book in enumerate(books):
        key = "quarterly-workbook-prefecture" if book.scope == "prefecture" else f"quarterly-workbook-county-{i}"
        publish_link(key, str(book.path), Path(book.path).name, f"{book.name}季度汇总工作簿")
        if book.deck:
            key = "quarterly-deck-prefecture" if book.scope == "prefecture" else f"quarterly-deck-county-{i}"
            publish_link(key, str(book.deck), Path(book.deck).name, f"{book.name}隐患通报会PPT")
    if newsletter:
        publish_link("quarterly-newsletter", str(newsletter), Path(newsletter).name, "《供电服务动态》工作开展情况")


def resolve_quarter(quarter: str | None) -> Quarter:
    """The quarter asked for, or — for the scheduled run on the 5th of Jan/Apr/Jul/Oct — the one just ended."""
    if quarter:
        return Quarter.parse(quarter)
    return Quarter.containing(today()).previous()


@flow(name="季度隐患治理情况汇总", log_prints=True)
def quarterly_flow(home: str | None = None, quarter: str | None = None, send: bool = False,
                   as_of: str | None = None, pdf: bool | None = None) -> dict:
    """Write the quarter's workbooks and briefing decks (prefecture and counties) and the newsletter text, as
    known on `as_of` (数据截至, YYYY-MM-DD, default today); with send, mail them once each;
    with `pdf` (default: the paper_copies setting), print the prefecture and county workbooks to PDF too."""
    settings = load_settings(home)
    q = resolve_quarter(quarter)
    day = dt.date.fromisoformat(as_of) if as_of else today()
    settings.home.mkdir(parents=True, exist_ok=True)
    store = Store(settings.database_url)
    try:
        data = quarter_snapshot(store, q, day)
        scoped = summaries(data, settings)
        scopes = ["prefecture" if i == 0 else "county" for i in range(len(scoped))]
        futures = [quarterly_workbook.submit(s, settings, sc, s.scope_name) for s, sc in zip(scoped, scopes)]
        photos = store.photos_by_hazard(day)  # every photographed hazard's photos as known on the report date
        emergency = quarter_emergency(store, settings, q, day)  # customer files and joint drills (None: no files)
        decks = [briefing_deck.submit(s, settings, sc, s.scope_name, photos, emergency)
                 for s, sc in zip(scoped, scopes)]
        newsletter = newsletter_text(scoped[0], settings, emergency)
        books = [f.result() for f in futures]
        for book, deck in zip(books, decks):
            book.deck = deck.result()
        publish_quarterly_artifacts(scoped[0], books, newsletter)
        result = {"quarter": q.label, "as_of": day.isoformat(), "figures": scoped[0].by_county,
                  "workbooks": [b.as_json() for b in books], "newsletter": str(newsletter)}
        if settings.paper_copies if pdf is None else pdf:
            result["paper"] = quarterly_paper(settings, books).as_json()
        if send:
            result["deliveries"] = quarterly_deliveries(store, settings, data, books)
            publish_table("quarterly-deliveries", [
                {"收件单位": d["recipient"], "类型": d["party"], "县(市)": d["county"],
                 "邮箱": "、".join(d["addresses"]), "附件": d.get("attachment") or "", "结果": d["status"],
                 "说明": d.get("error") or d.get("note") or ""} for d in result["deliveries"]],
                f"{q.title}汇总发送结果（每份只发一次）")
            if undelivered(result["deliveries"]):
                raise RuntimeError(failure_summary(result["deliveries"]))
        get_run_logger().info("%s: %d workbooks", q.label, len(books))
        return result
    finally:
        store.dispose()


def deployments(home: str | None = None) -> list:
    """The quarterly run: 08:00 on the 5th of January, April, July and October (Asia/Shanghai), summarising
    the quarter that has just ended as known that day: the counties' registers of the quarter's last days
    (and the remediations they report) are in by then, and the material arrives before the meeting on the 10th."""
    return [quarterly_flow.to_deployment(
        name="季度汇总",
        schedule=Cron("0 8 5 1,4,7,10 *", timezone="Asia/Shanghai"),
        parameters={"home": home, "quarter": None, "send": True, "as_of": None, "pdf": None},
        concurrency_limit=1,
        description="每季度首月 5 日汇总上一季度隐患治理情况，生成通报会材料并发送三方。",
        tags=["hazardnet", "quarterly"],
    )]
