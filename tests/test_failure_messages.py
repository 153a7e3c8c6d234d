"""A failed run's state message — what the Prefect UI shows on the run's page, no log line — masks mobile
numbers and email addresses as the log lines do (flows.failure_messages); a sending job that could not reach
someone names them masked in its Failed state, its artifacts and on the console (flows.mailing.failed_state,
hazardnet.delivery.masking)."""

from __future__ import annotations

import asyncio

import pytest

from tests.sms_gateways import http_gateway  # noqa: F401  (the fixture)
from tests.smtp_server import smtp_server  # noqa: F401  (the fixture)
from tests.test_bulletin import world  # noqa: F401  (the fixture)

SECRET_MOBILE, SECRET_MAIL = "13912345678", "zhang.san@example.com"


def test_every_flow_of_the_package_masks_failure_messages():
    import prefect._internal.states as internal_states
    import prefect.states as states

    import flows  # noqa: F401 - installs it
    from flows.failure_messages import format_exception_redacted

    # the synchronous engines format through prefect._internal.states, the asynchronous ones through
    # prefect.states: if a Prefect upgrade moves the name, this fails
    assert states.format_exception is format_exception_redacted
    assert internal_states.format_exception is format_exception_redacted
    assert "format_exception(exc)" in __import__("inspect").getsource(internal_states.exception_to_failed_state_sync)


def test_the_masked_message_keeps_the_rest():
    from flows.failure_messages import format_exception_redacted

    text = format_exception_redacted(ValueError(f"收件人 {SECRET_MOBILE}、{SECRET_MAIL} 拒收"))
    assert text == "ValueError: 收件人 139****5678、***@example.com 拒收"


def test_a_failed_flow_and_task_run_state_no_mobile_or_address(prefect_harness):
    from prefect import flow, task
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    import flows  # noqa: F401

    @task(name="发送")
    def send() -> None:
        raise ValueError(f"收件人 {SECRET_MOBILE} / {SECRET_MAIL} 拒收")

    @flow(name="失败信息检查")
    def run() -> None:
        send()

    state = run(return_state=True)
    assert state.is_failed()

    async def read():
        async with get_client() as client:
            for _ in range(300):  # a task run's states reach the server as events, recorded a moment later
                flow_run = await client.read_flow_run(state.state_details.flow_run_id)
                task_runs = await client.read_task_runs(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run.id])))
                if task_runs and all(t.state is not None and t.state.is_failed() for t in task_runs):
                    break
                await asyncio.sleep(0.1)
            return flow_run, task_runs

    flow_run, task_runs = asyncio.run(read())
    messages = [flow_run.state.message] + [t.state.message for t in task_runs]
    assert len(messages) == 2 and all(messages), messages
    for message in messages:
        assert SECRET_MOBILE not in message and SECRET_MAIL not in message, message
        assert "ValueError" in message and "139****5678" in message and "***@example.com" in message, message


# ---- a delivery that failed: the sending jobs' Failed state, their artifacts and the console --------------
# A real refusal each: the loopback SMTP server answers 550 for one mailbox, the HTTP SMS gateway 400 for one
# number. The command runs as an operator starts it (its human output, not --json); the UI's texts are read back.
WIDE = {"COLUMNS": "400"}  # the console's tables unwrapped: an address cut at a line end would hide a leak


def masked_address(address: str) -> str:
    return "***@" + address.split("@")[1]


def masked_mobile(mobile: str) -> str:
    return f"{mobile[:3]}****{mobile[-4:]}"


def shown_in_the_ui(home, flow_name: str) -> tuple[list, list[str]]:
    """The runs of `flow_name` for `home` (their states) and every text their artifacts show."""
    import json

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (ArtifactFilter, ArtifactFilterFlowRunId, FlowFilter,
                                                FlowFilterName)

    with get_client(sync_client=True) as client:
        runs = [r for r in client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])))
                if r.parameters.get("home") == str(home)]
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[r.id for r in runs])))
    texts = [json.dumps(a.data, ensure_ascii=False) + (a.description or "") for a in artifacts]
    return runs, texts


def assert_masked(texts: list[str], addresses: list[str], mobiles: list[str], where: str) -> None:
    joined = "\n".join(texts)
    assert [x for x in (*addresses, *mobiles) if x in joined] == [], where
    for address in addresses:
        assert masked_address(address) in joined, (where, address)
    for mobile in mobiles:
        assert masked_mobile(mobile) in joined, (where, mobile)


def test_a_bulletin_that_missed_recipients_names_them_masked_in_the_ui_and_on_the_console(
        prefect_harness, settings, world, smtp_server, http_gateway, monkeypatch):
    from tests.test_bulletin import CUST_C, DIRECTORY, GOV_GEM
    from tests.test_ingest_flow import run_cli

    gov_gem_mobile = "13897001234"  # 格尔木市发展和改革委员会（能源局） in the directory
    smtp_server.refuse(CUST_C)  # 550: the soda plant's mailbox
    http_gateway.refuse.add(gov_gem_mobile)  # 400: the county authority's number (its mail goes through)
    env = {"HAZARDNET_SMTP_HOST": smtp_server.host, "HAZARDNET_SMTP_PORT": str(smtp_server.port),
           "HAZARDNET_SMTP_SECURITY": "none", "HAZARDNET_MAIL_RETRY_DELAYS": "0",
           "HAZARDNET_SMS_URL": http_gateway.url(), **WIDE}
    done = run_cli("bulletin", "--month", "2026-11", "--as-of", "2026-11-15", "--home", str(settings.home), env=env)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "错误：2 个收件人未能送达" in done.stderr and "柴达木纯碱化工有限公司" in done.stderr, done.stderr
    assert [r for r in smtp_server.messages if CUST_C in r.rcpt_tos] == []  # the refusals were real
    assert [m for m, _ in http_gateway.messages if m == gov_gem_mobile] == []
    # the console: the failure line and the table of deliveries
    assert_masked([done.stdout, done.stderr], [CUST_C, GOV_GEM], [gov_gem_mobile], "console")
    every_address = [a for row in DIRECTORY for a in row[5].split("；")]
    assert [a for a in every_address if a in done.stdout + done.stderr] == []  # nobody's address, served or not

    [run], artifacts = shown_in_the_ui(settings.home, "月度电力安全隐患通报")
    assert run.state.is_failed() and "柴达木纯碱化工有限公司" in run.state.message
    assert_masked([run.state.message], [CUST_C], [gov_gem_mobile], "state message")
    assert_masked(artifacts, [CUST_C], [gov_gem_mobile], "artifacts")


def test_a_grid_warning_that_missed_recipients_names_them_masked_in_the_ui_and_on_the_console(
        prefect_harness, settings, smtp_server, http_gateway):
    from hazardnet.store import Store
    from tests.test_ingest_flow import run_cli
    from tests.test_sms import GRID_TEXT, MOBILE, directory_with_mobiles
    from tests.test_warnings import REFINERY, write_directory_file

    settings.home.mkdir(parents=True, exist_ok=True)
    write_directory_file(settings.directory_file, directory_with_mobiles())
    Store(settings.database_url).dispose()
    hospital = MOBILE["格尔木市人民医院"]
    smtp_server.refuse(REFINERY[0])  # 550: the refinery's mailbox
    http_gateway.refuse.add(hospital)  # 400: the hospital's number
    env = {"HAZARDNET_SMTP_HOST": smtp_server.host, "HAZARDNET_SMTP_PORT": str(smtp_server.port),
           "HAZARDNET_SMTP_SECURITY": "none", "HAZARDNET_MAIL_RETRY_DELAYS": "0",
           "HAZARDNET_SMS_URL": http_gateway.url(), **WIDE}
    done = run_cli("grid-warning", "--county", "格尔木市", "--text", GRID_TEXT, "--home", str(settings.home), env=env)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "错误：2 个收件人未能送达" in done.stderr and "格尔木炼油厂" in done.stderr, done.stderr
    assert [r for r in smtp_server.messages if REFINERY[0] in r.rcpt_tos] == []  # the refusals were real
    assert [m for m, _ in http_gateway.messages if m == hospital] == []
    # the console: the failure line and the table of deliveries (mobiles in a column of their own)
    assert_masked([done.stdout, done.stderr], [REFINERY[0]], [hospital], "console")
    assert [m for m in MOBILE.values() if m in done.stdout + done.stderr] == []

    [run], artifacts = shown_in_the_ui(settings.home, "电网风险预警")
    assert run.state.is_failed() and "格尔木市人民医院" in run.state.message
    assert_masked([run.state.message], [REFINERY[0]], [hospital], "state message")
    assert_masked(artifacts, [REFINERY[0]], [hospital], "artifacts")
