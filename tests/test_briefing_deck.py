"""The quarterly briefing decks (pptx), the 整改承诺 sheet, deadline history and the newsletter (docx).

The store holds the story of test_quarterly plus a few versions that move 德令哈市's D3 deadline twice, and
the report is made on 2026-11-15, after registers of October and November arrived. Every deck is opened
again with python-pptx and its slides, charts (chart objects with their data) and text boxes are compared
with plain-Python counts over the story.
"""

from __future__ import annotations

import io
import re
from collections import defaultdict

import docx
from docx.oxml.ns import qn as dqn
import openpyxl
import pytest
from PIL import Image
from pptx import Presentation
from pptx.oxml.ns import qn
from pptx.util import Emu

from hazardnet.publish.briefing_deck import fit_text, write_briefing_deck
from hazardnet.publish.quarterly import Quarter, quarter_data, summaries
from hazardnet.publish.quarterly_workbook import COMMITMENTS, OVERDUE
from tests.jobs import quarter_job
from hazardnet.store import Store

from tests.test_quarterly import DLH, G, H, STORY, D, frame, load_story, state_on

Q3 = Quarter(2026, 3)
AS_OF = D(2026, 11, 15)
COUNTIES = ["德令哈市", "格尔木市", "茫崖市", "乌兰县", "都兰县", "天峻县"]

# D3 (found 2026-07-20) is first reported in July with a deadline of 08-05, then 08-20 (story, 09-05),
# then in November 12-31: first 08-05, current 12-31, two changes; at quarter end its deadline was 08-20.
EXTRA = [
    (DLH, D(2026, 7, 25), [
        H("D1", "0630200001", D(2026, 6, 1), deadline=D(2026, 9, 1)),
        H("D2", "0630200002", D(2026, 4, 15), "较大", "供电电源", "已整改", D(2026, 5, 31), D(2026, 6, 5)),
        H("D3", "0630200002", D(2026, 7, 20), "重大", "供电电源", deadline=D(2026, 8, 5)),
    ]),
    (DLH, D(2026, 11, 10), [
        H("D1", "0630200001", D(2026, 6, 1), status="已整改", deadline=D(2026, 9, 1), completed=D(2026, 6, 28)),
        H("D2", "0630200002", D(2026, 4, 15), "较大", "供电电源", "已整改", D(2026, 5, 31), D(2026, 6, 5)),
        H("D3", "0630200002", D(2026, 7, 20), "重大", "供电电源", "整改中", deadline=D(2026, 12, 31)),
        H("D4", "0630200001", D(2026, 9, 1), status="已整改", deadline=D(2026, 9, 30), completed=D(2026, 10, 20)),
    ]),
]
STORY13 = STORY + EXTRA


# ---- the independent computation ---------------------------------------------------------------
def done(h):
    return h["completed_date"] if h["status"] == "已整改" else None


def expected(q=Q3, as_of=AS_OF, story=STORY13):
    qs, qe = q.start, q.end
    now = state_on(as_of, story)
    at_end = state_on(qe, story)
    out = defaultdict(dict)
    for k, h in now.items():
        if h["found_date"] > qe:
            continue
        d = done(h)
        deadline_end = (at_end.get(k) or h)["deadline"]
        open_end = d is None or d > qe
        rec = {"found": qs <= h["found_date"] <= qe, "rem": d is not None and qs <= d <= qe, "open_end": open_end,
               "start": h["found_date"] < qs and (d is None or d >= qs),
               "overdue": open_end and deadline_end is not None and deadline_end < qe,
               "days_overdue": (qe - deadline_end).days if deadline_end else None,
               "open_now": open_end and h["status"] != "已整改", "h": h}
        rec["in_q"] = rec["start"] or rec["found"]
        out[k[0]][k[1]] = rec
    return out


def history(key, as_of=AS_OF, story=STORY13):
    """(first, current, changes) of a hazard's deadline over its versions."""
    seq = [next(r for r in rows if r["hazard_id"] == key[1])["deadline"]
           for county, day, rows in sorted(story, key=lambda s: s[1])
           if county == key[0] and day <= as_of and any(r["hazard_id"] == key[1] for r in rows)]
    given = [d for d in seq if d is not None]
    changes = sum(1 for a, b in zip(given, given[1:]) if a != b)
    return (given[0] if given else None), seq[-1], changes


# ---- reading decks ------------------------------------------------------------------------------
def shapes_named(slide, name):
    return [s for s in slide.shapes if s.name == name]


def text_of(slide, name):
    found = shapes_named(slide, name)
    return found[0].text_frame.text if found else None


def hazard_slides(prs):
    """{hazard id: slide} of the slides that show one hazard (they carry a 隐患描述 box)."""
    out = {}
    for slide in prs.slides:
        if shapes_named(slide, "隐患描述"):
            out[text_of(slide, "标题").split("　")[-1]] = slide
    return out


def charts(prs):
    return {s.chart.chart_title.text_frame.text: s.chart for slide in prs.slides for s in slide.shapes
            if s.has_chart}


def table_rows(prs, name):
    rows = []
    for slide in prs.slides:
        for s in shapes_named(slide, name):
            t = s.table
            header = [c.text for c in t.rows[0].cells]
            rows += [dict(zip(header, [c.text for c in r.cells])) for r in list(t.rows)[1:]]
    return rows


def em(ch):
    return 1.0 if ord(ch) > 0x2000 else 0.6


def overflows(text, size, width_pt, height_pt):
    """An independent, slightly lenient estimate: does `text` at `size` need more height than the box has?"""
    lines = 0
    for para in text.split("\n"):
        units = sum(em(ch) for ch in para)
        lines += max(1, -(-int(units * size) // int(width_pt)) if width_pt > 0 else 99)
    return lines * size * 1.25 > height_pt + 0.5


def check_every_text_fits(prs):
    n = 0
    for slide in prs.slides:
        for s in slide.shapes:
            assert 0 <= s.left and s.left + s.width <= prs.slide_width + 5, s.name
            assert 0 <= s.top and s.top + s.height <= prs.slide_height + 5, s.name
            frames = []
            if s.has_text_frame and s.text_frame.text:
                tf = s.text_frame
                frames.append((tf, s.width - tf.margin_left - tf.margin_right,
                               s.height - tf.margin_top - tf.margin_bottom))
            if s.has_table:
                t = s.table
                for r in t.rows:
                    for c, cell in enumerate(r.cells):
                        frames.append((cell.text_frame, t.columns[c].width - cell.margin_left - cell.margin_right,
                                       r.height - cell.margin_top - cell.margin_bottom))
            for tf, w, h in frames:
                for p in tf.paragraphs:
                    for run in p.runs:
                        size = run.font.size.pt
                        assert not overflows(tf.text, size, Emu(w).pt, Emu(h).pt), (s.name, tf.text, size)
                        ea = run._r.find(qn("a:rPr")).find(qn("a:ea"))
                        assert ea is not None and ea.get("typeface") in ("微软雅黑", "宋体"), (s.name, tf.text)
                        n += 1
    return n


# ---- fixtures ---------------------------------------------------------------------------------
@pytest.fixture
def store(settings):
    settings.home.mkdir(parents=True, exist_ok=True)
    s = Store(settings.database_url)
    load_story(s, STORY13)
    yield s
    s.dispose()


@pytest.fixture
def outputs(store, settings):
    return quarter_job(store, settings, Q3, as_of=AS_OF)


# ---- tests ------------------------------------------------------------------------------------
def test_the_independent_computation_by_hand():
    e = expected()
    assert {k for k, r in e[DLH].items() if r["found"]} == {"D3", "D4"}
    assert {k for k, r in e[G].items() if r["found"]} == {"G6", "G7", "G9"}
    assert e[DLH]["D3"]["overdue"] and e[DLH]["D3"]["days_overdue"] == 41  # 08-20 in force at quarter end
    assert e[G]["G7"]["rem"] and not e[G]["G7"]["open_end"]  # completed 09-25, reported in October
    assert e[DLH]["D4"]["open_end"] and not e[DLH]["D4"]["open_now"]  # completed 10-20
    assert history((DLH, "D3")) == (D(2026, 8, 5), D(2026, 12, 31), 2)
    assert history((G, "G1")) == (D(2026, 6, 30), D(2026, 6, 30), 0)


def test_one_deck_per_county_and_the_prefecture(outputs, settings):
    decks = {b.name: b.deck for b in outputs.books}
    folder = settings.outbox / "quarterly" / "2026Q3"
    assert decks[settings.prefecture] == folder / "海西州2026年第三季度用电安全隐患通报会.pptx"
    for county in COUNTIES:
        assert decks[county] == folder / f"{county}2026年第三季度用电安全隐患通报会.pptx"
        assert decks[county].is_file()


def test_county_deck_has_a_slide_for_every_hazard_found(outputs, settings):
    e = expected()
    for book in outputs.books[1:]:
        prs = Presentation(book.deck)
        county = book.county
        want = {k for k, r in e[county].items() if r["found"]}
        slides = hazard_slides(prs)
        assert set(slides) == want, county
        for hid, slide in slides.items():
            h = e[county][hid]["h"]
            assert text_of(slide, "隐患描述") == h["description"]
            assert text_of(slide, "可能后果") == h["consequence"]
            assert text_of(slide, "整改建议") == h["suggestion"]
            assert h["customer_id"] in text_of(slide, "客户") and h["customer_name"] in text_of(slide, "客户")
            assert text_of(slide, "隐患等级") == f"{h['severity']}隐患"
            assert (h["deadline"].isoformat() if h["deadline"] else "未明确整改期限") in text_of(slide, "整改期限与状态")
        overdue = {r["隐患编号"]: r for r in table_rows(prs, "逾期督办")}
        assert set(overdue) == {k for k, r in e[county].items() if r["overdue"]}, county
        promised = table_rows(prs, "整改承诺")
        assert {r["隐患编号"] for r in promised} == {k for k, r in e[county].items() if r["open_now"]}, county
        assert all(r["承诺完成日期"] == "" and r["责任人（签字）"] == "" for r in promised)
        # slides: title, two overview slides, the hazards, the overdue and commitment pages
        n_over = max(1, -(-len(overdue) // 9))
        n_prom = max(1, -(-len(promised) // 8))
        assert len(prs.slides) == 3 + len(want) + n_over + n_prom
        title = prs.slides[0]
        assert "数据截至：2026年11月15日" in text_of(title, "数据截至")
        assert text_of(title, "标题") == f"{county}2026年第三季度"


def test_prefecture_deck_carries_majors_and_overdue(outputs, settings):
    e = expected()
    prs = Presentation(outputs.books[0].deck)
    slides = hazard_slides(prs)
    want = {k for c in e for k, r in e[c].items()
            if (r["found"] and r["h"]["severity"] == "重大") or r["overdue"]}
    assert set(slides) == want
    overdue = {(r["县(市)"], r["隐患编号"]): r for r in table_rows(prs, "逾期督办")}
    assert set(overdue) == {(c, k) for c in e for k, r in e[c].items() if r["overdue"]}
    for key, row in overdue.items():
        first, current, changes = history(key)
        assert row["首次整改期限"] == first.isoformat() and row["当前整改期限"] == current.isoformat()
        assert int(row["期限变更次数"]) == changes
        assert int(row["逾期天数"]) == e[key[0]][key[1]]["days_overdue"]
    assert overdue[(DLH, "D3")]["期限变更次数"] == "2"
    # G1 was overdue at the quarter's end and reported done on 10-10: listed, marked, not in the request
    assert overdue[(G, "G1")]["整改状态"] == "已整改（季度结束后）" and overdue[(DLH, "D3")]["整改状态"] == "整改中"
    notes = {sh.text_frame.text for slide in prs.slides for sh in shapes_named(slide, "督办说明")}
    assert notes == {"请政府主管部门对逾期督办清单中尚未整改的 1 项隐患予以督办。整改状态为“已整改（季度结束后）”的 1 项"
                     "已在季度结束后报告整改，不列入督办。期限变更次数为台账各次报送中整改期限的变更次数。"}


def test_native_charts_hold_the_counts(outputs, settings):
    e = expected()
    for book in outputs.books:
        prs = Presentation(book.deck)
        found = charts(prs)
        assert len(found) == 3, book.name
        for slide in prs.slides:
            assert not [s for s in slide.shapes if s.shape_type == 13 and not s.name.startswith("隐患照片")]
        scope = [c for c in e if book.county in (None, c)]
        recs = [r for c in scope for r in e[c].values()]
        status = found["季末整改状态（按县(市)）" if book.county is None else "季末整改状态（按客户）"]
        values = {s.name: list(s.values) for s in status.plots[0].series}
        assert sum(values["未整改"]) == sum(r["open_end"] and r["h"]["status"] == "未整改" for r in recs)
        assert sum(values["整改中"]) == sum(r["open_end"] and r["h"]["status"] != "未整改" for r in recs)
        assert sum(values["已整改（本季度）"]) == sum(r["rem"] for r in recs)
        if book.county is None:
            assert list(status.plots[0].categories) == COUNTIES
            assert values["已整改（本季度）"] == [sum(r["rem"] for r in e[c].values()) for c in COUNTIES]
        months = found["分月新发现与报告已整改"]
        got = {s.name: list(s.values) for s in months.plots[0].series}
        assert got["本季度新发现"] == [sum(r["found"] and r["h"]["found_date"].month == m for r in recs)
                                  for m in (7, 8, 9)]
        assert got["本季度报告已整改"] == [sum(r["rem"] and done(r["h"]).month == m for r in recs) for m in (7, 8, 9)]
        cat = found["本季度涉及隐患（按类别、等级）"]
        cats = list(cat.plots[0].categories)
        for s in cat.plots[0].series:
            assert list(s.values) == [sum(r["in_q"] and r["h"]["severity"] == s.name and r["h"]["category"] == c
                                          for r in recs) for c in cats]


def test_every_text_fits_and_is_set_in_a_chinese_font(outputs):
    for book in outputs.books:
        assert check_every_text_fits(Presentation(book.deck)) > 0


def test_long_texts_and_odd_photos(settings):
    settings.home.mkdir(parents=True, exist_ok=True)
    store = Store(settings.database_url)
    long_desc = ("配电室10kV高压开关柜柜体锈蚀严重，柜内电缆终端头发热变色，接地线断开未恢复，" * 12)[:400]
    long_name = ("青海省海西州格尔木市察尔汗盐湖化工综合利用股份有限公司第二分厂" * 3)[:60]
    rows = []
    for i, (w, h) in enumerate([(2400, 120), (90, 1500), (640, 480)]):
        r = H(f"L{i}", "0630100001", D(2026, 8, 1 + i), "重大")
        r["customer_name"], r["description"] = long_name, long_desc
        rows.append(r)
    store.record_submission(county=G, file_name="l.xlsx", sha256="c" * 64, as_of=D(2026, 9, 1), outcome="accepted",
                            findings=[], kept_at=None, rows=frame(rows))

    def image(w, h, fmt):
        buf = io.BytesIO()
        Image.new("RGB", (w, h), (200, 30, 30)).save(buf, fmt)
        return buf.getvalue()

    photos = {(G, "L0"): [image(2400, 120, "PNG")], (G, "L1"): [image(90, 1500, "JPEG"), image(640, 480, "PNG"),
                                                             b"not a picture"]}
    s = summaries(quarter_data(store, Q3, as_of=AS_OF), settings)[2]
    path = settings.outbox / "deck.pptx"
    deck = write_briefing_deck(path, s, as_of=AS_OF, company=settings.company,
                               photos=lambda county, hid: photos.get((county, hid), []))
    prs = Presentation(path)
    check_every_text_fits(prs)
    slides = hazard_slides(prs)
    assert set(slides) == {"L0", "L1", "L2"} and deck.hazard_ids == [(G, "L0"), (G, "L1"), (G, "L2")]
    for slide in slides.values():
        desc = shapes_named(slide, "隐患描述")[0].text_frame
        assert desc.text == long_desc or (desc.text.endswith("…") and long_desc.startswith(desc.text[:-1]))
        notes = slide.notes_slide.notes_text_frame.text  # the presenter has every word
        assert f"隐患描述：{long_desc}" in notes and f"客户：{long_name}" in notes
        assert desc.paragraphs[0].runs[0].font.size.pt < 16  # set smaller than a short description
        who = text_of(slide, "客户")
        assert who.startswith("户号 0630100001　") and (who.endswith(long_name) or who.endswith("…"))
    # photos: inside the picture area, aspect ratio kept; a hazard without photos says so
    for hid, sizes in (("L0", [(2400, 120)]), ("L1", [(90, 1500), (640, 480)])):
        slide = slides[hid]
        area = shapes_named(slide, "照片区")[0]
        pics = sorted((s for s in slide.shapes if s.name.startswith("隐患照片")), key=lambda s: s.name)
        assert len(pics) == len(sizes)
        for pic, (w, h) in zip(pics, sizes):
            assert area.left <= pic.left and pic.left + pic.width <= area.left + area.width
            assert area.top <= pic.top and pic.top + pic.height <= area.top + area.height
            assert abs(pic.width / pic.height - w / h) / (w / h) < 0.01
    assert text_of(slides["L2"], "照片说明") == "（台账未附现场照片）"
    # the mapping form gives the same pictures
    write_briefing_deck(path, s, as_of=AS_OF, company=settings.company, photos=photos)
    assert len([x for x in hazard_slides(Presentation(path))["L1"].shapes if x.name.startswith("隐患照片")]) == 2
    store.dispose()


def test_fit_text_shrinks_then_shortens():
    text, size = fit_text("短文本", 200, 40, size=16, min_size=9)
    assert (text, size) == ("短文本", 16)
    text, size = fit_text("很" * 60, 200, 40, size=16, min_size=9)
    assert size < 16 and text == "很" * 60
    text, size = fit_text("很" * 400, 200, 40, size=16, min_size=9)
    assert size == 9 and text.endswith("…") and len(text) < 400


def test_workbook_sheets_commitments_and_deadline_history(outputs, settings):
    e = expected()
    wb = openpyxl.load_workbook(outputs.books[0].path)
    assert COMMITMENTS in wb.sheetnames
    ws = wb[OVERDUE]
    header = [c.value for c in ws[2]]
    body = list(ws.iter_rows(min_row=3, values_only=True))
    got = {(r[0], r[4]): dict(zip(header, r)) for r in body[:body.index((None,) * len(header))]}
    assert set(got) == {(c, k) for c in e for k, r in e[c].items() if r["overdue"]}
    # the same marking and request as the deck's 逾期督办 slides
    assert got[(G, "G1")]["整改状态"] == "已整改（季度结束后）" and got[(DLH, "D3")]["整改状态"] == "整改中"
    assert body[-1][0] == ("请政府主管部门对逾期督办清单中尚未整改的 1 项隐患予以督办。整改状态为“已整改（季度结束后）”的 1 项"
                           "已在季度结束后报告整改，不列入督办。")
    briefing = {r[1]: r[11] for r in openpyxl.load_workbook(outputs.books[0].path)["通报清单"].iter_rows(
        min_row=4, values_only=True)}
    assert briefing["G1"] == "已整改（季度结束后）" and briefing["D3"] == "整改中"
    for key, rec in got.items():
        first, current, changes = history(key)
        assert rec["首次整改期限"].date() == first and rec["当前整改期限"].date() == current
        assert rec["整改期限变更次数"] == changes
    ws = wb[COMMITMENTS]
    header = [c.value for c in ws[2]]
    rows = [dict(zip(header, r)) for r in ws.iter_rows(min_row=3, values_only=True)]
    assert {(r["县(市)"], r["隐患编号"]) for r in rows} == {(c, k) for c in e for k, r in e[c].items() if r["open_now"]}
    assert all(r["承诺完成日期"] is None and r["责任人（签字）"] is None for r in rows)
    assert "数据截至2026年11月15日" in wb["总览"]["A2"].value


def test_newsletter_text_carries_the_figures(outputs, settings):
    e = expected()
    path = outputs.newsletter
    assert path == settings.outbox / "quarterly" / "2026Q3" / "2026年第三季度工作开展情况.docx"
    doc = docx.Document(path)
    text = "\n".join(p.text for p in doc.paragraphs)
    recs = [r for c in e for r in e[c].values()]
    assert f"新发现客户用电安全隐患 {sum(r['found'] for r in recs)} 项" in text
    assert f"本季度报告已整改 {sum(r['rem'] for r in recs)} 项" in text
    assert f"其中逾期 {sum(r['overdue'] for r in recs)} 项" in text
    for c in COUNTIES:
        rs = list(e[c].values())
        if any(r["in_q"] for r in rs):
            assert (f"{c}新发现 {sum(r['found'] for r in rs)} 项、报告已整改 {sum(r['rem'] for r in rs)} 项、"
                    f"季末未整改 {sum(r['open_end'] for r in rs)} 项") in text
    majors = [r for r in recs if r["rem"] and r["h"]["severity"] == "重大"]
    assert all(r["h"]["customer_name"] in text for r in majors) and majors
    for p in doc.paragraphs:
        for run in p.runs:
            assert run._element.rPr.rFonts.get(dqn("w:eastAsia")) == "宋体"
    assert len(doc.paragraphs) <= 6 and len(text) < 1200  # one page
    section = doc.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)  # A4, not US Letter


def test_xiaohao_only_ever_means_closed_after_re_inspection(outputs, settings):
    """已整改 is the customer's claim, 销号 the passing re-inspection: no workbook, deck, newsletter or mail calls
    the claim-based figure 销号 (it is 本季度报告已整改, shown beside 本季度复查销号)."""
    from hazardnet.publish.quarterly_mail import quarterly_mail_text
    from hazardnet.delivery.directory import Recipient

    ambiguous = re.compile(r"(本季度|整改)销号|、销号|销号清单|已整改（本季度销号）|新发现与销号")
    texts = []
    for book in outputs.books:
        wb = openpyxl.load_workbook(book.path)
        texts += wb.sheetnames
        texts += [c for ws in wb for row in ws.iter_rows(values_only=True) for c in row if isinstance(c, str)]
        prs = Presentation(book.deck)
        texts += [sh.text_frame.text for slide in prs.slides for sh in slide.shapes if sh.has_text_frame]
        texts += [cell.text for slide in prs.slides for sh in slide.shapes if sh.has_table
                  for row in sh.table.rows for cell in row.cells]
        texts += [s.name for ch in charts(prs).values() for s in ch.plots[0].series]
        recipient = Recipient("政府主管部门", book.county, None, "某局", ("张三",), ("a@b.cn",))
        texts += list(quarterly_mail_text(recipient, book, Q3, settings))
    texts += [p.text for p in docx.Document(outputs.newsletter).paragraphs]
    bad = [t for t in map(str, texts) if ambiguous.search(t)]
    assert not bad, bad[:5]
    overview = openpyxl.load_workbook(outputs.books[0].path)["总览"]
    header = [c.value for c in overview[5]]
    assert "本季度报告已整改" in header and "本季度复查销号" in header and "本季度销号" not in header


def test_figures_as_known_on_the_report_date(store, settings):
    """Remediations of September reported in October count in Q3 when the report is made in November."""
    e = expected()
    data = quarter_data(store, Q3, as_of=AS_OF)
    total = summaries(data, settings)[0].total
    recs = [r for c in e for r in e[c].values()]
    assert total["found"] == sum(r["found"] for r in recs)
    assert total["remediated"] == sum(r["rem"] for r in recs)
    assert total["open_at_end"] == sum(r["open_end"] for r in recs)
    assert total["overdue_at_end"] == sum(r["overdue"] for r in recs)
    assert total["open_at_start"] + total["found"] - total["remediated"] == total["open_at_end"]
    at_end = summaries(quarter_data(store, Q3, as_of=Q3.end), settings)[0].total
    assert at_end["remediated"] == total["remediated"] - 1  # G7, completed 09-25, reported 10-15
