"""What supervision says (renders only, never sends): the 《隐患督办建议函》 as a Word document, the mail and SMS
that carry it, and the reminders a customer gets before a deadline.

A letter lists the hazards newly at its rung (县级督办 for one county, 州级挂牌督办 for the whole prefecture):
customer, 隐患编号, description, first and current deadline, how often and why the deadline moved, days
overdue, the interim control measure (or 未落实临时防控措施) and a suggested 督办期限.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

from hazardnet.delivery.directory import Recipient, org_names
from hazardnet.publish.docx_table import fix_widths
from hazardnet.rules import COUNTY, PREFECTURE, RUNG_ZH, DeadlineChange
from hazardnet.runtime import write_atomically
from hazardnet.settings import Settings
from schemas.vocab import PARTY_GOV, PARTY_UTILITY

LETTER_TITLE = "隐患督办建议函"
LETTER_DIR = "督办"
NO_INTERIM = "未落实临时防控措施"
SUBJECT_PREFIX = "【用电安全1+1+1工作网】"
FONT = "宋体"
LETTER_HEADERS = ["序号", "客户名称（户号）", "隐患编号", "隐患等级", "隐患描述", "首次整改期限", "当前整改期限",
                  "延期次数及原因", "逾期天数", "临时防控措施", "建议督办期限"]
# A4 landscape less 2 × 1.8 cm margins leaves 26.1 cm. At 9 pt, where LibreOffice prints 宋体's Latin text in DejaVu
# Sans, a date (2026-06-19) needs 2.3 cm and an id (GEM-2026-010) 2.8 cm, cell margins included: whole on one line.
LETTER_WIDTHS_CM = [0.9, 3.2, 2.9, 1.2, 4.5, 2.4, 2.4, 2.4, 1.2, 2.5, 2.4]


@dataclass(frozen=True)
class LetterHazard:
    """One hazard as a letter (and a reminder) shows it."""

    county: str
    customer_id: str
    customer_name: str
    hazard_id: str
    severity: str
    description: str
    first_deadline: dt.date | None
    deadline: dt.date | None
    changes: tuple[DeadlineChange, ...] = ()
    days_overdue: int | None = None
    contingency: str | None = None
    why: str = ""  # why it is on its rung
    notice_date: dt.date | None = None  # 告知日期: when the customer was notified in writing (None: not yet)

    @property
    def extensions_text(self) -> str:
        if not self.changes:
            return "未延期"
        return f"{len(self.changes)} 次：" + "；".join(c.text() for c in self.changes)

    @property
    def interim(self) -> str:
        return self.contingency or NO_INTERIM


@dataclass
class LetterDraft:
    """What one letter is: its record (number, rung, county or prefecture) and its hazards."""

    number: str
    rung: str
    scope: str  # a county, or the prefecture's name
    issued_on: dt.date
    hazards: list[LetterHazard] = field(default_factory=list)
    term: dt.date | None = None  # the suggested 督办期限


def letter_number(scope: str, rung: str, year: int, seq: int) -> str:
    """格尔木市督办建议〔2026〕001号; 海西州挂牌督办建议〔2026〕001号."""
    kind = "挂牌督办建议" if rung == PREFECTURE else "督办建议"
    return f"{scope}{kind}〔{year}〕{seq:03d}号"


def letter_path(settings: Settings, scope: str, number: str, suffix: str = ".docx") -> Path:
    """outbox/督办/<县(市) or 海西州>/<letter number>.docx"""
    return settings.outbox / LETTER_DIR / scope / f"{number}{suffix}"


def addressee(rung: str, scope: str, settings: Settings, recipients: Sequence[Recipient] = ()) -> tuple[str, str | None]:
    """(to, copy) as the letter names them: the directory's authority and supply company of the scope (its county,
    or the prefecture-level rows), the generic wording where the directory has none. The signer
    (`settings.company` and its departments) is never in copy: a prefecture letter has no copy line of its own."""
    county = None if rung == PREFECTURE else scope
    to = "、".join(org_names(recipients, PARTY_GOV, county))
    copy = "、".join(n for n in org_names(recipients, PARTY_UTILITY, county) if not n.startswith(settings.company))
    if rung == PREFECTURE:
        return to or f"{settings.prefecture}能源局", copy or None
    return to or f"{scope}政府主管部门（能源主管部门）", copy or f"{scope}供电公司"


def urging(hazards: list[LetterHazard]) -> str:
    """What the supply company did before asking for 督办, as far as it is true: 已书面告知 only when every hazard
    has a 告知日期; otherwise the hazards not notified in writing yet, named."""
    unnotified = [h.hazard_id for h in hazards if h.notice_date is None]
    if not unnotified:
        return "供电企业已书面告知并多次督促，客户仍未整改完成"
    if len(unnotified) == len(hazards):
        return "经供电企业多次督促，客户仍未整改完成，上述隐患均尚未书面告知客户"
    return (f"经供电企业多次督促，客户仍未整改完成，其中 {len(unnotified)} 项尚未书面告知客户"
            f"（隐患编号 {'、'.join(unnotified)}）")


def _font(run, size: float, bold: bool = False) -> None:
    run.font.name = FONT
    run.font.size = Pt(size)
    run.font.bold = bold
    rpr = run._element.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(rfonts)
    rfonts.set(qn("w:eastAsia"), FONT)


def _para(doc, text: str, size: float = 12, bold: bool = False, align=None, indent: bool = False):
    p = doc.add_paragraph()
    if align is not None:
        p.alignment = align
    if indent:
        p.paragraph_format.first_line_indent = Pt(size * 2)
    _font(p.add_run(text), size, bold)
    return p


def _d(v: dt.date | None) -> str:
    return f"{v:%Y-%m-%d}" if v else "未明确"


def letter_rows(draft: LetterDraft) -> list[list[str]]:
    """The letter's table, one row per hazard (strings as printed)."""
    rows = []
    for i, h in enumerate(draft.hazards, start=1):
        rows.append([str(i), f"{h.customer_name}（{h.customer_id}）", h.hazard_id, h.severity, h.description,
                     _d(h.first_deadline), _d(h.deadline), h.extensions_text,
                     "" if h.days_overdue is None else str(h.days_overdue), h.interim, _d(draft.term)])
    return rows


def write_letter(path: Path, draft: LetterDraft, settings: Settings, recipients: Sequence[Recipient] = ()) -> Path:
    """Write the 《隐患督办建议函》 of `draft` as a Word document (A4 landscape) at `path`, atomically; its parties
    named as the directory's `recipients` name them (`addressee`)."""
    to, copy = addressee(draft.rung, draft.scope, settings, recipients)
    doc = Document()
    section = doc.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Cm(29.7), Cm(21.0)
    for side in ("left_margin", "right_margin"):
        setattr(section, side, Cm(1.8))
    section.top_margin = section.bottom_margin = Cm(1.8)
    _para(doc, f"《{LETTER_TITLE}》", 18, True, WD_ALIGN_PARAGRAPH.CENTER)
    _para(doc, draft.number, 12, False, WD_ALIGN_PARAGRAPH.CENTER)
    _para(doc, f"{to}：", 12, True)
    majors = sum(1 for h in draft.hazards if h.severity == "重大")
    why = ("已逾期 90 天以上或重大隐患逾期 30 天以上" if draft.rung == PREFECTURE
           else "已逾期 30 天以上、或为逾期的重大隐患、或未兑现隐患通报会整改承诺")
    _para(doc, f"根据用电安全“1+1+1”工作网协作书，截至{draft.issued_on:%Y年%m月%d日}，"
               f"{draft.scope}下列 {len(draft.hazards)} 项客户用电安全隐患（其中重大隐患 {majors} 项）{why}，"
               f"{urging(draft.hazards)}。建议贵单位依法对下列隐患实施"
               f"{RUNG_ZH[draft.rung]}，责成客户在建议督办期限（{_d(draft.term)}）前完成整改，"
               f"整改完成前落实临时防控措施，并将督办情况（督办单位、督办日期、督办期限）反馈供电企业，"
               f"供电企业将在隐患台账中记录并跟踪直至销号。", 12, indent=True)
    table = doc.add_table(rows=1, cols=len(LETTER_HEADERS))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, LETTER_HEADERS):
        _font(cell.paragraphs[0].add_run(text), 9, True)
    for row in letter_rows(draft):
        cells = table.add_row().cells
        for cell, text in zip(cells, row):
            _font(cell.paragraphs[0].add_run(text), 9)
    fix_widths(table, [Cm(w) for w in LETTER_WIDTHS_CM])
    _para(doc, "")
    if copy:
        _para(doc, f"抄送：{copy}", 11)
    _para(doc, "附：各隐患的整改期限变更记录见上表“延期次数及原因”一栏；未落实临时防控措施的隐患请督促客户立即落实。", 11)
    _para(doc, settings.company, 12, False, WD_ALIGN_PARAGRAPH.RIGHT)
    _para(doc, f"{draft.issued_on:%Y年%m月%d日}", 12, False, WD_ALIGN_PARAGRAPH.RIGHT)
    return write_atomically(path, doc.save)


def letter_mail(draft: LetterDraft, org_name: str, copy: bool, settings: Settings) -> tuple[str, str]:
    """(subject, body) of the mail that carries a letter; the body names each hazard by 隐患编号."""
    kind = RUNG_ZH[draft.rung]
    subject = f"{SUBJECT_PREFIX}《{LETTER_TITLE}》{draft.number}：{draft.scope} {len(draft.hazards)} 项隐患建议{kind}"
    lines = [f"{org_name}：", "",
             (f"（抄送）" if copy else "") +
             f"附件为《{LETTER_TITLE}》（{draft.number}），建议对{draft.scope}下列 {len(draft.hazards)} 项客户用电安全隐患"
             f"实施{kind}，建议督办期限 {_d(draft.term)}。", ""]
    for i, h in enumerate(draft.hazards, start=1):
        lines.append(f"{i}. {h.county} {h.customer_name}（户号 {h.customer_id}）隐患编号 {h.hazard_id}（{h.severity}）："
                     f"{h.description}")
        why = h.why or (f"逾期 {h.days_overdue} 天" if h.days_overdue else "")  # `why` names the days overdue
        notified = f"，{h.notice_date:%Y-%m-%d} 书面告知" if h.notice_date else "，尚未书面告知"
        lines.append(f"   整改期限 {_d(h.deadline)}{notified}；{why + '；' if why else ''}临时防控措施：{h.interim}")
    lines += ["", "请将督办情况（督办单位、督办日期、督办期限）反馈供电企业。本邮件由用电安全隐患台账系统自动发送，同一督办函只发送一次。",
              "", settings.mail_from_name, f"{draft.issued_on:%Y年%m月%d日}"]
    return subject, "\n".join(lines)


def letter_sms(draft: LetterDraft) -> str:
    """The SMS that says a letter was sent and how many hazards it names (signature added by the dispatcher)."""
    return (f"已向贵单位发送《{LETTER_TITLE}》{draft.number}，涉及{draft.scope}{len(draft.hazards)}项用电安全隐患"
            f"，建议{RUNG_ZH[draft.rung]}，详见邮件。")


# ---- reminders before the deadline ------------------------------------------------------------------
@dataclass(frozen=True)
class Reminder:
    """A customer's hazard in its `days_before`-days reminder; `days_left` to its deadline when the reminder is
    caught up after its own day (rules.reminder_due), else the same as `days_before`."""

    hazard: LetterHazard
    days_before: int
    days_left: int | None = None

    @property
    def left(self) -> int:
        return self.days_before if self.days_left is None else self.days_left

    @property
    def key(self) -> str:
        """The ledger period: county|hazard|reminder-N|deadline (a new deadline earns new reminders)."""
        h = self.hazard
        return f"{h.county}|{h.hazard_id}|reminder-{self.days_before}|{_d(h.deadline)}"


def reminder_mail(org_name: str, reminders: list[Reminder], as_of: dt.date, settings: Settings) -> tuple[str, str]:
    """(subject, body) of a customer's reminder; names each hazard by 隐患编号."""
    soonest = min(r.left for r in reminders)
    subject = (f"{SUBJECT_PREFIX}整改期限提醒：贵单位有 {len(reminders)} 项用电安全隐患将在 {soonest} 天后到期"
               f"（{org_name}）")
    lines = [f"{org_name}：", "",
             f"截至{as_of:%Y年%m月%d日}，贵单位下列用电安全隐患即将到达整改期限，请按期完成整改并将整改情况反馈所在地供电公司；"
             f"逾期未整改的将按用电安全“1+1+1”工作网协作书提请政府主管部门督办。", ""]
    for i, r in enumerate(reminders, start=1):
        h = r.hazard
        lines.append(f"{i}. 隐患编号 {h.hazard_id}（{h.severity}）：{h.description}")
        lines.append(f"   整改期限 {_d(h.deadline)}（还有 {r.left} 天）；临时防控措施：{h.interim}")
    lines += ["", settings.mail_from_name, f"{as_of:%Y年%m月%d日}"]
    return subject, "\n".join(lines)


def reminder_sms(org_name: str, reminders: list[Reminder]) -> str:
    """The reminder's SMS (signature added by the dispatcher): the hazard ids, as many as fit."""
    org = org_name if len(org_name) <= 16 else org_name[:15] + "…"
    ids = "、".join(r.hazard.hazard_id for r in reminders[:3]) + (f"等{len(reminders)}项" if len(reminders) > 3 else "")
    soonest = min(r.left for r in reminders)
    return f"整改期限提醒：{org}隐患{ids}将在{soonest}天内到期，请按期整改，详见邮件。"
