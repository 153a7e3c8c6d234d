"""Grid risk warnings (电网风险预警): the supply company tells the customers and authorities of some counties
that the grid runs at risk for a while (a 330 kV line out for maintenance, an area fed by one line), so that
important customers ready their emergency power.

Every recipient of those counties and every prefecture-level recipient gets it by mail and, with a mobile,
by SMS. The warning is identified by its counties and its text: the same warning is sent once per
(recipient, channel) however often it is started; a corrected text is a new warning.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from hazardnet.delivery.directory import Recipient
from hazardnet.delivery.letter import SMS_MAX_CHARS, SUBJECT_PREFIX, Letter, mail_signature
from hazardnet.settings import Settings

KIND = "grid"


@dataclass(frozen=True)
class GridWarning:
    """One grid risk warning: the counties it concerns (in the configured order) and its text."""

    counties: tuple[str, ...]
    text: str
    # by line or substation (grid_lines): the names given, the counties named whole (--county) and the customers
    # fed: (county, customer_id, customer_name, why)
    lines: tuple[str, ...] = ()
    substations: tuple[str, ...] = ()
    whole_counties: tuple[str, ...] = ()
    customers: tuple[tuple[str, str, str, str], ...] = ()

    @property
    def by_line(self) -> bool:
        return bool(self.lines or self.substations)

    @property
    def area(self) -> str:
        return "、".join([*self.lines, *self.substations] or self.counties)

    @property
    def digest(self) -> str:
        basis = [list(self.counties), self.text]
        if self.by_line:
            basis += [list(self.lines), list(self.substations), list(self.whole_counties)]
        return hashlib.sha256(json.dumps(basis, ensure_ascii=False).encode()).hexdigest()

    @property
    def key(self) -> str:
        """The ledger period: the same counties and text are the same warning."""
        return f"grid|{self.digest[:32]}"

    def as_json(self) -> dict:
        out = {"counties": list(self.counties), "text": self.text, "key": self.key}
        if self.by_line:
            out.update(lines=list(self.lines), substations=list(self.substations),
                       customers=[{"county": c, "customer_id": i, "customer_name": n, "reason": why}
                                  for c, i, n, why in self.customers])
        return out


def sms_prefix(settings: Settings, counties: Sequence[str]) -> str:
    return f"{settings.sms_signature}电网风险预警（{'、'.join(counties)}）："


def grid_warning(settings: Settings, counties: Sequence[str], text: str, *, lines: Sequence[str] = (),
                 substations: Sequence[str] = (), files=None) -> GridWarning:
    """The warning for these counties (or lines/substations, whose customers `files` — county -> customer-file
    rows — tells) and text; ValueError with a Chinese sentence when they cannot be sent."""
    lines = tuple(dict.fromkeys(x.strip() for x in lines or () if x and x.strip()))
    substations = tuple(dict.fromkeys(x.strip() for x in substations or () if x and x.strip()))
    if lines or substations:
        return _by_line(settings, counties or (), text, lines, substations, files)
    wanted = [c.strip() for c in counties if c and c.strip()]
    if not wanted:
        raise ValueError("请至少指定一个涉及的县(市)、线路或变电站。")
    unknown = [c for c in wanted if c not in settings.counties]
    if unknown:
        raise ValueError(f"县(市)“{'、'.join(unknown)}”不是已配置的县(市)（{'、'.join(settings.counties)}）。")
    ordered = tuple(c for c in settings.counties if c in wanted)
    body = " ".join((text or "").split())  # one line: an SMS has no paragraphs
    if not body:
        raise ValueError("预警内容为空，请写明电网风险（时段、范围、请客户做好的准备）。")
    room = SMS_MAX_CHARS - len(sms_prefix(settings, ordered))
    if len(body) > room:
        raise ValueError(f"预警内容 {len(body)} 字，超过短信可容纳的 {room} 字（含签名与县(市)共 {SMS_MAX_CHARS} 字），"
                         f"请精简。")
    return GridWarning(ordered, body)


def _by_line(settings: Settings, counties: Sequence[str], text: str, lines: tuple[str, ...],
             substations: tuple[str, ...], files) -> GridWarning:
    """A warning by line/substation: the counties of the customers fed (plus any named whole)."""
    from hazardnet.publish.grid_lines import fed_customers

    whole = grid_warning(settings, counties, text) if [c for c in counties if c and c.strip()] else None
    fed = tuple(fed_customers(files, lines, substations)) if files is not None else ()
    named = " ".join((text or "").split())
    if files is not None and not fed and whole is None:
        raise ValueError(f"没有哪个客户的客户档案（一户一档）写明供电线路或所属变电站为“{'、'.join([*lines, *substations])}”，"
                         f"未发送。请核对名称，或先报送客户档案。")
    reached = {c[0] for c in fed} | set(whole.counties if whole else ())
    ordered = tuple(c for c in settings.counties if c in reached)
    if not named:
        raise ValueError("预警内容为空，请写明电网风险（时段、范围、请客户做好的准备）。")
    room = SMS_MAX_CHARS - len(sms_prefix(settings, ordered or ("",)))
    if len(named) > room:
        raise ValueError(f"预警内容 {len(named)} 字，超过短信可容纳的 {room} 字（含签名与县(市)共 {SMS_MAX_CHARS} 字），请精简。")
    return GridWarning(ordered, named, lines, substations, whole.counties if whole else (), fed)


def grid_recipients(recipients: Sequence[Recipient], warning: GridWarning) -> list[Recipient]:
    """Every recipient of the warning's counties and every prefecture-level one; for a warning by line or
    substation, only the customers fed, their counties' authorities and supply companies and the prefecture."""
    if warning.by_line:
        from hazardnet.publish.grid_lines import reached

        return [r for r in recipients if reached(r, warning.whole_counties, warning.customers) is not None]
    return [r for r in recipients if r.county is None or r.county in warning.counties]


def sms_body(warning: GridWarning, settings: Settings) -> str:
    return sms_prefix(settings, warning.counties) + warning.text


def mail_body(recipient: Recipient, warning: GridWarning, settings: Settings, day: dt.date) -> str:
    return "\n".join([
        f"{recipient.org_name}：", "",
        f"{settings.company}发布电网风险预警，涉及：{warning.area}。", "",
        warning.text, "",
        "请重要客户做好自备应急电源、保安负荷和应急预案的检查与准备；政府主管部门请督促相关客户落实。",
        "如有疑问，请联系所在地县(市)供电公司。", "",
        *mail_signature(settings), f"{day:%Y年%m月%d日}", "",
        "本邮件由用电安全“1+1+1”工作网系统自动发送，同一预警只发送一次。"])


def grid_letter(recipient: Recipient, warning: GridWarning, settings: Settings, day: dt.date) -> Letter:
    """The mail carrying the warning to `recipient`."""
    return Letter(f"{SUBJECT_PREFIX}电网风险预警：{warning.area}", mail_body(recipient, warning, settings, day),
                  file_stem=f"电网风险预警_{day:%Y%m%d}_{recipient.county_label}_{recipient.org_name}")


def sms_stem(recipient: Recipient, day: dt.date) -> str:
    """The file name of the warning's SMS in outbox/sms."""
    return f"电网风险预警_{day:%Y%m%d}_{recipient.org_name}"


def grid_result(warning: GridWarning, day: dt.date, directory, deliveries: list[dict]) -> dict:
    if warning.by_line:  # who was reached and why (which line or substation)
        from hazardnet.publish.grid_lines import reason_of_record

        deliveries = [{**d, "reason": reason_of_record(d, warning.whole_counties, warning.customers)}
                      for d in deliveries]
    return {"warning": warning.as_json(), "date": day.isoformat(), "deliveries": deliveries,
            "directory": {"source": directory.source, "file": directory.file_name, "report": directory.report,
                          "left_out": list(directory.left_out),
                          "findings": [f.as_json() for f in directory.findings]}}
