"""Joint-drill reminders (联合应急演练到期提醒): what a customer whose drill year runs out soon, and its county
supply company, are told by mail and SMS. Renders only; the customer-checks job sends through the dispatcher."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence

from hazardnet.delivery.dispatch import Letter
from hazardnet.delivery.directory import Recipient
from hazardnet.delivery.letter import mail_signature
from schemas.vocab import PARTY_CUSTOMER, PARTY_UTILITY

SUBJECT_PREFIX = "【用电安全1+1+1工作网】"  # as delivery.mail (which renderers do not import)
KIND = "drill"


def _item(d: dict) -> tuple[str, str]:
    """The ledger item of one customer's reminder: one per customer and drill year."""
    period = f"drill|{d['county']}|{d['customer_id']}|{d['due']:%Y-%m-%d}"
    return period, hashlib.sha256(period.encode()).hexdigest()


def _line(d: dict) -> str:
    return (f"{d['customer_name']}（户号 {d['customer_id']}）：最近一次联合应急演练 {d['last']:%Y-%m-%d}，"
            f"须在 {d['due']:%Y-%m-%d} 前再次开展")


def reminder_dispatches(settings, recipients: Sequence[Recipient], due: list[dict], as_of: dt.date):
    """(recipient, kind, items, letter, text, file stem) for each customer due and each county supply company with due
    customers; a customer hears only of itself."""
    out = []
    for r in recipients:
        if r.party == PARTY_CUSTOMER:
            mine = [d for d in due if d["county"] == r.county and d["customer_id"] == r.customer_id]
        elif r.party == PARTY_UTILITY and r.county is not None:
            mine = [d for d in due if d["county"] == r.county]
        else:
            continue
        if not mine:
            continue
        by_period = {_item(d)[0]: d for d in mine}
        stem = f"演练到期提醒_{as_of:%Y%m%d}_{r.county_label}_{r.org_name}"  # .eml and SMS

        def letter(periods, r=r, by_period=by_period, stem=stem) -> Letter:
            lines = [_line(by_period[p]) for p in periods]
            return Letter(subject=f"{SUBJECT_PREFIX}联合应急演练即将到期（{r.county_label}）",
                          body="\n".join([f"{r.org_name}：", "",
                                          "根据协作书，重要客户每年至少开展一次政府、客户、供电企业联合应急演练。以下客户的演练即将到期：",
                                          "", *[f"- {x}" for x in lines], "",
                                          "请及时与县(市)供电公司和政府主管部门商定演练时间，演练后将记录报送到联合应急演练记录表。", "",
                                          *mail_signature(settings), f"{as_of:%Y年%m月%d日}", "",
                                          "本邮件由用电安全“1+1+1”工作网系统自动发送，同一提醒只发送一次。"]),
                          file_stem=stem)

        def text(periods, by_period=by_period) -> str:
            ds = [by_period[p] for p in periods]
            if len(ds) == 1:
                d = ds[0]
                return f"联合应急演练即将到期：{d['customer_name']}须在{d['due']:%Y-%m-%d}前开展，详见邮件。"
            return f"联合应急演练即将到期：{len(ds)}户须在{min(d['due'] for d in ds):%Y-%m-%d}起陆续开展，详见邮件。"

        out.append((r, KIND, [_item(d) for d in mine], letter, text, stem))
    return out
