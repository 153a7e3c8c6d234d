"""CPU of Prefect's task runs alone: a flow of N empty task runs through `flows.runner.PrefectRunner.each` (as the
ingest runs one per workbook), each logging one line as the ingest does. Prints the client's CPU and wall time, and
with --server-pid the CPU the server (and its children) spent meanwhile. Run against a server, e.g.:

    PREFECT_HOME=/tmp/ps/home .venv/bin/prefect server start --port 4300 &
    PREFECT_API_URL=http://127.0.0.1:4300/api .venv/bin/python bench/task_runs.py --tasks 100 --rounds 4 \\
        --server-pid $(pgrep -f "server start --port 4300" | head -1) --compare-finished-lines

--compare-finished-lines alternates runs with and without flows/quiet_logs.py's filter (Prefect's "Finished in
state Completed()" line per task run), each run in a fresh process."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def tree_cpu(pid: int) -> float:
    """CPU seconds of `pid` and its descendants (from /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    own: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry))
            own[int(entry)] = (int(fields[11]) + int(fields[12])) / tick

    def total(p: int) -> float:
        return own.get(p, 0.0) + sum(total(c) for c in children.get(p, []))
    return total(pid)


def child(tasks: int, finished_lines: bool) -> None:
    os.environ.setdefault("PREFECT_LOGGING_SETTINGS_PATH", str(ROOT / "flows" / "logging.yml"))
    sys.path.insert(0, str(ROOT))
    import logging

    import flows  # noqa: F401 - the project's patches of Prefect, as every command has them
    from prefect import flow

    from flows.quiet_logs import QuietCompletions
    from flows.runner import PrefectRunner

    @flow(name="bench-task-runs")
    def task_runs() -> list:
        runner = PrefectRunner()

        def work(i: int) -> int:
            runner.info("测试%03d县 文件%d.xlsx: accepted, 300 rows, 0 findings", i, i)
            return i
        return runner.each("导入台账", work, list(range(tasks)), label=lambda i: f"导入 测试{i:03d}县：文件{i}.xlsx")

    from prefect.logging.configuration import ensure_logging_setup

    ensure_logging_setup()
    if finished_lines:
        logger = logging.getLogger("prefect.task_runs")
        for f in [f for f in logger.filters if isinstance(f, QuietCompletions)]:
            logger.removeFilter(f)
    cpu, wall = time.process_time(), time.perf_counter()
    task_runs()
    print(f"{time.process_time() - cpu:.3f} {time.perf_counter() - wall:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--server-pid", type=int)
    ap.add_argument("--compare-finished-lines", action="store_true")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(int(args.child[0]), args.child[1] == "1")
        return
    variants = [("quiet", "0")] + ([("finished lines", "1")] if args.compare_finished_lines else [])
    print(f"{'variant':<16} {'flow CPU s':>10} {'flow wall s':>11} {'server CPU s':>12}")
    for _ in range(args.rounds):
        for name, flag in variants:
            before = tree_cpu(args.server_pid) if args.server_pid else None
            out = subprocess.run([sys.executable, __file__, "--child", str(args.tasks), flag], capture_output=True,
                                 text=True, check=True).stdout.split()
            time.sleep(2.0)  # the server records the last batch of events (prefect.toml: at least once a second)
            server = f"{tree_cpu(args.server_pid) - before:12.2f}" if before is not None else f"{'-':>12}"
            print(f"{name:<16} {float(out[-2]):10.2f} {float(out[-1]):11.2f} {server}")


if __name__ == "__main__":
    main()
