"""`hazardnet ingest` and `hazardnet template`: the county registers' side (a thin front over flows.ingest)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from hazardnet.cli.app import AsOfOpt, HomeOpt, JsonOpt, UserError, _as_of, _home, _output_xlsx, app, out


def print_ingest(result: dict) -> None:
    """Human summary of an ingest run."""
    from rich.table import Table

    from hazardnet.delivery.labels import INTAKE_OUTCOME_ZH

    colours = {"accepted": "green", "rejected": "red", "duplicate": "yellow", "commitments": "green"}
    names = {k: f"[{colours[k]}]{words}[/]" for k, words in INTAKE_OUTCOME_ZH.items()}
    table = Table(title="导入结果")
    for col in ("县(市)", "文件", "结果", "隐患条数", "问题数"):
        table.add_column(col)
    for f in result["files"]:
        errors = sum(1 for x in f["findings"] if x.get("level", "error") == "error")
        kind = {"customers": "（客户档案，条数为客户数）", "drills": "（演练记录，条数为演练数）",
                "commitments": "" if f["outcome"] == "commitments" else "（整改承诺表）"}.get(f.get("kind"), "")
        table.add_row(f["county"], Path(f["path"]).name + kind, names.get(f["outcome"], f["outcome"]), str(f["rows"]),
                      str(errors))
    waiting = result.get("waiting") or []
    if result["files"]:
        out.print(table)
    elif waiting:
        out.print("本次没有可导入的台账。")
    elif "flow_run" in result and result["flow_run"] is None:
        out.print("收件箱中没有新文件，汇总台账已是最新；未启动流程运行。")
    else:
        out.print("收件箱中没有待导入的台账。")
    for f in result["files"]:
        if f["outcome"] == "rejected":
            out.print(f"退回 {Path(f['path']).name} → 问题报告：{f.get('report')}")
    for w in waiting:
        out.print(f"[yellow]仍在复制，留待下次导入[/]：{w['county']}/{w['file']}")
    out.print(f"汇总台账：{result['consolidated']}")


def _nothing_to_ingest(home: str, as_of: str | None) -> dict | None:
    """The result of an ingest run with nothing to do, told without starting one (and without importing
    Prefect or pandas); None when a run is needed. "flow_run": None says no flow run was started."""
    from hazardnet.publish.fingerprint import up_to_date_register
    from hazardnet.settings import load_settings, today

    try:
        settings = load_settings(home)
        register = up_to_date_register(settings, dt.date.fromisoformat(as_of) if as_of else today(settings))
    except Exception:  # noqa: BLE001 - whatever is wrong, the real run meets it too and reports it as a run
        return None
    return None if register is None else {"files": [], "consolidated": str(register), "waiting": [], "flow_run": None}


def _start_parsers_if_needed(home: str) -> None:
    """Start the workbook parsers' server when the inbox holds files to parse (an empty forced run pays nothing)."""
    from hazardnet.intake.inbox import scan_inbox
    from hazardnet.intake.reader import start_parser_server
    from hazardnet.settings import load_settings

    try:
        waiting = scan_inbox(load_settings(home), settled_only=False)
    except Exception:  # noqa: BLE001 - the run itself meets the problem and reports it
        return
    if waiting:
        start_parser_server()


@app.command()
def ingest(
    home: HomeOpt = None,
    as_of: AsOfOpt = None,
    json_: JsonOpt = False,
    always_run: Annotated[bool, typer.Option(
        "--always-run", help="总是启动流程运行，即使收件箱中没有新文件、汇总台账已是最新。")] = False,
) -> None:
    """导入 inbox/<县(市)>/ 中的台账：校验、入库、退回有问题的文件并重写汇总台账。"""
    home_dir, day = _home(home, create=True), _as_of(as_of)
    result = None if always_run else _nothing_to_ingest(home_dir, day)
    if result is None:
        _start_parsers_if_needed(home_dir)  # before Prefect's import: both cores busy from the start
        from flows.ingest import ingest_flow
        from hazardnet.cli.progress import flow_console
        from hazardnet.runtime import leave_imports_to_rest

        leave_imports_to_rest()

        with flow_console(home_dir, "导入台账", quiet=json_):
            state = ingest_flow(home=home_dir, as_of=day, return_state=True)
        result = {**state.result(), "flow_run": str(state.state_details.flow_run_id)}  # raises what the run raised
    if json_:
        print(json.dumps(result, ensure_ascii=False, indent=1))
    else:
        print_ingest(result)


@app.command()
def template(
    county: Annotated[Optional[str], typer.Option("--county", help="县(市)名称，例如 格尔木市。")] = None,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="输出文件路径。")] = None,
    directory: Annotated[bool, typer.Option("--directory", help="生成通讯录模板而不是台账模板。")] = False,
    customers: Annotated[bool, typer.Option("--customers", help="生成重要客户档案（一户一档）模板。")] = False,
    drills: Annotated[bool, typer.Option("--drills", help="生成联合应急演练记录模板。")] = False,
    home: HomeOpt = None,
) -> None:
    """生成空白台账模板（含下拉选项与填写说明），或用 --directory 生成通讯录模板、--customers 生成客户档案模板、
    --drills 生成联合应急演练记录模板。"""
    from hazardnet.publish.template import write_directory_template, write_register_template
    from hazardnet.settings import load_settings

    if directory + customers + drills > 1:
        raise UserError("--directory、--customers、--drills 一次只能选一个。")
    settings = load_settings(_home(home))
    output = _output_xlsx(output)
    if directory:
        path = output or Path("通讯录模板.xlsx")
        write_directory_template(path, settings)
    else:
        if not county:
            raise UserError("请用 --county 指定县(市)，例如 --county 格尔木市。")
        if county not in settings.counties:
            raise UserError(f"“{county}”不是已配置的县(市)：{'、'.join(settings.counties)}。")
        if customers or drills:
            from hazardnet.publish.record_templates import write_record_template

            kind = "customers" if customers else "drills"
            path = output or Path(f"{county}{'客户档案' if customers else '联合应急演练记录'}模板.xlsx")
            write_record_template(path, kind, county, settings)
        else:
            path = output or Path(f"{county}隐患台账模板.xlsx")
            write_register_template(path, county, settings)
    out.print(f"已生成模板：{path}")
