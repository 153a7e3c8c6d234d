"""A failed run's state message — what the Prefect UI shows on the run's page and in the run list, no log line — is
the Chinese sentence the run failed with, alone, or for a fault of the system a Chinese phrase saying so before the
error's type and text; either masks mobile numbers and email addresses as the log lines do (flows.failure_messages).
A sending job that could not reach someone names them masked in its Failed state, its artifacts and on the console
(flows.mailing.failed_state, hazardnet.delivery.masking)."""

from __future__ import annotations

import asyncio

import pytest

from tests.sms_gateways import http_gateway  # noqa: F401  (the fixture)
from tests.smtp_server import smtp_server  # noqa: F401  (the fixture)
from tests.test_bulletin import world  # noqa: F401  (the fixture)

SECRET_MOBILE, SECRET_MAIL = "13912345678", "zhang.san@example.com"


def test_every_flow_of_the_package_states_failures_in_our_words():
    import inspect

    import prefect._internal.states as internal_states
    import prefect.flow_engine as flow_engine
    import prefect.states as states
    import prefect.task_engine as task_engine

    import flows  # noqa: F401 - installs it
    from flows import failure_messages as ours

    # the synchronous engines format through prefect._internal.states, the asynchronous ones through
    # prefect.states; the engines import the failed-state builders by name: if a Prefect upgrade moves a name or
    # rewords the engines' message, this fails (and the runs below would show Prefect's English again)
    assert states.format_exception is ours.format_exception_redacted
    assert internal_states.format_exception is ours.format_exception_redacted
    for prefects in (ours._prefect_to_failed_state, ours._prefect_to_failed_state_sync):  # what the wrappers call
        assert "message = existing_message + format_exception(exc)" in inspect.getsource(prefects)
    for module in (states, flow_engine, task_engine):
        assert module.exception_to_failed_state is ours.exception_to_failed_state, module
    for module in (internal_states, task_engine):
        assert module.exception_to_failed_state_sync is ours.exception_to_failed_state_sync, module
    engines = inspect.getsource(flow_engine) + inspect.getsource(task_engine)
    for message in ours.ENGINE_MESSAGES:
        assert f'"{message}"' in engines, message


def test_the_masked_message_keeps_the_rest():
    from flows.failure_messages import format_exception_redacted

    text = format_exception_redacted(ValueError(f"收件人 {SECRET_MOBILE}、{SECRET_MAIL} 拒收"))
    assert text == "ValueError: 收件人 139****5678、***@example.com 拒收"


def _raised(make) -> BaseException:
    """The exception `make` returns or raises (as a run's code would meet it)."""
    try:
        raise make()
    except Exception as exc:  # noqa: BLE001 - whatever it is
        return exc


def _mail_error():
    from hazardnet.delivery.mail import PermanentMailError

    return PermanentMailError("HAZARDNET_SMTP_CA_FILE 指定的 CA 证书文件 /etc/ca.pem 不存在。")


OURS, FAULT = "ours", "fault"


@pytest.mark.parametrize("make, kind, shown", [
    # a sentence for a person: shown alone
    (lambda: ValueError("日期“2026/11/15”格式不正确，请写成 YYYY-MM-DD，例如 2026-11-15。"), OURS,
     "日期“2026/11/15”格式不正确，请写成 YYYY-MM-DD，例如 2026-11-15。"),
    (lambda: RuntimeError(f"没有可用的通讯录，无法发送：{SECRET_MAIL} 被拒收"), OURS,
     "没有可用的通讯录，无法发送：***@example.com 被拒收"),
    (lambda: __import__("flows.mailing").mailing.delivery_failure(f"2 个收件人未能送达——格尔木市 某厂（{SECRET_MAIL}）"),
     OURS, "2 个收件人未能送达——格尔木市 某厂（***@example.com）"),  # a number first: still a Chinese sentence
    (lambda: ValueError("“Gem”不是已配置的县(市)。"), OURS, "“Gem”不是已配置的县(市)。"),  # a quoted value first
    (_mail_error, OURS, "HAZARDNET_SMTP_CA_FILE 指定的 CA 证书文件 /etc/ca.pem 不存在。"),  # our class, a name first
    (lambda: FileNotFoundError(2, "No such file or directory", "/srv/县公司/inbox"), OURS,
     "文件或文件夹“/srv/县公司/inbox”不存在。"),  # as the command line names it
    # a fault of the system: the type kept, after the phrase saying it is not the person's mistake
    (lambda: int("格尔木"), FAULT, "ValueError: invalid literal for int() with base 10: '格尔木'"),  # only quotes Chinese
    (lambda: __import__("enum").Enum("County", {"GEM": "格尔木市"})("格尔木"), FAULT,
     "ValueError: '格尔木' is not a valid County"),  # begins with a quoted Chinese value, then English
    (lambda: {}["格尔木市"], FAULT, "KeyError: '格尔木市'"),
    (lambda: ValueError("bad sector size"), FAULT, "ValueError: bad sector size"),
    (lambda: TypeError(f"收件人 {SECRET_MOBILE} 不是字符串"), FAULT, "TypeError: 收件人 139****5678 不是字符串"),
], ids=["parse_date", "runtime_error", "delivery_failure", "quote_first", "our_class", "missing_folder",
        "int_of_chinese", "enum_of_chinese", "key_error", "english_value_error", "type_error_masked"])
def test_a_sentence_for_a_person_is_shown_alone_and_a_fault_says_it_is_one(make, kind, shown):
    from flows.failure_messages import PROGRAM_FAULT, failure_message

    assert failure_message(_raised(make)) == (shown if kind == OURS else PROGRAM_FAULT + shown)


def _run_and_read(flow_fn, *args, steps: int = 1):
    """Run `flow_fn` and read its flow run and its `steps` task runs back from the server, as the UI shows them."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    state = flow_fn(*args, return_state=True)
    assert state.is_failed()

    async def read():
        async with get_client() as client:
            for _ in range(300):  # a task run's states reach the server as events, recorded a moment later
                flow_run = await client.read_flow_run(state.state_details.flow_run_id)
                task_runs = await client.read_task_runs(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run.id])))
                if len(task_runs) >= steps and all(t.state is not None and t.state.is_final() for t in task_runs):
                    break
                await asyncio.sleep(0.1)
            return flow_run, task_runs

    return asyncio.run(read())


def _failing_flow(problem: BaseException):
    """A flow whose one step raises `problem`."""
    from prefect import flow, task

    import flows  # noqa: F401

    @task(name="发送")
    def send() -> None:
        raise problem

    @flow(name="失败信息检查")
    def run() -> None:
        send()

    return run


def test_a_run_that_failed_on_our_sentence_shows_it_alone_masked(prefect_harness):
    flow_run, task_runs = _run_and_read(_failing_flow(ValueError(f"收件人 {SECRET_MOBILE} / {SECRET_MAIL} 拒收")))
    [task_run] = task_runs
    assert task_run.state.is_failed()
    for message in (flow_run.state.message, task_run.state.message):  # the run's page and the step's
        assert message == "收件人 139****5678 / ***@example.com 拒收"


def test_a_run_that_failed_on_a_fault_keeps_its_type_after_a_chinese_phrase(prefect_harness):
    from flows.failure_messages import PROGRAM_FAULT

    flow_run, [task_run] = _run_and_read(_failing_flow(KeyError(f"{SECRET_MAIL} 的单位")))
    for message in (flow_run.state.message, task_run.state.message):
        assert message == PROGRAM_FAULT + "KeyError: '***@example.com 的单位'"
        assert message.startswith("系统内部错误") and "encountered" not in message


def test_a_run_form_date_that_does_not_parse_is_the_runs_whole_message(prefect_harness, settings):
    from flows.warnings import warnings_flow

    settings.home.mkdir(parents=True, exist_ok=True)
    flow_run, _ = _run_and_read(warnings_flow, str(settings.home), "2026/11/15", steps=0)
    assert flow_run.state.message == "日期“2026/11/15”格式不正确，请写成 YYYY-MM-DD，例如 2026-11-15。"


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


def test_a_command_whose_run_failed_on_a_fault_prints_its_one_line_and_the_ui_says_it_is_no_input_mistake(
        prefect_harness, settings):
    """The console keeps its one line (the command's own, no traceback); the UI's message is the run's, reworded."""
    from flows.failure_messages import PROGRAM_FAULT
    from tests.test_ingest_flow import run_cli

    settings.home.mkdir(parents=True, exist_ok=True)
    done = run_cli("ingest", "--home", str(settings.home), "--as-of", "2026-11-15",
                   env={"HAZARDNET_FAILPOINT": "no_such_checkpoint"})  # the engine's first checkpoint raises
    fault = "ValueError: HAZARDNET_FAILPOINT names an unknown checkpoint 'no_such_checkpoint'"
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(f"运行失败：{fault}"), done.stderr
    assert PROGRAM_FAULT not in done.stderr

    [run], _ = shown_in_the_ui(settings.home, "导入县公司隐患台账")
    assert run.state.is_failed() and run.state.message.startswith(PROGRAM_FAULT + fault), run.state.message


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


def test_a_command_whose_run_failed_on_our_sentence_prints_the_sentence_alone(prefect_harness, settings):
    """The console's last line says what the UI's message says: the sentence, without the exception's type
    (`hazardnet quarterly --send` with no directory: the job's RuntimeError in Chinese)."""
    from tests.test_ingest_flow import run_cli

    settings.home.mkdir(parents=True, exist_ok=True)
    done = run_cli("quarterly", "--send", "--quarter", "2026Q3", "--home", str(settings.home))
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("运行失败：没有可用的通讯录，无法发送季度汇总："), done.stderr
    assert "RuntimeError" not in done.stderr, done.stderr
