"""Time the consolidated register's workbook write alone (issue 17: the row-height estimate in the fast path).

    .venv/bin/python bench/register_write.py [--rows 90000] [--repeat 3]
    .venv/bin/python bench/register_write.py --store [--rows 30000] [--per-register 300] [--repeat 3]

Builds `--rows` realistic hazard rows (sample_data's texts, the consolidated sheet's columns and derived
values), then times `publish.consolidated.write_sheet_workbook` (constant memory, the fast writer) and
prints the best and median of `--repeat` writes, and how many rows got an explicit height.

`--store` (issue 16: the ingesting process's own work besides the workbook) stores the same rows as registers of
`--per-register` rows into a fresh SQLite store with `Store.record_submission`, reads the sheet back with
`publish.consolidated.sheet_rows`, and prints the CPU seconds of each (best of `--repeat`).
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


def store_and_read(n: int, per_register: int, repeat: int) -> None:
    """CPU seconds of Store.record_submission (all registers) and of sheet_rows, best of `repeat`."""
    import types

    import pandas as pd

    from hazardnet.publish.consolidated import SHEET_COLUMNS, sheet_rows
    from hazardnet.store import Store

    data, _ = rows(n)
    registers = []  # (county, frame as the checker hands it over: object columns, `_row` the sheet row)
    for i in range(0, len(data), per_register):
        chunk = data[i:i + per_register]
        county = f"基准{i // per_register:03d}县"
        frame = pd.DataFrame([r[:len(SHEET_COLUMNS)] for r in chunk], columns=SHEET_COLUMNS, dtype=object)
        frame["county"] = county
        frame["_row"] = range(1, len(chunk) + 1)
        registers.append((county, frame))
    settings = types.SimpleNamespace(counties=[county for county, _ in registers])
    stored, read = [], []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            store = Store(f"sqlite:///{Path(tmp) / 'store.db'}")
            c0 = time.process_time()
            for k, (county, frame) in enumerate(registers):
                store.record_submission(county=county, file_name=f"{county}.xlsx", sha256=f"{k:064d}", as_of=AS_OF,
                                        outcome="accepted", findings=[], kept_at=None, rows=frame)
            stored.append(time.process_time() - c0)
            c0 = time.process_time()
            got, _flags = sheet_rows(store, settings, AS_OF)
            read.append(time.process_time() - c0)
            store.dispose()
    print(f"{len(data):,} rows in {len(registers)} registers: record_submission {min(stored):.2f} CPU-s, "
          f"sheet_rows {min(read):.2f} CPU-s ({len(got):,} rows; best of {repeat})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=None, help="90,000 for the write, 30,000 with --store")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--store", action="store_true", help="time storing the rows and reading the sheet back instead")
    ap.add_argument("--per-register", type=int, default=300)
    args = ap.parse_args()
    if args.store:
        store_and_read(args.rows or 30_000, args.per_register, args.repeat)
        return
    args.rows = args.rows or 90_000
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
