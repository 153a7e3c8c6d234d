"""Photos end to end: registers with pictures dropped in the inbox, ingested for real (parser child process),
then the store, the consolidated register and its photo files, the bulletins and the template checked.

Each picture is followed by identity: the sha256 of the bytes put into the register is what the store keys
it by, so "the hazard shows its own photo" is checked by hash, not by counting.
"""

from __future__ import annotations

import hashlib
import io

import openpyxl
import pytest
from PIL import Image

from hazardnet.intake import transaction
from hazardnet.publish.consolidated import PHOTO_FOLDER, photo_file_name
from hazardnet.jobs.ingest import ingest
from hazardnet.delivery.mail import EmlFileTransport
from hazardnet.publish.bulletin import Period, thumbnail
from hazardnet.store import Store
from hazardnet.publish.template import PHOTO_HEADER, PHOTO_HINT, write_register_template
from schemas.directory_headers import DIRECTORY_HEADERS
from tests.jobs import bulletin_job

from . import photo_registers as pr
from .conftest import DATA, drop

COUNTY = pr.COUNTY


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ingest_one(settings, as_of, path, name=None):
    drop(settings, path, COUNTY, name)
    result = ingest(settings, as_of)
    [f] = result.files
    return f, result


def consolidated(settings) -> dict[str, dict]:
    ws = openpyxl.load_workbook(settings.consolidated_path)["隐患台账"]
    rows = list(ws.iter_rows(values_only=True))
    return {r[rows[0].index("隐患编号")]: dict(zip(rows[0], r)) for r in rows[1:]}


@pytest.mark.parametrize("kind,checked_in", [("floating", "here"), ("wps", "here"), ("excel", "here"),
                                              ("openpyxl", "here"), ("floating", "parser"), ("wps", "parser")])
def test_each_kind_of_picture_reaches_its_own_hazard(settings, as_of, tmp_path, monkeypatch, kind, checked_in):
    if checked_in == "here":  # registers are checked in the parser process (photos come back with the result);
        monkeypatch.setattr(transaction, "PARSER_CHECKS_FROM", 10**9)  # big ones here, photos kept here
    photos = {0: pr.photo(1, (1600, 1200)), 2: pr.photo(2, (900, 1200), "PNG"), 3: pr.photo(3)}
    build = {"floating": pr.floating_register, "wps": pr.wps_register, "excel": pr.excel_register,
             "openpyxl": pr.openpyxl_register}[kind]
    f, _ = ingest_one(settings, as_of, build(tmp_path / f"{kind}.xlsx", 5, photos))
    assert f.outcome == "accepted", f.findings
    assert [x for x in f.findings if x.field == "隐患照片"] == []
    store = Store(settings.database_url)
    try:
        index = store.photo_index(as_of)
        assert index == {(COUNTY, pr.hazard_id(i)): [sha(data)] for i, data in photos.items()}
        for i, data in photos.items():
            [jpeg] = store.hazard_photos(COUNTY, pr.hazard_id(i))
            with Image.open(io.BytesIO(jpeg)) as img, Image.open(io.BytesIO(data)) as orig:
                assert img.format == "JPEG" and max(img.size) <= 1024
                assert abs(img.size[0] / img.size[1] - orig.size[0] / orig.size[1]) < 0.01
            # the photo file in outbox holds exactly the stored rendition
            out = settings.outbox / PHOTO_FOLDER / COUNTY / photo_file_name(pr.hazard_id(i), 1)
            assert out.read_bytes() == jpeg
        assert store.hazard_photos(COUNTY, pr.hazard_id(1)) == []
    finally:
        store.dispose()
    rows = consolidated(settings)
    assert {h: r["照片"] for h, r in rows.items()} == {
        "GEM-P-001": 1, "GEM-P-002": None, "GEM-P-003": 1, "GEM-P-004": 1, "GEM-P-005": None}


def test_photos_are_kept_across_monthly_registers_and_new_ones_add(settings, as_of, tmp_path):
    import datetime as dt

    a, b, c = pr.photo(11), pr.photo(12), pr.photo(13)
    first = pr.floating_register(tmp_path / "m10.xlsx", 3, {0: a, 1: b})
    f, _ = ingest_one(settings, as_of - dt.timedelta(days=30), first, "十月台账.xlsx")
    assert f.outcome == "accepted"
    # next month: the clerk dropped GEM-P-001's photo, kept GEM-P-002's and added a second one to it
    second = pr.wps_register(tmp_path / "m11.xlsx", 3, {1: b, 2: c})
    f, _ = ingest_one(settings, as_of, second, "十一月台账.xlsx")
    assert f.outcome == "accepted"
    store = Store(settings.database_url)
    try:
        assert store.photo_index(as_of) == {(COUNTY, "GEM-P-001"): [sha(a)], (COUNTY, "GEM-P-002"): [sha(b)],
                                            (COUNTY, "GEM-P-003"): [sha(c)]}
        assert store.photo_index(as_of - dt.timedelta(days=30)) == {(COUNTY, "GEM-P-001"): [sha(a)],
                                                                    (COUNTY, "GEM-P-002"): [sha(b)]}
        with store.engine.connect() as conn:
            import sqlalchemy as sa

            from hazardnet.store import photos

            assert conn.execute(sa.select(sa.func.count()).select_from(photos)).scalar() == 3  # b stored once
    finally:
        store.dispose()
    third = pr.excel_register(tmp_path / "m12.xlsx", 3, {0: c})  # GEM-P-001 gets a second photo
    f, _ = ingest_one(settings, as_of + dt.timedelta(days=1), third, "十二月台账.xlsx")
    store = Store(settings.database_url)
    try:
        assert store.photo_index()[(COUNTY, "GEM-P-001")] == [sha(a), sha(c)]
    finally:
        store.dispose()
    assert consolidated(settings)["GEM-P-001"]["照片"] == 2
    files = sorted(p.name for p in (settings.outbox / PHOTO_FOLDER / COUNTY).iterdir())
    assert files == ["GEM-P-001_1.jpg", "GEM-P-001_2.jpg", "GEM-P-002_1.jpg", "GEM-P-003_1.jpg"]


def test_hostile_pictures_are_warnings_and_the_register_is_accepted(settings, as_of, tmp_path):
    good = pr.photo(21)
    path = pr.hostile_register(tmp_path / "hostile.xlsx", 6, {
        0: pr.png_bomb(), 1: pr.truncated_jpeg(), 2: b"\x01\x00\x00\x00" + b"\0" * 60, 4: good},
        extra=[(30, 3, pr.photo(22))])  # a picture below the table: no hazard's row
    f, _ = ingest_one(settings, as_of, path)
    assert f.outcome == "accepted" and f.rows == 6
    warnings = {x.cell: x for x in f.findings if x.field == "隐患照片"}
    assert set(warnings) == {"P2", "P3", "P4", "D31"}
    assert all(w.level == "warning" and w.sheet == "隐患台账" for w in warnings.values())
    assert "像素" in warnings["P2"].message and "损坏" in warnings["P3"].message
    assert "EMF" in warnings["P4"].message and "第 31 行" in warnings["D31"].message
    store = Store(settings.database_url)
    try:
        assert store.photo_index(as_of) == {(COUNTY, "GEM-P-005"): [sha(good)]}
        # the warnings are kept with the submission, for the county to read
        [sub] = [s for s in store.submissions_frame().to_dict("records") if s["outcome"] == "accepted"]
        assert "D31" in sub["findings"]
    finally:
        store.dispose()


def test_five_hundred_pictures_in_one_register(settings, as_of, tmp_path):
    pictures = {i: pr.photo(300 + i, (40, 30), "PNG") for i in range(500)}
    f, _ = ingest_one(settings, as_of, pr.floating_register(tmp_path / "many.xlsx", 500, pictures))
    assert f.outcome == "accepted" and f.rows == 500
    store = Store(settings.database_url)
    try:
        index = store.photo_index(as_of)
        assert len(index) == 500 and all(index[(COUNTY, pr.hazard_id(i))] == [sha(pictures[i])] for i in range(500))
    finally:
        store.dispose()


def test_over_the_count_cap_the_register_is_accepted_with_the_first_pictures(settings, as_of, tmp_path):
    settings.max_photos = 50
    pictures = {i: pr.photo(900 + i, (40, 30), "PNG") for i in range(80)}
    f, _ = ingest_one(settings, as_of, pr.floating_register(tmp_path / "many.xlsx", 80, pictures))
    assert f.outcome == "accepted"
    [cap] = [x for x in f.findings if "上限" in x.message]
    assert "80 张" in cap.message and cap.level == "warning"
    store = Store(settings.database_url)
    try:
        assert set(store.photo_index(as_of)) == {(COUNTY, pr.hazard_id(i)) for i in range(50)}
    finally:
        store.dispose()


def test_xls_register_gets_one_warning_that_photos_are_not_read(settings, as_of):
    f, _ = ingest_one(settings, as_of, DATA / "good" / "legacy_register.xls")
    assert f.outcome == "accepted"
    photo_warnings = [x for x in f.findings if ".xls" in x.message]
    assert len(photo_warnings) == 1 and photo_warnings[0].level == "warning"


def _directory(settings, customer_id: str, org: str) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "通讯录"
    ws.append(list(DIRECTORY_HEADERS))
    ws.append(["用电客户", COUNTY, customer_id, org, "陈工", "dianqi@customer.example.cn", None])
    ws.append(["政府主管部门", COUNTY, None, "格尔木市发展和改革委员会（能源局）", "张工", "gov@gem.example.cn", None])
    settings.directory_file.parent.mkdir(parents=True, exist_ok=True)
    wb.save(settings.directory_file)


def _thumbnails_by_hazard(path) -> dict[str, bytes]:
    """hazard id -> bytes of the picture anchored in its row of 未整改 (opened with openpyxl)."""
    ws = openpyxl.load_workbook(path)["未整改"]
    header = [c.value for c in ws[1]]
    col = header.index("隐患编号") + 1
    photo_col = header.index("照片")
    out = {}
    for image in ws._images:
        anchor = image.anchor._from
        assert anchor.col == photo_col
        out[ws.cell(anchor.row + 1, col).value] = image._data()
    return out


def test_bulletins_show_each_open_hazards_thumbnail_and_stay_small(settings, as_of, tmp_path):
    pictures = {i: pr.photo(500 + i, (2400, 1800)) for i in range(10)}
    path = pr.floating_register(tmp_path / "customer.xlsx", 12, pictures, customers=1)  # one customer's hazards
    rows = pr.hazard_rows(12, customers=1)
    f, _ = ingest_one(settings, as_of, path)
    assert f.outcome == "accepted"
    _directory(settings, rows[0][1], rows[0][2])
    store = Store(settings.database_url)
    try:
        result = bulletin_job(settings, store, Period(2026, 11), as_of,
                                       EmlFileTransport(settings.outbox / "mail"))
        assert {d["status"] for d in result["deliveries"]} == {"written"}
        expected = {pr.hazard_id(i): thumbnail(store.hazard_photos(COUNTY, pr.hazard_id(i))[0]) for i in range(10)}
    finally:
        store.dispose()
    workbooks = sorted((settings.outbox / "通报" / "2026-11").glob("*.xlsx"))
    assert len(workbooks) == 2  # the customer's and the county authority's
    for workbook in workbooks:
        assert _thumbnails_by_hazard(workbook) == expected  # 12 open hazards, 10 with a photo, each its own
        assert workbook.stat().st_size < 3 << 20
    for data in expected.values():
        with Image.open(io.BytesIO(data)) as img:
            assert img.format == "JPEG" and max(img.size) <= 1024


def test_template_has_a_photo_column_with_the_hint(settings, tmp_path):
    path = write_register_template(tmp_path / "模板.xlsx", COUNTY, settings)
    ws = openpyxl.load_workbook(path)["隐患台账"]
    header = [c.value for c in ws[2]]
    assert header[-1] == PHOTO_HEADER
    col = openpyxl.utils.get_column_letter(len(header))
    [dv] = [dv for dv in ws.data_validations.dataValidation if str(dv.sqref).startswith(f"{col}3")]
    assert dv.prompt == PHOTO_HINT == "插入图片并放在本行的单元格内"
