"""工作开展情况.docx: the quarter's work as plain paragraphs for the company newsletter 《供电服务动态》.

One page an editor can paste: the prefecture's figures, a sentence per county, and the major hazards
remediated in the quarter, every number taken from the quarterly summary (`QuarterlySummary.by_county`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from docx import Document
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

from hazardnet.publish.quarterly import QuarterlySummary, cell_value
from hazardnet.runtime import write_atomically
from hazardnet.xlsx.text_width import shorten
from schemas.vocab import MAJOR_SEVERITY

FONT = "宋体"
MAX_MAJOR_LISTED = 8  # keeps the text to one page; the rest are counted


def newsletter_name(quarter) -> str:
    return f"{quarter.title}工作开展情况.docx"


def _rate(v) -> str:
    return "—" if v is None else f"{v:.1%}"


def newsletter_paragraphs(s: QuarterlySummary, *, as_of: dt.date, company: str) -> tuple[str, list[str]]:
    """(title, paragraphs) of the newsletter text of a prefecture summary."""
    t = s.total
    q = s.quarter
    title = f"{s.scope_name}{q.title}客户用电安全隐患排查治理工作开展情况"
    paras = [
        f"{q.title}，{company}依托用电安全“1+1+1”工作网，会同各县(市)政府主管部门和高危及重要客户，"
        f"持续开展客户用电安全隐患排查治理。本季度全州新发现客户用电安全隐患 {t['found']} 项，"
        f"加上季初未整改的 {t['open_at_start']} 项，本季度涉及隐患 {t['hazards']} 项、涉及客户 {t['customers']} 户；"
        f"本季度报告已整改 {t['remediated']} 项，整改率 {_rate(t['remediation_rate'])}；"
        f"截至季末仍有 {t['open_at_end']} 项未整改，其中逾期 {t['overdue_at_end']} 项。"
        f"（数据截至{as_of:%Y年%m月%d日}各县(市)报送的隐患台账。）",
    ]
    parts = []
    for rec in s.by_county[:-1]:
        if not rec["hazards"]:
            parts.append(f"{rec['county']}本季度无涉及隐患")
            continue
        parts.append(f"{rec['county']}新发现 {rec['found']} 项、报告已整改 {rec['remediated']} 项、"
                     f"季末未整改 {rec['open_at_end']} 项（逾期 {rec['overdue_at_end']} 项）")
    paras.append("分县(市)看：" + "；".join(parts) + "。")
    rem = s.remediated()
    majors = rem[rem["severity"] == MAJOR_SEVERITY] if len(rem) else rem
    if len(majors):
        items = [f"{r['county']}{cell_value(r['customer_name']) or r['customer_id']}"
                 f"“{shorten(cell_value(r['description']), 30)}”"
                 for r in majors.head(MAX_MAJOR_LISTED).to_dict("records")]
        more = f"等 {len(majors)} 项" if len(majors) > MAX_MAJOR_LISTED else f"共 {len(majors)} 项"
        paras.append("本季度报告已整改的重大隐患有：" + "；".join(items) + f"，{more}。")
    else:
        paras.append("本季度无重大隐患报告已整改。")
    paras.append(f"季度隐患通报会上，各县(市)供电公司逐项通报本季度隐患的可能后果和整改建议，由客户明确整改完成时间；"
                 f"截至季末逾期的 {t['overdue_at_end']} 项隐患提请政府主管部门督办，全过程跟踪直至销号。")
    return title, paras


def _font(run, size: float, bold: bool = False) -> None:
    run.font.name = FONT
    run.font.size = Pt(size)
    run.font.bold = bold
    rpr = run._element.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    rfonts.set(qn("w:eastAsia"), FONT)


def write_newsletter(path: Path, s: QuarterlySummary, *, as_of: dt.date, company: str, emergency=None) -> Path:
    """Write 工作开展情况.docx (a title and plain paragraphs) atomically; with `emergency`
    (publish.emergency_slides.QuarterEmergency), a paragraph on the joint drills and customer files too."""
    title, paras = newsletter_paragraphs(s, as_of=as_of, company=company)
    if emergency is not None:
        from hazardnet.publish.emergency_slides import drill_paragraph

        paras = [*paras, drill_paragraph(emergency)]
    doc = Document()
    section = doc.sections[0]  # python-docx's default page is US Letter
    section.page_width, section.page_height = Mm(210), Mm(297)
    p = doc.add_paragraph()
    _font(p.add_run(title), 16, bold=True)
    for text in paras:
        p = doc.add_paragraph()
        p.paragraph_format.first_line_indent = Pt(24)
        _font(p.add_run(text), 12)
    return write_atomically(path, doc.save)
