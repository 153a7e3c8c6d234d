"""Photos in the quarterly briefing deck: registers with pictures ingested for real (floating pictures one month,
WPS cell pictures the next), then the county's deck written; the slide of each photographed hazard shows that
hazard's own photos (compared by hash with the store's renditions), and a hazard without one shows none."""

from __future__ import annotations

import datetime as dt
import hashlib

from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE

from hazardnet.jobs.ingest import ingest
from hazardnet.publish.quarterly import Quarter
from tests.jobs import quarter_job
from hazardnet.store import Store

from . import photo_registers as pr
from .conftest import drop

SEPT, OCT = dt.date(2026, 9, 29), dt.date(2026, 10, 5)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def slide_photos(path) -> dict[str, list[str]]:
    """hazard id -> sha256 of each picture on the slide that explains that hazard."""
    out = {}
    for slide in Presentation(path if hasattr(path, "read") else str(path)).slides:
        names = {s.name: s for s in slide.shapes}
        if "隐患描述" not in names:
            continue
        hazard = names["标题"].text_frame.text.split("　")[-1]
        out[hazard] = [sha(s.image.blob) for s in slide.shapes if s.shape_type == MSO_SHAPE_TYPE.PICTURE]
    return out


def _two_months_of_registers(settings, tmp_path) -> None:
    a, b, c = pr.photo(1, (1600, 1200)), pr.photo(2, (900, 1200), "PNG"), pr.photo(3)
    d, e = pr.photo(4), pr.photo(5, (1200, 500))
    drop(settings, pr.floating_register(tmp_path / "sep.xlsx", 6, {0: a, 1: b, 2: c}), pr.COUNTY, "九月台账.xlsx")
    assert ingest(settings, SEPT).files[0].outcome == "accepted"
    # October: WPS cell pictures; hazard 0 without its photo now (kept), 3 and 4 photographed, 2 a second photo
    drop(settings, pr.wps_register(tmp_path / "oct.xlsx", 6, {2: d, 3: d, 4: e}), pr.COUNTY, "十月台账.xlsx")
    assert ingest(settings, OCT).files[0].outcome == "accepted"


def _stored(settings) -> dict[str, list[str]]:
    store = Store(settings.database_url)
    try:
        return {h: [sha(j) for j in store.hazard_photos(pr.COUNTY, h, OCT)] for h in map(pr.hazard_id, range(6))}
    finally:
        store.dispose()


def test_each_photographed_hazards_slide_shows_its_own_photo(settings, tmp_path):
    _two_months_of_registers(settings, tmp_path)
    store = Store(settings.database_url)
    try:
        outputs = quarter_job(store, settings, Quarter(2026, 3), as_of=OCT)
    finally:
        store.dispose()
    stored = _stored(settings)
    [deck] = [book.deck for book in outputs.books if book.name == pr.COUNTY]
    shown = slide_photos(deck)
    assert set(shown) == set(stored)  # a slide for each of the quarter's six hazards
    assert shown == stored
    assert [len(stored[pr.hazard_id(i)]) for i in range(6)] == [1, 1, 2, 1, 1, 0]
    assert len({s for shas in stored.values() for s in shas}) == 5  # d shown on two hazards' slides, stored once


def test_the_quarterly_flow_puts_the_photos_in_the_decks(prefect_harness, settings, tmp_path):
    from flows.quarterly import quarterly_flow

    _two_months_of_registers(settings, tmp_path)
    result = quarterly_flow(home=str(settings.home), quarter="2026Q3", as_of=OCT.isoformat())
    [deck] = [b["deck"] for b in result["workbooks"] if b["name"] == pr.COUNTY]
    stored = _stored(settings)
    assert slide_photos(deck) == stored and sum(map(len, stored.values())) == 6


def test_the_quarterly_mail_attaches_the_decks_with_their_photos(settings, tmp_path):
    """The quarterly job with send: the county authority's mail carries its county's deck, each hazard's slide
    with that hazard's photos, and the prefecture's mail the prefecture's deck, its slides with the same photos."""
    import io
    from email import policy
    from email.parser import BytesParser

    import openpyxl

    from hazardnet.delivery.mail import EmlFileTransport
    from schemas.directory_headers import DIRECTORY_HEADERS
    from tests.jobs import quarter_sent_job

    _two_months_of_registers(settings, tmp_path)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "通讯录"
    ws.append(list(DIRECTORY_HEADERS))
    ws.append(["政府主管部门", pr.COUNTY, None, f"{pr.COUNTY}发展和改革委员会（能源局）", "张工", "gov@county.example.cn", None])
    ws.append(["政府主管部门", "全州", None, "海西州能源局", "李工", "gov@haixi.example.cn", None])
    settings.directory_file.parent.mkdir(parents=True, exist_ok=True)
    wb.save(settings.directory_file)
    store = Store(settings.database_url)
    try:
        result = quarter_sent_job(settings, store, Quarter(2026, 3), EmlFileTransport(settings.outbox / "mail"), as_of=OCT)
    finally:
        store.dispose()
    assert {d["status"] for d in result["deliveries"]} == {"written"}
    assert result["newsletter"].endswith(".docx")
    stored = _stored(settings)
    decks = {}
    for eml in sorted((settings.outbox / "mail").glob("*.eml")):
        msg = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
        [deck] = [p for p in msg.iter_attachments() if p.get_filename().endswith(".pptx")]
        decks[str(msg["To"])] = slide_photos(io.BytesIO(deck.get_content()))
    assert set(decks) == {"gov@county.example.cn", "gov@haixi.example.cn"}
    assert decks["gov@county.example.cn"] == stored and sum(map(len, stored.values())) == 6
    prefecture = decks["gov@haixi.example.cn"]  # the major and the overdue hazards
    assert prefecture == {h: stored[h] for h in prefecture}
