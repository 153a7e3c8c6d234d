"""`hazardnet mail-intake` (the mailbox as a second inbox, a thin front over flows.mail_intake) and
`hazardnet check` (the self-check: what the intake would say of a file, nothing stored)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from hazardnet.cli.app import AsOfOpt, HomeOpt, JsonOpt, UserError, _as_of, _home, app, out
from hazardnet.delivery.labels import intake_outcome
from hazardnet.delivery.masking import redact

STATUS_ZH = {"placed": "已放入收件箱并导入", "done": "已处理", "quarantined": "已隔离（发件人不在通讯录）",
             "checked": "已预检并回复", "seen": "此前已处理", "error": "出错，下次重试"}
SENT_ZH = {"sent": "回复已发送", "written": "回复已写入 outbox/mail/", "skipped": "此前已回复", "failed": "回复发送失败"}


@app.command("mail-intake")
def mail_intake(home: HomeOpt = None, as_of: AsOfOpt = None, json_: JsonOpt = False) -> None:
    """读取收件邮箱的新邮件：通讯录中供电企业联系人发来的台账导入并逐份回复结果，其他邮件移入隔离文件夹。"""
    from flows.mail_intake import mail_intake_flow
    from hazardnet.settings import load_settings

    if not load_settings(home).imap_host:  # before the home is set up: a refused command leaves no folder behind
        raise UserError("未配置收件邮箱：请设置 HAZARDNET_IMAP_HOST、HAZARDNET_IMAP_USER 和密码"
                        "（HAZARDNET_IMAP_PASSWORD 或 HAZARDNET_IMAP_PASSWORD_BLOCK）。")
    day = _as_of(as_of)  # a date mistyped is refused before the home is set up
    home_dir = _home(home, create=True)
    from hazardnet.cli.progress import flow_console

    with flow_console(home_dir, "收取邮件中的台账", quiet=json_):
        state = mail_intake_flow(home=home_dir, as_of=day, return_state=True)
    result = {**state.result(), "flow_run": str(state.state_details.flow_run_id)}
    if json_:
        print(json.dumps(result, ensure_ascii=False, indent=1, default=str))
        return
    if not result["messages"]:
        out.print("收件邮箱中没有新邮件。")
    for m in result["messages"]:
        out.print(f"邮件 {m.get('uid')}：{STATUS_ZH.get(m.get('status'), m.get('status'))}"
                  f"{'（' + m['county'] + '）' if m.get('county') else ''}"
                  f"{'：' + '、'.join(m['registers']) if m.get('registers') else ''}"
                  f"{'：' + redact(m['error']) if m.get('error') else ''}")
    for r in result["replies"]:
        out.print(f"回复 {r.get('county')}：{r.get('file')} → {intake_outcome(r.get('outcome'))}，"
                  f"{SENT_ZH.get(r.get('status'), r.get('status'))}{'：' + redact(r['error']) if r.get('error') else ''}")


@app.command()
def check(
    file: Annotated[Path, typer.Argument(metavar="台账文件", help="要预检的台账文件。")],
    county: Annotated[str, typer.Option("--county", help="台账所属县(市)，例如 格尔木市。")],
    home: HomeOpt = None,
    as_of: AsOfOpt = None,
    json_: JsonOpt = False,
    report_dir: Annotated[Path | None, typer.Option("--report-dir", help="问题报告写到哪里，默认文件所在目录。")] = None,
) -> None:
    """预检一份台账：与正式导入相同的校验和问题报告，但不入库、不存档、不计入报送。"""
    import datetime as dt

    from hazardnet.intake.self_check import check_register
    from hazardnet.settings import load_settings, today

    if file.is_dir():
        raise UserError(f"“{file}”是文件夹，不是台账文件：请指定要预检的 .xlsx 文件。")
    if not file.is_file():
        raise UserError(f"找不到文件 {file}。")
    settings = load_settings(_home(home))
    if county not in settings.counties:  # the operator's mistake, not the file's
        raise UserError(f"“{county}”不是已配置的县(市)：{'、'.join(settings.counties)}。")
    day = dt.date.fromisoformat(_as_of(as_of)) if as_of else today(settings)
    result = check_register(settings, file, county, day, report_dir or file.resolve().parent)
    if json_:
        print(json.dumps(result.as_json(), ensure_ascii=False, indent=1))
    else:
        if result.passed:
            out.print(f"[green]预检通过[/]：{result.file_name}，{result.rows} 条隐患记录，{len(result.warnings)} 条提示。")
        else:
            out.print(f"[red]预检未通过[/]：{result.file_name}，{len(result.errors)} 处问题。")
        for f in result.findings:
            where = f"{f.sheet} {f.cell}".strip() or "整个文件"
            out.print(f"  {'问题' if f.level == 'error' else '提示'} {where}{('（' + f.field + '）') if f.field else ''}："
                      f"{f.message}")
        if result.report:
            out.print(f"问题报告：{result.report}")
    sys.exit(0 if result.passed else 1)
