"""The one dispatcher: (item kind, recipient, items, what to say) → ledger entries, mail and SMS, each item to
each recipient at most once per channel, one record shape for every job.

A renderer (publish/) says what a recipient gets as a `Letter` (subject, body, attached files) and an SMS text;
it never sends. A job hands the dispatcher a `Dispatch` per recipient; the dispatcher claims the items in the
ledger, builds the message (Message-ID, Date) and hands it to the transports. Both channels are tried before a
temporary failure of either is raised, so a retry (the runner's one policy) sends only what is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hazardnet.delivery.directory import Recipient
from hazardnet.delivery.ledger import (
    FAILED,
    KIND_ZH,
    DeliveryLedger,
    deliver_claimed,
    deliver_items,
    delivery_record,
    failed_record,
    failure_summary,
    undelivered,
)
from hazardnet.delivery.letter import Letter, sms_text
from hazardnet.delivery.mail import TemporaryMailError, Transport, build_message, new_message_id
from hazardnet.delivery.sms import OutgoingSms, SmsDelivery, SmsTransport, deliver_sms_items, with_sms
from hazardnet.settings import Settings, local_time
from hazardnet.store import Store

__all__ = ["Dispatch", "Dispatcher", "Letter", "delivery_record", "failed_record", "failure_summary",
           "gave_up", "undelivered", "FAILED"]


def gave_up(recipient: Recipient, exc: BaseException) -> dict:
    """The record of a recipient whose delivery gave up (retries exhausted): why, and the SMS failed when the text
    was among what failed (`Dispatcher.send` marks the error it raises), so the 短信 column says 失败, not —."""
    record = failed_record(recipient, getattr(exc, "reason", None) or str(exc) or "发送失败")
    if getattr(exc, "sms_failed", False):
        record["sms_status"] = FAILED
    return record


@dataclass
class Dispatch:
    """One recipient's share of a job: the ledger items and how to say them by mail and by SMS.

    `letter(periods)` and `text(periods)` are called with the items not yet delivered on that channel, so a
    re-run says only what is new; `text` returns the whole SMS (signature included, as publish/ fits it).
    `sms_items` defaults to `items`; `sms_after_mail` texts only once the mail went out (a notice that points at
    the mailbox). `once`: one item, one message, and a re-run reports when and what was delivered before (the
    bulletin)."""

    kind: str
    recipient: Recipient
    items: Sequence[tuple[str, str]]  # (ledger period, content hash)
    letter: Callable[[list[str]], Letter] | None = None
    text: Callable[[list[str]], str] | None = None
    sms_items: Sequence[tuple[str, str]] | None = None
    sms_stem: str | None = None  # the file name of an SMS written to outbox/sms (default: default_sms_stem)
    rows_of: Callable[[list[str]], int] = len
    rows: int = 0  # the hazards a `once` letter carries
    attachment: str | None = None
    resend: bool = False
    sms_after_mail: bool = False
    once: bool = False
    extra: dict = field(default_factory=dict)  # job-specific keys added to the record


def default_sms_stem(d: Dispatch) -> str:
    """A text's file name in outbox/sms when its job names none: <类别>_<县(市)>_<单位>, as every job's own names
    begin (the file transport adds _<mobile>_<hash>)."""
    return f"{KIND_ZH.get(d.kind, d.kind)}_{d.recipient.county_label}_{d.recipient.org_name}"


class Dispatcher:
    """Sends `Dispatch`es through the ledger with one mail and one SMS transport."""

    def __init__(self, store: Store, settings: Settings, mail: Transport, sms: SmsTransport | None = None):
        self.ledger = DeliveryLedger(store)
        self.settings = settings
        self.mail = mail
        self.sms = sms

    def _message(self, d: Dispatch, message_id: str, periods: list[str]):
        letter = d.letter(periods)
        files = [(name, content if isinstance(content, bytes) else Path(content).read_bytes())
                 for name, content in letter.files]
        return build_message(self.settings, to=list(d.recipient.addresses), subject=letter.subject, body=letter.body,
                             attachments=files, message_id=message_id, file_stem=letter.file_stem,
                             headers=letter.headers)

    def _mail_once(self, d: Dispatch) -> dict:
        """One item in one message: the record of an earlier delivery says when, and what it carried."""
        (period, digest), = d.items
        recipient = d.recipient
        entry, delivered = self.ledger.claim(d.kind, period, recipient.key, content_hash=digest,
                                             addresses=recipient.addresses, resend=d.resend,
                                             new_message_id=lambda: new_message_id(self.settings))
        if delivered:
            return delivery_record(recipient, status="skipped", rows=entry.rows, attachment=entry.attachment,
                                   note=f"已于 {local_time(entry.updated_at, self.settings.timezone)} 送达，未重复发送")
        todo = entry.missing(recipient.addresses)
        mail = self._message(d, entry.message_id, [period])
        return deliver_claimed(self.ledger, entry, mail, todo, self.mail,
                               delivery_record(recipient, status="", rows=d.rows, attachment=d.attachment))

    def _mail_items(self, d: Dispatch) -> dict:
        return deliver_items(self.ledger, self.mail, self.settings, kind=d.kind, recipient=d.recipient,
                             items=d.items, build=lambda mid, periods: self._message(d, mid, periods),
                             rows_of=d.rows_of, attachment=d.attachment, resend=d.resend).as_json()

    def _signed(self, text: str) -> str:
        """The SMS as sent: a renderer that fitted its text around the signature gave it whole; any other text
        gets the signature here (and is cut to the SMS limit)."""
        return text if text.startswith(self.settings.sms_signature) else sms_text(self.settings, text)

    def _text(self, d: Dispatch) -> SmsDelivery:
        if self.sms is None:
            return SmsDelivery("skipped")
        return deliver_sms_items(self.ledger, self.sms, kind=d.kind, recipient=d.recipient,
                                 items=d.items if d.sms_items is None else d.sms_items,
                                 build=lambda periods: OutgoingSms(self._signed(d.text(periods)),
                                                                   d.sms_stem or default_sms_stem(d)),
                                 resend=d.resend)

    def send(self, d: Dispatch) -> dict:
        """Deliver what `d.recipient` has not had yet; the record of what happened (status sent | written |
        skipped | failed, with the SMS outcome when `d.text` is given). A temporary error of either channel is
        recorded and raised once both were tried, so a retry sends only what is missing."""
        temporary: list[str] = []
        record: dict | None = delivery_record(d.recipient, status="skipped")
        if d.letter is not None:
            try:
                record = self._mail_once(d) if d.once else self._mail_items(d)
            except TemporaryMailError as exc:
                if d.sms_after_mail or d.text is None:
                    raise
                record = None
                temporary.append(exc.reason)
        if d.text is not None and not (d.sms_after_mail and record is not None and record["status"] == FAILED):
            sms_failed = False
            try:
                texted = self._text(d)
            except TemporaryMailError as exc:
                temporary.append(exc.reason)
                sms_failed = True
            if temporary:
                error = TemporaryMailError("；".join(temporary))
                error.sms_failed = sms_failed  # for the record when the retries are exhausted (gave_up)
                raise error
            record = with_sms(record, texted)
        return {**record, **d.extra}
