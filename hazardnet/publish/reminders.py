"""What a county supply company is told about its own county's hazards that wait on it: re-inspection due
(待复查 more than `reinspection_days` days: 已整改 without a passing re-inspection) and hazards found more than
`notice_days` days ago without a written notice (未书面告知). Renders mail and SMS; never sends."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from hazardnet.delivery.dispatch import Letter
from hazardnet.delivery.letter import SMS_MAX_CHARS, SMS_SINGLE_CHARS, fit, sms_text
from hazardnet.settings import Settings

SUBJECT_PREFIX = "【用电安全1+1+1工作网】"
REINSPECTION, UNNOTIFIED = "reinspection", "unnotified"
KIND_ZH = {REINSPECTION: "隐患待复查提醒", UNNOTIFIED: "隐患未书面告知提醒"}


@dataclass(frozen=True)
class Reminder:
    """One hazard a county supply company must act on."""

    kind: str  # reinspection | unnotified
    county: str
    hazard_id: str
    customer_id: str
    customer_name: str
    severity: str | None
    description: str
    found_date: dt.date | None
    completed_date: dt.date | None
    days: int  # days since 完成日期 (reinspection) or since 发现日期 (unnotified)
    notice_number: str | None = None

    @property
    def period(self) -> str:
        """The ledger period: one reminder per hazard (and per claimed completion for a re-inspection)."""
        if self.kind == REINSPECTION:
            return f"{self.county}|{self.hazard_id}|{self.completed_date.isoformat() if self.completed_date else '-'}"
        return f"{self.county}|{self.hazard_id}"

    @property
    def reason(self) -> str:
        if self.kind == REINSPECTION:
            return f"{self.completed_date:%Y-%m-%d} 报告已整改，{self.days} 天仍未复查销号"
        extra = f"（已签发通知书 {self.notice_number}，尚未登记送达）" if self.notice_number else ""
        return f"{self.found_date:%Y-%m-%d} 发现，{self.days} 天仍未书面告知客户{extra}"

    def as_json(self) -> dict:
        d = asdict(self)
        for k in ("found_date", "completed_date"):
            d[k] = d[k].isoformat() if d[k] else None
        d.update(period=self.period, reason=self.reason, kind_name=KIND_ZH[self.kind])
        return d


def reminder_stem(kind: str, county: str, org_name: str, as_of: dt.date) -> str:
    """The file name of a county's reminder (.eml, or the SMS in outbox/sms): <类别>_<date>_<县(市)>_<单位>."""
    return f"{KIND_ZH[kind]}_{as_of:%Y%m%d}_{county}_{org_name}"


def reminder_letter(kind: str, county: str, org_name: str, reminders: Sequence[Reminder], as_of: dt.date,
                    days: int) -> Letter:
    """One mail to one county supply company naming each hazard by 隐患编号."""
    if kind == REINSPECTION:
        head = (f"以下 {len(reminders)} 项隐患客户已报告整改完成超过 {days} 天，尚无复查合格记录。请按销号规定尽快组织现场"
                f"复查（验收），复查合格的在台账中填写复查日期、复查人（不得为客户整改责任人）和复查结论“合格”后销号；"
                f"复查不合格的填写“不合格”，隐患重新计为整改中。")
    else:
        head = (f"以下 {len(reminders)} 项隐患发现已超过 {days} 天，台账中尚无告知日期。请向客户送达《用电安全隐患整改"
                f"通知书》（hazardnet notices），并在台账中登记告知日期和签收人。")
    lines = [f"{org_name}：", "", f"    {head}", ""]
    for r in reminders:
        lines.append(f"  {r.hazard_id}  {r.customer_name}（户号 {r.customer_id}）{r.severity or ''} "
                     f"{r.description}——{r.reason}")
    lines += ["", f"数据截至 {as_of:%Y-%m-%d}。"]
    return Letter(subject=f"{SUBJECT_PREFIX}{county}{KIND_ZH[kind]}（{len(reminders)} 项）", body="\n".join(lines),
                  file_stem=reminder_stem(kind, county, org_name, as_of))


def reminder_sms(kind: str, county: str, reminders: Sequence[Reminder], days: int, settings: Settings) -> str:
    """The SMS (signature included): how many hazards, as many 隐患编号 as fit whole (the mail names them all) and
    the pointer to the mail; one part (70 characters) where that fits, never more than two (140)."""
    what = f"已整改超过{days}天未复查销号" if kind == REINSPECTION else f"发现超过{days}天未书面告知"
    head, tail = f"{county}有{len(reminders)}项隐患{what}", "。详见邮件。"
    ids = [r.hazard_id for r in reminders]
    need = len(ids[0]) + (len(f"等{len(ids)}项") if len(ids) > 1 else 0)  # at least one id, named whole
    for limit in (SMS_SINGLE_CHARS, SMS_MAX_CHARS):
        room = limit - len(settings.sms_signature) - len(head) - len(tail) - len("：")
        if room >= need:
            return sms_text(settings, f"{head}：{fit(ids, room)}{tail}")
    return sms_text(settings, f"{head}{tail}")
