"""`write_table` for big tables: the same workbook, written several times faster.

`xlsx.style.write_table` writes a table cell by cell through xlsxwriter's public API, where each
cell costs a few microseconds of Python (argument checks, a cell tuple, then the row's XML when the
next row starts). For the consolidated register (hundreds of thousands of rows × 25 columns) that is
most of an ingest run. `write_table_fast` makes the same decisions for every cell (format, cell type,
text cleaning — see `xlsx.style.write_table` and `write_cell`) but appends each data row's XML to
the constant-memory worksheet's row stream directly, as xlsxwriter itself does when it flushes a row.

The sheet XML is byte for byte what `write_table` produces (tests/test_fast_table.py compares the two on
awkward values: control characters, whitespace to preserve, XML metacharacters, NaN/inf, dates, bools,
numpy and pandas values, None). It leans on a few xlsxwriter internals of the pinned version (the row
stream `ws.fh`, `_write_single_row`, `_check_dimensions`, `_convert_date_time`, `Format._get_xf_index`
and the escaping helpers); whenever its preconditions do not hold (not constant_memory, custom row
heights, an Excel 2010 extension) it simply calls `write_table`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

from xlsxwriter.utility import _preserve_whitespace, _utf16_len, _utf16_truncate, xl_col_to_name
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from hazardnet.xlsx.row_height import TableRowHeights
from hazardnet.xlsx.style import (HEADER_HEIGHT, Formats, clean_text, looks_like_rich_xml, setup_print, write_row_cells,
                                  write_table)

# The xlsxwriter version whose internals (listed above) this module was checked against: the lock pins it, and
# tests/test_layout.py fails with a clear message when the installed version differs (re-check, then bump).
CHECKED_XLSXWRITER = "3.3.1"

# what xlsxwriter's _escape_control_characters would change: "_xHHHH_" literals, C0 controls (but tab and
# newline), U+FFFE/U+FFFF
_NEEDS_CONTROL_ESCAPE = re.compile(r"_x[0-9a-fA-F]{4}_|[\x00-\x08\x0b-\x1f\ufffe\uffff]")


# a string needing any change before it can be written as it is: something clean_text removes, something
# the control-character escape changes, an XML metacharacter, or an empty string
_NEEDS_ANY_CHANGE = re.compile(r"[\x00-\x1f&<>\ufffe\uffff]|_x[0-9a-fA-F]{4}_|^$")


def _fast_path_possible(ws: Worksheet, first_row: int) -> bool:
    return (getattr(ws, "constant_memory", False) and ws.excel_version == 2007
            and ws.default_row_height == ws.original_row_height and not ws.comments
            and getattr(ws, "fh", None) is not None and ws.previous_row <= first_row)


def write_table_fast(
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
    shared_strings: bool = False,
) -> int:
    """Exactly `xlsx.style.write_table` (same arguments, same workbook), faster on big tables.

    `shared_strings`: text goes to the workbook's shared-string table (each distinct text once, as Excel
    itself writes) instead of inline in every cell: the same cells, a smaller sheet, less to compress."""
    if not _fast_path_possible(ws, first_row):
        return write_table(wb, ws, fmts, headers, rows, first_row=first_row, widths=widths, wrap_cols=wrap_cols,
                           highlight=highlight, page_header=page_header, landscape=landscape)
    wrap = set(wrap_cols)
    if widths is not None:
        for c, w in enumerate(widths):
            ws.set_column(c, c, w)
    heights = TableRowHeights(widths, len(headers), wrap, fmts.text.font_size)
    ws.set_row(first_row, heights.header(headers, HEADER_HEIGHT))
    for c, h in enumerate(headers):
        ws.write_string(first_row, c, h, fmts.header)
    n = _append_rows(ws, fmts, rows, first_row + 1, wrap, highlight, shared_strings, heights)
    ws.freeze_panes(first_row + 1, 0)
    ws.autofilter(first_row, 0, first_row + max(n, 1), len(headers) - 1)
    setup_print(ws, header_rows=(first_row, first_row), landscape=landscape, page_header=page_header)
    return n


class _CellXml:
    """The XML of one cell, as xlsxwriter writes it in constant-memory mode (inline strings)."""

    def __init__(self, ws: Worksheet):
        self.ws = ws
        self.xf: dict[int, int] = {}
        self.serials: dict[Any, str] = {}

    def style(self, fmt) -> int:
        # assigned on first use, in the order the cells are written: the order xlsxwriter uses
        key = id(fmt)
        xf = self.xf.get(key)
        if xf is None:
            xf = self.xf[key] = fmt._get_xf_index()
        return xf

    def string(self, ref: str, s: str, fmt) -> str:
        if len(s) > 16383 and _utf16_len(s) > 32767:
            s = _utf16_truncate(s, 32767)
        if _NEEDS_CONTROL_ESCAPE.search(s):
            s = self.ws._escape_control_characters(s)
        preserve = ' xml:space="preserve"' if s and (s[0].isspace() or s[-1].isspace()) and _preserve_whitespace(s) \
            else ""
        if "&" in s or "<" in s or ">" in s:
            s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return f'<c r="{ref}" s="{self.style(fmt)}" t="inlineStr"><is><t{preserve}>{s}</t></is></c>'

    def number(self, ref: str, v, fmt) -> str:
        return f'<c r="{ref}" s="{self.style(fmt)}"><v>{v:.16G}</v></c>'

    def blank(self, ref: str, fmt) -> str:
        return f'<c r="{ref}" s="{self.style(fmt)}"/>'

    def datetime(self, ref: str, d: dt.datetime, fmt) -> str:
        serial = self.serials.get(d)
        if serial is None:
            serial = self.serials[d] = f"{self.ws._convert_date_time(d):.16G}"
        return f'<c r="{ref}" s="{self.style(fmt)}"><v>{serial}</v></c>'

    def cell(self, ref: str, value: Any, fmt, date_fmt=None) -> str:
        """workbook_style.write_cell, as XML."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return self.blank(ref, fmt)
        if isinstance(value, bool):
            return self.string(ref, "是" if value else "否", fmt)
        if isinstance(value, (int, float)):
            if isinstance(value, float) and math.isinf(value):
                return self.string(ref, str(value), fmt)
            return self.number(ref, value, fmt)
        if isinstance(value, dt.datetime):
            return self.datetime(ref, value, date_fmt or fmt)
        if isinstance(value, dt.date):
            return self.datetime(ref, dt.datetime(value.year, value.month, value.day), date_fmt or fmt)
        if not isinstance(value, str):
            try:
                import pandas as pd

                if value is pd.NaT or pd.isna(value):
                    return self.blank(ref, fmt)
                if isinstance(value, pd.Timestamp):
                    return self.datetime(ref, value.to_pydatetime(), date_fmt or fmt)
            except (TypeError, ValueError):
                pass
        return self.string(ref, clean_text(value), fmt)


def _shared_index(str_table, text: str) -> int:
    """The shared-string index of `text` as xlsxwriter's own write_string would store it (cleaned, and cut
    at Excel's 32,767 UTF-16 units); the string table escapes it when it writes sharedStrings.xml.

    -1 for text shaped like "<r>…</r>": the string table would copy it into the XML raw (its form for
    rich strings), so a register cell could inject markup; such text stays inline, escaped."""
    value = clean_text(text)
    if len(value) > 16383 and _utf16_len(value) > 32767:
        value = _utf16_truncate(value, 32767)
    if value.startswith("<r>") and value.endswith("</r>"):
        return -1
    return str_table._get_shared_string_index(value)


# value classes whose cell XML (after the cell reference) and row-height measure `_append_rows` remembers per
# column: values of these classes equal as keys give the same cell (1.0 == 1 == True: floats and bools are not
# remembered), and they all hash
_REMEMBERED = frozenset({str, type(None), int, dt.date, dt.datetime})
_CELL_START = '<c r="'


_NOT_REMEMBERED = object()


def _memo_key(v: Any) -> Any:
    """`v`'s key in `_append_rows`' per-column memo: the value itself for the _REMEMBERED classes, (float, v) for
    a float (1.0 == 1, but their cells differ), _NOT_REMEMBERED for anything else (NaN, never equal to itself,
    and float zeros)."""
    t = v.__class__
    if t in _REMEMBERED:
        return v
    if t is float and v != 0.0 and not math.isnan(v):  # 0.0 == -0.0, but one is written "0", the other "-0"
        return float, v
    return _NOT_REMEMBERED


def _append_rows(ws: Worksheet, fmts: Formats, rows: Iterable[Sequence[Any]], start: int, wrap: set[int],
                 highlight: Iterable[bool] | None, shared_strings: bool = False,
                 heights: TableRowHeights | None = None) -> int:
    """Write the data rows from `start` on; the per-cell format choice and the row height are write_table's.

    A register repeats its values (county, grades, categories, dates, blanks): the XML of a cell after its
    reference and what it adds to the row height (`TableRowHeights.measure`) are worked out once per column,
    value and kind of row (alert or not), and later cells reuse them."""
    if heights is None:
        heights = TableRowHeights(None, 0, wrap, fmts.text.font_size)
    ws._write_single_row(start)  # flush the header row, as writing the first data cell would
    fh = ws.fh
    xml = _CellXml(ws)
    names: list[str] = []  # column letters
    starts: list[str] = []  # '<c r="' + column letters
    plain_fmts: list = []  # write_table's format of a text or blank cell per column, outside alert rows
    memos: tuple[list[dict], list[dict]] = ([], [])  # [alert][column]: value -> (piece: the cell's XML after
    #   its reference + the next column's '<c r="' and letters, shared-string reference 0/1, *heights.measure)
    xfs = xml.xf
    hl = iter(highlight) if highlight is not None else None
    max_row = max_col = -1
    min_row = min_col = None
    buffer: list[str] = []
    str_table = ws.str_table if shared_strings else None
    sst: dict[str, int] | None = {} if shared_strings else None
    refs = 0
    n = 0
    measure = heights.measure
    remembered = _REMEMBERED
    rowmax, colmax = ws.xls_rowmax, ws.xls_colmax

    def cell(c: int, v: Any, alert: bool, ref: str) -> tuple[str, int]:
        """The cell's XML as write_table would write it, and whether it refers to a shared string."""
        t = v.__class__
        if t is str or v is None:  # text and blanks, most cells: write_table's format is known
            fmt = fmts.alert if alert else plain_fmts[c]
            xf = xfs.get(id(fmt))
            if xf is None:
                xf = xfs[id(fmt)] = xml.style(fmt)
            if v is None:
                return f'<c r="{ref}" s="{xf}"/>', 0
            if sst is not None and v:
                i = sst.get(v)
                if i is None:
                    i = sst[v] = _shared_index(str_table, v)
                if i >= 0:
                    return f'<c r="{ref}" s="{xf}" t="s"><v>{i}</v></c>', 1
                return xml.string(ref, clean_text(v), fmt), 0  # the string table would write raw XML: inline
            if len(v) <= 16383 and not _NEEDS_ANY_CHANGE.search(v) and not (v[0].isspace() or v[-1].isspace()):
                # nothing for clean_text, the control-character escape or XML escaping to change
                return f'<c r="{ref}" s="{xf}" t="inlineStr"><is><t>{v}</t></is></c>', 0
            return xml.string(ref, clean_text(v), fmt), 0
        if alert:
            fmt = fmts.alert_date if isinstance(v, (dt.date, dt.datetime)) else fmts.alert
        elif isinstance(v, (dt.date, dt.datetime)):
            fmt = fmts.date
        elif c in wrap:
            fmt = fmts.wrap
        elif isinstance(v, int) and t is not bool:
            fmt = fmts.integer
        elif isinstance(v, float):
            fmt = fmts.number
        else:
            fmt = fmts.text
        return xml.cell(ref, v, fmt), 0

    for n, values in enumerate(rows, start=1):
        alert = next(hl) if hl is not None else False
        r = start + n - 1
        if r >= rowmax:  # beyond Excel's last row: xlsxwriter ignores such cells
            continue
        vals = values
        rich = False
        if len(values) > colmax:  # cells beyond Excel's last column are ignored, but still checked as before
            vals = values[:colmax]
            rich = any(v.__class__ is str and v.startswith("<r>") and looks_like_rich_xml(clean_text(v))
                       for v in values)
        nv = len(vals)
        while len(names) <= nv:  # one column beyond the row: its start ends the piece of the row's last cell
            c = len(names)
            names.append(xl_col_to_name(c))
            starts.append(_CELL_START + names[c])
            plain_fmts.append(fmts.wrap if c in wrap else fmts.text)
            memos[0].append({})
            memos[1].append({})
        memo = memos[1 if alert else 0]
        rn = str(r + 1)
        cells: list = []
        misses: list[tuple[int, tuple]] = []
        row_refs = 0
        most = apart = 1  # TableRowHeights.combine, inline
        if not rich:
            for c, v in enumerate(vals):
                t = v.__class__
                if t in remembered or t is float:
                    known = memo[c].get(v if t is not float else (float, v))
                    if known is not None:
                        piece, shared, k, length, gate = known
                        cells.append(piece)
                        row_refs += shared
                        if k > most:
                            if length > gate * most:
                                most = k
                        elif k < 0 and -k > apart:
                            apart = -k
                        continue
                    if t is str and v.startswith("<r>") and looks_like_rich_xml(clean_text(v)):
                        rich = True
                        break
                # a new value: what it adds to the height now (in column order, as row_lines counts), its
                # XML once the row is known to take this path (numbering styles and shared strings as met)
                m = measure(v, c, alert)
                k, length, gate = m
                if k > most:
                    if length > gate * most:
                        most = k
                elif k < 0 and -k > apart:
                    apart = -k
                misses.append((c, m))
                cells.append(None)
        if rich:
            # text xlsxwriter would take for rich-string XML: this row goes through write_table's own path
            fh.write("".join(buffer))
            buffer.clear()
            height = heights.row(values, alert)
            if height is not None:
                ws.set_row(r, height)
            write_row_cells(ws, fmts, r, values, wrap, alert)
            ws._write_single_row(r + 1)
            max_row = r
            max_col = max(max_col, min(len(values), colmax) - 1)
            if min_row is None:
                min_row, min_col = r, 0
            continue
        for c, m in misses:  # the new values' XML, in column order
            v = vals[c]
            ref = names[c] + rn
            text, shared = cell(c, v, alert, ref)
            cells[c] = piece = text[len(starts[c]) + len(rn):] + starts[c + 1]
            row_refs += shared
            key = _memo_key(v)
            if key is not _NOT_REMEMBERED:
                memo[c][key] = (piece, shared, *m)
        if len(values) > colmax:
            most, apart = heights.row_lines(values, alert), 1
        refs += row_refs
        if cells:
            # each piece is a cell's XML after its reference, then the next cell's start up to its row number
            cells[-1] = cells[-1][:-len(starts[nv])]
            lines = max(most, apart)
            if lines > 1:  # the <row> xlsxwriter writes after set_row(r, height)
                buffer.append(f'<row r="{rn}" ht="{heights.ht(lines)}" customHeight="1">{starts[0]}{rn}'
                              f'{rn.join(cells)}</row>')
            else:
                buffer.append(f'<row r="{rn}">{starts[0]}{rn}{rn.join(cells)}</row>')
            max_row = r
            max_col = max(max_col, nv - 1)
            if min_row is None:
                min_row, min_col = r, 0
            if len(buffer) >= 512:
                fh.write("".join(buffer))
                buffer.clear()
    fh.write("".join(buffer))
    if str_table is not None:
        str_table.count += refs - len(sst)  # _shared_index counted each new string once already
    if max_row >= 0:  # the sheet's dimension, as if the cells had gone through the API
        ws._check_dimensions(min_row, min_col)
        ws._check_dimensions(max_row, max_col)
        ws.previous_row = max_row + 1  # rows up to here are written: later cells can only go below
    return n
