"""Operations (issue 27): a Prefect server only the network's staff can use, a console a person can read,
files still being copied, and no mobile number or email address in what the Prefect UI shows."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from hazardnet.cli.server_commands import is_loopback, prefect_toml_environment, server_environment
from hazardnet.cli.app import UserError
from hazardnet.jobs.ingest import ingest
from hazardnet.jobs.runner import PlainRunner, RetryPolicy
from hazardnet.settings import load_settings
from tests.conftest import AS_OF, DATA, drop, harness_env

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "leitstelle:Haixi-9f3K-ops"
MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+\.[A-Za-z0-9.\-]+")


def cli(*args: str, env: dict, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hazardnet.cli", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=timeout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PREFECT_API", "PREFECT_SERVER_API_AUTH", "HAZARDNET_"))}
    return {**env, **extra}


# ---- 1. the server --------------------------------------------------------------------------------------
@pytest.mark.parametrize("host", ["0.0.0.0", "10.20.30.40", "::"])
def test_server_refuses_to_listen_beyond_loopback_without_an_auth_string(tmp_path, host):
    port = free_port()
    result = cli("server", "--host", host, "--port", str(port), env=clean_env(PREFECT_HOME=str(tmp_path)),
                 cwd=tmp_path, timeout=120)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("错误：拒绝在") and "PREFECT_SERVER_API_AUTH_STRING" in lines[0]
    with socket.socket() as s:  # nothing was started
        assert s.connect_ex(("127.0.0.1", port)) != 0


def test_loopback_needs_no_auth_string_and_the_project_settings_apply_anywhere(tmp_path):
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    env = server_environment("127.0.0.1", None, base={})
    assert env["PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE"] == "200"
    assert env["PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED"] == "false"
    assert "PREFECT_SERVER_API_AUTH_STRING" not in env
    # an operator's own variable wins over prefect.toml
    env = server_environment("127.0.0.1", None, base={"PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED": "true"})
    assert env["PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED"] == "true"
    # every key of prefect.toml is a setting Prefect knows (a typo would be silently ignored)
    check = ("import os, json; from prefect.settings import Settings; s = Settings(); "
             "print(json.dumps([s.server.services.task_run_recorder.batch_size, "
             "s.server.services.event_persister.enabled, s.server.ephemeral.startup_timeout_seconds]))")
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, cwd=tmp_path, check=True,
                         env={**clean_env(), **prefect_toml_environment()}).stdout
    assert json.loads(out) == [200, False, 120]
    auth = tmp_path / "auth"
    auth.write_text(PASSWORD + "\n")
    env = server_environment("0.0.0.0", auth, base={})
    assert env["PREFECT_SERVER_API_AUTH_STRING"] == PASSWORD
    assert env["PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED"] == "true"
    with pytest.raises(UserError, match="拒绝在 0.0.0.0"):
        server_environment("0.0.0.0", None, base={})


def test_every_command_has_the_project_prefect_settings_from_any_folder(tmp_path):
    """An operator runs `hazardnet` from the folder of their data: prefect.toml's settings (the temporary server's
    120 s to start, the recorder's batches, no event copy) apply there too; a folder's own prefect.toml wins."""
    check = ("import json; import hazardnet.cli.app; from prefect.settings import Settings; s = Settings(); "
             "print(json.dumps([s.server.services.task_run_recorder.batch_size, "
             "s.server.services.event_persister.enabled, s.server.ephemeral.startup_timeout_seconds]))")

    def settings_in(folder: Path, **extra: str) -> list:
        return json.loads(subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, cwd=folder,
                                         check=True, env=clean_env(**extra)).stdout)

    assert settings_in(tmp_path) == [200, False, 120]
    # an operator's own variable still wins
    assert settings_in(tmp_path, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="300") == [200, False, 300]
    own = tmp_path / "own"
    own.mkdir()
    (own / "prefect.toml").write_text("[server.services.task_run_recorder]\nbatch_size = 7\n", encoding="utf-8")
    assert settings_in(own)[0] == 7


@pytest.mark.parametrize("port", ["99999", "0", "-5", "abc"])
def test_server_port_outside_1_to_65535_is_a_usage_error(tmp_path, port):
    result = cli("server", "--port", port, env=clean_env(PREFECT_HOME=str(tmp_path)), cwd=tmp_path, timeout=120)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("错误：参数 --port 的值应为"), result.stderr
    if port != "abc":
        assert lines[0] == "错误：参数 --port 的值应为 1–65535 之间的整数。用法见：hazardnet server --help"


@pytest.mark.parametrize("content", ["Haixi-9f3K-ops", "leitstelle:", ":Haixi-9f3K-ops"])
def test_server_refuses_an_auth_file_that_is_not_user_colon_password(tmp_path, content):
    auth = tmp_path / "auth"
    auth.write_text(content + "\n")
    port = free_port()
    result = cli("server", "--host", "0.0.0.0", "--port", str(port), "--auth-file", str(auth),
                 env=clean_env(PREFECT_HOME=str(tmp_path)), cwd=tmp_path, timeout=120)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "不是“用户名:口令”的形式" in lines[0], result.stderr
    assert "Haixi-9f3K-ops" not in result.stderr + result.stdout  # the password is never echoed
    with socket.socket() as s:  # nothing was started
        assert s.connect_ex(("127.0.0.1", port)) != 0


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server ended: {proc.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError("server did not come up")


@pytest.fixture
def authenticated_server(tmp_path):
    """`hazardnet server --host 0.0.0.0` started in a folder that is not the checkout, with an auth file."""
    port = free_port()
    auth = tmp_path / "prefect-auth"
    auth.write_text(PASSWORD + "\n")
    auth.chmod(0o600)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = clean_env(PREFECT_HOME=str(tmp_path / "prefect-home"))
    proc = subprocess.Popen([sys.executable, "-m", "hazardnet.cli", "server", "--host", "0.0.0.0", "--port", str(port),
                             "--auth-file", str(auth)], cwd=elsewhere, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/api"
    try:
        _wait_healthy(url, proc)
        yield url, auth, proc
    finally:
        proc.terminate()
        try:
            output, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
        assert PASSWORD.split(":")[1] not in output


def test_an_authenticated_server_refuses_strangers_and_serves_the_staff(authenticated_server, tmp_path):
    url, auth, proc = authenticated_server
    # the project's server settings, although started outside the checkout
    environ = Path(f"/proc/{proc.pid}/environ").read_bytes().split(b"\0")
    assert b"PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE=200" in environ
    # strangers: no header, a wrong password, a state-changing request
    assert httpx.get(f"{url}/admin/version").status_code == 401
    wrong = base64.b64encode(b"leitstelle:guess").decode()
    assert httpx.get(f"{url}/admin/version", headers={"Authorization": f"Basic {wrong}"}).status_code == 401
    assert httpx.post(f"{url}/flow_runs/filter", json={}).status_code in (401, 403)
    assert httpx.post(f"{url}/deployments/filter", json={}).status_code in (401, 403)
    ok = base64.b64encode(PASSWORD.encode()).decode()
    assert httpx.get(f"{url}/admin/version", headers={"Authorization": f"Basic {ok}"}).status_code == 200
    # the UI asks for the password (its pages are static; all it shows comes from the API)
    assert httpx.get(f"{url.removesuffix('/api')}/ui-settings").json()["auth"] == "BASIC"

    home = tmp_path / "home"
    settings = load_settings(home)
    drop(settings, DATA / "good" / "canonical.xlsx")
    env = clean_env(PREFECT_API_URL=url, PREFECT_HOME=str(tmp_path / "client-home"), HAZARDNET_SETTLE_SECONDS="0")
    refused = cli("ingest", "--home", str(home), "--as-of", AS_OF.isoformat(), "--always-run", env=env)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines()[-1].startswith("运行失败：Prefect 服务器") and "身份验证" in refused.stderr
    assert "Traceback" not in refused.stderr

    done = cli("ingest", "--home", str(home), "--as-of", AS_OF.isoformat(), "--json",
               env={**env, "HAZARDNET_API_AUTH_FILE": str(auth)})
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert [f["outcome"] for f in result["files"]] == ["accepted"]
    assert PASSWORD.split(":")[1] not in done.stdout + done.stderr
    run = httpx.get(f"{url}/flow_runs/{result['flow_run']}", headers={"Authorization": f"Basic {ok}"}).json()
    assert run["state_type"] == "COMPLETED"


# ---- 3. a file still being copied ----------------------------------------------------------------------
def test_a_register_copied_just_before_the_run_is_ingested_by_that_run(settings, as_of):
    settings.settle_seconds, settings.settle_wait_seconds = 1.0, 60.0
    events = []
    fresh = drop(settings, DATA / "good" / "canonical.xlsx")  # modified a moment ago: not settled yet
    result = ingest(settings, as_of, runner=PlainRunner(RetryPolicy.of(settings),
                                                        on_progress=lambda e, **d: events.append((e, d))))
    assert [f.outcome for f in result.files] == ["accepted"] and not fresh.exists()
    assert result.waiting == [] and result.as_json()["waiting"] == []
    assert ("waiting", {"n": 1, "files": ["格尔木市/canonical.xlsx"]}) in events


def test_a_file_still_written_when_the_wait_ends_is_named_and_left(settings, as_of):
    settings.settle_seconds, settings.settle_wait_seconds = 1.0, 2.0
    settled = drop(settings, DATA / "good" / "canonical.xlsx")
    old = time.time() - 60
    os.utime(settled, (old, old))
    growing = settings.inbox / "德令哈市" / "德令哈市台账.xlsx"
    growing.parent.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()

    def copying() -> None:  # a slow copy: the file keeps changing until the test ends
        with growing.open("ab") as fh:
            while not stop.is_set():
                fh.write(b"\0" * 16)
                fh.flush()
                time.sleep(0.1)

    writer = threading.Thread(target=copying)
    writer.start()
    try:
        time.sleep(0.3)
        result = ingest(settings, as_of)
    finally:
        stop.set()
        writer.join()
    assert [(f.county, f.outcome) for f in result.files] == [("格尔木市", "accepted")]
    assert result.waiting == [{"county": "德令哈市", "file": "德令哈市台账.xlsx", "path": str(growing)}]
    assert growing.exists()


def test_ingest_command_waits_and_says_so(prefect_harness, tmp_path):
    home = tmp_path / "home"
    settings = load_settings(home)
    env = {**harness_env(), "HAZARDNET_SETTLE_SECONDS": "2"}
    env.pop("HAZARDNET_SETTLE_WAIT_SECONDS", None)
    copied = drop(settings, DATA / "good" / "canonical.xlsx")
    stop = threading.Event()

    def still_copying() -> None:  # the copy's last bytes keep arriving until the command says it waits
        while not stop.is_set():
            os.utime(copied)
            time.sleep(0.1)

    toucher = threading.Thread(target=still_copying)
    toucher.start()
    proc = subprocess.Popen([sys.executable, "-m", "hazardnet.cli", "ingest", "--home", str(home), "--as-of",
                             AS_OF.isoformat()], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    told = []
    try:
        for line in proc.stderr:
            told.append(line)
            if "等待" in line:
                break
    finally:
        stop.set()
        toucher.join()
    stdout, rest = proc.communicate(timeout=600)
    stderr = "".join(told) + rest
    assert proc.returncode == 0, stderr
    assert "等待 1 个文件复制完成：格尔木市/canonical.xlsx" in stderr
    assert "已接收" in stdout and "没有待导入" not in stdout and not copied.exists()
    assert not re.search(r"\| *(INFO|WARNING) *\|", stdout + stderr)  # Prefect's lines: in the log file
    assert "Beginning flow run" in (home / "logs" / "hazardnet.log").read_text(encoding="utf-8")
    verbose = cli("ingest", "--home", str(home), "--as-of", AS_OF.isoformat(), "--always-run", "--verbose", env=env)
    assert verbose.returncode == 0 and re.search(r"\| *INFO *\|", verbose.stderr)


# ---- no mobile number or email address in the UI -------------------------------------------------------
def test_redact_masks_mobiles_and_addresses():
    from flows.redaction import redact

    text = "乌兰县人民医院（dianqi@wlx-hospital.example.cn）：短信未送达：13979000004、+86 139-0977-0001；户号 0970123456789"
    masked = redact(text)
    assert not MOBILE.search(masked) and not EMAIL.search(masked)
    assert "***@wlx-hospital.example.cn" in masked and "139****0004" in masked and "0970123456789" in masked


def test_artifacts_and_logs_of_the_runs_carry_no_mobile_or_address(prefect_harness, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, LogFilter, LogFilterFlowRunId

    from hazardnet.cli.demo import write_demo_inbox
    from hazardnet.delivery.directory import entries_of, read_directory_file, recipients_of

    home = tmp_path / "home"
    write_demo_inbox(home, AS_OF, since=AS_OF - dt.timedelta(days=300))
    settings = load_settings(home)
    parsed, _ = read_directory_file(settings.directory_file, settings, None)
    recipients = recipients_of(entries_of(parsed, settings), settings)
    secrets = {a for r in recipients for a in r.addresses} | {m for r in recipients for m in r.mobiles}
    assert len(secrets) > 20
    env = clean_env(**{k: v for k, v in harness_env().items() if k.startswith("PREFECT_")})
    env["HAZARDNET_SETTLE_SECONDS"] = "0"
    for args in (("ingest",), ("bulletin", "--month", "2026-11"), ("warnings",)):
        done = cli(*args, "--home", str(home), "--as-of", AS_OF.isoformat(), env=env)
        assert done.returncode in (0, 1), done.stderr
    with get_client(sync_client=True) as client:
        runs = [r for r in client.read_flow_runs() if r.parameters.get("home") == str(home)]
        assert len(runs) >= 3
        ids = [r.id for r in runs]
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=ids)))
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=ids)))
    shown = [json.dumps(a.data, ensure_ascii=False) + (a.description or "") for a in artifacts]
    shown += [log.message for log in logs]
    assert any("***@" in s for s in shown)  # the deliveries are listed, their addresses masked
    leaks = [s for s in shown if any(x in s for x in secrets) or MOBILE.search(s) or EMAIL.search(s)]
    assert leaks == []
    # the log says what each file came to, not that each task run completed (flows.quiet_logs)
    task_lines = [log.message for log in logs if log.task_run_id is not None]
    assert any(": accepted," in m for m in task_lines) and any(": rejected," in m for m in task_lines)
    assert [m for m in task_lines if m.startswith("Finished in state Completed")] == []
    assert any(log.task_run_id is None and log.message.startswith("Finished in state Completed") for log in logs)


def test_only_completed_task_runs_lose_their_finished_line():
    """QuietCompletions drops Prefect's INFO "Finished in state Completed()" and nothing else: a failed task run's
    line (ERROR), a flow run's, and any other message stay."""
    import logging

    from flows.quiet_logs import QuietCompletions

    def record(level, msg, name="prefect.task_runs"):
        return logging.LogRecord(name, level, __file__, 1, msg, (), None)

    quiet = QuietCompletions()
    assert not quiet.filter(record(logging.INFO, "Finished in state Completed()"))
    assert quiet.filter(record(logging.ERROR, "Finished in state Failed('Task run encountered an exception')"))
    assert quiet.filter(record(logging.INFO, "格尔木市 台账.xlsx: accepted, 12 rows, 0 findings"))
    assert quiet.filter(record(logging.INFO, "Finished in state Cancelled()"))
    import yaml

    config = yaml.safe_load((Path(__file__).resolve().parents[1] / "flows" / "logging.yml").read_text(encoding="utf-8"))
    assert config["filters"]["quiet_completions"]["()"] == "flows.quiet_logs.QuietCompletions"
    assert config["loggers"]["prefect.task_runs"]["filters"] == ["quiet_completions"]  # where the CLI's runs log
