"""Registers with pictures, the three ways clerks put them in, written as real .xlsx zips.

- `floating_register`: pictures floating over the row's cell (xlsxwriter insert_image: xl/drawings/…,
  twoCellAnchor from the row);
- `wps_register`: WPS cell pictures, written by hand on top of an xlsxwriter workbook as WPS writes them
  (=DISPIMG("ID_…",1) as `_xlfn.DISPIMG`, xl/cellimages.xml, the WPS relationship type);
- `excel_register`: Excel 365 pictures in cells (xlsxwriter embed_image: xl/richData/…, the cell's vm).

Each register is county 格尔木市 with `n` hazards GEM-P-001…; `pictures` maps a hazard's index (0-based)
to its picture bytes (one or a list), `extra` places more pictures at (0-based row, col) of the sheet.
The register's header is on row 1, so hazard i is on sheet row i + 1 (0-based).
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import random
import struct
import zipfile
import zlib
from pathlib import Path

import xlsxwriter

HEADERS = ["县(市)公司", "户号", "客户名称", "重要用户等级", "行业类别", "隐患编号", "发现日期", "隐患描述", "隐患类别",
           "隐患等级", "可能后果", "整改建议", "整改期限", "整改状态", "完成日期", "隐患照片"]
PHOTO_COL = HEADERS.index("隐患照片")
COUNTY = "格尔木市"


def hazard_id(i: int) -> str:
    return f"GEM-P-{i + 1:03d}"


def hazard_rows(n: int, customers: int = 3) -> list[list]:
    out = []
    for i in range(n):
        c = i % customers
        out.append([COUNTY, f"06301{c:05d}", f"格尔木测试客户{c + 1}有限公司", "二级", "危险化学品", hazard_id(i),
                    dt.date(2026, 9, 1 + i % 28), f"第{i + 1}号隐患：配电室电缆沟未封堵", "电气设备", "较大",
                    "小动物进入引起短路", "封堵电缆沟", dt.date(2026, 10, 31), "未整改", None])
    return out


def photo(seed: int, size: tuple[int, int] = (800, 600), fmt: str = "JPEG") -> bytes:
    """A distinct photo-like picture (gradients and shapes, so JPEG compresses it as it would a photo)."""
    from PIL import Image, ImageDraw

    rnd = random.Random(seed)
    w, h = size
    base = Image.linear_gradient("L").resize((w, h))
    r, g, b = (rnd.randint(40, 215) for _ in range(3))
    img = Image.merge("RGB", (base.point(lambda v: (v + r) % 256), base.transpose(Image.Transpose.ROTATE_90)
                              .resize((w, h)).point(lambda v: (v + g) % 256), Image.new("L", (w, h), b)))
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        x, y = rnd.randrange(w), rnd.randrange(h)
        draw.ellipse((x, y, x + rnd.randint(1, max(1, w // 3)), y + rnd.randint(1, max(1, h // 3))),
                     fill=tuple(rnd.randrange(256) for _ in range(3)))
    draw.text((10, 10), f"photo {seed}", fill=(255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, fmt, **({"quality": 88} if fmt == "JPEG" else {}))
    return buf.getvalue()


def _as_list(v) -> list[bytes]:
    return list(v) if isinstance(v, (list, tuple)) else [v]


def _ext(data: bytes) -> str:
    return "png" if data.startswith(b"\x89PNG") else "gif" if data.startswith(b"GIF") else \
        "bmp" if data.startswith(b"BM") else "jpeg"


def _workbook(path: Path, n: int, customers: int = 3):
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("隐患台账")
    date = wb.add_format({"num_format": "yyyy-mm-dd"})
    ws.write_row(0, 0, HEADERS)
    for r, row in enumerate(hazard_rows(n, customers), start=1):
        for c, v in enumerate(row):
            if isinstance(v, dt.date):
                ws.write_datetime(r, c, dt.datetime.combine(v, dt.time()), date)
            elif v is not None:
                ws.write(r, c, v)
    ws.set_column(PHOTO_COL, PHOTO_COL, 20)
    return wb, ws


def floating_register(path: Path, n: int, pictures: dict[int, bytes | list[bytes]],
                      extra: list[tuple[int, int, bytes]] = (), customers: int = 3) -> Path:
    """Kind 1: pictures inserted over the 隐患照片 cell of their hazard's row (xlsxwriter insert_image)."""
    wb, ws = _workbook(path, n, customers)
    for i, datas in pictures.items():
        for k, data in enumerate(_as_list(datas)):
            ws.insert_image(i + 1, PHOTO_COL + k, f"p{i}_{k}.{_ext(data)}",
                            {"image_data": io.BytesIO(data), "x_scale": 0.1, "y_scale": 0.1})
    for row, col, data in extra:
        ws.insert_image(row, col, f"x{row}_{col}.{_ext(data)}", {"image_data": io.BytesIO(data)})
    wb.close()
    return path


def hostile_register(path: Path, n: int, pictures: dict[int, bytes],
                     extra: list[tuple[int, int, bytes]] = ()) -> Path:
    """Kind 1 with any bytes as the pictures (xlsxwriter refuses to insert a broken picture itself):
    distinct placeholders are inserted, then their media parts are overwritten with `pictures`' bytes."""
    placed = [(i + 1, PHOTO_COL, data) for i, data in pictures.items()] + list(extra)
    wb, ws = _workbook(path, n)
    for k, (row, col, _data) in enumerate(placed):
        ws.insert_image(row, col, f"h{k}.png", {"image_data": io.BytesIO(photo(1000 + k, (16, 12), "PNG"))})
    wb.close()
    with zipfile.ZipFile(path) as zf:
        old = {i.filename: zf.read(i) for i in zf.infolist()}
    for k, (_row, _col, data) in enumerate(placed, start=1):  # xlsxwriter numbers media in insertion order
        assert f"xl/media/image{k}.png" in old
        old[f"xl/media/image{k}.png"] = data
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in old.items():  # pictures stored as they are (a deflated PNG bomb is a zip bomb,
            # which the reader rejects before any picture is looked at)
            zf.writestr(name, data, zipfile.ZIP_STORED if name.startswith("xl/media/") else zipfile.ZIP_DEFLATED)
    return path


def openpyxl_register(path: Path, n: int, pictures: dict[int, bytes]) -> Path:
    """Kind 1 as openpyxl writes it (ws.add_image: a oneCellAnchor), for a writer other than xlsxwriter."""
    import openpyxl
    from openpyxl.drawing.image import Image as XLImage

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "隐患台账"
    ws.append(HEADERS)
    for row in hazard_rows(n):
        ws.append(row)
    for i, data in pictures.items():
        img = XLImage(io.BytesIO(data))
        img.width, img.height = 120, 90
        ws.add_image(img, f"{chr(65 + PHOTO_COL)}{i + 2}")
    wb.save(path)
    return path


def excel_register(path: Path, n: int, pictures: dict[int, bytes]) -> Path:
    """Kind 3: Excel 365 pictures placed in cells (xlsxwriter embed_image: richData + vm)."""
    wb, ws = _workbook(path, n)
    for i, data in pictures.items():
        ws.embed_image(i + 1, PHOTO_COL, f"p{i}.{_ext(data)}", {"image_data": io.BytesIO(data)})
    wb.close()
    return path


WPS_REL = "http://www.wps.cn/officeDocument/2020/cellImage"
_CELL_IMAGES_HEAD = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                     '<etc:cellImages xmlns:xdr="http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing" '
                     'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" '
                     'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
                     'xmlns:etc="http://www.wps.cn/officeDocument/2017/etCustomData">')
_CELL_IMAGE = ('<etc:cellImage><xdr:pic><xdr:nvPicPr><xdr:cNvPr id="{id}" name="{name}" descr="照片"/>'
               '<xdr:cNvPicPr><a:picLocks noChangeAspect="1"/></xdr:cNvPicPr></xdr:nvPicPr><xdr:blipFill>'
               '<a:blip r:embed="rId{id}"/><a:stretch><a:fillRect/></a:stretch></xdr:blipFill><xdr:spPr><a:xfrm>'
               '<a:off x="0" y="0"/><a:ext cx="1905000" cy="1428750"/></a:xfrm><a:prstGeom prst="rect"><a:avLst/>'
               '</a:prstGeom></xdr:spPr></xdr:pic></etc:cellImage>')


def wps_register(path: Path, n: int, pictures: dict[int, bytes], *, dangling: list[int] = ()) -> Path:
    """Kind 2: WPS cell pictures (嵌入单元格图片). `dangling` hazards get a DISPIMG whose picture is missing."""
    wb, ws = _workbook(path, n)
    ids = {i: f"ID_{i:04d}A1B2C3D4E5F6A7B8C9D0E1F2A3B4C5" for i in list(pictures) + list(dangling)}
    for i, image_id in ids.items():
        formula = f'=_xlfn.DISPIMG("{image_id}",1)'
        ws.write_formula(i + 1, PHOTO_COL, formula, None, f'=DISPIMG("{image_id}",1)')
    wb.close()
    parts: dict[str, bytes] = {}
    body, rels = [], []
    for k, (i, data) in enumerate(pictures.items(), start=1):
        media = f"media/cellimage{k}.{_ext(data)}"
        parts[f"xl/{media}"] = data
        body.append(_CELL_IMAGE.format(id=k, name=ids[i]))
        rels.append(f'<Relationship Id="rId{k}" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                    f'relationships/image" Target="{media}"/>')
    parts["xl/cellimages.xml"] = (_CELL_IMAGES_HEAD + "".join(body) + "</etc:cellImages>").encode()
    parts["xl/_rels/cellimages.xml.rels"] = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.'
        'openxmlformats.org/package/2006/relationships">' + "".join(rels) + "</Relationships>").encode()
    _add_parts(path, parts, workbook_rel=(WPS_REL, "cellimages.xml"),
               content_types=['<Override PartName="/xl/cellimages.xml" ContentType="application/vnd.wps-officedocument'
                              '.cellimage+xml"/>', '<Default Extension="jpeg" ContentType="image/jpeg"/>',
                              '<Default Extension="png" ContentType="image/png"/>'])
    return path


def _add_parts(path: Path, parts: dict[str, bytes], *, workbook_rel: tuple[str, str] | None = None,
               content_types: list[str] = ()) -> None:
    """Rewrite the zip at `path` with `parts` added (and a workbook relationship / content types)."""
    with zipfile.ZipFile(path) as zf:
        old = {i.filename: zf.read(i) for i in zf.infolist()}
    if workbook_rel:
        rels = old["xl/_rels/workbook.xml.rels"].decode()
        rels = rels.replace("</Relationships>", f'<Relationship Id="rId900" Type="{workbook_rel[0]}" '
                                                f'Target="{workbook_rel[1]}"/></Relationships>')
        old["xl/_rels/workbook.xml.rels"] = rels.encode()
    if content_types:
        ct = old["[Content_Types].xml"].decode()
        for entry in content_types:
            ext = entry.split('Extension="')[1].split('"')[0] if "Extension=" in entry else None
            if ext and f'Extension="{ext}"' in ct:
                continue
            ct = ct.replace("</Types>", entry + "</Types>")
        old["[Content_Types].xml"] = ct.encode()
    old.update(parts)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in old.items():
            zf.writestr(name, data)


# ---- hostile pictures -----------------------------------------------------------------------------
@functools.lru_cache(maxsize=2)
def png_bomb(width: int = 20_000, height: int = 20_000) -> bytes:
    """A real PNG of width × height grey pixels, all zero: ~400 MB of pixels in a few hundred kB."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    comp = zlib.compressobj(1)
    row = b"\x00" * (width + 1)  # filter byte + one byte per pixel
    out = []
    for _ in range(0, height, 500):
        out.append(comp.compress(row * 500))
    out.append(comp.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"".join(out)) + chunk(b"IEND", b"")


def truncated_jpeg(seed: int = 99) -> bytes:
    data = photo(seed)
    return data[: len(data) // 2]
