"""Risk warnings (风险预警): overdue hazards, and major hazards without a deadline, mailed to the customer
and its county's government authority — each warning once per recipient.

Which hazards, on report date `as_of` (register as the store stood on that day, each hazard at its current
deadline — a meeting commitment included, `rules.with_current_deadlines` — then `rules.with_derived(df, as_of)`,
so "overdue" means exactly what the consolidated register, the bulletins and the supervision ladder say):

- stage **overdue (逾期预警)**: overdue and fewer than `ESCALATION_DAYS` days past the deadline;
- stage **escalated (逾期升级预警)**: overdue by `ESCALATION_DAYS` days or more. It also goes to the
  prefecture-level government authority (州能源局): escalation means one level up;
- stage **no_deadline (未明确整改期限预警)**: a major (重大) hazard that is not remediated and has no deadline.

A warning is identified by county, hazard id, stage and the deadline it refers to — a new deadline (an
agreed extension) that passes again earns a new warning. Each (warning, recipient) pair is a row of the
delivery ledger (kind "warning"), so re-running the same day, or every day, never repeats a warning; a
run that missed days sends the stage that applies now (a hazard first seen 40 days overdue gets the
escalation, not both). One message per recipient and run carries all its new warnings; a customer's
message names only its own hazards (`rules.scoped`).

The same warnings go by SMS to each recipient with a mobile: one short text per recipient and run (at most
140 characters, 70 where it fits), naming only that recipient's scope — a customer its own hazard ids, an
authority its county and counts. The ledger keeps mail and SMS apart (channel), each once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import pandas as pd

from hazardnet import rules
from hazardnet.delivery.directory import Recipient
from hazardnet.delivery.letter import SMS_MAX_CHARS, SMS_SINGLE_CHARS, Letter, fit, sms_text
from hazardnet.settings import Settings
from hazardnet.store import Store
from schemas.vocab import MAJOR_SEVERITY, PARTY_CUSTOMER, PARTY_GOV

KIND = "warning"
ESCALATION_DAYS = 30
OVERDUE, ESCALATED, NO_DEADLINE = "overdue", "escalated", "no_deadline"
STAGE_ZH = {OVERDUE: "逾期预警", ESCALATED: "逾期升级预警", NO_DEADLINE: "未明确整改期限预警"}
SUBJECT_PREFIX = "【用电安全1+1+1工作网】"


@dataclass(frozen=True)
class HazardWarning:
    """One warning about one hazard at one stage."""

    county: str
    customer_id: str
    customer_name: str
    customer_grade: str | None
    hazard_id: str
    severity: str
    category: str | None
    description: str
    found_date: dt.date | None
    deadline: dt.date | None
    days_overdue: int | None
    status: str
    owner: str | None
    gov_supervised: str | None
    absent: bool
    stage: str

    @property
    def key(self) -> str:
        """The ledger period of this warning: county|hazard|stage|deadline."""
        return f"{self.county}|{self.hazard_id}|{self.stage}|{self.deadline.isoformat() if self.deadline else '-'}"

    @property
    def digest(self) -> str:
        return hashlib.sha256(f"{self.key}|{self.status}|{self.description}".encode()).hexdigest()

    @property
    def reason(self) -> str:
        """One Chinese sentence: why this hazard is warned about."""
        if self.stage == NO_DEADLINE:
            return f"重大隐患未明确整改期限（{self.status}）"
        return f"整改期限 {self.deadline:%Y-%m-%d} 已过，逾期 {self.days_overdue} 天仍{self.status}"

    def as_json(self) -> dict:
        d = asdict(self)
        d.update(key=self.key, reason=self.reason, stage_name=STAGE_ZH[self.stage])
        return d


def _text(v) -> str | None:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    return str(v)


def stage_of(row: dict) -> str | None:
    """The warning stage a hazard (a row with rules.with_derived's columns) is at, or None."""
    if rules.is_closed(row):  # 已整改, unless a failed re-inspection reopened it
        return None
    if bool(row["overdue"]):
        return ESCALATED if int(row["days_overdue"]) >= ESCALATION_DAYS else OVERDUE
    if row["severity"] == MAJOR_SEVERITY and _text(row["deadline"]) is None:
        return NO_DEADLINE
    return None


def due_warnings(register: pd.DataFrame, as_of: dt.date, histories: dict | None = None,
                 counties: Sequence[str] = ()) -> list[HazardWarning]:
    """Every warning that applies on `as_of` to the register (as from store.register_as_of(as_of)), each hazard
    at its current deadline (`histories`, from Store.deadline_histories: a meeting commitment moves it); in the
    configured county order (`counties`, settings.counties; other counties after them, by name), then most
    urgent first within a county."""
    if not len(register):
        return []
    df = rules.with_derived(rules.with_current_deadlines(register, histories or {}), as_of)
    out = []
    for rec in df.to_dict("records"):
        stage = stage_of(rec)
        if stage is None:
            continue
        days = rec["days_overdue"]
        out.append(HazardWarning(
            county=rec["county"], customer_id=str(rec["customer_id"]), customer_name=_text(rec["customer_name"]) or "",
            customer_grade=_text(rec["customer_grade"]), hazard_id=str(rec["hazard_id"]), severity=rec["severity"],
            category=_text(rec["category"]), description=_text(rec["description"]) or "",
            found_date=rec["found_date"], deadline=rec["deadline"],
            days_overdue=None if days is None or pd.isna(days) else int(days), status=rec["status"],
            owner=_text(rec["owner"]), gov_supervised=_text(rec["gov_supervised"]), absent=bool(rec["absent"]),
            stage=stage))
    rank = {ESCALATED: 0, NO_DEADLINE: 1, OVERDUE: 2}
    county = rules.county_order(counties)
    return sorted(out, key=lambda w: (county(w.county), rank[w.stage], w.severity != MAJOR_SEVERITY,
                                      -(w.days_overdue or 0), w.customer_id, w.hazard_id))


def warnings_on(store: Store, as_of: dt.date, counties: Sequence[str] = ()) -> list[HazardWarning]:
    """The warnings due on `as_of`, from the register as the store stood that day and the meeting's commitments,
    in the county order `counties` (settings.counties)."""
    return due_warnings(store.register_as_of(as_of), as_of, store.deadline_histories(as_of, differing_only=True),
                        counties)


def _frame(warnings: list[HazardWarning]) -> pd.DataFrame:
    return pd.DataFrame([{"county": w.county, "customer_id": w.customer_id, "_i": i} for i, w in enumerate(warnings)],
                        columns=["county", "customer_id", "_i"])


def warnings_for(recipient: Recipient, warnings: list[HazardWarning]) -> list[HazardWarning]:
    """The warnings `recipient` gets: a customer its own hazards; a county authority its county's; a
    prefecture-level authority only escalations (everything would drown the escalations it must act on)."""
    if recipient.party not in (PARTY_CUSTOMER, PARTY_GOV):
        return []
    visible = [warnings[i] for i in rules.scoped(_frame(warnings), recipient)["_i"]]
    if recipient.party == PARTY_GOV and recipient.county is None:
        return [w for w in visible if w.stage == ESCALATED]
    return visible


def plan(recipients: list[Recipient], warnings: list[HazardWarning]) -> list[tuple[Recipient, list[HazardWarning]]]:
    """(recipient, its warnings) for every recipient with at least one warning."""
    return [(r, mine) for r in recipients if (mine := warnings_for(r, warnings))]


def unreachable_customers(recipients: list[Recipient], warnings: list[HazardWarning]) -> list[HazardWarning]:
    """Warnings whose customer has no entry in the directory (their county authority still gets them)."""
    listed = {(r.county, r.customer_id) for r in recipients if r.party == PARTY_CUSTOMER}
    return [w for w in warnings if (w.county, w.customer_id) not in listed]


# ---- the message ------------------------------------------------------------------------------
def message_text(recipient: Recipient, warnings: list[HazardWarning], as_of: dt.date, settings: Settings) -> tuple[str, str]:
    """(subject, body) of a warning message in Chinese."""
    escalated = any(w.stage == ESCALATED for w in warnings)
    kind = "逾期升级预警" if escalated else "风险预警"
    if recipient.party == PARTY_CUSTOMER:
        subject = f"{SUBJECT_PREFIX}{kind}：贵单位有 {len(warnings)} 项用电安全隐患需立即整改（{recipient.org_name}）"
        opening = (f"{recipient.org_name}：\n\n根据用电安全“1+1+1”工作网协作书，贵单位下列用电安全隐患已超过整改期限"
                   f"或尚未明确整改期限，请立即落实整改责任、措施、资金、期限和应急预案，并将整改情况书面反馈所在地供电公司。")
    else:
        where = recipient.county or settings.prefecture
        subject = f"{SUBJECT_PREFIX}{kind}：{where} {len(warnings)} 项用电安全隐患需督促整改"
        opening = (f"{recipient.org_name}：\n\n截至{as_of:%Y年%m月%d日}，{where}下列客户用电安全隐患已超过整改期限"
                   f"或尚未明确整改期限，提请督促客户整改（政府督办）。")
    lines = [opening, ""]
    for n, w in enumerate(warnings, start=1):
        lines.append(f"{n}. 【{STAGE_ZH[w.stage]}】{w.county} {w.customer_name}（户号 {w.customer_id}）")
        lines.append(f"   隐患编号：{w.hazard_id}；隐患等级：{w.severity}；隐患类别：{w.category or '—'}")
        lines.append(f"   隐患描述：{w.description}")
        found = f"{w.found_date:%Y-%m-%d}" if w.found_date else "—"
        deadline = f"{w.deadline:%Y-%m-%d}" if w.deadline else "未明确"
        lines.append(f"   发现日期：{found}；整改期限：{deadline}")
        lines.append(f"   情况：{w.reason}；整改责任人：{w.owner or '未明确'}；政府督办：{w.gov_supervised or '否'}")
        if w.absent:
            lines.append("   注：该隐患未出现在县(市)供电公司最新报送的台账中，按最后一次报送的状态预警，请核实。")
        lines.append("")
    lines += ["本邮件由用电安全隐患台账系统自动发送，同一预警只发送一次；逾期满 30 天仍未整改的将升级预警。",
              "", settings.mail_from_name, f"{as_of:%Y年%m月%d日}"]
    return subject, "\n".join(lines)


def sms_body(recipient: Recipient, warnings: list[HazardWarning], settings: Settings) -> str:
    """The text message of a warning (signature included): ≤ 140 characters, ≤ 70 where it fits."""
    escalated = any(w.stage == ESCALATED for w in warnings)
    kind = "逾期升级预警" if escalated else "风险预警"
    if all(w.stage == NO_DEADLINE for w in warnings):
        why = "为重大隐患且未明确整改期限"
    elif any(w.stage == NO_DEADLINE for w in warnings):
        why = "已逾期或未明确整改期限"
    else:
        why = "已超过整改期限"
    if recipient.party == PARTY_CUSTOMER:
        org = recipient.org_name if len(recipient.org_name) <= 16 else recipient.org_name[:15] + "…"
        head = f"{kind}：{org}有{len(warnings)}项用电安全隐患{why}"
        tail = "，请立即整改并反馈供电公司，详见邮件。"
        ids = [w.hazard_id for w in warnings]
        need = len(ids[0]) + (len(f"等{len(ids)}项") if len(ids) > 1 else 0)  # at least one id, named whole
        for limit in (SMS_SINGLE_CHARS, SMS_MAX_CHARS):  # one part where it fits, else two
            room = limit - len(settings.sms_signature) - len(head) - len(tail) - len("（编号）")
            if room >= need:
                return sms_text(settings, f"{head}（编号{fit(ids, room)}）{tail}")
        return sms_text(settings, f"{head}{tail}")
    where = recipient.county or settings.prefecture
    customers = len({(w.county, w.customer_id) for w in warnings})
    return sms_text(settings, f"{kind}：{where}{customers}户客户共{len(warnings)}项用电安全隐患{why}，请督促整改，详见邮件。")


def message_stem(recipient: Recipient, as_of: dt.date) -> str:
    """The file name of a recipient's warning (.eml, or the SMS in outbox/sms)."""
    return f"风险预警_{as_of:%Y%m%d}_{recipient.county_label}_{recipient.customer_id or recipient.org_name}"


def warning_letter(recipient: Recipient, warnings: list[HazardWarning], as_of: dt.date, settings: Settings) -> Letter:
    """The mail carrying `warnings` to `recipient`."""
    subject, body = message_text(recipient, warnings, as_of, settings)
    return Letter(subject, body, file_stem=message_stem(recipient, as_of))
