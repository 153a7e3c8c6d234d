"""The Chinese words for what happened to a delivery (by mail or SMS), to a submitted file and for a flow run's state: the one mapping
every command, artifact and file shows, so a console never says `written` or `Completed`."""

from __future__ import annotations

# the ledger's statuses (delivery.ledger): "written" is what the file transports record when no mail server
# (HAZARDNET_SMTP_HOST) or SMS gateway (HAZARDNET_SMS_URL) is configured; "skipped": nothing new for that recipient
MAIL_STATUS_ZH = {"sent": "已发送", "written": "已写入 .eml（未配置邮件服务器）", "skipped": "未发送（已发送过或无需发送）",
                  "failed": "失败", "pending": "待发送"}
SMS_STATUS_ZH = {"sent": "已发送", "written": "已写入 outbox/sms（未配置短信网关）", "skipped": "—", "failed": "失败",
                 "pending": "待发送"}
CHANNEL_ZH = {"mail": "邮件", "sms": "短信"}
# what the intake made of a file (intake.transaction outcomes)
INTAKE_OUTCOME_ZH = {"accepted": "已接收", "rejected": "已退回", "duplicate": "重复报送",
                     "commitments": "已接收（整改承诺表）"}

# Prefect's state names (prefect.states); "Late" is a scheduled run past its time
RUN_STATE_ZH = {"Completed": "已完成", "Failed": "失败", "Running": "运行中", "Scheduled": "已排队", "Late": "已延迟",
                "Pending": "等待中", "Crashed": "异常中止", "Cancelled": "已取消", "Cancelling": "正在取消",
                "Paused": "已暂停", "Suspended": "已暂停", "AwaitingRetry": "等待重试", "Retrying": "重试中",
                "AwaitingConcurrencySlot": "等待并发名额"}


def delivery_status(status: str | None, channel: str = "mail") -> str:
    """The Chinese word for a delivery record's status (`channel` "mail" or "sms"); "—" for none."""
    if not status:
        return "—"
    return (SMS_STATUS_ZH if channel == "sms" else MAIL_STATUS_ZH).get(status, status)


def intake_outcome(outcome: str | None) -> str:
    """The Chinese word for what the intake made of a file (accepted, rejected, duplicate, commitments)."""
    return INTAKE_OUTCOME_ZH.get(outcome or "", outcome or "—")


def run_state(name: str | None) -> str:
    """The Chinese word for a Prefect flow run's state name."""
    return RUN_STATE_ZH.get(name or "", name or "—")
