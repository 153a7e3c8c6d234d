"""The grid warning job (电网风险预警): a dispatcher's grid risk warning → mail and SMS to every recipient of the
counties named and every prefecture-level one, each (warning, recipient, channel) once. One sequence: the flow
runs it with Prefect's runner, tests and scripts with the plain one."""

from __future__ import annotations

import datetime as dt

from hazardnet.delivery.directory import DirectoryResult, Recipient, load_directory
from hazardnet.delivery.dispatch import Dispatch, Dispatcher, failure_summary, gave_up, undelivered
from hazardnet.delivery.ledger import bulletin_lock
from hazardnet.jobs.runner import PlainRunner, RetryPolicy, Runner
from hazardnet.jobs.sending import JobOutcome, mail_directory_problems
from hazardnet.jobs.wiring import dispatcher
from hazardnet.publish.grid_warning import (
    KIND,
    GridWarning,
    grid_letter,
    grid_recipients,
    grid_result,
    grid_warning,
    sms_body,
    sms_stem,
)
from hazardnet.settings import Settings
from hazardnet.store import Store


def send_grid(settings: Settings, warning: GridWarning, day: dt.date, *, runner: Runner | None = None,
              store: Store | None = None, sender: Dispatcher | None = None) -> JobOutcome:
    """Send a grid risk warning to the named counties' recipients and the prefecture's, once each per channel.
    `sender`: the dispatcher (default: the transports of the settings, jobs.wiring)."""
    runner = runner or PlainRunner(RetryPolicy.of(settings))
    settings.home.mkdir(parents=True, exist_ok=True)
    own_store = store is None
    store = store or Store(settings.database_url)
    try:
        with bulletin_lock(settings):
            directory = runner.step("读取通讯录", recipient_directory, settings, store, day)
            sender = sender or dispatcher(settings, store, runner.secret)
            directory_mail = mail_directory_problems(settings, directory, sender, runner)
            if not directory.usable:
                return JobOutcome({}, "没有可用的通讯录，未发送电网风险预警：" +
                                  "；".join(f.message for f in directory.findings), directory_mail, sent=False)

            def warned(recipient: Recipient) -> dict:
                """Mail and text one recipient the warning (temporary failures raise and are retried)."""
                return warn_grid_recipient(sender, settings, recipient, warning, day)

            deliveries = runner.each("发送电网风险预警", warned, grid_recipients(directory.recipients, warning),
                                     label=lambda r: f"电网风险预警：{r.county_label} {r.org_name}", io=True,
                                     on_error=gave_up,
                                     threads=1)  # the plain runner: one mail in flight at a time
        runner.info("grid warning %s: %d recipients", warning.key, len(deliveries))
        return JobOutcome(grid_result(warning, day, directory, deliveries),
                          failure_summary(deliveries) if undelivered(deliveries) else None, directory_mail)
    finally:
        if own_store:
            store.dispose()


def make_warning(settings: Settings, counties, text: str, day: dt.date, *, lines=(), substations=(),
                 store: Store | None = None) -> GridWarning:
    """The warning a dispatcher asked for: whole counties, or the customers whose customer file (一户一档) names
    one of `lines` or `substations` as known on `day`. Raises ValueError with a Chinese message."""
    files = None
    if lines or substations:
        from schemas.customer_file import KIND_CUSTOMERS

        own = store is None
        store = store or Store(settings.database_url)
        try:
            files = store.records_as_of(KIND_CUSTOMERS, day, settings.counties)
        finally:
            if own:
                store.dispose()
    return grid_warning(settings, list(counties or []), text, lines=lines or (), substations=substations or (),
                        files=files)


def recipient_directory(settings: Settings, store: Store, day: dt.date) -> DirectoryResult:
    """The directory in use: the valid rows of the file, or the last valid version."""
    return load_directory(settings, store, day)


def warn_grid_recipient(sender: Dispatcher, settings: Settings, recipient: Recipient, warning: GridWarning,
                        day: dt.date) -> dict:
    """Mail and (with a mobile) text one recipient the warning, once each; both channels are tried before a
    temporary failure of either is raised."""
    return sender.send(Dispatch(KIND, recipient, [(warning.key, warning.digest)],
                                letter=lambda _p: grid_letter(recipient, warning, settings, day),
                                text=lambda _p: sms_body(warning, settings), sms_stem=sms_stem(recipient, day)))
