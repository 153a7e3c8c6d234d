"""What the mail intake says back (subject, body): the verdict on a register, the self-check (预检) result, the
problems of a message (an archive, a limit, no county), and the daily list of quarantined mail. Renders only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from hazardnet.delivery.letter import mail_signature
from hazardnet.intake.findings import ERROR, Finding

PREFIX = "【用电安全1+1+1工作网】"
LIST_MAX = 20
FOOTER = "本邮件由隐患台账系统自动发送，请勿直接回复本邮件讨论其他事项。"


def _list(findings: Sequence[Finding]) -> list[str]:
    lines = []
    for i, f in enumerate(findings[:LIST_MAX], 1):
        where = f"{f.sheet} {f.cell}".strip() or "整个文件"
        lines.append(f"  {i}. {where}{('（' + f.field + '）') if f.field else ''}：{f.message}")
    if len(findings) > LIST_MAX:
        lines.append(f"  ……另有 {len(findings) - LIST_MAX} 处，详见附件。")
    return lines


def _quote(subject: str) -> str:
    return f"（您的邮件：{subject}）" if subject else ""


def verdict(settings, county: str, file_name: str, outcome: str, rows: int, findings: Sequence[Finding],
            subject: str) -> tuple[str, str]:
    """The reply on one register: accepted (rows, warnings), a duplicate, or rejected (problems; report attached)."""
    errors = [f for f in findings if f.level == ERROR]
    warnings = [f for f in findings if f.level != ERROR]
    if outcome == "accepted":
        title = f"{PREFIX}{county}隐患台账已接收（{file_name}）"
        lines = [f"台账《{file_name}》已通过校验并导入，共 {rows} 条隐患记录。{_quote(subject)}"]
        if warnings:
            lines += ["", f"另有 {len(warnings)} 条提示（不影响接收，请在下次报送时留意）："] + _list(warnings)
    elif outcome == "duplicate":
        title = f"{PREFIX}{county}隐患台账与已接收的相同（{file_name}）"
        lines = [f"台账《{file_name}》与此前已接收的文件内容完全相同，未重复导入。{_quote(subject)}"]
    else:
        title = f"{PREFIX}{county}隐患台账未通过校验，已退回（{file_name}）"
        lines = [f"台账《{file_name}》未通过校验，已退回，共 {len(errors)} 处问题。{_quote(subject)}",
                 "问题报告见附件，每个问题都标明了工作表和单元格（原表副本中问题单元格已标红）。", ""] + _list(errors)
        lines += ["", "请修改后将整张台账重新发送到本邮箱（或放入共享目录），系统将自动重新导入。"]
    return title, "\n".join(lines + ["", *mail_signature(settings), FOOTER])


def self_check(settings, result, subject: str) -> tuple[str, str]:
    """The 预检 reply: the same findings as the intake, nothing stored."""
    if result.passed:
        title = f"{PREFIX}预检通过（{result.file_name}）"
        lines = [f"预检：台账《{result.file_name}》可以通过校验，共 {result.rows} 条隐患记录。{_quote(subject)}"]
        if result.warnings:
            lines += ["", f"另有 {len(result.warnings)} 条提示："] + _list(result.warnings)
    else:
        title = f"{PREFIX}预检未通过（{result.file_name}）"
        lines = [f"预检：台账《{result.file_name}》有 {len(result.errors)} 处问题，正式报送将被退回。{_quote(subject)}",
                 "问题报告见附件。", ""] + _list(result.errors)
    lines += ["", "预检不入库、不存档、不计入报送；正式报送请发送不含“预检”二字主题的邮件。"]
    return title, "\n".join(lines + ["", *mail_signature(settings), FOOTER])


def problems(settings, subject: str, items: Sequence[str]) -> tuple[str, str]:
    """What in a message could not be taken in (an archive, a limit, no county)."""
    lines = [f"您发来的邮件中有以下内容未能处理{_quote(subject)}：", ""]
    lines += [f"  {i}. {p}" for i, p in enumerate(items, 1)]
    return f"{PREFIX}邮件中的附件未能处理", "\n".join(lines + ["", *mail_signature(settings), FOOTER])


def quarantine_list(settings, messages: Sequence[dict], day: dt.date) -> tuple[str, str]:
    """The daily list of messages from senders outside the directory, moved to the quarantine folder."""
    lines = [f"以下 {len(messages)} 封邮件的发件人不是通讯录中供电企业的联系人（或邮件服务器未确认发件人），"
             f"未导入、未回复，已移入收件邮箱的“{settings.imap_quarantine_folder}”文件夹：", ""]
    for i, m in enumerate(messages, 1):
        lines.append(f"  {i}. {m['received_at']:%Y-%m-%d %H:%M} 发件人 {m['sender'] or '（无）'}，主题：{m['subject'] or '（无）'}"
                     f"{'，原因：' + m['note'] if m.get('note') else ''}")
    lines += ["", "如确属县公司报送，请将其联系人邮箱加入通讯录后，由其重新发送。"]
    return (f"{PREFIX}{day:%Y-%m-%d} 隔离邮件清单（{len(messages)} 封）",
            "\n".join(lines + ["", *mail_signature(settings), FOOTER]))
