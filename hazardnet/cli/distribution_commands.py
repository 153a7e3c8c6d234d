"""`hazardnet bulletin`: send the monthly bulletin (a thin front over flows.bulletin)."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Optional

import typer

from hazardnet.cli.app import AsOfOpt, HomeOpt, JsonOpt, UserError, _as_of, _home, app, err, out
from hazardnet.delivery.masking import redact

COLOURS = {"sent": "green", "written": "green", "skipped": "yellow", "failed": "red"}


def status_text(status: str | None, channel: str = "mail", *, colour: bool = False) -> str:
    """A delivery's status in Chinese (hazardnet.delivery.labels), coloured for a table when `colour`."""
    from hazardnet.delivery.labels import delivery_status

    word = delivery_status(status, channel)
    return f"[{COLOURS[status]}]{word}[/]" if colour and status in COLOURS and word != "—" else word


# The console is read (and logged, scrolled back, pasted into a chat) like the Prefect UI: a delivery's addresses
# and mobiles, and the errors quoting them, are masked as there (hazardnet.delivery.masking); `--json` keeps the real ones.
def delivery_line(d: dict, *, mobiles: bool = False) -> str:
    """One delivery on the console: recipient (addresses): mail status; SMS (mobiles): status — error; addresses
    and mobiles masked."""
    line = f"{d.get('recipient')}（{'、'.join(d.get('addresses') or [])}）：{status_text(d.get('status'))}"
    if d.get("sms_status") and d["sms_status"] != "skipped":
        who = f"（{'、'.join(d.get('mobiles') or [])}）" if mobiles else ""
        line += f"；短信{who}：{status_text(d['sms_status'], 'sms')}"
    return redact(line + (f"——{d['error']}" if d.get("error") else ""))


def print_bulletin(result: dict) -> None:
    """Human summary of a bulletin run."""
    from rich.table import Table

    table = Table(title=f"{result.get('period', '')} 月度电力安全隐患通报")
    for col in ("县(市)", "收件人", "单位类型", "邮箱", "隐患条数", "结果", "短信", "说明"):
        table.add_column(col)
    for d in result["deliveries"]:
        table.add_row(d["county"], d["recipient"], d["party"], redact("；".join(d["addresses"])), str(d["rows"]),
                      status_text(d["status"], colour=True), status_text(d.get("sms_status"), "sms", colour=True),
                      redact(d.get("error") or d.get("note") or ""))
    out.print(table)
    note = directory_note(result.get("directory") or {})
    if note:
        from rich.markup import escape

        out.print(f"[yellow]{escape(note)}[/]")
    print_paper(result.get("paper"))


def directory_note(directory: dict) -> str | None:
    """What a sending command says of the directory it used, when not simply the file as it is: the last valid
    version (the file has errors: its report; the file is missing or its change could not be announced: the
    directory's own sentence), or the file without its rows in error."""
    if directory.get("source") == "store":
        if directory.get("report"):
            return f"通讯录文件有错误，沿用上一版有效通讯录；问题报告：{directory['report']}"
        said = [f["message"] for f in directory.get("findings") or () if not f.get("cell") and f.get("message")]
        return "".join(said) or "沿用上一版有效通讯录。"
    if directory.get("left_out"):
        return (f"通讯录第 {'、'.join(map(str, directory['left_out']))} 行有错误，未予采用，其余收件人照常发送；"
                f"问题报告：{directory.get('report')}")
    return None


PdfOpt = Annotated[bool, typer.Option("--pdf", help="同时用 LibreOffice 生成纸质版 PDF（需安装 LibreOffice）。")]


def print_paper(paper: dict | None) -> None:
    """Where the paper copies are, and each one that could not be made (by name)."""
    if not paper:
        return
    for p in paper["written"]:
        out.print(f"纸质版：{p['path']}", soft_wrap=True)
    for f in paper["failed"]:
        err.print(f"纸质版未生成：{f['name']}（{f['error']}）", soft_wrap=True)


def paper_exit(paper: dict | None) -> int:
    """0, or the exit status the paper copies call for: 2 without LibreOffice (one line saying what to
    install), 1 when some conversion failed."""
    if not paper:
        return 0
    if paper.get("unavailable"):
        err.print(f"错误：{paper['unavailable']}", soft_wrap=True)
        return 2
    return 1 if paper.get("failed") else 0


@app.command()
def bulletin(
    month: Annotated[Optional[str], typer.Option("--month", help="通报月份 YYYY-MM（月份写两位，例如 2026-01），默认本月。")] = None,
    home: HomeOpt = None,
    as_of: AsOfOpt = None,
    resend: Annotated[bool, typer.Option("--resend", help="重新发送本月已送达的通报。")] = False,
    pdf: PdfOpt = False,
    json_: JsonOpt = False,
) -> None:
    """发送月度电力安全隐患通报：按通讯录向三方各发一份限定范围的工作簿（每人每月只发一次）；
    加 --pdf 时为每个政府主管部门生成纸质版 PDF（outbox/通报/<月份>/纸质版/）。"""
    from flows.bulletin import UndeliveredBulletins, bulletin_flow
    from hazardnet.publish.bulletin import Period, public_delivery

    if month is not None:
        try:
            month = Period.parse(month).key
        except ValueError as exc:
            raise UserError(str(exc)) from None
    from flows.bulletin import resolve_period
    from hazardnet.publish.bulletin import report_date_problem
    from hazardnet.settings import load_settings

    problem = report_date_problem(*resolve_period(month, _as_of(as_of), load_settings(_home(home))))
    if problem:  # a month not begun (2027-05 for 2026-05): nothing to send, no one mailed
        raise UserError(problem.replace("请检查通报月份和基准日", "请检查 --month 和 --as-of"))
    from hazardnet.cli.progress import flow_console

    with flow_console(_home(home), "发送月度通报", quiet=json_):
        state = bulletin_flow(home=_home(home), month=month, as_of=_as_of(as_of), resend=resend,
                              pdf=True if pdf else None, return_state=True)
    outcome = state.result(raise_on_failure=False)
    failure = None
    if isinstance(outcome, UndeliveredBulletins):
        result, failure = outcome.result, outcome.delivery_problem
    elif isinstance(outcome, BaseException):
        raise outcome
    else:
        result = outcome
    if json_:
        shown = {"deliveries": [public_delivery(d) for d in result["deliveries"]]}
        if "paper" in result:
            shown["paper"] = result["paper"]
        print(json.dumps(shown, ensure_ascii=False, indent=1))
    else:
        print_bulletin(result)
    if failure:
        err.print(f"错误：{redact(failure)}")
    code = paper_exit(result.get("paper"))
    if code or failure:
        sys.exit(code or 1)



def print_grid_warning(result: dict) -> None:
    """Human summary of a grid warning run."""
    from rich.table import Table

    w = result["warning"]
    table = Table(title=f"电网风险预警（{'、'.join(w['counties'])}）")
    for col in ("县(市)", "收件人", "单位类型", "邮件", "手机", "短信", "说明"):
        table.add_column(col)
    for d in result["deliveries"]:
        table.add_row(d["county"], d["recipient"], d["party"], status_text(d["status"], colour=True),
                      redact("、".join(d.get("mobiles") or [])) or "无", status_text(d.get("sms_status"), "sms", colour=True),
                      redact(d.get("error") or (d.get("note") if d["status"] == "skipped" else "") or ""))
    out.print(table)
    note = directory_note(result.get("directory") or {})
    if note:
        from rich.markup import escape

        out.print(f"[yellow]{escape(note)}[/]")


@app.command("grid-warning")
def grid_warning(
    text: Annotated[str, typer.Option("--text", help="预警内容（时段、范围、请客户做好的准备），短信含签名共不超过 140 字。")],
    county: Annotated[Optional[list[str]], typer.Option("--county", help="涉及的县(市)，可重复，如 --county 格尔木市 --county 德令哈市。")] = None,
    line: Annotated[Optional[list[str]], typer.Option("--line", help="涉及的线路，可重复，如 --line \"330kV 某某线\"：只发给客户档案写明该线路的客户、其县(市)政府主管部门和供电公司及州级单位。")] = None,
    substation: Annotated[Optional[list[str]], typer.Option("--substation", help="涉及的变电站，可重复：按客户档案的“所属变电站”，同 --line。")] = None,
    home: HomeOpt = None,
    json_: JsonOpt = False,
) -> None:
    """发布电网风险预警：以短信和邮件发给所涉县(市)及州级的全部收件人，或用 --line/--substation 只发给该线路或变电站供电的客户、
    其县(市)政府主管部门和供电公司及州级单位（同一预警只发一次，修改内容视为新预警）。"""
    county, line, substation = county or [], line or [], substation or []
    from flows.grid_warning import UndeliveredGridWarning, grid_warning_flow
    from hazardnet.publish.bulletin import public_delivery
    from hazardnet.jobs.grid_warning import make_warning
    from hazardnet.settings import load_settings, today

    settings = load_settings(_home(home))
    try:  # the warning the flow will send, lines and substations looked up in the customer files as the flow does
        make_warning(settings, county, text, today(settings), lines=line, substations=substation)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    from hazardnet.cli.progress import flow_console

    with flow_console(_home(home), "发送电网风险预警", quiet=json_):
        state = grid_warning_flow(counties=county, text=text, home=_home(home), lines=line, substations=substation,
                                  return_state=True)
    outcome = state.result(raise_on_failure=False)
    failure = None
    if isinstance(outcome, UndeliveredGridWarning):
        result, failure = outcome.result, str(outcome)
    elif isinstance(outcome, BaseException):
        raise UserError(redact(state.message or str(outcome))) from None
    elif state.is_failed() or not isinstance(outcome, dict):
        # a Failed state without a result (no usable directory …): the run's own sentence, exit 1
        raise RuntimeError(redact(state.message or "电网风险预警未能发送。"))
    else:
        result = outcome
    if json_:
        print(json.dumps({"warning": result["warning"],
                          "deliveries": [{**public_delivery(d), "mobiles": d.get("mobiles") or [],
                                          "sms_status": d.get("sms_status"),
                                          **({"reason": d["reason"]} if "reason" in d else {})}
                                         for d in result["deliveries"]]},
                         ensure_ascii=False, indent=1))
    else:
        print_grid_warning(result)
    if failure:
        err.print(f"错误：{redact(failure)}")
        sys.exit(1)
