"""The ingest flow under Prefect's test harness: runs, task runs and artifacts read back through the client."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DATA, drop, harness_env


def read_back(flow_run_id):
    """Flow run, its task runs and its artifacts, as the Prefect UI would show them.

    The server records task runs from the client's events in batches, at least once a second (prefect.toml):
    read until every task run is in a final state and two reads 1.5 s apart agree, as the UI would show it.
    """
    import time

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, FlowRunFilter, FlowRunFilterId

    async def fetch():
        async with get_client() as client:
            run = await client.read_flow_run(flow_run_id)
            tasks = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
            arts = await client.read_artifacts(artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
            return run, tasks, arts

    def seen(tasks):
        return sorted((str(t.id), t.state_type, t.run_count) for t in tasks)

    got = asyncio.run(fetch())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        time.sleep(1.5)
        again = asyncio.run(fetch())
        if seen(again[1]) == seen(got[1]) and all(t.state and t.state.is_final() for t in again[1]):
            return again
        got = again
    return got


def test_ingest_flow_run_tells_its_story(prefect_harness, settings, as_of):
    from flows.ingest import ingest_flow

    drop(settings, DATA / "good" / "canonical.xlsx")
    drop(settings, DATA / "bad" / "unknown_vocab.xlsx", county="德令哈市")
    state = ingest_flow(home=str(settings.home), as_of=as_of.isoformat(), return_state=True)
    assert state.is_completed()  # a rejected county file is a business outcome, not a failed run
    result = state.result()
    assert sorted(f["outcome"] for f in result["files"]) == ["accepted", "rejected"]
    run, tasks, artifacts = read_back(state.state_details.flow_run_id)
    assert run.name and run.state.is_completed()
    names = sorted(t.name for t in tasks)
    assert "导入 格尔木市：canonical.xlsx" in names and "导入 德令哈市：unknown_vocab.xlsx" in names
    by_key = {a.key: a for a in artifacts}
    assert {"ingest-files", "ingest-rejections", "consolidated-register"} <= set(by_key)
    table = by_key["ingest-files"].data
    table = json.loads(table) if isinstance(table, str) else table
    assert {r["结果"] for r in table} == {"已接收", "已退回"}
    assert "J2" in by_key["ingest-rejections"].data and "严重" in by_key["ingest-rejections"].data


def run_cli(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "hazardnet.cli", *args], capture_output=True, text=True,
                          env={**harness_env(), **(env or {})}, cwd=cwd, timeout=600)


def test_cli_ingest_json_and_clean_errors(prefect_harness, settings, as_of):
    drop(settings, DATA / "good" / "canonical.xlsx")
    env = {}
    proc = run_cli("ingest", "--home", str(settings.home), "--as-of", as_of.isoformat(), "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert set(out) >= {"files", "consolidated"}
    [f] = out["files"]
    assert set(f) >= {"path", "county", "outcome", "rows", "findings"} and f["outcome"] == "accepted"
    assert Path(out["consolidated"]).exists()
    bad = run_cli("ingest", "--home", str(settings.home), "--as-of", "2026-13-01", env=env)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "格式不正确" in bad.stderr


def test_cli_ingest_on_a_home_that_does_not_exist_yet_sets_it_up(prefect_harness, tmp_path, as_of):
    home = tmp_path / "新目录" / "home"
    proc = run_cli("ingest", "--home", str(home), "--as-of", as_of.isoformat(), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["files"] == [] and Path(out["consolidated"]).exists()
    assert (home / "inbox" / "格尔木市").is_dir() and (home / "outbox").is_dir()


def test_project_prefect_settings_batch_the_task_run_recorder():
    """prefect.toml in the checkout: the server started here records task runs in batches and keeps no copy
    of the events for the UI's event feed (bench/README)."""
    root = Path(__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_SERVER_SERVICES_")}
    code = ("from prefect.settings import get_current_settings as g; s = g().server.services; "
            "r = s.task_run_recorder; print(r.batch_size, r.read_batch_size, r.flush_interval, "
            "s.event_persister.enabled, s.triggers.enabled)")
    out = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=120)
    # the triggers service stays on: the 失联运行标记为崩溃 automation needs it (tests/test_automations.py)
    assert out.stdout.split() == ["200", "50", "1.0", "False", "True"], out.stderr
