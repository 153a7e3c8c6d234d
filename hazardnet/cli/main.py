"""The `hazardnet` command: a thin front over the engine and the Prefect flows.

Each area's commands live in a module of their own and attach to the shared typer app (`cli.app`) when
imported here.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

from hazardnet.runtime import collect_young_less_often

collect_young_less_often()  # before typer, Prefect, pandas … are imported (see runtime)

import typer  # noqa: E402

from hazardnet.cli import intake_commands  # noqa: F401 - ingest, template
from hazardnet.cli.app import AsOfOpt, UserError, _as_of, app, err, out


@app.command()
def demo(
    home: Annotated[Path, typer.Option("--home", help="演示工作目录（将被创建）。")] = Path("demo"),
    as_of: AsOfOpt = None,
) -> None:
    """在演示目录中生成六个县的样例台账与通讯录，并运行整条流水线。"""
    from hazardnet.cli.demo import run_demo

    if home.exists() and not home.is_dir():
        raise UserError(f"演示目录“{home}”是一个文件：请用 --home 指定一个新的文件夹。")
    run_demo(home.resolve(), _as_of(as_of), out)


# the other areas' commands, listed in `hazardnet --help` after these
from hazardnet.cli import customer_commands, distribution_commands, operations_commands, quarterly_commands  # noqa: E402,F401
from hazardnet.cli import notice_commands  # noqa: E402,F401 - notices, hazard
from hazardnet.cli import mail_commands  # noqa: E402,F401 - mail-intake, check
from hazardnet.cli import server_commands  # noqa: E402,F401 - hazardnet server


@app.callback()
def _options(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="在控制台显示 Prefect 的运行日志（默认只写入日志文件和界面）。")] = False,
) -> None:
    """用电安全“1+1+1”工作网隐患台账流水线。"""
    if verbose:
        from hazardnet.cli.logs import show_prefect_logs

        show_prefect_logs()


def main() -> None:
    """Entry point: user mistakes and run failures are one clear line on stderr, never a traceback."""
    from hazardnet.cli.logs import take_verbose_flag
    from hazardnet.cli.server_commands import client_credential_from_file

    args = take_verbose_flag(sys.argv[1:])  # `--verbose` before or after the command

    def fail(label: str, message: str, code: int) -> None:
        """One line on stderr; with --json also the error as JSON on stdout, so a script reads a result."""
        err.print(f"{label}：{message}", soft_wrap=True)
        if "--json" in args:
            import json

            print(json.dumps({"error": message, "exit_code": code}, ensure_ascii=False))
        sys.exit(code)

    try:
        client_credential_from_file()
        app(args=args, prog_name="hazardnet", standalone_mode=False)
    except UserError as exc:
        fail("错误", str(exc), 2)
    except (typer.Abort, KeyboardInterrupt):
        err.print("已中止。")
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # noqa: BLE001 - the last line of defence for a user-facing command
        from hazardnet.cli.usage import CLICK_ERRORS, is_no_args_help, usage_message

        if is_no_args_help(exc):
            exc.show()  # `hazardnet` alone: the list of commands
            sys.exit(0)
        if isinstance(exc, CLICK_ERRORS):
            fail("错误", usage_message(exc), 2)
        from hazardnet.cli.problems import in_chain, file_problem, server_problem
        from hazardnet.runtime import sentence_for_person
        from hazardnet.intake.transaction import IntakeError
        from hazardnet.settings import SettingsError

        unusable = in_chain(exc, SettingsError)
        if unusable is not None:  # hazardnet.toml or a HAZARDNET_ variable: the operator's to fix
            fail("错误", str(unusable), 2)
        # a sentence for the person (a flow's Chinese ValueError …) alone, as the run's message in the Prefect UI
        reason = str(exc) if isinstance(exc, IntakeError) else (server_problem(exc) or file_problem(exc)
                                                                 or sentence_for_person(exc)
                                                                 or f"{type(exc).__name__}: {exc}")
        fail("运行失败", reason, 1)


if __name__ == "__main__":
    main()
