"""Outgoing mail: message building and two transports behind one small interface.

`build_message` produces the exact bytes of a message (CRLF line ends, 7-bit clean: the Chinese
subject and sender name as RFC 2047 encoded words, the attachment's Chinese file name as RFC 2231
`filename*` plus an RFC 2047 `name` for older clients, a unique Message-ID, a Date in the
prefecture's time zone). Both transports carry those same bytes: `EmlFileTransport` writes them to
an .eml file under outbox/mail/, `SmtpTransport` hands them to an SMTP server through yagmail.

TLS: with "starttls" (the default) and "ssl" the server's certificate is verified, and its name must match
HAZARDNET_SMTP_HOST, against the system's CA store, or against HAZARDNET_SMTP_CA_FILE (a PEM file: an internal
CA). yagmail passes `smtp_starttls={"context": ...}` to `smtplib.SMTP.starttls` and its extra keyword
arguments to `smtplib.SMTP_SSL`; left to themselves both would use an unverifying context.

Transports report per address: `Receipt.accepted`, `.refused` (permanent, 5xx) and `.deferred`
(temporary, 4xx). A failure of the whole transaction raises `TemporaryMailError` (worth retrying:
connection dropped, 421/451…) or `PermanentMailError` (not worth it: login refused, 5xx on DATA).
The password is never logged and never part of an error message.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import smtplib
import socket
import ssl
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email import encoders
from email import policy as email_policy
from email.header import Header
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from hazardnet.delivery.letter import safe_file_name
from hazardnet.runtime import write_atomically
from hazardnet.settings import Settings


XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
ATTACHMENT_TYPES = {".xlsx": XLSX_TYPE,
                    ".pptx": ("application", "vnd.openxmlformats-officedocument.presentationml.presentation"),
                    ".docx": ("application", "vnd.openxmlformats-officedocument.wordprocessingml.document"),
                    ".pdf": ("application", "pdf")}
# Generator policy: the legacy API folds long parameters safely (the modern one mangles a long
# Content-Type subtype next to an RFC 2231 parameter); CRLF because that is what SMTP carries.
WIRE_POLICY = email_policy.compat32.clone(linesep="\r\n")


class MailError(Exception):
    """A message could not be handed over. `.reason` is one Chinese sentence for the operator."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class TemporaryMailError(MailError):
    """Worth retrying later: connection refused or dropped, 4xx answers."""


class PermanentMailError(MailError):
    """Retrying will not help: configuration, authentication or a 5xx answer to the whole message."""


@dataclass(frozen=True)
class OutgoingMail:
    """One message, ready to go: its bytes are final (Message-ID and Date included)."""

    message_id: str
    envelope_from: str
    to: tuple[str, ...]  # every address named in the To header
    subject: str
    data: bytes
    attachment_name: str | None = None
    file_stem: str = "mail"  # for the .eml file name

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class Receipt:
    """What a transport did with each envelope recipient."""

    status: str  # "sent" (SMTP) or "written" (.eml)
    accepted: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # address -> server answer (permanent)
    deferred: dict[str, str] = field(default_factory=dict)  # address -> server answer (temporary)
    location: str | None = None  # the .eml path, for the file transport


class Transport(Protocol):
    """Delivers a built message to some of its addresses."""

    status: str

    def deliver(self, mail: OutgoingMail, recipients: Sequence[str]) -> Receipt: ...


# ---- building ---------------------------------------------------------------------------------
def mail_domain(settings: Settings) -> str:
    return settings.mail_from.rpartition("@")[2] or "localhost"


def new_message_id(settings: Settings) -> str:
    """A globally unique Message-ID in the sender's domain."""
    return f"<{dt.datetime.now():%Y%m%d%H%M%S}.{uuid.uuid4().hex}@{mail_domain(settings)}>"


def local_now(settings: Settings) -> dt.datetime:
    return dt.datetime.now(ZoneInfo(settings.timezone))


def build_message(settings: Settings, *, to: Sequence[str], subject: str, body: str,
                  attachment: tuple[str, bytes] | None = None, message_id: str | None = None,
                  date: dt.datetime | None = None, file_stem: str = "mail",
                  attachments: Sequence[tuple[str, bytes]] = (),
                  headers: Mapping[str, str] | None = None) -> OutgoingMail:
    """The exact bytes of a Chinese plain-text message with an optional workbook attachment (or several
    files in `attachments`: workbooks, briefing decks, documents, typed by their extension)."""
    msg = MIMEMultipart("mixed")
    msg["Subject"] = Header(subject, "utf-8")
    msg["From"] = formataddr((settings.mail_from_name, settings.mail_from), charset="utf-8")
    msg["To"] = ", ".join(to)
    msg["Date"] = format_datetime(date or local_now(settings))
    mid = message_id or new_message_id(settings)
    msg["Message-ID"] = mid
    msg["Content-Language"] = "zh-CN"
    for name, value in (headers or {}).items():  # In-Reply-To, References, Auto-Submitted of a reply
        msg[name] = value
    msg.preamble = "This is a MIME-formatted message."
    msg.attach(MIMEText(body, "plain", "utf-8"))  # utf-8 text goes base64: 7-bit clean on any server
    files = [*([attachment] if attachment is not None else []), *attachments]
    for name, data in files:
        part = MIMEBase(*ATTACHMENT_TYPES.get(Path(name).suffix.lower(), XLSX_TYPE),
                        name=Header(name, "utf-8").encode(maxlinelen=998))
        part.set_payload(data)
        encoders.encode_base64(part)
        part.add_header("Content-Disposition", "attachment", filename=("utf-8", "", name))
        msg.attach(part)
    data = msg.as_bytes(policy=WIRE_POLICY)
    return OutgoingMail(mid, settings.mail_from, tuple(to), subject, data,
                        "、".join(name for name, _ in files) or None, file_stem)


# ---- the .eml transport -------------------------------------------------------------------------
class EmlFileTransport:
    """Writes each message as an .eml file (the same bytes SMTP would carry) under `folder`."""

    status = "written"

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def path_for(self, mail: OutgoingMail) -> Path:
        tag = hashlib.sha256(mail.message_id.encode()).hexdigest()[:8]
        return self.folder / f"{safe_file_name(mail.file_stem)}_{tag}.eml"

    def deliver(self, mail: OutgoingMail, recipients: Sequence[str]) -> Receipt:
        path = write_atomically(self.path_for(mail), lambda fh: fh.write(mail.data))
        return Receipt("written", accepted=list(recipients), location=str(path))


# ---- the SMTP transport -------------------------------------------------------------------------
# OpenSSL's verify codes (X509_V_ERR_*) in words for the operator
_CERT_PROBLEMS = {
    9: "证书尚未生效",
    10: "证书已过期",
    18: "证书是自签名证书",
    19: "证书链的根证书是自签名证书，不在受信任的 CA 中",
    20: "签发证书的 CA 不在受信任的 CA 中",
    21: "无法验证证书的签发者",
    62: "证书上的服务器名称与 HAZARDNET_SMTP_HOST 不符",
    64: "证书上的 IP 地址与 HAZARDNET_SMTP_HOST 不符",
}


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """A client context that verifies the server's certificate and name: against `ca_file` (PEM) when given,
    otherwise against the system's CA store."""
    if ca_file is None:
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cafile=str(ca_file))
    except FileNotFoundError:
        raise PermanentMailError(f"HAZARDNET_SMTP_CA_FILE 指定的 CA 证书文件 {ca_file} 不存在。") from None
    except (ssl.SSLError, OSError, ValueError):
        raise PermanentMailError(f"HAZARDNET_SMTP_CA_FILE 指定的文件 {ca_file} 无法读取或不是 PEM 格式的 CA 证书。") from None


def certificate_problem(where: str, exc: ssl.SSLCertVerificationError, ca_file: Path | None) -> str:
    """The operator's sentence for a server certificate that failed verification."""
    problem = _CERT_PROBLEMS.get(exc.verify_code, f"错误代码 {exc.verify_code}")
    if exc.verify_code in (62, 64):
        hint = "请把 HAZARDNET_SMTP_HOST 设为证书上的服务器名称。"
    elif ca_file is not None:
        hint = f"请确认 HAZARDNET_SMTP_CA_FILE（{ca_file}）是签发该服务器证书的 CA 证书。"
    else:
        hint = "如该服务器使用内部 CA 签发的证书，请用 HAZARDNET_SMTP_CA_FILE 指定该 CA 证书文件（PEM 格式）。"
    return f"邮件服务器 {where} 的证书未通过验证（{problem}），邮件未发送。{hint}"


def _answer(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {text}".strip()


class SmtpTransport:
    """Hands each message to an SMTP server with yagmail (ssl, starttls or none), one connection per
    message so that a dropped connection costs one message and a retry starts clean."""

    status = "sent"

    def __init__(self, settings: Settings, password: str | None = None):
        if not settings.smtp_host:
            raise PermanentMailError("未配置邮件服务器（HAZARDNET_SMTP_HOST）。")
        self.host = settings.smtp_host
        self.security = settings.smtp_security
        self.port = settings.smtp_port or {"ssl": 465, "starttls": 587, "none": 25}[self.security]
        self.user = settings.smtp_user
        secret = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        self._password = password if password is not None else secret
        self.timeout = settings.smtp_timeout_s
        self.local_hostname = mail_domain(settings)
        if self.user and self._password is None:
            raise PermanentMailError("已配置 HAZARDNET_SMTP_USER，但没有密码：请设置 HAZARDNET_SMTP_PASSWORD "
                                     "或用 HAZARDNET_SMTP_PASSWORD_BLOCK 指定 Prefect Secret 块。")
        self.ca_file = settings.smtp_ca_file
        self._tls_context: ssl.SSLContext | None = None  # built on first use: a bad CA file fails each delivery

    def __repr__(self) -> str:  # never show the password
        return f"SmtpTransport({self.user or '-'}@{self.host}:{self.port}, {self.security})"

    def _client(self):
        import yagmail

        if self._tls_context is None and self.security != "none":
            self._tls_context = tls_context(self.ca_file)
        tls = {"context": self._tls_context}
        return yagmail.SMTP(
            user=self.user or "", password=self._password, host=self.host, port=self.port,
            smtp_ssl=self.security == "ssl", smtp_starttls=tls if self.security == "starttls" else False,
            smtp_skip_login=not self.user, soft_email_validation=False,
            timeout=self.timeout, local_hostname=self.local_hostname,
            **(tls if self.security == "ssl" else {}),  # yagmail hands these to smtplib.SMTP_SSL
        )

    def deliver(self, mail: OutgoingMail, recipients: Sequence[str]) -> Receipt:
        where = f"{self.host}:{self.port}"
        client = None
        try:
            client = self._client()
            client.login()
            refused = client.smtp.sendmail(mail.envelope_from, list(recipients), mail.data)
        except smtplib.SMTPRecipientsRefused as exc:  # every recipient refused
            refused = exc.recipients
        except smtplib.SMTPAuthenticationError as exc:
            raise PermanentMailError(f"邮件服务器 {where} 拒绝登录（{exc.smtp_code}），请检查用户名和密码。") from None
        except smtplib.SMTPSenderRefused as exc:
            answer = _answer(exc.smtp_code, exc.smtp_error)
            if 400 <= exc.smtp_code < 500:
                raise TemporaryMailError(f"邮件服务器 {where} 暂时不接收邮件：{answer}") from None
            raise PermanentMailError(f"邮件服务器 {where} 拒绝发件人 {exc.sender}：{answer}") from None
        except smtplib.SMTPResponseException as exc:  # SMTPDataError, 421 at connect, …
            answer = _answer(exc.smtp_code, exc.smtp_error)
            cls = TemporaryMailError if 400 <= exc.smtp_code < 500 else PermanentMailError
            raise cls(f"邮件服务器 {where} 拒收邮件：{answer}") from None
        except smtplib.SMTPNotSupportedError as exc:  # the server offers no STARTTLS (or no AUTH): configuration
            missing = "STARTTLS 加密" if "STARTTLS" in str(exc) else "登录（AUTH）"
            raise PermanentMailError(f"邮件服务器 {where} 不支持{missing}，请检查 HAZARDNET_SMTP_SECURITY 与端口。") from None
        except smtplib.SMTPServerDisconnected as exc:
            if isinstance(exc.__context__, TimeoutError):  # a slow server, not a dropped line: say so
                raise TemporaryMailError(f"邮件服务器 {where} 超过 {self.timeout:g} 秒没有应答（Timeout），"
                                         f"邮件未确认送达。") from None
            raise TemporaryMailError(f"与邮件服务器 {where} 的连接中断，邮件未确认送达。") from None
        except UnicodeError:
            raise PermanentMailError(f"登录邮件服务器 {where} 失败：用户名或密码含有服务器不支持的字符。") from None
        except ssl.SSLCertVerificationError as exc:
            raise PermanentMailError(certificate_problem(where, exc, self.ca_file)) from None
        except ssl.SSLError as exc:
            raise PermanentMailError(f"与邮件服务器 {where} 建立加密连接失败（{exc.reason}），"
                                     f"请检查 HAZARDNET_SMTP_SECURITY 与端口。") from None
        except (ConnectionError, socket.timeout, TimeoutError, OSError) as exc:
            raise TemporaryMailError(f"无法连接邮件服务器 {where}：{type(exc).__name__}") from None
        except smtplib.SMTPException as exc:
            raise TemporaryMailError(f"邮件服务器 {where} 出错：{type(exc).__name__}") from None
        finally:
            if client is not None:
                try:
                    client.close()
                except Exception:  # noqa: BLE001 - closing a broken connection may fail; the outcome is known
                    pass
        receipt = Receipt("sent")
        for address in recipients:
            if address in refused:
                code, text = refused[address]
                answer = _answer(code, text)
                (receipt.deferred if 400 <= code < 500 else receipt.refused)[address] = answer
            else:
                receipt.accepted.append(address)
        return receipt


def make_transport(settings: Settings, password: str | None = None) -> Transport:
    """SMTP when HAZARDNET_SMTP_HOST is set, otherwise .eml files under outbox/mail/."""
    if settings.smtp_host:
        return SmtpTransport(settings, password)
    return EmlFileTransport(settings.outbox / "mail")
