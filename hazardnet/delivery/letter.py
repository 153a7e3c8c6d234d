"""What a renderer (publish/) hands the dispatcher: a `Letter` (subject, body, attached files) and an SMS text,
with the conventions both follow (the subject prefix, safe attachment names, the SMS signature and lengths).
Plain values only: publish/ may import this module, never the ledger, the mail or the SMS transports."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hazardnet.settings import Settings
from hazardnet.xlsx.text_width import shorten

SUBJECT_PREFIX = "【用电安全1+1+1工作网】"  # every subject the network sends starts with it
SMS_MAX_CHARS = 140  # the longest message we send: two concatenated parts at most
SMS_SINGLE_CHARS = 70  # what fits one part (UCS-2): aimed at where the content allows
_UNSAFE_FILE_CHARS = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')


@dataclass
class Letter:
    """What one mail says: rendered by publish/, built into a message by the dispatcher."""

    subject: str
    body: str
    files: Sequence[tuple[str, bytes | Path]] = ()  # (name as the recipient sees it, content or path)
    file_stem: str = "mail"  # the .eml file name when mail is written to files
    headers: dict[str, str] = field(default_factory=dict)  # e.g. In-Reply-To and References of a reply


def safe_file_name(name: str, limit: int = 120) -> str:
    """A file name with no path separators or characters Windows refuses."""
    cleaned = _UNSAFE_FILE_CHARS.sub("_", name).strip().strip(".")
    return (cleaned or "未命名")[:limit]


def mail_signature(settings: Settings) -> list[str]:
    """The lines every mail is signed with, once: the sending department (国网海西供电公司营销部), after the company
    only when the department's name does not carry it already."""
    if settings.mail_from_name.startswith(settings.company):
        return [settings.mail_from_name]
    return [n for n in (settings.company, settings.mail_from_name) if n]


def sms_text(settings: Settings, body: str) -> str:
    """The signature and `body`, cut (with …) to SMS_MAX_CHARS."""
    text = f"{settings.sms_signature}{body}"
    return shorten(text, SMS_MAX_CHARS)


def fit(parts: Sequence[str], limit: int, joiner: str = "、", more: Callable[[int], str] = lambda n: f"等{n}项") -> str:
    """As many of `parts` as fit in `limit` characters, then "等N项" (N: all of them)."""
    out = ""
    for i, p in enumerate(parts):
        candidate = p if not out else out + joiner + p
        tail = "" if i == len(parts) - 1 else more(len(parts))
        if len(candidate) + len(tail) > limit:
            return (out + more(len(parts))) if out else more(len(parts))
        out = candidate
    return out
