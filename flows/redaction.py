"""What the Prefect UI shows carries no mobile number or email address: artifacts (flows.artifacts) and log
records (`RedactingFilter`, named in flows/logging.yml) are masked on their way to the server, with the one
masking of the project (hazardnet.delivery.masking.redact)."""

from __future__ import annotations

import logging

from hazardnet.delivery.masking import redact

__all__ = ["RedactingFilter", "redact"]


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
