"""Pictures of a register (隐患照片), read in the parser child process under the same guards as cells.

Clerks put a hazard's photo into its row in three ways, and all three are read here:

1. floating pictures (Insert > Picture in Excel and WPS): `xl/drawings/drawingN.xml`, a `oneCellAnchor`
   or `twoCellAnchor` whose `from` cell is in the hazard's row;
2. WPS cell pictures (嵌入单元格图片): the cell holds `=DISPIMG("ID_…",1)` (`_xlfn.DISPIMG` in the file)
   and the picture lives in `xl/cellimages.xml`, which the workbook reaches by the relationship type
   `http://www.wps.cn/officeDocument/2020/cellImage`;
3. Excel 365 pictures placed in cells: the cell's `vm` attribute → `xl/metadata.xml` → a `_localImage`
   rich value in `xl/richData/` → the picture.

Each picture is decoded with Pillow (PNG, JPEG, GIF, BMP only; decompression-bomb limit from its header
before a pixel is decoded) and kept as a JPEG rendition whose longest side is at most `RENDITION_PX`,
so nothing downstream (store, deck, bulletins) ever decodes a county's file again. A picture that cannot
be read is a warning at its cell; nothing here rejects a register or raises for a bad file
(`read_pictures` catches everything and says so in one warning).
"""

from __future__ import annotations

import hashlib
import io
import posixpath
import re
import time
import warnings
import zipfile
from dataclasses import dataclass, field
from typing import Any

from hazardnet.intake.findings import WARNING, Finding, cell_ref, file_finding

__all__ = ["Picture", "PictureScan", "PhotoLimits", "read_pictures", "xls_scan", "attach_pictures",
           "RENDITION_PX", "PHOTO_FIELD"]

RENDITION_PX = 1024  # longest side of the stored JPEG: sharp on a slide, small in an emailed workbook
JPEG_QUALITY = 82
PHOTO_FIELD = "隐患照片"
FORMATS = ("PNG", "JPEG", "GIF", "BMP")

# ---- warnings (one sentence each, for a county clerk) ------------------------------------------
W_UNSUPPORTED = "图片格式{fmt}不受支持（仅支持 PNG、JPEG、GIF、BMP），该图片未导入；请另存为 JPG 图片后重新插入。"
W_BROKEN = "图片已损坏或不完整，无法读取，该图片未导入；请重新插入原始照片。"
W_PIXELS = ("图片尺寸过大（{w}×{h} 像素，超过 {limit:,} 像素的上限），可能是恶意构造的图片，未导入；"
            "请缩小后重新插入。")
W_PIXEL_COUNT = "图片像素过多（{n:,} 像素，超过 {limit:,} 像素的上限），可能是恶意构造的图片，未导入；请缩小后重新插入。"
W_TOO_BIG = "图片文件过大（{mb:.1f} MB，超过 {limit} MB 的上限），未导入；请压缩后重新插入。"
W_TOO_MANY = "文件中的图片有 {n} 张，超过每个文件 {limit} 张的上限，从第 {first} 张起的图片未导入。"
W_TOTAL = "文件中的图片总大小超过 {limit} MB 的上限，其余图片未导入。"
W_SLOW = "读取图片耗时过长，其余图片未导入（台账数据不受影响）。"
W_LINKED = "图片链接到文件外部，没有嵌入台账，未导入；请用“插入图片”把照片放进文件。"
W_MISSING = "单元格引用的图片在文件中找不到（{ref}），未导入。"
W_FAILED = "读取文件中的图片时出错，图片均未导入（台账数据不受影响）。"
W_NOT_IN_ROW = ("图片所在的行（第 {row} 行）不是任何一条隐患记录，无法确定属于哪条隐患，未导入；"
                "请把照片放在该隐患所在行的单元格内。")
W_XLS = ("这是 .xls 格式的台账，其中的图片（隐患照片）无法读取，已只导入文字内容；"
         "如需上报照片，请在 Excel 或 WPS 中另存为 .xlsx 格式后报送。")

_WPS_CELL_IMAGE = "http://www.wps.cn/officeDocument/2020/cellImage"
_DISPIMG = re.compile(r"DISPIMG\(\s*\"([^\"]{1,200})\"")
_CELL = re.compile(r"([A-Za-z]{1,3})(\d{1,7})$")
_MAGIC = ((b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF87a", "GIF"), (b"GIF89a", "GIF"),
          (b"BM", "BMP"), (b"RIFF", "WEBP"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"),
          (b"\x01\x00\x00\x00", "EMF"), (b"\xd7\xcd\xc6\x9a", "WMF"), (b"<svg", "SVG"), (b"<?xml", "SVG"))


@dataclass(frozen=True)
class PhotoLimits:
    """Caps for one file's pictures (from Settings; plain values so the child process gets them pickled)."""

    max_photos: int = 1000
    max_photo_mb: int = 20  # one picture, as stored in the file
    max_total_mb: int = 200  # all pictures of one file
    max_pixels: int = 50_000_000  # width × height from the header, checked before decoding (bombs)
    time_budget_s: float = 60.0  # pictures stop being read after this (the file's own timeout is larger)

    @classmethod
    def from_settings(cls, settings: Any) -> PhotoLimits:
        return cls(max_photos=settings.max_photos, max_photo_mb=settings.max_photo_mb,
                   max_total_mb=settings.max_photos_total_mb, max_pixels=settings.max_photo_pixels,
                   time_budget_s=max(1.0, settings.parse_timeout_s / 3))


@dataclass(frozen=True)
class Picture:
    """One picture placed in a cell: where (sheet, 0-based row/col), how, and its JPEG rendition.

    `sha256` is the hash of the picture's bytes as stored in the register (its identity: the same photo
    inserted again is the same picture); `jpeg` the rendition every output uses."""

    sheet: str
    row: int
    col: int
    kind: str  # "floating" | "wps" | "excel"
    sha256: str
    jpeg: bytes
    width: int  # of the original
    height: int
    source_format: str
    source_bytes: int

    @property
    def cell(self) -> str:
        return cell_ref(self.row, self.col)


@dataclass
class PictureScan:
    """Every readable picture of a workbook and a warning for each one that is not."""

    pictures: list[Picture] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def xls_scan() -> PictureScan:
    """A legacy .xls register: its pictures are not read, and the county is told so once."""
    return PictureScan([], [file_finding(W_XLS, level=WARNING)])


def attach_pictures(scan: PictureScan | None, sheet: str, rows: list[int],
                    hazard_ids: list[str]) -> tuple[list[tuple[str, Picture]], list[Finding]]:
    """Pair each picture of the register sheet with the hazard of its row.

    `rows` are the 0-based grid rows of the register's hazards and `hazard_ids` their ids, in the same
    order. Returns ([(hazard_id, picture)] in sheet order, findings): the scan's own warnings plus one
    for each picture on the register sheet outside every hazard row. Pictures on other sheets (a logo on
    a 填写说明 sheet) are ignored."""
    if scan is None:
        return [], []
    findings = list(scan.findings)
    by_row = dict(zip(rows, hazard_ids))
    linked: list[tuple[str, Picture]] = []
    seen: set[tuple[str, str]] = set()
    for pic in sorted(scan.pictures, key=lambda p: (p.row, p.col)):
        if pic.sheet != sheet:
            continue
        hazard = by_row.get(pic.row)
        if hazard is None:
            findings.append(_warn(pic.sheet, pic.row, pic.col, W_NOT_IN_ROW.format(row=pic.row + 1)))
            continue
        if (hazard, pic.sha256) in seen:  # the same photo twice in one row counts once
            continue
        seen.add((hazard, pic.sha256))
        linked.append((hazard, pic))
    return linked, findings


# ---- reading a workbook's pictures -------------------------------------------------------------
def read_pictures(path: str, limits: PhotoLimits) -> PictureScan:
    """Every picture of an .xlsx file with the cell it sits in. Never raises for a bad file."""
    scan = PictureScan()
    try:
        with zipfile.ZipFile(path) as zf:
            _Reader(zf, limits, scan).run()
    except MemoryError:
        scan.pictures.clear()  # give the memory back before anything else is tried
        scan.findings.append(file_finding(W_FAILED, level=WARNING))
    except Exception:  # noqa: BLE001 - a hostile file must never cost the register its cells
        scan.findings.append(file_finding(W_FAILED, level=WARNING))
    return scan


class _Stop(Exception):
    """A cap was reached: the pictures read so far are kept."""


@dataclass
class _Placement:
    sheet: str
    row: int
    col: int
    kind: str
    part: str | None  # zip member of the picture; None: `problem` says why there is none
    problem: str | None = None


class _Reader:
    def __init__(self, zf: zipfile.ZipFile, limits: PhotoLimits, scan: PictureScan):
        self.zf = zf
        self.limits = limits
        self.scan = scan
        self.names = {i.filename.lower(): i for i in zf.infolist() if not i.is_dir()}
        self.started = time.monotonic()
        self.total_bytes = 0
        self.decoded: dict[str, tuple[Picture | None, str | None]] = {}  # part -> (template, problem)
        self.rels_of: dict[str, dict[str, tuple[str, str, bool]]] = {}

    # -- parts and relationships
    def _info(self, part: str) -> zipfile.ZipInfo | None:
        return self.names.get(part.lower().lstrip("/"))

    def _xml(self, part: str):
        from defusedxml.ElementTree import fromstring

        info = self._info(part)
        if info is None:
            return None
        with self.zf.open(info) as fh:
            data = fh.read(16 << 20)  # a drawing or relationship part is kilobytes; more is not Office's
        return fromstring(data, forbid_dtd=True)

    def _rels(self, part: str) -> dict[str, tuple[str, str, bool]]:
        """rId -> (type, target part, external) of a part's relationships (read once per part)."""
        if part not in self.rels_of:
            self.rels_of[part] = self._read_rels(part)
        return self.rels_of[part]

    def _read_rels(self, part: str) -> dict[str, tuple[str, str, bool]]:
        folder, name = posixpath.split(part)
        root = self._xml(posixpath.join(folder, "_rels", name + ".rels"))
        out: dict[str, tuple[str, str, bool]] = {}
        if root is None:
            return out
        for rel in root:
            if _local(rel.tag) != "Relationship":
                continue
            rid, typ, target = rel.get("Id"), rel.get("Type", ""), rel.get("Target", "")
            external = rel.get("TargetMode", "") == "External"
            if rid:
                out[rid] = (typ, target if external else _resolve(folder, target), external)
        return out

    def _sheets(self) -> list[tuple[str, str]]:
        """(sheet name, worksheet part) in workbook order."""
        root = self._xml("xl/workbook.xml")
        rels = self._rels("xl/workbook.xml")
        out = []
        if root is None:
            return out
        for el in root.iter():
            if _local(el.tag) == "sheet":
                rid = _attr(el, "id")
                if rid in rels and rels[rid][0].endswith("/worksheet"):
                    out.append((el.get("name", ""), rels[rid][1]))
        return out

    # -- the run
    def run(self) -> None:
        from PIL import Image

        Image.MAX_IMAGE_PIXELS = self.limits.max_pixels  # Pillow's own bomb check, as a second line
        wb_rels = self._rels("xl/workbook.xml")
        cell_images = self._wps_cell_images(wb_rels)
        rich_images = self._rich_images(wb_rels)
        placements: list[_Placement] = []
        for name, part in self._sheets():
            placements += self._floating(name, part)
            if cell_images or rich_images:
                placements += self._in_cells(name, part, cell_images, rich_images)
        if len(placements) > self.limits.max_photos:
            self.scan.findings.append(file_finding(W_TOO_MANY.format(
                n=len(placements), limit=self.limits.max_photos, first=self.limits.max_photos + 1), level=WARNING))
            del placements[self.limits.max_photos:]
        try:
            for p in placements:
                self._take(p)
        except _Stop:
            pass

    def _floating(self, sheet: str, part: str) -> list[_Placement]:
        out = []
        for typ, drawing, external in self._rels(part).values():
            if external or not typ.endswith("/drawing"):
                continue
            root = self._xml(drawing)
            if root is None:
                continue
            rels = self._rels(drawing)
            for anchor in _anchors(root):
                pics = [el for el in anchor.iter() if _local(el.tag) == "pic"]
                if not pics:
                    continue  # a chart, a shape, a text box
                start = next((el for el in anchor if _local(el.tag) == "from"), None)
                if start is None:  # absoluteAnchor: not in any cell
                    row, col = -1, 0
                else:
                    row, col = _int_child(start, "row"), _int_child(start, "col")
                for pic in pics:
                    out.append(self._blip_placement(pic, rels, sheet, row, col, "floating"))
        return out

    def _blip_placement(self, pic, rels, sheet: str, row: int, col: int, kind: str) -> _Placement:
        blip = next((el for el in pic.iter() if _local(el.tag) == "blip"), None)
        rid = None if blip is None else (_attr(blip, "embed") or _attr(blip, "link"))
        target = rels.get(rid or "")
        if target is None:
            return _Placement(sheet, row, col, kind, None, W_MISSING.format(ref=rid or "无引用"))
        if target[2] or (blip is not None and not _attr(blip, "embed")):
            return _Placement(sheet, row, col, kind, None, W_LINKED)
        return _Placement(sheet, row, col, kind, target[1])

    def _wps_cell_images(self, wb_rels) -> dict[str, str | None]:
        """WPS: picture name ("ID_…") -> its part (None: the entry names no embedded picture)."""
        out: dict[str, str | None] = {}
        parts = [t for typ, t, ext in wb_rels.values() if not ext and (typ == _WPS_CELL_IMAGE
                                                                          or typ.endswith("/cellImage"))]
        if not parts and self._info("xl/cellimages.xml") is not None:
            parts = ["xl/cellimages.xml"]  # some WPS versions forget the relationship
        for part in parts:
            root = self._xml(part)
            if root is None:
                continue
            rels = self._rels(part)
            for cell_image in root:
                for pic in (el for el in cell_image.iter() if _local(el.tag) == "pic"):
                    names = [el.get("name") for el in pic.iter() if _local(el.tag) == "cNvPr"]
                    if not names or not names[0]:
                        continue
                    placement = self._blip_placement(pic, rels, "", 0, 0, "wps")
                    out[names[0]] = placement.part
        return out

    def _rich_images(self, wb_rels) -> dict[int, str | None]:
        """Excel 365: value-metadata index (the cell's vm, 1-based) -> picture part."""
        parts = {typ.rsplit("/", 1)[-1]: t for typ, t, ext in wb_rels.values() if not ext}
        meta_part = parts.get("sheetMetadata")
        rv_part = parts.get("rdRichValue")
        rel_part = parts.get("richValueRel")
        if not (meta_part and rv_part and rel_part):
            return {}
        structures = self._xml(parts.get("rdRichValueStructure", "")) if parts.get("rdRichValueStructure") else None
        image_structs: dict[int, int] = {}  # structure index -> position of _rvRel:LocalImageIdentifier
        if structures is not None:
            for i, s in enumerate(el for el in structures if _local(el.tag) == "s"):
                if s.get("t") == "_localImage":
                    keys = [k.get("n") for k in s if _local(k.tag) == "k"]
                    if "_rvRel:LocalImageIdentifier" in keys:
                        image_structs[i] = keys.index("_rvRel:LocalImageIdentifier")
        rel_root = self._xml(rel_part)
        rel_rels = self._rels(rel_part)
        rel_targets: list[str | None] = []
        if rel_root is not None:
            for rel in (el for el in rel_root if _local(el.tag) == "rel"):
                t = rel_rels.get(_attr(rel, "id") or "")
                rel_targets.append(None if t is None or t[2] else t[1])
        rv_root = self._xml(rv_part)
        rich: list[str | None] = []
        if rv_root is not None:
            for rv in (el for el in rv_root if _local(el.tag) == "rv"):
                pos = image_structs.get(_int(rv.get("s")), 0 if not image_structs else None)
                values = [v.text for v in rv if _local(v.tag) == "v"]
                target = None
                if pos is not None and pos < len(values):
                    n = _int(values[pos])
                    if 0 <= n < len(rel_targets):
                        target = rel_targets[n]
                rich.append(target)
        meta = self._xml(meta_part)
        if meta is None:
            return {}
        types = [el.get("name") for el in meta.iter() if _local(el.tag) == "metadataType"]
        future: list[int] = []  # XLRICHVALUE future-metadata block -> rich value index
        for fm in (el for el in meta if _local(el.tag) == "futureMetadata" and el.get("name") == "XLRICHVALUE"):
            for bk in (el for el in fm if _local(el.tag) == "bk"):
                rvb = next((el for el in bk.iter() if _local(el.tag) == "rvb"), None)
                future.append(_int(None if rvb is None else rvb.get("i")))
        out: dict[int, str | None] = {}
        for vm in (el for el in meta if _local(el.tag) == "valueMetadata"):
            for i, bk in enumerate(el for el in vm if _local(el.tag) == "bk"):
                rc = next((el for el in bk if _local(el.tag) == "rc"), None)
                if rc is None:
                    continue
                t, v = _int(rc.get("t")), _int(rc.get("v"))
                if not (1 <= t <= len(types)) or types[t - 1] != "XLRICHVALUE" or not 0 <= v < len(future):
                    continue
                index = future[v]
                out[i + 1] = rich[index] if 0 <= index < len(rich) else None
        return out

    def _in_cells(self, sheet: str, part: str, cell_images: dict[str, str | None],
                  rich_images: dict[int, str | None]) -> list[_Placement]:
        """Cells holding a WPS DISPIMG formula or an Excel rich-value picture, streamed from the sheet XML."""
        from defusedxml.ElementTree import iterparse

        info = self._info(part)
        if info is None:
            return []
        out = []
        row = col = -1
        seen = 0
        with self.zf.open(info) as fh:
            for event, el in iterparse(fh, events=("start", "end"), forbid_dtd=True):
                tag = _local(el.tag)
                if event == "start":
                    if tag == "row":
                        row = _int(el.get("r"), row + 2) - 1
                        col = -1
                    elif tag == "c":
                        ref = _CELL.match(el.get("r") or "")
                        row, col = (int(ref.group(2)) - 1, _col(ref.group(1))) if ref else (row, col + 1)
                    continue
                if tag == "c":
                    seen += 1
                    if seen % 4096 == 0:
                        self._check_time()
                    vm = el.get("vm")
                    if vm is not None and rich_images:
                        n = _int(vm)
                        if n in rich_images:
                            target = rich_images[n]
                            out.append(_Placement(sheet, row, col, "excel", target,
                                                  None if target else W_MISSING.format(ref=f"vm={vm}")))
                    if cell_images:
                        text = " ".join(child.text or "" for child in el if _local(child.tag) in ("f", "v", "is"))
                        m = _DISPIMG.search(text) if "DISPIMG" in text else None
                        if m:
                            target = cell_images.get(m.group(1))
                            out.append(_Placement(sheet, row, col, "wps", target,
                                                  None if target else W_MISSING.format(ref=m.group(1))))
                    el.clear()
                elif tag == "row":
                    el.clear()
        return out

    # -- one picture
    def _check_time(self) -> None:
        if time.monotonic() - self.started > self.limits.time_budget_s:
            self.scan.findings.append(file_finding(W_SLOW, level=WARNING))
            raise _Stop

    def _take(self, p: _Placement) -> None:
        self._check_time()
        if p.row < 0:
            self.scan.findings.append(Finding(p.sheet, "", PHOTO_FIELD, W_NOT_IN_ROW.format(row="无"),
                                              level=WARNING))
            return
        if p.part is None:
            self.scan.findings.append(_warn(p.sheet, p.row, p.col, p.problem or W_BROKEN))
            return
        key = p.part.lower()
        if key not in self.decoded:
            self.decoded[key] = self._decode(p.part)
        template, problem = self.decoded[key]
        if template is None:
            self.scan.findings.append(_warn(p.sheet, p.row, p.col, problem or W_BROKEN))
            return
        self.scan.pictures.append(Picture(p.sheet, p.row, p.col, p.kind, template.sha256, template.jpeg,
                                          template.width, template.height, template.source_format,
                                          template.source_bytes))

    def _decode(self, part: str) -> tuple[Picture | None, str | None]:
        info = self._info(part)
        if info is None:
            return None, W_MISSING.format(ref=posixpath.basename(part))
        limit = self.limits.max_photo_mb << 20
        if info.file_size > limit:
            return None, W_TOO_BIG.format(mb=info.file_size / (1 << 20), limit=self.limits.max_photo_mb)
        if self.total_bytes + info.file_size > self.limits.max_total_mb << 20:
            self.scan.findings.append(file_finding(W_TOTAL.format(limit=self.limits.max_total_mb), level=WARNING))
            raise _Stop
        with self.zf.open(info) as fh:
            data = fh.read(limit + 1)  # the declared size may lie: read no more than the cap
        self.total_bytes += len(data)
        if len(data) > limit:
            return None, W_TOO_BIG.format(mb=len(data) / (1 << 20), limit=self.limits.max_photo_mb)
        return render(data, self.limits.max_pixels)


def render(data: bytes, max_pixels: int) -> tuple[Picture | None, str | None]:
    """(a Picture template with the JPEG rendition, None) or (None, the warning) for a picture's bytes."""
    from PIL import Image, ImageOps

    sniffed = _sniff(data)
    if sniffed not in FORMATS:
        fmt = f"（{sniffed}）" if sniffed else ""
        return None, W_UNSUPPORTED.format(fmt=fmt)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=list(FORMATS)) as img:
                width, height = img.size
                if width * height > max_pixels or width <= 0 or height <= 0:
                    return None, W_PIXELS.format(w=width, h=height, limit=max_pixels)
                source_format = img.format or sniffed
                if source_format == "JPEG":
                    img.draft("RGB", (RENDITION_PX, RENDITION_PX))  # decode at 1/2..1/8 scale: fast, small
                img.load()
                out = ImageOps.exif_transpose(img) if source_format == "JPEG" else img
                out = _flatten(out)
                out.thumbnail((RENDITION_PX, RENDITION_PX), Image.Resampling.LANCZOS)
                buf = io.BytesIO()
                out.save(buf, "JPEG", quality=JPEG_QUALITY, optimize=True)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:  # Pillow's check, in open()
        m = re.search(r"\((\d+) pixels\)", str(exc))
        return None, W_PIXEL_COUNT.format(n=int(m.group(1)) if m else 0, limit=max_pixels)
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - truncated, corrupt, or a format Pillow cannot decode after all
        return None, W_BROKEN
    return Picture("", 0, 0, "", hashlib.sha256(data).hexdigest(), buf.getvalue(), width, height,
                   source_format, len(data)), None


def _flatten(img):
    """RGB, with transparency laid on white (a PNG screenshot's transparent parts are not black)."""
    from PIL import Image

    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGB", rgba.size, (255, 255, 255))
        white.paste(rgba, mask=rgba.getchannel("A"))
        return white
    return img.convert("RGB")


def _sniff(data: bytes) -> str:
    head = data[:16]
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1"):
        return "HEIC"
    return ""


# ---- small helpers ------------------------------------------------------------------------------
def _warn(sheet: str, row: int, col: int, message: str) -> Finding:
    return Finding(sheet, cell_ref(row, col), PHOTO_FIELD, message, level=WARNING, row=row + 1, col=col + 1)


def _anchors(root):
    """The anchors of a drawing, also those Office wraps in mc:AlternateContent (its first choice only:
    the fallback holds the same picture again)."""
    for el in root:
        tag = _local(el.tag)
        if tag in ("oneCellAnchor", "twoCellAnchor", "absoluteAnchor"):
            yield el
        elif tag == "AlternateContent":
            branch = next(iter(el), None)
            if branch is not None:
                yield from _anchors(branch)


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _attr(el, name: str) -> str | None:
    """An attribute by local name, whatever its namespace (r:id, r:embed in strict or transitional OOXML)."""
    for key, value in el.attrib.items():
        if _local(key) == name:
            return value
    return None


def _int(text: Any, default: int = -1) -> int:
    try:
        return int(str(text).strip())
    except (TypeError, ValueError):
        return default


def _int_child(el, name: str) -> int:
    child = next((c for c in el if _local(c.tag) == name), None)
    return _int(None if child is None else child.text)


def _col(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n - 1


def _resolve(folder: str, target: str) -> str:
    """A relationship target as a zip member name (relative to the source part's folder, or absolute)."""
    if target.startswith("/"):
        return posixpath.normpath(target.lstrip("/"))
    return posixpath.normpath(posixpath.join(folder, target))
