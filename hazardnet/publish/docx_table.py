"""Column widths a Word table keeps in Word, WPS and LibreOffice alike.

python-docx's `cell.width` writes each cell's preferred width (`w:tcW`), which Word honours; LibreOffice (and so
the PDFs of `hazardnet paper`) lays a table out from its grid (`w:tblGrid/w:gridCol`), which python-docx writes
with equal columns, and autofit lets any of them stretch the columns to their text. A notice's 隐患描述 came out
as narrow as its 序号. `fix_widths` sets both, and turns autofit off.
"""

from __future__ import annotations

from collections.abc import Sequence

from docx.shared import Length


def fix_widths(table, widths: Sequence[Length]) -> None:
    """Give every column of `table` its width in the grid and in each of its cells; no autofit."""
    table.autofit = False
    for column, width in zip(table.columns, widths):
        column.width = width
    for row in table.rows:
        for cell, width in zip(row.cells, widths):
            cell.width = width
