"""A failed run's state message in the Prefect UI carries no mobile number or email address.

When a flow or task run raises, Prefect writes "Flow run encountered an exception: <Type>: <message>" as the
run's state message (`prefect.states.format_exception`, also imported by name into `prefect._internal.states`
for the synchronous engines). That message is no log record, so `flows.redaction.RedactingFilter` never sees
it: an SMTP refusal quoting a recipient's address, or a directory row's mobile in an error, would show in the
UI's run page as it is. This masks the formatted exception with the same `redact` as the log lines.
"""

from __future__ import annotations

from types import TracebackType

import prefect._internal.states as internal_states
import prefect.states as states

from flows.redaction import redact

_prefect_format_exception = states.format_exception


def format_exception_redacted(exc: BaseException, tb: TracebackType | None = None) -> str:
    """Prefect's `format_exception`, with mobiles and email addresses masked."""
    return redact(_prefect_format_exception(exc, tb))


def install() -> None:
    """Make every failed or crashed run of this process state a masked message (idempotent)."""
    for module in (states, internal_states):
        module.format_exception = format_exception_redacted
