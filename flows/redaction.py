"""What the Prefect UI shows carries no mobile number or email address: artifacts (flows.artifacts) and log
records (`RedactingFilter`, named in flows/logging.yml) are masked on their way to the server."""

from __future__ import annotations

import logging
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


class RedactingFilter(logging.Filter):
    """A logging filter (Prefect's logging.yml `filters:`) that masks mobiles and email addresses in a record's
    message before any handler (the API's, the console's, the log file's) sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is the logging module's to report
            return True
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True
