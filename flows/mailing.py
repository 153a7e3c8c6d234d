"""What every sending flow shows: delivery records as artifact rows (Chinese), and the table of the directory's
problem report when a job mailed it."""

from __future__ import annotations

from flows.artifacts import publish_table

from hazardnet.delivery.labels import MAIL_STATUS_ZH as STATUS_ZH  # noqa: F401 - the one mapping, for the flows
from hazardnet.delivery.labels import delivery_status


class Undelivered(RuntimeError):
    """Some recipients could not be served: the message names them, `.result` holds the run's whole result (every
    delivery). A flow returns it as the data of its Failed state, so the UI shows the sentence without a traceback
    and a caller (`hazardnet warnings`) still gets every delivery."""

    def __init__(self, message: str, result: dict):
        super().__init__(message)
        self.result = result


def undelivered_state(problem: str, result: dict):
    """The Failed state a sending flow returns when some recipients could not be served: the message names them,
    masked like every line of the UI (flows.redaction: no mobile, no address); the data keeps the whole result."""
    from prefect.states import Failed

    from flows.redaction import redact

    return Failed(message=redact(problem), data=Undelivered(problem, result))


def delivery_row(d: dict) -> dict:
    """One delivery record as a row of an artifact table."""
    return {"收件人": d["recipient"], "单位类型": d["party"], "县(市)": d["county"], "户号": d.get("customer_id") or "",
            "邮箱": "；".join(d["addresses"]), "附件": d.get("attachment") or "", "隐患条数": d.get("rows", 0),
            "结果": delivery_status(d["status"]), "手机": "、".join(d.get("mobiles") or []),
            "短信": delivery_status(d.get("sms_status"), "sms"),
            "说明": d.get("error") or d.get("note") or ""}


def publish_directory_mail(deliveries: list[dict]) -> None:
    """The table of the directory's problem report mailed to the prefecture's supply-company contacts."""
    if deliveries:
        publish_table("directory-problems-mail", [delivery_row(d) for d in deliveries], "通讯录问题报告的邮寄情况")
