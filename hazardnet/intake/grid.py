"""What reading a county workbook gives its callers: grids of cell values, or `UnreadableWorkbook` with one
sentence in Chinese for the county clerk (the reasons are listed here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hazardnet.intake.photos import PictureScan


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
    """Every sheet of a workbook in workbook order, hidden ones included; `photos` its pictures (None when
    they were not read, e.g. an .ods)."""

    sheets: list[SheetGrid]
    photos: PictureScan | None = None


@dataclass
class Followed:
    """What `WorkbookReaderPool.submit(path, then=...)` gives: the follow-up's value, computed in the parser
    process so the grid need not travel; `book` is the grid when the follow-up asked to keep it, or when
    it failed (`error` says how: the caller then does the work itself)."""

    book: WorkbookGrid | None
    value: Any
    error: str | None = None
    photos: PictureScan | None = None  # the workbook's pictures (also when `book` is None)


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

