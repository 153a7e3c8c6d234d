"""Registers in a mail: the spreadsheet attachments of a message (also inside a forwarded message/rfc822), their
names as Chinese mail clients write them, and what kind of file each one is.

Names come as RFC 2231 (`filename*=utf-8''%E6…`, or without a charset), RFC 2047 (`=?UTF-8?B?…?=`,
`=?GBK?B?…?=`, `=?gb18030?B?…?=`) or as raw GBK bytes in the header (Foxmail and older Outlook); a name that
cannot be decoded gets a safe generated one. The kind is told by the bytes first (a workbook whose name was lost
is still a workbook), the name second.
"""

from __future__ import annotations

import hashlib
import re
import urllib.parse
import zipfile
from dataclasses import dataclass
from email import policy
from email.header import decode_header
from email.message import Message
from email.parser import BytesParser
from io import BytesIO
from pathlib import PurePosixPath, PureWindowsPath

from hazardnet.intake.inbox import REPORT_SUFFIX

SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")
ARCHIVE_SUFFIXES = (".zip", ".rar", ".7z", ".gz", ".tgz", ".tar", ".bz2", ".xz", ".arj", ".cab")
WORKBOOK, ARCHIVE, OTHER = "workbook", "archive", "other"
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_CONTROL = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
# Chinese clients label GBK text as gb2312 (a subset): decode every such label as GB18030, its superset
_CHARSETS = {"gb2312": "gb18030", "gbk": "gb18030", "gb_2312-80": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030",
             "euc-cn": "gb18030", "hz-gb-2312": "hz"}


@dataclass(frozen=True)
class Attachment:
    """One attached file: its decoded name, bytes and kind (workbook | archive | other)."""

    name: str
    data: bytes
    kind: str
    name_decoded: bool = True  # False: the name given could not be read and `name` was generated

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def parse_message(raw: bytes) -> Message:
    """The message as sent (compat32 keeps raw 8-bit header bytes, which the name decoding needs)."""
    return BytesParser(policy=policy.compat32).parsebytes(raw)


def _codec(charset: str | None) -> str:
    cs = (charset or "").strip().lower()
    return _CHARSETS.get(cs, cs or "utf-8")


def _bytes_to_text(data: bytes, charset: str | None = None) -> str | None:
    """Text of `data`: the charset it claims, else UTF-8, else GB18030 (what a Chinese client means)."""
    for cs in ([_codec(charset)] if charset else []) + ["utf-8", "gb18030"]:
        try:
            return data.decode(cs)
        except (LookupError, UnicodeDecodeError):
            continue
    return None


def _raw_bytes(value: str) -> bytes:
    """A compat32 header value back to the bytes it was made of (8-bit bytes are surrogate escapes)."""
    return value.encode("ascii", "surrogateescape")


def decode_name(value: object) -> str | None:
    """A filename parameter as the email package hands it (a string, or an RFC 2231 triple) → text, or None."""
    if value is None:
        return None
    if isinstance(value, tuple):  # RFC 2231: (charset, language, percent-decoded text as latin-1)
        charset, _lang, text = value
        data = urllib.parse.unquote_to_bytes(text) if "%" in text else text.encode("latin-1", "surrogateescape")
        return _bytes_to_text(data, charset or None)
    text = str(value)
    if "=?" in text:  # RFC 2047, possibly quoted inside the parameter (which is not allowed, but common)
        try:
            parts = decode_header(text.replace('"', ""))
        except Exception:  # noqa: BLE001 - a malformed encoded word: no name
            return None
        out = []
        for chunk, charset in parts:
            if isinstance(chunk, str):
                out.append(chunk)
                continue
            decoded = _bytes_to_text(chunk, charset)
            if decoded is None:
                return None
            out.append(decoded)
        return "".join(out)
    try:
        data = _raw_bytes(text)
    except UnicodeEncodeError:
        return text
    return _bytes_to_text(data)


_RAW_PARAM = re.compile(r'(?:^|;)\s*(?:file)?name\s*=\s*(?:"([^"]*)"|([^;\s]+))', re.I)


def _raw_8bit_name(part: Message) -> str | None:
    """A name written as raw 8-bit bytes (GBK, or UTF-8) straight into the header, which the email package
    only hands out as replacement characters."""
    for header in ("content-disposition", "content-type"):
        for key, value in part.raw_items():
            if key.lower() != header or not re.search(r"[\udc80-\udcff]", str(value)):
                continue
            m = _RAW_PARAM.search(str(value))
            if m:
                return _bytes_to_text(_raw_bytes(m.group(1) if m.group(1) is not None else m.group(2)))
    return None


def attachment_name(part: Message) -> str | None:
    """The decoded name of an attached part (Content-Disposition filename, else Content-Type name)."""
    raw = _raw_8bit_name(part)
    if raw is not None:
        return raw
    for header, param in (("content-disposition", "filename"), ("content-type", "name")):
        value = part.get_param(param, header=header)
        if value is None:
            continue
        name = decode_name(value)
        if name and not isinstance(value, tuple) and re.search(r"%[0-9A-Fa-f]{2}", name):
            # RFC 2231 without a charset (filename*=%E6…, or continuations filename*0=…): percent-encoded
            # bytes the email package leaves as they are
            decoded = _bytes_to_text(urllib.parse.unquote_to_bytes(name))
            if decoded and any(ord(c) > 127 for c in decoded):
                name = decoded
        return name
    return None


def clean_name(name: str | None) -> str | None:
    """The base name of `name` without control characters, or None when nothing usable is left."""
    if not name:
        return None
    name = PureWindowsPath(PurePosixPath(name.replace("\\", "/")).name).name.strip().strip(".").lstrip("~")
    if not name or _CONTROL.search(name) or "\ufffd" in name:
        return None
    return name[:150]


def kind_of(data: bytes, name: str | None) -> tuple[str, str]:
    """(kind, suffix) of a file by its bytes, then its name: a workbook's suffix says which reader reads it."""
    suffix = PurePosixPath(name or "").suffix.lower()
    if data.startswith(b"PK"):
        try:
            with zipfile.ZipFile(BytesIO(data)) as z:
                names = set(z.namelist())
                if "xl/workbook.xml" in names or "xl/workbook.bin" in names:
                    macro = "xl/vbaProject.bin" in names
                    return WORKBOOK, suffix if suffix in (".xlsx", ".xlsm") else (".xlsm" if macro else ".xlsx")
                if "mimetype" in names and z.read("mimetype").startswith(b"application/vnd.oasis.opendocument.spread"):
                    return WORKBOOK, ".ods"
        except (zipfile.BadZipFile, OSError, KeyError, NotImplementedError):
            pass
        return (WORKBOOK, suffix) if suffix in SPREADSHEET_SUFFIXES else (ARCHIVE, suffix or ".zip")
    if data.startswith(_OLE2) and suffix not in (".doc", ".ppt", ".msg"):
        return WORKBOOK, ".xls"
    if data.startswith((b"Rar!", b"7z\xbc\xaf\x27\x1c", b"\x1f\x8b")) or suffix in ARCHIVE_SUFFIXES:
        return ARCHIVE, suffix or ".rar"
    if suffix in SPREADSHEET_SUFFIXES:
        return WORKBOOK, suffix  # not what its name says: the intake rejects it with its own reason
    return OTHER, suffix


def attachments(message: Message) -> list[Attachment]:
    """Every attached file of `message` and of the messages forwarded in it, in order (an attachment carried
    twice counted once). The system's own problem reports, quoted back in a reply, are not registers."""
    found: list[Attachment] = []
    seen: set[str] = set()
    for part in message.walk():
        if part.is_multipart() or part.get_content_maintype() == "message":
            continue
        raw_name = attachment_name(part)
        disposition = (part.get_content_disposition() or "").lower()
        if raw_name is None and disposition != "attachment":
            continue  # the text of the mail (or of a quoted one)
        data = part.get_payload(decode=True) or b""
        if not data:
            continue
        name = clean_name(raw_name)
        kind, suffix = kind_of(data, name)
        digest = hashlib.sha256(data).hexdigest()
        if digest in seen or (name or "").endswith(REPORT_SUFFIX) or name in ("winmail.dat",):
            continue
        seen.add(digest)
        decoded = name is not None
        if name is None:
            name = f"邮件附件_{digest[:8]}{suffix}"
        elif kind == WORKBOOK and PurePosixPath(name).suffix.lower() not in SPREADSHEET_SUFFIXES:
            name = f"{name}{suffix}"
        found.append(Attachment(name, data, kind, decoded))
    return found
