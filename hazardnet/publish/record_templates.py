"""Blank customer file (一户一档) and joint-drills (联合应急演练) workbooks for a county: canonical headers (red when
required), dropdowns for every vocabulary, date and number validation, text-formatted 户号 and phone columns
and a 填写说明 sheet, so a file filled in from the template passes the intake's checks the first time."""

from __future__ import annotations

from pathlib import Path

from hazardnet.publish.template import _base, _date_validation, _list_validation, _ListSource
from hazardnet.xlsx.style import DATE_FORMAT, FONT, Formats, atomic_workbook, setup_print
from schemas.customer_file import (
    BACKUP_TYPES,
    CUSTOMER_FIELDS,
    DRILL_FIELDS,
    HAVE_NOT,
    KIND_CUSTOMERS,
    KIND_ZH,
)
from schemas.vocab import CUSTOMER_GRADES, INDUSTRIES, PARTY_TYPES

ROWS = 500
_LISTS = {"customer_grade": CUSTOMER_GRADES, "industry": INDUSTRIES, "backup_type": BACKUP_TYPES,
          "non_electric": HAVE_NOT}

_NOTES = {
    KIND_CUSTOMERS: (
        "1. 每个重要客户填写一行（一户一档），户号须与隐患台账、通讯录中的户号一致，按文本填写并保留开头的0。",
        "2. 供电线路可填写多条，用“、”“；”或“，”分隔，写法与调度一致，如“330kV 某某线、110kV 某某线”；"
        "电网风险预警按供电线路和所属变电站找到受影响的客户。",
        "3. 自备应急电源类型只填：柴油发电机、UPS、EPS、无；容量和保安负荷以 kW 计。",
        "4. 日期填写如 2026-03-05；未做过试验或未签协作书的留空（系统将提示超期或未签）。",
        "5. 系统按 GB/T 29328-2018 及协作书的要求检查：电源数量、自备应急电源及其容量和试验、预防性试验、"
        "协作书、联合应急演练，发现的问题列入月度通报和季度通报会材料。",
        "6. 每次报送完整的客户档案；填好后放入共享目录 inbox/<县(市)>/，系统按表头自动识别。",
    ),
    "drills": (
        "1. 每次联合应急演练填写一行；一次演练涉及多个客户时，每个客户各填一行。",
        "2. 参加单位写明政府主管部门、用电客户、供电企业中参加的各方，用“、”分隔；三方都参加才算联合应急演练。",
        "3. 重要客户每年至少开展一次联合应急演练；到期前30天系统将提醒客户和县(市)供电公司。",
        "4. 每次报送完整的演练记录；填好后放入共享目录 inbox/<县(市)>/，系统按表头自动识别。",
    ),
}


def write_record_template(path: Path | str, kind: str, county: str, settings) -> Path:
    """A blank customer file (kind customers) or drills workbook (kind drills) for `county`."""
    path = Path(path)
    fields = CUSTOMER_FIELDS if kind == KIND_CUSTOMERS else DRILL_FIELDS
    title = f"{county}{'重要客户档案（一户一档）' if kind == KIND_CUSTOMERS else '联合应急演练记录'}"
    first, last = 1, ROWS
    with atomic_workbook(path) as wb:
        fmts = Formats(wb)
        req_header = wb.add_format({"font_name": FONT, "font_size": 10, "valign": "vcenter", "border": 1,
                                    "bold": True, "bg_color": "#D9E1F2", "align": "center", "text_wrap": True,
                                    "font_color": "#C00000"})
        col_text = wb.add_format(_base(num_format="@"))
        col_plain = wb.add_format(_base())
        col_date = wb.add_format(_base(num_format=DATE_FORMAT))
        lists = _ListSource(wb)
        ws = wb.add_worksheet(KIND_ZH[kind])
        ws.activate()
        for c, f in enumerate(fields):
            fmt = col_date if f.kind == "date" else col_text if f.name in ("customer_id", "phone") else col_plain
            ws.set_column(c, c, f.width, fmt)
            ws.write_string(0, c, f.header, req_header if f.required else fmts.header)
            if f.name in _LISTS:
                _list_validation(ws, lists, first, last, c, _LISTS[f.name], f.header)
            elif f.kind == "date":
                _date_validation(ws, first, last, c, f.header, "日期，如 2026-03-05")
            elif f.kind == "number":
                ws.data_validation(first, c, last, c, {
                    "validate": "decimal", "criteria": ">=", "value": 0, "input_title": f.header,
                    "input_message": "填写不小于0的数字", "error_title": "数字无效", "error_message": "请填写不小于0的数字"})
            elif f.name == "participants":
                ws.data_validation(first, c, last, c, {
                    "validate": "any", "input_title": f.header,
                    "input_message": f"写明参加的各方：{'、'.join(PARTY_TYPES)}"})
        ws.set_row(0, 30)
        ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, 0, len(fields) - 1)
        setup_print(ws, header_rows=(0, 0), page_header=title)
        notes = wb.add_worksheet("填写说明")
        para = wb.add_format({"font_name": FONT, "font_size": 10, "text_wrap": True, "valign": "top"})
        notes.set_column(0, 0, 100)
        notes.write_string(0, 0, f"{title}填写说明", fmts.title)
        for i, line in enumerate(_NOTES[kind], start=2):
            notes.write_string(i, 0, line, para)
        setup_print(notes, header_rows=None, landscape=False)
    return path
