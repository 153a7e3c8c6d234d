"""A command run without PREFECT_API_URL starts Prefect's temporary server (a uvicorn child process writing to the
same terminal) and stops it at its end: what that server logs goes to the home's log file, never between the
command's Chinese lines (flows.console); the server is stopped only once it has recorded every task run of the
command (flows.temporary_server)."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from hazardnet.cli.demo import write_demo_inbox
from hazardnet.cli.sample_data import register_title, sample_hazards, write_register

ROOT = Path(__file__).parent.parent
AS_OF = dt.date(2026, 11, 15)
# Prefect's defaults for the server's task-run recorder, which a command gets in a folder with a prefect.toml of its
# own or where an operator set them (the checkout's prefect.toml batches the writes): one transaction per event, so
# on two cores the recorder is still writing the last task runs' events when the command's flow run ends
PREFECT_RECORDER_DEFAULTS = {"PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "1",
                             "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_READ_BATCH_SIZE": "1",
                             "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL": "5",
                             # prefect.toml's wait for the server to come up on a busy machine (Prefect's: 20 s)
                             "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120"}


@pytest.fixture(scope="module")
def prefect_home(tmp_path_factory) -> Path:
    """The temporary server's database, created once for this module's commands (not the user's ~/.prefect)."""
    return tmp_path_factory.mktemp("prefect-home")


def without_server_url(prefect_home: Path, **extra: str) -> dict:
    """The environment of a person's shell: no PREFECT_API_URL (so Prefect starts its temporary server), this
    checkout importable from another folder."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PREFECT_API", "PREFECT_SERVER_", "PREFECT_LOGGING_", "HAZARDNET_"))}
    return {**env, "PREFECT_HOME": str(prefect_home), "PYTHONPATH": str(ROOT), **extra}


def home_with_registers(home: Path, n: int) -> Path:
    """A home whose inbox holds n small county registers (one task run each)."""
    counties = [f"测试{i:03d}县" for i in range(1, n + 1)]
    for i, county in enumerate(counties):
        hazards = sample_hazards(AS_OF, [county], seed=i)[:3]
        write_register(home / "inbox" / county / f"{register_title(county, AS_OF)}.xlsx", county, hazards, as_of=AS_OF)
    (home / "hazardnet.toml").write_text("settle_seconds = 0\ncounties = [" + ", ".join(
        json.dumps(c, ensure_ascii=False) for c in counties) + "]\n", encoding="utf-8")
    return home


def run_on_the_temporary_server(tmp_path: Path, prefect_home: Path, *args: str,
                                **extra: str) -> subprocess.CompletedProcess:
    """`hazardnet <args>` as a person runs it from their own folder (no prefect.toml there), no Prefect server
    running (`extra`: more environment): its console holds its own lines only."""
    env = without_server_url(prefect_home, HAZARDNET_SETTLE_SECONDS="0", **{**PREFECT_RECORDER_DEFAULTS, **extra})
    proc = subprocess.run([sys.executable, "-m", "hazardnet", *args, "--as-of", AS_OF.isoformat()],
                          capture_output=True, text=True, cwd=tmp_path, timeout=600, env=env)
    console = proc.stdout + proc.stderr
    for leak in ("Traceback", "CancelledError", "Task was destroyed", "Exception in"):
        assert leak not in console, console
    assert not re.search(r"\| *(DEBUG|INFO|WARNING|ERROR|CRITICAL) *\|", console), console
    return proc


def test_an_ingest_on_the_temporary_server_ends_without_its_traceback_on_the_console(tmp_path, prefect_home):
    home = home_with_registers(tmp_path / "home", 80)  # 80 task runs just before the command ends
    proc = run_on_the_temporary_server(tmp_path, prefect_home, "ingest", "--home", str(home))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "已接收" in proc.stdout


def test_the_sending_commands_on_the_temporary_server_end_without_its_traceback_on_the_console(tmp_path,
                                                                                              prefect_home):
    """The bulletin's last task runs are its deliveries (one per recipient); the warnings run three flows."""
    home = tmp_path / "home"
    write_demo_inbox(home, AS_OF, since=AS_OF - dt.timedelta(days=300), with_flaw=False)
    assert run_on_the_temporary_server(tmp_path, prefect_home, "ingest", "--home", str(home)).returncode == 0
    sent = run_on_the_temporary_server(tmp_path, prefect_home, "bulletin", "--month", "2026-11", "--home", str(home))
    assert sent.returncode == 0 and "月度电力安全隐患通报" in sent.stdout, sent.stdout + sent.stderr
    warned = run_on_the_temporary_server(tmp_path, prefect_home, "warnings", "--home", str(home))
    assert warned.returncode == 0 and "应预警隐患" in warned.stdout, warned.stdout + warned.stderr


def test_the_temporary_server_logs_into_the_commands_log_file(tmp_path, prefect_home):
    """What Prefect's temporary server does at its end on a busy machine, in a process configured as that server
    is (flows/logging.yml, the environment a command gives its children): the log file has the traceback, the
    terminal nothing."""
    log = tmp_path / "logs" / "hazardnet.log"
    log.parent.mkdir()
    server = ("import asyncio, logging\n"
              "from prefect.logging.configuration import setup_logging\n"
              "setup_logging()\n"
              "try:\n"
              "    raise asyncio.CancelledError()\n"
              "except asyncio.CancelledError:\n"
              "    logging.getLogger('prefect.server.services.task_run_recorder').error(\n"
              "        'Error flushing 1 events (1 to retry, 0 dropped)', exc_info=True)\n"
              "logging.getLogger('asyncio').error('Task was destroyed but it is pending!')\n")
    env = without_server_url(prefect_home, PREFECT_LOGGING_SETTINGS_PATH=str(ROOT / "flows" / "logging.yml"),
                             HAZARDNET_PREFECT_LOG_FILE=str(log))
    proc = subprocess.run([sys.executable, "-c", server], capture_output=True, text=True, cwd=tmp_path, env=env,
                          timeout=120)
    assert proc.returncode == 0 and proc.stdout + proc.stderr == "", proc.stdout + proc.stderr
    written = log.read_text(encoding="utf-8")
    assert "| ERROR   | prefect.server.services.task_run_recorder - Error flushing 1 events" in written
    assert "Traceback" in written and "asyncio.exceptions.CancelledError" in written
    assert re.search(r"^\d{4}-\d\d-\d\d [\d:,]+ \| ERROR   \| asyncio - Task was destroyed", written, re.M), written
    # without the variable (a `prefect` command, `hazardnet server`, --verbose) the console shows them as before
    env.pop("HAZARDNET_PREFECT_LOG_FILE")
    proc = subprocess.run([sys.executable, "-c", server], capture_output=True, text=True, cwd=tmp_path, env=env,
                          timeout=120)
    assert "Traceback" in proc.stderr and "Error flushing 1 events" in proc.stderr


def test_a_temporary_server_that_does_not_come_up_is_one_chinese_line(tmp_path, prefect_home):
    """Prefect raises a RuntimeError carrying the server's whole output when its temporary server does not answer
    within PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS: the clerk reads what to do instead."""
    env = without_server_url(prefect_home, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="1")
    proc = subprocess.run([sys.executable, "-m", "hazardnet", "ingest", "--home", str(tmp_path / "home"),
                           "--always-run"], capture_output=True, text=True, cwd=tmp_path, timeout=600, env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "运行失败：Prefect 临时服务器未能在 1 秒内启动" in proc.stderr, proc.stderr
    assert "hazardnet server" in proc.stderr and "PREFECT_API_URL" in proc.stderr
    for leak in ("Traceback", "RuntimeError", "Timed out", "stdout:"):
        assert leak not in proc.stdout + proc.stderr, proc.stderr


def test_status_on_the_temporary_server_shows_no_prefect_line(tmp_path, prefect_home):
    """`hazardnet status` reads the runs through the temporary server: Prefect's "Starting temporary server" lines
    (English, with a link) go to the log file."""
    home = tmp_path / "home"
    home.mkdir()
    env = without_server_url(prefect_home, **PREFECT_RECORDER_DEFAULTS)
    proc = subprocess.run([sys.executable, "-m", "hazardnet", "status", "--home", str(home)], capture_output=True,
                          text=True, cwd=tmp_path, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    console = proc.stdout + proc.stderr
    assert "Traceback" not in console, console
    assert "尚无运行记录" in console or "最近的运行" in console
    assert "temporary server" not in console and "prefect.io" not in console, console
    assert "Starting temporary server" in (home / "logs" / "hazardnet.log").read_text(encoding="utf-8")


def recorded_task_runs(prefect_home: Path, flow_run: str) -> list[tuple[str, str]]:
    """(name, state type) of every task run of `flow_run` in the temporary server's database, read after the
    command ended (the server is gone, its SQLite file stays in PREFECT_HOME), sorted."""
    with sqlite3.connect(prefect_home / "prefect.db") as db:
        return sorted(db.execute("SELECT name, state_type FROM task_run WHERE flow_run_id = ?", (flow_run,)))


def test_an_ingest_ends_once_the_temporary_server_has_recorded_every_task_run(tmp_path):
    """With Prefect's own recorder settings (each event written in a transaction of its own) the temporary server
    is still recording the last task runs when an ingest of 60 registers ends: stopped then, it lost them (4 runs of
    this ingest kept 17–41 of their 62 task runs Completed, the others Running, Pending or missing). The command
    stops it only once it shows every task run in its last state, Completed here."""
    home = home_with_registers(tmp_path / "home", 60)
    prefect_home = tmp_path / "prefect-home"  # a database of this command's runs only
    prefect_home.mkdir()
    # the bound is the machine's, not what is tested: a slow machine still gets every record
    proc = run_on_the_temporary_server(tmp_path, prefect_home, "ingest", "--home", str(home), "--json",
                                       HAZARDNET_TASK_RUNS_WAIT_SECONDS="120")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)
    assert [f["outcome"] for f in result["files"]] == ["accepted"] * 60
    steps = ["扫描收件箱", "生成汇总台账"] + [f"导入 {f['county']}：{Path(f['path']).name}" for f in result["files"]]
    recorded = recorded_task_runs(prefect_home, result["flow_run"])
    assert Counter(state for _, state in recorded) == {"COMPLETED": 62}
    assert recorded == sorted((step, "COMPLETED") for step in steps)
    log = (home / "logs" / "hazardnet.log").read_text(encoding="utf-8")
    # the recorder had nothing left to write when it was stopped: no cancelled write, no traceback
    assert "Error flushing" not in log and "Traceback" not in log, log
    assert "task runs of this command" not in log, log


def test_a_temporary_server_that_does_not_record_in_time_is_one_line_in_the_log(tmp_path, prefect_home):
    """The wait is bounded: a server that records no task run (its recorder turned off) is stopped after
    HAZARDNET_TASK_RUNS_WAIT_SECONDS, with one English line in the log file; the command's result is the same."""
    home = tmp_path / "home"
    proc = run_on_the_temporary_server(tmp_path, prefect_home, "ingest", "--home", str(home), "--always-run", "--json",
                                       HAZARDNET_TASK_RUNS_WAIT_SECONDS="1",
                                       PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED="false")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)
    assert result["files"] == [] and result["flow_run"], result
    assert recorded_task_runs(prefect_home, result["flow_run"]) == []
    log = (home / "logs" / "hazardnet.log").read_text(encoding="utf-8")
    line = re.search(r"^.* \| WARNING \| flows\.temporary_server - (.*)$", log, re.M)
    assert line and re.fullmatch(r"Prefect's temporary server has recorded only 0 of the (\d+) task runs of this "
                                 r"command after a wait of \d+\.\d s; it is stopped now, and the Prefect UI will show "
                                 r"the other \1 missing or unfinished", line[1]), log
    assert "Traceback" not in log, log


def test_a_command_against_a_server_notes_no_task_run_and_does_not_wait(prefect_harness):
    """With PREFECT_API_URL (here the test harness's server) a flow's task runs are not noted: the server keeps
    running after the command, nothing waits for it."""
    import prefect.task_engine as task_engine
    from prefect import flow

    import flows  # noqa: F401 - the project's wrappers of Prefect, as every command has them
    from flows import temporary_server
    from flows.runner import PrefectRunner

    # the name Prefect 3.9's task engine sends every task-run state change through
    assert task_engine.emit_task_run_state_change_event is temporary_server.emit_task_run_state_change_event

    @flow
    def two_steps() -> list:
        runner = PrefectRunner()
        return [runner.step("一", lambda: 1), runner.step("二", lambda: 2)]

    assert two_steps() == [1, 2]
    assert temporary_server.temporary_server() is None
    assert temporary_server._sent == {}
    assert temporary_server.wait_for_task_runs(timeout=60) == 0
