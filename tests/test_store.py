"""The register store on SQLite and on a real PostgreSQL server: submissions across dates, the register
as it stood on any date, every version of a hazard, output hashes, one transaction per submission."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest
import sqlalchemy as sa

from hazardnet.store import Store, hazard_rows, submissions
from schemas.headers import FIELDS
from tests.postgres import drop_database, fresh_pg_database, pg_url  # noqa: F401 - pg_url is a fixture

D1, D2, D3 = dt.date(2026, 9, 15), dt.date(2026, 10, 15), dt.date(2026, 11, 15)
FIELD_NAMES = [f.name for f in FIELDS]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request, tmp_path):
    """An empty store on SQLite (a file) or on PostgreSQL (a fresh database per test)."""
    if request.param == "sqlite":
        s = Store(f"sqlite:///{tmp_path / 'store.db'}")
        yield s
        s.dispose()
    else:
        url = fresh_pg_database(request.getfixturevalue("pg_url"))
        s = Store(url)
        try:
            yield s
        finally:
            s.dispose()
            drop_database(url)


def hazard(hazard_id: str, *, status: str = "未整改", found: dt.date = dt.date(2026, 3, 5), **extra) -> dict:
    """One normalized register row, as read_register produces it."""
    row = {name: None for name in FIELD_NAMES}
    row.update(customer_id="0630100001", customer_name="察尔汗盐湖钾肥化工有限公司", customer_grade="一级",
               industry="危险化学品", hazard_id=hazard_id, found_date=found, description=f"隐患 {hazard_id}",
               category="电气设备", severity="一般", status=status)
    row.update(extra)
    return row


def frame(*rows: dict) -> pd.DataFrame:
    """A register frame (object columns, `_row` = 0-based grid row) like read_register's."""
    df = pd.DataFrame([{"_row": 2 + i, **r} for i, r in enumerate(rows)], columns=["_row", *FIELD_NAMES])
    return df.astype(object).where(df.notna(), None)


def accept(store: Store, county: str, as_of: dt.date, *rows: dict, sha: str | None = None) -> int:
    sub = store.record_submission(county=county, file_name=f"{county}{as_of:%m}.xlsx", sha256=sha or f"{county}{as_of}",
                                  as_of=as_of, outcome="accepted", findings=[], kept_at=None, rows=frame(*rows))
    store.finalize(sub)
    return sub


def counts(store: Store) -> tuple[int, int]:
    with store.engine.connect() as conn:
        return (conn.execute(sa.select(sa.func.count()).select_from(submissions)).scalar(),
                conn.execute(sa.select(sa.func.count()).select_from(hazard_rows)).scalar())


def by_id(df: pd.DataFrame) -> dict[tuple[str, str], dict]:
    return {(r["county"], r["hazard_id"]): r for r in df.to_dict("records")}


@pytest.fixture
def history(store: Store) -> Store:
    """格尔木市 submits on D1 and D2 (GEM-002 fixed on D2, GEM-001 gone from D2's register, GEM-003 new);
    德令哈市 submits on D2 only; a rejected and a duplicate submission change nothing."""
    accept(store, "格尔木市", D1, hazard("GEM-001"), hazard("GEM-002", deadline=dt.date(2026, 6, 30), funds=12.5))
    accept(store, "格尔木市", D2,
           hazard("GEM-002", status="已整改", completed_date=dt.date(2026, 10, 1), deadline=dt.date(2026, 6, 30)),
           hazard("GEM-003", found=dt.date(2026, 10, 8)))
    accept(store, "德令哈市", D2, hazard("DLH-001", customer_id="0020000001", funds=0.0))
    store.record_submission(county="德令哈市", file_name="bad.xlsx", sha256="bad", as_of=D3, outcome="rejected",
                            findings=[{"message": "必填项为空"}], kept_at="/x/rejected/bad.xlsx")
    store.record_submission(county="格尔木市", file_name="again.xlsx", sha256="格尔木市2026-10-15", as_of=D3,
                            outcome="duplicate", findings=[], kept_at="/x/archive/again.xlsx")
    return store


def test_register_before_any_submission_is_empty_with_its_columns(store):
    df = store.register_as_of(D1)
    assert df.empty
    assert {"county", "hazard_id", "found_date", "submission_id", "version_as_of", "in_latest"} <= set(df.columns)


def test_register_as_of_each_date_shows_the_version_current_then(history):
    assert history.register_as_of(D1 - dt.timedelta(days=1)).empty

    on_d1 = by_id(history.register_as_of(D1))
    assert set(on_d1) == {("格尔木市", "GEM-001"), ("格尔木市", "GEM-002")}
    assert on_d1[("格尔木市", "GEM-002")]["status"] == "未整改"
    assert all(r["in_latest"] for r in on_d1.values())
    assert {r["version_as_of"] for r in on_d1.values()} == {D1}

    between = by_id(history.register_as_of(D1 + dt.timedelta(days=10)))
    assert between.keys() == on_d1.keys() and between[("格尔木市", "GEM-002")]["status"] == "未整改"

    for day in (D2, D3):  # the rejected and duplicate submissions of D3 change nothing
        now = by_id(history.register_as_of(day))
        assert set(now) == {("格尔木市", "GEM-001"), ("格尔木市", "GEM-002"), ("格尔木市", "GEM-003"),
                            ("德令哈市", "DLH-001")}
        fixed = now[("格尔木市", "GEM-002")]
        assert fixed["status"] == "已整改" and fixed["completed_date"] == dt.date(2026, 10, 1)
        assert fixed["version_as_of"] == D2 and fixed["in_latest"]
        gone = now[("格尔木市", "GEM-001")]  # no longer in 格尔木市's latest register: kept, flagged
        assert gone["version_as_of"] == D1 and not gone["in_latest"]
        assert now[("德令哈市", "DLH-001")]["in_latest"]
        assert now[("格尔木市", "GEM-003")]["found_date"] == dt.date(2026, 10, 8)


def test_register_as_of_a_subset_of_counties(history):
    df = history.register_as_of(D3, counties=["德令哈市"])
    assert list(df["hazard_id"]) == ["DLH-001"]


def test_current_rows_are_register_as_of_without_pandas(history):
    """The consolidated register's pandas-free read gives the same versions, values and latest flags."""
    columns = ["county", *[n for n in FIELD_NAMES if n != "county"]]
    for day in (D1, D2, D3):
        expected = {(r["county"], r["hazard_id"]): (*[None if pd.isna(r[c]) else r[c] for c in columns],
                                                      bool(r["in_latest"]))
                    for r in history.register_as_of(day).to_dict("records")}
        got = {(r[0], r[columns.index("hazard_id")]): r for r in history.current_rows(day, columns)}
        assert got == expected
    assert not [r for r in history.current_rows(D3, columns) if r[columns.index("hazard_id")] == "GEM-001"][0][-1]
    assert history.current_rows(D1 - dt.timedelta(days=1), columns) == []


def test_values_round_trip_with_their_types(store):
    row = hazard("GEM-009", customer_id="0630100001", funds=3.25, deadline=dt.date(2026, 12, 31),
                 notice_date=dt.date(2026, 3, 6), gov_supervised="是", remarks="已报县能源主管部门；\n第二行 ‘引号’ & <尖括号>")
    nan_funds = hazard("GEM-010", funds=float("nan"))
    sub = accept(store, "格尔木市", D3, row, nan_funds)
    df = by_id(store.register_as_of(D3))
    got = df[("格尔木市", "GEM-009")]
    for name in ("customer_id", "customer_name", "funds", "deadline", "notice_date", "found_date", "gov_supervised",
                 "remarks", "status"):
        assert got[name] == row[name], name
    assert isinstance(got["found_date"], dt.date) and got["customer_id"].startswith("0")
    assert got["submission_id"] == sub
    assert df[("格尔木市", "GEM-010")]["funds"] is None or math.isnan(df[("格尔木市", "GEM-010")]["funds"])
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(hazard_rows.c.hazard_id, hazard_rows.c.source_row, hazard_rows.c.funds,
                                      hazard_rows.c.completed_date).order_by(hazard_rows.c.hazard_id)).all()
    assert [tuple(r) for r in rows] == [("GEM-009", 3, 3.25, None), ("GEM-010", 4, None, None)]


def test_hazard_history_lists_every_version_oldest_first(history):
    versions = history.hazard_history("格尔木市", "GEM-002")
    assert list(versions["status"]) == ["未整改", "已整改"]
    assert [pd.Timestamp(d).date() for d in versions["as_of"]] == [D1, D2]
    assert history.hazard_history("格尔木市", "GEM-404").empty
    assert list(history.hazard_history("德令哈市", "DLH-001")["status"]) == ["未整改"]


def test_submissions_are_found_by_county_content_and_outcome(history):
    hit = history.find_submission("格尔木市", "格尔木市2026-10-15", outcome="accepted")
    assert hit is not None and hit["rows"] == 2 and hit["as_of"] == D2 and hit["finalized"]
    dup = history.find_submission("格尔木市", "格尔木市2026-10-15")
    assert dup["outcome"] == "duplicate" and not dup["finalized"]  # the most recent one
    assert history.find_submission("德令哈市", "格尔木市2026-10-15") is None
    frame_ = history.submissions_frame()
    assert list(frame_["outcome"]) == ["accepted", "accepted", "accepted", "rejected", "duplicate"]
    assert list(frame_["rows"]) == [2, 2, 1, 0, 0]


def test_output_hash_is_recorded_and_replaced(store):
    assert store.output_hash("/outbox/汇总.xlsx") is None
    store.record_output("/outbox/汇总.xlsx", "a" * 64)
    assert store.output_hash("/outbox/汇总.xlsx") == "a" * 64
    store.record_output("/outbox/汇总.xlsx", "b" * 64)
    assert store.output_hash("/outbox/汇总.xlsx") == "b" * 64
    assert store.output_hash("/outbox/other.xlsx") is None


@pytest.mark.parametrize("breakage", ["bad_value", "bad_row_number"])
def test_a_failing_submission_leaves_nothing_behind(history, breakage):
    before = counts(history)
    register = history.register_as_of(D3)
    rows = [hazard(f"GEM-1{i:02d}") for i in range(50)]
    bad = frame(*rows)
    if breakage == "bad_value":  # the database (or its driver) refuses the 40th row's date
        bad.at[40, "found_date"] = "不是日期"
    else:  # the engine fails half-way through building the rows
        bad.at[40, "_row"] = "第四十行"
    with pytest.raises(Exception):
        history.record_submission(county="格尔木市", file_name="broken.xlsx", sha256="broken", as_of=D3,
                                  outcome="accepted", findings=[], kept_at=None, rows=bad)
    assert counts(history) == before
    assert history.find_submission("格尔木市", "broken") is None
    pd.testing.assert_frame_equal(history.register_as_of(D3), register)
    accept(history, "格尔木市", D3, *rows[:3])  # and the store still works
    assert counts(history) == (before[0] + 1, before[1] + 3)


def test_a_large_submission_is_stored_whole(store):
    rows = [hazard(f"GEM-{i:05d}", funds=float(i), found=dt.date(2025, 1, 1) + dt.timedelta(days=i % 300))
            for i in range(5000)]
    accept(store, "格尔木市", D3, *rows)
    df = store.register_as_of(D3)
    assert len(df) == 5000 and df["funds"].sum() == sum(range(5000))
    assert counts(store) == (1, 5000)


# ---- photos ---------------------------------------------------------------------------------------
def picture(seed: int, cell: str = "P2"):
    """A picture as intake.photos reads it (its rendition here is just a distinct JPEG)."""
    import hashlib

    from hazardnet.intake.photos import Picture

    from .photo_registers import photo

    data = photo(seed, (64, 48))
    row, col = int(cell[1:]) - 1, ord(cell[0]) - 65
    return Picture("隐患台账", row, col, "floating", hashlib.sha256(data).hexdigest(), data, 64, 48, "JPEG", len(data))


def test_photos_are_stored_once_by_hash_and_kept_across_later_registers(store):
    a, b, c = picture(1), picture(2, "P3"), picture(3)
    s1 = store.record_submission(county="格尔木市", file_name="m1.xlsx", sha256="m1", as_of=D1, outcome="accepted",
                                 findings=[], kept_at=None, rows=frame(hazard("GEM-001"), hazard("GEM-002")),
                                 photos=[("GEM-001", a), ("GEM-002", b)])
    # the next month: GEM-001 without its photo (kept), GEM-002 with the same photo again and a new one
    store.record_submission(county="格尔木市", file_name="m2.xlsx", sha256="m2", as_of=D2, outcome="accepted",
                            findings=[], kept_at=None, rows=frame(hazard("GEM-001"), hazard("GEM-002")),
                            photos=[("GEM-002", b), ("GEM-002", c)])
    # another county showing the very same picture: still one stored copy
    store.record_submission(county="德令哈市", file_name="d.xlsx", sha256="d", as_of=D2, outcome="accepted",
                            findings=[], kept_at=None, rows=frame(hazard("DLH-001")), photos=[("DLH-001", a)])
    with store.engine.connect() as conn:
        from hazardnet.store import hazard_photos, photos

        assert conn.execute(sa.select(sa.func.count()).select_from(photos)).scalar() == 3
        links = conn.execute(sa.select(hazard_photos.c.submission_id, hazard_photos.c.hazard_id,
                                       hazard_photos.c.cell).order_by(hazard_photos.c.id)).all()
    assert links[:2] == [(s1, "GEM-001", "P2"), (s1, "GEM-002", "P3")] and len(links) == 5
    assert store.hazard_photos("格尔木市", "GEM-001") == [a.jpeg]
    assert store.hazard_photos("格尔木市", "GEM-002") == [b.jpeg, c.jpeg]
    assert store.hazard_photos("格尔木市", "GEM-002", as_of=D1) == [b.jpeg]  # as the store stood then
    assert store.hazard_photos("德令哈市", "DLH-001") == [a.jpeg]
    assert store.hazard_photos("格尔木市", "GEM-404") == []
    assert store.photo_index(D2, ["格尔木市"]) == {("格尔木市", "GEM-001"): [a.sha256],
                                                  ("格尔木市", "GEM-002"): [b.sha256, c.sha256]}
    assert store.photos_by_hazard(D2) == {("格尔木市", "GEM-001"): [a.jpeg], ("格尔木市", "GEM-002"): [b.jpeg, c.jpeg],
                                          ("德令哈市", "DLH-001"): [a.jpeg]}
    assert store.photos_by_hazard(D1, ["德令哈市"]) == {}


def test_photos_of_a_rejected_or_failed_submission_are_not_kept(store):
    a = picture(4)
    store.record_submission(county="格尔木市", file_name="r.xlsx", sha256="r", as_of=D1, outcome="rejected",
                            findings=[], kept_at=None)
    bad = frame(hazard("GEM-001"))
    bad.at[0, "_row"] = "不是行号"
    with pytest.raises(Exception):
        store.record_submission(county="格尔木市", file_name="b.xlsx", sha256="b", as_of=D1, outcome="accepted",
                                findings=[], kept_at=None, rows=bad, photos=[("GEM-001", a)])
    assert store.hazard_photos("格尔木市", "GEM-001") == []
    assert store.photo_data([a.sha256]) == {}


# ---- the fast insert's helpers: the same values as the column-by-column way -------------------------------------
def test_field_columns_are_each_columns_plain_values_with_every_null_as_none():
    from schemas.table import column_values as _column_values
    from schemas.table import field_columns as _field_columns

    frame = pd.DataFrame({
        "_row": [1, 2, 3, 4],
        "hazard_id": ["A", None, float("nan"), pd.NA],
        "found_date": [dt.date(2026, 1, 2), pd.NaT, None, dt.date(2026, 1, 3)],
        "funds": [1.5, float("nan"), 2, None],
        "remarks": ["x", "", " y ", None],
    }, dtype=object)
    want = [_column_values(frame, name) for name in FIELD_NAMES]
    assert _field_columns(frame) == want
    assert [type(v) for v in _field_columns(frame)[FIELD_NAMES.index("found_date")]] == \
        [dt.date, type(None), type(None), dt.date]
    assert _field_columns(frame)[FIELD_NAMES.index("county")] == [None] * 4  # absent: all None
    typed = frame.assign(funds=pd.array([1.5, None, 2.0, None], dtype="Float64"))  # not object: column by column
    assert _field_columns(typed)[FIELD_NAMES.index("funds")] == [1.5, None, 2.0, None]


def test_bound_values_keep_their_class_and_are_remembered_per_class():
    from hazardnet.store import _bound

    calls = []

    def process(v):
        calls.append(v)
        return f"{type(v).__name__}:{v}"

    assert _bound([1, 1.0, True, None, 1], process) == ["int:1", "float:1.0", "bool:True", None, "int:1"]
    remembered: dict = {}
    days = [dt.date(2026, 1, 1), None, dt.date(2026, 1, 2), dt.date(2026, 1, 1)]
    assert _bound(days, process, remembered) == ["date:2026-01-01", None, "date:2026-01-02", "date:2026-01-01"]
    calls.clear()
    assert _bound(days[:3], process, remembered) == ["date:2026-01-01", None, "date:2026-01-02"]
    assert calls == []  # bound already, by the same processor
    assert _bound([[1], None], process) == ["list:[1]", None]  # unhashable: bound one by one


def test_a_plain_frame_stores_exactly_what_its_frame_stores(store):
    """What a parser process sends back (schemas.table.PlainFrame, no pandas) is stored as the frame it came
    from would be: every column, every null, every type, on SQLite and PostgreSQL."""
    from schemas.table import PlainFrame

    rows = [hazard("GEM-011", customer_id="0630100001", funds=3.25, deadline=dt.date(2026, 12, 31),
                   remarks="第二行\n‘引号’ & <尖括号>"),
            hazard("GEM-012", funds=float("nan"), notice_date=None, gov_supervised="是"),
            hazard("GEM-013", funds=7, status="已整改", completed_date=dt.date(2026, 4, 1))]
    df = frame(*rows)
    plain = PlainFrame.of(df)
    assert len(plain) == 3 and plain["hazard_id"].tolist() == ["GEM-011", "GEM-012", "GEM-013"]
    a = store.record_submission(county="格尔木市", file_name="a.xlsx", sha256="a" * 64, as_of=D3, outcome="accepted",
                                findings=[], kept_at=None, rows=df)
    b = store.record_submission(county="德令哈市", file_name="b.xlsx", sha256="b" * 64, as_of=D3, outcome="accepted",
                                findings=[], kept_at=None, rows=plain)
    cols = [c for c in hazard_rows.c if c.name not in ("id", "submission_id", "county")]
    with store.engine.connect() as conn:
        got = {sub: [tuple(r) for r in conn.execute(sa.select(*cols).where(hazard_rows.c.submission_id == sub)
                                                   .order_by(hazard_rows.c.source_row))] for sub in (a, b)}
    assert len(got[a]) == 3 and got[a] == got[b]
