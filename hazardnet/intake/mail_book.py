"""The mail intake's records in the store: each message read (by its key: Message-ID, or the hash of its bytes),
each register it brought (by message and attachment hash) from the inbox file to the verdict reply, and the last
UID read per mailbox. The job (jobs.mail_intake) records each step here before the next."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa

from hazardnet.store import Store, mail_cursors, mail_messages, mail_registers, submissions

RECEIVED, PLACED, DONE, QUARANTINED, CHECKED = "received", "placed", "done", "quarantined", "checked"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class MailBook:
    """The mail intake's records: messages by key, registers by (message, attachment hash), the UID cursor."""

    def __init__(self, store: Store, mailbox: str):
        self.store = store
        self.engine = store.engine
        self.mailbox = mailbox

    def cursor(self) -> tuple[int, int]:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(mail_cursors).where(mail_cursors.c.mailbox == self.mailbox)).mappings().first()
        return (int(row["uidvalidity"]), int(row["last_uid"])) if row else (0, 0)

    def keep_cursor(self, uidvalidity: int, last_uid: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(mail_cursors.delete().where(mail_cursors.c.mailbox == self.mailbox))
            conn.execute(mail_cursors.insert().values(mailbox=self.mailbox, uidvalidity=uidvalidity, last_uid=last_uid))

    def message(self, key: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(mail_messages).where(mail_messages.c.message_key == key)).mappings().first()
        return dict(row) if row else None

    def add_message(self, registers: list[dict] = (), **values) -> None:
        """Record a message (and the registers it brings) in one transaction."""
        with self.engine.begin() as conn:
            conn.execute(mail_messages.insert().values(mailbox=self.mailbox, received_at=_now(), **values))
            for reg in registers:
                conn.execute(mail_registers.insert().values(message_key=values["message_key"], placed=False,
                                                            created_at=_now(), replied=False, **reg))

    def set_status(self, key: str, status: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(mail_messages.update().where(mail_messages.c.message_key == key).values(status=status))

    def registers(self, where) -> list[dict]:
        q = (sa.select(mail_registers, mail_messages.c.sender, mail_messages.c.org, mail_messages.c.sender_county,
                       mail_messages.c.header_id, mail_messages.c.subject)
             .join(mail_messages, mail_messages.c.message_key == mail_registers.c.message_key)
             .where(where).order_by(mail_registers.c.id))
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def registers_of(self, keys: list[str | None]) -> list[dict]:
        keys = [k for k in keys if k]
        return [_public(r) for r in self.registers(mail_registers.c.message_key.in_(keys))] if keys else []

    def unplaced(self) -> list[dict]:
        return self.registers(mail_registers.c.placed == sa.false())

    def mark_placed(self, reg_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(mail_registers.update().where(mail_registers.c.id == reg_id).values(placed=True))

    def unresolved(self) -> list[dict]:
        return self.registers(mail_registers.c.submission_id.is_(None))

    def is_mail_file(self, county: str, path: str) -> bool:
        q = sa.select(mail_registers.c.id).where(mail_registers.c.county == county,
                                                 mail_registers.c.file_name == Path(path).name,
                                                 mail_registers.c.replied == sa.false())
        with self.engine.connect() as conn:
            return conn.execute(q.limit(1)).first() is not None

    def resolve(self) -> None:
        """Give every ingested register the intake's record of it (found by county, name and content)."""
        for reg in self.unresolved():
            if not reg["placed"]:
                continue
            q = (sa.select(submissions.c.id)
                 .where(submissions.c.county == reg["county"], submissions.c.file_name == reg["file_name"],
                        submissions.c.sha256.in_([reg["sha256"], ""]), submissions.c.finalized == sa.true(),
                        submissions.c.received_at >= reg["created_at"] - dt.timedelta(seconds=1))
                 .order_by(submissions.c.id.desc()).limit(1))
            with self.engine.begin() as conn:
                sub = conn.execute(q).scalar()
                if sub is not None:
                    conn.execute(mail_registers.update().where(mail_registers.c.id == reg["id"])
                                 .values(submission_id=sub))

    def to_answer(self) -> list[dict]:
        rows = self.registers(sa.and_(mail_registers.c.submission_id.is_not(None),
                                      mail_registers.c.replied == sa.false()))
        ids = [r["submission_id"] for r in rows]
        with self.engine.connect() as conn:
            subs = {r["id"]: dict(r) for r in conn.execute(sa.select(submissions).where(submissions.c.id.in_(ids)))
                    .mappings()} if ids else {}
        return [{**r, "submission": subs.get(r["submission_id"])} for r in rows]

    def mark_replied(self, reg_id: int, message_key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(mail_registers.update().where(mail_registers.c.id == reg_id).values(replied=True))
            left = conn.execute(sa.select(sa.func.count()).select_from(mail_registers).where(
                mail_registers.c.message_key == message_key, mail_registers.c.replied == sa.false())).scalar()
            if not left:
                conn.execute(mail_messages.update().where(mail_messages.c.message_key == message_key)
                             .values(status=DONE))

    def unlisted_quarantine(self) -> list[dict]:
        q = (sa.select(mail_messages).where(mail_messages.c.status == QUARANTINED, mail_messages.c.listed_on.is_(None))
             .order_by(mail_messages.c.id))
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def listed_on(self, day: dt.date) -> bool:
        q = sa.select(mail_messages.c.id).where(mail_messages.c.listed_on == day).limit(1)
        with self.engine.connect() as conn:
            return conn.execute(q).first() is not None

    def mark_listed(self, ids: list[int], day: dt.date) -> None:
        with self.engine.begin() as conn:
            conn.execute(mail_messages.update().where(mail_messages.c.id.in_(ids)).values(listed_on=day))

    def statuses(self, keys: list[str]) -> dict[str, str]:
        if not keys:
            return {}
        q = sa.select(mail_messages.c.message_key, mail_messages.c.status).where(mail_messages.c.message_key.in_(keys))
        with self.engine.connect() as conn:
            return {k: s for k, s in conn.execute(q)}


def _public(reg: dict) -> dict:
    return {"county": reg["county"], "file": reg["file_name"], "sha256": reg["sha256"], "placed": reg["placed"],
            "replied": reg["replied"], "submission_id": reg["submission_id"]}
