"""What every sending job shares: its outcome (the result, the problem that fails the run) and the step that
mails the directory's problems to the prefecture."""

from __future__ import annotations

from dataclasses import dataclass, field

from hazardnet.delivery.dispatch import Dispatcher
from hazardnet.delivery.mail import MailError
from hazardnet.jobs.runner import Runner
from hazardnet.settings import Settings


@dataclass
class JobOutcome:
    """What a sending job did: `result` (its JSON: every delivery, the directory, …) and, when some recipient
    could not be served, `problem` (one Chinese sentence naming them: the flow's Failed message).
    `directory_mail`: the records of the directory's problem report, when it was mailed; `sent` is False when
    the job stopped before sending anything (no usable directory)."""

    result: dict
    problem: str | None = None
    directory_mail: list[dict] = field(default_factory=list)
    sent: bool = True


def directory_problems(settings: Settings, directory, sender: Dispatcher) -> list[dict]:
    """Mail the directory's problem report to the prefecture's supply-company contacts and text them (once per
    set of problems). A mail problem is reported, never fails the run: the next run tries again."""
    from hazardnet.delivery.rejection_mail import send_directory_problems

    try:
        return send_directory_problems(settings, directory, sender)
    except MailError as exc:
        return [{"recipient": "州级供电企业", "party": "供电企业", "county": "全州", "customer_id": None,
                 "addresses": [], "status": "failed", "rows": 0, "error": exc.reason}]


def mail_directory_problems(settings: Settings, directory, sender: Dispatcher, runner: Runner) -> list[dict]:
    """The step 邮寄通讯录问题报告 of every sending job."""
    return runner.step("邮寄通讯录问题报告", directory_problems, settings, directory, sender)
