"""What every sending flow shares: the mail transport, the settings' retry back-off, delivery records for
artifacts, and the task that mails rejected registers' reports back to their county (used by the ingest flow)."""

from __future__ import annotations

from prefect import Task, task
from prefect.cache_policies import NO_CACHE

from flows.artifacts import publish_table
from hazardnet.delivery.directory import Recipient
from hazardnet.delivery.ledger import failed_record
from hazardnet.delivery.mail import MailError, PermanentMailError, Transport, make_transport
from hazardnet.delivery.rejection_mail import send_directory_problems, send_rejection_reports
from hazardnet.delivery.sms import PermanentSmsError, SmsTransport, make_sms_transport
from hazardnet.settings import DEFAULT_MAIL_RETRY_DELAYS, Settings
from hazardnet.store import Store

STATUS_ZH = {"sent": "已发送", "written": "已写入 .eml", "skipped": "未发送（无需发送）", "failed": "失败"}
SMS_ZH = {"sent": "已发送", "written": "已写入 outbox/sms", "skipped": "—", "failed": "失败"}


def retry_delays(settings: Settings) -> list[float]:
    """Back-off between SMTP attempts: settings.mail_retry_delays (HAZARDNET_MAIL_RETRY_DELAYS="10,60,300";
    tests use 0)."""
    return list(settings.mail_retry_delays)


def with_mail_retries(mail_task: Task, settings: Settings) -> Task:
    """`mail_task` retried on temporary SMTP errors with the back-off of `settings`, one retry per delay."""
    delays = retry_delays(settings)
    return mail_task.with_options(retries=len(delays), retry_delay_seconds=delays)


def mail_transport(settings: Settings) -> Transport:
    """The transport for these settings; the SMTP password may come from a Prefect Secret block."""
    password = None
    if settings.smtp_host and settings.smtp_password is None and settings.smtp_password_block:
        from prefect.blocks.system import Secret

        try:
            password = str(Secret.load(settings.smtp_password_block).get())
        except ValueError:  # Prefect's answer for a block name it does not know
            raise PermanentMailError(
                f"找不到 Prefect Secret 块“{settings.smtp_password_block}”（HAZARDNET_SMTP_PASSWORD_BLOCK）：请用 "
                f"prefect block create secret 创建它，或改设 HAZARDNET_SMTP_PASSWORD。") from None
    return make_transport(settings, password)


def sms_transport(settings: Settings) -> SmsTransport:
    """The SMS transport for these settings; the Apprise URL (with its secrets) may come from a Prefect Secret
    block (HAZARDNET_SMS_URL_BLOCK)."""
    url = None
    if settings.sms_url is None and settings.sms_url_block:
        from prefect.blocks.system import Secret

        try:
            url = str(Secret.load(settings.sms_url_block).get())
        except ValueError:
            raise PermanentSmsError(
                f"找不到 Prefect Secret 块“{settings.sms_url_block}”（HAZARDNET_SMS_URL_BLOCK）：请用 "
                f"prefect block create secret 创建它，或改设 HAZARDNET_SMS_URL。") from None
    return make_sms_transport(settings, url)


def outcome(recipient: Recipient, future) -> dict:
    """The delivery record of a finished task, or a failed record naming why it gave up."""
    result = future.result(raise_on_failure=False)
    if isinstance(result, dict):
        return result
    return failed_record(recipient, getattr(result, "reason", None) or str(result) or "发送失败")


@task(name="邮寄退回报告", cache_policy=NO_CACHE, retries=len(DEFAULT_MAIL_RETRY_DELAYS),
      retry_delay_seconds=list(DEFAULT_MAIL_RETRY_DELAYS))
def rejection_emails(settings: Settings, store: Store, ingest_result) -> list[dict]:
    """Mail every rejected register's error report to its county's supply company (once each).

    Temporary server errors are retried with back-off; the last attempt reports them as failed
    deliveries instead of failing, so a mail problem never fails the ingest run itself. The decorator's
    back-off is the default one; `with_mail_retries(rejection_emails, settings)` follows the settings.
    """
    from prefect.context import TaskRunContext

    ctx = TaskRunContext.get()
    last_try = ctx is None or ctx.task_run.run_count > ctx.task.retries
    transport = mail_transport(settings)
    deliveries = send_rejection_reports(settings, store, ingest_result, transport, raise_on_temporary=not last_try)
    publish_table("rejection-emails", [delivery_row(d) for d in deliveries], "退回报告的邮寄情况")
    return deliveries


def delivery_row(d: dict) -> dict:
    return {"收件人": d["recipient"], "单位类型": d["party"], "县(市)": d["county"], "户号": d.get("customer_id") or "",
            "邮箱": "；".join(d["addresses"]), "附件": d.get("attachment") or "", "隐患条数": d.get("rows", 0),
            "结果": STATUS_ZH.get(d["status"], d["status"]), "手机": "、".join(d.get("mobiles") or []),
            "短信": SMS_ZH.get(d.get("sms_status") or "", d.get("sms_status") or ""),
            "说明": d.get("error") or d.get("note") or ""}


@task(name="邮寄通讯录问题报告", cache_policy=NO_CACHE)
def directory_problems_mail(settings: Settings, store: Store, directory) -> list[dict]:
    """Mail the directory's problem report to the prefecture's supply-company contacts (once per set of
    problems). A mail problem is reported, never fails the run: the next run tries again."""
    try:
        deliveries = send_directory_problems(settings, store, directory, mail_transport(settings))
    except MailError as exc:
        deliveries = [{"recipient": "州级供电企业", "party": "供电企业", "county": "全州", "customer_id": None,
                       "addresses": [], "status": "failed", "rows": 0, "error": exc.reason}]
    if deliveries:
        publish_table("directory-problems-mail", [delivery_row(d) for d in deliveries], "通讯录问题报告的邮寄情况")
    return deliveries
