"""The delivery ledger: what was sent to whom, for which period and content — so each mail goes once.

One row per (kind, period, recipient key, generation). Generation 0 is the first delivery; a
`--resend` opens the next generation. A row is `pending` while it is being delivered, `sent` or
`written` once every address has it, `failed` when some address could not be served (the
addresses already served are kept in `delivered`, so the next run sends only to the others, under
the same Message-ID so that a mail client recognises a repeat should a crash have hidden a success).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from .store import Store, metadata

PENDING, SENT, WRITTEN, FAILED = "pending", "sent", "written", "failed"
DELIVERED = (SENT, WRITTEN)

deliveries = sa.Table(
    "mail_deliveries", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),  # bulletin | rejection
    sa.Column("period", sa.String(256), nullable=False),  # 2026-11, or the rejected file for a rejection mail
    sa.Column("recipient_key", sa.String(512), nullable=False),
    sa.Column("generation", sa.Integer, nullable=False, default=0),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("addresses", sa.Text, nullable=False, default="[]"),  # JSON: every address of the recipient
    sa.Column("delivered", sa.Text, nullable=False, default="[]"),  # JSON: addresses that have it
    sa.Column("message_id", sa.String(255), nullable=False),
    sa.Column("attachment", sa.String(512), nullable=True),
    sa.Column("rows", sa.Integer, nullable=False, default=0),
    sa.Column("transport", sa.String(16), nullable=True),
    sa.Column("location", sa.String(1024), nullable=True),  # .eml path
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("kind", "period", "recipient_key", "generation", name="uq_mail_delivery"),
)


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
                       row["content_hash"], row["status"], tuple(json.loads(row["addresses"])),
                       tuple(json.loads(row["delivered"])), row["message_id"], row["attachment"], row["rows"],
                       row["error"], row["attempts"], row["updated_at"])


class DeliveryLedger:
    """Exactly-once bookkeeping of outgoing mail, in the register store's database."""

    def __init__(self, store: Store):
        self.engine = store.engine
        metadata.create_all(self.engine, tables=[deliveries])

    def latest(self, kind: str, period: str, recipient_key: str) -> LedgerEntry | None:
        q = (sa.select(deliveries).where(deliveries.c.kind == kind, deliveries.c.period == period,
                                         deliveries.c.recipient_key == recipient_key)
             .order_by(deliveries.c.generation.desc()).limit(1))
        with self.engine.connect() as conn:
            row = conn.execute(q).mappings().first()
        return _entry(row) if row else None

    def claim(self, kind: str, period: str, recipient_key: str, *, content_hash: str, addresses: Sequence[str],
              resend: bool, new_message_id: Callable[[], str]) -> tuple[LedgerEntry, bool]:
        """The entry to deliver under, and whether it is already delivered (then nothing is to be sent).

        An unfinished entry (pending or failed) is continued; a delivered one is final unless `resend`,
        which opens the next generation with a new Message-ID.
        """
        for _ in range(5):  # a concurrent claim of the same generation loses the insert and re-reads
            latest = self.latest(kind, period, recipient_key)
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
                        kind=kind, period=period, recipient_key=recipient_key, generation=generation,
                        content_hash=content_hash, status=PENDING,
                        addresses=json.dumps(list(addresses), ensure_ascii=False), delivered="[]",
                        message_id=new_message_id(), rows=0, attempts=0, created_at=now, updated_at=now,
                    )).inserted_primary_key[0]
            except IntegrityError:
                continue
            return self.get(int(new_id)), False
        raise RuntimeError(f"could not claim a ledger entry for {kind} {period} {recipient_key}")

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

    def entries(self, kind: str | None = None, period: str | None = None) -> list[LedgerEntry]:
        """Every ledger row (optionally of one kind and period), oldest first."""
        q = sa.select(deliveries).order_by(deliveries.c.id)
        if kind is not None:
            q = q.where(deliveries.c.kind == kind)
        if period is not None:
            q = q.where(deliveries.c.period == period)
        with self.engine.connect() as conn:
            return [_entry(r) for r in conn.execute(q).mappings()]
