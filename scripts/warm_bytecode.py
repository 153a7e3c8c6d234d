"""Set-up: write the bytecode of what hazardnet's commands import, by importing it (run by run.sh).

Every hazardnet command imports some 1,700 modules (Prefect, pydantic, pandas, SQLAlchemy …). Without their
bytecode (.pyc) each process compiles them again from source: importing Prefect alone then costs 4.8 instead
of 2.2 CPU seconds. pip writes bytecode for every file it installs (about 30 CPU seconds for this lock,
most of it for modules never imported: test suites, 400 Apprise plugins nobody loads, …); uv writes none.
So set-up imports what the monthly ingest imports — two groups, run side by side on two cores — and Python
writes their bytecode as it goes. The venv's `hazardnet_bytecode.pth` (written by run.sh) lets Python write
bytecode even where PYTHONDONTWRITEBYTECODE is set, so any other module (the other flows' writers, the
Prefect server) is compiled once, the first time a command needs it, and never again.

    .venv/bin/python scripts/warm_bytecode.py cli        # the command and an ingest flow run
    .venv/bin/python scripts/warm_bytecode.py workers    # the intake's worker processes
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Two groups of about equal cost, imported side by side: what the `hazardnet` command and an ingest flow
# run import, and what the intake's worker processes import (the forkserver's preload, see intake/reader.py).
GROUPS = {
    "cli": ["hazardnet.cli.main", "hazardnet.cli.intake_commands", "hazardnet.cli.progress", "flows.ingest",
            # what a flow run imports beyond the flow's own modules: the engines, run telemetry, the run graph
            "prefect.flow_engine", "prefect.task_engine", "prefect.engine", "prefect.utilities.visualization",
            "prefect.concurrency.sync"],
    "workers": ["hazardnet.intake.reader", "hazardnet.intake.parser_child", "hazardnet.intake.photos",
                "hazardnet.intake.check_pool", "hazardnet.intake.validation", "python_calamine", "PIL.Image"],
}


def warm(group: str) -> list[str]:
    """Import the group's modules; returns those that could not be imported (reported, not fatal)."""
    sys.dont_write_bytecode = False
    failed = []
    for name in GROUPS[group]:
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - a module that cannot be imported here is only not warmed
            failed.append(f"{name}: {type(exc).__name__}: {exc}")
    return failed


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    problems = [line for group in (sys.argv[1:] or GROUPS) for line in warm(group)]
    for line in problems:
        print(f"warm_bytecode: not imported: {line}", file=sys.stderr)
