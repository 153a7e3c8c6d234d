"""Customer files (一户一档) and drills workbooks written as county staff write them: a merged title above the
header, header variants (full-width brackets, line breaks, other words), dates as text, serial numbers and
real dates, a 填报人 footer. Real .xlsx files (openpyxl), for the intake and the checks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from openpyxl import Workbook

CANONICAL = ["户号", "客户名称", "重要用户等级", "行业类别", "供电电源数量", "供电线路", "所属变电站", "自备应急电源类型",
             "自备应急电源容量(kW)", "保安负荷(kW)", "自备电源最近试验日期", "非电性质保安措施", "协作书签订日期",
             "最近预防性试验日期", "安全联系人", "联系电话"]
VARIANT = ["用户编号", "用户名称", "客户等级", "行业", "电源数量", "供电线路名称", "变电站", "自备电源类型",
           "自备电源容量（kW）", "保安负荷\n（kW）", "自备电源试验日期", "非电保安措施", "协作书日期",
           "预防性试验日期", "联系人", "手机"]
TRADITIONAL = ["戶號", "客戶名稱", "重要電力用戶等級", "行業類別", "供電電源數量", "供電線路", "所屬變電站", "自備應急電源類型",
               "自備應急電源容量(kW)", "保安負荷(kW)", "自備電源最近試驗日期", "非電性質保安措施", "協作書簽訂日期",
               "最近預防性試驗日期", "安全聯繫人", "聯繫電話"]
DRILL_CANONICAL = ["演练日期", "户号", "演练名称", "参加单位", "发现问题", "整改要求"]
DRILL_VARIANT = ["演练时间", "客户编号", "演练项目", "参演单位", "存在问题", "整改措施"]
KEYS = ["customer_id", "customer_name", "customer_grade", "industry", "supply_sources", "supply_lines", "substation",
        "backup_type", "backup_kw", "security_load_kw", "backup_test_date", "non_electric", "agreement_date",
        "preventive_test_date", "contact", "phone"]
DRILL_KEYS = ["drill_date", "customer_id", "drill_name", "participants", "issues", "requirements"]


def write_table(path: Path, headers: list[str], keys: list[str], rows: list[dict], *, title: str | None = None,
                footer: bool = True, sheet: str = "Sheet1") -> Path:
    """A workbook: optional merged title, the header, one row per dict (missing keys blank), a footer."""
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    r = 1
    if title:
        ws.cell(1, 1, title)
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(headers))
        r = 2
    for c, h in enumerate(headers, start=1):
        ws.cell(r, c, h)
    for row in rows:
        r += 1
        for c, k in enumerate(keys, start=1):
            v = row.get(k)
            if v is not None:
                ws.cell(r, c, v)
    if footer:
        ws.cell(r + 2, 1, "填报人：张三　　审核人：李四")
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def customer_file(path: Path, rows: list[dict], *, variant: bool = False, title: str | None = None,
                  traditional: bool = False) -> Path:
    headers = TRADITIONAL if traditional else VARIANT if variant else CANONICAL
    return write_table(path, headers, KEYS, rows, title=title)


def drills_file(path: Path, rows: list[dict], *, variant: bool = False, title: str | None = None) -> Path:
    return write_table(path, DRILL_VARIANT if variant else DRILL_CANONICAL, DRILL_KEYS, rows, title=title)


def d(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)
