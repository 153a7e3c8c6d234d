"""The one dispatcher: (item kind, recipient, items, what to say) → ledger entries, mail and SMS, each item to
each recipient at most once per channel, one record shape for every job.

A renderer (publish/) says what a recipient gets as a `Letter` (subject, body, attached files) and an SMS text;
it never sends. A job hands the dispatcher a `Dispatch` per recipient; the dispatcher claims the items in the
ledger, builds the message (Message-ID, Date) and hands it to the transports.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hazardnet.delivery.directory import Recipient
from hazardnet.delivery.ledger import (
    FAILED,
    DeliveryLedger,
    deliver_items,
    delivery_record,
    failed_record,
    failure_summary,
    undelivered,
)
from hazardnet.delivery.mail import Transport, build_message
from hazardnet.delivery.sms import OutgoingSms, SmsTransport, deliver_sms_items, sms_text, with_sms
from hazardnet.settings import Settings
from hazardnet.store import Store

__all__ = ["Dispatch", "Dispatcher", "Letter", "failed_record", "failure_summary", "undelivered", "FAILED"]


@dataclass
class Letter:
    """What one mail says: rendered by publish/, built into a message by the dispatcher."""

    subject: str
    body: str
    files: Sequence[tuple[str, bytes | Path]] = ()  # (name as the recipient sees it, content or path)
    file_stem: str = "mail"  # the .eml file name when mail is written to files
    headers: dict[str, str] = field(default_factory=dict)  # e.g. In-Reply-To and References of a reply


@dataclass
class Dispatch:
    """One recipient's share of a job: the ledger items and how to say them by mail and by SMS.

    `letter(periods)` and `text(periods)` are called with the items not yet delivered on that channel, so a
    re-run says only what is new. `sms_items` defaults to `items`; `sms_after_mail` texts only once the mail
    went out (a notice that points at the mailbox)."""

    kind: str
    recipient: Recipient
    items: Sequence[tuple[str, str]]  # (ledger period, content hash)
    letter: Callable[[list[str]], Letter] | None = None
    text: Callable[[list[str]], str] | None = None
    sms_items: Sequence[tuple[str, str]] | None = None
    rows_of: Callable[[list[str]], int] = len
    attachment: str | None = None
    resend: bool = False
    sms_after_mail: bool = False
    extra: dict = field(default_factory=dict)  # job-specific keys added to the record


class Dispatcher:
    """Sends `Dispatch`es through the ledger with one mail and one SMS transport."""

    def __init__(self, store: Store, settings: Settings, mail: Transport, sms: SmsTransport | None = None):
        self.ledger = DeliveryLedger(store)
        self.settings = settings
        self.mail = mail
        self.sms = sms

    def _mail(self, d: Dispatch, message_id: str, periods: list[str]):
        letter = d.letter(periods)
        files = [(name, content if isinstance(content, bytes) else Path(content).read_bytes())
                 for name, content in letter.files]
        return build_message(self.settings, to=d.recipient.addresses, subject=letter.subject, body=letter.body,
                             attachments=files, message_id=message_id, file_stem=letter.file_stem,
                             headers=letter.headers)

    def send(self, d: Dispatch) -> dict:
        """Deliver what `d.recipient` has not had yet; the record of what happened (status sent | written |
        skipped | failed). A temporary error is recorded and raised, so a retry sends only what is missing."""
        record: dict
        mail_ok = True
        if d.letter is not None:
            delivery = deliver_items(self.ledger, self.mail, self.settings, kind=d.kind, recipient=d.recipient,
                                     items=d.items, build=lambda mid, periods: self._mail(d, mid, periods),
                                     rows_of=d.rows_of, attachment=d.attachment, resend=d.resend)
            record = delivery.as_json()
            mail_ok = delivery.status != FAILED
        else:
            record = delivery_record(d.recipient, status="skipped")
        if d.text is not None and self.sms is not None and (mail_ok or not d.sms_after_mail):
            sms = deliver_sms_items(self.ledger, self.sms, kind=d.kind, recipient=d.recipient,
                                    items=d.items if d.sms_items is None else d.sms_items,
                                    build=lambda periods: OutgoingSms(sms_text(self.settings, d.text(periods))),
                                    resend=d.resend)
            record = with_sms(record, sms)
        return {**record, **d.extra}
