"""Flow 导入县公司隐患台账: inbox → store → consolidated register, one task run per workbook."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import wait
from prefect.task_runners import ThreadPoolTaskRunner

from flows import progress
from flows.artifacts import publish_link, publish_markdown, publish_table
from hazardnet.intake.inbox import InboxFile, ensure_inbox, scan_inbox
from hazardnet.intake.reader import WorkbookReaderPool
from hazardnet.intake.transaction import FileOutcome, IngestResult, Intake, group_by_county, ingest_lock
from hazardnet.publish.consolidated import write_consolidated_register
from hazardnet.settings import Settings, load_settings, today
from hazardnet.store import Store

OUTCOME_ZH = {"accepted": "已接收", "rejected": "已退回", "duplicate": "重复报送"}


@task(name="扫描收件箱", cache_policy=NO_CACHE)
def waiting_files(settings: Settings) -> list[InboxFile]:
    """List the settled workbooks waiting in inbox/<county>/."""
    ensure_inbox(settings)
    files = scan_inbox(settings)
    progress.emit("total", n=len(files))
    return files


@task(name="导入台账", task_run_name="导入 {county}：{file_name}", cache_policy=NO_CACHE)
def ingested_workbook(intake: Intake, item: InboxFile, county: str, file_name: str) -> FileOutcome:
    """Accept, reject or mark as duplicate one county workbook."""
    outcome = intake.ingest_file(item)
    progress.emit("advance", label=f"{county}：{file_name}")
    get_run_logger().info("%s %s: %s, %d rows, %d findings", county, file_name, outcome.outcome, outcome.rows,
                          len(outcome.findings))
    return outcome


@task(name="生成汇总台账", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 5])
def consolidated_register(store: Store, settings: Settings, as_of: dt.date) -> tuple[str, bool]:
    """Rewrite outbox/<prefecture>电力安全隐患台账（汇总）.xlsx when its content changed."""
    path, rewritten = write_consolidated_register(store, settings, as_of)
    return str(path), rewritten


def publish_ingest_artifacts(result: IngestResult) -> None:
    """Table of files and outcomes, every finding of rejected files, link to the consolidated register."""
    publish_table("ingest-files", [
        {"县(市)": f.county, "文件": Path(f.path).name, "结果": OUTCOME_ZH.get(f.outcome, f.outcome),
         "隐患条数": f.rows, "问题数": sum(1 for x in f.findings if x.level == "error"),
         "提示数": sum(1 for x in f.findings if x.level != "error"), "原文件保存于": f.kept_at or ""}
        for f in result.files], "本次导入的文件与结果")
    rejected = [f for f in result.files if f.outcome == "rejected"]
    if rejected:
        lines = ["# 退回的台账及问题", ""]
        for f in rejected:
            lines += [f"## {f.county}：{Path(f.path).name}", "", f"问题报告：`{f.report}`", "",
                      "| 工作表 | 单元格 | 字段 | 问题 |", "| --- | --- | --- | --- |"]
            for x in f.findings:
                msg = x.message.replace("|", "\\|").replace("\n", " ")
                lines.append(f"| {x.sheet} | {x.cell} | {x.field} | {msg} |")
            lines.append("")
        publish_markdown("ingest-rejections", "\n".join(lines), "被退回台账的全部问题")
    if result.consolidated:
        publish_link("consolidated-register", result.consolidated, Path(result.consolidated).name,
                     "汇总隐患台账工作簿")


# Threads for the per-workbook task runs. The engine works on two files per parser process at once (Intake's
# slots); a few more threads let Prefect's own work for each task run (its state changes and events)
# overlap with the engine's instead of stalling it: on 2 cores, 300 registers, a running server, the flow
# took 18.3–19.7 s with 4 threads and 17.2–18.3 s with 16 (32 or unbounded: no better). Without a bound
# all 300 task runs would start at once and sit Running while they wait for a slot.
TASK_THREADS = 8 * max(1, min(4, os.cpu_count() or 1))


@flow(name="导入县公司隐患台账", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=TASK_THREADS))
def ingest_flow(home: str | None = None, as_of: str | None = None) -> dict:
    """Ingest every settled workbook in the inbox and rewrite the consolidated register."""
    settings = load_settings(home)
    day = dt.date.fromisoformat(as_of) if as_of else today()
    ensure_inbox(settings)  # a new home: its folders (and the store's) come first
    store = Store(settings.database_url)
    try:
        with ingest_lock(settings), WorkbookReaderPool(settings) as reader:
            intake = Intake(settings, store, day, reader)
            try:
                futures = []
                for items in group_by_county(waiting_files(settings)).values():
                    previous = None  # a county's files go in the order they arrived
                    for item in items:
                        previous = ingested_workbook.submit(intake, item, item.county, item.path.name,
                                                            wait_for=[previous] if previous else None)
                        futures.append(previous)
                wait(futures)
                outcomes = [f.result() for f in futures]
            finally:
                intake.close()  # the register check workers of a big run stop now, not when collected
            path, rewritten = consolidated_register(store, settings, day)
        result = IngestResult([o for o in outcomes if o.outcome != "skipped"], path, rewritten)
        publish_ingest_artifacts(result)
        if any(f.outcome == "rejected" for f in result.files):
            from flows.mailing import rejection_emails, with_mail_retries  # county contacts get the report

            with_mail_retries(rejection_emails, settings)(settings, store, result)
        return result.as_json()
    finally:
        store.dispose()


def deployments(home: str, poll_minutes: float = 5.0) -> list:
    """The inbox-polling deployment: every `poll_minutes`, one run at a time."""
    from datetime import timedelta

    from prefect.schedules import Interval

    return [ingest_flow.to_deployment(
        name="收件箱轮询",
        schedules=[Interval(timedelta(minutes=poll_minutes), timezone="Asia/Shanghai")],
        parameters={"home": home},
        concurrency_limit=1,
        description="每隔几分钟导入 inbox/<县(市)>/ 中新报送的台账，并重写汇总台账。",
        tags=["hazardnet", "ingest"],
    )]
