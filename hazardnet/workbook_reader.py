"""Reads untrusted Excel workbooks (.xlsx, .xlsm, .xls, .ods) into plain grids of cell values, safely.

This is the only place the project parses a file a county sent. Every bad file ends in
`UnreadableWorkbook` with one sentence in Chinese for the county clerk; nothing a file contains can
crash, hang or exhaust the process that asked:

1. the kind of file is sniffed from its content, never its name (a CSV, PDF or picture renamed to
   .xlsx, an encrypted workbook, a 0-byte file are named as such);
2. a zip container is checked in this process before any parser sees it: size, integrity, declared
   uncompressed size and compression ratio (zip bombs), DTD/entity declarations in any XML part
   (billion laughs, external entities) and the cell count each worksheet's <dimension> claims;
3. python-calamine then parses it in a child process under an address-space cap and a time limit,
   so a file that makes calamine abort, run out of memory or spin costs that child, not us.
"""

from __future__ import annotations

import atexit
import codecs
import logging
import multiprocessing
import os
import re
import resource
import select
import signal
import stat
import struct
import threading
import time
import zipfile
import zlib
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the child processes never need pydantic
    from .settings import Settings

log = logging.getLogger(__name__)

__all__ = ["SheetGrid", "WorkbookGrid", "Followed", "UnreadableWorkbook", "ReaderUnavailable", "read_workbook",
           "WorkbookReaderPool", "sniff_kind"]


# ---- what callers get -------------------------------------------------------------------------
@dataclass
class SheetGrid:
    """One sheet: cell values row-major from A1 (rows[r][c] is Excel row r+1, column c+1).

    Values are what python-calamine gives (str, float, int, bool, datetime/date/time/timedelta; a
    formula gives its cached value); an empty cell is None. Rows all have the same length; trailing
    empty rows and columns are trimmed. `merged` holds (first_row, first_col, last_row, last_col),
    0-based inclusive (empty where the format does not say, e.g. .ods).
    """

    name: str
    rows: list[list[Any]]
    merged: list[tuple[int, int, int, int]] = field(default_factory=list)
    hidden: bool = False


@dataclass
class WorkbookGrid:
    """Every sheet of a workbook in workbook order, hidden ones included."""

    sheets: list[SheetGrid]


@dataclass
class Followed:
    """What `WorkbookReaderPool.submit(path, then=...)` gives: the follow-up's value, computed in the parser
    process so the grid need not travel; `book` is the grid when the follow-up asked to keep it, or when
    it failed (`error` says how: the caller then does the work itself)."""

    book: WorkbookGrid | None
    value: Any
    error: str | None = None


class UnreadableWorkbook(Exception):
    """A file that is not a readable workbook; `.reason` is one sentence for the county clerk."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ReaderUnavailable(RuntimeError):
    """The parser child processes cannot start (a broken installation, not a bad file)."""


# ---- reasons (one sentence each, for a county clerk) -------------------------------------------
R_EMPTY = "文件是空的（0 字节），请重新报送完整的台账文件。"
R_ENCRYPTED = "文件已加密（设置了打开密码），请取消密码后重新报送。"
R_TRUNCATED = "文件不完整（可能未复制完或已损坏），请重新报送完整的文件。"
R_TOO_BIG = "文件过大（{mb:.0f} MB，超过 {limit} MB 的上限），请删除无关内容后重新报送。"
R_BOMB_TOTAL = "文件解压后过大（约 {mb:.0f} MB，超过 {limit} MB 的上限），可能是恶意构造的“压缩炸弹”，已拒绝解析。"
R_BOMB_RATIO = "文件内部数据的压缩比异常（约 {ratio:.0f}:1），可能是恶意构造的“压缩炸弹”，已拒绝解析。"
R_HUGE_DIMENSION = "工作表声明的数据范围 {ref} 超过 {limit} 个单元格的上限，文件可能被恶意构造，已拒绝解析。"
R_ENTITIES = "文件内部含有 XML 实体定义（可能是恶意构造的“实体膨胀”文件），已拒绝解析。"
R_EXTERNAL_ENTITY = "文件内部引用了外部实体（可能试图读取服务器上的文件），已拒绝解析。"
R_DTD = "文件内部含有 DTD 声明，不是正常的 Excel 文件，已拒绝解析。"
R_STRUCTURE = "文件内部结构异常，不是正常的 Excel 文件，已拒绝解析。"
R_CORRUPT = "文件内容已损坏或格式不受支持，无法读取，请在 Excel 中打开检查并另存为 .xlsx 后重新报送。"
R_CRASHED = "文件无法解析（读取进程异常终止，文件可能过大、已损坏或被恶意构造）。"
R_OUT_OF_MEMORY = "文件无法解析（读取所需内存超过 {mb} MB 的上限，文件可能过大或被恶意构造）。"
R_TIMEOUT = "文件无法解析（超过 {s:g} 秒仍未读完，文件可能过大或被恶意构造）。"
R_CANNOT_OPEN = "文件无法打开（{err}），请重新报送。"
R_TOO_MANY_ROWS = "工作表“{sheet}”有 {rows:,} 行，超过 {limit:,} 行的上限，不是一份县公司隐患台账（文件可能被恶意构造），已拒绝导入。"
R_NOT_A_FILE = "这不是一个普通文件（可能是文件夹或设备），不是 Excel 工作簿。"

_ASK_XLSX = "请报送 Excel 格式（.xlsx）的台账。"
_NOT_EXCEL = {
    "csv": "这是一个 CSV 文本文件，不是 Excel 工作簿，请在 Excel 中另存为 .xlsx 格式后重新报送。",
    "text": f"这是一个纯文本文件，不是 Excel 工作簿，{_ASK_XLSX}",
    "html": "这是一个网页（HTML）文件，不是真正的 Excel 工作簿，请在 Excel 中打开后另存为 .xlsx 格式再报送。",
    "xml2003": "这是 Excel 2003 XML 格式的表格，无法直接读取，请在 Excel 中另存为 .xlsx 格式后重新报送。",
    "xml": f"这是一个 XML 文件，不是 Excel 工作簿，{_ASK_XLSX}",
    "pdf": f"这是一个 PDF 文件，不是 Excel 工作簿，{_ASK_XLSX}",
    "image": f"这是一个图片文件，不是 Excel 工作簿，{_ASK_XLSX}",
    "archive": "这是一个压缩包（RAR/7z/gzip），不是 Excel 工作簿，请解压后报送其中的 Excel 台账。",
    "zip": "这是一个 zip 压缩包，不是 Excel 工作簿，请解压后报送其中的 Excel 台账。",
    "word": f"这是一个 Word 文档，不是 Excel 工作簿，{_ASK_XLSX}",
    "powerpoint": f"这是一个 PowerPoint 演示文稿，不是 Excel 工作簿，{_ASK_XLSX}",
    "odf": f"这是一个 OpenDocument 文字或演示文档，不是电子表格，{_ASK_XLSX}",
    "unknown": "文件内容无法识别，不是 Excel 工作簿（可能已损坏），请重新导出为 .xlsx 格式后报送。",
}

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


# ---- the child process ------------------------------------------------------------------------
def _child_init(memory_mb: int, parent_pid: int | None = None) -> None:
    """Runs once in each worker: cap its address space, no core dumps, leave Ctrl-C to the parent."""
    if parent_pid is not None:
        exit_with_parent(parent_pid)  # before the cap: the watcher thread's stack is allocated now
    os.environ["RUST_BACKTRACE"] = "0"  # an abort should not print a page of Rust frames per file
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = memory_mb << 20
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def exit_with_parent(parent_pid: int) -> None:
    """End this worker when the process that started it dies, even by SIGKILL: an idle worker waits on
    a queue it holds open itself, so it (and the forkserver) would otherwise live on forever."""
    try:
        pidfd = os.pidfd_open(parent_pid)
    except ProcessLookupError:
        os._exit(1)
    except (AttributeError, OSError):  # no pidfd: poll instead
        pidfd = None

    def watch() -> None:
        if pidfd is not None:
            select.select([pidfd], [], [])  # readable once the parent has exited
        else:
            while os.getppid() != 1:
                try:
                    os.kill(parent_pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _limit_cpu(seconds: float) -> None:
    # A per-file CPU budget enforced by the kernel (SIGXCPU kills the worker even inside Rust code,
    # where no Python signal handler would run); the parent's wall-clock watchdog is the other half.
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = int(usage.ru_utime + usage.ru_stime + seconds) + 2
    _old, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


class _TooManyRows(Exception):
    pass


def _parse_in_child(path: str, timeout_s: float, max_rows: int = 0, then: tuple | None = None) -> tuple:
    """("ok", sheets) with sheets as (name, rows, merged, hidden) tuples, or ("bad", reason, detail,
    recycle_worker). With `then` = (function, args): ("ok", sheets or None, value, error) — see `Followed`."""
    from python_calamine import CalamineError, PasswordError

    _limit_cpu(timeout_s)
    try:
        sheets = _read_sheets(path, max_rows)
        if then is None:
            return "ok", sheets
    except _TooManyRows as exc:
        return "bad", exc.args[0], "too many rows", True
    except PasswordError:
        return "bad", R_ENCRYPTED, "PasswordError", False
    except MemoryError:
        return "bad", "memory", "MemoryError", True
    except CalamineError as exc:
        return "bad", R_CORRUPT, f"{type(exc).__name__}: {exc}"[:300], False
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - incl. pyo3's PanicException (a BaseException) when
        # calamine panics on a damaged .xls; a fresh worker follows, in case the panic left a mess
        return "bad", R_CORRUPT, f"{type(exc).__name__}: {exc}"[:300], True
    function, args = then
    try:
        keep_grid, value = function(WorkbookGrid([SheetGrid(*sheet) for sheet in sheets]), *args)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - the follow-up failed, not the file: the caller does it itself
        return "ok", sheets, None, f"{type(exc).__name__}: {exc}"[:300]
    return "ok", sheets if keep_grid else None, value, None


def _read_sheets(path: str, max_rows: int = 0) -> list[tuple]:
    from python_calamine import CalamineError, CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

    sheets = []
    with open(path, "rb") as fh, CalamineWorkbook.from_filelike(fh) as book:  # by content, not name
        for index, meta in enumerate(book.sheets_metadata):
            hidden = meta.visible != SheetVisibleEnum.Visible
            try:
                sheet = book.get_sheet_by_index(index)
            except CalamineError:
                if meta.typ in (SheetTypeEnum.ChartSheet, SheetTypeEnum.Vba):
                    sheets.append((meta.name, [], [], hidden))  # holds no cells anyway
                    continue
                raise
            if max_rows and sheet.height > max_rows:  # before its cells become Python objects
                raise _TooManyRows(R_TOO_MANY_ROWS.format(sheet=meta.name, rows=sheet.height, limit=max_rows))
            rows = _tidy(sheet.to_python(skip_empty_area=False))  # keep A1 at rows[0][0]
            merged = [(r0, c0, r1, c1) for (r0, c0), (r1, c1) in (sheet.merged_cell_ranges or [])]
            sheets.append((meta.name, rows, merged, hidden))
    return sheets


def _tidy(rows: list[list[Any]]) -> list[list[Any]]:
    """Empty cells ("" from calamine) become None; trailing empty rows and columns go."""
    out: list[list[Any]] = []
    last_row, width = -1, 0
    for r, row in enumerate(rows):
        cells = [None if v == "" else v for v in row]
        n = len(cells)
        while n and cells[n - 1] is None:
            n -= 1
        if n:
            last_row = r
            width = max(width, n)
        out.append(cells)
    del out[last_row + 1:]
    for cells in out:
        if len(cells) > width:
            del cells[width:]
        elif len(cells) < width:
            cells.extend([None] * (width - len(cells)))
    return out


# ---- the pool ---------------------------------------------------------------------------------
_RECYCLE_AFTER_BYTES = 16 << 20  # a worker that parsed a big file is replaced, to give back its heap
_CRASH_ATTEMPTS = 2  # a file whose worker died is tried once more alone before it is blamed
_WATCHDOG_TICK_S = 0.5


def _mp_context() -> multiprocessing.context.BaseContext:
    # forkserver: workers fork from a clean single-threaded server that has python_calamine imported,
    # so the parent's threads (Prefect's) are never forked and a worker starts in tens of ms (as any
    # multiprocessing child it re-imports the main module, so scripts need the __main__ guard).
    try:
        ctx = multiprocessing.get_context("forkserver")
    except ValueError:  # pragma: no cover - platforms without fork
        return multiprocessing.get_context("spawn")
    ctx.set_forkserver_preload([__name__, "python_calamine"])
    return ctx


def _failed(exc: BaseException) -> Future:
    future: Future = Future()
    future.set_exception(exc)
    return future


@dataclass
class _Job:
    path: Path
    future: Future
    timeout_s: float
    size: int
    attempts: int = 0
    max_rows: int = 0
    then: tuple | None = None


class _Worker:
    """One child process in its own one-process executor, so a crash or a kill takes only its file."""

    def __init__(self, ctx, memory_mb: int):
        self.executor = ProcessPoolExecutor(1, mp_context=ctx, initializer=_child_init,
                                            initargs=(memory_mb, os.getpid()))
        self.pid: Future = self.executor.submit(os.getpid)
        self.job: _Job | None = None
        self.deadline = 0.0
        self.timed_out = False

    def kill(self) -> bool:
        if not self.pid.done() or self.pid.exception() is not None:
            return False
        try:
            os.kill(self.pid.result(), signal.SIGKILL)
        except ProcessLookupError:
            pass
        return True

    def close(self, wait: bool = False) -> None:
        try:
            self.executor.shutdown(wait=wait, cancel_futures=True)
        except Exception:  # noqa: BLE001 - a broken executor may already be half torn down
            pass


class WorkbookReaderPool:
    """Parses workbooks in `settings.workers` child processes. Thread-safe; use as a context manager.

    `submit(path)` runs the cheap checks right away and returns a Future whose result is a
    WorkbookGrid or whose exception is UnreadableWorkbook, never anything else for a bad file (only
    ReaderUnavailable, when no child process can start at all: a broken installation, not the file).

    Each worker is a one-process ProcessPoolExecutor running one file at a time, so a file that kills
    its worker (abort, memory cap, timeout) takes down nothing but itself: that worker is replaced and
    the file is tried once more alone before it is blamed. Exiting the `with` block waits for the
    files in progress.
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self._memory_mb = settings.parse_memory_mb
        self._ctx = _mp_context()
        self._cond = threading.Condition()
        self._pending: deque[_Job] = deque()
        self._workers: list[_Worker | None] = [None] * max(1, settings.workers)
        self._idle = list(range(len(self._workers)))
        self._busy = 0
        self._closed = False
        self._watchdog: threading.Thread | None = None

    def __enter__(self) -> WorkbookReaderPool:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(cancel_pending=exc_type is not None)

    def submit(self, path: Path, then: tuple | None = None) -> Future:
        """Check `path` and queue it for parsing; the Future gives a WorkbookGrid or UnreadableWorkbook.

        `then` = (function, args): the parser process also calls `function(grid, *args)`, which returns
        (keep_grid, value), and the Future gives a `Followed`. For work on the grid that is bigger to send
        back and forth than to do (checking a register): it runs under the same memory and CPU caps."""
        return self._submit(Path(path), self.settings, then)

    def _submit(self, path: Path, settings: Settings, then: tuple | None = None) -> Future:
        if self._closed:
            raise RuntimeError("WorkbookReaderPool is closed")
        future: Future = Future()
        try:
            _check_before_parsing(path, settings)
            size = path.stat().st_size
        except UnreadableWorkbook as exc:
            future.set_exception(exc)
            return future
        except OSError as exc:
            future.set_exception(UnreadableWorkbook(R_CANNOT_OPEN.format(err=exc.strerror or type(exc).__name__)))
            return future
        with self._cond:
            if self._closed:
                raise RuntimeError("WorkbookReaderPool is closed")
            self._pending.append(_Job(path, future, settings.parse_timeout_s, size,
                                      max_rows=settings.max_rows, then=then))
        self._dispatch()
        return future

    def close(self, cancel_pending: bool = False) -> None:
        """Wait for the files in progress (and queued ones, unless cancel_pending), then stop the workers."""
        with self._cond:
            if cancel_pending:  # a file being retried after a crash is already running: let it finish
                self._pending = deque(j for j in self._pending if not j.future.cancel())
            while self._pending or self._busy:
                self._cond.wait()
            self._closed = True
            workers, self._workers = self._workers, [None] * len(self._workers)
            self._cond.notify_all()
        for w in workers:  # waiting lets the executors' threads finish before an interpreter exit
            if w is not None:
                w.close(wait=True)

    # -- internals: every state change happens under self._cond; executor calls happen outside it
    def _dispatch(self) -> None:
        while True:
            with self._cond:
                if self._closed or not self._pending or not self._idle:
                    return
                job = self._pending.popleft()
                if job.attempts == 0 and not job.future.set_running_or_notify_cancel():
                    continue  # cancelled while queued
                slot = self._idle.pop()
                worker = self._workers[slot]
                job.attempts += 1
                self._busy += 1
                self._start_watchdog()
            self._run(slot, worker, job)

    def _run(self, slot: int, worker: _Worker | None, job: _Job) -> None:
        inner: Future | None = None
        for fresh in (worker is None, True):  # an idle worker may have died meanwhile: one fresh try
            if fresh:
                if worker is not None:
                    worker.close()
                try:  # outside the lock: the very first one also starts the forkserver
                    worker = _Worker(self._ctx, self._memory_mb)
                except Exception as exc:  # noqa: BLE001
                    worker, inner = None, _failed(ReaderUnavailable(f"cannot start a workbook parser: {exc!r}"))
                    break
            with self._cond:
                self._workers[slot] = worker
                worker.job, worker.timed_out = job, False
                worker.deadline = time.monotonic() + job.timeout_s
                self._cond.notify_all()
            try:
                inner = worker.executor.submit(_parse_in_child, str(job.path), job.timeout_s, job.max_rows, job.then)
                break
            except Exception as exc:  # noqa: BLE001 - BrokenProcessPool, or RuntimeError after shutdown
                inner = _failed(exc)
        inner.add_done_callback(lambda f: self._finished(slot, worker, job, f))

    def _finished(self, slot: int, worker: _Worker | None, job: _Job, inner: Future) -> None:
        retry = replace = False
        result: WorkbookGrid | Followed | None = None
        error: Exception | None = None
        exc = inner.exception() if not inner.cancelled() else BrokenProcessPool("cancelled")
        if exc is None:
            outcome = inner.result()
            if outcome[0] == "ok":
                book = None if outcome[1] is None else WorkbookGrid(
                    [SheetGrid(name, rows, merged, hidden) for name, rows, merged, hidden in outcome[1]])
                result = book if len(outcome) == 2 else Followed(book, outcome[2], outcome[3])
                if len(outcome) > 2 and outcome[3] is not None:
                    log.warning("follow-up on %s failed in the parser process: %s", job.path, outcome[3])
            else:
                _, reason, detail, replace = outcome
                if reason == "memory":
                    reason = R_OUT_OF_MEMORY.format(mb=self._memory_mb)
                log.info("unreadable workbook %s: %s", job.path, detail)
                error = UnreadableWorkbook(reason)
        else:
            replace = True
            started = worker is not None and worker.pid.done() and worker.pid.exception() is None
            if isinstance(exc, ReaderUnavailable):
                error = exc
            elif worker is not None and worker.timed_out:
                error = UnreadableWorkbook(R_TIMEOUT.format(s=job.timeout_s))
            elif isinstance(exc, BrokenProcessPool) and job.attempts < _CRASH_ATTEMPTS:
                retry = True  # was it this file? try it again on a fresh worker before blaming it
            elif not started:  # the child died before it ever saw the file: not the file's fault
                error = ReaderUnavailable(f"the workbook parser process failed to start: {exc!r}")
            else:
                log.warning("workbook parser died on %s: %r", job.path, exc)
                error = UnreadableWorkbook(R_CRASHED)
        replace = replace or job.size > _RECYCLE_AFTER_BYTES
        with self._cond:
            if worker is not None:
                worker.job = None
            if replace and self._workers[slot] is worker:
                self._workers[slot] = None  # a new one starts when the slot is next used
            self._idle.append(slot)
            self._busy -= 1
            if retry:
                self._pending.appendleft(job)
            self._cond.notify_all()
        if replace and worker is not None:
            worker.close()
        if not retry:
            if error is not None:
                job.future.set_exception(error)
            else:
                job.future.set_result(result)
        self._dispatch()

    def _start_watchdog(self) -> None:
        if self._watchdog is None:
            self._watchdog = threading.Thread(target=self._watch, name="workbook-reader-watchdog", daemon=True)
            self._watchdog.start()

    def _watch(self) -> None:
        """Kill a worker whose file has run past its deadline (wall clock)."""
        with self._cond:
            while not self._closed:
                now = time.monotonic()
                wake = None
                for w in self._workers:
                    if w is None or w.job is None or w.timed_out:
                        continue
                    if now >= w.deadline:
                        w.timed_out = w.kill()
                        if not w.timed_out:
                            wake = now + _WATCHDOG_TICK_S
                    else:
                        wake = w.deadline if wake is None else min(wake, w.deadline)
                self._cond.wait(None if wake is None else max(0.0, wake - now) + 0.01)


# ---- one file at a time -----------------------------------------------------------------------
_shared_pools: dict[tuple[int, int], WorkbookReaderPool] = {}
_shared_lock = threading.Lock()


def read_workbook(path: Path, settings: Settings) -> WorkbookGrid:
    """Parse one workbook in a child process; raise UnreadableWorkbook for every bad file.

    The child processes are kept between calls (per worker count and memory cap), so reading many
    files one by one costs no process start-up each time.
    """
    key = (max(1, settings.workers), settings.parse_memory_mb)
    with _shared_lock:
        pool = _shared_pools.get(key)
        if pool is None:
            pool = _shared_pools[key] = WorkbookReaderPool(settings)
    return pool._submit(Path(path), settings).result()


@atexit.register
def _close_shared_pools() -> None:
    with _shared_lock:
        pools = list(_shared_pools.values())
        _shared_pools.clear()
    for pool in pools:
        pool.close(cancel_pending=True)
