"""The clocks: the report date when none is given and the times shown to people follow the configured time zone
(HAZARDNET_TIMEZONE, default Asia/Shanghai), whatever the machine's own."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from zoneinfo import ZoneInfo

import pytest

from hazardnet.settings import SettingsError, load_settings, today
from tests.conftest import DATA, drop, harness_env

EAST, WEST = "Pacific/Kiritimati", "Etc/GMT+12"  # UTC+14 and UTC-12: their dates differ at every moment


def test_today_is_the_date_in_the_configured_time_zone(settings):
    assert settings.timezone == "Asia/Shanghai"  # the default
    east, west = (load_settings(settings.home, timezone=z) for z in (EAST, WEST))
    assert today(east) == dt.datetime.now(ZoneInfo(EAST)).date()
    assert today(west) == dt.datetime.now(ZoneInfo(WEST)).date()
    assert today(east) != today(west)


def test_an_unknown_time_zone_is_one_chinese_line(settings):
    with pytest.raises(SettingsError, match="timezone.*不是已知的时区名称，例如 Asia/Shanghai"):
        load_settings(settings.home, timezone="Asia/Shangai")


def test_a_flow_without_a_date_reports_on_the_configured_zones_today(prefect_harness, settings):
    """`hazardnet warnings --json` without --as-of, in a process of its own: the flows' report date is today in
    HAZARDNET_TIMEZONE."""
    settings.home.mkdir(parents=True, exist_ok=True)
    for zone in (EAST, WEST):
        env = {**harness_env(), "HAZARDNET_TIMEZONE": zone}
        proc = subprocess.run([sys.executable, "-m", "hazardnet", "warnings", "--home", str(settings.home), "--json"],
                              capture_output=True, text=True, env=env, timeout=600)
        assert proc.returncode in (0, 1), proc.stderr
        assert json.loads(proc.stdout)["as_of"] == dt.datetime.now(ZoneInfo(zone)).date().isoformat(), zone


def test_status_shows_a_rejection_received_on_the_configured_clock(settings, as_of):
    from hazardnet.intake.inbox import pending_rejections
    from hazardnet.jobs.ingest import ingest
    from hazardnet.store import Store

    drop(settings, DATA / "bad" / "unknown_vocab.xlsx")
    ingest(settings, as_of, mail_rejections=False)
    store = Store(settings.database_url)
    try:
        [received] = [s["received_at"] for s in store.submissions_frame().to_dict("records")]
        shown = pending_rejections(store, WEST)["received_at"].tolist()
    finally:
        store.dispose()
    utc = received.replace(tzinfo=dt.timezone.utc) if isinstance(received, dt.datetime) else \
        dt.datetime.fromisoformat(str(received)).replace(tzinfo=dt.timezone.utc)
    assert shown == [utc.astimezone(ZoneInfo(WEST)).strftime("%Y-%m-%d %H:%M")]
