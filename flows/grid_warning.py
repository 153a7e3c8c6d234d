"""Flow 电网风险预警: the grid warning job (hazardnet.jobs.grid_warning) with Prefect's runner, and its
artifacts. A dispatcher's grid risk warning → mail and SMS to every recipient of the counties named
and every prefecture-level one, each (warning, recipient, channel) once. Deployed without a schedule: the
dispatcher starts it from the Prefect UI's Run form (the text, and the counties, lines or substations) or with
`hazardnet grid-warning`."""

from __future__ import annotations

from prefect import flow

from flows import run_form as form
from flows.artifacts import publish_markdown, publish_table
from flows.mailing import failed_state, publish_directory_mail
from flows.redaction import redact
from flows.runner import PrefectRunner
from hazardnet.delivery.labels import delivery_status
from hazardnet.jobs.grid_warning import make_warning, send_grid
from hazardnet.jobs.runner import RetryPolicy
from hazardnet.settings import load_home_settings, today


class UndeliveredGridWarning(Exception):
    """Some recipients could not be reached; the message names them (masked, flows.redaction: the console prints
    it), `.result` holds every delivery."""

    def __init__(self, message: str, result: dict):
        super().__init__(redact(message))
        self.result = result


def publish_grid_artifacts(result: dict) -> None:
    publish_table("grid-warning-deliveries", [
        {"收件单位": d["recipient"], "类型": d["party"], "县(市)": d["county"], "邮箱": "、".join(d["addresses"]),
         "邮件": delivery_status(d["status"]), "手机": "、".join(d.get("mobiles") or []),
         "短信": delivery_status(d.get("sms_status"), "sms"),
         "说明": d.get("error") or d.get("note") or "", "原因": d.get("reason") or ""} for d in result["deliveries"]],
        f"电网风险预警（{'、'.join(result['warning']['counties'])}）发送结果")
    findings = result["directory"]["findings"]
    if findings:
        lines = ["# 通讯录问题", ""] + [f"- {f['sheet']} {f['cell']} {f['field']}：{f['message']}" for f in findings]
        publish_markdown("grid-warning-directory", "\n".join(lines), "通讯录校验发现的问题")


def targets(params: dict) -> str:
    """What a warning concerns, for its run's name: the counties, lines and substations named (at most 30 characters)."""
    from hazardnet.xlsx.text_width import shorten

    names = [str(x).strip() for key in ("counties", "lines", "substations") for x in params.get(key) or () if str(x).strip()]
    return shorten("、".join(names), 30)


@flow(name="电网风险预警", log_prints=True, flow_run_name=form.run_name("电网风险预警", targets, form.day))
def grid_warning_flow(
        counties: list[str] | None = form.field(
            "涉及的县(市)", "例如 格尔木市；可填多个，县内全部收件人都会收到。只按线路或变电站预警时留空。"),
        text: str = form.field(
            "预警内容", "时段、范围、请客户做好的准备，例如：12月3日8时至20时330千伏格尔木变检修，格尔木市区域单线供电，"
                        "请重要客户检查自备应急电源。短信连同签名和县(市)共不超过 140 字。", ...),
        home: str | None = form.home(),
        lines: list[str] | None = form.field(
            "涉及的线路", "例如 330kV 某某线；只发给客户档案（一户一档）写明该线路的客户，及其县(市)政府主管部门、"
                          "供电公司和州级单位。"),
        substations: list[str] | None = form.field(
            "涉及的变电站", "同上，按客户档案的“所属变电站”。")):
    """Send a grid risk warning to the named counties' recipients (or the customers fed by the named lines or
    substations, their counties' authorities and supply companies) and the prefecture's, once each."""
    settings = load_home_settings(home)
    day = today(settings)
    try:
        warning = make_warning(settings, counties or (), text, day, lines=lines or (), substations=substations or ())
    except ValueError as exc:
        return failed_state(str(exc))
    outcome = send_grid(settings, warning, day, runner=PrefectRunner(RetryPolicy.of(settings)))
    publish_directory_mail(outcome.directory_mail)
    if not outcome.sent:
        return failed_state(outcome.problem)
    publish_grid_artifacts(outcome.result)
    if outcome.problem:
        return failed_state(outcome.problem, UndeliveredGridWarning(outcome.problem, outcome.result))
    return outcome.result


def deployments(home: str | None = None) -> list:
    """No schedule: a dispatcher starts it from the Run form with the counties and the text."""
    return [grid_warning_flow.to_deployment(
        name="电网风险预警",
        parameters={"home": home},
        concurrency_limit=1,
        description="调度或营销部发布电网风险预警：点“运行”，填写“涉及的县(市)”（或“涉及的线路”“涉及的变电站”）和“预警内容”，"
                    "通过短信和邮件发给这些县(市)及州级的全部收件人；同一预警只发送一次，修改内容视为新预警。",
        tags=["hazardnet", "warnings", "grid"],
    )]
