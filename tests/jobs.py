"""Calling the sending jobs from tests: the plain runner (immediate retries: `retries` zero delays) and a
dispatcher over the test's own transports (a loopback SMTP server, .eml files, an SMS gateway)."""

from __future__ import annotations

from hazardnet.delivery.dispatch import Dispatcher
from hazardnet.jobs.bulletin import bulletin
from hazardnet.jobs.grid_warning import send_grid
from hazardnet.jobs.quarterly import QuarterOutcome, quarterly
from hazardnet.jobs.runner import PlainRunner, RetryPolicy
from hazardnet.jobs.warnings import risk_warnings


def plain(retries: int = 0) -> PlainRunner:
    """The engine's runner, retrying a temporary error `retries` times at once."""
    return PlainRunner(RetryPolicy((0.0,) * retries))


def bulletin_job(settings, store, period, as_of, transport, *, resend=False, retries=0, sms=None) -> dict:
    """The bulletin job's result."""
    return bulletin(settings, period, as_of, store=store, resend=resend, runner=plain(retries),
                    sender=Dispatcher(store, settings, transport, sms)).result


def warnings_job(settings, store, as_of, transport, *, retries=0, sms=None) -> dict:
    """The warnings job's result."""
    return risk_warnings(settings, as_of, store=store, runner=plain(retries),
                         sender=Dispatcher(store, settings, transport, sms)).result


def grid_warning_job(settings, store, warning, transport, sms, *, day, retries=0) -> dict:
    """The grid warning job's result."""
    return send_grid(settings, warning, day, store=store, runner=plain(retries),
                     sender=Dispatcher(store, settings, transport, sms)).result


def quarter_job(store, settings, quarter, *, as_of=None, photos=None) -> QuarterOutcome:
    """The quarterly job without sending: workbooks, decks (with the store's photos), newsletter."""
    return quarterly(settings, quarter, as_of, store=store, runner=plain(), photos=photos)


def quarter_sent_job(settings, store, quarter, transport, *, as_of=None, retries=0) -> dict:
    """The quarterly job with sending: its result (workbooks, deliveries)."""
    return quarterly(settings, quarter, as_of, send=True, store=store, runner=plain(retries),
                     sender=Dispatcher(store, settings, transport)).result
