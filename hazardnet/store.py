"""The register store: every submission and every version of every hazard (SQLAlchemy; SQLite by default).

The store is the truth and workbooks are views of it: the consolidated register for any date is
rebuilt from the hazard rows of the accepted submissions up to that date.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hazardnet.failpoints import checkpoint
from schemas.customer_file import CUSTOMER_FIELDS, DRILL_FIELDS, KIND_CUSTOMERS, KIND_DRILLS
from schemas.headers import FIELDS
from schemas.table import PlainFrame
from schemas.table import field_columns as _field_columns

if TYPE_CHECKING:  # pandas is imported where frames are made: `hazardnet ingest` with nothing to do needs none
    import pandas as pd
    from hazardnet.rules import DeadlineHistory

metadata = sa.MetaData()

def _file_version_columns() -> list[sa.Column]:
    """What the store keeps of every file taken from the inbox, whatever its kind (a register, a customer file, a
    drills workbook): its county, name and hash, when and for which report date, the outcome and findings."""
    return [
        sa.Column("county", sa.String(64), nullable=False, index=True),
        sa.Column("file_name", sa.String(512), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False, index=True),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),  # accepted | rejected | duplicate
        sa.Column("rows", sa.Integer, nullable=False, default=0),
        sa.Column("findings", sa.Text, nullable=False, default="[]"),
        sa.Column("kept_at", sa.String(1024), nullable=True),  # archive or rejected path of the original
        sa.Column("finalized", sa.Boolean, nullable=False, default=False),  # original moved out of the inbox
    ]


submissions = sa.Table(
    "submissions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    *_file_version_columns(),
)

_FIELD_TYPES = {"date": sa.Date, "number": sa.Float}
hazard_rows = sa.Table(
    "hazard_rows", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("submission_id", sa.Integer, sa.ForeignKey("submissions.id"), nullable=False, index=True),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("source_row", sa.Integer, nullable=False),
    *[sa.Column(f.name if f.name != "county" else "county_text", _FIELD_TYPES.get(f.kind, sa.Text))
      for f in FIELDS],
    sa.Column("county", sa.String(64), nullable=False),
    sa.Index("ix_hazard_rows_key", "county", "hazard_id"),
)

# Photos (隐患照片): each picture once, by the sha256 of its bytes as the register held them, with the
# JPEG rendition every output uses; hazard_photos says which submission showed it at which hazard.
photos = sa.Table(
    "photos", metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("jpeg", sa.LargeBinary, nullable=False),  # longest side ≤ 1024 px
    sa.Column("width", sa.Integer, nullable=False),  # of the original picture
    sa.Column("height", sa.Integer, nullable=False),
    sa.Column("source_format", sa.String(8), nullable=False),
    sa.Column("source_bytes", sa.Integer, nullable=False),
)

hazard_photos = sa.Table(
    "hazard_photos", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("submission_id", sa.Integer, sa.ForeignKey("submissions.id"), nullable=False, index=True),
    sa.Column("county", sa.String(64), nullable=False),
    sa.Column("hazard_id", sa.Text, nullable=False),
    sa.Column("sha256", sa.String(64), sa.ForeignKey("photos.sha256"), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),  # order in the submission (sheet order)
    sa.Column("sheet", sa.Text, nullable=False),
    sa.Column("cell", sa.String(16), nullable=False),
    sa.Index("ix_hazard_photos_key", "county", "hazard_id"),
)

outputs = sa.Table(
    "outputs", metadata,
    sa.Column("path", sa.String(1024), primary_key=True),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("written_at", sa.DateTime, nullable=False),
)

# Mail intake (jobs/mail_intake.py): each message read from the IMAP mailbox once (by its Message-ID), each
# register it carried once (by message and attachment hash) from the inbox file to the verdict reply, and the
# last UID read per mailbox and UIDVALIDITY.
mail_messages = sa.Table(
    "mail_messages", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("message_key", sa.String(255), nullable=False, unique=True),  # Message-ID, or sha256 of the bytes
    sa.Column("mailbox", sa.String(512), nullable=False),
    sa.Column("uid", sa.Integer, nullable=False),
    sa.Column("sender", sa.String(320), nullable=False),  # the directory address (a stranger: From as written)
    sa.Column("org", sa.String(256), nullable=True),  # the sender's organisation in the directory
    sa.Column("sender_county", sa.String(64), nullable=True),  # the organisation's county (None: prefecture)
    sa.Column("header_id", sa.String(998), nullable=True),  # its Message-ID header (the reply's In-Reply-To)
    sa.Column("subject", sa.Text, nullable=False, default=""),
    sa.Column("county", sa.String(64), nullable=True),  # the county its registers are for
    sa.Column("status", sa.String(16), nullable=False),  # received | placed | done | quarantined | checked
    sa.Column("note", sa.Text, nullable=True),  # why quarantined, why not ingested
    sa.Column("kept_at", sa.String(1024), nullable=True),  # archive/mail/… (the message byte for byte)
    sa.Column("received_at", sa.DateTime, nullable=False),
    sa.Column("listed_on", sa.Date, nullable=True),  # quarantined: the day it was listed for the prefecture
)

mail_registers = sa.Table(
    "mail_registers", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("message_key", sa.String(255), nullable=False, index=True),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("file_name", sa.String(512), nullable=False),  # the name in inbox/<county>/
    sa.Column("county", sa.String(64), nullable=False),
    sa.Column("placed", sa.Boolean, nullable=False, default=False),  # the file was written to the inbox
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("submission_id", sa.Integer, nullable=True),  # the intake's record of it, once ingested
    sa.Column("replied", sa.Boolean, nullable=False, default=False),
    sa.UniqueConstraint("message_key", "sha256", name="uq_mail_register"),
)

mail_cursors = sa.Table(
    "mail_cursors", metadata,
    sa.Column("mailbox", sa.String(512), primary_key=True),  # user@host:port/folder
    sa.Column("uidvalidity", sa.BigInteger, nullable=False),
    sa.Column("last_uid", sa.BigInteger, nullable=False),
)

# Written notices (《用电安全隐患整改通知书》): a record before it is a file. 通知书编号 is unique per county and
# year; a hazard is on one notice at most (the unique key of notice_hazards), whatever runs at the same time.
notices = sa.Table(
    "notices", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("county", sa.String(64), nullable=False),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("number", sa.String(64), nullable=False, unique=True),
    sa.Column("customer_id", sa.Text, nullable=False),
    sa.Column("customer_name", sa.Text, nullable=True),
    sa.Column("issued_on", sa.Date, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("path", sa.String(1024), nullable=True),  # the .docx under outbox/通知书/
    sa.UniqueConstraint("county", "year", "seq", name="uq_notices_county_year_seq"),
)

notice_hazards = sa.Table(
    "notice_hazards", metadata,
    sa.Column("notice_id", sa.Integer, sa.ForeignKey("notices.id"), nullable=False, index=True),
    sa.Column("county", sa.String(64), nullable=False),
    sa.Column("hazard_id", sa.Text, nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.UniqueConstraint("county", "hazard_id", name="uq_notice_hazards_hazard"),
)

# The customer files (一户一档) and joint-drills workbooks: every version of each county's file, accepted or
# rejected (record_files), and the rows of the accepted ones (customer_rows, drill_rows). Kept apart from the
# register's submissions, so a customer file never counts as a county's latest register.
record_files = sa.Table(
    "record_files", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),  # customers | drills
    *_file_version_columns(),
)

_RECORD_TYPES = {"date": sa.Date, "number": sa.Float}


def _record_rows_table(name: str, fields) -> sa.Table:
    return sa.Table(
        name, metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("file_id", sa.Integer, sa.ForeignKey("record_files.id"), nullable=False, index=True),
        sa.Column("county", sa.String(64), nullable=False),
        sa.Column("source_row", sa.Integer, nullable=False),
        *[sa.Column(f.name, _RECORD_TYPES.get(f.kind, sa.Text)) for f in fields],
    )


customer_rows = _record_rows_table("customer_rows", CUSTOMER_FIELDS)
drill_rows = _record_rows_table("drill_rows", DRILL_FIELDS)
RECORD_ROWS = {KIND_CUSTOMERS: customer_rows, KIND_DRILLS: drill_rows}

FIELD_NAMES = [f.name for f in FIELDS]

# ---- supervision (hazardnet.jobs.supervision) ---------------------------------------------------------
# The day each hazard first stood on each rung of the ladder (逾期, 县级督办, 州级挂牌督办).
supervision_rungs = sa.Table(
    "supervision_rungs", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("county", sa.String(64), nullable=False),
    sa.Column("hazard_id", sa.Text, nullable=False),
    sa.Column("rung", sa.String(16), nullable=False),  # rules.RUNGS
    sa.Column("reached_on", sa.Date, nullable=False),
    sa.Column("why", sa.Text, nullable=True),  # e.g. 重大隐患逾期, 未兑现通报会承诺
    sa.UniqueConstraint("county", "hazard_id", "rung", name="uq_supervision_rung"),
)

# 《隐患督办建议函》: a record before it is a file; each hazard on at most one letter per rung.
supervision_letters = sa.Table(
    "supervision_letters", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("number", sa.String(64), nullable=False, unique=True),  # 格尔木市督办〔2026〕003号
    sa.Column("rung", sa.String(16), nullable=False),
    sa.Column("county", sa.String(64), nullable=False),  # the county, or the prefecture's name for 州级挂牌督办
    sa.Column("issued_on", sa.Date, nullable=False),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("path", sa.String(1024), nullable=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("county", "rung", "year", "seq", name="uq_supervision_letter_seq"),
)

supervision_letter_hazards = sa.Table(
    "supervision_letter_hazards", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("letter_id", sa.Integer, sa.ForeignKey("supervision_letters.id"), nullable=False, index=True),
    sa.Column("rung", sa.String(16), nullable=False),
    sa.Column("county", sa.String(64), nullable=False),
    sa.Column("hazard_id", sa.Text, nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.UniqueConstraint("rung", "county", "hazard_id", name="uq_letter_hazard_rung"),
)

# The quarterly meeting's commitments (整改承诺表 filled in and sent back): each a deadline version.
commitments = sa.Table(
    "commitments", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("submission_id", sa.Integer, sa.ForeignKey("submissions.id"), nullable=False, index=True),
    sa.Column("county", sa.String(64), nullable=False),
    sa.Column("hazard_id", sa.Text, nullable=False),
    sa.Column("committed_date", sa.Date, nullable=False),
    sa.Column("person", sa.Text, nullable=True),
    sa.Column("quarter", sa.String(16), nullable=True),  # 2026Q3
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("sheet", sa.Text, nullable=True),
    sa.Column("cell", sa.String(16), nullable=True),
    sa.Index("ix_commitments_key", "county", "hazard_id"),
)
COMMITMENTS_OUTCOME = "commitments"  # a submission that was an accepted commitment table, not a register

# The recipients' directory (通讯录, hazardnet.delivery.directory): every version that passed validation.
directory_versions = sa.Table(
    "directory_versions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("sha256", sa.String(64), nullable=False, index=True),
    sa.Column("file_name", sa.String(512), nullable=False),
    sa.Column("loaded_at", sa.DateTime, nullable=False),
    sa.Column("entries", sa.Text, nullable=False),  # JSON list of DirectoryEntry
)


# The delivery ledger (hazardnet.delivery.ledger): each item to each recipient once per channel.
deliveries = sa.Table(
    "mail_deliveries", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),  # bulletin | rejection
    sa.Column("period", sa.String(256), nullable=False),  # 2026-11, or the rejected file for a rejection mail
    sa.Column("recipient_key", sa.String(512), nullable=False),
    sa.Column("channel", sa.String(8), nullable=False, default="mail", server_default="mail"),  # mail | sms
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
    sa.UniqueConstraint("kind", "period", "recipient_key", "channel", "generation", name="uq_delivery_channel"),
)
_OLD_COLUMNS = ("id", "kind", "period", "recipient_key", "generation", "content_hash", "status", "addresses",
                "delivered", "message_id", "attachment", "rows", "transport", "location", "error", "attempts",
                "created_at", "updated_at")  # the ledger before SMS (migrate_channel)


# ---- schema: one create_all, the migrations before it ----------------------------------------
def _has_channel(conn) -> bool:
    return "channel" in {c["name"] for c in sa.inspect(conn).get_columns(deliveries.name)}


def migrate_channel(engine: Engine) -> bool:
    """Give a ledger made before SMS existed its channel column (every old row is mail) and the unique
    constraint that includes it. Idempotent, one transaction; True when something was migrated."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table(deliveries.name) or _has_channel(conn):
            return False
    if engine.dialect.name == "sqlite":
        # SQLite cannot drop a constraint: rebuild the table, inside one BEGIN IMMEDIATE (DDL is transactional
        # there, and the immediate lock keeps a second process from migrating at the same time)
        with engine.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            if _has_channel(conn):
                conn.rollback()
                return False
            cols = ", ".join(f'"{c}"' for c in _OLD_COLUMNS)
            conn.exec_driver_sql(f"ALTER TABLE {deliveries.name} RENAME TO {deliveries.name}_before_sms")
            deliveries.create(conn)
            conn.exec_driver_sql(f"INSERT INTO {deliveries.name} ({cols}, channel) "
                                 f"SELECT {cols}, 'mail' FROM {deliveries.name}_before_sms")
            conn.exec_driver_sql(f"DROP TABLE {deliveries.name}_before_sms")
            conn.commit()
        return True
    with engine.begin() as conn:
        conn.exec_driver_sql(f"LOCK TABLE {deliveries.name} IN ACCESS EXCLUSIVE MODE")
        if _has_channel(conn):
            return False
        conn.exec_driver_sql(f"ALTER TABLE {deliveries.name} ADD COLUMN channel VARCHAR(8) NOT NULL DEFAULT 'mail'")
        conn.exec_driver_sql(f"ALTER TABLE {deliveries.name} DROP CONSTRAINT IF EXISTS uq_mail_delivery")
        conn.exec_driver_sql(f"ALTER TABLE {deliveries.name} ADD CONSTRAINT uq_delivery_channel "
                             f"UNIQUE (kind, period, recipient_key, channel, generation)")
    return True


MIGRATIONS = (migrate_channel, lambda engine: _add_missing_field_columns(engine))  # each idempotent, in this order,
# before create_all


def create_schema(engine: Engine) -> None:
    """Bring a database to the current schema: the migrations of existing tables, then every table
    that is missing (the one create_all). Two processes starting on a fresh store race to create
    the tables: the loser's next check finds the winner's tables."""
    for attempt in range(5):
        try:
            for migrate in MIGRATIONS:
                migrate(engine)
            metadata.create_all(engine)
            return
        except (sa.exc.OperationalError, sa.exc.ProgrammingError, sa.exc.IntegrityError):
            if attempt == 4:
                raise
            time.sleep(0.05 * (attempt + 1))



def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Store:
    """Thin access layer over the store's tables."""

    def __init__(self, url: str):
        self.url = url
        kwargs: dict[str, Any] = {"future": True}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": 60, "check_same_thread": False}
        self.engine: Engine = sa.create_engine(url, **kwargs)
        # SQLite takes one writer at a time and makes the others poll (sleeping up to 100 ms per try):
        # this process's writers queue on a lock instead, and each starts the moment the previous commits
        self._writing: Any = threading.Lock() if url.startswith("sqlite") else contextlib.nullcontext()
        if url.startswith("sqlite"):
            @sa.event.listens_for(self.engine, "connect")
            def _pragmas(dbapi_conn, _):  # WAL lets readers work while a submission is written
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.close()
        create_schema(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()

    # ---- submissions -----------------------------------------------------------------------
    def find_submission(self, county: str, sha256: str, outcome: str | None = None,
                        finalized: bool | None = None) -> dict | None:
        """The most recent submission of this content by this county, optionally by outcome/finalized."""
        q = sa.select(submissions).where(submissions.c.county == county, submissions.c.sha256 == sha256)
        if outcome is not None:
            q = q.where(submissions.c.outcome == outcome)
        if finalized is not None:
            q = q.where(submissions.c.finalized == finalized)
        with self.engine.connect() as conn:
            row = conn.execute(q.order_by(submissions.c.id.desc()).limit(1)).mappings().first()
        return dict(row) if row else None

    def submissions_of(self, county: str, sha256: str) -> list[dict]:
        """Every submission of this content by this county, the most recent first (one query for what an
        ingest asks about each file: a run that stopped half-way, an accepted duplicate)."""
        q = (sa.select(submissions).where(submissions.c.county == county, submissions.c.sha256 == sha256)
             .order_by(submissions.c.id.desc()))
        with self.engine.connect() as conn:
            return [dict(row) for row in conn.execute(q).mappings()]

    def record_submission(self, *, county: str, file_name: str, sha256: str, as_of: dt.date, outcome: str,
                          findings: Sequence[dict], kept_at: str | None,
                          rows: pd.DataFrame | PlainFrame | None = None, photos: Sequence[tuple[str, Any]] = ()) -> int:
        """Insert a submission and (for an accepted one) all its hazard rows and photos in one transaction.

        `photos` are (hazard_id, picture) pairs, the picture an `intake.photos.Picture` (any object with
        sha256, jpeg, width, height, source_format, source_bytes, sheet and cell)."""
        with self._writing, self.engine.begin() as conn:
            sub_id = conn.execute(submissions.insert().values(
                county=county, file_name=file_name, sha256=sha256, received_at=_now(), as_of=as_of,
                outcome=outcome, rows=0 if rows is None else len(rows),
                findings=json.dumps(list(findings), ensure_ascii=False), kept_at=kept_at, finalized=False,
            )).inserted_primary_key[0]
            if rows is not None and len(rows):
                checkpoint("mid_record")
                _insert_hazard_rows(conn, rows, sub_id, as_of, county)
            if photos:
                _insert_photos(conn, photos, sub_id, county)
        return int(sub_id)

    def finalize(self, submission_id: int) -> None:
        with self._writing, self.engine.begin() as conn:
            conn.execute(submissions.update().where(submissions.c.id == submission_id).values(finalized=True))

    def discard_unfinalized(self, submission_id: int) -> None:
        """Forget a submission recorded by a run killed before it acted on it (an unfinalized one only)."""
        with self._writing, self.engine.begin() as conn:
            conn.execute(hazard_photos.delete().where(hazard_photos.c.submission_id == submission_id))
            conn.execute(hazard_rows.delete().where(hazard_rows.c.submission_id == submission_id))
            conn.execute(submissions.delete().where(submissions.c.id == submission_id,
                                                    submissions.c.finalized == sa.false()))

    def unfinalized(self) -> list[dict]:
        """Submissions recorded by a run that stopped before taking their original out of the inbox."""
        q = (sa.select(submissions.c.id, submissions.c.county, submissions.c.file_name, submissions.c.sha256,
                       submissions.c.kept_at)
             .where(submissions.c.finalized == sa.false()).order_by(submissions.c.id))
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def submissions_frame(self) -> pd.DataFrame:
        import pandas as pd

        with self.engine.connect() as conn:
            return pd.read_sql(sa.select(submissions).order_by(submissions.c.id), conn)

    # ---- the register as of a date ---------------------------------------------------------
    def _current_version_query(self, as_of: dt.date, counties: Iterable[str] | None = None):
        """(accepted submissions up to `as_of`, ids of the current version of each of their hazards)."""
        accepted = (sa.select(submissions.c.id, submissions.c.county, submissions.c.as_of)
                    .where(submissions.c.outcome == "accepted", submissions.c.as_of <= as_of))
        if counties is not None:
            accepted = accepted.where(submissions.c.county.in_(list(counties)))
        acc = accepted.subquery("acc")
        # rank only row ids (a narrow sort), then fetch the winning rows whole
        ranked = (sa.select(
            hazard_rows.c.id,
            sa.func.row_number().over(
                partition_by=(hazard_rows.c.county, hazard_rows.c.hazard_id),
                order_by=(hazard_rows.c.as_of.desc(), hazard_rows.c.submission_id.desc())).label("rn"))
            .join(acc, acc.c.id == hazard_rows.c.submission_id)).subquery("ranked")
        winners = sa.select(ranked.c.id).where(ranked.c.rn == 1).subquery("winners")
        return accepted, winners

    def register_as_of(self, as_of: dt.date, counties: Iterable[str] | None = None) -> pd.DataFrame:
        """Current version of every hazard ever reported, as the store stood on `as_of`.

        Columns: county, every field name, submission_id, version_as_of, in_latest (bool).
        """
        import pandas as pd

        accepted, winners = self._current_version_query(as_of, counties)
        q = (sa.select(hazard_rows).join(winners, winners.c.id == hazard_rows.c.id)
             .order_by(hazard_rows.c.county, hazard_rows.c.hazard_id))
        with self.engine.connect() as conn:
            acc_df = pd.read_sql(accepted, conn)
            df = pd.read_sql(q, conn)
        if df.empty:
            return pd.DataFrame(columns=["county", *[n for n in FIELD_NAMES if n != "county"],
                                         "submission_id", "version_as_of", "in_latest"])
        latest = acc_df.sort_values(["as_of", "id"]).groupby("county")["id"].last()
        df["in_latest"] = df["submission_id"] == df["county"].map(latest)
        df = df.rename(columns={"as_of": "version_as_of"}).drop(columns=["id"])
        for f in FIELDS:
            if f.kind == "date":
                df[f.name] = pd.to_datetime(df[f.name]).dt.date
                df[f.name] = df[f.name].astype(object).where(df[f.name].notna(), None)
        return df

    def current_rows(self, as_of: dt.date, columns: Sequence[str],
                     counties: Iterable[str] | None = None) -> list[tuple]:
        """`register_as_of` as plain tuples, without pandas: for each current hazard version, the values of
        `columns` (hazard_rows column names; "county" is the submitting folder's county) followed by
        whether it comes from its county's latest accepted register. Unordered."""
        accepted, winners = self._current_version_query(as_of, counties)
        select = (sa.select(*[hazard_rows.c[c] for c in columns], hazard_rows.c.submission_id)
                  .select_from(hazard_rows.join(winners, winners.c.id == hazard_rows.c.id)))
        with self.engine.connect() as conn:
            latest: dict[str, tuple] = {}
            for sub_id, county, day in conn.execute(accepted):
                if county not in latest or (day, sub_id) > latest[county]:
                    latest[county] = (day, sub_id)
            latest_id = {county: key[1] for county, key in latest.items()}
            county_at = list(columns).index("county")
            return [(*r[:-1], r[-1] == latest_id.get(r[county_at])) for r in conn.execute(select)]

    def accepted_counties(self, as_of: dt.date) -> list[str]:
        """The counties (submitting folders) with an accepted register dated on or before `as_of`, sorted."""
        q = (sa.select(submissions.c.county).distinct()
             .where(submissions.c.outcome == "accepted", submissions.c.as_of <= as_of).order_by(submissions.c.county))
        with self.engine.connect() as conn:
            return [county for (county,) in conn.execute(q)]

    def accepted_through(self, as_of: dt.date) -> list[int]:
        """Ids of the accepted submissions — registers and meeting commitment tables — dated on or before
        `as_of`: everything register_as_of(as_of) and the current deadlines read (stored rows are never
        changed), so a cheap fingerprint of the consolidated register."""
        q = (sa.select(submissions.c.id)
             .where(submissions.c.outcome.in_(("accepted", COMMITMENTS_OUTCOME)), submissions.c.as_of <= as_of)
             .order_by(submissions.c.id))
        with self.engine.connect() as conn:
            return list(conn.execute(q).scalars())

    def hazard_history(self, county: str, hazard_id: str) -> pd.DataFrame:
        """Every stored version of one hazard, oldest first."""
        import pandas as pd

        q = (sa.select(hazard_rows).where(hazard_rows.c.county == county, hazard_rows.c.hazard_id == hazard_id)
             .order_by(hazard_rows.c.as_of, hazard_rows.c.submission_id))
        with self.engine.connect() as conn:
            return pd.read_sql(q, conn)

    # ---- photos ----------------------------------------------------------------------------
    def photo_index(self, as_of: dt.date | None = None,
                    counties: Iterable[str] | None = None) -> dict[tuple[str, str], list[str]]:
        """(county, hazard_id) -> sha256 of each of its photos, oldest first, from every accepted submission
        up to `as_of` (all when None). A photo stays once shown: a later register without it keeps it."""
        q = (sa.select(hazard_photos.c.county, hazard_photos.c.hazard_id, hazard_photos.c.sha256)
             .join(submissions, submissions.c.id == hazard_photos.c.submission_id)
             .where(submissions.c.outcome == "accepted")
             .order_by(submissions.c.as_of, submissions.c.id, hazard_photos.c.position))
        if as_of is not None:
            q = q.where(submissions.c.as_of <= as_of)
        if counties is not None:
            q = q.where(hazard_photos.c.county.in_(list(counties)))
        out: dict[tuple[str, str], list[str]] = {}
        with self.engine.connect() as conn:
            for county, hazard, sha in conn.execute(q):
                shas = out.setdefault((county, hazard), [])
                if sha not in shas:
                    shas.append(sha)
        return out

    def photo_data(self, shas: Iterable[str]) -> dict[str, bytes]:
        """sha256 -> the photo's JPEG rendition."""
        return self._per_photo(photos.c.jpeg, shas, bytes)

    def photo_sizes(self, shas: Iterable[str]) -> dict[str, int]:
        """sha256 -> byte length of the photo's JPEG rendition (without loading it)."""
        return self._per_photo(sa.func.length(photos.c.jpeg), shas, int)

    def _per_photo(self, value: Any, shas: Iterable[str], convert: Any) -> dict[str, Any]:
        """sha256 -> convert(value) for each distinct sha in `shas` that is stored, 500 per query."""
        wanted = list(dict.fromkeys(shas))
        out: dict[str, Any] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(wanted), 500):
                q = sa.select(photos.c.sha256, value).where(photos.c.sha256.in_(wanted[i:i + 500]))
                out.update({sha: convert(v) for sha, v in conn.execute(q)})
        return out

    def hazard_photos(self, county: str, hazard_id: str, as_of: dt.date | None = None) -> list[bytes]:
        """The JPEG renditions of one hazard's photos, oldest first (see photo_index)."""
        shas = self.photo_index(as_of, [county]).get((county, hazard_id), [])
        data = self.photo_data(shas)
        return [data[s] for s in shas if s in data]

    def photos_by_hazard(self, as_of: dt.date | None = None,
                         counties: Iterable[str] | None = None) -> dict[tuple[str, str], list[bytes]]:
        """(county, hazard_id) -> the JPEG renditions of its photos, oldest first, for every photographed
        hazard up to `as_of`, read in one go (a plain dict: it pickles to a workbook-writer process; each
        photo's bytes are one object however many hazards show it). The briefing deck's `photos`."""
        index = self.photo_index(as_of, counties)
        data = self.photo_data(s for shas in index.values() for s in shas)
        return {key: [data[s] for s in shas if s in data] for key, shas in index.items()}

    # ---- customer files and drills workbooks ----------------------------------------------
    def find_record_file(self, kind: str, county: str, sha256: str, outcome: str | None = None,
                         finalized: bool | None = None) -> dict | None:
        """The most recent version of this content of a county's customer file / drills workbook."""
        q = sa.select(record_files).where(record_files.c.kind == kind, record_files.c.county == county,
                                          record_files.c.sha256 == sha256)
        if outcome is not None:
            q = q.where(record_files.c.outcome == outcome)
        if finalized is not None:
            q = q.where(record_files.c.finalized == finalized)
        with self.engine.connect() as conn:
            row = conn.execute(q.order_by(record_files.c.id.desc()).limit(1)).mappings().first()
        return dict(row) if row else None

    def record_file(self, *, kind: str, county: str, file_name: str, sha256: str, as_of: dt.date, outcome: str,
                    findings: Sequence[dict], kept_at: str | None, rows: Sequence[dict] | None = None) -> int:
        """Insert one version of a customer file / drills workbook and (accepted) its rows, in one transaction.
        `rows`: field name -> value, `_row` the 0-based grid row."""
        table = RECORD_ROWS[kind]
        names = [c.name for c in table.columns if c.name not in ("id", "file_id", "county", "source_row")]
        with self._writing, self.engine.begin() as conn:
            file_id = conn.execute(record_files.insert().values(
                kind=kind, county=county, file_name=file_name, sha256=sha256, received_at=_now(), as_of=as_of,
                outcome=outcome, rows=len(rows or ()), findings=json.dumps(list(findings), ensure_ascii=False),
                kept_at=kept_at, finalized=False)).inserted_primary_key[0]
            if rows:
                conn.execute(table.insert(), [
                    {"file_id": file_id, "county": county, "source_row": int(r["_row"]) + 1,
                     **{n: r.get(n) for n in names}} for r in rows])
        return int(file_id)

    def unfinalized_record_files(self) -> list[dict]:
        """Customer file / drills versions recorded by a run that stopped before finalizing them."""
        q = (sa.select(record_files.c.id, record_files.c.county, record_files.c.file_name, record_files.c.sha256)
             .where(record_files.c.finalized == sa.false()).order_by(record_files.c.id))
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def finalize_record_file(self, file_id: int) -> None:
        with self._writing, self.engine.begin() as conn:
            conn.execute(record_files.update().where(record_files.c.id == file_id).values(finalized=True))

    def record_file_versions(self, kind: str | None = None) -> list[dict]:
        """Every version of every customer file / drills workbook, oldest first (without their rows)."""
        q = sa.select(record_files).order_by(record_files.c.id)
        if kind is not None:
            q = q.where(record_files.c.kind == kind)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def records_as_of(self, kind: str, as_of: dt.date, counties: Iterable[str] | None = None) -> dict[str, list[dict]]:
        """County -> the rows of its customer file / drills workbook in force on `as_of`: its latest accepted
        version dated on or before `as_of`; a county whose first accepted version came later is read from
        that first version (a file is the county's current record, not a report of a period)."""
        q = (sa.select(record_files.c.id, record_files.c.county, record_files.c.as_of)
             .where(record_files.c.kind == kind, record_files.c.outcome == "accepted"))
        if counties is not None:
            q = q.where(record_files.c.county.in_(list(counties)))
        table = RECORD_ROWS[kind]
        with self.engine.connect() as conn:
            chosen: dict[str, tuple] = {}
            for file_id, county, day in conn.execute(q):
                key = (day <= as_of, day if day <= as_of else -day.toordinal(), file_id)
                if county not in chosen or key > chosen[county][0]:
                    chosen[county] = (key, file_id)
            out: dict[str, list[dict]] = {}
            for county, (_key, file_id) in chosen.items():
                rows = conn.execute(sa.select(table).where(table.c.file_id == file_id)
                                    .order_by(table.c.source_row)).mappings()
                out[county] = [dict(r) for r in rows]
        return out

    # ---- outputs ---------------------------------------------------------------------------
    def output_hash(self, path: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(outputs.c.content_hash).where(outputs.c.path == path)).scalar()

    def record_output(self, path: str, content_hash: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(outputs.delete().where(outputs.c.path == path))
            conn.execute(outputs.insert().values(path=path, content_hash=content_hash, written_at=_now()))

    # ---- notices ---------------------------------------------------------------------------
    def noticed_hazards(self, county: str | None = None) -> dict[tuple[str, str], str]:
        """(county, hazard_id) -> the number of the notice that carries it."""
        q = (sa.select(notice_hazards.c.county, notice_hazards.c.hazard_id, notices.c.number)
             .join(notices, notices.c.id == notice_hazards.c.notice_id))
        if county is not None:
            q = q.where(notice_hazards.c.county == county)
        with self.engine.connect() as conn:
            return {(c, h): n for c, h, n in conn.execute(q)}

    def issue_notice(self, *, county: str, number_prefix: str, year: int, customer_id: str,
                     customer_name: str | None, issued_on: dt.date, hazard_ids: Sequence[str]) -> dict | None:
        """Record a new notice for the hazards of `hazard_ids` not on any notice yet, numbered next in its county
        and year (`number_prefix`-year-0001…), in one transaction; None when every hazard already has a notice."""
        with self._writing, self.engine.begin() as conn:
            taken = set(conn.execute(sa.select(notice_hazards.c.hazard_id).where(
                notice_hazards.c.county == county, notice_hazards.c.hazard_id.in_(list(hazard_ids)))).scalars())
            ids = [h for h in dict.fromkeys(hazard_ids) if h not in taken]
            if not ids:
                return None
            seq = (conn.execute(sa.select(sa.func.max(notices.c.seq)).where(
                notices.c.county == county, notices.c.year == year)).scalar() or 0) + 1
            number = f"{number_prefix}-{year}-{seq:04d}"
            notice_id = conn.execute(notices.insert().values(
                county=county, year=year, seq=seq, number=number, customer_id=customer_id,
                customer_name=customer_name, issued_on=issued_on, created_at=_now())).inserted_primary_key[0]
            conn.execute(notice_hazards.insert(), [dict(notice_id=notice_id, county=county, hazard_id=h, position=i)
                                                   for i, h in enumerate(ids)])
        return self.notice(number)

    def set_notice_path(self, number: str, path: str) -> None:
        with self._writing, self.engine.begin() as conn:
            conn.execute(notices.update().where(notices.c.number == number).values(path=path))

    def notice(self, number: str) -> dict | None:
        """One notice with its hazard ids (in notice order), or None."""
        found = self.notices_list(number=number)
        return found[0] if found else None

    def notices_list(self, *, county: str | None = None, customer_id: str | None = None,
                     number: str | None = None, hazard_id: str | None = None,
                     issued_until: dt.date | None = None) -> list[dict]:
        """Stored notices (oldest first), each a dict of its columns plus `hazard_ids`."""
        q = sa.select(notices).order_by(notices.c.id)
        if county is not None:
            q = q.where(notices.c.county == county)
        if customer_id is not None:
            q = q.where(notices.c.customer_id == customer_id)
        if number is not None:
            q = q.where(notices.c.number == number)
        if issued_until is not None:
            q = q.where(notices.c.issued_on <= issued_until)
        if hazard_id is not None:
            q = q.where(notices.c.id.in_(sa.select(notice_hazards.c.notice_id).where(
                notice_hazards.c.hazard_id == hazard_id)))
        with self.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(q).mappings()]
            ids = [r["id"] for r in rows]
            hazards: dict[int, list[str]] = {}
            for i in range(0, len(ids), 500):
                for nid, hid in conn.execute(sa.select(notice_hazards.c.notice_id, notice_hazards.c.hazard_id)
                                             .where(notice_hazards.c.notice_id.in_(ids[i:i + 500]))
                                             .order_by(notice_hazards.c.notice_id, notice_hazards.c.position)):
                    hazards.setdefault(nid, []).append(hid)
        for r in rows:
            r["hazard_ids"] = hazards.get(r["id"], [])
        return rows

    def reinspection_versions(self, as_of: dt.date, counties: Iterable[str] | None = None) -> list[dict]:
        """Every stored version (accepted submissions up to `as_of`) that carries a 复查结论: county, hazard_id,
        reinspect_date, reinspect_result, as_of of the version. One re-inspection may be carried by several
        versions; callers count distinct (county, hazard_id, reinspect_date)."""
        q = (sa.select(hazard_rows.c.county, hazard_rows.c.hazard_id, hazard_rows.c.reinspect_date,
                       hazard_rows.c.reinspect_result, hazard_rows.c.reinspector, hazard_rows.c.as_of)
             .join(submissions, submissions.c.id == hazard_rows.c.submission_id)
             .where(submissions.c.outcome == "accepted", submissions.c.as_of <= as_of,
                    hazard_rows.c.reinspect_result.is_not(None))
             .order_by(hazard_rows.c.as_of, hazard_rows.c.submission_id))
        if counties is not None:
            q = q.where(hazard_rows.c.county.in_(list(counties)))
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]


    # ---- supervision -----------------------------------------------------------------------
    def record_rungs(self, reached: Iterable[tuple[str, str, str, dt.date, str | None]]) -> int:
        """Remember (county, hazard_id, rung, day, why) for every pair not recorded before; how many were new."""
        reached = list(reached)
        if not reached:
            return 0
        new = 0
        with self._writing, self.engine.begin() as conn:
            have = {(c, h, r) for c, h, r in conn.execute(
                sa.select(supervision_rungs.c.county, supervision_rungs.c.hazard_id, supervision_rungs.c.rung))}
            rows = []
            for county, hazard_id, rung, day, why in reached:
                if (county, hazard_id, rung) not in have:
                    have.add((county, hazard_id, rung))
                    rows.append(dict(county=county, hazard_id=hazard_id, rung=rung, reached_on=day, why=why))
            if rows:
                conn.execute(supervision_rungs.insert(), rows)
                new = len(rows)
        return new

    def rungs_reached(self, as_of: dt.date | None = None) -> dict[tuple[str, str], dict[str, dt.date]]:
        """(county, hazard_id) -> {rung: the day it was first reached} (on or before `as_of`)."""
        q = sa.select(supervision_rungs.c.county, supervision_rungs.c.hazard_id, supervision_rungs.c.rung,
                      supervision_rungs.c.reached_on)
        if as_of is not None:
            q = q.where(supervision_rungs.c.reached_on <= as_of)
        out: dict[tuple[str, str], dict[str, dt.date]] = {}
        with self.engine.connect() as conn:
            for county, hazard_id, rung, day in conn.execute(q):
                out.setdefault((county, hazard_id), {})[rung] = day
        return out

    def issue_letter(self, *, rung: str, county: str, issued_on: dt.date, hazards: Sequence[tuple[str, str]],
                     number: Callable[[int], str]) -> dict | None:
        """Record a letter of `rung` for `county` naming those of `hazards` ((county, hazard_id)) that are on
        no letter of this rung yet, numbered `number(seq)` (seq: next in the county's year); None when no
        hazard is left. One transaction: a hazard is never on two letters of one rung."""
        with self._writing, self.engine.begin() as conn:
            done = set(conn.execute(sa.select(supervision_letter_hazards.c.county, supervision_letter_hazards.c.hazard_id)
                                    .where(supervision_letter_hazards.c.rung == rung)).all())
            todo = [h for h in dict.fromkeys(hazards) if h not in done]
            if not todo:
                return None
            seq = (conn.execute(sa.select(sa.func.max(supervision_letters.c.seq)).where(
                supervision_letters.c.county == county, supervision_letters.c.year == issued_on.year)).scalar() or 0) + 1
            letter_id = conn.execute(supervision_letters.insert().values(
                number=number(seq), rung=rung, county=county, issued_on=issued_on, year=issued_on.year, seq=seq,
                created_at=_now())).inserted_primary_key[0]
            conn.execute(supervision_letter_hazards.insert(), [
                dict(letter_id=letter_id, rung=rung, county=c, hazard_id=h, position=i)
                for i, (c, h) in enumerate(todo)])
        return self.letter(int(letter_id))

    def set_letter_path(self, letter_id: int, path: str) -> None:
        with self._writing, self.engine.begin() as conn:
            conn.execute(supervision_letters.update().where(supervision_letters.c.id == letter_id).values(path=path))

    def letter(self, letter_id: int) -> dict:
        return self.letters(ids=[letter_id])[0]

    def letters(self, *, since: dt.date | None = None, until: dt.date | None = None,
                ids: Sequence[int] | None = None) -> list[dict]:
        """Letters (number, rung, county, issued_on, path, hazards: [(county, hazard_id)]) in issue order."""
        q = sa.select(supervision_letters).order_by(supervision_letters.c.id)
        if since is not None:
            q = q.where(supervision_letters.c.issued_on >= since)
        if until is not None:
            q = q.where(supervision_letters.c.issued_on <= until)
        if ids is not None:
            q = q.where(supervision_letters.c.id.in_(list(ids)))
        with self.engine.connect() as conn:
            out = [dict(r) for r in conn.execute(q).mappings()]
            if out:
                hq = (sa.select(supervision_letter_hazards.c.letter_id, supervision_letter_hazards.c.county,
                                supervision_letter_hazards.c.hazard_id)
                      .where(supervision_letter_hazards.c.letter_id.in_([x["id"] for x in out]))
                      .order_by(supervision_letter_hazards.c.letter_id, supervision_letter_hazards.c.position))
                by_letter: dict[int, list] = {}
                for letter_id, county, hazard_id in conn.execute(hq):
                    by_letter.setdefault(letter_id, []).append((county, hazard_id))
                for x in out:
                    x["hazards"] = by_letter.get(x["id"], [])
        return out

    def record_commitments(self, *, county: str, file_name: str, sha256: str, as_of: dt.date,
                           findings: Sequence[dict], kept_at: str | None, rows: Sequence[dict]) -> int:
        """An accepted commitment table: its submission (outcome "commitments") and every commitment
        (hazard_id, committed_date, person, quarter, sheet, cell), in one transaction."""
        with self._writing, self.engine.begin() as conn:
            sub_id = conn.execute(submissions.insert().values(
                county=county, file_name=file_name, sha256=sha256, received_at=_now(), as_of=as_of,
                outcome=COMMITMENTS_OUTCOME, rows=len(rows),
                findings=json.dumps(list(findings), ensure_ascii=False), kept_at=kept_at, finalized=False,
            )).inserted_primary_key[0]
            if rows:
                conn.execute(commitments.insert(), [dict(submission_id=sub_id, county=county, as_of=as_of, **r)
                                                    for r in rows])
        return int(sub_id)

    def commitments_through(self, as_of: dt.date, counties: Iterable[str] | None = None) -> list[dict]:
        """Every commitment recorded on or before `as_of`, oldest first."""
        q = (sa.select(commitments).where(commitments.c.as_of <= as_of)
             .order_by(commitments.c.as_of, commitments.c.id))
        if counties is not None:
            q = q.where(commitments.c.county.in_(list(counties)))
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def deadline_events(self, as_of: dt.date, counties: Iterable[str] | None = None, *,
                        before_submission: int | None = None,
                        differing_only: bool = False) -> dict[tuple[str, str], list]:
        """(county, hazard_id) -> its deadline versions (rules.DeadlineEvent) from the accepted registers
        and the commitments dated on or before `as_of` (only those recorded before submission id
        `before_submission`, when given). `differing_only`: only the hazards whose current deadline can differ
        from their current register version's — those a meeting commitment touched, and those with a version that
        left 整改期限 blank beside one that gave it (the last date given stays in force, `rules.deadline_history`)."""
        from hazardnet.rules import COMMITMENT_REASON, DeadlineEvent

        accepted = sa.and_(submissions.c.outcome == "accepted", submissions.c.as_of <= as_of)
        q = (sa.select(hazard_rows.c.county, hazard_rows.c.hazard_id, hazard_rows.c.as_of, hazard_rows.c.deadline,
                       hazard_rows.c.extension_reason, hazard_rows.c.extension_approval, hazard_rows.c.submission_id)
             .join(submissions, submissions.c.id == hazard_rows.c.submission_id).where(accepted))
        cq = (sa.select(commitments.c.county, commitments.c.hazard_id, commitments.c.as_of, commitments.c.committed_date,
                        commitments.c.person, commitments.c.submission_id).where(commitments.c.as_of <= as_of))
        given = sa.func.count(hazard_rows.c.deadline)  # versions that gave a deadline (COUNT skips NULL)
        blanked = (sa.select(hazard_rows.c.county, hazard_rows.c.hazard_id)
                   .join(submissions, submissions.c.id == hazard_rows.c.submission_id).where(accepted)
                   .group_by(hazard_rows.c.county, hazard_rows.c.hazard_id)
                   .having(sa.and_(given > 0, given < sa.func.count())))
        if counties is not None:
            q = q.where(hazard_rows.c.county.in_(list(counties)))
            cq = cq.where(commitments.c.county.in_(list(counties)))
            blanked = blanked.where(hazard_rows.c.county.in_(list(counties)))
        if before_submission is not None:
            q = q.where(hazard_rows.c.submission_id < before_submission)
            cq = cq.where(commitments.c.submission_id < before_submission)
            blanked = blanked.where(hazard_rows.c.submission_id < before_submission)
        out: dict[tuple[str, str], list] = {}
        with self.engine.connect() as conn:
            queries = [q]
            if differing_only:  # those few hazards by key (ix_hazard_rows_key), not a scan of every version
                by_county: dict[str, set[str]] = {}
                for county, hazard_id, *_rest in [*conn.execute(cq), *conn.execute(blanked)]:
                    by_county.setdefault(county, set()).add(hazard_id)
                queries = [q.where(hazard_rows.c.county == county, hazard_rows.c.hazard_id.in_(ids[i:i + 500]))
                           for county, ids in ((c, sorted(i)) for c, i in by_county.items())
                           for i in range(0, len(ids), 500)]
            for query in queries:
                for county, hazard_id, day, deadline, reason, approval, sub in conn.execute(query):
                    out.setdefault((county, hazard_id), []).append(
                        DeadlineEvent(day, deadline, "register", reason, approval, sub))
            for county, hazard_id, day, committed, person, sub in conn.execute(cq):
                why = COMMITMENT_REASON + (f"（责任人：{person}）" if person else "")
                out.setdefault((county, hazard_id), []).append(
                    DeadlineEvent(day, committed, "commitment", why, None, sub, person))
        return out

    def deadline_histories(self, as_of: dt.date, counties: Iterable[str] | None = None, *,
                           differing_only: bool = False) -> dict[tuple[str, str], DeadlineHistory]:
        """(county, hazard_id) -> its deadline history as of `as_of` (`rules.deadline_history` of
        `deadline_events`): its current deadline (`rules.current_deadline`) and how it got there. The one source
        of "the hazard's current deadline" for the ladder, the warnings, the consolidated register, the bulletins,
        the quarterly summaries, the notices and the hazard file. `differing_only`: only the hazards whose current
        deadline can differ from their latest register version's (a meeting commitment touched them, or a register
        left the deadline blank after one gave it: the last date given stays in force); every other hazard's
        current deadline is its register's own."""
        from hazardnet.rules import deadline_history

        events = self.deadline_events(as_of, counties, differing_only=differing_only)
        return {key: deadline_history(e) for key, e in events.items()}

    def max_submission_id(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(submissions.c.id))).scalar() or 0)


def _add_missing_field_columns(engine: Engine) -> None:
    """A store made before a register field existed gets its column (nullable, so old rows read blank)."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table(hazard_rows.name):
            return  # a new store: create_all makes the table with every column
        have = {c["name"] for c in sa.inspect(conn).get_columns(hazard_rows.name)}
    missing = [c for c in hazard_rows.columns if c.name not in have]
    if not missing:
        return
    with engine.begin() as conn:
        have = {c["name"] for c in sa.inspect(conn).get_columns(hazard_rows.name)}
        for c in missing:
            if c.name not in have:
                conn.exec_driver_sql(f"ALTER TABLE {hazard_rows.name} ADD COLUMN {c.name} "
                                     f"{c.type.compile(dialect=engine.dialect)}")


# hazard_rows' INSERT compiled once per dialect (name, driver, paramstyle): (SQL text, the keys in parameter order or
# None for a named paramstyle)
_INSERT_SQL: dict[tuple[str, str, str], tuple[str, list[str] | None]] = {}


def _insert_hazard_rows(conn: sa.Connection, rows: pd.DataFrame | PlainFrame, sub_id: int, as_of: dt.date,
                        county: str) -> None:
    """Insert a register frame's hazard rows with one executemany, built column by column.

    The statement is compiled once and values go through each column type's own bind processor, as
    SQLAlchemy would do row by row; only the per-row Python bookkeeping is skipped."""
    keys = ["submission_id", "as_of", "county", "source_row",
            *[name if name != "county" else "county_text" for name in FIELD_NAMES]]
    n = len(rows)
    columns = [[sub_id] * n, [as_of] * n, [county] * n, [int(r) + 1 for r in rows["_row"].tolist()],
               *_field_columns(rows)]
    dialect = conn.dialect
    for i, key in enumerate(keys):
        process = hazard_rows.c[key].type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            columns[i] = _bound(columns[i], process, _BIND_MEMO.setdefault((dialect.name, key), {}))
    cache_key = (dialect.name, dialect.driver, dialect.paramstyle)
    compiled = _INSERT_SQL.get(cache_key)
    if compiled is None:
        stmt = hazard_rows.insert().compile(dialect=dialect, column_keys=keys)
        compiled = _INSERT_SQL[cache_key] = (str(stmt), list(stmt.positiontup) if stmt.positional else None)
    sql, order = compiled
    if order is not None:
        params: list = list(zip(*[columns[keys.index(k)] for k in order]))
    else:
        params = [dict(zip(keys, row)) for row in zip(*columns)]
    conn.exec_driver_sql(sql, params)


def _insert_photos(conn: sa.Connection, pairs: Sequence[tuple[str, Any]], sub_id: int, county: str) -> None:
    """Store each distinct picture once (a concurrent submission may store the same one: no conflict),
    then link every (hazard, picture) to the submission."""
    distinct = {pic.sha256: pic for _hazard, pic in pairs}
    have = set()
    keys = list(distinct)
    for i in range(0, len(keys), 500):
        have.update(conn.execute(sa.select(photos.c.sha256).where(photos.c.sha256.in_(keys[i:i + 500]))).scalars())
    new = [dict(sha256=p.sha256, jpeg=p.jpeg, width=p.width, height=p.height, source_format=p.source_format[:8],
                source_bytes=p.source_bytes) for sha, p in distinct.items() if sha not in have]
    if new:
        name = conn.dialect.name
        if name in ("sqlite", "postgresql"):
            from importlib import import_module

            insert = import_module(f"sqlalchemy.dialects.{name}").insert
            conn.execute(insert(photos).on_conflict_do_nothing(index_elements=["sha256"]), new)
        else:  # pragma: no cover - other databases: plain insert (the check above ran in this transaction)
            conn.execute(photos.insert(), new)
    conn.execute(hazard_photos.insert(), [
        dict(submission_id=sub_id, county=county, hazard_id=str(hazard), sha256=pic.sha256, position=k,
             sheet=pic.sheet, cell=pic.cell) for k, (hazard, pic) in enumerate(pairs)])


# (dialect name, hazard_rows column) -> {value class: {value: bound value}}: the dates of one register recur in
# the next ones; `_bound` remembers them across submissions (cleared when it grows past _BIND_MEMO_MAX values)
_BIND_MEMO: dict[tuple[str, str], dict[type, dict[Any, Any]]] = {}
_BIND_MEMO_MAX = 100_000


def _bound(values: list[Any], process, remembered: dict[type, dict[Any, Any]] | None = None) -> list[Any]:
    """`process` (a bind processor) applied to every non-null value, once per distinct value: a register's
    dates repeat, and converting each one again was most of the cost of storing it. `remembered`: values
    bound before by the same processor (one dict per value class), used and extended."""
    classes = set(map(type, values))
    classes.discard(type(None))
    if len(classes) == 1:  # one class (dates, floats): values equal as keys are equal as values
        cls = classes.pop()
        memo = remembered.setdefault(cls, {}) if remembered is not None else {}
        if len(memo) > _BIND_MEMO_MAX:  # a new dict, not clear(): another thread may be reading this one
            memo = remembered[cls] = {}
        try:
            for v in set(values).difference(memo):
                if v is not None:
                    memo[v] = process(v)
        except TypeError:  # unhashable: the general way below
            pass
        else:
            memo[None] = None
            return list(map(memo.__getitem__, values))
    memo: dict[tuple[type, Any], Any] = {}
    out = []
    for v in values:
        if v is None:
            out.append(None)
            continue
        try:
            key = (v.__class__, v)  # the type too: 1 == 1.0 == True, but they may bind differently
            bound = memo.get(key, memo)
            if bound is memo:
                bound = memo[key] = process(v)
        except TypeError:  # unhashable: nothing to remember
            bound = process(v)
        out.append(bound)
    return out
