"""What Prefect's temporary server kept of a command's task runs: `hazardnet ingest` of N small county registers
with no PREFECT_API_URL and a fresh PREFECT_HOME, then the task runs' final states read from that PREFECT_HOME's
SQLite database (the server is gone by then; its file stays). Each round is a fresh home, Prefect home and process.

    .venv/bin/python bench/temporary_server_records.py --registers 30 --rounds 3
    # with Prefect's own task-run recorder settings instead of prefect.toml's batches:
    .venv/bin/python bench/temporary_server_records.py --registers 30 --rounds 3 \\
        PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE=1 \\
        PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_READ_BATCH_SIZE=1 \\
        PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL=5

Extra NAME=VALUE arguments go into the command's environment (PREFECT_LOGGING_ROOT_LEVEL=DEBUG puts the wait's
own line, "… recorded all N task runs of this command (waited S s)", into the log, shown at the end of a round)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.test_temporary_server import AS_OF, home_with_registers  # noqa: E402


def one_round(registers: int, extra: dict[str, str]) -> str:
    """One ingest on a fresh temporary server; a line with its exit code, wall time and the task runs' states."""
    tmp = Path(tempfile.mkdtemp(prefix="records-"))
    try:
        home = home_with_registers(tmp / "home", registers)
        prefect_home = tmp / "prefect-home"
        prefect_home.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "HAZARDNET_"))}
        env.update(PREFECT_HOME=str(prefect_home), PYTHONPATH=str(ROOT), **extra)
        started = time.monotonic()
        proc = subprocess.run([str(Path(sys.executable).parent / "hazardnet"), "ingest", "--home", str(home),
                               "--as-of", AS_OF.isoformat(), "--json"], capture_output=True, text=True, cwd=tmp,
                              env=env)
        wall = time.monotonic() - started
        flow_run = json.loads(proc.stdout)["flow_run"] if proc.returncode == 0 else None
        with sqlite3.connect(prefect_home / "prefect.db") as db:
            states = db.execute("SELECT state_type, count(*) FROM task_run WHERE flow_run_id = ? GROUP BY state_type",
                                (flow_run,)).fetchall()
        log_file = home / "logs" / "hazardnet.log"
        log = log_file.read_text(encoding="utf-8") if log_file.exists() else ""
        waited = [line.split(" - ", 1)[1] for line in log.splitlines() if "flows.temporary_server" in line]
        return (f"exit {proc.returncode}, {wall:.1f} s, task runs {dict(states)}, 'Error flushing' "
                f"{log.count('Error flushing')}× in the log{'; ' + waited[-1] if waited else ''}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--registers", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("env", nargs="*", help="NAME=VALUE for the command's environment")
    args = ap.parse_args()
    extra = dict(item.split("=", 1) for item in args.env)
    for r in range(args.rounds):
        print(f"round {r + 1}: {one_round(args.registers, extra)}", flush=True)


if __name__ == "__main__":
    main()
