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

    run_demo(home.resolve(), _as_of(as_of), out)


# the other areas' commands, listed in `hazardnet --help` after these
from hazardnet.cli import (  # noqa: E402,F401
    customer_commands,
    distribution_commands,
    operations_commands,
    quarterly_commands,
)


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
        from hazardnet.intake.transaction import IntakeError

        reason = str(exc) if isinstance(exc, IntakeError) else f"{type(exc).__name__}: {exc}"
        err.print(f"运行失败：{reason}")
        sys.exit(1)


if __name__ == "__main__":
    main()
