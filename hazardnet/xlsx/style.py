"""Shared xlsxwriter conventions for every workbook people open in Excel or WPS and print.

One place for fonts, header style, widths, print set-up and safe cell writing, so the consolidated
register, bulletins, quarterly summaries and rejection reports look and behave alike.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from hazardnet.failpoints import checkpoint
from hazardnet.xlsx.parallel_zip import ParallelZipWorkbook
from hazardnet.xlsx.row_height import TableRowHeights, fit_row_heights, fit_workbook

FONT = "宋体"
HEADER_HEIGHT = 30  # points: a table's header row, at least
DATE_FORMAT = "yyyy-mm-dd"
# xlsxwriter writes these options so that no string ever becomes a formula or a hyperlink.
WORKBOOK_OPTIONS = {
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
    "nan_inf_to_errors": True,
}


class Formats:
    """The handful of cell formats every workbook uses, created once per workbook."""

    def __init__(self, wb: Workbook):
        base = {"font_name": FONT, "font_size": 10, "valign": "vcenter", "border": 1}
        self.title = wb.add_format({"font_name": FONT, "font_size": 14, "bold": True, "align": "center",
                                    "valign": "vcenter"})
        self.subtitle = wb.add_format({"font_name": FONT, "font_size": 10, "align": "left", "valign": "vcenter"})
        self.header = wb.add_format({**base, "bold": True, "bg_color": "#D9E1F2", "align": "center",
                                     "text_wrap": True})
        self.text = wb.add_format({**base})
        self.wrap = wb.add_format({**base, "text_wrap": True})
        self.center = wb.add_format({**base, "align": "center"})
        self.date = wb.add_format({**base, "num_format": DATE_FORMAT, "align": "center"})
        self.number = wb.add_format({**base, "num_format": "0.00"})
        self.integer = wb.add_format({**base, "num_format": "0", "align": "center"})
        self.percent = wb.add_format({**base, "num_format": "0.0%", "align": "center"})
        self.alert = wb.add_format({**base, "bg_color": "#FFC7CE", "font_color": "#9C0006", "text_wrap": True})
        self.alert_date = wb.add_format({**base, "bg_color": "#FFC7CE", "font_color": "#9C0006",
                                         "num_format": DATE_FORMAT, "align": "center"})
        self.bad = wb.add_format({**base, "bg_color": "#FF0000", "font_color": "#FFFFFF"})
        self.bad_date = wb.add_format({**base, "bg_color": "#FF0000", "font_color": "#FFFFFF",
                                       "num_format": DATE_FORMAT})
        self.total = wb.add_format({**base, "bold": True, "bg_color": "#F2F2F2"})
        self.total_int = wb.add_format({**base, "bold": True, "bg_color": "#F2F2F2", "num_format": "0",
                                        "align": "center"})


@contextmanager
def atomic_workbook(path: Path, *, constant_memory: bool = False):
    """Yield an xlsxwriter Workbook that appears at `path` only when complete (temp file + rename),
    so a crash never leaves a truncated workbook behind.

    Everything temporary (the workbook and xlsxwriter's own scratch files) lives in a hidden
    `.tmp-*` folder next to `path`, so what a killed process leaves is never taken for output;
    such folders older than a day are swept on the next write."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _sweep_stale_temp(path.parent)
    work = Path(tempfile.mkdtemp(prefix=".tmp-", dir=path.parent))
    tmp = work / "book.xlsx"
    # big sheets are deflated on every core (see parallel_zip)
    wb = ParallelZipWorkbook(str(tmp), {**WORKBOOK_OPTIONS, "constant_memory": constant_memory,
                                        "tmpdir": str(work)})
    try:
        yield wb
        fit_workbook(wb)  # rows of wrapped text get the height that shows them (LibreOffice, printing)
        checkpoint("before_workbook_close")
        wb.close()
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        checkpoint("before_rename")
        os.replace(tmp, path)
    except BaseException:
        try:
            wb.close()
        except Exception:
            pass
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _sweep_stale_temp(folder: Path, max_age_s: float = 86_400) -> None:
    """Remove `.tmp-*` leftovers of killed writers (old enough that no live writer owns them)."""
    cutoff = time.time() - max_age_s
    for entry in folder.glob(".tmp-*"):
        try:
            if entry.lstat().st_mtime < cutoff:
                shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
        except OSError:
            pass


# XML 1.0 cannot hold C0 controls (but tab, newline, return) nor U+FFFE/U+FFFF: a cell with one is corrupt.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
EXCEL_MAX_CHARS = 32767  # Excel's limit on a cell, counted in UTF-16 code units (an emoji counts 2)


def clean_text(value: Any) -> str:
    """Text safe for a cell: XML-illegal control characters removed, Excel's 32,767 limit kept."""
    s = _XML_ILLEGAL.sub("", str(value))
    if len(s) > EXCEL_MAX_CHARS // 2 and len(s.encode("utf-16-le")) > 2 * EXCEL_MAX_CHARS:
        s = s.encode("utf-16-le")[:2 * EXCEL_MAX_CHARS].decode("utf-16-le", "ignore")  # no half emoji
    return s


def write_cell(ws: Worksheet, row: int, col: int, value: Any, fmt=None, date_fmt=None) -> None:
    """Write one value with the right cell type; strings are always literal text, never formulas."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        ws.write_blank(row, col, None, fmt)
    elif isinstance(value, bool):
        ws.write_string(row, col, "是" if value else "否", fmt)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and math.isinf(value):
            ws.write_string(row, col, str(value), fmt)
        else:
            ws.write_number(row, col, value, fmt)
    elif isinstance(value, dt.datetime):
        ws.write_datetime(row, col, value, date_fmt or fmt)
    elif isinstance(value, dt.date):
        ws.write_datetime(row, col, dt.datetime(value.year, value.month, value.day), date_fmt or fmt)
    else:
        if not isinstance(value, str):  # pandas' nulls and timestamps; text (the usual case) needs no pandas
            try:
                import pandas as pd

                if value is pd.NaT or pd.isna(value):
                    ws.write_blank(row, col, None, fmt)
                    return
                if isinstance(value, pd.Timestamp):
                    ws.write_datetime(row, col, value.to_pydatetime(), date_fmt or fmt)
                    return
            except (TypeError, ValueError):
                pass
        text = clean_text(value)
        if looks_like_rich_xml(text):
            # xlsxwriter copies text of this shape into the sheet as raw XML (its rich-string form), which
            # would let a cell inject formulas; written as two plain runs it stays literal text.
            ws.write_rich_string(row, col, text[:1], _plain_run(ws, fmt), text[1:], fmt)
        else:
            ws.write_string(row, col, text, fmt)


def looks_like_rich_xml(text: str) -> bool:
    """Text that xlsxwriter's write_string would take for rich-string XML ("<r>…</r>")."""
    return text.startswith("<r>") and text.endswith("</r>")


def _plain_run(ws: Worksheet, fmt):
    """A run format with the cell's font (a fragment needs one; the default font would look different)."""
    from xlsxwriter.format import Format

    run = Format()
    if fmt is not None:
        run.set_font_name(fmt.font_name)
        run.set_font_size(fmt.font_size)
    return run


# ---- printing ----------------------------------------------------------------------------------------
A4, A3 = 9, 8  # Excel's paper codes
PAPER_POINTS = {A4: (595.3, 841.9), A3: (841.9, 1190.6)}  # portrait width × height
MARGINS = {"left": 0.4, "right": 0.4, "top": 0.7, "bottom": 0.6}  # inches
SMALLEST_SCALE = 0.8  # fitted to the page width, 10-pt body text stays at least 8 pt on paper
# A column `w` characters wide is 7w + 5 pixels in Excel (0.75 pt each); LibreOffice without Calibri's metric twin
# (Carlito) measures the default font's digits in DejaVu Sans and prints it 7w + 5 points wide, a third wider
# (measured: 20 columns 10 wide fit to A4 landscape print 10-pt text at 5.2 pt). Pages are planned for the wider.
PRINTED_POINTS_PER_PIXEL = 1.0


def printed_width(widths: Sequence[float]) -> float:
    """Points that columns of these widths (Excel's characters) take on paper at 100 %."""
    return sum((7 * w + 5) * PRINTED_POINTS_PER_PIXEL for w in widths)


def printable(paper: int, landscape: bool) -> tuple[float, float]:
    """(width, height) in points inside the margins of `paper`."""
    w, h = PAPER_POINTS[paper]
    if landscape:
        w, h = h, w
    return w - 72 * (MARGINS["left"] + MARGINS["right"]), h - 72 * (MARGINS["top"] + MARGINS["bottom"])


def fit_scale(widths: Sequence[float], paper: int = A4, landscape: bool = True) -> float:
    """The scale at which columns of `widths` fit the width of `paper` (never above 100 %)."""
    return min(1.0, printable(paper, landscape)[0] / max(printed_width(widths), 1.0))


def paper_for(widths: Sequence[float], landscape: bool = True) -> int:
    """A4, or A3 for a table too wide to print on A4 at SMALLEST_SCALE (a Chinese office prints A3 routinely)."""
    return A4 if fit_scale(widths, A4, landscape) >= SMALLEST_SCALE else A3


def keep_on_page(ws: Worksheet, blocks: Sequence[tuple[int, int]], *, widths: Sequence[float], paper: int = A4,
                 landscape: bool = True, first_row: int = 0) -> list[int]:
    """Page breaks before each block of rows (a heading with its table, a chart) that would otherwise start at
    the foot of one page and go on at the head of the next; a block taller than a page is left to flow.

    Pages are laid out with the rows' heights in the sheet (fitted first: xlsx/row_height.py; LibreOffice keeps
    them, and the 15-point default) at the sheet's fit-to-width scale; a block is taken to fit where it leaves
    5 % of the page to spare. Returns the rows before which a break was set (also set on `ws`)."""
    fit_row_heights(ws)  # the heights the rows will have (fit_workbook, at closing, only confirms them)
    page = printable(paper, landscape)[1] / fit_scale(widths, paper, landscape)
    room = page * 0.95

    def height(r: int) -> float:
        info = ws.row_info.get(r)
        px = info.height if info is not None and info.height is not None else ws.default_row_height
        return px * 0.75

    breaks: list[int] = []
    top, used = first_row, 0.0  # the current page's first row, and the points used on it up to `r`
    r = first_row
    for start, end in sorted(blocks):
        while r < start:
            used += height(r)
            r += 1
            if used > page:
                top, used = r - 1, height(r - 1)
        block = sum(height(k) for k in range(start, end + 1))
        if used + block > room and block <= room and start > top:
            breaks.append(start)
            top, used = start, 0.0
        for k in range(start, end + 1):
            used += height(k)
            if used > page:
                top, used = k, height(k)
        r = end + 1
    if breaks:
        ws.set_h_pagebreaks(breaks)
    return breaks


def setup_print(ws: Worksheet, *, header_rows: tuple[int, int] | None, landscape: bool = True,
                page_header: str | None = None, fit_width: bool = True, paper: int = A4) -> None:
    """Print set-up (A4, or A3 for a wide table: `paper_for`) that fits the width, repeats the header row and
    numbers the pages."""
    ws.set_paper(paper)
    if landscape:
        ws.set_landscape()
    ws.set_margins(**MARGINS)
    if fit_width:
        ws.fit_to_pages(1, 0)
    if header_rows is not None:
        ws.repeat_rows(*header_rows)
    if page_header:
        ws.set_header(f"&C&\"{FONT},Bold\"&11{page_header.replace('&', '&&')}")
    ws.set_footer("&C第 &P 页，共 &N 页")


def table_cell_format(fmts: Formats, v: Any, c: int, wrap: set[int], alert: bool):
    """The format write_table gives value `v` in column `c` (alert rows painted)."""
    if alert:
        return fmts.alert_date if isinstance(v, (dt.date, dt.datetime)) else fmts.alert
    if isinstance(v, (dt.date, dt.datetime)):
        return fmts.date
    if c in wrap:
        return fmts.wrap
    if isinstance(v, int) and not isinstance(v, bool):
        return fmts.integer
    if isinstance(v, float):
        return fmts.number
    return fmts.text


def write_row_cells(ws: Worksheet, fmts: Formats, r: int, values: Sequence[Any], wrap: set[int], alert: bool) -> None:
    """One data row of a table, each cell through write_cell with write_table's format."""
    for c, v in enumerate(values):
        write_cell(ws, r, c, v, table_cell_format(fmts, v, c, wrap, alert))


def write_table(
    wb: Workbook,
    ws: Worksheet,
    fmts: Formats,
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    first_row: int = 0,
    widths: Sequence[float] | None = None,
    wrap_cols: Iterable[int] = (),
    highlight: Iterable[bool] | None = None,
    page_header: str | None = None,
    landscape: bool = True,
    paper: int = A4,
    empty: str | None = None,
) -> int:
    """Write a header row and data rows top to bottom (constant-memory friendly).

    Freezes the header, adds an autofilter, sets widths and print set-up; rows whose text needs several
    lines get their height (xlsx/row_height.py). Returns the number of data rows. `paper`: A4 or A3
    (`paper_for(widths)` picks A3 for a table too wide for A4).
    `highlight`, if given, yields one flag per row to paint that row in the alert colour.
    `empty`: the sentence written across the row under the header when there are no rows (本月无新发现隐患。),
    so a reader of a table with nothing in it, on screen or on paper, is told so (no autofilter then).
    """
    wrap = set(wrap_cols)
    if widths is not None:
        for c, w in enumerate(widths):
            ws.set_column(c, c, w)
    heights = TableRowHeights(widths, len(headers), wrap, fmts.text.font_size)
    ws.set_row(first_row, heights.header(headers, HEADER_HEIGHT))
    for c, h in enumerate(headers):
        ws.write_string(first_row, c, h, fmts.header)
    n = 0
    hl = iter(highlight) if highlight is not None else None
    for n, values in enumerate(rows, start=1):
        alert = next(hl) if hl is not None else False
        r = first_row + n
        height = heights.row(values, alert)
        if height is not None:  # set before the cells: a constant-memory sheet writes the row as it goes
            ws.set_row(r, height)
        write_row_cells(ws, fmts, r, values, wrap, alert)
    ws.freeze_panes(first_row + 1, 0)
    if n == 0 and empty:
        if len(headers) > 1:
            ws.merge_range(first_row + 1, 0, first_row + 1, len(headers) - 1, empty, fmts.text)
        else:
            ws.write_string(first_row + 1, 0, empty, fmts.text)
    else:
        ws.autofilter(first_row, 0, first_row + max(n, 1), len(headers) - 1)
    setup_print(ws, header_rows=(first_row, first_row), landscape=landscape, page_header=page_header, paper=paper)
    return n
