"""Row heights for wrapped text: one generous estimate that every printed workbook uses.

Excel grows a row to fit wrapped text only when it recalculates the row itself; LibreOffice (a recipient's
second program, and the converter of the PDF paper copies) and a print room's copy keep the height in the
file, so a data row with no height prints its second and third lines over the rows below. Every writer
therefore gives rows whose text needs several lines an explicit height from this estimate:

- a character's width in Excel's column units (the width of "0"), by the model every output shares
  (hazardnet.xlsx.text_width): CJK and other wide characters count 2, ASCII 1, other two-byte characters
  1.5 — computed from the UTF-8 length, which runs at C speed;
- each line break starts a line; each paragraph wraps at the column's width less a cell margin, with 10 %
  slack for words and punctuation that cannot be split at the line's end;
- a merged cell wraps at the merged width; a cell without text_wrap takes only its explicit line breaks;
- a line is 1.55 × the font size tall (Noto CJK, LibreOffice's stand-in for 宋体, needs 1.45), plus a margin;
  never above Excel's limit of 409 points, so no row is taller than a printed page.

Heights only grow: a row a writer set taller keeps its height; single-line rows keep the default.

`TableRowHeights` serves the table writers row by row (constant-memory sheets are written as they go);
`fit_row_heights` fits every row of an in-memory worksheet just before the workbook is closed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from hazardnet.xlsx.text_width import text_units

DEFAULT_COL_WIDTH = 8.43  # Excel's default column width, in characters
DEFAULT_FONT_SIZE = 10.0
SLACK = 1.1  # room for words and punctuation that cannot be broken at a line's end
CELL_MARGIN = 1.0  # characters of a column's width not available to text (padding both sides)
LINE_FACTOR = 1.55  # line height / font size
PAD_POINTS = 4.0
MAX_POINTS = 409.0  # Excel's largest row height


def text_lines(text: str, width: float, font_size: float = DEFAULT_FONT_SIZE, wrap: bool = True) -> int:
    """Lines that `text` takes in a cell `width` characters wide (wrapped, or only at its line breaks where the
    cell does not wrap: Excel then shows one line, other programs may break it, so its rows are sized too)."""
    paragraphs = text.split("\n")
    if not wrap:
        return len(paragraphs)
    usable = max(width - CELL_MARGIN, 1.0)
    scale = SLACK * max(font_size, DEFAULT_FONT_SIZE) / DEFAULT_FONT_SIZE
    lines = 0
    for p in paragraphs:
        w = text_units(p) * scale
        lines += max(1, math.ceil(w / usable))
    return lines


def lines_height(lines: int, font_size: float = DEFAULT_FONT_SIZE) -> float:
    """Row height in points that shows `lines` lines of `font_size` text."""
    return min(MAX_POINTS, lines * LINE_FACTOR * max(font_size, DEFAULT_FONT_SIZE) + PAD_POINTS)


def pixels(points: float) -> int:
    """xlsxwriter's pixel height for a row of `points` (what set_row stores)."""
    return int(points * 4.0 / 3.0 + 0.5)


def ht_attribute(points: float) -> str:
    """The `ht` value xlsxwriter writes for set_row(row, points)."""
    return f"{pixels(points) * 0.75:.16g}"


class TableRowHeights:
    """Heights of a table's rows (the table writers' columns: widths, wrapped columns, one font size).

    Wrapping cells are measured: the wrapped columns, and every column of an alert row (the alert format
    wraps); other text cells count their line breaks only. A text is measured only when it is long enough that it might not fit (`limit`: a text of
    at most that many characters fits even if every one is as wide as a character can be) — or than the
    lines already found in the row — or holds a line break, so most cells cost two comparisons."""

    def __init__(self, widths: Sequence[float] | None, ncols: int, wrap: Iterable[int],
                 font_size: float = DEFAULT_FONT_SIZE):
        self.wrap_cols = sorted(set(wrap))
        self.wrapping = [c in self.wrap_cols for c in range(self.wrap_cols[-1] + 1 if self.wrap_cols else 0)]
        n = max(ncols, len(widths or ()), self.wrap_cols[-1] + 1 if self.wrap_cols else 0)
        self.widths = [float(widths[c]) if widths is not None and c < len(widths) and widths[c] is not None
                       else DEFAULT_COL_WIDTH for c in range(n)]
        self.font_size = font_size
        scale = 2 * SLACK * max(font_size, DEFAULT_FONT_SIZE) / DEFAULT_FONT_SIZE
        # a character is at most 2.5 units wide (a 4-byte UTF-8 character: (4 + 1) / 2)
        self.limit = [max(w - CELL_MARGIN, 1.0) / (1.25 * scale) for w in self.widths]
        # lines of a one-paragraph text = ceil((UTF-8 length + length) * per_unit[c]), text_lines' formula
        self.per_unit = [scale / 4 / max(w - CELL_MARGIN, 1.0) for w in self.widths]
        self.default_limit = max(DEFAULT_COL_WIDTH - CELL_MARGIN, 1.0) / (1.25 * scale)
        self._ht: dict[int, str] = {}

    def width(self, c: int) -> float:
        return self.widths[c] if c < len(self.widths) else DEFAULT_COL_WIDTH

    def lines(self, text: str, c: int) -> int:
        """Lines of `text` wrapped in column `c`."""
        if c < len(self.per_unit) and "\n" not in text:  # the common case, text_lines' arithmetic inline
            return max(1, math.ceil((len(text.encode("utf-8", "surrogatepass")) + len(text)) * self.per_unit[c]))
        return text_lines(text, self.width(c), self.font_size)

    def row_lines(self, values: Sequence[Any], alert: bool = False) -> int:
        """Lines of the row's tallest wrapping cell (1 when everything fits on one line)."""
        most = 1
        nv = len(values)
        limit, per_unit = self.limit, self.per_unit
        nl = len(limit)
        for c in (range(nv) if alert else self.wrap_cols):
            if c >= nv:
                break
            v = values[c]
            if not isinstance(v, str):
                continue
            if c < nl and "\n" not in v:
                # a text of at most limit × most characters cannot need more than `most` lines
                if len(v) > limit[c] * most:
                    n = math.ceil((len(v.encode("utf-8", "surrogatepass")) + len(v)) * per_unit[c])  # self.lines
                    if n > most:
                        most = n
            elif len(v) > self.default_limit * most or "\n" in v:
                n = self.lines(v, c)
                if n > most:
                    most = n
        if not alert:  # a line break in a cell that does not wrap still starts a line
            wrapping = self.wrapping
            for c, v in enumerate(values):
                if isinstance(v, str) and "\n" in v and not (c < len(wrapping) and wrapping[c]):
                    n = v.count("\n") + 1
                    if n > most:
                        most = n
        return most

    def measure(self, v: Any, c: int, alert: bool = False) -> tuple[int, int, float]:
        """What cell `v` in column `c` adds to `row_lines`, for writers that remember it per distinct value:
        (n, length, gate). n > 1: the cell's lines, counted when n exceeds the lines found so far in the row
        (`most`) and length > gate × most (row_lines' shortcut, kept so the result is its own to the last
        rounding); n < 0: a line break in a cell that does not wrap, -n lines, counted apart from `most`;
        otherwise nothing. `combine` folds the cells of a row, in column order, into row_lines' result."""
        if not isinstance(v, str):
            return 1, 0, 0.0
        if alert or (c < len(self.wrapping) and self.wrapping[c]):
            if c < len(self.limit) and "\n" not in v:
                return (math.ceil((len(v.encode("utf-8", "surrogatepass")) + len(v)) * self.per_unit[c]), len(v),
                        self.limit[c])
            return self.lines(v, c), len(v), (-math.inf if "\n" in v else self.default_limit)
        if "\n" in v:
            return -(v.count("\n") + 1), 0, 0.0
        return 1, 0, 0.0

    @staticmethod
    def combine(measures: Iterable[tuple[int, int, float]]) -> int:
        """`row_lines` of a row from the `measure` of its cells in column order."""
        most = apart = 1
        for n, length, gate in measures:
            if n > most:
                if length > gate * most:
                    most = n
            elif n < 0 and -n > apart:
                apart = -n
        return max(most, apart)

    def ht(self, lines: int) -> str:
        """The `ht` attribute of a row of `lines` lines (what set_row(row, row height) writes)."""
        text = self._ht.get(lines)
        if text is None:
            text = self._ht[lines] = ht_attribute(lines_height(lines, self.font_size))
        return text

    def row(self, values: Sequence[Any], alert: bool = False) -> float | None:
        """The height row `values` needs in points, None when every cell fits on one line."""
        most = self.row_lines(values, alert)
        return lines_height(most, self.font_size) if most > 1 else None

    def header(self, headers: Sequence[str], at_least: float) -> float:
        """Height of the header row: `at_least`, or more when a header needs more lines (headers wrap)."""
        most = max((text_lines(h, self.width(c), self.font_size) for c, h in enumerate(headers)), default=1)
        return max(at_least, lines_height(most, self.font_size)) if most > 1 else at_least


# ---- fitting a whole in-memory worksheet ---------------------------------------------------------------
def _column_chars(ws, col: int) -> float:
    """A column's width in characters, from xlsxwriter's stored pixel width."""
    info = ws.col_info.get(col)
    px = info.width if info is not None and info.width is not None else ws.default_col_width
    if info is not None and info.hidden:
        return 0.0
    return max((px - ws.cell_padding) / ws.max_digit_width, 0.0)


def _cell_format(ws, row: int, col: int, cell):
    if cell.format is not None:
        return cell.format
    info = ws.row_info.get(row)
    if info is not None and info.row_format is not None:
        return info.row_format
    cinfo = ws.col_info.get(col)
    return cinfo.column_format if cinfo is not None else None


def fit_row_heights(ws, shared_strings: Sequence[str] | None = None) -> int:
    """Give every row of an in-memory worksheet whose text needs several lines a height that shows them.

    `shared_strings`: the workbook's shared strings in index order (`list(wb.str_table.string_table)`),
    where xlsxwriter keeps the text of string cells. Rows a writer made taller keep their height; hidden
    rows are left alone. Returns the number of rows raised. Constant-memory sheets are written already
    (their writers call `TableRowHeights` row by row): nothing to do."""
    if getattr(ws, "constant_memory", False):
        return 0
    if shared_strings is None:
        shared_strings = list(ws.str_table.string_table)
    merged: dict[tuple[int, int], tuple[int, int]] = {}  # top-left cell -> (last row, last col)
    covered: set[tuple[int, int]] = set()
    for r1, c1, r2, c2 in ws.merge:
        merged[(r1, c1)] = (r2, c2)
        covered.update((r, c) for r in range(r1, r2 + 1) for c in range(c1, c2 + 1) if (r, c) != (r1, c1))
    need: dict[int, float] = {}
    widths: dict[int, float] = {}

    def chars(c: int) -> float:
        w = widths.get(c)
        if w is None:
            w = widths[c] = _column_chars(ws, c)
        return w

    for r, cells in ws.table.items():
        for c, cell in cells.items():
            kind = cell.__class__.__name__
            if kind == "String":
                text = cell.string if isinstance(cell.string, str) else shared_strings[cell.string]
            elif kind == "RichString":
                text = cell.raw_string
            else:
                continue
            if (r, c) in covered or not text:
                continue
            fmt = _cell_format(ws, r, c, cell)
            wrap = bool(fmt is not None and fmt.text_wrap)
            size = float(fmt.font_size) if fmt is not None else 11.0
            last_row, last_col = merged.get((r, c), (r, c))
            width = sum(chars(k) for k in range(c, last_col + 1))
            n = text_lines(text, width, size, wrap)
            if n <= 1:
                continue
            h = lines_height(n, size)
            rows = last_row - r + 1
            for k in range(r, last_row + 1):  # a merged block shares the height among its rows
                need[k] = max(need.get(k, 0.0), h / rows)
    raised = 0
    for r, h in need.items():
        info = ws.row_info.get(r)
        if info is not None and info.hidden:
            continue
        current = info.height if info is not None and info.height is not None else ws.default_row_height
        if pixels(h) > current:
            if info is None:
                ws.set_row(r, h)
            else:
                ws.set_row(r, h, info.row_format, {"hidden": info.hidden, "level": info.level,
                                                   "collapsed": info.collapsed})
            raised += 1
    return raised


def fit_workbook(wb) -> int:
    """`fit_row_heights` on every worksheet of an xlsxwriter workbook about to be closed."""
    strings = list(wb.str_table.string_table)
    return sum(fit_row_heights(ws, strings) for ws in wb.worksheets() if hasattr(ws, "table"))
