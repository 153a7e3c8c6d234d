"""Every deployment of the pipeline, for `hazardnet serve` (one process) and prefect.yaml (work pools), and the
schedules they run on: every one on the clock of the served home's configured time zone (`schedule_timezone`)."""

from __future__ import annotations

import importlib
import inspect

# flow modules that define `deployments(home, ...)`; a module not yet present is skipped
FLOW_MODULES = ("flows.ingest", "flows.mail_intake", "flows.bulletin", "flows.quarterly", "flows.warnings",
                "flows.grid_warning", "flows.notices", "flows.reminders", "flows.supervision", "flows.customer_checks")


def schedule_timezone(home: str | None) -> str:
    """The clock every schedule of `home`'s deployments is read on: the home's configured time zone
    (HAZARDNET_TIMEZONE or hazardnet.toml's `timezone`; Asia/Shanghai by default), as its report dates are."""
    from hazardnet.settings import load_settings

    return load_settings(home).timezone


def cron(expression: str, home: str | None):
    """A cron schedule ("0 8 15 * *": 08:00 on the 15th) on the wall clock of `home`'s configured time zone."""
    from prefect.schedules import Cron

    return Cron(expression, timezone=schedule_timezone(home))


def every(minutes: float, home: str | None):
    """An interval schedule of `minutes`, anchored in `home`'s configured time zone."""
    from datetime import timedelta

    from prefect.schedules import Interval

    return Interval(timedelta(minutes=minutes), timezone=schedule_timezone(home))


def all_deployments(home: str, poll_minutes: float = 5.0) -> list:
    """Collect the deployments of every flow module, parameterised with the home folder."""
    found = []
    for name in FLOW_MODULES:
        module = importlib.import_module(name)
        make = getattr(module, "deployments")
        accepted = inspect.signature(make).parameters
        kwargs = {k: v for k, v in {"home": home, "poll_minutes": poll_minutes}.items() if k in accepted}
        found += make(**kwargs)
    return found


def serve_all(home: str, poll_minutes: float = 5.0) -> None:
    """Serve every deployment from this process until it is stopped (schedules stay active on restart)."""
    from prefect import serve

    from flows.automations import ensure_crashed_runs_automation

    ensure_crashed_runs_automation()  # a run whose process dies shows as 崩溃, not Running for ever
    serve(*all_deployments(home, poll_minutes), pause_on_shutdown=False)
