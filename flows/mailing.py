"""What every sending flow shows: delivery records as artifact rows (Chinese), and the table of the directory's
problem report when a job mailed it."""

from __future__ import annotations

from flows.artifacts import publish_table
from flows.redaction import redact

from hazardnet.delivery.labels import MAIL_STATUS_ZH as STATUS_ZH  # noqa: F401 - the one mapping, for the flows
from hazardnet.delivery.labels import delivery_status


class Undelivered(RuntimeError):
    """Some recipients could not be served: the message names them (masked, as `failed_state`), `.result` holds
    the run's whole result (every delivery, real addresses). A flow returns it as the data of its Failed state, so
    the UI shows the sentence without a traceback and a caller (`hazardnet warnings`) still gets every delivery."""

    def __init__(self, message: str, result: dict):
        super().__init__(redact(message))
        self.result = result


def failed_state(problem: str, data: BaseException | None = None):
    """The Failed state a sending flow returns: `problem` (the job's sentence naming whom it could not serve)
    masked like every line of the UI (flows.redaction: no mobile, no address) — the run's page, the console line
    a command prints from it and the exception a direct caller gets all read the same."""
    from prefect.states import Failed

    return Failed(message=redact(problem), data=data)


def delivery_failure(problem: str) -> RuntimeError:
    """The error a sending flow raises when it stops (no usable directory, a recipient not served): its message
    masked, so Prefect's state message, the log and `hazardnet`'s 运行失败 line carry no mobile or address."""
    return RuntimeError(redact(problem))


def undelivered_state(problem: str, result: dict):
    """The Failed state a sending flow returns when some recipients could not be served: the message names them,
    masked; the data keeps the whole result."""
    return failed_state(problem, Undelivered(problem, result))


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
