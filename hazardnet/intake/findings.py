"""A finding: one problem of a submitted workbook, pointed at its sheet and cell, in Chinese."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from xlsxwriter.utility import xl_col_to_name  # (openpyxl would cost 50 ms of import for this)

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """What is wrong, where. `cell` is an Excel reference such as "F7" ("" when the whole file is meant)."""

    sheet: str
    cell: str
    field: str
    message: str
    value: str = ""
    level: str = ERROR
    row: int = 0  # 1-based Excel row (0 = whole file), for sorting and painting
    col: int = 0  # 1-based Excel column (0 = whole row/file)

    def as_json(self) -> dict:
        """The public JSON shape: sheet, cell, field, message (plus value and level). Written out: `asdict` (a deep
        copy of each field) took ten times as long, for every finding of every file, twice per run."""
        return {"sheet": self.sheet, "cell": self.cell, "field": self.field, "message": self.message,
                "value": self.value, "level": self.level}


def show_value(v: object) -> str:
    """A cell's value as a finding quotes it: a date as 2026-03-05, a whole number without ".0", blank as ""."""
    if v is None:
        return ""
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def cell_ref(row0: int, col0: int) -> str:
    """Excel reference of a 0-based (row, column)."""
    return f"{xl_col_to_name(col0)}{row0 + 1}"


def file_finding(message: str, *, sheet: str = "", level: str = ERROR) -> Finding:
    """A finding about the whole file (unreadable, wrong folder, no register sheet…)."""
    return Finding(sheet=sheet, cell="", field="", message=message, level=level)


def has_errors(findings: list[Finding]) -> bool:
    return any(f.level == ERROR for f in findings)
