"""Operations: `hazardnet serve` registers every deployment with its schedule; prefect.yaml matches;
`hazardnet status` tells what waits and what was refused."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from tests.conftest import DATA, drop, harness_env

ROOT = Path(__file__).parent.parent
EXPECTED = {  # deployment name -> (flow name, schedule)
    "收件箱轮询": ("导入县公司隐患台账", "interval"),
    "邮箱轮询": ("收取邮件中的隐患台账", "interval"),
    "月度通报": ("月度电力安全隐患通报", "0 8 15 * *"),
    "季度汇总": ("季度隐患治理情况汇总", "0 8 5 1,4,7,10 *"),
    "每日风险预警": ("风险预警", "0 9 * * *"),
    "每日督办": ("督办", "5 9 * * *"),
    "每日复查提醒": ("复查提醒", "10 9 * * *"),
    "每月整改通知书": ("整改通知书", "0 10 5 * *"),
    "每日客户档案检查": ("客户档案检查", "15 9 * * *"),
    "电网风险预警": ("电网风险预警", None),  # no schedule: started from the Run form
}

EXTRA_PARAMETERS = {"每月整改通知书": {"send": True}, "每日客户档案检查": {"remind": True}}  # besides `home`


async def _deployments():
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        deps = await client.read_deployments()
        flows = {f.id: f.name for f in await client.read_flows()}
        return [(d, flows.get(d.flow_id)) for d in deps]


def test_serve_registers_every_deployment_with_its_schedule(prefect_harness, settings):
    """…on the clock of the served home's configured time zone (hazardnet.toml's `timezone`, here not the default
    Asia/Shanghai): a site one zone west runs its 09:00 warnings at its own 09:00."""
    # a mailbox configured (a closed port: a poll that starts fails at once), so 邮箱轮询 is served too
    env = {**harness_env(), "HAZARDNET_IMAP_HOST": "127.0.0.1", "HAZARDNET_IMAP_PORT": "1",
           "HAZARDNET_IMAP_SECURITY": "none"}
    env.pop("HAZARDNET_TIMEZONE", None)
    settings.home.mkdir(parents=True, exist_ok=True)  # serve needs an existing home
    (settings.home / "hazardnet.toml").write_text('timezone = "Asia/Urumqi"\n', encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "hazardnet", "serve", "--home", str(settings.home),
                             "--poll-minutes", "7"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        found = {}
        for _ in range(240):  # poll until serve has registered everything (or give up after ~2 min)
            found = {d.name: (d, flow) for d, flow in asyncio.run(_deployments()) if d.name in EXPECTED}
            if len(found) == len(EXPECTED):
                break
            if proc.poll() is not None:
                break
            time.sleep(0.5)
        assert set(found) == set(EXPECTED), proc.stdout.read1().decode() if proc.poll() is not None else found
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
    for name, (flow_name, schedule) in EXPECTED.items():
        deployment, flow = found[name]
        assert flow == flow_name
        assert deployment.parameters.get("home") == str(settings.home)
        for key, value in EXTRA_PARAMETERS.get(name, {}).items():
            assert deployment.parameters.get(key) == value, (name, key)
        if schedule is None:
            assert deployment.schedules == []
            continue
        [sched] = deployment.schedules
        assert sched.schedule.timezone == "Asia/Urumqi", (name, sched.schedule)
        if schedule == "interval":
            assert sched.schedule.interval.total_seconds() == 7 * 60
        else:
            assert sched.schedule.cron == schedule
    # schedules stay active after the serving process stopped (no pause on shutdown)
    after = {d.name: d for d, _ in asyncio.run(_deployments()) if d.name in EXPECTED}
    assert all(not d.paused for d in after.values())
    # and the server now has the automation that marks runs of dead processes Crashed (tests/test_automations.py)
    from prefect.automations import Automation

    from flows.automations import CRASHED_RUNS

    made = Automation.read(name=CRASHED_RUNS)
    assert made.enabled
    made.delete()  # the test server is shared: leave it as found


async def _delete_deployment(name: str) -> None:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        for d in await client.read_deployments():
            if d.name == name:
                await client.delete_deployment(d.id)


def test_serve_without_a_mailbox_leaves_mailbox_polling_out_and_says_so(prefect_harness, settings, tmp_path):
    """No IMAP host: no 邮箱轮询 deployment (it would fail every few minutes with tracebacks), one line saying so."""
    asyncio.run(_delete_deployment("邮箱轮询"))  # the test server is shared: another test may have served it
    env = {k: v for k, v in harness_env().items() if not k.startswith("HAZARDNET_IMAP_")}
    settings.home.mkdir(parents=True, exist_ok=True)
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "hazardnet", "serve", "--home", str(settings.home)], env=env,
                                stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    wanted = set(EXPECTED) - {"邮箱轮询"}
    started = time.time()
    try:
        found = set()
        for _ in range(240):  # until this serve has registered (updated) every other deployment
            found = {d.name for d, _ in asyncio.run(_deployments())
                     if d.name in EXPECTED and d.updated and d.updated.timestamp() >= started}
            if wanted <= found or proc.poll() is not None:
                break
            time.sleep(0.5)
        assert wanted <= found, log.read_text(encoding="utf-8")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
    assert "邮箱轮询" not in {d.name for d, _ in asyncio.run(_deployments())}
    said = log.read_text(encoding="utf-8")
    assert said.count("未配置收件邮箱：不轮询邮箱") == 1, said
    assert "Traceback" not in said and "MailIntakeError" not in said, said


def test_serve_help_lists_every_deployment_it_serves(settings, monkeypatch):
    """`hazardnet serve --help` names exactly the deployments serve builds (a mailbox configured: all of them)."""
    import re

    from typer.testing import CliRunner

    from flows.deployments import all_deployments
    from hazardnet.cli.main import app
    from hazardnet.jobs.schedules import SERVED_DEPLOYMENTS

    monkeypatch.setenv("HAZARDNET_IMAP_HOST", "127.0.0.1")
    settings.home.mkdir(parents=True, exist_ok=True)
    built = [d.name for d in all_deployments(str(settings.home))]
    assert sorted(built) == sorted(SERVED_DEPLOYMENTS) and set(built) == set(EXPECTED)
    result = CliRunner().invoke(app, ["serve", "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    text = re.sub(r"[\s│╭╮╰╯─]+", "", result.output)
    for name in built:
        assert name in text, (name, result.output)
    assert "每日逾期预警" not in text  # no deployment of that name


def test_every_schedule_follows_the_configured_time_zone(settings, monkeypatch):
    """HAZARDNET_TIMEZONE moves every served schedule's clock; without it they are read in Asia/Shanghai."""
    from flows.deployments import all_deployments

    monkeypatch.setenv("HAZARDNET_IMAP_HOST", "127.0.0.1")  # 邮箱轮询 built too
    settings.home.mkdir(parents=True, exist_ok=True)
    scheduled = set(EXPECTED) - {"电网风险预警"}
    for zone in ("Asia/Kolkata", None):
        if zone:
            monkeypatch.setenv("HAZARDNET_TIMEZONE", zone)
        else:
            monkeypatch.delenv("HAZARDNET_TIMEZONE", raising=False)
        zones = {d.name: str(s.schedule.timezone) for d in all_deployments(str(settings.home)) for s in d.schedules}
        assert set(zones) == scheduled
        assert set(zones.values()) == {zone or "Asia/Shanghai"}, zones


def test_prefect_yaml_matches_the_served_deployments():
    from prefect.flows import load_flow_from_entrypoint

    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    by_name = {d["name"]: d for d in spec["deployments"]}
    assert set(by_name) == set(EXPECTED)
    for name, (flow_name, schedule) in EXPECTED.items():
        d = by_name[name]
        assert load_flow_from_entrypoint(d["entrypoint"]).name == flow_name
        for key, value in EXTRA_PARAMETERS.get(name, {}).items():
            assert d["parameters"][key] == value, (name, key)
        assert d["work_pool"]["name"] == "hazardnet"
        if schedule is None:
            assert d["schedules"] == []
            continue
        [sched] = d["schedules"]
        assert sched["timezone"] == "Asia/Shanghai"
        assert (sched.get("cron") or "interval") == schedule
        assert d["work_pool"]["name"] == "hazardnet"


def test_status_lists_waiting_files_and_unresolved_rejections(prefect_harness, settings, as_of):
    from hazardnet.jobs.ingest import ingest

    drop(settings, DATA / "bad" / "unknown_vocab.xlsx")
    ingest(settings, as_of)
    drop(settings, DATA / "good" / "canonical.xlsx")  # the corrected register, not yet ingested
    env = harness_env()
    proc = subprocess.run([sys.executable, "-m", "hazardnet", "status", "--home", str(settings.home), "--json"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    status = json.loads(proc.stdout)
    assert [(w["county"], w["name"], w["settled"]) for w in status["waiting"]] == [("格尔木市", "canonical.xlsx", True)]
    [pending] = status["rejected_pending"]
    assert pending["county"] == "格尔木市" and pending["file_name"] == "unknown_vocab.xlsx" and pending["problems"] == 1
    assert Path(pending["report"]).exists()
    assert {c["county"] for c in status["counties"]} == set(settings.counties)
    # once the corrected register is accepted, the rejection is no longer pending
    assert [f.outcome for f in ingest(settings, as_of).files] == ["accepted"]
    proc = subprocess.run([sys.executable, "-m", "hazardnet", "status", "--home", str(settings.home), "--json"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert json.loads(proc.stdout)["rejected_pending"] == []


def test_status_lists_only_this_homes_runs_and_refuses_a_bad_limit(prefect_harness, settings, tmp_path):
    from prefect.client.orchestration import get_client

    from flows.warnings import warnings_flow

    other = tmp_path / "another-home"
    other.mkdir()
    settings.home.mkdir(parents=True, exist_ok=True)
    mine = warnings_flow(home=str(settings.home), as_of="2026-08-02", return_state=True)
    # another date: runs are named for their job and date (flows.run_form), so the names tell the two apart
    theirs = warnings_flow(home=str(other), as_of="2026-08-03", return_state=True)
    with get_client(sync_client=True) as client:
        mine, theirs = (client.read_flow_run(s.state_details.flow_run_id).name for s in (mine, theirs))
    env = harness_env()
    proc = subprocess.run([sys.executable, "-m", "hazardnet", "status", "--home", str(settings.home), "--json",
                           "--limit", "50"], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    runs = [r["run"] for r in json.loads(proc.stdout)["last_runs"]]
    assert mine in runs and theirs not in runs
    proc = subprocess.run([sys.executable, "-m", "hazardnet", "status", "--home", str(settings.home)],
                          capture_output=True, text=True, env={**env, "COLUMNS": "200"}, timeout=300)
    assert proc.returncode == 0 and mine in proc.stdout and theirs not in proc.stdout, proc.stderr
    assert "已完成" in proc.stdout and "Completed" not in proc.stdout  # the states in Chinese
    for bad in ("0", "-1"):
        proc = subprocess.run([sys.executable, "-m", "hazardnet", "status", "--home", str(settings.home),
                               "--limit", bad], capture_output=True, text=True, env=env, timeout=300)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.strip() == "错误：参数 --limit 的值应为不小于 1 的整数。用法见：hazardnet status --help", proc.stderr
