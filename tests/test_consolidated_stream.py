"""The consolidated register is written from plain store rows (`sheet_rows`), not through pandas; it must be
exactly the workbook an independent pandas oracle writes: the store's frame (`Store.register_as_of`) sorted
as `current_register` sorts it, the derived columns computed column-wise here (not by hazardnet.rules), the
rows made by `register_rows` below."""

from __future__ import annotations

import datetime as dt
import random
import zipfile

import pandas as pd

from hazardnet.rules import STAGE_FIELDS, days_in_stage, stage
import pytest

from hazardnet.publish.consolidated import (REGISTER_FIELDS, current_register, photo_counts, sheet_rows,
                                           write_sheet_workbook)
from hazardnet.intake.photos import Picture
from hazardnet.store import Store
from schemas.headers import FIELDS
from schemas.vocab import STATUS_DONE

AS_OF = dt.date(2026, 11, 15)
TEXTS = ["普通", "a & b < c", "  前后空格 ", "第一行\n第二行", "<r><t>像富文本</t></r>", "控制\x07字符", "", None]


def _frame(rng: random.Random, county: str, ids: list[str]) -> pd.DataFrame:
    rows = []
    for n, hid in enumerate(ids):
        status = rng.choice(["未整改", "整改中", STATUS_DONE])
        found = AS_OF - dt.timedelta(days=rng.randint(0, 400))
        row = {f.name: rng.choice(TEXTS) for f in FIELDS}
        row.update(county=county, hazard_id=hid, status=status, found_date=rng.choice([found, found, None]),
                   customer_id=rng.choice(["0901", "0902", "A-17", None]),
                   deadline=rng.choice([None, found + dt.timedelta(days=rng.randint(-10, 500))]),
                   completed_date=rng.choice([None, found + dt.timedelta(days=rng.randint(0, 90))])
                   if status == STATUS_DONE else None,
                   notice_date=rng.choice([None, found]), funds=rng.choice([None, 0.0, 2.5, 12.0]), _row=n + 3,
                   reinspect_date=rng.choice([None, found + dt.timedelta(days=rng.randint(0, 120))]),
                   reinspect_result=rng.choice([None, "合格", "不合格"]),
                   supervised_date=rng.choice([None, found]), supervision_deadline=None)
        rows.append(row)
    return pd.DataFrame(rows)


# ---- the oracle: the register frame's derived columns and sheet rows, column-wise with pandas ----------
def oracle_derived(df: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """overdue, days_overdue, days_open and absent, computed column-wise (the rules of docs/domain.md): open is
    not 已整改, or 已整改 reopened by a 不合格 re-inspection dated on or before `as_of`."""
    df = df.copy()
    failed = pd.to_datetime(df["reinspect_date"]).le(pd.Timestamp(as_of)) & df["reinspect_result"].map(
        lambda v: isinstance(v, str) and v.strip() == "不合格")
    open_ = (df["status"] != STATUS_DONE) | failed  # a failed re-inspection reopens a 已整改 hazard
    deadline = pd.to_datetime(df["deadline"])
    ts = pd.Timestamp(as_of)
    df["overdue"] = open_ & deadline.notna() & (deadline < ts)
    df["days_overdue"] = ((ts - deadline).dt.days).where(df["overdue"]).astype("Int64")
    end = pd.to_datetime(df["completed_date"]).where(~open_, ts)
    df["days_open"] = (end - pd.to_datetime(df["found_date"])).dt.days.clip(lower=0).astype("Int64")
    df["absent"] = ~df["in_latest"].astype(bool)
    return df


def oracle_carried(store: Store, df: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """A blank 整改期限 keeps the last date given (docs/domain.md): each hazard whose current version is blank takes
    the latest date of its earlier versions up to `as_of`, its 备注 naming the register that first gave that date."""
    given: dict[tuple[str, str], tuple[dt.date, dt.date]] = {}  # key -> (deadline, day of the register that gave it)
    for county, hid, day, deadline in sorted(
            (r["county"], r["hazard_id"], r["version_as_of"], r["deadline"])
            for key in set(zip(df["county"], df["hazard_id"]))
            for r in store.hazard_history(*key).rename(columns={"as_of": "version_as_of"}).to_dict("records")
            if r["version_as_of"] <= as_of):
        deadline = None if pd.isna(deadline) else pd.Timestamp(deadline).date()
        if deadline is not None and given.get((county, hid), (None,))[0] != deadline:
            given[(county, hid)] = (deadline, day)
    df = df.copy()
    for i, (key, deadline, remarks) in enumerate(zip(zip(df["county"], df["hazard_id"]), df["deadline"],
                                                      df["remarks"])):
        if deadline is None and key in given:
            date, day = given[key]
            df.at[df.index[i], "deadline"] = date
            note = f"本期台账未填写整改期限，沿用{day:%Y-%m-%d}台账的整改期限"
            df.at[df.index[i], "remarks"] = f"{remarks}；{note}" if isinstance(remarks, str) and remarks else note
    return df


def oracle_register(store: Store, settings, as_of: dt.date) -> pd.DataFrame:
    """The register frame as of `as_of` with the oracle's derived columns, in current_register's order."""
    df = store.register_as_of(as_of)
    if not len(df):
        return df.assign(overdue=[], days_overdue=[], days_open=[], absent=[], stage=[], days_in_stage=[], photos=[])
    df = oracle_derived(oracle_carried(store, df, as_of), as_of)
    facts = df[list(STAGE_FIELDS)].astype(object).where(df[list(STAGE_FIELDS)].notna(), None).to_dict("records")
    df["stage"] = [stage(h) for h in facts]  # the stage rules have their own tests (test_notices.py)
    df["days_in_stage"] = pd.array([days_in_stage(h, as_of) for h in facts], dtype="Int64")
    counts = photo_counts(store, as_of)
    df["photos"] = [counts.get(k) for k in zip(df["county"], df["hazard_id"])]
    order = {c: i for i, c in enumerate(settings.counties)}
    return (df.assign(_c=df["county"].map(order).fillna(len(order)))
            .sort_values(["_c", "customer_id", "hazard_id"], kind="stable").drop(columns="_c").reset_index(drop=True))


def _plain(col: pd.Series, convert=None) -> list:
    """A column as plain Python values, every null (NaN, NaT, NA) as None; `convert` applied to the rest."""
    return [None if null else (convert(v) if convert else v) for v, null in zip(col.tolist(), col.isna().tolist())]


def register_rows(df: pd.DataFrame) -> list[list]:
    """Rows of the consolidated sheet, in CONSOLIDATED_HEADERS order, as plain Python values."""
    columns = [_plain(df[n]) for n in ["county", *[f.name for f in REGISTER_FIELDS]]]
    columns.append(df["stage"].tolist())
    columns.append(_plain(df["days_in_stage"], int))
    columns.append(["是" if v else "否" for v in df["overdue"].tolist()])
    columns.append(_plain(df["days_overdue"], int))
    columns.append(_plain(df["days_open"], int))
    columns.append(["是" if v else "否" for v in df["absent"].tolist()])
    columns.append(_plain(df["photos"], int))
    return [list(r) for r in zip(*columns)]


def write_register_workbook(path, df: pd.DataFrame, *, title: str):
    """The oracle frame written as the consolidated register's workbook."""
    return write_sheet_workbook(path, register_rows(df), [bool(x) for x in df["overdue"]], title=title)


def _picture(seed: int) -> Picture:
    data = f"jpeg {seed}".encode()
    return Picture("隐患台账", 2, 15, "floating", f"{seed:064d}", data, 800, 600, "JPEG", len(data))


def _store(tmp_path, seed: int) -> Store:
    rng = random.Random(seed)
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    plan = [("格尔木市", AS_OF - dt.timedelta(days=60), [f"G{i:03d}" for i in range(40)]),
            ("格尔木市", AS_OF - dt.timedelta(days=5), [f"G{i:03d}" for i in range(10, 50)]),  # G000-G009 absent now
            ("德令哈市", AS_OF - dt.timedelta(days=20), [f"D{i:03d}" for i in range(30)]),
            ("未配置县", AS_OF - dt.timedelta(days=3), [f"X{i:03d}" for i in range(15)]),
            ("乌兰县", AS_OF + dt.timedelta(days=3), [f"W{i:03d}" for i in range(5)])]  # after as-of: not shown
    photos = {0: [("G000", _picture(1)), ("G010", _picture(2))], 1: [("G010", _picture(3))],
              4: [("W000", _picture(4))]}  # W000's register is after as-of: not counted
    for n, (county, day, ids) in enumerate(plan):
        sub = store.record_submission(county=county, file_name=f"{n}.xlsx", sha256=f"{n:064d}", as_of=day,
                                      outcome="accepted", findings=[], kept_at="x", rows=_frame(rng, county, ids),
                                      photos=photos.get(n, ()))
        store.finalize(sub)
    return store


def _sheet_parts(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist() if not name.startswith("docProps/")}


@pytest.mark.parametrize("seed", [1, 2])
def test_sheet_rows_write_the_same_workbook_as_the_pandas_path(tmp_path, settings, seed):
    store = _store(tmp_path, seed)
    try:
        rows, overdue = sheet_rows(store, settings, AS_OF)
        df = oracle_register(store, settings, AS_OF)
        assert len(rows) == len(df) == 40 + 10 + 30 + 15  # latest version of each hazard, none after as-of
        assert overdue == [bool(x) for x in df["overdue"]]
        # the frame path (hazardnet.rules.with_derived over the frame) gives the same rows
        assert register_rows(current_register(store, settings, AS_OF)) == register_rows(df)
        assert any(overdue) and not all(overdue)
        write_sheet_workbook(tmp_path / "stream.xlsx", rows, overdue, title="标题")
        write_register_workbook(tmp_path / "pandas.xlsx", df, title="标题")
        assert _sheet_parts(tmp_path / "stream.xlsx") == _sheet_parts(tmp_path / "pandas.xlsx")
        # absent hazards are marked, and the unconfigured county comes after the configured ones
        absent = [r for r in rows if r[-2] == "是"]
        assert sorted(r[5] for r in absent) == [f"G{i:03d}" for i in range(10)]
        assert rows[-1][0] == "未配置县"
        assert {r[5]: r[-1] for r in rows if r[-1] is not None} == {"G000": 1, "G010": 2}  # the 照片 column
    finally:
        store.dispose()


def test_empty_store_writes_the_same_header_only_workbook(tmp_path, settings):
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        rows, overdue = sheet_rows(store, settings, AS_OF)
        assert rows == [] and overdue == []
        write_sheet_workbook(tmp_path / "stream.xlsx", rows, overdue, title="标题")
        write_register_workbook(tmp_path / "pandas.xlsx", oracle_register(store, settings, AS_OF), title="标题")
        assert _sheet_parts(tmp_path / "stream.xlsx") == _sheet_parts(tmp_path / "pandas.xlsx")
    finally:
        store.dispose()
