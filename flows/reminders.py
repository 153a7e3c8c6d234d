"""Flow 复查提醒: the reminders job (hazardnet.jobs.reminders) with Prefect's runner — each county supply company
told once per hazard about its hazards due for re-inspection and those not yet notified in writing."""

from __future__ import annotations

from prefect import flow

from flows import run_form as form
from flows.artifacts import publish_table
from flows.mailing import undelivered_state
from flows.runner import PrefectRunner
from hazardnet.delivery.ledger import failure_summary, undelivered
from hazardnet.jobs.reminders import reminders
from hazardnet.jobs.runner import RetryPolicy
from hazardnet.settings import load_home_settings, report_date


@flow(name="复查提醒", log_prints=True, flow_run_name=form.run_name("复查提醒", form.day))
def reminders_flow(home: str | None = form.home(), as_of: str | None = form.as_of(what="待复查、未书面告知的天数按该日计算")) -> dict:
    """Remind each county supply company of its hazards awaiting re-inspection or a written notice, once each."""
    settings = load_home_settings(home)
    day = report_date(as_of, settings)
    result = reminders(settings, day, runner=PrefectRunner(RetryPolicy.of(settings)))
    publish_table("reminders", [
        {"类型": r.as_json()["kind_name"], "县(市)": r.county, "隐患编号": r.hazard_id, "客户名称": r.customer_name,
         "情况": r.reason} for r in [*result.reinspection_due, *result.unnotified]], "待复查与未书面告知的隐患")
    out = result.as_json()
    if undelivered(result.reminders):
        return undelivered_state(failure_summary(result.reminders), out)
    return out


def deployments(home: str | None = None) -> list:
    """Daily at 09:10 in the configured time zone (Asia/Shanghai by default), after the risk warnings."""
    from flows.deployments import cron

    return [reminders_flow.to_deployment(
        name="每日复查提醒",
        schedule=cron("10 9 * * *", home),
        parameters={"home": home},
        concurrency_limit=1,
        description="每天提醒各县(市)供电公司：已整改超过 10 天未复查销号、发现超过 7 天未书面告知的隐患（每项只提醒一次）。",
        tags=["hazardnet", "reminders"],
    )]
