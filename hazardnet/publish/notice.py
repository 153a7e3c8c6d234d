"""The written notice (《用电安全隐患整改通知书》) as a Word document, and what a customer's mail and SMS say
about it. Renders only: the notice record comes from the store (jobs.notices), sending is the dispatcher's.

One notice per customer and run: the customer (名称, 户号), each hazard (隐患编号, 隐患描述, 可能后果, 整改建议,
整改期限 — the current one, with a note under the table where a meeting commitment set it — 隐患等级), the basis,
the county supply company as issuer and the date, in two copies — 第一联（客户留存）and 第二联（供电企业存档）— each
with a 签收 block. A4 portrait, fonts that Word, WPS and LibreOffice all have
(宋体/SimSun, with the East Asian font set on every run so no program falls back to a Latin font).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hazardnet.delivery.directory import Recipient, org_names
from hazardnet.delivery.dispatch import Letter
from hazardnet.publish.docx_table import fix_widths
from hazardnet.runtime import write_atomically
from schemas.vocab import PARTY_UTILITY

NOTICE_DIR = "通知书"
TITLE = "用电安全隐患整改通知书"
COPIES = ("第一联（客户留存）", "第二联（供电企业存档）")
BASIS = ("《中华人民共和国电力法》《电力供应与使用条例》《供电营业规则》及用电安全“1+1+1”工作网协作书")
HAZARD_HEADERS = ("序号", "隐患编号", "隐患描述", "可能后果", "整改建议", "整改期限", "隐患等级")
# A4 portrait less 2 × 1.8 cm margins leaves 17.4 cm: the description gets the most room; an id (GEM-2026-010) and
# a date (2026年12月23日, which LibreOffice spaces: 2026 年 12 月) stay whole on one line at 9 pt, in its wider Latin font too
HAZARD_WIDTHS_CM = (1.1, 2.9, 3.9, 2.4, 2.6, 3.4, 1.1)
FONT = "宋体"
SUBJECT_PREFIX = "【用电安全1+1+1工作网】"


@dataclass(frozen=True)
class NoticeHazard:
    """One hazard as the notice shows it."""

    hazard_id: str
    description: str
    consequence: str | None
    suggestion: str | None
    deadline: dt.date | None
    severity: str | None
    note: str | None = None  # why the deadline is not the register's: 整改期限为通报会承诺（2026-12-07，责任人 张三）

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> NoticeHazard:
        def text(v: Any) -> str | None:
            return None if v is None or (isinstance(v, float) and v != v) or str(v).strip() == "" else str(v)

        deadline = row.get("deadline")
        return cls(str(row["hazard_id"]), text(row.get("description")) or "", text(row.get("consequence")),
                   text(row.get("suggestion")), deadline if isinstance(deadline, dt.date) else None,
                   text(row.get("severity")), text(row.get("deadline_note")))


@dataclass(frozen=True)
class Notice:
    """What a notice says: its number, the customer, the hazards, the issuer and the date."""

    number: str
    county: str
    customer_id: str
    customer_name: str
    issued_on: dt.date
    issuer: str
    hazards: tuple[NoticeHazard, ...]


def issuer_of(county: str, recipients: Sequence[Recipient] = ()) -> str:
    """The county supply company that issues a county's notices, as the directory names it (国网格尔木供电公司);
    without a directory row for it, 格尔木市 → 格尔木市供电公司."""
    return "、".join(org_names(recipients, PARTY_UTILITY, county)) or f"{county}供电公司"


def number_prefix(county: str) -> str:
    """The county part of a 通知书编号: 格尔木市 → 格尔木, 乌兰县 → 乌兰 (a two-character name stays whole)."""
    stem = re.sub(r"(行政区|行委|市|县|区)$", "", county)
    return stem if len(stem) >= 2 else county


def _safe(name: str) -> str:
    return re.sub(r'[\\/:*?"<>|\r\n\t]+', "_", name).strip(" .") or "_"


def notice_path(outbox: Path, notice: Notice) -> Path:
    """outbox/通知书/<县(市)>/<户号>_<客户名称>_<通知书编号>.docx"""
    name = f"{_safe(notice.customer_id)}_{_safe(notice.customer_name)[:60]}_{_safe(notice.number)}.docx"
    return outbox / NOTICE_DIR / _safe(notice.county) / name


def _date(d: dt.date | None) -> str:
    return f"{d.year}年{d.month}月{d.day}日" if d else "未明确"


def overdue(h: NoticeHazard, on: dt.date) -> bool:
    """Whether the hazard's 整改期限 passed before the notice's date."""
    return h.deadline is not None and h.deadline < on


def deadline_text(h: NoticeHazard, on: dt.date) -> str:
    """The 整改期限 as the notice of `on` prints it: the date, marked 已逾期 when it passed before `on`."""
    return f"{_date(h.deadline)}（已逾期）" if overdue(h, on) else _date(h.deadline)


def deadline_notes(notice: Notice) -> list[str]:
    """The notes under the hazard table, one per hazard whose deadline a meeting commitment set:
    隐患 G3：整改期限为通报会承诺（2026-10-12，责任人 张三）."""
    return [f"隐患 {h.hazard_id}：{h.note}" for h in notice.hazards if h.note]


def comply(notice: Notice) -> str:
    """按期整改 when every deadline is still to come; otherwise what the notice asks (`request`)."""
    on_time = all(h.deadline is not None and not overdue(h, notice.issued_on) for h in notice.hazards)
    return "按期整改" if on_time else "按通知书要求整改"


def request(notice: Notice) -> str:
    """What the notice asks, true for each of its hazards (up to the sentence that follows it): remediation within
    a deadline still to come, at once for a deadline already passed, a deadline to be set where there is none."""
    todo = "落实整改责任人、措施、资金、期限和防控措施"
    late = sum(overdue(h, notice.issued_on) for h in notice.hazards)
    open_ended = sum(h.deadline is None for h in notice.hazards)
    timely = len(notice.hazards) - late - open_ended
    if not late and not open_ended:
        return f"请贵单位按整改建议，在整改期限内完成整改，{todo}；"
    parts = []
    if timely:
        parts.append("整改期限未到的隐患请在整改期限内完成整改")
    if late:
        parts.append(f"整改期限已过的 {late} 项隐患（表中标“已逾期”）请立即整改，并书面报告我公司预计完成时间")
    if open_ended:
        parts.append(f"未明确整改期限的 {open_ended} 项隐患请尽快书面报告我公司整改计划，明确整改期限")
    return f"请贵单位按整改建议整改，{todo}：" + "；".join(parts) + "。"


def _run(paragraph, text: str, *, size: float = 10.5, bold: bool = False):
    from docx.oxml.ns import qn
    from docx.shared import Pt

    run = paragraph.add_run(text)
    run.font.size = Pt(size)
    run.font.bold = bold
    run.font.name = FONT
    rpr = run._element.get_or_add_rPr()
    fonts = rpr.get_or_add_rFonts()
    fonts.set(qn("w:eastAsia"), FONT)
    return run


def _para(doc_or_cell, text: str = "", *, size: float = 10.5, bold: bool = False, align: str | None = None,
          space_after: float = 4):
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    p = doc_or_cell.add_paragraph()
    if text:
        _run(p, text, size=size, bold=bold)
    if align:
        p.alignment = {"center": WD_ALIGN_PARAGRAPH.CENTER, "right": WD_ALIGN_PARAGRAPH.RIGHT}[align]
    p.paragraph_format.space_after = Pt(space_after)
    return p


def _cell_text(cell, text: str, *, bold: bool = False, size: float = 9) -> None:
    p = cell.paragraphs[0]
    _run(p, text, size=size, bold=bold)


def _copy(doc, notice: Notice, copy: str) -> None:
    """One copy of the notice: title, number, addressee, basis, hazards, issuer, 签收 block."""
    from docx.shared import Cm

    _para(doc, copy, size=10.5, align="right", space_after=2)
    _para(doc, TITLE, size=18, bold=True, align="center", space_after=6)
    _para(doc, f"编号：{notice.number}", align="right")
    _para(doc, f"{notice.customer_name}（户号：{notice.customer_id}）：", size=12, bold=True)
    _para(doc, f"    经我公司用电检查，发现贵单位存在下列 {len(notice.hazards)} 项用电安全隐患。依据{BASIS}的规定，"
               f"{request(notice)}整改完成后请书面告知"
               f"我公司，我公司将在 10 个工作日内进行现场复查，复查合格后予以销号。逾期未整改的，我公司将报告县(市)政府主管"
               f"部门督办。", size=11)
    table = doc.add_table(rows=1, cols=len(HAZARD_HEADERS))
    table.style = "Table Grid"
    for cell, header in zip(table.rows[0].cells, HAZARD_HEADERS):
        _cell_text(cell, header, bold=True)
    for i, h in enumerate(notice.hazards, 1):
        cells = table.add_row().cells
        values = (str(i), h.hazard_id, h.description, h.consequence or "", h.suggestion or "",
                  deadline_text(h, notice.issued_on),
                  h.severity or "")
        for cell, value in zip(cells, values):
            _cell_text(cell, value)
    fix_widths(table, [Cm(w) for w in HAZARD_WIDTHS_CM])
    for note in deadline_notes(notice):
        _para(doc, f"注：{note}。", size=9, space_after=0)
    _para(doc, "")
    _para(doc, f"签发单位：{notice.issuer}（盖章）", size=11, align="right")
    _para(doc, f"签发日期：{_date(notice.issued_on)}", size=11, align="right")
    _para(doc, "")
    _para(doc, "客户签收：", size=11, bold=True)
    _para(doc, "签收人：____________________        签收日期：______年____月____日", size=11)
    _para(doc, "（本通知书一式两联，第一联客户留存，第二联供电企业存档。签收后请将签收人、签收日期告知供电企业，"
               "并载入隐患台账的“告知日期”“签收人”栏。）", size=9)


def write_notice(path: Path, notice: Notice) -> Path:
    """Write the notice's .docx at `path` (complete or not at all): two copies, a page break between them."""
    from docx import Document
    from docx.enum.text import WD_BREAK
    from docx.shared import Cm, Mm

    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.left_margin = section.right_margin = Cm(1.8)
    section.top_margin = section.bottom_margin = Cm(2.0)
    doc.core_properties.title = f"{TITLE} {notice.number}"
    doc.core_properties.author = notice.issuer
    for i, copy in enumerate(COPIES):
        if i:
            doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        _copy(doc, notice, copy)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomically(path, doc.save)


def notice_letter(notice: Notice, files: Sequence[tuple[str, Path]]) -> Letter:
    """The customer's mail: the notice attached, its hazards named."""
    lines = [f"{notice.customer_name}：", "",
             f"    {notice.issuer}向贵单位送达《{TITLE}》（编号 {notice.number}），列明贵单位的 {len(notice.hazards)} 项"
             f"用电安全隐患、可能后果、整改建议和整改期限，请查收附件并{comply(notice)}。纸质通知书一式两联，请在第二联签收后交回"
             f"供电企业存档。", "", "隐患清单："]
    for h in notice.hazards:
        lines.append(f"  {h.hazard_id}（{h.severity or ''}）{h.description}；整改期限：{deadline_text(h, notice.issued_on)}"
                     + (f"，{h.note}" if h.note else ""))
    lines += ["", f"{notice.issuer}", _date(notice.issued_on)]
    return Letter(subject=f"{SUBJECT_PREFIX}{TITLE}（{notice.number}）{notice.customer_name}",
                  body="\n".join(lines), files=list(files), file_stem=f"通知书_{notice.number}")


def notice_sms(notice: Notice) -> str:
    """The customer's SMS: a notice was sent to its mailbox."""
    return (f"{notice.customer_name}：{notice.issuer}已向贵单位邮箱送达用电安全隐患整改通知书{notice.number}，"
            f"共{len(notice.hazards)}项隐患，请查收并{comply(notice)}。")
