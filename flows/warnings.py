"""Flow 风险预警: overdue hazards (and major ones without a deadline) → mail and SMS to the customer and its
county's government authority, each warning once per channel (the delivery ledger), escalation 30 days after
the deadline."""

from __future__ import annotations

import datetime as dt

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.schedules import Cron

from flows.artifacts import publish_markdown, publish_table
from flows.mailing import directory_problems_mail, mail_transport, outcome, sms_transport, with_mail_retries
from hazardnet.delivery.directory import DirectoryResult, Recipient, load_directory
from hazardnet.delivery.ledger import DeliveryLedger, bulletin_lock, failure_summary, undelivered
from hazardnet.delivery.mail import Transport
from hazardnet.delivery.sms import SmsTransport
from hazardnet.publish.warnings import HazardWarning, plan, unreachable_customers, warn_recipient, warnings_on
from hazardnet.settings import Settings, load_settings, today
from hazardnet.store import Store


@task(name="查找应预警隐患", cache_policy=NO_CACHE)
def due_warnings(store: Store, as_of: dt.date) -> list[HazardWarning]:
    """Overdue hazards and major hazards without a deadline, on the report date."""
    return warnings_on(store, as_of)


@task(name="读取通讯录", cache_policy=NO_CACHE)
def recipient_directory(settings: Settings, store: Store, as_of: dt.date) -> DirectoryResult:
    """The directory in use: the file when valid, else the last valid version."""
    return load_directory(settings, store, as_of)


@task(name="发送风险预警", task_run_name="发送风险预警：{name}", cache_policy=NO_CACHE)
def warning_delivery(ledger: DeliveryLedger, transport: Transport, sms: SmsTransport, settings: Settings,
                     recipient: Recipient, warnings: list[HazardWarning], as_of: dt.date, name: str) -> dict:
    """Mail and text one recipient the warnings it has not had yet."""
    return warn_recipient(ledger, transport, sms, settings, recipient, warnings, as_of)


def publish_warning_artifacts(warnings: list[HazardWarning], deliveries: list[dict],
                              unreachable: list[HazardWarning]) -> None:
    publish_table("risk-warnings", [
        {"县(市)": w.county, "户号": w.customer_id, "客户名称": w.customer_name, "隐患编号": w.hazard_id,
         "隐患等级": w.severity, "预警类型": w.as_json()["stage_name"], "整改期限": w.deadline,
         "逾期天数": w.days_overdue, "情况": w.reason} for w in warnings], "本次应预警的隐患")
    publish_table("warning-deliveries", [
        {"收件单位": d["recipient"], "类型": d["party"], "县(市)": d["county"], "邮箱": "、".join(d["addresses"]),
         "结果": d["status"], "新预警数": d["rows"], "短信号码": "、".join(d.get("mobiles") or []),
         "短信结果": d.get("sms_status") or "", "说明": d.get("error") or d.get("note") or ""}
        for d in deliveries], "风险预警发送结果（同一预警不重复发送）")
    if unreachable:
        lines = ["# 通讯录中缺少以下客户，预警仅发给所在县(市)政府主管部门", ""]
        lines += [f"- {w.county} {w.customer_name}（户号 {w.customer_id}）：{w.hazard_id} {w.reason}" for w in unreachable]
        publish_markdown("warning-unreachable", "\n".join(lines), "未能直接预警的客户")


@flow(name="风险预警", log_prints=True)
def warnings_flow(home: str | None = None, as_of: str | None = None) -> dict:
    """Warn customers and county authorities about overdue hazards, each warning once."""
    settings = load_settings(home)
    day = dt.date.fromisoformat(as_of) if as_of else today()
    settings.home.mkdir(parents=True, exist_ok=True)
    store = Store(settings.database_url)
    try:
        warnings = due_warnings(store, day)
        deliveries: list[dict] = []
        directory = recipient_directory(settings, store, day)
        directory_problems_mail(settings, store, directory)
        unreachable = unreachable_customers(directory.recipients, warnings)
        if warnings and not directory.usable:
            raise RuntimeError("没有可用的通讯录，无法发送风险预警：" +
                               "；".join(f.message for f in directory.findings))
        if warnings:
            ledger, transport, sms = DeliveryLedger(store), mail_transport(settings), sms_transport(settings)
            with bulletin_lock(settings):  # one sender at a time per home, whatever it sends
                send = with_mail_retries(warning_delivery, settings)
                futures = [(r, send.submit(ledger, transport, sms, settings, r, mine, day,
                                                       f"{r.county_label} {r.org_name}"))
                           for r, mine in plan(directory.recipients, warnings)]
                for recipient, future in futures:
                    deliveries.append(outcome(recipient, future))
        publish_warning_artifacts(warnings, deliveries, unreachable)
        get_run_logger().info("%s: %d warnings, %d deliveries", day, len(warnings), len(deliveries))
        if undelivered(deliveries):
            raise RuntimeError(failure_summary(deliveries))
        return {"as_of": day.isoformat(), "warnings": [w.as_json() for w in warnings], "deliveries": deliveries,
                "unreachable": [w.as_json() for w in unreachable],
                "directory": {"source": directory.source, "file": directory.file_name,
                              "findings": [f.as_json() for f in directory.findings]}}
    finally:
        store.dispose()


def deployments(home: str | None = None) -> list:
    """The daily warning run at 09:00 Asia/Shanghai."""
    return [warnings_flow.to_deployment(
        name="每日风险预警",
        schedule=Cron("0 9 * * *", timezone="Asia/Shanghai"),
        parameters={"home": home},
        concurrency_limit=1,
        description="每天检查逾期未整改隐患，向客户及所在县(市)政府主管部门发送风险预警（到期一次、逾期 30 天升级一次）。",
        tags=["hazardnet", "warnings"],
    )]
