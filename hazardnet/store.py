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
from collections.abc import Iterable, Sequence
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

metadata = sa.MetaData()

submissions = sa.Table(
    "submissions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
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

# The customer files (一户一档) and joint-drills workbooks: every version of each county's file, accepted or
# rejected (record_files), and the rows of the accepted ones (customer_rows, drill_rows). Kept apart from the
# register's submissions, so a customer file never counts as a county's latest register.
record_files = sa.Table(
    "record_files", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),  # customers | drills
    sa.Column("county", sa.String(64), nullable=False, index=True),
    sa.Column("file_name", sa.String(512), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False, index=True),
    sa.Column("received_at", sa.DateTime, nullable=False),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),  # accepted | rejected | duplicate
    sa.Column("rows", sa.Integer, nullable=False, default=0),
    sa.Column("findings", sa.Text, nullable=False, default="[]"),
    sa.Column("kept_at", sa.String(1024), nullable=True),
    sa.Column("finalized", sa.Boolean, nullable=False, default=False),
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
        for attempt in range(5):  # two processes starting on a fresh store race to create the tables
            try:
                metadata.create_all(self.engine)
                break
            except (sa.exc.OperationalError, sa.exc.ProgrammingError, sa.exc.IntegrityError):
                if attempt == 4:
                    raise
                time.sleep(0.05 * (attempt + 1))  # the other one won: the next check finds its tables

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

    def accepted_through(self, as_of: dt.date) -> list[int]:
        """Ids of the accepted submissions dated on or before `as_of`: everything register_as_of(as_of)
        reads (hazard rows are never changed once stored), so a cheap fingerprint of its result."""
        q = (sa.select(submissions.c.id)
             .where(submissions.c.outcome == "accepted", submissions.c.as_of <= as_of).order_by(submissions.c.id))
        with self.engine.connect() as conn:
            return list(conn.execute(q).scalars())

    def hazard_history(self, county: str, hazard_id: str) -> pd.DataFrame:
        """Every stored version of one hazard, oldest first."""
        import pandas as pd

        q = (sa.select(hazard_rows).where(hazard_rows.c.county == county, hazard_rows.c.hazard_id == hazard_id)
             .order_by(hazard_rows.c.as_of, hazard_rows.c.submission_id))
        with self.engine.connect() as conn:
            return pd.read_sql(q, conn)

    def deadline_history(self, as_of: dt.date, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict]:
        """For each (county, hazard_id) of `keys`, its 整改期限 over the versions stored by accepted submissions
        dated on or before `as_of`: ``{"first": first deadline ever given, "current": the latest version's
        deadline, "changes": how often a given deadline was replaced by a different one}`` (a blank deadline
        in between neither counts nor resets). Keys never reported are left out."""
        by_county: dict[str, set[str]] = {}
        for county, hazard_id in keys:
            by_county.setdefault(county, set()).add(str(hazard_id))
        out: dict[tuple[str, str], dict] = {}
        with self.engine.connect() as conn:
            for county, ids in by_county.items():
                ids_list = sorted(ids)
                for i in range(0, len(ids_list), 500):
                    q = (sa.select(hazard_rows.c.hazard_id, hazard_rows.c.deadline)
                         .join(submissions, submissions.c.id == hazard_rows.c.submission_id)
                         .where(submissions.c.outcome == "accepted", submissions.c.as_of <= as_of,
                                hazard_rows.c.county == county, hazard_rows.c.hazard_id.in_(ids_list[i:i + 500]))
                         .order_by(hazard_rows.c.as_of, hazard_rows.c.submission_id))
                    for hazard_id, deadline in conn.execute(q):
                        h = out.setdefault((county, hazard_id), {"first": None, "current": None, "changes": 0,
                                                                 "_last": None})
                        h["current"] = deadline
                        if deadline is None:
                            continue
                        if h["first"] is None:
                            h["first"] = deadline
                        elif deadline != h["_last"]:
                            h["changes"] += 1
                        h["_last"] = deadline
        for h in out.values():
            del h["_last"]
        return out


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


def _isnull(v: Any) -> bool:
    if v is None:
        return True
    import pandas as pd

    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False
