"""Flow 整改通知书: the notices job (hazardnet.jobs.notices) with Prefect's runner — one task run per customer's
notice and per delivery — and its artifacts."""

from __future__ import annotations

from prefect import flow

from flows import run_form as form
from flows.artifacts import publish_table
from flows.mailing import delivery_failure
from flows.runner import PrefectRunner
from hazardnet.delivery.labels import delivery_status
from hazardnet.delivery.ledger import failure_summary, undelivered
from hazardnet.jobs.notices import notices
from hazardnet.jobs.runner import RetryPolicy
from hazardnet.settings import load_home_settings, report_date


@flow(name="整改通知书", log_prints=True, flow_run_name=form.run_name("整改通知书", form.day))
def notices_flow(home: str | None = form.home(), as_of: str | None = form.as_of(what="签发该日尚未书面告知的隐患的通知书"),
                 send: bool = form.field("发送", "勾选后把通知书发到客户的邮箱和手机（每份只发一次）；不勾选只签发文件。", False),
                 pdf: bool = form.pdf(False, "通知书同时生成 PDF")) -> dict:
    """Issue a written notice to every customer with unnotified hazards; with `send`, mail it to that customer."""
    settings = load_home_settings(home)
    day = report_date(as_of, settings)
    result = notices(settings, day, runner=PrefectRunner(RetryPolicy.of(settings)), send=send, pdf=pdf)
    publish_table("notices", [
        {"县(市)": n["county"], "户号": n["customer_id"], "客户名称": n["customer_name"], "通知书编号": n["number"],
         "隐患编号": "、".join(n["hazard_ids"]), "文件": n["path"]} for n in result.notices], "本次签发的整改通知书")
    if result.deliveries:
        publish_table("notice-deliveries", [
            {"通知书编号": d.get("number"), "客户": d["recipient"], "邮箱": "、".join(d["addresses"]),
             "结果": delivery_status(d["status"]), "短信结果": delivery_status(d.get("sms_status"), "sms"), "说明": d.get("error") or d.get("note") or ""}
            for d in result.deliveries], "通知书送达结果（每份只发一次）")
    out = result.as_json()
    if undelivered(result.deliveries):
        raise delivery_failure(failure_summary(result.deliveries))
    return out


def deployments(home: str | None = None) -> list:
    """Monthly, on the 5th at 10:00 in the configured time zone (Asia/Shanghai by default; after the month's
    registers are in): issue and send notices."""
    from flows.deployments import cron

    return [notices_flow.to_deployment(
        name="每月整改通知书",
        schedule=cron("0 10 5 * *", home),
        parameters={"home": home, "send": True},
        concurrency_limit=1,
        description="每月向有未书面告知隐患的客户签发《用电安全隐患整改通知书》并发送到客户邮箱和手机（每份只发一次）。",
        tags=["hazardnet", "notices"],
    )]
