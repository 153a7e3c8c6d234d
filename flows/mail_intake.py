"""Flow 收取邮件中的隐患台账: the mail-intake job (hazardnet.jobs.mail_intake) with Prefect's runner, and its
artifacts (no addresses of strangers, no password: what each message became and each register's verdict)."""

from __future__ import annotations

from prefect import flow

from flows import run_form as form
from flows.artifacts import publish_table
from flows.ingest import publish_ingest_artifacts
from flows.runner import PrefectRunner
from hazardnet.delivery.labels import delivery_status, intake_outcome
from hazardnet.intake.findings import Finding
from hazardnet.intake.transaction import FileOutcome, IngestResult
from hazardnet.jobs.mail_intake import mail_intake
from hazardnet.jobs.runner import RetryPolicy
from hazardnet.settings import load_home_settings, load_settings, report_date

STATUS_ZH = {"placed": "已放入收件箱", "done": "已处理", "quarantined": "已隔离", "checked": "已预检",
             "seen": "此前已处理", "error": "出错，下次重试"}


@flow(name="收取邮件中的隐患台账", log_prints=True, flow_run_name=form.run_name("收取邮件", form.day))
def mail_intake_flow(home: str | None = form.home(), as_of: str | None = form.as_of(
        "报送基准日", "邮件中的台账按该日报送登记")) -> dict:
    """Read the mailbox's new messages, ingest the registers of directory senders and answer each one."""
    settings = load_home_settings(home)
    day = report_date(as_of, settings)
    result = mail_intake(settings, day, runner=PrefectRunner(RetryPolicy.of(settings)))
    publish_table("mail-intake-messages", [
        {"邮件编号": m.get("uid"), "结果": STATUS_ZH.get(m.get("status"), m.get("status")),
         "县(市)": m.get("county") or "", "台账": "、".join(m.get("registers") or []),
         "说明": m.get("note") or "；".join(m.get("problems") or []) or m.get("error") or ""}
        for m in result.messages], "本次读取的邮件")
    if result.replies:
        publish_table("mail-intake-replies", [
            {"县(市)": r.get("county"), "台账": r.get("file"), "结果": intake_outcome(r.get("outcome")),
             "隐患条数": r.get("rows"), "回复": delivery_status(r.get("status")), "错误": r.get("error") or ""} for r in result.replies], "审核结果回复")
    if result.ingest:
        publish_ingest_artifacts(IngestResult(
            [FileOutcome(**{**f, "findings": [Finding(**x) for x in f["findings"]]}) for f in result.ingest["files"]],
            result.ingest["consolidated"]))
    return result.as_json()


def mailbox_configured(home: str | None) -> bool:
    """Whether the home's settings name an IMAP host to poll."""
    return bool(load_settings(home).imap_host)


def deployments(home: str, poll_minutes: float = 5.0) -> list:
    """The mailbox-polling deployment: every `poll_minutes`, one run at a time; none without a mailbox (the
    mailbox is optional: polling one that is not configured would only fail every few minutes)."""
    if not mailbox_configured(home):
        return []

    from flows.deployments import every

    return [mail_intake_flow.to_deployment(
        name="邮箱轮询",
        schedules=[every(poll_minutes, home)],
        parameters={"home": home},
        concurrency_limit=1,
        description="每隔几分钟读取收件邮箱中的新邮件：通讯录中供电企业联系人发来的台账放入 inbox/<县(市)>/ 并导入，"
                    "逐份回复审核结果；其他发件人的邮件移入隔离文件夹。",
        tags=["hazardnet", "mail-intake"],
    )]
