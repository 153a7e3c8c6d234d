"""The warnings job (风险预警): overdue hazards (and major ones without a deadline) → mail and SMS to the
customer and its county's government authority, each warning once per channel, escalation 30 days after the
deadline. One sequence: the flow runs it with Prefect's runner, tests and scripts with the plain one."""

from __future__ import annotations

import datetime as dt

from hazardnet.delivery.directory import DirectoryResult, Recipient, load_directory
from hazardnet.delivery.dispatch import Dispatch, Dispatcher, failure_summary, gave_up, undelivered
from hazardnet.delivery.ledger import bulletin_lock
from hazardnet.jobs.runner import PlainRunner, RetryPolicy, Runner
from hazardnet.jobs.sending import JobOutcome, mail_directory_problems
from hazardnet.jobs.wiring import dispatcher
from hazardnet.publish.warnings import (
    KIND,
    HazardWarning,
    message_stem,
    plan,
    sms_body,
    unreachable_customers,
    warning_letter,
    warnings_on,
)
from hazardnet.settings import Settings
from hazardnet.store import Store


def risk_warnings(settings: Settings, as_of: dt.date, *, runner: Runner | None = None, store: Store | None = None,
                  sender: Dispatcher | None = None) -> JobOutcome:
    """Warn customers and county authorities about overdue hazards, each warning once per channel.
    `sender`: the dispatcher (default: the transports of the settings, jobs.wiring)."""
    runner = runner or PlainRunner(RetryPolicy.of(settings))
    settings.home.mkdir(parents=True, exist_ok=True)
    own_store = store is None
    store = store or Store(settings.database_url)
    try:
        warnings = runner.step("查找应预警隐患", due_warnings, settings, store, as_of)
        directory = runner.step("读取通讯录", recipient_directory, settings, store, as_of)
        sender = sender or dispatcher(settings, store, runner.secret)
        directory_mail = mail_directory_problems(settings, directory, sender, runner)
        unreachable = unreachable_customers(directory.recipients, warnings)
        deliveries: list[dict] = []
        if warnings and not directory.usable:
            return JobOutcome({}, "没有可用的通讯录，无法发送风险预警：" +
                              "；".join(f.message for f in directory.findings), directory_mail, sent=False)
        if warnings:
            def warned(pair: tuple[Recipient, list[HazardWarning]]) -> dict:
                """Mail and text one recipient the warnings it has not had yet."""
                return warn_recipient(sender, settings, *pair, as_of)

            with bulletin_lock(settings):  # one sender at a time per home, whatever it sends
                deliveries = runner.each(
                    "发送风险预警", warned, plan(directory.recipients, warnings),
                    label=lambda p: f"发送风险预警：{p[0].county_label} {p[0].org_name}",
                    io=True, on_error=lambda p, exc: gave_up(p[0], exc),
                    threads=1)  # the plain runner: one mail in flight at a time
        runner.info("%s: %d warnings, %d deliveries", as_of, len(warnings), len(deliveries))
        result = {"as_of": as_of.isoformat(), "warnings": [w.as_json() for w in warnings], "deliveries": deliveries,
                  "unreachable": [w.as_json() for w in unreachable],
                  "directory": {"source": directory.source, "file": directory.file_name,
                                "findings": [f.as_json() for f in directory.findings]}}
        return JobOutcome(result, failure_summary(deliveries) if undelivered(deliveries) else None, directory_mail)
    finally:
        if own_store:
            store.dispose()


def due_warnings(settings: Settings, store: Store, as_of: dt.date) -> list[HazardWarning]:
    """Overdue hazards and major hazards without a deadline, on the report date, in the configured county order."""
    return warnings_on(store, as_of, settings.counties)


def recipient_directory(settings: Settings, store: Store, as_of: dt.date) -> DirectoryResult:
    """The directory in use: the file when valid, else the last valid version."""
    return load_directory(settings, store, as_of)


def warn_recipient(sender: Dispatcher, settings: Settings, recipient: Recipient, warnings: list[HazardWarning],
                   as_of: dt.date) -> dict:
    """Mail and (with a mobile) text one recipient the warnings it has not had yet on each channel; both
    channels are tried before a temporary failure of either is raised, so a retry sends only what is missing."""
    by_key = {w.key: w for w in warnings}
    return sender.send(Dispatch(
        KIND, recipient, [(w.key, w.digest) for w in warnings],
        letter=lambda keys: warning_letter(recipient, [by_key[k] for k in keys], as_of, settings),
        text=lambda keys: sms_body(recipient, [by_key[k] for k in keys], settings),
        sms_stem=message_stem(recipient, as_of)))
