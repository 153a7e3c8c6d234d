"""The `hazardnet` command: a thin front over the engine and the Prefect flows."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

# The machine is offline by design: Prefect's server must not try to phone home (it logs errors).
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

app = typer.Typer(add_completion=False, no_args_is_help=True, help="用电安全“1+1+1”工作网隐患台账流水线。")
err = Console(stderr=True)
out = Console()

HomeOpt = Annotated[Optional[Path], typer.Option("--home", help="工作目录（含 inbox/ 与 outbox/），默认当前目录或 HAZARDNET_HOME。")]
AsOfOpt = Annotated[Optional[str], typer.Option("--as-of", help="报送基准日 YYYY-MM-DD，默认今天。")]
JsonOpt = Annotated[bool, typer.Option("--json", help="以 JSON 输出结果（供脚本使用）。")]


class UserError(Exception):
    """A mistake the operator can fix; printed as one line, never a traceback."""


def _as_of(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise UserError(f"日期“{value}”格式不正确，请写成 YYYY-MM-DD，例如 2026-11-15。") from None


def _home(home: Path | None) -> str:
    h = home or Path(os.environ.get("HAZARDNET_HOME") or Path.cwd())
    return str(h.resolve())


def print_ingest(result: dict) -> None:
    """Human summary of an ingest run."""
    from rich.table import Table

    names = {"accepted": "[green]已接收[/]", "rejected": "[red]已退回[/]", "duplicate": "[yellow]重复报送[/]"}
    table = Table(title="导入结果")
    for col in ("县(市)", "文件", "结果", "隐患条数", "问题数"):
        table.add_column(col)
    for f in result["files"]:
        errors = sum(1 for x in f["findings"] if x.get("level", "error") == "error")
        table.add_row(f["county"], Path(f["path"]).name, names.get(f["outcome"], f["outcome"]), str(f["rows"]),
                      str(errors))
    if result["files"]:
        out.print(table)
    elif "flow_run" in result and result["flow_run"] is None:
        out.print("收件箱中没有新文件，汇总台账已是最新；未启动流程运行。")
    else:
        out.print("收件箱中没有待导入的台账。")
    for f in result["files"]:
        if f["outcome"] == "rejected":
            out.print(f"退回 {Path(f['path']).name} → 问题报告：{f.get('report')}")
    out.print(f"汇总台账：{result['consolidated']}")


def _nothing_to_ingest(home: str, as_of: str | None) -> dict | None:
    """The result of an ingest run with nothing to do, told without starting one (and without importing
    Prefect or pandas); None when a run is needed. "flow_run": None says no flow run was started."""
    from .inbox_scan import up_to_date_register
    from .settings import load_settings, today

    try:
        settings = load_settings(home)
        register = up_to_date_register(settings, dt.date.fromisoformat(as_of) if as_of else today())
    except Exception:  # noqa: BLE001 - whatever is wrong, the real run meets it too and reports it as a run
        return None
    return None if register is None else {"files": [], "consolidated": str(register), "flow_run": None}


@app.command()
def ingest(
    home: HomeOpt = None,
    as_of: AsOfOpt = None,
    json_: JsonOpt = False,
    always_run: Annotated[bool, typer.Option(
        "--always-run", help="总是启动流程运行，即使收件箱中没有新文件、汇总台账已是最新。")] = False,
) -> None:
    """导入 inbox/<县(市)>/ 中的台账：校验、入库、退回有问题的文件并重写汇总台账。"""
    home_dir, day = _home(home), _as_of(as_of)
    result = None if always_run else _nothing_to_ingest(home_dir, day)
    if result is None:
        from flows.ingest import ingest_flow

        from .progress import progress_bar

        with progress_bar("导入台账", enabled=not json_ and sys.stderr.isatty()):
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
    home: HomeOpt = None,
) -> None:
    """生成空白台账模板（含下拉选项与填写说明），或用 --directory 生成通讯录模板。"""
    from .settings import load_settings
    from .template import write_directory_template, write_register_template

    settings = load_settings(_home(home))
    if directory:
        path = output or Path("通讯录模板.xlsx")
        write_directory_template(path, settings)
    else:
        if not county:
            raise UserError("请用 --county 指定县(市)，例如 --county 格尔木市。")
        if county not in settings.counties:
            raise UserError(f"“{county}”不是已配置的县(市)：{'、'.join(settings.counties)}。")
        path = output or Path(f"{county}隐患台账模板.xlsx")
        write_register_template(path, county, settings)
    out.print(f"已生成模板：{path}")


@app.command()
def demo(
    home: Annotated[Path, typer.Option("--home", help="演示工作目录（将被创建）。")] = Path("demo"),
    as_of: AsOfOpt = None,
) -> None:
    """在演示目录中生成六个县的样例台账与通讯录，并运行整条流水线。"""
    from .demo import run_demo

    run_demo(home.resolve(), _as_of(as_of), out)


def _register_commands() -> None:
    """Commands of other areas live in their own modules (cli_<area>.py) and attach to `app` on import."""
    import importlib
    import pkgutil

    import hazardnet

    for mod in pkgutil.iter_modules(hazardnet.__path__):
        if mod.name.startswith("cli_"):
            importlib.import_module(f"hazardnet.{mod.name}")


_register_commands()


def main() -> None:
    """Entry point: user mistakes and run failures are one clear line on stderr, never a traceback."""
    try:
        app(standalone_mode=False)
    except UserError as exc:
        err.print(f"错误：{exc}")
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        err.print("已中止。")
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # noqa: BLE001 - the last line of defence for a user-facing command
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        from .intake import IntakeError

        reason = str(exc) if isinstance(exc, IntakeError) else f"{type(exc).__name__}: {exc}"
        err.print(f"运行失败：{reason}")
        sys.exit(1)


if __name__ == "__main__":
    # Run the imported module's main: the cli_* modules attach their commands to `hazardnet.cli.app`,
    # which is not this __main__ copy of the module.
    from hazardnet.cli import main as _main

    _main()
