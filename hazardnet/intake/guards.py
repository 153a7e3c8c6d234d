"""Before any parser sees a file: its kind sniffed from its content, never its name, and a zip container
checked in this process — size, integrity, declared uncompressed size and compression ratio (zip bombs),
DTD/entity declarations in any XML part (billion laughs, external entities) and the cell count each
worksheet's <dimension> claims."""

from __future__ import annotations

import codecs
import logging
import os
import re
import stat
import struct
import zipfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the child processes never need pydantic
    from hazardnet.settings import Settings

from hazardnet.intake.grid import (
    _NOT_EXCEL,
    R_BOMB_RATIO,
    R_BOMB_TOTAL,
    R_CANNOT_OPEN,
    R_CORRUPT,
    R_DTD,
    R_EMPTY,
    R_ENCRYPTED,
    R_ENTITIES,
    R_EXTERNAL_ENTITY,
    R_HUGE_DIMENSION,
    R_NOT_A_FILE,
    R_STRUCTURE,
    R_TOO_BIG,
    R_TRUNCATED,
    UnreadableWorkbook,
)

log = logging.getLogger(__name__)


# ---- sniffing ---------------------------------------------------------------------------------
_HEAD_BYTES = 8192
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*",
                b"\x00\x00\x01\x00")
_ARCHIVE_MAGIC = (b"Rar!\x1a\x07", b"7z\xbc\xaf\x27\x1c", b"\x1f\x8b", b"BZh")

# detail (what the file looks like) -> the public kind
_KIND_OF = {"xlsx": "xlsx", "ods": "ods", "xls": "xls", "encrypted": "encrypted", "csv": "csv",
            "pdf": "pdf", "image": "image", "empty": "empty"}


def sniff_kind(path: Path | str) -> str:
    """What the file is, from its content: "xlsx", "xls", "ods", "encrypted", "csv", "pdf", "image",
    "empty" or "unknown". "xlsx" covers every zip that is not an OpenDocument spreadsheet."""
    try:
        return _KIND_OF.get(_identify(Path(path)), "unknown")
    except OSError:
        return "unknown"


def _identify(path: Path) -> str:
    """A finer label than sniff_kind: one of _KIND_OF's keys or a _NOT_EXCEL key."""
    with open(path, "rb") as fh:
        head = fh.read(_HEAD_BYTES)
        if not head:
            return "empty"
        if head.startswith(_ZIP_MAGIC):
            return "ods" if _zip_first_entry_is_ods_mimetype(head) else "xlsx"
        if head.startswith(_OLE_MAGIC):
            return _identify_ole(fh)
    return _identify_other(head)


def _zip_first_entry_is_ods_mimetype(head: bytes) -> bool:
    # An OpenDocument file starts with a stored entry "mimetype" holding its media type.
    if len(head) < 30:
        return False
    name_len, extra_len = struct.unpack_from("<HH", head, 26)
    if head[30:30 + name_len] != b"mimetype":
        return False
    start = 30 + name_len + extra_len
    return head[start:start + len(_ODS_MIMETYPE)] == _ODS_MIMETYPE


def _identify_ole(fh) -> str:
    """An OLE2 compound file is a legacy .xls, an encrypted OOXML workbook, or another Office file."""
    try:
        names = _ole_entry_names(fh)
    except (ValueError, struct.error, OSError, IndexError):
        return "xls"  # a damaged container: let calamine try, in the child, and say what it finds
    if names & {"EncryptedPackage", "EncryptionInfo"}:
        return "encrypted"
    if names & {"Workbook", "Book"}:
        return "xls"
    if "WordDocument" in names:
        return "word"
    if "PowerPoint Document" in names:
        return "powerpoint"
    return "xls"


_OLE_LAST_SECTOR = 0xFFFFFFFA  # sector numbers at or above this are markers (end of chain, free, ...)


def _ole_entry_names(fh) -> set[str]:
    """Names of the storages and streams in an OLE2 compound file (bounded; raises ValueError)."""
    fh.seek(0, os.SEEK_END)
    size = fh.tell()
    fh.seek(0)
    header = fh.read(512)
    if len(header) < 512:
        raise ValueError("short OLE header")
    shift = struct.unpack_from("<H", header, 0x1E)[0]
    if shift not in (9, 12):
        raise ValueError("bad sector size")
    sector = 1 << shift
    per_sector = sector // 4
    num_fat, first_dir = struct.unpack_from("<II", header, 0x2C)
    first_difat, num_difat = struct.unpack_from("<II", header, 0x44)

    def read_sector(n: int) -> bytes:
        offset = (n + 1) << shift
        if n >= _OLE_LAST_SECTOR or offset + sector > size:
            raise ValueError("sector out of range")
        fh.seek(offset)
        return fh.read(sector)

    difat = list(struct.unpack_from("<109I", header, 0x4C))
    n, hops = first_difat, 0
    while n < _OLE_LAST_SECTOR and hops < min(num_difat, 4096):
        entries = struct.unpack(f"<{per_sector}I", read_sector(n))
        difat.extend(entries[:-1])
        n, hops = entries[-1], hops + 1
    fat_sectors = [s for s in difat[:num_fat] if s < _OLE_LAST_SECTOR]

    def next_sector(n: int) -> int:
        index, slot = divmod(n, per_sector)
        if index >= len(fat_sectors):
            raise ValueError("FAT too short")
        return struct.unpack_from("<I", read_sector(fat_sectors[index]), slot * 4)[0]

    names: set[str] = set()
    n, hops = first_dir, 0
    while n < _OLE_LAST_SECTOR and hops < 4096:
        data = read_sector(n)
        for off in range(0, sector, 128):
            name_len = struct.unpack_from("<H", data, off + 64)[0]
            if data[off + 66] in (1, 2, 5) and 2 <= name_len <= 64:
                names.add(data[off:off + name_len - 2].decode("utf-16-le", "replace"))
        n, hops = next_sector(n), hops + 1
    return names


def _identify_other(head: bytes) -> str:
    if b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(_IMAGE_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP") \
            or head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypavif") \
            or (head[:2] == b"BM" and b"\x00" in head[:64]):
        return "image"
    if head.startswith(_ARCHIVE_MAGIC):
        return "archive"
    if head.startswith(b"PK\x05\x06") or head.startswith(b"PK\x07\x08"):
        return "zip"
    text = _as_text(head)
    if text is None:
        return "unknown"
    stripped = text.lstrip("\ufeff \t\r\n").lower()
    if stripped.startswith("<") or stripped.startswith("mime-version:"):
        if "urn:schemas-microsoft-com:office:spreadsheet" in stripped:
            return "xml2003"
        if any(tag in stripped for tag in ("<html", "<!doctype html", "<table", "mime-version:")):
            return "html"
        return "xml"
    lines = [line for line in text.splitlines()[:20] if line.strip()]
    if lines and any(sep in line for line in lines for sep in (",", "\t", ";", "，")):
        return "csv"
    return "text"


def _as_text(head: bytes) -> str | None:
    """The head of a text file decoded, or None for binary content."""
    for bom, enc in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if head.startswith(bom):
            return head[len(bom):len(bom) + (len(head) - len(bom)) // 2 * 2].decode(enc, "replace")
    if b"\x00" in head:
        return None
    for enc in ("utf-8", "gb18030"):
        try:
            return codecs.getincrementaldecoder(enc)().decode(head)  # a cut multibyte char is fine
        except UnicodeDecodeError:
            continue
    return None


# ---- checks before parsing (in this process, cheap) --------------------------------------------
_MAX_ZIP_ENTRIES = 10_000
_RATIO_MIN_BYTES = 1 << 20  # tiny parts compress absurdly well for innocent reasons
_PROLOG_LIMIT = 64 << 10  # XML read to find a part's root element; Office writes a ~60-byte prolog
_SHEET_HEAD_LIMIT = 1 << 20  # worksheet XML read looking for <dimension> before <sheetData>
_CHUNK = 16 << 10

_DOCTYPE = re.compile(r"<!DOCTYPE", re.I)
_EXTERNAL = re.compile(r"<!ENTITY\s+(?:%\s*)?\S+\s+(?:SYSTEM|PUBLIC)\b|<!DOCTYPE\s+\S+\s+(?:SYSTEM|PUBLIC)\b", re.I)
_ENTITY = re.compile(r"<!ENTITY", re.I)
_ROOT_NAME = re.compile(r"<(?:[\w.-]+:)?([\w.-]+)")
_SHEET_ROOTS = {"worksheet", "dialogsheet", "macrosheet"}
_SHEET_DATA = re.compile(r"<(?:[\w.-]+:)?sheetData\b")
_DIMENSION = re.compile(r"<(?:[\w.-]+:)?dimension\b[^>]*?\bref\s*=\s*[\"']([^\"']{0,64})[\"']")
_CELL_REF = re.compile(r"\$?([A-Za-z]+)\$?(\d+)")


def _check_before_parsing(path: Path, settings: Settings) -> str:
    """Raise UnreadableWorkbook unless `path` is a workbook calamine may safely be shown; return its kind."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise UnreadableWorkbook(R_CANNOT_OPEN.format(err=exc.strerror or type(exc).__name__)) from None
    if not stat.S_ISREG(st.st_mode):
        raise UnreadableWorkbook(R_NOT_A_FILE)
    if st.st_size > settings.max_file_mb << 20:
        raise UnreadableWorkbook(R_TOO_BIG.format(mb=st.st_size / (1 << 20), limit=settings.max_file_mb))
    try:
        detail = _identify(path)
    except OSError as exc:
        raise UnreadableWorkbook(R_CANNOT_OPEN.format(err=exc.strerror or type(exc).__name__)) from None
    if detail == "empty":
        raise UnreadableWorkbook(R_EMPTY)
    if detail == "encrypted":
        raise UnreadableWorkbook(R_ENCRYPTED)
    if detail in _NOT_EXCEL:
        raise UnreadableWorkbook(_NOT_EXCEL[detail])
    if detail in ("xlsx", "ods"):
        return _check_zip(path, settings)
    return detail  # "xls": a binary format with no zip or XML to abuse; the child's limits guard it


def _check_zip(path: Path, settings: Settings) -> str:
    try:
        with zipfile.ZipFile(path) as zf:
            return _check_zip_parts(zf, settings)
    except UnreadableWorkbook:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, struct.error, OverflowError, KeyError,
            IndexError, UnicodeDecodeError, zipfile.LargeZipFile) as exc:
        log.info("zip check: %s is damaged: %r", path, exc)
        raise UnreadableWorkbook(R_TRUNCATED) from None
    except zlib.error as exc:  # a part that does not inflate
        log.info("zip check: %s is damaged: %r", path, exc)
        raise UnreadableWorkbook(R_CORRUPT) from None
    except (NotImplementedError, RuntimeError):  # an unsupported compression method or zip encryption
        raise UnreadableWorkbook(R_STRUCTURE) from None
    except Exception as exc:  # noqa: BLE001 - a hostile zip must never raise anything else
        log.warning("zip check failed on %s: %r", path, exc)
        raise UnreadableWorkbook(R_STRUCTURE) from None


def _check_zip_parts(zf: zipfile.ZipFile, settings: Settings) -> str:
    infos = [i for i in zf.infolist() if not i.is_dir()]
    if len(infos) > _MAX_ZIP_ENTRIES:
        raise UnreadableWorkbook(R_STRUCTURE)
    if any(i.flag_bits & 0x1 for i in infos):
        raise UnreadableWorkbook(R_ENCRYPTED)
    total = sum(i.file_size for i in infos)
    if total > settings.max_uncompressed_mb << 20:
        raise UnreadableWorkbook(R_BOMB_TOTAL.format(mb=total / (1 << 20), limit=settings.max_uncompressed_mb))
    for i in infos:
        if i.file_size >= _RATIO_MIN_BYTES and i.file_size > settings.max_compression_ratio * max(i.compress_size, 1):
            raise UnreadableWorkbook(R_BOMB_RATIO.format(ratio=i.file_size / max(i.compress_size, 1)))

    names = {i.filename.lower(): i for i in infos}
    if "xl/workbook.xml" in names or "xl/workbook.bin" in names:
        kind = "xlsx"
    elif "mimetype" in names:
        with zf.open(names["mimetype"]) as fh:
            mimetype = fh.read(128)
        if mimetype.startswith(_ODS_MIMETYPE):
            kind = "ods"
        elif mimetype.startswith(b"application/vnd.oasis.opendocument"):
            raise UnreadableWorkbook(_NOT_EXCEL["odf"])
        else:
            raise UnreadableWorkbook(_NOT_EXCEL["zip"])
    elif "word/document.xml" in names:
        raise UnreadableWorkbook(_NOT_EXCEL["word"])
    elif "ppt/presentation.xml" in names:
        raise UnreadableWorkbook(_NOT_EXCEL["powerpoint"])
    else:
        raise UnreadableWorkbook(_NOT_EXCEL["zip"])

    for i in infos:
        _check_part(zf, i, settings)
    if kind == "ods" and "meta-inf/manifest.xml" in names:
        with zf.open(names["meta-inf/manifest.xml"]) as fh:
            if b"encryption-data" in fh.read(_PROLOG_LIMIT):
                raise UnreadableWorkbook(R_ENCRYPTED)
    return kind


def _check_part(zf: zipfile.ZipFile, info: zipfile.ZipInfo, settings: Settings) -> None:
    """Reject DTDs in an XML part's prolog, and worksheets whose <dimension> claims too many cells.

    Whatever the name, any part that starts like XML is checked. A DOCTYPE can only stand before the
    root element, so reading up to the root is enough; only a worksheet is read further, up to
    <sheetData> (its <dimension> must come before it).
    """
    if info.file_size == 0:
        return
    with zf.open(info) as fh:
        first = fh.read(_CHUNK)
        encoding = _xml_encoding(first)
        if encoding is None:
            return  # not XML (a picture, vbaProject.bin, a printer setting...)
        decoder = codecs.getincrementaldecoder(encoding)("replace")
        text = decoder.decode(first)
        eof = len(first) < _CHUNK
        while True:
            root = _root_position(text)
            if root is not None or eof or len(text) > _PROLOG_LIMIT:
                break
            chunk = fh.read(_CHUNK)
            eof = len(chunk) < _CHUNK
            text += decoder.decode(chunk, final=eof)
        # Junk before the root is not XML any parser accepts; check all of it all the same.
        prolog = text if root is None or text[root] != "<" else text[:root]
        if _DOCTYPE.search(prolog) or _ENTITY.search(prolog):
            raise UnreadableWorkbook(R_EXTERNAL_ENTITY if _EXTERNAL.search(text)
                                     else R_ENTITIES if _ENTITY.search(text) else R_DTD)
        if root is None:
            if not eof:
                raise UnreadableWorkbook(R_STRUCTURE)  # 64 KiB of "prolog": nothing Office writes
            return
        m = _ROOT_NAME.match(text, root)
        if not m or m.group(1) not in _SHEET_ROOTS:
            return
        end = _SHEET_DATA.search(text, root)
        while end is None and not eof and len(text) < _SHEET_HEAD_LIMIT:
            chunk = fh.read(_CHUNK)
            eof = len(chunk) < _CHUNK
            searched = max(root, len(text) - 16)  # a tag may straddle two chunks
            text += decoder.decode(chunk, final=eof)
            end = _SHEET_DATA.search(text, searched)
    dim = _DIMENSION.search(text, root, end.start() if end else len(text))
    if dim:
        cells = _range_cells(dim.group(1))
        if cells is not None and cells > settings.max_cells:
            raise UnreadableWorkbook(R_HUGE_DIMENSION.format(ref=dim.group(1), limit=settings.max_cells))


def _xml_encoding(first: bytes) -> str | None:
    """The encoding to read a part with, or None when it does not start like XML."""
    if first.startswith(codecs.BOM_UTF8):
        first = first[3:]
    for bom, enc in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if first.startswith(bom):
            return enc if first[len(bom):].decode(enc, "ignore").lstrip().startswith("<") else None
    if first[:2] == b"<\x00":
        return "utf-16-le"
    if first[:2] == b"\x00<":
        return "utf-16-be"
    return "utf-8" if first.lstrip(b" \t\r\n").startswith(b"<") else None


def _root_position(text: str) -> int | None:
    """Index of the root element's '<' (skipping BOM, whitespace, declaration, PIs, comments), or
    None if `text` ends first. A DOCTYPE also stops the walk: it is at index None (caller rejects)."""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "\ufeff \t\r\n":
            i += 1
        elif text.startswith("<?", i):
            j = text.find("?>", i + 2)
            if j < 0:
                return None
            i = j + 2
        elif text.startswith("<!--", i):
            j = text.find("-->", i + 4)
            if j < 0:
                return None
            i = j + 3
        elif text.startswith("<!", i) or (c == "<" and i + 1 == n):
            return None  # a DOCTYPE (or its start): the caller looks at the prolog
        elif c == "<":
            return i
        else:
            return i  # text before the root: not well-formed, no parser gets past it
    return None


def _range_cells(ref: str) -> int | None:
    """Number of cells an A1-style range such as "A1:XFD1048576" covers, or None if unreadable."""
    corners = []
    for part in ref.split(":")[:2]:
        m = _CELL_REF.fullmatch(part.strip())
        if not m:
            return None
        col = 0
        for ch in m.group(1).upper():
            col = col * 26 + ord(ch) - 64
        corners.append((int(m.group(2)), col))
    if len(corners) == 1:
        return 1
    (r1, c1), (r2, c2) = corners
    return (abs(r2 - r1) + 1) * (abs(c2 - c1) + 1)


