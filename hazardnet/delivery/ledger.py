"""The delivery ledger: what was sent to whom, by which channel, for which period and content — so each
mail and each text message goes once; and the delivery through it (one message may carry several ledger items).

One row per (kind, period, recipient key, channel, generation); the channel is "mail" or "sms" (delivery/sms.py),
so the same item reaches a recipient once by mail and once by SMS; for SMS the "addresses" are mobile numbers. Generation 0 is the first delivery; a
`--resend` opens the next generation. A row is `pending` while it is being delivered, `sent` or
`written` once every address has it, `failed` when some address could not be served (the
addresses already served are kept in `delivered`, so the next run sends only to the others, under
the same Message-ID so that a mail client recognises a repeat should a crash have hidden a success).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from hazardnet.delivery.directory import Recipient
from hazardnet.delivery.mail import OutgoingMail, PermanentMailError, TemporaryMailError, Transport, new_message_id
from hazardnet.failpoints import checkpoint
from hazardnet.home_lock import home_lock
from hazardnet.settings import Settings
from hazardnet.store import Store, deliveries

PENDING, SENT, WRITTEN, FAILED = "pending", "sent", "written", "failed"
DELIVERED = (SENT, WRITTEN)
MAIL, SMS = "mail", "sms"

# What a person reads for the ledger's words (the hazard file, 一患一档): each kind of message, channel and status.
KIND_ZH = {"warning": "风险预警", "reminder": "整改期限提醒", "supervision": "督办建议函", "notice": "整改通知书",
           "reinspection": "隐患待复查提醒", "unnotified": "隐患未书面告知提醒", "bulletin": "月度通报",
           "quarterly": "季度汇总", "grid": "电网风险预警", "drill": "应急演练提醒", "rejection": "台账退回",
           "directory": "通讯录问题", "directory-change": "通讯录变更", "mail_check": "来信台账核对",
           "mail_reply": "来信回复", "mail_verdict": "来信台账审核结果", "mail_quarantine": "隔离邮件清单"}
# tests/test_ledger_words.py reads every kind the code writes to the ledger and checks each has its word here
# the words for the channels and statuses: delivery.labels (one mapping for every command, file and artifact)

def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


@dataclass(frozen=True)
class LedgerEntry:
    id: int
    kind: str
    period: str
    recipient_key: str
    generation: int
    content_hash: str
    channel: str
    status: str
    addresses: tuple[str, ...]
    delivered: tuple[str, ...]
    message_id: str
    attachment: str | None
    rows: int
    error: str | None
    attempts: int
    updated_at: dt.datetime

    @property
    def is_delivered(self) -> bool:
        return self.status in DELIVERED

    def missing(self, addresses: Sequence[str]) -> list[str]:
        """Addresses of `addresses` that do not have this message yet."""
        have = {a.lower() for a in self.delivered}
        return [a for a in addresses if a.lower() not in have]


def _entry(row) -> LedgerEntry:
    return LedgerEntry(row["id"], row["kind"], row["period"], row["recipient_key"], row["generation"],
                       row["content_hash"], row["channel"], row["status"], tuple(json.loads(row["addresses"])),
                       tuple(json.loads(row["delivered"])), row["message_id"], row["attachment"], row["rows"],
                       row["error"], row["attempts"], row["updated_at"])


class DeliveryLedger:
    """Exactly-once bookkeeping of outgoing mail, in the register store's database."""

    def __init__(self, store: Store):
        self.engine = store.engine  # the table and its migration come with the store (hazardnet.store)

    def latest(self, kind: str, period: str, recipient_key: str, channel: str = MAIL) -> LedgerEntry | None:
        q = (sa.select(deliveries).where(deliveries.c.kind == kind, deliveries.c.period == period,
                                         deliveries.c.recipient_key == recipient_key, deliveries.c.channel == channel)
             .order_by(deliveries.c.generation.desc()).limit(1))
        with self.engine.connect() as conn:
            row = conn.execute(q).mappings().first()
        return _entry(row) if row else None

    def claim(self, kind: str, period: str, recipient_key: str, *, content_hash: str, addresses: Sequence[str],
              resend: bool, new_message_id: Callable[[], str], channel: str = MAIL) -> tuple[LedgerEntry, bool]:
        """The entry to deliver under, and whether it is already delivered (then nothing is to be sent).

        An unfinished entry (pending or failed) is continued; a delivered one is final unless `resend`,
        which opens the next generation with a new Message-ID.
        """
        for _ in range(5):  # a concurrent claim of the same generation loses the insert and re-reads
            latest = self.latest(kind, period, recipient_key, channel)
            if latest is not None and latest.is_delivered and not resend:
                return latest, True
            if latest is not None and not latest.is_delivered:
                with self.engine.begin() as conn:
                    conn.execute(deliveries.update().where(deliveries.c.id == latest.id).values(
                        content_hash=content_hash, addresses=json.dumps(list(addresses), ensure_ascii=False),
                        updated_at=_now()))
                return self.get(latest.id), False
            generation = 0 if latest is None else latest.generation + 1
            now = _now()
            try:
                with self.engine.begin() as conn:
                    new_id = conn.execute(deliveries.insert().values(
                        kind=kind, period=period, recipient_key=recipient_key, channel=channel, generation=generation,
                        content_hash=content_hash, status=PENDING,
                        addresses=json.dumps(list(addresses), ensure_ascii=False), delivered="[]",
                        message_id=new_message_id(), rows=0, attempts=0, created_at=now, updated_at=now,
                    )).inserted_primary_key[0]
            except IntegrityError:
                continue
            return self.get(int(new_id)), False
        raise RuntimeError(f"could not claim a ledger entry for {kind} {period} {recipient_key} {channel}")

    def get(self, entry_id: int) -> LedgerEntry:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(deliveries).where(deliveries.c.id == entry_id)).mappings().one()
        return _entry(row)

    def record(self, entry: LedgerEntry, *, delivered: Sequence[str], status: str, error: str | None,
               transport: str | None, attachment: str | None = None, rows: int | None = None,
               location: str | None = None) -> LedgerEntry:
        """Record the outcome of one attempt; `delivered` adds to the addresses that have the message."""
        have = list(entry.delivered)
        seen = {a.lower() for a in have}
        for a in delivered:
            if a.lower() not in seen:
                have.append(a)
                seen.add(a.lower())
        values = dict(status=status, delivered=json.dumps(have, ensure_ascii=False), error=error,
                      transport=transport, attempts=deliveries.c.attempts + 1, updated_at=_now())
        if attachment is not None:
            values["attachment"] = attachment
        if rows is not None:
            values["rows"] = rows
        if location is not None:
            values["location"] = location
        with self.engine.begin() as conn:
            conn.execute(deliveries.update().where(deliveries.c.id == entry.id).values(**values))
        return self.get(entry.id)

    def entries(self, kind: str | None = None, period: str | None = None,
                channel: str | None = None) -> list[LedgerEntry]:
        """Every ledger row (optionally of one kind, period and channel), oldest first."""
        q = sa.select(deliveries).order_by(deliveries.c.id)
        if channel is not None:
            q = q.where(deliveries.c.channel == channel)
        if kind is not None:
            q = q.where(deliveries.c.kind == kind)
        if period is not None:
            q = q.where(deliveries.c.period == period)
        with self.engine.connect() as conn:
            return [_entry(r) for r in conn.execute(q).mappings()]


# ---- delivery records -----------------------------------------------------------------------------------
def delivery_record(recipient: Recipient, *, status: str, rows: int = 0, attachment: str | None = None,
                    error: str | None = None, note: str | None = None) -> dict:
    """One line of the deliveries list (the public keys first, then error/note/key for people and artifacts)."""
    return {**recipient.as_json(), "attachment": attachment, "status": status, "rows": rows,
            "error": error, "note": note, "key": recipient.key}



def failed_record(recipient: Recipient, reason: str) -> dict:
    """The record of a recipient whose delivery gave up (e.g. retries exhausted)."""
    return delivery_record(recipient, status=FAILED, error=reason)


def undelivered(deliveries: Sequence[dict]) -> list[dict]:
    return [d for d in deliveries if d["status"] == FAILED]


def failure_summary(deliveries: Sequence[dict]) -> str:
    """One Chinese sentence naming every recipient that could not be served, and why."""
    parts = [f"{d['county']} {d['recipient']}（{'、'.join(d['addresses']) or '无邮箱'}）：{d.get('error') or '未送达'}"
             for d in undelivered(deliveries)]
    return f"{len(parts)} 个收件人未能送达——" + "；".join(parts)


def bulletin_lock(settings: Settings, timeout_s: float = 600.0):
    """One sending run at a time per home folder, so two runs never deliver the same entry."""
    return home_lock(settings.home, "hazardnet-mail", timeout_s=timeout_s,
                     busy=RuntimeError("另一个发送任务仍在运行，本次未执行，请稍后重试。"))



# ---- delivering through the ledger -----------------------------------------------------------------------
def deliver_claimed(ledger: DeliveryLedger, entry: LedgerEntry, mail: OutgoingMail, todo: list[str], transport: Transport,
             record: dict) -> dict:
    """Hand `mail` to the transport for the addresses in `todo` and book the outcome."""
    attachment, rows = record.get("attachment"), record.get("rows")
    if not todo:  # every address already has it (e.g. an address was removed since the last attempt)
        ledger.record(entry, delivered=[], status=transport.status, error=None, transport=transport.status,
                      attachment=attachment, rows=rows)
        return {**record, "status": transport.status}
    try:
        checkpoint("mail_before_send")
        receipt = transport.deliver(mail, todo)
        checkpoint("mail_after_send")
    except TemporaryMailError as exc:
        ledger.record(entry, delivered=[], status=FAILED, error=exc.reason, transport=transport.status,
                      attachment=attachment, rows=rows)
        raise
    except PermanentMailError as exc:
        ledger.record(entry, delivered=[], status=FAILED, error=exc.reason, transport=transport.status,
                      attachment=attachment, rows=rows)
        return {**record, "status": FAILED, "error": exc.reason}
    problems = {**receipt.refused, **receipt.deferred}
    if problems:
        error = "收件地址被拒收：" + "；".join(f"{a}（{why}）" for a, why in problems.items())
        ledger.record(entry, delivered=receipt.accepted, status=FAILED, error=error, transport=transport.status,
                      attachment=attachment, rows=rows, location=receipt.location)
        if receipt.deferred:
            raise TemporaryMailError(error)
        return {**record, "status": FAILED, "error": error}
    ledger.record(entry, delivered=receipt.accepted, status=receipt.status, error=None, transport=transport.status,
                  attachment=attachment, rows=rows, location=receipt.location)
    checkpoint("mail_after_record")
    return {**record, "status": receipt.status, "note": receipt.location}



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
        """The bulletin's delivery record shape (delivery_record), plus the items sent."""
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
