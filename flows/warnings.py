"""Flow 风险预警: the warnings job (hazardnet.jobs.warnings) with Prefect's runner — one task run per
recipient — and its artifacts. Overdue hazards (and major ones without a deadline) → mail and SMS to the
customer and its county's government authority, each warning once per channel (the delivery ledger),
escalation 30 days after the deadline."""

from __future__ import annotations

from prefect import flow

from flows import run_form as form
from flows.artifacts import publish_markdown, publish_table
from flows.mailing import delivery_failure, publish_directory_mail, undelivered_state
from flows.runner import PrefectRunner
from hazardnet.delivery.labels import delivery_status
from hazardnet.jobs.runner import RetryPolicy
from hazardnet.jobs.warnings import risk_warnings
from hazardnet.settings import load_home_settings, report_date


def publish_warning_artifacts(warnings: list[dict], deliveries: list[dict], unreachable: list[dict]) -> None:
    """The warnings due, their deliveries, and the customers the directory lacks (warnings as_json)."""
    publish_table("risk-warnings", [
        {"县(市)": w["county"], "户号": w["customer_id"], "客户名称": w["customer_name"], "隐患编号": w["hazard_id"],
         "隐患等级": w["severity"], "预警类型": w["stage_name"], "整改期限": w["deadline"],
         "逾期天数": w["days_overdue"], "情况": w["reason"]} for w in warnings], "本次应预警的隐患")
    publish_table("warning-deliveries", [
        {"收件单位": d["recipient"], "类型": d["party"], "县(市)": d["county"], "邮箱": "、".join(d["addresses"]),
         "结果": delivery_status(d["status"]), "新预警数": d["rows"], "手机": "、".join(d.get("mobiles") or []),
         "短信结果": delivery_status(d.get("sms_status"), "sms"), "说明": d.get("error") or d.get("note") or ""}
        for d in deliveries], "风险预警发送结果（同一预警不重复发送）")
    if unreachable:
        lines = ["# 通讯录中缺少以下客户，预警仅发给所在县(市)政府主管部门", ""]
        lines += [f"- {w['county']} {w['customer_name']}（户号 {w['customer_id']}）：{w['hazard_id']} {w['reason']}"
                  for w in unreachable]
        publish_markdown("warning-unreachable", "\n".join(lines), "未能直接预警的客户")


@flow(name="风险预警", log_prints=True, flow_run_name=form.run_name("风险预警", form.day))
def warnings_flow(home: str | None = form.home(), as_of: str | None = form.as_of(what="逾期天数按该日计算")) -> dict:
    """Warn customers and county authorities about overdue hazards, each warning once."""
    settings = load_home_settings(home)
    day = report_date(as_of, settings)
    outcome = risk_warnings(settings, day, runner=PrefectRunner(RetryPolicy.of(settings)))
    publish_directory_mail(outcome.directory_mail)
    if not outcome.sent:
        raise delivery_failure(outcome.problem)
    result = outcome.result
    publish_warning_artifacts(result["warnings"], result["deliveries"], result["unreachable"])
    if outcome.problem:  # Failed naming the unserved; calling the flow directly raises Undelivered (with the result)
        return undelivered_state(outcome.problem, result)
    return result


def deployments(home: str | None = None) -> list:
    """The daily warning run at 09:00 in the configured time zone (Asia/Shanghai by default)."""
    from flows.deployments import cron

    return [warnings_flow.to_deployment(
        name="每日风险预警",
        schedule=cron("0 9 * * *", home),
        parameters={"home": home},
        concurrency_limit=1,
        description="每天检查逾期未整改隐患，向客户及所在县(市)政府主管部门发送风险预警（到期一次、逾期 30 天升级一次）。",
        tags=["hazardnet", "warnings"],
    )]
