"""A flow run whose process is killed ends 崩溃 (Crashed) in the UI instead of staying Running for ever."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from datetime import timedelta

import pytest

from tests.conftest import DATA, drop, harness_env


async def _automations():
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        return await client.read_automations_by_name("失联运行标记为崩溃")


@pytest.fixture
def no_automation(prefect_harness):
    """Leave the shared test server without the automation, before and after (it would act on other tests)."""
    from prefect.automations import Automation

    def clear():
        for a in asyncio.run(_automations()):
            Automation.read(id=a.id).delete()

    clear()
    yield
    clear()


def test_created_once_with_prefects_zombie_recipe(no_automation):
    from prefect.events.schemas.automations import Posture

    from flows.automations import CRASHED_MESSAGE, ensure_crashed_runs_automation

    first = ensure_crashed_runs_automation()
    again = ensure_crashed_runs_automation()  # `hazardnet serve` restarted: no second copy
    [stored] = asyncio.run(_automations())
    assert first.id == again.id == stored.id and stored.enabled
    trigger = stored.trigger
    assert trigger.posture == Posture.Proactive
    assert trigger.within == timedelta(seconds=540)  # three heartbeat periods of 180 s
    assert "prefect.flow-run.heartbeat" in trigger.after and "prefect.flow-run.Running" in trigger.after
    assert {"prefect.flow-run.heartbeat", "prefect.flow-run.Completed", "prefect.flow-run.Failed"} <= trigger.expect
    assert trigger.for_each == {"prefect.resource.id"}
    [action] = stored.actions
    assert action.type == "change-flow-run-state" and action.state.value == "CRASHED"
    assert action.message == CRASHED_MESSAGE


def test_killed_ingest_run_is_marked_crashed(no_automation, settings):
    """The ingest process is SIGKILLed mid-run (a failpoint); with 10 s of silence allowed, the server marks
    its flow run Crashed with the message that explains it."""
    from prefect.client.orchestration import get_client

    from flows.automations import CRASHED_MESSAGE, ensure_crashed_runs_automation

    ensure_crashed_runs_automation(within=timedelta(seconds=10))
    drop(settings, DATA / "good" / "canonical.xlsx")
    proc = subprocess.run([sys.executable, "-m", "hazardnet.cli", "ingest", "--home", str(settings.home)],
                          env={**harness_env(), "HAZARDNET_FAILPOINT": "after_archive"}, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == -9 and "HAZARDNET_FAILPOINT hit after_archive" in proc.stderr

    async def this_run():
        async with get_client() as client:
            runs = await client.read_flow_runs()
            return [r for r in runs if r.parameters.get("home") == str(settings.home)]

    [run] = asyncio.run(this_run())
    assert run.state.type.value == "RUNNING"  # nothing else would ever end it
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and run.state.type.value == "RUNNING":
        time.sleep(2)
        [run] = asyncio.run(this_run())
    assert run.state.type.value == "CRASHED", run.state
    assert run.state.name == "崩溃" and run.state.message == CRASHED_MESSAGE
