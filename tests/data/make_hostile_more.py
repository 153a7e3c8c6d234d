"""Hostile inputs made at test time (too big, or impossible to commit): a full 1,048,576-row register,
and registers whose text is crafted to be misread as formulas, links or markup.

Nothing here is written to tests/data/hostile/ (whose listing tests/test_workbook_reader.py pins):
tests call these functions into a temporary folder. Run directly to write them for a look by hand:
`.venv/bin/python tests/data/make_hostile_more.py OUT_DIR`.
"""

from __future__ import annotations

import re
import sys
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

HEADERS = ["县(市)公司", "户号", "客户名称", "重要用户等级", "行业类别", "隐患编号", "发现日期", "隐患描述", "隐患类别",
           "隐患等级", "可能后果", "整改建议", "告知日期", "整改期限", "整改责任人", "整改资金(万元)", "防控措施",
           "整改状态", "完成日期", "政府督办", "备注"]
EXCEL_MAX_ROWS = 1_048_576

NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
R_NS = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
PARTS = {
    "[Content_Types].xml": DECL + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '</Types>',
    "_rels/.rels": DECL + '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    '</Relationships>',
    "xl/workbook.xml": DECL + f'<workbook {NS} {R_NS}><sheets><sheet name="隐患台账" sheetId="1" r:id="rId1"/></sheets></workbook>',
    "xl/_rels/workbook.xml.rels": DECL + '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '</Relationships>',
}


def _col(c: int) -> str:
    s = ""
    c += 1
    while c:
        c, r = divmod(c - 1, 26)
        s = chr(65 + r) + s
    return s


_LITERAL_ESCAPE = re.compile(r"_(x[0-9a-fA-F]{4}_)")
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def ooxml_text(s: str) -> str:
    """Text as Excel stores it: a literal "_xHHHH_" guarded as "_x005F_xHHHH_", characters XML cannot
    carry written as "_xHHHH_" escapes, then XML-escaped."""
    s = _LITERAL_ESCAPE.sub(r"_x005F_\1", s)
    s = _XML_ILLEGAL.sub(lambda m: f"_x{ord(m.group()):04X}_", s)
    return escape(s)


def _cell(ref: str, v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return f'<c r="{ref}"><v>{v}</v></c>'
    return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{ooxml_text(str(v))}</t></is></c>'


def write_sheet_xlsx(path: Path, rows: Iterable[Sequence[Any]], *, dimension: str | None = None) -> Path:
    """Stream rows (str → inline string, number → number) straight into a zipped worksheet: the
    workbook never exists in memory, however many rows it has."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, text in PARTS.items():
            zf.writestr(name, text)
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            dim = f'<dimension ref="{dimension}"/>' if dimension else ""
            fh.write(f"{DECL}<worksheet {NS}>{dim}<sheetData>".encode())
            buf: list[str] = []
            for r, values in enumerate(rows, start=1):
                cells = "".join(_cell(f"{_col(c)}{r}", v) for c, v in enumerate(values))
                buf.append(f'<row r="{r}">{cells}</row>')
                if len(buf) >= 4096:
                    fh.write("".join(buf).encode())
                    buf.clear()
            fh.write(("".join(buf) + "</sheetData></worksheet>").encode())
    return path


def million_row_register(path: Path, *, dimension: bool = False) -> Path:
    """A 格尔木市 register filling every one of Excel's 1,048,576 rows: the header and 1,048,575
    complete hazards (no <dimension>, unless asked, so only parsing can find out how big it is)."""
    def rows():
        yield HEADERS
        for i in range(1, EXCEL_MAX_ROWS):
            yield ["格尔木市", f"0630{i:07d}", f"客户{i}", "二级", "危险化学品", f"GEM-{i:07d}", 46086,
                   "配电室无防小动物措施", "电气设备", "一般", None, None, None, None, None, None, None,
                   "未整改", None, "否", None]
    return write_sheet_xlsx(path, rows(), dimension=f"A1:U{EXCEL_MAX_ROWS}" if dimension else None)


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    out.mkdir(parents=True, exist_ok=True)
    print(million_row_register(out / "million_rows.xlsx"))
