"""The customer-checks job (客户档案检查): every customer's problems as of a report date, from the counties' customer
files (一户一档), joint drills and registers in the store, and — when asked — the drill reminders (联合应急演练到期
提醒) to the customers whose drill year runs out within 30 days and to their county supply companies, by mail and
SMS, once each, through the one dispatcher. One sequence: the flow runs it with Prefect's runner, tests with the
plain one."""

from __future__ import annotations

import datetime as dt

from hazardnet.jobs.runner import PlainRunner, RetryPolicy, Runner
from hazardnet.publish.customer_checks import check_customers, drill_reminders_due, register_customers
from hazardnet.settings import Settings
from hazardnet.store import Store
from schemas.customer_checks import CustomerCheck, load_checks
from schemas.customer_file import KIND_CUSTOMERS, KIND_DRILLS


def customer_checks(settings: Settings, as_of: dt.date, *, runner: Runner | None = None, store: Store | None = None,
                    remind: bool = False) -> dict:
    """{"customers": [{county, customer_id, customer_name, problems: [{code, message}]}], "not_in_file": [...],
    "not_in_registers": [...]}; with `remind`, also "reminders": the drill reminders' delivery records."""
    runner = runner or PlainRunner(RetryPolicy.of(settings))
    own_store = store is None
    settings.home.mkdir(parents=True, exist_ok=True)
    store = store or Store(settings.database_url)
    try:
        checks = runner.step("读取检查规则", check_table, settings)
        files = runner.step("读取客户档案", store.records_as_of, KIND_CUSTOMERS, as_of, settings.counties)
        drills = runner.step("读取演练记录", store.records_as_of, KIND_DRILLS, as_of, settings.counties)
        register = runner.step("读取台账客户", register_customers, store, as_of, settings.counties)
        report = runner.step("检查客户档案", check_customers, files, drills, register, as_of, checks, settings.counties)
        runner.info("customer checks %s: %d customers, %d problems", as_of, len(report["customers"]),
                    sum(len(c["problems"]) for c in report["customers"]))
        if remind:
            due = runner.step("到期的演练提醒", drill_reminders_due, files, drills, as_of,
                              settings.drill_reminder_days, _months(checks), _parties(checks))
            report["reminders"] = runner.step("发送演练到期提醒", send_drill_reminders, settings, store, due, as_of,
                                              runner)
        return report
    finally:
        if own_store:
            store.dispose()


def check_table(settings: Settings) -> tuple[CustomerCheck, ...]:
    """The check table in force: HAZARDNET_CUSTOMER_CHECKS, else the packaged one."""
    return load_checks(settings.customer_checks)


def _drill_check(checks) -> CustomerCheck | None:
    return next((c for c in checks if c.rule == "drill"), None)


def _months(checks) -> int:
    c = _drill_check(checks)
    return c.months if c and c.months is not None else 12


def _parties(checks) -> int:
    c = _drill_check(checks)
    return c.minimum if c and c.minimum is not None else 3


def send_drill_reminders(settings: Settings, store: Store, due: list[dict], as_of: dt.date,
                         runner: Runner) -> list[dict]:
    """Mail and text each due customer and its county supply company the reminder, once per channel."""
    from hazardnet.delivery.directory import load_directory
    from hazardnet.delivery.dispatch import Dispatch, failed_record
    from hazardnet.jobs.wiring import dispatcher
    from hazardnet.publish.drill_reminders import reminder_dispatches

    if not due:
        return []
    directory = load_directory(settings, store, as_of)
    send = dispatcher(settings, store, runner.secret)
    records = []
    for recipient, kind, items, letter, text, stem in reminder_dispatches(settings, directory.recipients, due, as_of):
        try:
            records.append(send.send(Dispatch(kind, recipient, items, letter=letter, text=text, sms_stem=stem)))
        except Exception as exc:  # noqa: BLE001 - one recipient's failure is recorded, the others still go
            records.append(failed_record(recipient, getattr(exc, "reason", None) or str(exc)))
    return records
