"""Writes the hostile-file corpus in tests/data/hostile/ and the legacy .xls in tests/data/good/.

Each hostile file is named for what it proves the reader survives; tests/test_workbook_reader.py pins
the reason each must produce. Run from anywhere: `.venv/bin/python tests/data/make_hostile.py`.
Everything but encrypted.xlsx (random salt) comes out byte-identical on every run.
"""

from __future__ import annotations

import datetime as dt
import io
import random
import struct
import zipfile
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
HOSTILE = HERE / "hostile"
GOOD = HERE / "good"
FIXED_TIME = (2026, 1, 1, 0, 0, 0)  # zip entry timestamps, so the bytes do not change between runs

NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
R_NS = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

CONTENT_TYPES = (XML_DECL + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                 '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                 '<Default Extension="xml" ContentType="application/xml"/>'
                 '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
                 '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                 '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
                 '</Types>')
ROOT_RELS = (XML_DECL + '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
             '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
             '</Relationships>')
WORKBOOK = (XML_DECL + f'<workbook {NS} {R_NS}><sheets><sheet name="隐患台账" sheetId="1" r:id="rId1"/></sheets></workbook>')
WORKBOOK_RELS = (XML_DECL + '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                 '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
                 '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
                 '</Relationships>')
SHARED_STRINGS = XML_DECL + f'<sst {NS} count="3" uniqueCount="3"><si><t>户号</t></si><si><t>客户名称</t></si><si><t>00123</t></si></sst>'
# A1 户号, B1 客户名称, A2 '00123', B2 an inline string
SHEET = (XML_DECL + f'<worksheet {NS}><dimension ref="A1:B2"/><sheetData>'
         '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>'
         '<row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2" t="inlineStr"><is><t>青海盐湖钾肥</t></is></c></row>'
         '</sheetData></worksheet>')


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, FIXED_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def xlsx(sheet: str = SHEET, shared_strings: str = SHARED_STRINGS) -> bytes:
    """A minimal valid workbook, with the given worksheet and shared-strings XML."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in (("[Content_Types].xml", CONTENT_TYPES), ("_rels/.rels", ROOT_RELS),
                           ("xl/workbook.xml", WORKBOOK), ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS),
                           ("xl/worksheets/sheet1.xml", sheet), ("xl/sharedStrings.xml", shared_strings)):
            zf.writestr(_entry(name), text.encode("utf-8"))
    return buf.getvalue()


def zip_bomb() -> bytes:
    """80 MB of worksheet XML (5 million cells) that deflates ~350:1, to 230 KB on disk."""
    row = "<row>" + "<c><v>1</v></c>" * 100 + "</row>"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in (("[Content_Types].xml", CONTENT_TYPES), ("_rels/.rels", ROOT_RELS),
                           ("xl/workbook.xml", WORKBOOK), ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS),
                           ("xl/sharedStrings.xml", SHARED_STRINGS)):
            zf.writestr(_entry(name), text.encode("utf-8"))
        info = _entry("xl/worksheets/sheet1.xml")
        with zf.open(info, "w", force_zip64=True) as fh:
            fh.write((XML_DECL + f"<worksheet {NS}><sheetData>").encode())
            block = (row * 1000).encode()
            for _ in range(50):  # 50,000 rows of 100 cells
                fh.write(block)
            fh.write(b"</sheetData></worksheet>")
    return buf.getvalue()


def huge_dimension() -> bytes:
    """Two cells, but the sheet claims all 17 billion cells of A1:XFD1048576."""
    return xlsx(SHEET.replace('<dimension ref="A1:B2"/>', '<dimension ref="A1:XFD1048576"/>'))


def far_cell() -> bytes:
    """No dimension, but cells at A1 and XFD1048576: calamine asks for 550 GB for the grid and aborts."""
    sheet = (XML_DECL + f'<worksheet {NS}><sheetData>'
             '<row r="1"><c r="A1" t="s"><v>0</v></c></row>'
             '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
             '</sheetData></worksheet>')
    return xlsx(sheet)


def billion_laughs() -> bytes:
    """Shared strings whose one string expands to 10^9 'lol's in a parser that expands entities."""
    entities = ['<!ENTITY lol "lol">'] + [f'<!ENTITY lol{i} "{("&lol%s;" % (i - 1 or "")) * 10}">'
                                         for i in range(1, 10)]
    sst = (XML_DECL + "<!DOCTYPE sst [\n" + "\n".join(entities) + "\n]>\n"
           + f'<sst {NS} count="3" uniqueCount="3"><si><t>户号</t></si><si><t>客户名称</t></si>'
             '<si><t>&lol9;</t></si></sst>')
    return xlsx(shared_strings=sst)


def external_entity() -> bytes:
    """A worksheet cell whose text is an external entity reading /etc/passwd."""
    sheet = (XML_DECL + '<!DOCTYPE worksheet [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
             + SHEET.removeprefix(XML_DECL).replace("<t>青海盐湖钾肥</t>", "<t>&xxe;</t>"))
    return xlsx(sheet)


def encrypted() -> bytes:
    """The minimal workbook with an opening password (an OLE2 container with EncryptedPackage)."""
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    OOXMLFile(io.BytesIO(xlsx())).encrypt("haixi2026", out)
    return out.getvalue()


def png() -> bytes:
    """A 1x1 white PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\xff\xff")) + chunk(b"IEND", b""))


PDF = (b"%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n"
       b"2 0 obj <</Type /Pages /Kids [] /Count 0>> endobj\n"
       b"trailer <</Root 1 0 R>>\n%%EOF\n")
CSV = "户号,客户名称,隐患描述,整改状态\n00123,青海盐湖钾肥有限公司,自备应急电源未定期试验,未整改\n".encode("utf-8-sig")
HTML = ("<html><head><meta charset=\"utf-8\"></head><body><table>"
        "<tr><td>户号</td><td>客户名称</td></tr><tr><td>00123</td><td>青海盐湖钾肥有限公司</td></tr>"
        "</table></body></html>").encode("utf-8")


def garbage() -> bytes:
    data = bytearray(random.Random(20260101).randbytes(4096))
    data[:4] = b"\x00\x13\x37\x00"  # no magic number of anything, and binary
    return bytes(data)


def truncated() -> bytes:
    whole = xlsx()
    return whole[: len(whole) // 2]


def legacy_xls(path: Path) -> None:
    """A small BIFF8 register: a merged title, Chinese text, a leading-zero id, a date, a number."""
    import xlwt

    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("隐患台账")
    ws.write_merge(0, 0, 0, 3, "格尔木市供电公司客户安全隐患台账")
    for col, header in enumerate(["户号", "客户名称", "发现日期", "整改资金(万元)"]):
        ws.write(1, col, header)
    ws.write(2, 0, "00123")
    ws.write(2, 1, "青海盐湖钾肥有限公司")
    ws.write(2, 2, dt.date(2026, 3, 5), xlwt.easyxf(num_format_str="yyyy-mm-dd"))
    ws.write(2, 3, 12.5)
    notes = wb.add_sheet("填写说明")
    notes.write(0, 0, "本表每月 20 日前报送")
    notes.visibility = 1  # hidden
    wb.save(str(path))


HOSTILE_FILES = {
    "zip_bomb.xlsx": zip_bomb,
    "huge_dimension.xlsx": huge_dimension,
    "far_cell_abort.xlsx": far_cell,
    "billion_laughs.xlsx": billion_laughs,
    "external_entity.xlsx": external_entity,
    "encrypted.xlsx": encrypted,
    "csv_renamed.xlsx": lambda: CSV,
    "pdf_renamed.xlsx": lambda: PDF,
    "png_renamed.xlsx": png,
    "html_renamed.xls": lambda: HTML,
    "empty.xlsx": lambda: b"",
    "truncated.xlsx": truncated,
    "not_a_zip_garbage.xlsx": garbage,
}


def main() -> None:
    HOSTILE.mkdir(exist_ok=True)
    GOOD.mkdir(exist_ok=True)
    for name, make in HOSTILE_FILES.items():
        (HOSTILE / name).write_bytes(make())
    legacy_xls(GOOD / "legacy.xls")
    for path in sorted([*HOSTILE.iterdir(), *GOOD.iterdir()]):
        print(f"{path.stat().st_size:>9,}  {path.relative_to(HERE)}")


if __name__ == "__main__":
    main()
