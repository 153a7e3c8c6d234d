"""Shared fixtures: a fresh home folder (inbox/outbox/SQLite) per test, and a report date."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest

from hazardnet.settings import Settings, load_settings

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

DATA = Path(__file__).parent / "data"
AS_OF = dt.date(2026, 11, 15)


@pytest.fixture
def as_of() -> dt.date:
    return AS_OF


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    """Settings for an empty home folder; files count as settled at once."""
    for var in ("HAZARDNET_HOME", "HAZARDNET_SMTP_HOST", "HAZARDNET_DB_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HAZARDNET_SETTLE_SECONDS", "0")  # flows build their own settings from the env
    return load_settings(tmp_path / "home", settle_seconds=0)


def drop(settings: Settings, src: Path, county: str = "格尔木市", name: str | None = None) -> Path:
    """Copy a fixture into inbox/<county>/ as a clerk would."""
    dst = settings.inbox / county / (name or src.name)
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return dst


@pytest.fixture(scope="session")
def prefect_harness():
    """One temporary Prefect server (with its own database) for every flow test of the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


def harness_env() -> dict:
    """Environment for a subprocess that must talk to the test harness's Prefect server."""
    from prefect.settings import PREFECT_API_URL

    return {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "HAZARDNET_SETTLE_SECONDS": "0"}
