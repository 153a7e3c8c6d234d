"""The mailbox the counties send their registers to (IMAP, Python's imaplib): new messages by UID, their exact
bytes, moving a message to the quarantine folder; and who a sender is by the directory.

The password is handed in (from the environment or a Prefect Secret block, see jobs.wiring) and appears in no
error, log line or repr.
"""

from __future__ import annotations

import imaplib
import re
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import Message
from email.utils import getaddresses

from pydantic import SecretStr

from hazardnet.delivery.directory import Recipient
from hazardnet.delivery.mail import PermanentMailError, TemporaryMailError, tls_context
from hazardnet.settings import Settings
from schemas.vocab import PARTY_UTILITY


class MailboxError(PermanentMailError):
    """The mailbox cannot be used as configured (login refused, folder missing, TLS certificate): one line."""


class MailboxUnavailable(TemporaryMailError):
    """The IMAP server did not answer (down, timed out): the run's retry policy tries again."""


def mailbox_name(settings: Settings) -> str:
    """The identity of the mailbox read (the cursor of the last UID is kept per mailbox)."""
    return f"{settings.imap_user}@{settings.imap_host}:{imap_port(settings)}/{settings.imap_folder}"


def imap_port(settings: Settings) -> int:
    return settings.imap_port or (993 if settings.imap_security == "ssl" else 143)


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Mailbox:
    """One IMAP session on the configured folder (a context manager)."""

    def __init__(self, settings: Settings, password: SecretStr | None):
        self.settings = settings
        self._password = password
        self._imap: imaplib.IMAP4 | None = None
        self.uidvalidity = 0

    def __repr__(self) -> str:  # never show the password
        return f"Mailbox({mailbox_name(self.settings)!r})"

    def __enter__(self) -> Mailbox:
        s = self.settings
        where = f"{s.imap_host}:{imap_port(s)}"
        try:
            if s.imap_security == "ssl":
                imap = imaplib.IMAP4_SSL(s.imap_host, imap_port(s), ssl_context=tls_context(s.imap_ca_file),
                                         timeout=s.imap_timeout_s)
            else:
                imap = imaplib.IMAP4(s.imap_host, imap_port(s), timeout=s.imap_timeout_s)
                if s.imap_security == "starttls":
                    imap.starttls(ssl_context=tls_context(s.imap_ca_file))
        except ssl.SSLCertVerificationError as exc:
            raise MailboxError(f"收件邮箱服务器 {where} 的证书无法验证（{exc.verify_message}）；"
                               f"内部证书请用 HAZARDNET_IMAP_CA_FILE 指定签发它的 CA。") from None
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailboxUnavailable(f"无法连接收件邮箱服务器 {where}：{type(exc).__name__}") from None
        self._imap = imap
        try:
            imap.login(s.imap_user or "", self._password.get_secret_value() if self._password is not None else "")
        except imaplib.IMAP4.error:
            self.close()
            raise MailboxError(f"收件邮箱 {s.imap_user}@{s.imap_host} 登录被拒绝：请检查 HAZARDNET_IMAP_USER 与密码"
                               f"（HAZARDNET_IMAP_PASSWORD 或 HAZARDNET_IMAP_PASSWORD_BLOCK）。") from None
        except OSError as exc:
            self.close()
            raise MailboxUnavailable(f"收件邮箱服务器 {where} 中断了连接：{type(exc).__name__}") from None
        typ, _ = imap.select(_quote(s.imap_folder))
        if typ != "OK":
            self.close()
            raise MailboxError(f"收件邮箱中没有文件夹“{s.imap_folder}”（HAZARDNET_IMAP_FOLDER）。")
        got = imap.response("UIDVALIDITY")[1]
        self.uidvalidity = int(got[0]) if got and got[0] else 0
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._imap is None:
            return
        try:
            self._imap.logout()
        except (OSError, imaplib.IMAP4.error):
            pass
        self._imap = None

    def _uid(self, command: str, *args: str):
        try:
            typ, data = self._imap.uid(command, *args)
        except (OSError, imaplib.IMAP4.abort) as exc:
            raise MailboxUnavailable(f"读取收件邮箱时连接中断：{type(exc).__name__}") from None
        except imaplib.IMAP4.error as exc:
            raise MailboxError(f"收件邮箱服务器拒绝了 {command} 命令：{exc}") from None
        if typ != "OK":
            raise MailboxError(f"收件邮箱服务器拒绝了 {command} 命令：{data!r}")
        return data

    def uids_after(self, last_uid: int) -> list[int]:
        """UIDs of the messages after `last_uid`, in order."""
        data = self._uid("SEARCH", f"UID {last_uid + 1}:*")
        return sorted(u for u in (int(x) for x in (data[0] or b"").split()) if u > last_uid)

    def size(self, uid: int) -> int | None:
        """RFC822.SIZE of message `uid` (None when the server does not say)."""
        data = self._uid("FETCH", str(uid), "(RFC822.SIZE)")
        for item in data:
            text = item[0] if isinstance(item, tuple) else item
            m = re.search(rb"RFC822\.SIZE (\d+)", text or b"")
            if m:
                return int(m.group(1))
        return None

    def fetch(self, uid: int, header_only: bool = False) -> bytes | None:
        """The exact bytes of message `uid` (read without setting \\Seen), or its header only; None when gone."""
        data = self._uid("FETCH", str(uid), "(BODY.PEEK[HEADER])" if header_only else "(BODY.PEEK[])")
        for item in data:
            if isinstance(item, tuple) and len(item) == 2:
                return item[1]
        return None

    def mark_seen(self, uid: int) -> None:
        self._uid("STORE", str(uid), "+FLAGS", "(\\Seen)")

    def move(self, uid: int, folder: str) -> None:
        """Move message `uid` to `folder` (created when missing; under the personal namespace's prefix, e.g.
        INBOX., when the server keeps every folder there)."""
        try:
            self._move(uid, folder)
        except MailboxError:
            prefix = self._personal_prefix()
            if not prefix or folder.startswith(prefix):
                raise
            self._move(uid, prefix + folder)

    def _personal_prefix(self) -> str:
        try:
            typ, data = self._imap.namespace()
        except (OSError, imaplib.IMAP4.error):
            return ""
        m = re.match(rb'\(\("([^"]*)"', data[0] or b"") if typ == "OK" and data else None
        return m.group(1).decode() if m else ""

    def _move(self, uid: int, folder: str) -> None:
        try:
            self._imap.create(_quote(folder))  # NO when it exists: fine
        except imaplib.IMAP4.error:
            pass
        if "MOVE" in self._imap.capabilities:
            self._uid("MOVE", str(uid), _quote(folder))
            return
        self._uid("COPY", str(uid), _quote(folder))
        self._uid("STORE", str(uid), "+FLAGS.SILENT", "(\\Deleted)")
        if "UIDPLUS" in self._imap.capabilities:
            self._uid("EXPUNGE", str(uid))
        else:
            self._imap.expunge()


# ---- who sent it -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sender:
    """A sender the directory knows as a supply company's contact: its organisation and its directory address."""

    recipient: Recipient  # the organisation, its addresses narrowed to the one that matched
    county: str | None  # None: the prefecture supply company


def from_address(message: Message) -> str | None:
    """The one address of From (None when there is none or several)."""
    values = message.get_all("From") or []
    pairs = [a for _n, a in getaddresses([str(v) for v in values]) if a]
    return pairs[0].strip() if len(pairs) == 1 else None


def directory_sender(recipients: Sequence[Recipient], address: str | None) -> Sender | None:
    """The supply company (a county's or the prefecture's) whose directory entry has `address`, with that
    address as the directory writes it; None for anyone else."""
    if not address:
        return None
    wanted = address.strip().lower()
    for r in recipients:
        if r.party != PARTY_UTILITY:
            continue
        for a in r.addresses:
            if a.strip().lower() == wanted:
                return Sender(Recipient(r.party, r.county, r.customer_id, r.org_name, r.contacts, (a,), ()),
                              r.county)
    return None


_RESULT = re.compile(r"\b(spf|dkim|dmarc|arc)\s*=\s*([a-z]+)", re.I)


def server_verdict(message: Message, required: Sequence[str], server: str | None) -> str | None:
    """None when the mail server's Authentication-Results (RFC 8601) shows every `required` method as pass;
    otherwise what is missing. Only a header from `server` (its authserv-id) counts when it is set: anyone can
    write such a header into a message before sending it."""
    if not required:
        return None
    passed: set[str] = set()
    for header in message.get_all("Authentication-Results") or []:
        text = re.sub(r"\s+", " ", str(header))
        authserv = text.split(";", 1)[0].strip().split(" ")[0].lower()
        if server and authserv != server.lower():
            continue
        passed |= {m.lower() for m, r in _RESULT.findall(text) if r.lower() == "pass"}
    missing = [m for m in required if m not in passed]
    return f"邮件服务器未确认发件人（{'、'.join(m.upper() for m in missing)} 未通过）" if missing else None


def is_auto_reply(message: Message) -> bool:
    """An automatic message (an out-of-office reply, a bounce, a list): never answered, so no mail loop."""
    auto = str(message.get("Auto-Submitted", "no")).strip().lower()
    precedence = str(message.get("Precedence", "")).strip().lower()
    return (auto not in ("", "no") or precedence in ("bulk", "junk", "list", "auto_reply")
            or message.get("X-Autoreply") is not None or message.get_content_type() == "multipart/report")


__all__ = ["Mailbox", "MailboxError", "MailboxUnavailable", "Sender", "directory_sender", "from_address",
           "is_auto_reply", "mailbox_name", "server_verdict"]
