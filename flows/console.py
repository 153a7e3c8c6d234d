"""Where the `console` handler of flows/logging.yml writes: the terminal, or the home's log file.

A `hazardnet` command sends its own process's Prefect log lines to <home>/logs/hazardnet.log
(hazardnet.cli.logs.prefect_logs_to_file). Without PREFECT_API_URL, Prefect starts its temporary server as a
child process (`SubprocessASGIServer`: uvicorn, with this logging.yml) that writes to the same terminal. That
server logs in English, with tracebacks, when it is stopped at the end of the command: on a busy machine its
task-run recorder is still writing the last task runs' events when the command exits, and cancelling that write
logs `Error flushing N events (N to retry, 0 dropped)` with an `asyncio.CancelledError` traceback (the events are
retried in its final flush; since `flows.temporary_server` waits for the records, only after that wait timed out). The command names its log file to its children (`HAZARDNET_PREFECT_LOG_FILE`), so
that server's lines go to the same file as the command's own, and the console keeps only the command's Chinese
lines. Nothing is dropped: a real failure of the server still fails the flow run, which the command reports in
one Chinese line, and the server's own account of it is in the log file."""

from __future__ import annotations

import logging
import os
from pathlib import Path

# set by a `hazardnet` command for the processes it starts (Prefect's temporary server); see the docstring
LOG_FILE_ENV = "HAZARDNET_PREFECT_LOG_FILE"
# one line format for every writer of the log file: the command's process and the temporary server's
LOG_FORMAT = "%(asctime)s | %(levelname)-7s | %(name)s - %(message)s"


class HomeLogFile(logging.FileHandler):
    """<home>/logs/hazardnet.log, appended to (by the command and by its temporary server), in `LOG_FORMAT`."""

    def __init__(self, path: str | Path, delay: bool = True):
        # delay: opened at the first record (a temporary server that logs nothing leaves the file alone)
        super().__init__(path, encoding="utf-8", delay=delay)
        super().setFormatter(logging.Formatter(LOG_FORMAT))

    def setFormatter(self, fmt: logging.Formatter | None) -> None:
        """Keep `LOG_FORMAT` (dated lines): logging.yml gives the console handler Prefect's time-only format."""


def console_handler(**kwargs) -> logging.Handler:
    """The `console` handler of flows/logging.yml: Prefect's console handler (`kwargs`: its stream and styles),
    or `HomeLogFile` in a process started by a `hazardnet` command that sends Prefect's lines to its home's log
    file (`LOG_FILE_ENV` names a file in an existing folder)."""
    path = os.environ.get(LOG_FILE_ENV)
    if path and Path(path).parent.is_dir():
        return HomeLogFile(path)
    from prefect.logging.handlers import PrefectConsoleHandler

    return PrefectConsoleHandler(**kwargs)
