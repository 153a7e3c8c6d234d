"""Flow 月度电力安全隐患通报: the bulletin job (hazardnet.jobs.bulletin) with Prefect's runner — one task run per
recipient — and its artifacts.

Mail goes over SMTP when HAZARDNET_SMTP_HOST is set, otherwise into outbox/mail/ as .eml files.
A temporary server error is retried with back-off (the runner's one retry policy); the run ends Failed, naming
them, when some recipient could not be served. Deployed monthly: 08:00 on the 15th (in the configured time zone,
Asia/Shanghai by default), so that mail arrives before the 20th as the 1+1+1 agreement requires.
"""

from __future__ import annotations

import datetime as dt

from prefect import flow
from prefect.task_runners import ThreadPoolTaskRunner

from flows import run_form as form
from flows.artifacts import publish_markdown, publish_table
from flows.mailing import STATUS_ZH, delivery_row, failed_state, publish_directory_mail
from flows.redaction import redact
from flows.runner import PrefectRunner
from hazardnet.jobs.bulletin import DELIVERY_THREADS, bulletin
from hazardnet.jobs.runner import RetryPolicy
from hazardnet.publish.bulletin import Period, default_as_of, report_date_problem
from hazardnet.settings import Settings, load_home_settings, report_date, today


class UndeliveredBulletins(Exception):
    """Some recipients could not be served (by mail, or on paper); the message names them, `.result` holds
    every delivery (and the paper copies), `.delivery_problem` the mail part of the message, if any. Both
    sentences are masked (flows.redaction) as the UI's lines: the console prints them; `.result` keeps the data."""

    def __init__(self, message: str, result: dict, delivery_problem: str | None = None):
        super().__init__(redact(message))
        self.result = result
        self.delivery_problem = redact(delivery_problem) if delivery_problem else delivery_problem


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


def resolve_period(month: str | None, as_of: str | None, settings: Settings) -> tuple[Period, dt.date]:
    """The month asked for (default: the current month) and its report date (default: today, or the
    month's last day when the month is over)."""
    day = report_date(as_of, settings) if as_of and str(as_of).strip() else None
    period = Period.parse(month) if month else Period.of(day or today(settings))
    return period, day or default_as_of(period, today(settings))


@flow(name="月度电力安全隐患通报", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=DELIVERY_THREADS),
      flow_run_name=form.run_name("月度通报", lambda p: resolve_period(p.get("month"), p.get("as_of"), form.settings_of(p))[0].key))
def bulletin_flow(home: str | None = form.home(),
                  month: str | None = form.field("通报月份", "写成 YYYY-MM（月份写两位），例如 2026-01；不填为本月。"),
                  as_of: str | None = form.field("基准日", "日期，写成 YYYY-MM-DD，例如 2026-11-15；逾期天数等按该日计算。"
                                                 "不填时：本月为今天，已过去的月份为该月最后一天。"),
                  resend: bool = form.field("重新发送", "勾选后，已收到过本月通报的收件人也再发一次。", False),
                  pdf: bool | None = form.pdf(None, "政府主管部门的通报同时生成 PDF 纸质版")) -> dict:
    """Send the month's scoped bulletin to every recipient of the directory, each exactly once; with `pdf`
    (default: the paper_copies setting) also write each government authority's paper copy as PDF."""
    settings = load_home_settings(home)
    period, day = resolve_period(month, as_of, settings)
    problem = report_date_problem(period, day)
    if problem:  # the run fails with the sentence, nothing written or sent
        raise ValueError(problem)
    runner = PrefectRunner(RetryPolicy.of(settings))
    outcome = bulletin(settings, period, day, runner=runner, resend=resend, pdf=pdf)
    result = outcome.result
    publish_directory_mail(outcome.directory_mail)
    publish_bulletin_artifacts(result)
    counts = {s: sum(1 for d in result["deliveries"] if d["status"] == s) for s in ("sent", "written", "skipped", "failed")}
    runner.info("%s 月度通报：%s", period.key, "，".join(f"{STATUS_ZH[s]} {n}" for s, n in counts.items()))
    if outcome.problem:
        # a returned Failed state names the recipients in the UI without a traceback; calling the
        # flow directly raises UndeliveredBulletins, which carries every delivery
        return failed_state(outcome.problem, UndeliveredBulletins(outcome.problem, result, outcome.delivery_problem))
    return result


def deployments(home: str | None = None) -> list:
    """The monthly bulletin: 08:00 on the 15th (the configured time zone, Asia/Shanghai by default), for the
    current month."""
    from flows.deployments import cron

    return [bulletin_flow.to_deployment(
        name="月度通报",
        schedule=cron("0 8 15 * *", home),
        parameters={"home": home, "month": None, "as_of": None, "resend": False, "pdf": None},
        concurrency_limit=1,
        description="每月15日向政府主管部门、用电客户和供电企业发送本月电力安全隐患通报（每人只发一次）。",
        tags=["hazardnet", "bulletin"],
    )]
