"""Deliver mail exactly once per (item, recipient) through the delivery ledger and a mail transport.

Built on `delivery_ledger.DeliveryLedger` and `mail` (the distribution modules). One message may carry
several ledger items — e.g. all the new risk warnings a county authority must get today — and each item
is recorded per recipient, so nobody receives the same item twice:

- items already delivered to the recipient are skipped;
- new items are claimed under one fresh Message-ID and go out together;
- items left unfinished by an earlier run (pending or failed) keep their Message-ID and go only to the
  addresses that do not have them yet (so a repeat after a crash is recognisable by mail clients).

A temporary failure (`TemporaryMailError`, or a 4xx for some address) is recorded and re-raised so that
the caller — a Prefect task with retries — tries again; a permanent one is recorded and reported.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .delivery_ledger import FAILED, DeliveryLedger, LedgerEntry
from .failpoints import checkpoint
from .mail import OutgoingMail, PermanentMailError, TemporaryMailError, Transport, new_message_id
from .recipient_directory import Recipient
from .settings import Settings

SKIPPED = "skipped"


@dataclass
class Delivery:
    """What happened for one recipient in one run."""

    recipient: Recipient
    status: str  # sent | written | skipped (nothing new for it) | failed
    items: list[str] = field(default_factory=list)  # ledger periods delivered now
    skipped: list[str] = field(default_factory=list)  # ledger periods it already had
    attachment: str | None = None
    rows: int = 0
    error: str | None = None
    locations: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        """The bulletin's delivery record shape (monthly_bulletin.delivery_record), plus the items sent."""
        from .monthly_bulletin import delivery_record

        note = "；".join(self.locations) or (f"已送达过，未重复发送（{len(self.skipped)} 项）" if self.skipped else None)
        return {**delivery_record(self.recipient, status=self.status, rows=self.rows, attachment=self.attachment,
                                  error=self.error, note=note), "items": self.items}


def _group(entries: list[LedgerEntry], addresses: Sequence[str]) -> dict[tuple[str, tuple[str, ...]], list[LedgerEntry]]:
    groups: dict[tuple[str, tuple[str, ...]], list[LedgerEntry]] = {}
    for e in entries:
        groups.setdefault((e.message_id, tuple(e.missing(addresses))), []).append(e)
    return groups


def deliver_items(ledger: DeliveryLedger, transport: Transport, settings: Settings, *, kind: str,
                  recipient: Recipient, items: Sequence[tuple[str, str]],
                  build: Callable[[str, list[str]], OutgoingMail], rows_of: Callable[[list[str]], int] = len,
                  attachment: str | None = None, resend: bool = False) -> Delivery:
    """Send `items` ((ledger period, content hash) pairs) to `recipient`, each at most once.

    `build(message_id, periods)` makes the message carrying those items. Raises TemporaryMailError after
    recording it when a retry may help; returns a Delivery otherwise.
    """
    batch_id = new_message_id(settings)
    claimed: list[LedgerEntry] = []
    out = Delivery(recipient, SKIPPED, attachment=attachment)
    for period, digest in items:
        entry, done = ledger.claim(kind, period, recipient.key, content_hash=digest,
                                   addresses=list(recipient.addresses), resend=resend,
                                   new_message_id=lambda: batch_id)
        (out.skipped.append(period) if done else claimed.append(entry))
    if not claimed:
        return out
    if not recipient.addresses:
        for e in claimed:
            ledger.record(e, delivered=[], status=FAILED, error="通讯录中没有该单位的电子邮箱", transport=None)
        out.status, out.error = FAILED, "通讯录中没有该单位的电子邮箱"
        return out
    temporary: list[str] = []
    failed: list[str] = []
    for (message_id, missing), entries in _group(claimed, recipient.addresses).items():
        periods = [e.period for e in entries]
        if not missing:  # every address got it before a crash hid the outcome: just close the entries
            for e in entries:
                ledger.record(e, delivered=[], status=transport.status, error=None, transport=transport.status)
            out.items += periods
            continue
        mail = build(message_id, periods)
        rows = rows_of(periods)
        try:
            checkpoint("mail_before_send")
            receipt = transport.deliver(mail, list(missing))
            checkpoint("mail_after_send")
        except TemporaryMailError as exc:
            for e in entries:
                ledger.record(e, delivered=[], status=FAILED, error=exc.reason, transport=transport.status,
                              attachment=mail.attachment_name, rows=rows)
            temporary.append(exc.reason)
            continue
        except PermanentMailError as exc:
            for e in entries:
                ledger.record(e, delivered=[], status=FAILED, error=exc.reason, transport=transport.status,
                              attachment=mail.attachment_name, rows=rows)
            failed.append(exc.reason)
            continue
        problems = {**receipt.refused, **receipt.deferred}
        error = "；".join(f"{a}：{answer}" for a, answer in problems.items()) or None
        status = FAILED if problems else transport.status
        for e in entries:
            ledger.record(e, delivered=receipt.accepted, status=status, error=error, transport=transport.status,
                          attachment=mail.attachment_name, rows=rows, location=receipt.location)
        checkpoint("mail_after_record")
        if receipt.location:
            out.locations.append(receipt.location)
        if receipt.deferred:
            temporary.append(error or "")
        elif receipt.refused:
            failed.append(f"邮件服务器拒收：{error}")
        else:
            out.items += periods
            out.rows += rows
    if temporary:
        raise TemporaryMailError("；".join(temporary))
    if failed:
        out.status, out.error = FAILED, "；".join(failed)
    else:
        out.status = transport.status
    return out
