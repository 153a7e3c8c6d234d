"""The rejection report a county clerk receives: every problem listed, and pointed at in a copy of the sheet."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hazardnet.intake.findings import ERROR, Finding
from hazardnet.intake.reader import SheetGrid
from hazardnet.xlsx.style import Formats, atomic_workbook, setup_print, write_cell

ISSUE_SHEET = "问题清单"
ISSUE_HEADERS = ["序号", "工作表", "单元格", "字段", "单元格内容", "问题说明", "类型"]
MAX_COPY_ROWS = 65_536  # a copy beyond this would not help a clerk; the list still names every cell


def _sheet_title(name: str, taken: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\]", "_", name).strip("'")[:28] or "台账"
    title, n = base, 2
    while title in taken:
        title, n = f"{base[:26]}_{n}", n + 1
    taken.add(title)
    return title


def write_error_report(path: Path, *, file_name: str, county: str, findings: list[Finding],
                       sheet: SheetGrid | None, timezone: str) -> Path:
    """Write the report: sheet 问题清单 (sheet, cell, field, value, message) and, when the register
    could be read, a copy of its sheet with every failing cell filled red and carrying a comment."""
    errors = [f for f in findings if f.level == ERROR]
    with atomic_workbook(path) as wb:
        fmts = Formats(wb)
        taken = {ISSUE_SHEET}
        ws = wb.add_worksheet(ISSUE_SHEET)
        ws.merge_range(0, 0, 0, len(ISSUE_HEADERS) - 1,
                       f"《{file_name}》未通过校验：共 {len(errors)} 处问题，请逐条修改后重新报送到 inbox/{county}/",
                       fmts.title)
        ws.set_row(0, 28)
        ws.write_string(1, 0, f"生成时间：{dt.datetime.now(ZoneInfo(timezone)):%Y-%m-%d %H:%M}　　原文件已原样保存在 rejected 文件夹中。",
                        fmts.subtitle)
        for c, h in enumerate(ISSUE_HEADERS):
            ws.write_string(2, c, h, fmts.header)
        for i, f in enumerate(findings, start=1):
            r = 2 + i
            row = [i, f.sheet, f.cell, f.field, f.value, f.message, "错误" if f.level == ERROR else "提示"]
            for c, v in enumerate(row):
                write_cell(ws, r, c, v, fmts.wrap if c in (4, 5) else fmts.text)
        for c, w in enumerate([6, 14, 8, 14, 24, 60, 6]):
            ws.set_column(c, c, w)
        ws.freeze_panes(3, 0)
        ws.autofilter(2, 0, 2 + max(len(findings), 1), len(ISSUE_HEADERS) - 1)
        setup_print(ws, header_rows=(2, 2), page_header=f"{county} 台账校验问题清单")
        ws.activate()

        if sheet is not None:
            copy = wb.add_worksheet(_sheet_title(sheet.name, taken))
            marks: dict[tuple[int, int], list[str]] = {}
            for f in findings:
                if f.row and f.col:
                    marks.setdefault((f.row - 1, f.col - 1), []).append(f.message)
            width = max((len(r) for r in sheet.rows[:MAX_COPY_ROWS]), default=0)
            for r, cells in enumerate(sheet.rows[:MAX_COPY_ROWS]):
                for c in range(max(len(cells), 0)):
                    v: Any = cells[c]
                    bad = (r, c) in marks
                    fmt = fmts.bad if bad else (fmts.date if isinstance(v, (dt.date, dt.datetime)) else fmts.text)
                    if isinstance(v, (dt.time, dt.timedelta)):
                        v = str(v)
                    write_cell(copy, r, c, v, fmt, date_fmt=fmts.bad_date if bad else fmts.date)
            for (r, c), msgs in marks.items():
                if r < MAX_COPY_ROWS:
                    if c >= width or r >= len(sheet.rows) or c >= len(sheet.rows[r]):
                        copy.write_blank(r, c, None, fmts.bad)
                    copy.write_comment(r, c, "\n".join(msgs), {"author": "台账校验", "x_scale": 2, "y_scale": 1.5})
            for c in range(width):
                copy.set_column(c, c, 14)
            setup_print(copy, header_rows=None, page_header=f"{county} 台账（问题单元格已标红）")
    return path
