"""The notice's and the 督办建议函's hazard tables keep their column widths in every reader: the grid
(`w:gridCol`, what LibreOffice and so the printed PDFs use) and each cell (`w:tcW`, Word) say the same, autofit
is off, the description is the widest column and the table fits the page between its margins."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest
from docx import Document
from docx.oxml.ns import qn
from docx.shared import Cm

from hazardnet.publish.notice import HAZARD_HEADERS, HAZARD_WIDTHS_CM, Notice, NoticeHazard, write_notice
from hazardnet.publish.supervision import LETTER_HEADERS, LETTER_WIDTHS_CM, LetterDraft, LetterHazard, write_letter
from hazardnet.settings import load_settings

TEXT = "配电室10kV开关柜五防闭锁装置失效，操作机构卡涩，柜内有积灰和小动物进入痕迹，存在误操作和短路风险"


def _check(path: Path, headers, widths_cm) -> None:
    doc = Document(str(path))
    section = doc.sections[0]
    usable = section.page_width - section.left_margin - section.right_margin
    tables = [t for t in doc.tables if [c.text for c in t.rows[0].cells] == list(headers)]
    assert tables, "the hazard table"
    for table in tables:
        grid = [int(col.get(qn("w:w"))) for col in table._tbl.tblGrid.findall(qn("w:gridCol"))]  # twips
        assert len(grid) == len(widths_cm)
        assert all(abs(g - Cm(w).twips) <= 1 for g, w in zip(grid, widths_cm)), grid
        for row in table.rows:
            assert all(abs(c.width - Cm(w)) < Cm(0.01) for c, w in zip(row.cells, widths_cm))
        assert table.autofit is False
        assert sum(Cm(w) for w in widths_cm) <= usable
        described = headers.index("隐患描述")
        assert max(widths_cm) == widths_cm[described]


def test_the_notice_table_keeps_its_widths(tmp_path):
    hazards = tuple(NoticeHazard(f"GEM-2026-{i:04d}", TEXT, "可能导致人身触电", "更换闭锁装置", dt.date(2026, 12, 31), "重大")
                    for i in range(3))
    path = write_notice(tmp_path / "n.docx", Notice("格供电通〔2026〕001号", "格尔木市", "0801000001", "青海某钾肥有限公司",
                                                     dt.date(2026, 11, 15), "国网格尔木供电公司", hazards))
    _check(path, HAZARD_HEADERS, HAZARD_WIDTHS_CM)


def test_the_letter_table_keeps_its_widths(tmp_path):
    hazards = [LetterHazard("格尔木市", "0801000001", "青海某钾肥有限公司", f"GEM-2026-{i:04d}", "重大", TEXT,
                            dt.date(2026, 8, 31), dt.date(2026, 9, 30), (), 45, "专人值守") for i in range(3)]
    draft = LetterDraft("格尔木市督办建议〔2026〕001号", "county", "格尔木市", dt.date(2026, 11, 15), hazards,
                        dt.date(2026, 12, 15))
    path = write_letter(tmp_path / "l.docx", draft, load_settings(tmp_path))
    _check(path, LETTER_HEADERS, LETTER_WIDTHS_CM)


@pytest.mark.skipif(not (shutil.which("soffice") and shutil.which("pdftotext")),
                    reason="LibreOffice (soffice) or pdftotext not installed: scripts/ensure_libreoffice.sh installs them")
def test_printed_dates_and_ids_stay_on_one_line(tmp_path):
    """LibreOffice prints 宋体's Latin text in a wider fallback (DejaVu Sans): a letter's dates, ids and （户号）, and
    a notice's ids, still fit their columns whole (pdftotext -layout shows a wrapped cell as two pieces)."""
    from hazardnet.publish.paper import convert_all

    settings = load_settings(tmp_path)
    ids = ["DLH-2025-001", "GEM-2026-010", "MGY-2026-015"]
    hazards = [LetterHazard("德令哈市", "6329397166", "柴达木纯碱化工有限公司", hid, "重大", TEXT, dt.date(2026, 6, 19),
                            dt.date(2026, 12, 22), (), 172, "专人值守") for hid in ids]
    draft = LetterDraft("海西州挂牌督办建议〔2026〕001号", "prefecture", "海西州", dt.date(2026, 12, 8), hazards,
                        dt.date(2026, 12, 23))
    letter = write_letter(tmp_path / "letter.docx", draft, settings)
    notice = write_notice(tmp_path / "notice.docx", Notice(
        "德令哈-2026-0001", "德令哈市", "6329397166", "柴达木纯碱化工有限公司", dt.date(2026, 12, 8), "国网德令哈供电公司",
        tuple(NoticeHazard(hid, TEXT, "可能导致人身触电", "更换闭锁装置", dt.date(2026, 12, 23), "重大") for hid in ids)))
    result = convert_all(settings, [(p.stem, p, p.with_suffix(".pdf")) for p in (letter, notice)])
    assert result.failed == [] and result.unavailable is None
    for path, whole in ((letter, [*ids, "2026-06-19", "2026-12-22", "（6329397166）"]), (notice, [*ids, "2026年12月23日"])):
        text = subprocess.run(["pdftotext", "-layout", str(path.with_suffix(".pdf")), "-"], capture_output=True,
                              text=True, check=True).stdout
        text = text.replace(" ", "")  # LibreOffice spaces Latin text from Chinese (2026 年 12 月), line by line
        assert all(w in text for w in whole), (path.name, [w for w in whole if w not in text])
