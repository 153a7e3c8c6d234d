"""Where Prefect's log lines go when a person runs a command: to the Prefect UI (as always) and to a log file
under the home, not between the Chinese progress display and tables on the console. `--verbose` keeps them
on the console as well."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

LOG_DIR = "logs"
LOG_FILE = "hazardnet.log"
_state = {"verbose": False, "routed": None}


def take_verbose_flag(args: list[str]) -> list[str]:
    """`--verbose` anywhere in the arguments (before or after the command) moved to the front, where the
    app's callback takes it."""
    if "--verbose" not in args:
        return args
    return ["--verbose", *[a for a in args if a != "--verbose"]]


def show_prefect_logs() -> None:
    """`--verbose`: Prefect's log lines stay on the console too."""
    _state["verbose"] = True


def log_path(home: str | Path) -> Path:
    """The log file of a home: <home>/logs/hazardnet.log."""
    return Path(home) / LOG_DIR / LOG_FILE


def prefect_logs_to_file(home: str | Path, console=None) -> Path | None:
    """Send Prefect's console log lines of this process to <home>/logs/hazardnet.log instead (the API handler,
    which feeds the UI, is left as it is), and those of the processes it starts from now on: Prefect's temporary
    server, when no PREFECT_API_URL is set (flows.console); the file's path is printed once. Nothing changes with
    --verbose. Returns the log file's path (None with --verbose)."""
    from prefect.logging.configuration import ensure_logging_setup
    from prefect.logging.handlers import PrefectConsoleHandler

    from flows.console import LOG_FILE_ENV, HomeLogFile
    from flows.redaction import RedactingFilter

    if _state["verbose"]:
        return None
    path = log_path(home).resolve()
    if _state["routed"] == path:
        return path
    ensure_logging_setup()
    path.parent.mkdir(parents=True, exist_ok=True)
    to_file = HomeLogFile(path, delay=False)  # the file whose path is printed exists
    to_file.addFilter(RedactingFilter())
    loggers = [logging.getLogger()] + [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]
    for logger in loggers:
        for handler in list(getattr(logger, "handlers", [])):
            if isinstance(handler, (PrefectConsoleHandler, HomeLogFile)) or (
                    _state["routed"] is not None and getattr(handler, "_hazardnet_log", False)):
                logger.removeHandler(handler)
                logger.addHandler(to_file)
    to_file._hazardnet_log = True  # type: ignore[attr-defined]
    _state["routed"] = path
    # the temporary server, started by the first flow run after this, writes its lines (a traceback when it is
    # stopped on a busy machine among them) to the same file, not between this command's Chinese lines
    os.environ[LOG_FILE_ENV] = str(path)
    if console is None:
        from rich.console import Console

        console = Console(stderr=True)
    console.print(f"[dim]运行日志：{path}（加 --verbose 在控制台显示）[/]", soft_wrap=True)
    sys.stderr.flush()
    return path
