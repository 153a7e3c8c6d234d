"""Flow 导入县公司隐患台账: the ingest job (hazardnet.jobs.ingest) with Prefect's runner — one task run per
workbook — and its artifacts."""

from __future__ import annotations

import os
from pathlib import Path

from prefect import flow
from prefect.task_runners import ThreadPoolTaskRunner

from flows import run_form as form
from flows.artifacts import publish_link, publish_markdown, publish_table
from flows.mailing import delivery_row
from flows.runner import PrefectRunner
from hazardnet.delivery.labels import intake_outcome
from hazardnet.intake.transaction import IngestResult
from hazardnet.jobs.ingest import ingest
from hazardnet.jobs.runner import RetryPolicy
from hazardnet.settings import load_home_settings, report_date



def publish_ingest_artifacts(result: IngestResult) -> None:
    """Table of files and outcomes, every finding of rejected files, link to the consolidated register."""
    publish_table("ingest-files", [
        {"县(市)": f.county, "文件": Path(f.path).name, "结果": intake_outcome(f.outcome),
         "隐患条数": f.rows, "问题数": sum(1 for x in f.findings if x.level == "error"),
         "提示数": sum(1 for x in f.findings if x.level != "error"), "原文件保存于": f.kept_at or ""}
        for f in result.files] + [
        {"县(市)": w["county"], "文件": w["file"], "结果": "仍在复制，留待下次导入", "隐患条数": 0, "问题数": 0,
         "提示数": 0, "原文件保存于": ""} for w in result.waiting], "本次导入的文件与结果")
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
    if result.rejection_mail:
        publish_table("rejection-emails", [delivery_row(d) for d in result.rejection_mail], "退回报告的邮寄情况")
    if result.consolidated:
        publish_link("consolidated-register", result.consolidated, Path(result.consolidated).name,
                     "汇总隐患台账工作簿")


# Threads for the per-workbook task runs. The engine works on two files per parser process at once (Intake's
# slots); a few more threads let Prefect's own work for each task run (its state changes and events)
# overlap with the engine's instead of stalling it: on 2 cores, 300 registers, a running server, the flow
# took 18.3–19.7 s with 4 threads and 17.2–18.3 s with 16 (32 or unbounded: no better). Without a bound
# all 300 task runs would start at once and sit Running while they wait for a slot.
TASK_THREADS = 8 * max(1, min(4, os.cpu_count() or 1))


@flow(name="导入县公司隐患台账", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=TASK_THREADS),
      flow_run_name=form.run_name("导入台账", form.day))
def ingest_flow(home: str | None = form.home(), as_of: str | None = form.as_of(
        "报送基准日", "导入的台账按该日报送登记，逾期等按该日计算")) -> dict:
    """Ingest every settled workbook in the inbox and rewrite the consolidated register."""
    settings = load_home_settings(home)
    day = report_date(as_of, settings)
    result = ingest(settings, day, runner=PrefectRunner(RetryPolicy.of(settings)))
    publish_ingest_artifacts(result)
    return result.as_json()


def deployments(home: str, poll_minutes: float = 5.0) -> list:
    """The inbox-polling deployment: every `poll_minutes`, one run at a time."""
    from flows.deployments import every

    return [ingest_flow.to_deployment(
        name="收件箱轮询",
        schedules=[every(poll_minutes, home)],
        parameters={"home": home},
        concurrency_limit=1,
        description="每隔几分钟导入 inbox/<县(市)>/ 中新报送的台账，并重写汇总台账。",
        tags=["hazardnet", "ingest"],
    )]
