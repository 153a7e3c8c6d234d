"""Flow 月度电力安全隐患通报: directory → one scoped workbook and mail per recipient, each delivered once.

Mail goes over SMTP when HAZARDNET_SMTP_HOST is set, otherwise into outbox/mail/ as .eml files.
A temporary server error is retried with back-off (task retries); the run ends Failed, naming them,
when some recipient could not be served. Deployed monthly: 08:00 on the 15th (Asia/Shanghai), so that
mail arrives before the 20th as the 1+1+1 agreement requires.
"""

from __future__ import annotations

import datetime as dt
import os

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import wait
from prefect.schedules import Cron
from prefect.states import Failed
from prefect.task_runners import ThreadPoolTaskRunner

from flows.artifacts import publish_markdown, publish_table
from flows.mailing import (  # noqa: F401
    directory_problems_mail,
    STATUS_ZH,
    delivery_row,
    mail_transport,
    outcome,
    sms_transport,
    with_mail_retries,
)
from hazardnet.delivery.directory import DirectoryResult, Recipient, load_directory
from hazardnet.delivery.ledger import bulletin_lock, failed_record, failure_summary, undelivered
from hazardnet.delivery.mail import Transport
from hazardnet.publish.bulletin import (
    BulletinRun,
    Period,
    bulletin_result,
    default_as_of,
    deliver_bulletin,
    prepare_bulletin,
)
from hazardnet.publish.paper import PaperResult, bulletin_paper_copies
from hazardnet.settings import Settings, load_settings, today
from hazardnet.store import Store
from hazardnet.xlsx.writers import WorkbookWriters


class UndeliveredBulletins(Exception):
    """Some recipients could not be served (by mail, or on paper); the message names them, `.result` holds
    every delivery (and the paper copies), `.delivery_problem` the mail part of the message, if any."""

    def __init__(self, message: str, result: dict, delivery_problem: str | None = None):
        super().__init__(message)
        self.result = result
        self.delivery_problem = delivery_problem


@task(name="读取通讯录", cache_policy=NO_CACHE)
def recipient_directory(settings: Settings, store: Store, as_of: dt.date) -> DirectoryResult:
    """The valid directory to use: the file in inbox/, or the last valid one if the file has errors."""
    return load_directory(settings, store, as_of)


@task(name="准备通报", cache_policy=NO_CACHE)
def bulletin_run(settings: Settings, store: Store, period: Period, as_of: dt.date, resend: bool,
                 writers: WorkbookWriters | None = None) -> BulletinRun:
    """The register as of the report date and the delivery ledger."""
    return prepare_bulletin(settings, store, period, as_of, resend, writers, sms_transport(settings))


@task(name="发送通报", task_run_name="通报 {label}", cache_policy=NO_CACHE)
def delivered_bulletin(run: BulletinRun, recipient: Recipient, transport: Transport, label: str) -> dict:
    """Write one recipient's workbook and deliver it once (temporary SMTP errors raise and are retried)."""
    return deliver_bulletin(run, recipient, transport)


@task(name="生成纸质版", cache_policy=NO_CACHE)
def paper_copies(run: BulletinRun, recipients: list[Recipient]) -> PaperResult:
    """The paper copy (PDF, by LibreOffice) of every government authority's bulletin, in 纸质版/."""
    return bulletin_paper_copies(run, recipients)


def publish_bulletin_artifacts(result: dict) -> None:
    """Table of deliveries, and the directory's problems when the file in inbox/ was not accepted."""
    publish_table("bulletin-deliveries", [delivery_row(d) for d in result["deliveries"]],
                  f"{result['period']} 月度通报发送情况")
    findings = result["directory"]["findings"]
    if findings:
        lines = ["# 通讯录问题", "", f"使用的通讯录：{result['directory']['file'] or '无'}（来源：{result['directory']['source']}）", "",
                 "| 工作表 | 单元格 | 字段 | 问题 |", "| --- | --- | --- | --- |"]
        for f in findings:
            message = f["message"].replace("|", "\\|")
            lines.append(f"| {f['sheet']} | {f['cell']} | {f['field']} | {message} |")
        publish_markdown("bulletin-directory", "\n".join(lines), "通讯录校验发现的问题")


def resolve_period(month: str | None, as_of: str | None) -> tuple[Period, dt.date]:
    """The month asked for (default: the current month) and its report date (default: today, or the
    month's last day when the month is over)."""
    day = dt.date.fromisoformat(as_of) if as_of else None
    period = Period.parse(month) if month else Period.of(day or today())
    return period, day or default_as_of(period, today())


# Recipients served at once: each task run writes its workbook (in a worker process on big runs) and then
# mails it, so a few per core keep both busy without opening hundreds of SMTP connections at once.
DELIVERY_THREADS = 2 * max(1, min(8, os.cpu_count() or 1))


@flow(name="月度电力安全隐患通报", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=DELIVERY_THREADS))
def bulletin_flow(home: str | None = None, month: str | None = None, as_of: str | None = None,
                  resend: bool = False, pdf: bool | None = None) -> dict:
    """Send the month's scoped bulletin to every recipient of the directory, each exactly once; with `pdf`
    (default: the paper_copies setting) also write each government authority's paper copy as PDF."""
    settings = load_settings(home)
    period, day = resolve_period(month, as_of)
    settings.home.mkdir(parents=True, exist_ok=True)
    store = Store(settings.database_url)
    logger = get_run_logger()
    try:
        with bulletin_lock(settings):
            directory = recipient_directory(settings, store, day)
            directory_problems_mail(settings, store, directory)
            with WorkbookWriters(settings.workers, len(directory.recipients)) as writers:
                run = bulletin_run(settings, store, period, day, resend, writers)
                transport = mail_transport(settings)
                send = with_mail_retries(delivered_bulletin, settings)
                futures = [send.submit(run, r, transport, f"{r.county_label} {r.org_name}")
                           for r in directory.recipients]
                wait(futures)
            deliveries = []
            for recipient, future in zip(directory.recipients, futures):
                outcome = future.result(raise_on_failure=False)
                deliveries.append(outcome if isinstance(outcome, dict)
                                  else failed_record(recipient, getattr(outcome, "reason", None) or str(outcome)))
        result = bulletin_result(period, day, directory, deliveries)
        paper = None
        if (settings.paper_copies if pdf is None else pdf) and directory.usable:
            paper = paper_copies(run, directory.recipients)
            result["paper"] = paper.as_json()
            logger.info("%s 纸质版：%d 份已生成%s", period.key, len(paper.written),
                        f"；{paper.problem}" if paper.problem else "")
        publish_bulletin_artifacts(result)
        counts = {s: sum(1 for d in deliveries if d["status"] == s) for s in STATUS_ZH}
        logger.info("%s 月度通报：%s", period.key, "，".join(f"{STATUS_ZH[s]} {n}" for s, n in counts.items()))
        problem = None
        if not directory.usable:
            problem = "没有可用的通讯录，未发送任何通报：" + "；".join(
                f["message"] for f in result["directory"]["findings"])
        elif undelivered(deliveries):
            problem = failure_summary(deliveries)
        message = "；".join(p for p in (problem, paper.problem if paper else None) if p)
        if message:
            # a returned Failed state names the recipients in the UI without a traceback; calling the
            # flow directly raises UndeliveredBulletins, which carries every delivery
            return Failed(message=message, data=UndeliveredBulletins(message, result, problem))
        return result
    finally:
        store.dispose()


def deployments(home: str | None = None) -> list:
    """The monthly bulletin: 08:00 on the 15th (Asia/Shanghai), for the current month."""
    return [bulletin_flow.to_deployment(
        name="月度通报",
        schedule=Cron("0 8 15 * *", timezone="Asia/Shanghai"),
        parameters={"home": home, "month": None, "as_of": None, "resend": False, "pdf": None},
        concurrency_limit=1,
        description="每月15日向政府主管部门、用电客户和供电企业发送本月电力安全隐患通报（每人只发一次）。",
        tags=["hazardnet", "bulletin"],
    )]
