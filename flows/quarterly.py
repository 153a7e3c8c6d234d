"""Flow 季度隐患治理情况汇总: the quarterly job (hazardnet.jobs.quarterly) with Prefect's runner — one task run
per workbook, deck and recipient — and its artifacts. The quarter as known on the report date → one prefecture
workbook and deck, one of each per county, the newsletter text (→ optionally mailed to the three parties, once)."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from flows import run_form as form
from flows.artifacts import publish_link, publish_table
from flows.mailing import delivery_failure
from flows.runner import PrefectRunner
from hazardnet.delivery.labels import delivery_status
from hazardnet.jobs.quarterly import quarterly
from hazardnet.jobs.runner import RetryPolicy
from hazardnet.publish.quarterly import Quarter, QuarterlySummary, county_figures_rows, report_date_problem
from hazardnet.publish.quarterly_workbook import QuarterlyWorkbook
from hazardnet.settings import Settings, load_home_settings, report_date, today


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


def resolve_quarter(quarter: str | None, settings: Settings) -> Quarter:
    """The quarter asked for, or — for the scheduled run on the 5th of Jan/Apr/Jul/Oct — the one just ended."""
    if quarter:
        return Quarter.parse(quarter)
    return Quarter.containing(today(settings)).previous()


@flow(name="季度隐患治理情况汇总", log_prints=True,
      flow_run_name=form.run_name("季度汇总", lambda p: resolve_quarter(p.get("quarter"), form.settings_of(p)).label))
def quarterly_flow(home: str | None = form.home(),
                   quarter: str | None = form.field("季度", "写成如 2026Q3（年份 + Q + 1～4）；不填为上一季度。"),
                   send: bool = form.field("发送三方", "勾选后把季度汇总工作簿和通报会PPT邮寄给各收件人（每份只发一次）；不勾选只生成文件。", False),
                   as_of: str | None = form.as_of("数据截至", "按截至该日报送的台账统计该季度"),
                   pdf: bool | None = form.pdf(None, "州和各县(市)的季度汇总工作簿同时生成 PDF")) -> dict:
    """Write the quarter's workbooks and briefing decks (prefecture and counties) and the newsletter text, as
    known on `as_of` (数据截至, YYYY-MM-DD, default today); with send, mail them once each;
    with `pdf` (default: the paper_copies setting), print the prefecture and county workbooks to PDF too."""
    settings = load_home_settings(home)
    q = resolve_quarter(quarter, settings)
    day = report_date(as_of, settings)
    problem = report_date_problem(q, day)
    if problem:  # the run fails with the sentence, nothing written or sent
        raise ValueError(problem)
    outcome = quarterly(settings, q, day, send=send, pdf=pdf, runner=PrefectRunner(RetryPolicy.of(settings)))
    publish_quarterly_artifacts(outcome.prefecture, outcome.books, outcome.newsletter)
    result = outcome.result
    if send:
        publish_table("quarterly-deliveries", [
            {"收件单位": d["recipient"], "类型": d["party"], "县(市)": d["county"],
             "邮箱": "、".join(d["addresses"]), "附件": d.get("attachment") or "", "结果": delivery_status(d["status"]),
             "说明": d.get("error") or d.get("note") or ""} for d in result["deliveries"]],
            f"{q.title}汇总发送结果（每份只发一次）")
    if outcome.problem:
        raise delivery_failure(outcome.problem)
    return result


def deployments(home: str | None = None) -> list:
    """The quarterly run: 08:00 on the 5th of January, April, July and October (the configured time
    zone, Asia/Shanghai by default), summarising
    the quarter that has just ended as known that day: the counties' registers of the quarter's last days
    (and the remediations they report) are in by then, and the material arrives before the meeting on the 10th."""
    from flows.deployments import cron

    return [quarterly_flow.to_deployment(
        name="季度汇总",
        schedule=cron("0 8 5 1,4,7,10 *", home),
        parameters={"home": home, "quarter": None, "send": True, "as_of": None, "pdf": None},
        concurrency_limit=1,
        description="每季度首月 5 日汇总上一季度隐患治理情况，生成通报会材料并发送三方。",
        tags=["hazardnet", "quarterly"],
    )]
