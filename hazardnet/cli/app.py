"""The `hazardnet` command's shared parts: the typer app, common options, consoles and the user-error type."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from hazardnet.cli.help_zh import ChineseTyper
from hazardnet.cli.prefect_env import use_project_prefect_settings

# The machine is offline by design: Prefect's server must not try to phone home (it logs errors).
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")  # nor the client (Prefect's SDK telemetry)
# Prefect's logging configuration with mobiles and email addresses masked in every handler (flows/logging.yml)
os.environ.setdefault("PREFECT_LOGGING_SETTINGS_PATH", str(Path(__file__).resolve().parents[2] / "flows" / "logging.yml"))
# prefect.toml's settings (the temporary server's start-up wait, the task-run recorder's batches) from any folder
use_project_prefect_settings()
# a command names its own log file to the processes it starts (cli.logs), not its parent's (flows.console)
os.environ.pop("HAZARDNET_PREFECT_LOG_FILE", None)

app = ChineseTyper(add_completion=False, no_args_is_help=True, help="用电安全“1+1+1”工作网隐患台账流水线。")
err = Console(stderr=True)
out = Console()

HomeOpt = Annotated[Optional[Path], typer.Option("--home", help="工作目录（含 inbox/ 与 outbox/），默认当前目录或 HAZARDNET_HOME。")]
AsOfOpt = Annotated[Optional[str], typer.Option("--as-of", help="报送基准日 YYYY-MM-DD，默认今天。")]
JsonOpt = Annotated[bool, typer.Option("--json", help="以 JSON 输出结果（供脚本使用）。")]


class UserError(Exception):
    """A mistake the operator can fix; printed as one line, never a traceback."""


def _output_xlsx(path: Path | None) -> Path | None:
    """An -o/--output workbook path the operator gave: a file name ending in .xlsx, not a folder."""
    if path is None:
        return None
    if path.is_dir():
        raise UserError(f"输出路径“{path}”是文件夹：请写上文件名，例如 {path / '输出.xlsx'}。")
    if path.suffix.lower() != ".xlsx":
        raise UserError(f"输出文件“{path}”应以 .xlsx 结尾（写出的是 Excel 工作簿）。")
    return path


def _as_of(value: str | None) -> str | None:
    if value is None:
        return None
    from hazardnet.settings import parse_date

    try:
        return parse_date(value).isoformat()
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _home(home: Path | None, *, create: bool = False) -> str:
    """The working folder of a command. Only the intake commands (ingest, mail-intake, serve) set a new one up
    (`create`: the folder is made here, so that their flows, which refuse a home that is not there, find it);
    every other command needs an existing one (a mistyped --home would otherwise start an empty store there, or
    fail deep inside with a database error)."""
    from hazardnet.settings import home_problem

    h = home or Path(os.environ.get("HAZARDNET_HOME") or Path.cwd())
    if create and not h.exists():
        try:
            h.mkdir(parents=True, exist_ok=True)  # two intake commands may set the same new home up at once
        except OSError as exc:
            from hazardnet.cli.problems import file_problem

            raise UserError(file_problem(exc) or f"无法创建工作目录“{h}”。") from None
    problem = home_problem(h)
    if problem:
        hint = "（或先运行 hazardnet demo 生成演示目录）" if not h.exists() else ""
        raise UserError(f"{problem}请用 --home 指定含 inbox/ 的工作目录{hint}。")
    return str(h.resolve())
