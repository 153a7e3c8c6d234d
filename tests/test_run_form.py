"""What the prefecture's staff read in the Prefect UI besides artifacts: each deployment's Run form (a Chinese title
and a description for every parameter), each flow run's name, each step's task run name, and the Failed state a
mistyped Run form value gives (flows.run_form). Read back from the test server as the UI reads them."""

from __future__ import annotations

import asyncio
import re

from tests.conftest import DATA, drop
from tests.test_ingest_flow import read_back

ASCII_WORD = re.compile(r"^[\x00-\x7f]*$")


def _has_chinese(text) -> bool:
    return bool(text) and not ASCII_WORD.match(str(text))


def test_every_run_form_field_has_a_chinese_title_and_says_what_to_write(prefect_harness, settings):
    from prefect.client.orchestration import get_client

    from flows.deployments import all_deployments

    deployments = all_deployments(str(settings.home))
    for d in deployments:
        d.apply()  # as `hazardnet serve` registers them

    async def read():
        async with get_client() as client:
            return {d.name: d for d in await client.read_deployments()}

    served = asyncio.run(read())

    async def remove():  # the test server is shared: leave it as found
        async with get_client() as client:
            for d in deployments:
                await client.delete_deployment(served[d.name].id)

    asyncio.run(remove())
    for d in deployments:
        schema = served[d.name].parameter_openapi_schema
        for name, prop in schema["properties"].items():
            assert _has_chinese(prop.get("title")), (d.name, name, prop)
            assert _has_chinese(prop.get("description")), (d.name, name, prop)
        assert _has_chinese(served[d.name].description), d.name
    grid = served["电网风险预警"].parameter_openapi_schema
    titles = {name: prop["title"] for name, prop in grid["properties"].items()}
    assert titles == {"counties": "涉及的县(市)", "text": "预警内容", "home": "工作目录", "lines": "涉及的线路",
                      "substations": "涉及的变电站"}
    assert grid["required"] == ["text"]  # a warning by line or substation names no county
    assert grid["properties"]["counties"]["default"] is None
    assert "counties" not in served["电网风险预警"].description  # it names the fields as the form titles them
    assert "YYYY-MM-DD" in served["每日风险预警"].parameter_openapi_schema["properties"]["as_of"]["description"]


def test_a_mistyped_date_fails_the_run_with_a_chinese_sentence(prefect_harness, settings):
    from flows.warnings import warnings_flow

    settings.home.mkdir(parents=True, exist_ok=True)
    state = warnings_flow(home=str(settings.home), as_of="2026/11/15", return_state=True)
    assert state.is_failed()
    assert "日期“2026/11/15”格式不正确，请写成 YYYY-MM-DD，例如 2026-11-15。" in state.message, state.message
    assert "isoformat" not in state.message
    run, _, _ = read_back(state.state_details.flow_run_id)
    assert run.name == "风险预警"  # the date could not be read: the name says what the run is, the state why it failed


def test_a_month_without_its_leading_zero_fails_the_bulletin_run_with_a_chinese_sentence(prefect_harness, settings):
    from flows.bulletin import bulletin_flow

    settings.home.mkdir(parents=True, exist_ok=True)
    state = bulletin_flow(home=str(settings.home), month="2026-1", return_state=True)
    assert state.is_failed()
    assert "通报月份“2026-1”格式不正确，请写成 YYYY-MM（月份写两位），例如 2026-01。" in state.message, state.message
    assert not (settings.outbox / "通报").exists()


def test_runs_and_their_steps_are_named_for_what_they_do(prefect_harness, settings, as_of):
    from flows.ingest import ingest_flow

    drop(settings, DATA / "good" / "canonical.xlsx")
    state = ingest_flow(home=str(settings.home), as_of=as_of.isoformat(), return_state=True)
    assert state.is_completed()
    run, tasks, _ = read_back(state.state_details.flow_run_id)
    assert run.name == f"导入台账 {as_of.isoformat()}"
    names = {t.name for t in tasks}
    assert {"扫描收件箱", "生成汇总台账", "导入 格尔木市：canonical.xlsx"} <= names, names


def test_a_grid_warning_from_the_run_form_names_its_run_and_its_mistakes_without_command_options(
        prefect_harness, settings):
    from flows.grid_warning import grid_warning_flow
    from hazardnet.settings import today

    settings.home.mkdir(parents=True, exist_ok=True)
    for nothing in (grid_warning_flow(counties=[], text="检修", home=str(settings.home), return_state=True),
                    grid_warning_flow(text="检修", home=str(settings.home), return_state=True)):  # 涉及的县(市) left empty
        assert nothing.is_failed() and nothing.message == "请至少指定一个涉及的县(市)、线路或变电站。"
    empty = grid_warning_flow(counties=["格尔木市"], text=" ", home=str(settings.home), return_state=True)
    assert empty.is_failed() and "--" not in empty.message and empty.message.startswith("预警内容为空")
    run, _, _ = read_back(empty.state_details.flow_run_id)
    assert run.name == f"电网风险预警 格尔木市 {today(settings).isoformat()}"


def test_a_run_form_home_that_is_not_there_fails_every_flow_at_once_and_creates_nothing(prefect_harness, tmp_path):
    """The Run form's 工作目录 mistyped (or a deployment whose folder was moved): every flow fails with the sentence
    the command line's --home gives, before it writes a store, an outbox or a log in a new folder there."""
    from flows.bulletin import bulletin_flow
    from flows.customer_checks import customer_checks_flow
    from flows.grid_warning import grid_warning_flow
    from flows.ingest import ingest_flow
    from flows.mail_intake import mail_intake_flow
    from flows.notices import notices_flow
    from flows.quarterly import quarterly_flow
    from flows.reminders import reminders_flow
    from flows.supervision import supervision_flow
    from flows.warnings import warnings_flow

    missing, a_file = tmp_path / "没有这个目录" / "home", tmp_path / "home.txt"
    a_file.write_text("x", encoding="utf-8")
    runs = [(ingest_flow, {}), (mail_intake_flow, {}), (bulletin_flow, {}), (quarterly_flow, {}), (warnings_flow, {}),
            (reminders_flow, {}), (supervision_flow, {}), (notices_flow, {"send": True}),
            (customer_checks_flow, {}), (grid_warning_flow, {"counties": ["格尔木市"], "text": "检修"})]
    for flow, params in runs:
        for home, says in ((missing, "不存在"), (a_file, "不是文件夹")):
            state = flow(home=str(home), **params, return_state=True)
            assert state.is_failed(), (flow.name, home)
            # the sentence alone (flows.failure_messages), and no command-line option in the UI
            assert state.message.startswith(f"工作目录“{home}”{says}。请在“工作目录”中填写含 inbox/ 的工作目录"), \
                state.message
            assert "--" not in state.message
    assert not missing.parent.exists()
    assert a_file.read_text(encoding="utf-8") == "x"


def test_a_grid_warning_by_line_runs_from_the_run_form_with_no_county(prefect_harness, settings):
    """The Run form as a dispatcher fills it for a line: 预警内容 and 涉及的线路, 涉及的县(市) left out."""
    from flows.grid_warning import grid_warning_flow
    from hazardnet.jobs.ingest import ingest
    from tests.test_customer_file import AS_OF, drop_files
    from tests.test_sms import directory_with_mobiles
    from tests.test_warnings import write_directory_file

    write_directory_file(settings.directory_file, directory_with_mobiles())
    drop_files(settings)
    ingest(settings, AS_OF, mail_rejections=False)
    state = grid_warning_flow(text="察格线检修，请做好准备。", lines=["330kV 察格线"], home=str(settings.home),
                              return_state=True)
    assert state.is_completed(), state.message
    assert {d["recipient"] for d in state.result()["deliveries"]} == {
        "海西州能源局", "国网海西供电公司营销部", "格尔木市发展和改革委员会(能源局)", "国网格尔木供电公司", "青海盐湖钾肥股份有限公司",
        "德令哈市发展和改革委员会(能源局)", "德令哈纯碱厂"}
    run, _, _ = read_back(state.state_details.flow_run_id)
    assert run.name.startswith("电网风险预警 330kV 察格线 ")
