"""Rejected registers go back to their county: the error report by mail to the county supply company's contacts,
and a text saying so, once each (through the dispatcher and its ledger)."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hazardnet.delivery.directory import Recipient, load_directory
from hazardnet.delivery.dispatch import Dispatch, Dispatcher
from hazardnet.delivery.ledger import FAILED, delivery_record
from hazardnet.delivery.letter import SMS_SINGLE_CHARS, SUBJECT_PREFIX, Letter, mail_signature
from hazardnet.delivery.mail import TemporaryMailError, Transport
from hazardnet.delivery.sms import SmsTransport
from hazardnet.intake.findings import ERROR
from hazardnet.settings import Settings, today
from hazardnet.store import Store
from schemas.vocab import PARTY_UTILITY

REJECTION_KIND = "rejection"  # the ledger's kind of a rejected file's report (mail) and its text (SMS)
DIRECTORY_KIND = "directory"  # … of the directory's problem report (mail) and its text (SMS)


@dataclass
class _Rejected:
    county: str
    file_name: str
    report: Path
    findings: list = field(default_factory=list)
    kind: str = "register"

    @property
    def what(self) -> str:
        """What the file is, as the county calls it."""
        return {"customers": "客户档案", "drills": "联合应急演练记录", "commitments": "整改承诺表"}.get(self.kind, "隐患台账")


def _rejections(ingest_result: Any) -> list[_Rejected]:
    out = []
    for f in getattr(ingest_result, "files", []):
        if getattr(f, "outcome", None) == "rejected" and getattr(f, "report", None):
            out.append(_Rejected(f.county, Path(f.path).name, Path(f.report), list(f.findings),
                                 getattr(f, "kind", "register")))
    return out


def rejection_body(rej: _Rejected, recipient: Recipient, settings: Settings) -> str:
    errors = [f for f in rej.findings if getattr(f, "level", ERROR) == ERROR]
    lines = [f"{recipient.org_name}：", "",
             f"贵单位报送的{rej.what}《{rej.file_name}》未通过校验，已退回，共 {len(errors)} 处问题。"
             f"问题报告见附件，每个问题都标明了工作表和单元格（原表副本中问题单元格已标红）。", ""]
    for i, f in enumerate(errors[:20], 1):
        where = f"{f.sheet} {f.cell}".strip() or "整个文件"
        lines.append(f"  {i}. {where}{('（' + f.field + '）') if f.field else ''}：{f.message}")
    if len(errors) > 20:
        lines.append(f"  ……另有 {len(errors) - 20} 处，详见附件。")
    headers = [f for f in rej.findings if getattr(f, "level", ERROR) != ERROR and getattr(f, "field", "") == "表头"]
    if headers:  # the headers the intake did not understand, beside a missing column: which to rename
        lines += ["", "表头中无法识别的列名（可能就是所缺的必填列）："]
        lines += [f"  {f.sheet} {f.cell}：{f.value}" for f in headers[:20]]
    lines += ["", f"请修改后将整张{'台账' if rej.kind == 'register' else '表'}重新放入共享目录 inbox/{rej.county}/，系统将自动重新导入。", "",
              *mail_signature(settings), "本邮件由隐患台账系统自动发送。"]
    return "\n".join(lines)


def rejection_sms(rej: _Rejected, signature: str) -> str:
    """The text beside the mail (many read texts first): which file came back, how many problems, that the report
    is in the mail — one SMS: the file's name only when it fits (the mail names it and says what to do)."""
    errors = sum(1 for f in rej.findings if getattr(f, "level", ERROR) == ERROR)
    named = f"{rej.county}报送的{rej.what}《{rej.file_name}》未通过校验（{errors}处问题），已退回，问题报告已发至邮箱。"
    if len(signature) + len(named) <= SMS_SINGLE_CHARS:  # the dispatcher puts the signature before it
        return named
    return f"{rej.county}报送的{rej.what}未通过校验（{errors}处问题），已退回，问题报告已发至邮箱。"


def send_rejection_reports(settings: Settings, store: Store, ingest_result: Any, transport: Transport, *,
                           as_of: dt.date | None = None, raise_on_temporary: bool = False,
                           sms: SmsTransport | None = None) -> list[dict]:
    """Mail each rejected register's error report to its county's supply-company contacts, and text them that it
    came back (`sms`; once the mail went out), each once (through the dispatcher and its ledger).

    `ingest_result` is an intake.IngestResult (files with outcome/county/path/report/findings).
    With `raise_on_temporary`, a temporary server error is raised after every recipient was tried
    (so that a retrying caller sends only what is missing); otherwise it is a failed record.
    """
    rejected = _rejections(ingest_result)
    if not rejected:
        return []
    directory = load_directory(settings, store, as_of or today(settings))
    dispatcher = Dispatcher(store, settings, transport, sms)
    out: list[dict] = []
    temporary: list[str] = []
    for rej in rejected:
        recipients = [r for r in directory.recipients if r.party == PARTY_UTILITY and r.county == rej.county]
        if not recipients:
            out.append({"recipient": f"{rej.county}供电企业", "party": PARTY_UTILITY, "county": rej.county,
                        "customer_id": None, "addresses": [], "attachment": rej.report.name, "status": FAILED,
                        "rows": 0, "error": f"通讯录中没有{rej.county}供电企业的联系人，问题报告未能邮寄",
                        "file": rej.file_name})
            continue
        data = rej.report.read_bytes()
        item = (f"{rej.county}/{rej.report.name}", hashlib.sha256(data).hexdigest())
        for recipient in recipients:
            letter = Letter(subject=f"{SUBJECT_PREFIX}{rej.county}{rej.what}未通过校验（{rej.file_name}）",
                            body=rejection_body(rej, recipient, settings), files=[(rej.report.name, data)],
                            file_stem=f"退回_{rej.county}_{rej.report.stem}")
            d = Dispatch(REJECTION_KIND, recipient, [item], letter=lambda _periods, letter=letter: letter,
                         text=lambda _periods, rej=rej: rejection_sms(rej, settings.sms_signature), sms_stem=f"退回_{rej.county}_{recipient.org_name}",
                         attachment=rej.report.name, once=True, sms_after_mail=True, extra={"file": rej.file_name})
            try:
                out.append(dispatcher.send(d))
            except TemporaryMailError as exc:
                temporary.append(exc.reason)
                out.append({**delivery_record(recipient, status=FAILED, rows=0, attachment=rej.report.name),
                            "error": exc.reason, "file": rej.file_name})
    if temporary and raise_on_temporary:
        raise TemporaryMailError("；".join(temporary))
    return out


# ---- the directory's problems go to the prefecture's supply-company contacts ------------------------------
def directory_problems_body(directory, recipient: Recipient, settings: Settings) -> str:
    errors = [f for f in directory.findings if f.level == ERROR]
    if directory.source == "file":
        what = (f"通讯录《{directory.file_name}》中第 {'、'.join(map(str, directory.left_out))} 行有错误，这些行未予采用，"
                f"其余收件人照常发送。")
    else:
        what = f"通讯录文件有错误，无法使用，继续使用上一版有效通讯录（{directory.file_name or '无'}）。"
    lines = [f"{recipient.org_name}：", "", what, "问题报告见附件，每个问题都标明了单元格（副本中问题单元格已标红）。", ""]
    for i, f in enumerate(errors[:20], 1):
        lines.append(f"  {i}. {f.sheet} {f.cell}{('（' + f.field + '）') if f.field else ''}：{f.message}".rstrip())
    if len(errors) > 20:
        lines.append(f"  ……另有 {len(errors) - 20} 处，详见附件。")
    lines += ["", f"请修改 {settings.directory_file.name}（{settings.directory_file.parent}）后保存，下次发送时自动采用。", "",
              *mail_signature(settings), "本邮件由隐患台账系统自动发送。"]
    return "\n".join(lines)


def directory_problems_sms(directory, errors: int, settings: Settings) -> str:
    """The text beside the directory's problem mail: how many problems, what was left out, where the report is."""
    if directory.source == "file":
        what = f"第{'、'.join(map(str, directory.left_out))}行未予采用"
    else:
        what = "整个文件未采用，继续使用上一版有效通讯录"
    return (f"通讯录文件《{settings.directory_file.name}》有{errors}处问题（{what}），问题报告已发至邮箱，"
            f"请修改后保存，下次发送时自动采用。")


def send_directory_problems(settings: Settings, directory, dispatcher: Dispatcher) -> list[dict]:
    """Mail the directory's problem report to the prefecture-level supply-company contacts and text them that it
    came (once the mail went out), once per set of problems (a corrected or a different broken version is sent
    again), through the job's dispatcher and its ledger. Temporary errors raise."""
    errors = [f for f in directory.findings if f.level == ERROR]
    if not errors or not directory.report or not Path(directory.report).is_file():
        return []
    data = Path(directory.report).read_bytes()
    digest = hashlib.sha256("\n".join(f"{f.cell}|{f.message}" for f in errors).encode()).hexdigest()
    name = Path(directory.report).name
    out: list[dict] = []
    for recipient in [r for r in directory.recipients if r.party == PARTY_UTILITY and r.county is None]:
        letter = Letter(subject=f"{SUBJECT_PREFIX}通讯录有 {len(errors)} 处问题",
                        body=directory_problems_body(directory, recipient, settings), files=[(name, data)],
                        file_stem="通讯录问题报告")
        out.append(dispatcher.send(Dispatch(
            DIRECTORY_KIND, recipient, [(f"directory|{digest[:32]}", digest)],
            letter=lambda _periods, letter=letter: letter,
            text=lambda _periods: directory_problems_sms(directory, len(errors), settings), sms_stem=f"通讯录问题_{recipient.org_name}",
            rows=len(errors), attachment=name, once=True, sms_after_mail=True)))
    return out
