"""The quarter's mail to the three parties (rendered here, sent by the quarterly job through the dispatcher): a county's government authority and supply company get
its workbook and briefing deck, prefecture-level recipients the prefecture's, a customer a workbook of its own
hazards and no deck (a deck names other customers). Each at most once per quarter (ledger kind "quarterly")."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from hazardnet.delivery.letter import SUBJECT_PREFIX, Letter, mail_signature
from hazardnet.publish.quarterly import Quarter, QuarterData, customer_summary
from hazardnet.publish.quarterly_workbook import QuarterlyWorkbook, write_summary
from hazardnet.settings import Settings

QUARTERLY_KIND = "quarterly"
MEETING_DAY = 10  # the quarterly meeting is held before the 10th of the month after the quarter


def book_for(recipient, books: list[QuarterlyWorkbook]) -> QuarterlyWorkbook | None:
    """The workbook an authority or supply company gets: its county's, or the prefecture's for
    prefecture-level units. Customers get their own (see `customer_book`)."""
    from schemas.vocab import PARTY_CUSTOMER

    if recipient.party == PARTY_CUSTOMER:
        return None
    scope = "prefecture" if recipient.county is None else "county"
    return next((b for b in books if b.scope == scope and (scope == "prefecture" or b.county == recipient.county)),
                None)


def customer_book(data: QuarterData, settings: Settings, recipient) -> QuarterlyWorkbook | None:
    """Write the customer's own quarterly workbook (its hazards only; no deck), or None when it has none
    this quarter."""
    if not recipient.county or not recipient.customer_id:
        return None
    s = customer_summary(data, settings, recipient.county, recipient.customer_id)
    if s is None:
        return None
    s.scope_name = recipient.org_name or s.scope_name
    return write_summary(s, settings, customer_id=recipient.customer_id)


def quarterly_mail_text(recipient, book: QuarterlyWorkbook, quarter: Quarter, settings: Settings) -> tuple[str, str]:
    """(subject, body) of the mail carrying a quarterly summary."""
    from schemas.vocab import PARTY_CUSTOMER, PARTY_GOV, PARTY_UTILITY

    f = book.figures
    subject = f"{SUBJECT_PREFIX}{quarter.title}电力安全隐患治理情况汇总（{book.name}）"
    start = quarter.next().start
    meeting = dt.date(start.year, start.month, MEETING_DAY)  # the 协作书's "before the 10th"
    if book.as_of is not None and book.as_of > meeting:  # sent after the meeting's deadline: no request for it
        when = (f"季度隐患通报会的召开期限（{meeting:%Y年%m月%d日}）已过；附件中的“通报清单”工作表已按 A3 横向设置，"
                f"可直接打印，供跟踪整改和存档。")
        deck = "附件另有隐患通报会演示文稿（PPT，图表可在 PowerPoint / WPS 中编辑）。"
        commit = "并向所在地供电公司书面明确整改期限。"
        prepare = "请据此跟踪服务直至隐患销号。"
    else:
        when = f"季度隐患通报会请于 {meeting:%Y年%m月%d日}前召开；附件中的“通报清单”工作表已按 A3 横向设置，可直接打印作为会议材料。"
        deck = "附件另有隐患通报会演示文稿（PPT，图表可在 PowerPoint / WPS 中编辑），可直接用于季度隐患通报会。"
        commit = "并在季度隐患通报会上明确整改期限。"
        prepare = "请据此准备季度隐患通报会材料，并跟踪服务直至隐患销号。"
    rate = "—" if f.get("remediation_rate") is None else f"{f['remediation_rate']:.1%}"
    ask = {PARTY_CUSTOMER: f"请贵单位对照通报清单逐项落实整改，{commit}",
           PARTY_GOV: "请贵单位对“逾期督办”工作表所列尚未整改的隐患予以督办（季度结束后已报告整改的除外），"
                      "并督促客户按期整改。",
           PARTY_UTILITY: prepare}.get(recipient.party, "")
    lines = [f"{recipient.org_name}：", "",
             f"现将{book.name}{quarter.title}电力安全隐患治理情况汇总发送给贵单位"
             f"（统计期间 {quarter.start:%Y年%m月%d日}至{quarter.end:%Y年%m月%d日}，"
             f"数据截至{book.as_of:%Y年%m月%d日}）。", "",
             f"季初未整改 {f['open_at_start']} 项，本季度新发现 {f['found']} 项，本季度报告已整改 {f['remediated']} 项，"
             f"季末未整改 {f['open_at_end']} 项（其中逾期 {f['overdue_at_end']} 项），整改率 {rate}。", "",
             when,
             *([deck] if book.deck else []), ask, "", *mail_signature(settings),
             f"本邮件由用电安全“1+1+1”工作网隐患台账系统自动发送；如有疑问，请回复 {settings.mail_from}。"]
    return subject, "\n".join(lines)


def quarterly_files(book: QuarterlyWorkbook) -> list[Path]:
    """What the mail of `book` attaches: the workbook and the briefing deck of its scope, if any."""
    return [Path(book.path), *([Path(book.deck)] if book.deck else [])]


def quarterly_letter(recipient, book: QuarterlyWorkbook, quarter: Quarter, settings: Settings) -> Letter:
    """The mail carrying `book` (and its deck) to `recipient`."""
    subject, body = quarterly_mail_text(recipient, book, quarter, settings)
    return Letter(subject, body, files=[(f.name, f) for f in quarterly_files(book)],
                  file_stem=f"{quarter.label}_{Path(book.path).stem}")
