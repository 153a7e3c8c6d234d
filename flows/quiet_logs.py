"""The flow run's log without a line per completed task run.

Prefect logs "Finished in state Completed()" for every task run that completes. An ingest of 300 registers is 300
task runs: 300 such lines among the ones that say something (each file's county, outcome, rows and findings), each
one formatted, sent to the server and stored there — the task run's own state already says it. `QuietCompletions`
(named for the `prefect.task_runs` logger in flows/logging.yml) drops exactly those records; a task run that
failed, crashed or was cancelled keeps its "Finished in state …" line, as does the flow run."""

from __future__ import annotations

import logging

COMPLETED = "Finished in state Completed("


class QuietCompletions(logging.Filter):
    """Drop Prefect's "Finished in state Completed()" record of a task run (INFO); keep every other record."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.msg
        return not (record.levelno == logging.INFO and isinstance(msg, str) and msg.startswith(COMPLETED))
