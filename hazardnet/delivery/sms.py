"""Text messages (短信): two transports behind one small interface, and exactly-once delivery through the ledger.

`HAZARDNET_SMS_URL` is one Apprise URL in which `{mobile}` stands for the recipient's 11-digit number:

- `json://sms-gw.example.cn/send?:mobile={mobile}` — an HTTP gateway taking JSON: Apprise posts
  `{"title", "message", "mobile", …}`; a 2xx answer is delivery, a 4xx a refused number, a 5xx, a
  time-out or a dropped connection a gateway that is down (retried);
- `smpp://user:pass@sms-gw.example.cn:2775/1069xxxx/{mobile}` — an SMPP gateway (needs `smpplib`).

Unset, each message is written as a text file under outbox/sms/ (as mail becomes .eml files).

The URL carries secrets (a password, an API key in the query): it is never logged, never part of an error
or an artifact; only `redact_url` (scheme, host and port) is shown.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from hazardnet.delivery.directory import Recipient
from hazardnet.delivery.letter import SMS_MAX_CHARS
from hazardnet.delivery.ledger import FAILED, SMS, DeliveryLedger, LedgerEntry
from hazardnet.delivery.letter import safe_file_name
from hazardnet.delivery.mail import PermanentMailError, TemporaryMailError
from hazardnet.failpoints import checkpoint
from hazardnet.runtime import write_atomically
from hazardnet.settings import Settings

SMS_DIR = "sms"
SKIPPED = "skipped"


class TemporarySmsError(TemporaryMailError):
    """The gateway is down, timed out or dropped the connection: worth retrying with back-off."""


class PermanentSmsError(PermanentMailError):
    """Configuration is wrong (no {mobile} in the URL, an unknown scheme): retrying will not help."""


@dataclass(frozen=True)
class OutgoingSms:
    """One text message, ready to go."""

    text: str
    file_stem: str = "sms"

    def __post_init__(self):
        if len(self.text) > SMS_MAX_CHARS:  # a programming error: every builder fits its text
            raise ValueError(f"SMS of {len(self.text)} characters (max {SMS_MAX_CHARS})")


@dataclass
class SmsReceipt:
    """What a transport did with each number."""

    status: str  # "sent" (gateway) or "written" (text file)
    accepted: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # number -> why (permanent: the number)
    deferred: dict[str, str] = field(default_factory=dict)  # number -> why (temporary: the gateway)
    locations: list[str] = field(default_factory=list)


class SmsTransport(Protocol):
    """Delivers one text to some numbers."""

    status: str

    def deliver(self, sms: OutgoingSms, mobiles: Sequence[str]) -> SmsReceipt: ...


def redact_url(url: str) -> str:
    """What of an SMS URL may be shown: scheme, host and port — never user, password, path or query."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "（无法解析的地址）"
    return f"{parts.scheme or '?'}://{host}{port}"


# ---- the file transport -------------------------------------------------------------------------
class SmsFileTransport:
    """Writes each message as a UTF-8 text file per number under `folder` (outbox/sms/)."""

    status = "written"

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def path_for(self, sms: OutgoingSms, mobile: str) -> Path:
        tag = hashlib.sha256(sms.text.encode()).hexdigest()[:8]
        return self.folder / f"{safe_file_name(sms.file_stem)}_{mobile}_{tag}.txt"

    def deliver(self, sms: OutgoingSms, mobiles: Sequence[str]) -> SmsReceipt:
        receipt = SmsReceipt("written")
        for mobile in mobiles:
            text = f"收件号码：{mobile}\n字数：{len(sms.text)}\n\n{sms.text}\n"
            path = write_atomically(self.path_for(sms, mobile), lambda fh: fh.write(text.encode("utf-8")))
            receipt.accepted.append(mobile)
            receipt.locations.append(str(path))
        return receipt


# ---- the Apprise transport ----------------------------------------------------------------------
class _ThreadRecords(logging.Handler):
    """Collects the log messages of one thread (flows send from several threads at once)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.thread = threading.get_ident()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            try:
                self.messages.append(record.getMessage())
            except Exception:  # noqa: BLE001 - a malformed record must not break a delivery
                pass


_quiet_lock = threading.Lock()
_quiet_depth = 0
_QUIET_LOGGERS = ("apprise", "smpp")  # their English warnings would reach the user's console


@contextmanager
def _apprise_records() -> Iterator[list[str]]:
    """What Apprise (and smpplib) log in this thread while the block runs; kept off the console — our own
    Chinese reason says what happened."""
    global _quiet_depth
    handler = _ThreadRecords()
    loggers = [logging.getLogger(n) for n in _QUIET_LOGGERS]
    with _quiet_lock:
        if _quiet_depth == 0:
            for lg in loggers:
                lg.propagate = False
        _quiet_depth += 1
        for lg in loggers:
            lg.addHandler(handler)
    try:
        yield handler.messages
    finally:
        with _quiet_lock:
            for lg in loggers:
                lg.removeHandler(handler)
            _quiet_depth -= 1
            if _quiet_depth == 0:
                for lg in loggers:
                    lg.propagate = True


_HTTP_CODE = re.compile(r"error=(\d{3})")


class AppriseSmsTransport:
    """Sends through Apprise, one notification per number (`{mobile}` in the URL), so that each number's
    outcome is known: accepted, refused (the number) or deferred (the gateway)."""

    status = "sent"

    def __init__(self, url_template: str):
        self._template = url_template.strip()
        self.where = redact_url(self._template)
        if "{mobile}" not in self._template:
            raise PermanentSmsError(f"HAZARDNET_SMS_URL（{self.where}）中没有 {{mobile}}：请在收件号码的位置写 {{mobile}}，"
                                    f"例如 json://短信网关/send?:mobile={{mobile}}。")
        if self._plugin("13900000000") is None:
            raise PermanentSmsError(f"HAZARDNET_SMS_URL（{self.where}）不是可用的 Apprise 短信地址"
                                    f"（smpp:// 需要安装 smpplib）。")

    def __repr__(self) -> str:  # never show the URL's secrets
        return f"AppriseSmsTransport({self.where})"

    def _plugin(self, mobile: str):
        import apprise

        with _apprise_records():
            plugin = apprise.Apprise.instantiate(self._template.replace("{mobile}", mobile))
        if plugin is not None and getattr(plugin, "protocol", None) == "smpp" and plugin.port:
            # Apprise 2.0.x connects to the default SMPP port whatever the URL says (fixed in 2.1, which
            # Prefect 3.9 does not allow yet): this instance's default is the URL's port
            plugin.default_port = plugin.default_secure_port = plugin.port
        return plugin

    def _send_one(self, text: str, mobile: str) -> tuple[str, str | None]:
        """("accepted", None), ("refused", why) or ("deferred", why) for one number."""
        plugin = self._plugin(mobile)
        if plugin is None:
            return "refused", "短信网关地址无法用于该号码"
        with _apprise_records() as records:
            try:
                ok = plugin.notify(body=text, title="")
            except Exception as exc:  # noqa: BLE001 - smpplib raises out of Apprise's plugin
                if type(exc).__name__ == "PDUError":  # the bind was refused: user name or password
                    raise PermanentSmsError(f"短信网关 {self.where} 拒绝登录（SMPP），请检查 HAZARDNET_SMS_URL 中的"
                                            f"用户名和密码。") from None
                return "deferred", f"与短信网关 {self.where} 的连接中断（{type(exc).__name__}），短信未确认送达"
        if ok:
            return "accepted", None
        log = " ".join(records)
        code = _HTTP_CODE.search(log)
        if code:
            status = int(code.group(1))
            if 400 <= status < 500 and status not in (408, 425, 429):
                return "refused", f"短信网关拒收该号码（HTTP {status}）"
            return "deferred", f"短信网关 {self.where} 暂时无法发送（HTTP {status}）"
        if "PDUError" in log or "ESME_" in log:
            return "refused", "短信网关拒收该号码（SMPP）"
        return "deferred", f"无法连接短信网关 {self.where}，或网关无应答，短信未确认送达"

    def deliver(self, sms: OutgoingSms, mobiles: Sequence[str]) -> SmsReceipt:
        receipt = SmsReceipt("sent")
        for mobile in mobiles:
            outcome, why = self._send_one(sms.text, mobile)
            if outcome == "accepted":
                receipt.accepted.append(mobile)
            else:
                (receipt.refused if outcome == "refused" else receipt.deferred)[mobile] = why or ""
        return receipt


def make_sms_transport(settings: Settings, url: str | None = None) -> SmsTransport:
    """Apprise when HAZARDNET_SMS_URL (or `url`, e.g. from a Prefect Secret block) is set, otherwise text
    files under outbox/sms/."""
    url = url or (settings.sms_url.get_secret_value() if settings.sms_url else None)
    if url:
        return AppriseSmsTransport(url)
    return SmsFileTransport(settings.outbox / SMS_DIR)


# ---- exactly once, through the ledger ---------------------------------------------------------------
@dataclass
class SmsDelivery:
    """What happened by SMS for one recipient in one run."""

    status: str  # sent | written | skipped (nothing new, or no mobile) | failed
    mobiles: tuple[str, ...] = ()
    items: list[str] = field(default_factory=list)
    error: str | None = None
    locations: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"sms_status": self.status, "mobiles": list(self.mobiles), "sms_items": self.items,
                "sms_error": self.error}


def deliver_sms_items(ledger: DeliveryLedger, transport: SmsTransport, *, kind: str, recipient: Recipient,
                      items: Sequence[tuple[str, str]], build: Callable[[list[str]], OutgoingSms],
                      resend: bool = False) -> SmsDelivery:
    """Text `items` ((ledger period, content hash) pairs) to every mobile of `recipient`, each at most once.

    `build(periods)` makes the one message carrying those items. A number the gateway refuses is recorded and
    named in the returned error (the others still get theirs); when the gateway is down the progress is
    recorded and TemporarySmsError raised, so a retry sends only what is missing.
    """
    mobiles = tuple(recipient.mobiles)
    if not mobiles:
        return SmsDelivery(SKIPPED)
    out = SmsDelivery(SKIPPED, mobiles)
    claimed: list[LedgerEntry] = []
    batch = f"<sms.{uuid.uuid4().hex}>"
    for period, digest in items:
        entry, done = ledger.claim(kind, period, recipient.key, content_hash=digest, addresses=list(mobiles),
                                   resend=resend, new_message_id=lambda: batch, channel=SMS)
        if not done:
            claimed.append(entry)
    if not claimed:
        return out
    groups: dict[tuple[str, ...], list[LedgerEntry]] = {}
    for e in claimed:  # items a number already has are not texted to it again
        groups.setdefault(tuple(e.missing(mobiles)), []).append(e)
    temporary: list[str] = []
    refused: list[str] = []
    for missing, entries in groups.items():
        periods = [e.period for e in entries]
        if not missing:
            for e in entries:
                ledger.record(e, delivered=[], status=transport.status, error=None, transport=transport.status)
            out.items += periods
            continue
        sms = build(periods)
        checkpoint("sms_before_send")
        try:
            receipt = transport.deliver(sms, list(missing))
        except TemporaryMailError as exc:
            for e in entries:
                ledger.record(e, delivered=[], status=FAILED, error=exc.reason, transport=transport.status)
            temporary.append(exc.reason)
            continue
        except PermanentMailError as exc:
            for e in entries:
                ledger.record(e, delivered=[], status=FAILED, error=exc.reason, transport=transport.status)
            refused.append(exc.reason)
            continue
        checkpoint("sms_after_send")
        problems = {**receipt.refused, **receipt.deferred}
        error = "；".join(f"{m}：{why}" for m, why in problems.items()) or None
        for e in entries:
            ledger.record(e, delivered=receipt.accepted, status=FAILED if problems else receipt.status, error=error,
                          transport=receipt.status, location="；".join(receipt.locations)[:1000] or None)
        out.locations += receipt.locations
        if receipt.deferred:
            temporary.append("；".join(f"{m}：{why}" for m, why in receipt.deferred.items()))
        if receipt.refused:
            refused += [f"{m}（{why}）" for m, why in receipt.refused.items()]
        if not problems:
            out.items += periods
    if temporary:
        raise TemporarySmsError(f"{recipient.org_name} 的短信未能发出：" + "；".join(temporary))
    if refused:
        out.status, out.error = FAILED, "短信未送达：" + "；".join(refused)
    else:
        out.status = transport.status if out.items else SKIPPED
    return out


def with_sms(record: dict, sms: SmsDelivery) -> dict:
    """A delivery record (mail) with the SMS outcome added; a failed SMS fails the record, naming why."""
    out = {**record, **sms.as_json()}
    if sms.status == FAILED:
        out["status"] = FAILED
        out["error"] = "；".join(e for e in (record.get("error"), sms.error) if e)
    return out
