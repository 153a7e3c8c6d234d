"""Recipients' contact data as people other than the recipient may see it: every mobile number as 139****0001,
every email address as ***@domain. The Prefect UI (artifacts, log lines, a failed run's state message:
flows.redaction) and the console's lines about deliveries show only this; mails, texts, the delivery ledger and
`--json` keep the real values."""

from __future__ import annotations

import re

# An 11-digit mainland mobile (also written with spaces/dashes or +86), not part of a longer number
_MOBILE = re.compile(r"(?<![\d])(?:\+?86[ -]?)?(1[3-9]\d)[ -]?(\d{4})[ -]?(\d{4})(?![\d])")
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@([A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+)")


def redact(text: str) -> str:
    """`text` with every mobile number as 139****0001 and every email address as ***@domain."""
    if not text:
        return text
    text = _EMAIL.sub(lambda m: f"***@{m.group(1)}", text)
    return _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
