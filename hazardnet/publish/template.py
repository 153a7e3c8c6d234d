"""Blank workbooks handed to county staff: the hazard register template and the directory template.

The templates carry the canonical headers, dropdowns for every vocabulary, date and number validation
with input messages, text-formatted id columns and a 填写说明 sheet, so that a register filled in from
the template passes validation the first time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from xlsxwriter.utility import xl_col_to_name

from hazardnet.xlsx.style import DATE_FORMAT, FONT, Formats, atomic_workbook, setup_print
from schemas.directory_headers import DIRECTORY_HEADERS, DIRECTORY_REQUIRED
from schemas.headers import FIELDS, Field
from schemas.vocab import (
    CATEGORIES,
    CUSTOMER_GRADES,
    INDUSTRIES,
    PARTY_CUSTOMER,
    PARTY_GOV,
    PARTY_TYPES,
    PARTY_UTILITY,
    REINSPECT_RESULTS,
    STATUS_SYNONYMS,
    STATUSES,
    WHOLE_PREFECTURE,
    YES_NO,
)

TEMPLATE_ROWS = 2000  # rows prepared with validation in the register template
DIRECTORY_TEMPLATE_ROWS = 1000
DATE_MIN = dt.date(2000, 1, 1)
DATE_MAX = dt.date(2099, 12, 31)
REQUIRED_MARK = "*"
LIST_SHEET = "下拉选项"  # hidden sheet, only created when an inline list would exceed Excel's 255 chars
MONTHLY_RULE = "每月报送完整台账（含已整改隐患），隐患编号保持不变"
PHOTO_HEADER = "隐患照片"  # not a register field: its pictures are read by intake.photos
PHOTO_HINT = "插入图片并放在本行的单元格内"
PHOTO_HELP = (f"{PHOTO_HINT}：Excel 用“插入→图片→放在单元格中”，WPS 用“插入→图片→嵌入单元格”，"
                    "或把图片放在本行的这个单元格上；每张图片不超过 20 MB，一条隐患可放多张")

_FIELD_HELP: dict[str, str] = {
    "county": "填写本县(市)名称，须与报送目录一致，可从下拉列表选择",
    "customer_id": "营销系统户号，按文本填写，保留开头的0",
    "customer_name": "用电客户全称",
    "customer_grade": "按GB/T 29328-2018确定的重要用户等级；非重要用户填“一般”",
    "industry": "客户所属行业",
    "hazard_id": "本县隐患唯一编号，如 GEM-2026-017；一经编定，以后每月报送保持不变，不得重复",
    "found_date": "用电检查发现隐患的日期，不得晚于报送日",
    "description": "隐患具体情况（部位、设备、问题）",
    "category": "隐患类别",
    "severity": "隐患等级",
    "consequence": "隐患可能造成的后果，隐患通报会使用",
    "suggestion": "供电企业提出的整改建议，隐患通报会使用",
    "notice_date": "书面告知客户（下达隐患整改通知书）的日期，不得早于发现日期",
    "deadline": "客户承诺或要求完成整改的日期，不得早于发现日期；未明确的将被通报为“未明确整改期限”",
    "owner": "客户方整改责任人姓名",
    "funds": "整改资金，单位万元，填写不小于0的数字",
    "contingency": "整改完成前的临时防控措施或应急预案",
    "status": "当前整改状态",
    "completed_date": "整改状态为“已整改”时必填，不得早于发现日期",
    "gov_supervised": "是否由政府主管部门挂牌督办",
    "reinspect_date": "供电企业现场复查（验收）的日期，不得早于完成日期，不得晚于报送日",
    "reinspector": "供电企业复查人员姓名，不得为客户整改责任人",
    "reinspect_result": "复查结论：合格（销号）或不合格（隐患重新计为整改中）",
    "signed_by": "客户在整改通知书上签收的人员姓名",
    "extension_reason": "整改期限比上月台账推迟时必填：延期的原因（未填写的，台账接收时提示）",
    "extension_approval": "重大隐患延期时必填：批准延期的单位",
    "supervisor": "政府主管部门督办时填写：督办单位",
    "supervised_date": "政府主管部门下达督办的日期",
    "supervision_deadline": "政府主管部门督办要求的完成日期",
    "remarks": "其他需要说明的情况",
}


def _base(**extra: Any) -> dict[str, Any]:
    return {"font_name": FONT, "font_size": 10, "valign": "vcenter", **extra}


def _vocab(field: Field, settings, county: str | None) -> tuple[str, ...] | None:
    """The allowed values of a vocabulary column (None for free columns)."""
    return {
        "county": (county,) if county else None,
        "customer_grade": CUSTOMER_GRADES,
        "industry": INDUSTRIES,
        "category": CATEGORIES,
        "severity": tuple(settings.severities),
        "status": STATUSES,
        "gov_supervised": YES_NO,
        "reinspect_result": REINSPECT_RESULTS,
    }.get(field.name)


class _ListSource:
    """Source of dropdown lists: inline when short, else a range on a hidden sheet."""

    def __init__(self, wb):
        self.wb = wb
        self.ws = None
        self.col = 0

    def source(self, values: Sequence[str]) -> list[str] | str:
        if len(",".join(values)) + 2 <= 255 and not any("," in v or '"' in v for v in values):
            return list(values)
        if self.ws is None:
            self.ws = self.wb.add_worksheet(LIST_SHEET)
            self.ws.hide()
        for r, v in enumerate(values):
            self.ws.write_string(r, self.col, v)
        letter = xl_col_to_name(self.col)
        self.col += 1
        return f"='{LIST_SHEET}'!${letter}$1:${letter}${len(values)}"



def _list_validation(ws, lists: _ListSource, first: int, last: int, col: int, values: Sequence[str],
                     title: str, message: str | None = None) -> None:
    choices = "、".join(values)
    ws.data_validation(first, col, last, col, {
        "validate": "list",
        "source": lists.source(values),
        "input_title": title[:32],
        "input_message": (message or f"请从下拉列表选择：{choices}")[:255],
        "error_title": "输入值无效",
        "error_message": f"{title}只能填写：{choices}"[:255],
        "error_type": "stop",
    })


def _date_validation(ws, first: int, last: int, col: int, title: str, message: str) -> None:
    ws.data_validation(first, col, last, col, {
        "validate": "date",
        "criteria": "between",
        "minimum": DATE_MIN,
        "maximum": DATE_MAX,
        "input_title": title[:32],
        "input_message": message[:255],
        "error_title": "日期无效",
        "error_message": "请填写2000-01-01至2099-12-31之间的日期，如 2026-03-05 或 2026/3/5",
        "error_type": "stop",
    })


def _status_synonym_text() -> str:
    groups: dict[str, list[str]] = {}
    for spelling, canonical in STATUS_SYNONYMS.items():
        if spelling != canonical:
            groups.setdefault(canonical, []).append(spelling)
    return "；".join(f"{'/'.join(v)}→{k}" for k, v in groups.items())


def write_register_template(path: Path | str, county: str, settings) -> Path:
    """A blank register for `county`: title, canonical headers (required ones marked with * in red),
    dropdowns, date/number validation with input messages, a 填写说明 sheet and print set-up."""
    path = Path(path)
    first, last = 2, 2 + TEMPLATE_ROWS - 1  # 0-based data rows
    headers = ["序号", *(f"{REQUIRED_MARK}{f.header}" if f.required else f.header for f in FIELDS), PHOTO_HEADER]
    last_col = len(headers) - 1
    with atomic_workbook(path) as wb:
        fmts = Formats(wb)
        req_header = wb.add_format({"font_name": FONT, "font_size": 10, "valign": "vcenter", "border": 1,
                                    "bold": True, "bg_color": "#D9E1F2", "align": "center", "text_wrap": True,
                                    "font_color": "#C00000"})
        col_text = wb.add_format(_base(num_format="@"))
        col_date = wb.add_format(_base(num_format=DATE_FORMAT, align="center"))
        col_number = wb.add_format(_base(num_format="0.00"))
        col_wrap = wb.add_format(_base(text_wrap=True))
        col_center = wb.add_format(_base(align="center"))
        col_plain = wb.add_format(_base())
        filled = wb.add_format({"border": 1})
        lists = _ListSource(wb)

        ws = wb.add_worksheet("隐患台账")
        ws.activate()
        ws.merge_range(0, 0, 0, last_col, f"{county}供电公司 ____年__月客户安全隐患台账", fmts.title)
        ws.set_row(0, 32)
        ws.set_column(0, 0, 6, col_center)
        ws.write_string(1, 0, headers[0], fmts.header)
        for c, f in enumerate(FIELDS, start=1):
            if f.name == "customer_id":
                fmt = col_text
            elif f.kind == "date":
                fmt = col_date
            elif f.kind == "number":
                fmt = col_number
            elif f.kind == "vocab":
                fmt = col_center
            elif f.width >= 20:
                fmt = col_wrap
            else:
                fmt = col_plain
            ws.set_column(c, c, max(f.width, 8), fmt)
            ws.write_string(1, c, headers[c], req_header if f.required else fmts.header)

            label = f.header + ("（必填）" if f.required else "")
            values = _vocab(f, settings, county)
            if values:
                message = None
                if f.name == "status":
                    message = "请从下拉列表选择：未整改、整改中、已整改。选择“已整改”时须填写完成日期"
                elif f.name == "county":
                    message = f"填写“{county}”，须与报送目录一致"
                _list_validation(ws, lists, first, last, c, values, label, message)
            elif f.kind == "date":
                _date_validation(ws, first, last, c, label,
                                 f"{_FIELD_HELP[f.name]}。格式如 2026-03-05，也可输入 2026/3/5")
            elif f.kind == "number":
                ws.data_validation(first, c, last, c, {
                    "validate": "decimal",
                    "criteria": ">=",
                    "value": 0,
                    "input_title": label[:32],
                    "input_message": "单位：万元，填写不小于0的数字，如 12.5",
                    "error_title": "数值无效",
                    "error_message": "整改资金须为不小于0的数字（单位：万元）",
                    "error_type": "stop",
                })
            elif f.name == "customer_id":
                ws.data_validation(first, c, last, c, {
                    "validate": "length",
                    "criteria": "between",
                    "minimum": 1,
                    "maximum": 32,
                    "input_title": label[:32],
                    "input_message": "营销系统户号，按文本填写，保留开头的0",
                    "error_title": "户号无效",
                    "error_message": "户号长度应为1至32个字符",
                    "error_type": "stop",
                })
            elif f.name == "hazard_id":
                ws.data_validation(first, c, last, c, {
                    "validate": "length",
                    "criteria": "between",
                    "minimum": 1,
                    "maximum": 64,
                    "input_title": label[:32],
                    "input_message": "本县唯一编号，如 GEM-2026-017。以后每月报送保持不变，不得重复",
                    "error_title": "隐患编号无效",
                    "error_message": "隐患编号长度应为1至64个字符",
                    "error_type": "stop",
                })
        photo_col = last_col
        ws.set_column(photo_col, photo_col, 22, col_plain)
        ws.write_string(1, photo_col, PHOTO_HEADER, fmts.header)
        ws.data_validation(first, photo_col, last, photo_col, {
            "validate": "any", "input_title": PHOTO_HEADER, "input_message": PHOTO_HINT})
        ws.set_row(1, 36)
        # borders appear on a row as soon as something is typed into it
        ws.conditional_format(first, 0, last, last_col, {
            "type": "formula",
            "criteria": f"=COUNTA($B{first + 1}:${xl_col_to_name(last_col)}{first + 1})>0",
            "format": filled,
        })
        ws.freeze_panes(2, 0)
        ws.autofilter(1, 0, 1, last_col)
        setup_print(ws, header_rows=(1, 1))

        _register_notes(wb, fmts, county, settings)
    return path


def _register_notes(wb, fmts: Formats, county: str, settings) -> None:
    ws = wb.add_worksheet("填写说明")
    wrap = wb.add_format({"font_name": FONT, "font_size": 10, "text_wrap": True, "valign": "top", "border": 1})
    para = wb.add_format({"font_name": FONT, "font_size": 10, "text_wrap": True, "valign": "top"})
    ws.set_column(0, 0, 18)
    ws.set_column(1, 1, 8)
    ws.set_column(2, 2, 30)
    ws.set_column(3, 3, 60)
    ws.merge_range(0, 0, 0, 3, f"{county}客户安全隐患台账填写说明", fmts.title)
    ws.set_row(0, 30)
    severities = "、".join(settings.severities)
    general = (
        f"1. {MONTHLY_RULE}。每月20日前将本台账放入共享文件夹 inbox/{county}/ 报送。",
        "2. 第2行为表头，请勿修改、删除或调整表头；从第3行起每行填写一条隐患，不要合并单元格，不要插入小计行。",
        "3. 表头带“*”（红色）的列为必填项；“已整改”的隐患还必须填写完成日期。",
        "4. 日期请填写真实日期，如 2026-03-05（也可输入 2026/3/5），不得晚于报送日；"
        "整改期限、完成日期、告知日期不得早于发现日期。",
        f"5. 整改状态只填：未整改、整改中、已整改。以下写法也能识别：{_status_synonym_text()}。",
        "6. 户号按文本填写，保留开头的0；整改资金单位为万元。",
        "7. 已整改的隐患继续保留在台账中，不要删除；新发现的隐患追加在表格末尾并编新号。",
    )
    r = 2
    for line in general:
        ws.merge_range(r, 0, r, 3, line, para)
        ws.set_row(r, 30)
        r += 1
    r += 1
    for c, h in enumerate(("列名", "是否必填", "可选值/格式", "填写要求")):
        ws.write_string(r, c, h, fmts.header)
    r += 1
    for f in FIELDS:
        values = _vocab(f, settings, county)
        if values:
            allowed = "、".join(values)
        elif f.kind == "date":
            allowed = "日期，如 2026-03-05"
        elif f.kind == "number":
            allowed = "数字（万元），≥0"
        elif f.name == "customer_id":
            allowed = "文本，如 0912345678"
        elif f.name == "hazard_id":
            allowed = "文本，如 GEM-2026-017"
        else:
            allowed = "文本"
        if f.name == "completed_date":
            required = "已整改时必填"
        else:
            required = "必填" if f.required else "选填"
        ws.write_string(r, 0, f.header, wrap)
        ws.write_string(r, 1, required, wrap)
        ws.write_string(r, 2, allowed, wrap)
        ws.write_string(r, 3, _FIELD_HELP[f.name], wrap)
        r += 1
    for c, text in enumerate((PHOTO_HEADER, "选填", "图片（PNG、JPEG、GIF、BMP）", PHOTO_HELP)):
        ws.write_string(r, c, text, wrap)
    ws.set_row(r, 42)
    r += 1
    ws.write_string(r + 1, 0, f"隐患等级可选值：{severities}。", para)
    setup_print(ws, header_rows=None, landscape=False)


def write_directory_template(path: Path | str, settings) -> Path:
    """A blank recipient directory (通讯录) with dropdowns for 单位类型 and 县(市) and a 填写说明 sheet."""
    path = Path(path)
    first, last = 1, DIRECTORY_TEMPLATE_ROWS
    widths = (14, 12, 14, 36, 10, 48, 14)
    counties = (*settings.counties, WHOLE_PREFECTURE)
    with atomic_workbook(path) as wb:
        fmts = Formats(wb)
        req_header = wb.add_format({"font_name": FONT, "font_size": 10, "valign": "vcenter", "border": 1,
                                    "bold": True, "bg_color": "#D9E1F2", "align": "center", "text_wrap": True,
                                    "font_color": "#C00000"})
        col_text = wb.add_format(_base(num_format="@"))
        col_plain = wb.add_format(_base())
        filled = wb.add_format({"border": 1})
        lists = _ListSource(wb)

        ws = wb.add_worksheet("通讯录")
        ws.activate()
        for c, (h, w) in enumerate(zip(DIRECTORY_HEADERS, widths)):
            ws.set_column(c, c, w, col_text if h in ("户号", "手机号码") else col_plain)
            ws.write_string(0, c, h, req_header if h in DIRECTORY_REQUIRED else fmts.header)
        ws.set_row(0, 24)
        col = {h: i for i, h in enumerate(DIRECTORY_HEADERS)}
        _list_validation(ws, lists, first, last, col["单位类型"], PARTY_TYPES, "单位类型（必填）")
        _list_validation(ws, lists, first, last, col["县(市)"], counties, "县(市)",
                         f"州级单位选“{WHOLE_PREFECTURE}”（或留空）；县级单位选所在县(市)")
        ws.data_validation(first, col["户号"], last, col["户号"], {
            "validate": "length", "criteria": "between", "minimum": 1, "maximum": 32,
            "input_title": "户号",
            "input_message": "仅“用电客户”填写：营销系统户号，按文本填写，保留开头的0",
            "error_title": "户号无效", "error_message": "户号长度应为1至32个字符",
        })
        mail = xl_col_to_name(col["电子邮箱"])
        ws.data_validation(first, col["电子邮箱"], last, col["电子邮箱"], {
            "validate": "custom",
            "value": f'=ISNUMBER(SEARCH("@",{mail}{first + 1}))',
            "input_title": "电子邮箱（必填）",
            "input_message": "如 anquan@example.cn；多个邮箱用“；”分隔",
            "error_title": "邮箱无效",
            "error_message": "电子邮箱应包含“@”，多个邮箱用“；”分隔",
            "error_type": "warning",
        })
        ws.data_validation(first, col["手机号码"], last, col["手机号码"], {
            "validate": "any",
            "input_title": "手机号码",
            "input_message": "11位手机号码，用于发送风险预警短信",
        })
        ws.conditional_format(first, 0, last, len(DIRECTORY_HEADERS) - 1, {
            "type": "formula",
            "criteria": f"=COUNTA($A{first + 1}:${xl_col_to_name(len(DIRECTORY_HEADERS) - 1)}{first + 1})>0",
            "format": filled,
        })
        ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, 0, len(DIRECTORY_HEADERS) - 1)
        setup_print(ws, header_rows=(0, 0), page_header=f"{settings.prefecture}用电安全“1+1+1”工作网通讯录")

        notes = wb.add_worksheet("填写说明")
        para = wb.add_format({"font_name": FONT, "font_size": 10, "text_wrap": True, "valign": "top"})
        notes.set_column(0, 0, 100)
        notes.write_string(0, 0, "通讯录填写说明", fmts.title)
        lines = (
            "1. 第1行为表头，请勿修改；每行填写一个收件单位。红色表头为必填项。",
            f"2. 单位类型只填：{'、'.join(PARTY_TYPES)}。",
            f"3. 县(市)填写：{'、'.join(settings.counties)}；州级单位（如{settings.prefecture}能源局、"
            f"{settings.company}营销部）填“{WHOLE_PREFECTURE}”或留空。",
            f"4. 户号仅“{PARTY_CUSTOMER}”填写，按文本填写并保留开头的0，须与隐患台账中的户号一致。",
            "5. 电子邮箱必填，一个单位有多个邮箱时用“；”分隔。",
            f"6. 收件范围：{PARTY_CUSTOMER}只收到本户的隐患；县(市){PARTY_GOV}和县(市){PARTY_UTILITY}收到本县(市)的隐患；"
            f"{WHOLE_PREFECTURE}单位收到全部县(市)的隐患。",
        )
        for i, line in enumerate(lines, start=2):
            notes.write_string(i, 0, line, para)
        setup_print(notes, header_rows=None, landscape=False)
    return path
