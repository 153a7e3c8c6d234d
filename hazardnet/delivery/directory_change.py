"""A changed directory (通讯录) is announced before it is used: the directory decides who receives every
customer's hazards, so whoever changes it — by mistake or not — is seen by the prefecture supply company.
The change (parties added and removed, addresses and mobiles added and removed, 全州 first) is mailed to the
prefecture supply company's addresses of the *previous* version (an attacker who replaces the file cannot
redirect the notice too). The new version is stored (and used) only once every notice was handed over, so
each goes out once per version; a retry after a partial failure carries the same Message-ID."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from hazardnet.delivery.letter import SUBJECT_PREFIX, mail_signature
from hazardnet.delivery.mail import MailError, Transport, build_message, mail_domain
from hazardnet.settings import Settings

# Recipient (hazardnet.delivery.directory) is only named here: the directory module calls this one
from schemas.vocab import PARTY_UTILITY, WHOLE_PREFECTURE

KIND = "directory-change"


@dataclass
class PartyChange:
    """What changed for one recipient unit (a party of a county, or of the whole prefecture)."""

    county: str
    party: str
    name: str
    what: str  # 新增 | 删除 | 变更
    addresses_added: list[str] = field(default_factory=list)
    addresses_removed: list[str] = field(default_factory=list)
    mobiles_added: list[str] = field(default_factory=list)
    mobiles_removed: list[str] = field(default_factory=list)


class DirectoryChangeNotMailed(Exception):
    """The change notice could not be delivered to every previous prefecture supply-company address."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def directory_changes(previous: list[Recipient], current: list[Recipient], settings: Settings) -> list[PartyChange]:
    """Per recipient unit: added, removed, or its addresses / mobiles changed; 全州 first, then the counties in
    their configured order."""
    before = {r.key: r for r in previous}
    after = {r.key: r for r in current}
    changes: list[PartyChange] = []
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key), after.get(key)
        r = new or old
        assert r is not None
        if old is None:
            changes.append(PartyChange(r.county_label, r.party, r.org_name, "新增", list(new.addresses), [],
                                       list(new.mobiles), []))
        elif new is None:
            changes.append(PartyChange(r.county_label, r.party, r.org_name, "删除", [], list(old.addresses), [],
                                       list(old.mobiles)))
        else:
            change = PartyChange(r.county_label, r.party, r.org_name, "变更",
                                 [a for a in new.addresses if a not in old.addresses],
                                 [a for a in old.addresses if a not in new.addresses],
                                 [m for m in new.mobiles if m not in old.mobiles],
                                 [m for m in old.mobiles if m not in new.mobiles])
            if change.addresses_added or change.addresses_removed or change.mobiles_added or change.mobiles_removed:
                changes.append(change)
    order = {c: i for i, c in enumerate([WHOLE_PREFECTURE, *settings.counties])}
    return sorted(changes, key=lambda c: (order.get(c.county, len(order)), c.county, c.party, c.name))


def change_notice_body(changes: list[PartyChange], file_name: str, recipient: Recipient, settings: Settings) -> str:
    """The notice's text: one paragraph per changed unit, 全州 first."""
    lines = [f"{recipient.org_name}：", "",
             f"通讯录《{file_name}》已更新，共 {len(changes)} 个收件单位有变化。新通讯录在本通知发出后才用于发送；"
             "如非贵单位安排的修改，请立即核实并恢复。", ""]
    for i, c in enumerate(changes, 1):
        lines.append(f"{i}. {c.county} {c.party} {c.name}：{c.what}")
        for label, values in (("新增邮箱", c.addresses_added), ("删除邮箱", c.addresses_removed),
                              ("新增手机", c.mobiles_added), ("删除手机", c.mobiles_removed)):
            if values:
                lines.append(f"   {label}：{'、'.join(values)}")
    lines += ["", *mail_signature(settings), "本邮件由隐患台账系统自动发送。"]
    return "\n".join(lines)


def announce_directory_change(settings: Settings, old: list[Recipient], new: list[Recipient], sha256: str,
                              file_name: str, transport: Transport) -> list[dict]:
    """Mail the change from the recipients `old` to `new` to the previous version's prefecture supply-company
    recipients. Raises DirectoryChangeNotMailed when one could not be reached (the caller then keeps
    using the previous version) — or when the previous version had no such recipient."""
    changes = directory_changes(old, new, settings)
    if not changes:
        return []
    watchers = [r for r in old if r.party == PARTY_UTILITY and not r.county and r.addresses]
    if not watchers:
        raise DirectoryChangeNotMailed("上一版通讯录中没有州级供电企业的邮箱，无法通知通讯录变更")
    out: list[dict] = []
    problems: list[str] = []
    for recipient in watchers:
        body = change_notice_body(changes, file_name, recipient, settings)
        tag = hashlib.sha256(f"{sha256}|{recipient.key}".encode()).hexdigest()[:20]
        mail = build_message(settings, to=recipient.addresses, subject=f"{SUBJECT_PREFIX}通讯录变更通知（{file_name}）",
                             body=body, message_id=f"<{KIND}-{tag}@{mail_domain(settings)}>",
                             file_stem=f"通讯录变更_{sha256[:8]}")
        record = {"recipient": recipient.org_name, "party": recipient.party, "county": recipient.county_label,
                  "rows": len(changes)}
        try:
            receipt = transport.deliver(mail, list(recipient.addresses))
        except MailError as exc:
            out.append({**record, "status": "failed", "error": exc.reason})
            problems.append(f"{recipient.org_name}：{exc.reason}")
            continue
        refused = {**receipt.refused, **receipt.deferred}
        if refused:
            why = "；".join(f"{a}（{r}）" for a, r in refused.items())
            out.append({**record, "status": "failed", "error": why})
            problems.append(f"{recipient.org_name}：{why}")
        else:
            out.append({**record, "status": receipt.status, "note": receipt.location})
    if problems:
        raise DirectoryChangeNotMailed("；".join(problems))
    return out
