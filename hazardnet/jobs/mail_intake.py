"""The mail-intake job (收取邮件中的隐患台账): an IMAP mailbox as a second inbox, in front of the ingest job.

One sequence: read the new messages (after the last UID kept) → sort each one: a supply company's contact in the
directory (a county's: that county; the prefecture's: the county named in the subject) has its workbooks put in
inbox/<县(市)>/ exactly as a dropped file, the message kept byte for byte in archive/mail/; a 预检 message is
checked and answered, nothing stored; anyone else's message is moved to the quarantine folder, unanswered →
the ingest job (called, not copied) → one verdict reply per register to the sender's directory address
(In-Reply-To set), through the one dispatcher → mark the messages seen, move the quarantined ones, keep the
last UID → once a day, the list of quarantined messages to the prefecture supply company.

Each step's result is recorded in the store before the next, so a run killed anywhere is completed by the next
one: a message is known by its Message-ID (never sorted twice), a register by message and attachment hash
(never placed twice), a reply by the delivery ledger (never sent twice).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.message import Message
from pathlib import Path

import sqlalchemy as sa
from pydantic import SecretStr

from hazardnet.delivery.directory import Recipient, load_directory
from hazardnet.delivery.dispatch import Dispatch, Letter
from hazardnet.delivery.mailbox import (
    Mailbox,
    MailboxError,
    Sender,
    directory_sender,
    from_address,
    is_auto_reply,
    mailbox_name,
    server_verdict,
)
from hazardnet.failpoints import checkpoint
from hazardnet.home_lock import home_lock
from hazardnet.intake.findings import Finding
from hazardnet.intake.inbox import REPORT_SUFFIX, ensure_inbox
from hazardnet.intake.mail_book import CHECKED, DONE, PLACED, QUARANTINED, MailBook
from hazardnet.intake.mail_attachments import ARCHIVE, WORKBOOK, Attachment, attachments, parse_message
from hazardnet.intake.self_check import check_register
from hazardnet.intake.transaction import IngestResult, IntakeError
from hazardnet.jobs.ingest import ingest, rejection_reports
from hazardnet.jobs.runner import PlainRunner, RetryPolicy, Runner
from hazardnet.jobs.wiring import SecretLookup, dispatcher, no_secret_blocks
from hazardnet.publish import mail_replies
from hazardnet.settings import Settings
from hazardnet.settings import today as local_today
from hazardnet.store import Store, submissions
from schemas.vocab import PARTY_UTILITY

MAIL_ARCHIVE = "mail"  # archive/mail/: every message a register came in, byte for byte
MAX_MESSAGES_PER_RUN = 200  # the rest waits for the next run (every 5 minutes)
SELF_CHECK_WORD = "预检"
_PART = ".hazardnet-mail-"  # a register being written into the inbox (hidden: the ingest ignores it)


class MailIntakeError(IntakeError):
    """The run cannot start (no mailbox configured, no password): one clear line."""


@dataclass
class MailIntakeResult:
    """What one run did: messages by what became of them, registers with their verdicts, replies sent."""

    messages: list[dict] = field(default_factory=list)
    registers: list[dict] = field(default_factory=list)
    replies: list[dict] = field(default_factory=list)
    quarantine_list: list[dict] = field(default_factory=list)
    ingest: dict | None = None

    def as_json(self) -> dict:
        return {"messages": self.messages, "registers": self.registers, "replies": self.replies,
                "quarantine_list": self.quarantine_list, "ingest": self.ingest}


# ---- the job -------------------------------------------------------------------------------------
def mail_intake(settings: Settings, as_of: dt.date, *, runner: Runner | None = None,
                store: Store | None = None) -> MailIntakeResult:
    """Read the mailbox's new messages, ingest the registers of directory senders, answer each, quarantine the
    rest."""
    runner = runner or PlainRunner(RetryPolicy.of(settings))
    if not settings.imap_host:
        raise MailIntakeError("未配置收件邮箱：请设置 HAZARDNET_IMAP_HOST、HAZARDNET_IMAP_USER 和密码"
                              "（HAZARDNET_IMAP_PASSWORD 或 HAZARDNET_IMAP_PASSWORD_BLOCK）。")
    ensure_inbox(settings)
    own_store = store is None
    store = store or Store(settings.database_url)
    result = MailIntakeResult()
    try:
        with home_lock(settings.home, "hazardnet-mail", busy=MailIntakeError("另一个邮件收取任务仍在运行，本次未执行。")):
            password = imap_password(settings, runner.secret)
            directory = runner.step("读取通讯录", load_directory, settings, store, as_of)
            if not directory.usable:  # without it every sender would be a stranger: leave the mail unread
                raise MailIntakeError(f"没有可用的通讯录（{settings.directory_file}）：无法识别发件人，邮件留待下次读取。")
            book = MailBook(store, mailbox_name(settings))
            fetched = runner.step("读取新邮件", new_messages, settings, password, book, io=True)
            runner.progress("total", n=len(fetched))
            post = dispatcher(settings, store, runner.secret, sms=False)

            def sorted_message(item: tuple[int, bytes, bool]) -> dict:
                """Quarantine, self-check or take in one message."""
                summary = sort_message(settings, store, book, post, directory.recipients, as_of, *item)
                runner.progress("advance", label=f"邮件 {item[0]}")
                return summary

            result.messages = runner.each("分拣邮件", sorted_message, fetched, label=lambda m: f"邮件 UID {m[0]}",
                                          in_order=lambda m: 0, threads=1,
                                          on_error=lambda m, exc: {"uid": m[0], "status": "error",
                                                                   "error": _reason(exc)})
            runner.step("放入收件箱", place_registers, settings, book)
            checkpoint("mailbox_before_tidy")
            runner.step("整理邮箱", tidy_mailbox, settings, password, book, fetched, io=True)
            if book.unresolved():
                ingested = ingest(settings, as_of, runner=runner, store=store, mail_rejections=False)
                result.ingest = ingested.as_json()
                dropped = IngestResult([f for f in ingested.files if not book.is_mail_file(f.county, f.path)],
                                       ingested.consolidated)
                if any(f.outcome == "rejected" for f in dropped.files):  # dropped files' reports, as the ingest
                    result.ingest["rejection_mail"] = runner.step(
                        "邮寄退回报告", rejection_reports, settings, store, dropped, as_of, runner, io=True,
                        on_error=lambda exc: [{"status": "failed", "error": _reason(exc)}])
            book.resolve()
            todo = book.to_answer()
            result.replies = runner.each("回复审核结果", lambda reg: answer_register(settings, book, post, reg), todo,
                                         label=lambda reg: f"回复 {reg['county']}：{reg['file_name']}", io=True,
                                         on_error=lambda reg, exc: {"file": reg["file_name"], "status": "failed",
                                                                    "error": _reason(exc)})
            result.registers = book.registers_of([m.get("key") for m in result.messages])
            result.quarantine_list = runner.step("隔离邮件清单", quarantine_digest, settings, book, post,
                                                 directory.recipients, as_of, io=True,
                                                 on_error=lambda exc: [{"status": "failed", "error": _reason(exc)}])
        return result
    finally:
        if own_store:
            store.dispose()


def _reason(exc: BaseException) -> str:
    return getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}"


def imap_password(settings: Settings, secret: SecretLookup = no_secret_blocks) -> SecretStr | None:
    """The mailbox password: HAZARDNET_IMAP_PASSWORD, or the Prefect Secret block HAZARDNET_IMAP_PASSWORD_BLOCK
    (kept a SecretStr all the way to the login: a step's arguments never show it)."""
    if settings.imap_password is not None:
        return settings.imap_password
    if settings.imap_password_block:
        try:
            return SecretStr(secret(settings.imap_password_block))
        except KeyError:
            raise MailIntakeError(
                f"找不到 Prefect Secret 块“{settings.imap_password_block}”（HAZARDNET_IMAP_PASSWORD_BLOCK）：请用 "
                f"prefect block create secret 创建它，或改设 HAZARDNET_IMAP_PASSWORD。") from None
    return None


# ---- reading ------------------------------------------------------------------------------------------
def new_messages(settings: Settings, password: SecretStr | None, book: MailBook) -> list[tuple[int, bytes, bool]]:
    """(UID, exact bytes, oversized) of every message after the last UID kept (a message too big for the limits
    comes as its header only: it is answered, not read)."""
    cap = (settings.mail_max_total_mb << 20) * 4 // 3 + (2 << 20)  # base64 and the text around it
    with Mailbox(settings, password) as box:
        validity, last = book.cursor()
        if validity != box.uidvalidity:
            last = 0  # the folder was rebuilt: read it all again; Message-IDs keep what was done from being redone
        out = []
        for uid in box.uids_after(last)[:MAX_MESSAGES_PER_RUN]:
            size = box.size(uid)
            raw = box.fetch(uid, header_only=size is not None and size > cap)
            if raw is not None:
                out.append((uid, raw, size is not None and size > cap))
        return out


def message_key(message: Message, raw: bytes) -> str:
    """Message-ID, or the hash of the bytes for a message without one."""
    mid = str(message.get("Message-ID") or "").strip()
    if mid and len(mid) <= 255:
        return mid
    return "sha256:" + hashlib.sha256(mid.encode() if mid else raw).hexdigest()


def header_text(value) -> str:
    """A header as text (RFC 2047 words in any charset, GBK ones read as GB18030; raw bytes as UTF-8 or GBK)."""
    if value is None:
        return ""
    text = str(value)
    try:
        parts = decode_header(text)
        out = []
        for chunk, charset in parts:
            if isinstance(chunk, str):
                out.append(chunk)
                continue
            cs = (charset or "utf-8").lower()
            cs = "gb18030" if cs in ("gb2312", "gbk", "x-gbk", "cp936", "euc-cn") else cs
            try:
                out.append(chunk.decode(cs))
            except (LookupError, UnicodeDecodeError):
                try:
                    out.append(chunk.decode("gb18030"))
                except UnicodeDecodeError:
                    out.append(chunk.decode("utf-8", "replace"))
        text = "".join(out) if len(parts) > 1 or parts[0][1] else str(make_header(parts))
    except Exception:  # noqa: BLE001 - an undecodable subject is shown as far as it goes
        pass
    try:
        data = text.encode("ascii", "surrogateescape")
        for cs in ("utf-8", "gb18030"):
            try:
                return data.decode(cs)
            except UnicodeDecodeError:
                continue
    except UnicodeEncodeError:
        pass
    return text


def county_in_subject(subject: str, counties: list[str]) -> str | None:
    """The one configured county the subject names (格尔木市, or 格尔木 without 市/县); None for none or several."""
    found = {c for c in counties if c in subject or (len(c) > 2 and c[:-1] in subject)}
    return found.pop() if len(found) == 1 else None


# ---- sorting one message ---------------------------------------------------------------------------------
def sort_message(settings: Settings, store: Store, book: MailBook, post, recipients: list[Recipient], as_of: dt.date,
                 uid: int, raw: bytes, oversized: bool) -> dict:
    """Decide what becomes of one message and do it (see the module's docstring)."""
    message = parse_message(raw)
    key = message_key(message, raw)
    subject = header_text(message.get("Subject"))
    summary = {"uid": uid, "key": key, "subject": subject}
    known = book.message(key)
    if known is not None:
        return {**summary, "status": "seen", "was": known["status"]}
    address = from_address(message)
    sender = directory_sender(recipients, address)
    why = None if sender else "发件人不是通讯录中供电企业的联系人"
    if sender is not None and (verdict := server_verdict(message, settings.mail_require_auth,
                                                         settings.mail_auth_server)):
        sender, why = None, verdict
    record = dict(message_key=key, uid=uid, subject=subject, header_id=str(message.get("Message-ID") or "") or None)
    if sender is None:  # no backscatter: nothing ingested, nothing answered
        book.add_message(**record, sender=(address or "")[:320], status=QUARANTINED, note=why)
        return {**summary, "status": QUARANTINED, "note": why}
    record.update(sender=sender.recipient.addresses[0], org=sender.recipient.org_name, sender_county=sender.county)
    if is_auto_reply(message):
        book.add_message(**record, status=DONE, note="自动回复，不予处理")
        return {**summary, "status": DONE, "note": "自动回复"}
    found = [] if oversized else attachments(message)
    workbooks = [a for a in found if a.kind == WORKBOOK]
    archives = [a for a in found if a.kind == ARCHIVE]
    if not workbooks and not archives and not oversized:
        book.add_message(**record, status=DONE, note="邮件中没有台账附件")
        return {**summary, "status": DONE, "note": "没有台账附件"}
    county = sender.county or county_in_subject(subject, settings.counties)
    problems, workbooks = _limits(settings, workbooks, archives, oversized)
    if county is None and workbooks:
        problems.append(f"无法确定台账所属的县(市)：请在邮件主题中写明县(市)名称（{'、'.join(settings.counties)}之一）"
                        f"后重新发送。")
        workbooks = []
    reply_to = _reply_headers(message)
    if SELF_CHECK_WORD in subject:
        results = []
        for a in workbooks:
            with tempfile.TemporaryDirectory(prefix="hazardnet-precheck-") as folder:  # nothing of it is kept
                checked = self_check(settings, as_of, a, county, Path(folder))
                _send(post, Dispatch("mail_check", sender.recipient, [(_period(key, a.sha256), a.sha256)],
                                     letter=lambda _p, c=checked: _letter(mail_replies.self_check(settings, c, subject),
                                                                          reply_to, c.report,
                                                                          f"预检_{Path(c.file_name).stem}")))
                results.append({**checked.as_json(), "report": None})
        if problems:
            _send(post, _problem_dispatch(settings, sender, key, subject, problems, reply_to))
        book.add_message(**record, county=county, status=CHECKED, note="预检")
        return {**summary, "status": CHECKED, "checks": results, "problems": problems}
    kept = keep_message(settings, raw, as_of)
    checkpoint("mailbox_after_archive")
    if problems:
        _send(post, _problem_dispatch(settings, sender, key, subject, problems, reply_to))
    registers = [{"sha256": a.sha256, "file_name": name, "county": county}
                 for a, name in zip(workbooks, _inbox_names(settings, book, county, workbooks))]
    book.add_message(registers, **record, county=county, status=PLACED if registers else DONE, kept_at=str(kept),
                     note="；".join(problems) or None)
    checkpoint("mailbox_after_record")
    return {**summary, "status": PLACED if registers else DONE, "county": county, "kept_at": str(kept),
            "registers": [r["file_name"] for r in registers], "problems": problems}


def _limits(settings: Settings, workbooks: list[Attachment], archives: list[Attachment],
            oversized: bool) -> tuple[list[str], list[Attachment]]:
    """The problems to answer and the workbooks that may go in."""
    problems: list[str] = []
    if oversized:
        return [f"邮件过大（附件合计超过 {settings.mail_max_total_mb} MB），未予处理：请删除台账中无关的内容，"
                f"或分多封邮件发送。"], []
    for a in archives:
        problems.append(f"附件《{a.name}》是压缩包：系统不打开压缩文件，请直接将台账工作簿（.xlsx/.xls/.ods）作为附件"
                        f"发送。")
    if len(workbooks) > settings.mail_max_attachments:
        return problems + [f"一封邮件附带了 {len(workbooks)} 个工作簿，超过 {settings.mail_max_attachments} 个的上限，"
                           f"未予处理：请分多封邮件发送。"], []
    if sum(len(a.data) for a in workbooks) > settings.mail_max_total_mb << 20:
        return problems + [f"附件合计超过 {settings.mail_max_total_mb} MB，未予处理：请分多封邮件发送。"], []
    ok = []
    for a in workbooks:
        if len(a.data) > settings.mail_max_attachment_mb << 20:
            problems.append(f"附件《{a.name}》超过 {settings.mail_max_attachment_mb} MB，未予处理：请删除无关内容后"
                            f"重新发送。")
        else:
            ok.append(a)
    return problems, ok


def _period(key: str, sha: str) -> str:
    return f"mail:{hashlib.sha256(key.encode()).hexdigest()[:24]}:{sha[:16]}"


def _reply_headers(message: Message) -> dict[str, str]:
    mid = str(message.get("Message-ID") or "").strip()
    refs = " ".join(str(message.get("References") or "").split())
    headers = {"Auto-Submitted": "auto-replied"}
    if mid:
        headers["In-Reply-To"] = mid
        headers["References"] = f"{refs} {mid}".strip()
    return headers


def _letter(rendered: tuple[str, str], headers: dict[str, str], report: str | None, stem: str = "回复") -> Letter:
    subject, body = rendered
    files = [(Path(report).name, Path(report))] if report else []
    return Letter(subject, body, files, file_stem=stem, headers=headers)


def _problem_dispatch(settings, sender: Sender, key: str, subject: str, problems: list[str],
                      headers: dict[str, str]) -> Dispatch:
    digest = hashlib.sha256("\n".join(problems).encode()).hexdigest()
    return Dispatch("mail_reply", sender.recipient, [(_period(key, "message"), digest)],
                    letter=lambda _p: _letter(mail_replies.problems(settings, subject, problems), headers, None))


def _send(post, d: Dispatch) -> dict:
    """Send through the dispatcher; a permanent failure is the record's, a temporary one is raised (the
    message is then not recorded, and the next run sorts it again: the ledger sends only what is missing)."""
    return post.send(d)


def self_check(settings: Settings, as_of: dt.date, a: Attachment, county: str, folder: Path):
    """A 预检 attachment checked as the intake would check it, its report written in `folder` (a private one)."""
    src = folder / f"upload{Path(a.name).suffix}"
    src.write_bytes(a.data)
    result = check_register(settings, src, county, as_of, folder / "report", file_name=a.name)
    src.unlink(missing_ok=True)
    return result


def keep_message(settings: Settings, raw: bytes, as_of: dt.date) -> Path:
    """The message byte for byte in archive/mail/ (named by date and content: kept once)."""
    folder = settings.archive / MAIL_ARCHIVE
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{as_of:%Y%m%d}_{hashlib.sha256(raw).hexdigest()[:16]}.eml"
    if not path.exists():
        tmp = folder / f".tmp-{os.getpid()}-{time.monotonic_ns()}"
        with open(tmp, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    return path


_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]')


def _inbox_names(settings: Settings, book: MailBook, county: str, workbooks: list[Attachment]) -> list[str]:
    """A name in inbox/<county>/ for each workbook: its own, or with a hash when the name is taken."""
    taken = {r["file_name"] for r in book.unresolved() if r["county"] == county}
    out = []
    for a in workbooks:
        name = _UNSAFE.sub("_", a.name).lstrip(".~ ") or f"邮件附件_{a.sha256[:8]}.xlsx"
        if name in taken or (settings.inbox / county / name).exists():
            stem, ext = os.path.splitext(name)
            name = f"{stem}_{a.sha256[:8]}{ext}"
        taken.add(name)
        out.append(name)
    return out


def place_registers(settings: Settings, book: MailBook) -> int:
    """Write every recorded register not yet in the inbox from its kept message into inbox/<county>/, as a
    dropped file (settled at once: it is written under a hidden name and renamed whole)."""
    placed = 0
    for reg in book.unplaced():
        target = settings.inbox / reg["county"] / reg["file_name"]
        if not target.exists() and not _ingested(book.store, reg):
            data = _attachment_of(book, reg)
            if data is None:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f"{_PART}{reg['sha256'][:16]}")
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            past = time.time() - settings.settle_seconds - 1
            os.utime(tmp, (past, past))
            os.replace(tmp, target)
            checkpoint("mailbox_after_place")
        book.mark_placed(reg["id"])
        placed += 1
    return placed


def _ingested(store: Store, reg: dict) -> bool:
    q = sa.select(submissions.c.id).where(submissions.c.county == reg["county"],
                                          submissions.c.file_name == reg["file_name"],
                                          submissions.c.sha256 == reg["sha256"],
                                          submissions.c.received_at >= reg["created_at"] - dt.timedelta(seconds=1))
    with store.engine.connect() as conn:
        return conn.execute(q.limit(1)).first() is not None


def _attachment_of(book: MailBook, reg: dict) -> bytes | None:
    msg = book.message(reg["message_key"])
    if not msg or not msg["kept_at"] or not Path(msg["kept_at"]).is_file():
        return None
    for a in attachments(parse_message(Path(msg["kept_at"]).read_bytes())):
        if a.sha256 == reg["sha256"]:
            return a.data
    return None


def tidy_mailbox(settings: Settings, password: SecretStr | None, book: MailBook,
                 fetched: list[tuple[int, bytes, bool]]) -> int:
    """Mark the sorted messages seen, move the quarantined ones, and keep the last UID up to which every message
    is recorded (a message not yet recorded is read again next run)."""
    if not fetched:
        return 0
    keys = {uid: message_key(parse_message(raw), raw) for uid, raw, _ in fetched}
    status = book.statuses(list(keys.values()))
    with Mailbox(settings, password) as box:
        validity, last = book.cursor()
        last = last if validity == box.uidvalidity else 0
        for uid, _raw, _big in fetched:
            state = status.get(keys[uid])
            if state is None:
                break
            if state == QUARANTINED:
                try:
                    box.move(uid, settings.imap_quarantine_folder)
                except MailboxError:  # a server refusing the folder: the message stays, unread and unanswered
                    pass
            else:
                box.mark_seen(uid)
            last = max(last, uid)
        book.keep_cursor(box.uidvalidity, last)
    return last


# ---- answering ---------------------------------------------------------------------------------------
def answer_register(settings: Settings, book: MailBook, post, reg: dict) -> dict:
    """The verdict on one register, replied to the sender's directory address (once, by the ledger)."""
    sub = reg["submission"]
    findings = [Finding(**{k: v for k, v in f.items() if k in Finding.__dataclass_fields__})
                for f in json.loads(sub["findings"] or "[]")]
    report = None
    if sub["outcome"] == "rejected" and sub["kept_at"]:
        kept = Path(sub["kept_at"])
        candidate = kept.with_name(f"{kept.stem}{REPORT_SUFFIX}")
        report = str(candidate) if candidate.is_file() else None
    recipient = Recipient(PARTY_UTILITY, reg["sender_county"], None, reg["org"] or reg["sender"], (),
                          (reg["sender"],))
    headers = {"Auto-Submitted": "auto-replied"}
    if reg["header_id"]:
        headers.update({"In-Reply-To": reg["header_id"], "References": reg["header_id"]})
    checkpoint("mailbox_before_reply")
    record = post.send(Dispatch(
        "mail_verdict", recipient, [(_period(reg["message_key"], reg["sha256"]), reg["sha256"])],
        letter=lambda _p: _letter(mail_replies.verdict(settings, reg["county"], reg["file_name"], sub["outcome"],
                                                       sub["rows"], findings, reg["subject"]), headers, report,
                                    f"回复_{reg['county']}_{Path(reg['file_name']).stem}"),
        attachment=Path(report).name if report else None))
    if record.get("status") in ("sent", "written", "skipped"):
        book.mark_replied(reg["id"], reg["message_key"])
    return {**record, "file": reg["file_name"], "county": reg["county"], "outcome": sub["outcome"],
            "rows": sub["rows"]}


def quarantine_digest(settings: Settings, book: MailBook, post, recipients: list[Recipient],
                      as_of: dt.date) -> list[dict]:
    """Once a day: the messages quarantined since the last list, to the prefecture supply company."""
    today = local_today(settings)
    waiting = book.unlisted_quarantine()
    if not waiting or book.listed_on(today):
        return []
    prefecture = [r for r in recipients if r.party == PARTY_UTILITY and r.county is None]
    out = []
    for r in prefecture:
        out.append(post.send(Dispatch(
            "mail_quarantine", r, [(f"quarantine:{m['message_key'][:200]}", hashlib.sha256(
                m["message_key"].encode()).hexdigest()) for m in waiting],
            letter=lambda _p: Letter(*mail_replies.quarantine_list(settings, waiting, today), file_stem="隔离邮件清单"))))
    if all(o.get("status") in ("sent", "written", "skipped") for o in out):
        book.mark_listed([m["id"] for m in waiting], today)
    return out


__all__ = ["MailIntakeError", "MailIntakeResult", "mail_intake"]
