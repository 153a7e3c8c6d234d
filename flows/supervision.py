"""Flow 督办: the supervision job (hazardnet.jobs.supervision) with Prefect's runner — reminders before a
deadline, the ladder (县级督办, 州级挂牌督办) and its letters — and its artifacts."""

from __future__ import annotations

from prefect import flow

from flows import run_form as form
from flows.artifacts import publish_table
from flows.mailing import undelivered_state
from flows.runner import PrefectRunner
from hazardnet.delivery.labels import delivery_status
from hazardnet.delivery.ledger import failure_summary, undelivered
from hazardnet.jobs.runner import RetryPolicy
from hazardnet.jobs.supervision import SupervisionResult, supervision
from hazardnet.settings import load_home_settings, report_date


def publish_supervision_artifacts(result: dict) -> None:
    """The hazards on the ladder, the letters and who got them."""
    publish_table("supervision-rungs", [
        {"县(市)": r["county"], "客户名称": r["customer_name"], "隐患编号": r["hazard_id"], "隐患等级": r["severity"],
         "督办层级": r["rung_name"], "到达日期": r["reached_on"], "逾期天数": r["days_overdue"], "情况": r["why"]}
        for r in result["rungs"]], "督办层级（逾期、县级督办、州级挂牌督办）")
    publish_table("supervision-letters", [
        {"编号": x["number"], "层级": x["rung_name"], "县(市)": x["county"], "隐患数": len(x["hazard_ids"]),
         "隐患编号": "、".join(x["hazard_ids"]), "文件": x["path"],
         "收件单位": "、".join(f"{w['recipient']}（{delivery_status(w['status'])}）" for w in x["recipients"])}
        for x in result["letters"]], "隐患督办建议函")
    publish_table("supervision-reminders", [
        {"县(市)": r["county"], "客户名称": r["customer_name"], "隐患编号": r["hazard_id"], "整改期限": r["deadline"],
         "提醒": f"提前 {r['days_before']} 天", "剩余天数": r["days_left"]} for r in result["reminders"]], "整改期限提醒")


@flow(name="督办", log_prints=True, flow_run_name=form.run_name("督办", form.day))
def supervision_flow(home: str | None = form.home(), as_of: str | None = form.as_of(what="整改期限提醒和督办层级按该日计算"),
                     pdf: bool = form.pdf(False, "《隐患督办建议函》同时生成 PDF")) -> dict:
    """Remind customers before their deadlines; letters to the authorities for hazards newly up the ladder."""
    settings = load_home_settings(home)
    day = report_date(as_of, settings)
    result: SupervisionResult = supervision(settings, day, runner=PrefectRunner(RetryPolicy.of(settings)), pdf=pdf)
    out = result.as_json()
    publish_supervision_artifacts(out)
    if undelivered(result.deliveries):  # the next run catches them up; this one says who was not reached
        return undelivered_state(failure_summary(result.deliveries), out)
    return out


def deployments(home: str | None = None) -> list:
    """Daily at 09:05 in the configured time zone (Asia/Shanghai by default), after the risk warnings: reminders
    before deadlines and the ladder."""
    from flows.deployments import cron

    return [supervision_flow.to_deployment(
        name="每日督办",
        schedule=cron("5 9 * * *", home),
        parameters={"home": home},
        concurrency_limit=1,
        description="每天提醒客户整改期限将至（提前 10 天、3 天），对新达到县级督办、州级挂牌督办的隐患签发《隐患督办建议函》并发送（每项只发一次）。",
        tags=["hazardnet", "warnings", "supervision"],
    )]
