"""Flow 客户档案检查: the customer-checks job (hazardnet.jobs.customer_checks) with Prefect's runner, and its
artifacts (every customer's problems; the customers the registers and the customer files do not share)."""

from __future__ import annotations

from prefect import flow

from flows import run_form as form
from flows.artifacts import publish_table
from flows.runner import PrefectRunner
from hazardnet.jobs.customer_checks import customer_checks
from hazardnet.jobs.runner import RetryPolicy
from hazardnet.settings import load_home_settings, report_date


def publish_customer_artifacts(report: dict) -> None:
    """One table of the problems, one of the customers missing from the file or from the registers."""
    publish_table("customer-problems", [
        {"县(市)": c["county"], "户号": c["customer_id"], "客户名称": c["customer_name"], "问题": p["code"],
         "说明": p["message"]} for c in report["customers"] for p in c["problems"]], "客户档案检查发现的问题")
    missing = ([{"县(市)": m["county"], "户号": m["customer_id"], "客户名称": m["customer_name"],
                 "情况": "台账中有，客户档案中没有"} for m in report["not_in_file"]]
               + [{"县(市)": m["county"], "户号": m["customer_id"], "客户名称": m["customer_name"],
                   "情况": "客户档案中有，台账中没有"} for m in report["not_in_registers"]])
    if missing:
        publish_table("customer-file-gaps", missing, "客户档案与隐患台账不一致的客户（请县(市)供电公司核对）")


@flow(name="客户档案检查", log_prints=True, flow_run_name=form.run_name("客户档案检查", form.day))
def customer_checks_flow(home: str | None = form.home(), as_of: str | None = form.as_of(what="演练是否到期按该日计算"),
                         remind: bool = form.field("发送演练提醒", "勾选后向联合应急演练即将到期的客户发送提醒（每个客户每个演练年度一次）。",
                                                   False)) -> dict:
    """Check every customer's file (一户一档) and joint drills as of a date; optionally send the drill reminders."""
    settings = load_home_settings(home)
    day = report_date(as_of, settings)
    report = customer_checks(settings, day, runner=PrefectRunner(RetryPolicy.of(settings)), remind=remind)
    publish_customer_artifacts(report)
    return report


def deployments(home: str | None = None) -> list:
    """Daily at 09:15 in the configured time zone (Asia/Shanghai by default): the checks' artifacts in the UI, and
    each drill reminder once it is due (a customer's drill year runs out within `drill_reminder_days`; the ledger
    sends each one once)."""
    from flows.deployments import cron

    return [customer_checks_flow.to_deployment(
        name="每日客户档案检查",
        schedule=cron("15 9 * * *", home),
        parameters={"home": home, "remind": True},
        concurrency_limit=1,
        description="每天 09:15 检查各县(市)重要客户档案（一户一档）与联合应急演练记录，并向演练即将到期的客户发送演练提醒"
                    "（每个客户每个演练年度只提醒一次）。",
        tags=["hazardnet", "customers"],
    )]
