"""Time the consolidated register's workbook write alone (issue 17: the row-height estimate in the fast path).

    .venv/bin/python bench/register_write.py [--rows 90000] [--repeat 3]

Builds `--rows` realistic hazard rows (sample_data's texts, the consolidated sheet's columns and derived
values), then times `publish.consolidated.write_sheet_workbook` (constant memory, the fast writer) and
prints the best and median of `--repeat` writes, and how many rows got an explicit height.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

if "PYTHONPATH" not in os.environ:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # set PYTHONPATH to time another checkout

AS_OF = dt.date(2026, 11, 15)


def rows(n: int) -> tuple[list[list], list[bool]]:
    from hazardnet.publish.consolidated import SHEET_COLUMNS
    from hazardnet.cli.sample_data import sample_hazards

    out, overdue = [], []
    counties = ["格尔木市", "德令哈市", "茫崖市", "乌兰县", "都兰县", "天峻县"]
    seed = 0
    while len(out) < n:
        for h in sample_hazards(AS_OF, counties, seed=seed, since=AS_OF - dt.timedelta(days=3000)):
            d = h.as_dict()
            late = h.is_overdue(AS_OF)
            row = [d[c] for c in SHEET_COLUMNS]
            row += ["是" if late else "否", (AS_OF - h.deadline).days if late else None,
                    (AS_OF - h.found_date).days, "是"]
            out.append(row)
            overdue.append(late)
            if len(out) == n:
                break
        seed += 1
    return out, overdue


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=90_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    from hazardnet.publish.consolidated import write_sheet_workbook

    data, overdue = rows(args.rows)
    times, cpu = [], []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "register.xlsx"
        for _ in range(args.repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            write_sheet_workbook(path, data, overdue, title="基准测试")
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        with zipfile.ZipFile(path) as z:
            sheet = z.read("xl/worksheets/sheet1.xml").decode()
        tall = sheet.count('customHeight="1"')
    print(f"{args.rows:,} rows: best {min(times):.2f} s, median {statistics.median(times):.2f} s "
          f"over {args.repeat} writes (CPU of this process: best {min(cpu):.2f} s); rows with an explicit height: {tall:,}")


if __name__ == "__main__":
    main()
