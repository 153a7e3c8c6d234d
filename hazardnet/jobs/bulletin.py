"""The bulletin job (月度电力安全隐患通报): directory → one scoped workbook and mail per recipient (an SMS notice
once the mail is there), each delivered once; the government authorities' paper copies. One sequence: the flow
runs it with Prefect's runner, tests and scripts with the plain one."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from dataclasses import dataclass

from hazardnet.delivery.directory import DirectoryResult, Recipient, load_directory
from hazardnet.delivery.dispatch import Dispatch, Dispatcher, delivery_record, failure_summary, gave_up, undelivered
from hazardnet.delivery.ledger import FAILED, bulletin_lock
from hazardnet.delivery.sms import SmsDelivery, with_sms
from hazardnet.jobs.runner import PlainRunner, RetryPolicy, Runner
from hazardnet.jobs.sending import JobOutcome, mail_directory_problems
from hazardnet.jobs.wiring import dispatcher
from hazardnet.publish.bulletin import (
    BulletinRun,
    Period,
    attachment_name,
    bulletin_letter,
    bulletin_result,
    content_hash,
    notice_stem,
    notice_text,
    prepare_bulletin,
    recipient_sections,
)
from hazardnet.publish.paper import PaperResult, bulletin_paper_copies
from hazardnet.settings import Settings
from hazardnet.store import Store
from hazardnet.xlsx.writers import WorkbookWriters
from schemas.vocab import PARTY_CUSTOMER, PARTY_GOV

KIND = "bulletin"
# Recipients served at once in a flow (its task runner's threads): each writes its workbook (in a worker process
# on big runs) and then mails it, so a few per core keep both busy without opening hundreds of SMTP connections.
DELIVERY_THREADS = 2 * max(1, min(8, os.cpu_count() or 1))
# The plain runner serves them one at a time: a crash leaves at most one mail in flight.
ONE_AT_A_TIME = 1


@dataclass
class BulletinOutcome(JobOutcome):
    """The bulletin's outcome: `delivery_problem` is the part of `problem` about mail (not paper copies)."""

    delivery_problem: str | None = None


def bulletin(settings: Settings, period: Period, as_of: dt.date, *, runner: Runner | None = None,
             store: Store | None = None, resend: bool = False, pdf: bool | None = None,
             sender: Dispatcher | None = None) -> BulletinOutcome:
    """Send the month's scoped bulletin to every recipient of the directory, each exactly once; with `pdf`
    (default: the paper_copies setting) also write each government authority's paper copy as PDF. `sender`:
    the dispatcher (default: the transports of the settings, jobs.wiring)."""
    runner = runner or PlainRunner(RetryPolicy.of(settings))
    settings.home.mkdir(parents=True, exist_ok=True)
    own_store = store is None
    store = store or Store(settings.database_url)
    try:
        with bulletin_lock(settings):
            directory = runner.step("读取通讯录", recipient_directory, settings, store, as_of)
            sender = sender or dispatcher(settings, store, runner.secret)
            directory_mail = mail_directory_problems(settings, directory, sender, runner)
            with WorkbookWriters(settings.workers, len(directory.recipients)) as writers:
                run = runner.step("准备通报", bulletin_run, settings, store, period, as_of, writers)

                def delivered(recipient: Recipient) -> dict:
                    """Write one recipient's workbook and deliver it once (temporary SMTP errors are retried)."""
                    return deliver_bulletin(sender, run, recipient, resend)

                deliveries = runner.each("发送通报", delivered, directory.recipients,
                                         label=lambda r: f"通报 {r.county_label} {r.org_name}", io=True,
                                         on_error=gave_up,
                                         threads=ONE_AT_A_TIME)
        result = bulletin_result(period, as_of, directory, deliveries)
        paper = None
        if (settings.paper_copies if pdf is None else pdf) and directory.usable:
            paper = runner.step("生成纸质版", paper_copies, run, directory.recipients)
            result["paper"] = paper.as_json()
            runner.info("%s 纸质版：%d 份已生成%s", period.key, len(paper.written),
                        f"；{paper.problem}" if paper.problem else "")
        problem, delivery_problem = bulletin_problem(directory, result, paper)
        return BulletinOutcome(result, problem, directory_mail, delivery_problem=delivery_problem)
    finally:
        if own_store:
            store.dispose()


def recipient_directory(settings: Settings, store: Store, as_of: dt.date) -> DirectoryResult:
    """The valid directory to use: the file in inbox/, or the last valid one if the file has errors."""
    return load_directory(settings, store, as_of)


def bulletin_run(settings: Settings, store: Store, period: Period, as_of: dt.date,
                 writers: WorkbookWriters | None = None) -> BulletinRun:
    """The register as of the report date."""
    return prepare_bulletin(settings, store, period, as_of, writers)


def paper_copies(run: BulletinRun, recipients: list[Recipient]) -> PaperResult:
    """The paper copy (PDF, by LibreOffice) of every government authority's bulletin, in 纸质版/."""
    return bulletin_paper_copies(run, recipients)


def deliver_bulletin(sender: Dispatcher, run: BulletinRun, recipient: Recipient, resend: bool = False) -> dict:
    """Deliver one recipient's bulletin at most once per period (unless resend), and text a customer or an
    authority with a mobile that it is in the mailbox. Returns its delivery record; raises TemporaryMailError
    (after recording progress in the ledger) when the server asked to try later."""
    sections = recipient_sections(run, recipient)
    if recipient.party == PARTY_CUSTOMER and sections.empty:
        return delivery_record(recipient, status="skipped", note="范围内无隐患，不发送")
    if not recipient.addresses:
        return delivery_record(recipient, status=FAILED, rows=sections.rows, error="通讯录中没有该收件人的电子邮箱")
    texted = sender.sms is not None and recipient.party in (PARTY_CUSTOMER, PARTY_GOV) and recipient.mobiles
    text = notice_text(sections, recipient, run.period, run.settings) if texted else None
    record = sender.send(Dispatch(
        KIND, recipient, [(run.period.key, content_hash(sections, recipient, run.period, run.as_of))],
        letter=lambda _periods: bulletin_letter(run, recipient, sections),
        text=(lambda _periods: text) if text else None,
        sms_items=[(run.period.key, hashlib.sha256(text.encode()).hexdigest())] if text else None,
        sms_stem=notice_stem(recipient, run.period), rows=sections.rows,
        attachment=attachment_name(recipient, run.period, run.settings), resend=resend, sms_after_mail=True,
        once=True))
    if text is None and record["status"] != FAILED:
        record = with_sms(record, SmsDelivery("skipped", tuple(recipient.mobiles)))
    return record


def bulletin_problem(directory: DirectoryResult, result: dict,
                     paper: PaperResult | None) -> tuple[str | None, str | None]:
    """(the whole problem, its delivery part): no usable directory, recipients not served, paper copies
    not printed; (None, None) when every recipient was served."""
    problem = None
    if not directory.usable:
        problem = "没有可用的通讯录，未发送任何通报：" + "；".join(f["message"] for f in result["directory"]["findings"])
    elif undelivered(result["deliveries"]):
        problem = failure_summary(result["deliveries"])
    message = "；".join(p for p in (problem, paper.problem if paper else None) if p)
    return message or None, problem
