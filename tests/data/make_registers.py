"""Writes the register fixtures in tests/data/good and tests/data/bad (run: python tests/data/make_registers.py).

Each file is named for what it proves. Written with openpyxl/xlsxwriter directly — not with the
project's own writers — so the reader is tested against files it did not make. All fixtures are for
county 格尔木市 and report date 2026-11-15.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import xlsxwriter
from openpyxl.styles import Alignment

HERE = Path(__file__).parent
GOOD, BAD = HERE / "good", HERE / "bad"

HEADERS = ["县(市)公司", "户号", "客户名称", "重要用户等级", "行业类别", "隐患编号", "发现日期", "隐患描述", "隐患类别",
           "隐患等级", "可能后果", "整改建议", "告知日期", "整改期限", "整改责任人", "整改资金(万元)", "防控措施",
           "整改状态", "完成日期", "政府督办", "备注"]
D = dt.date


def rows() -> list[list]:
    return [
        ["格尔木市", "0630100001", "青海盐湖钾肥股份有限公司", "一级", "危险化学品", "GEM-2026-001", D(2026, 3, 5),
         "10kV进线仅单回路供电，不满足一级重要用户双电源要求", "供电电源", "重大", "失电导致生产装置停车、有毒物料泄漏",
         "增设第二路电源", D(2026, 3, 10), D(2026, 6, 30), "李建国", 120.5, "制定全厂停电应急预案", "整改中", None, "是", ""],
        ["格尔木市", "0630100002", "格尔木市人民医院", "二级", "医疗", "GEM-2026-002", D(2026, 4, 2),
         "自备柴油发电机未定期试运行", "自备应急电源", "一般", "停电时手术室失去电源", "每月带载试运行并记录",
         D(2026, 4, 5), D(2026, 5, 31), "王芳", 2, "安排专人值守", "已整改", D(2026, 5, 20), "否", ""],
        ["格尔木市", "0630100003", "格尔木察尔汗锂业有限公司", "二级", "危险化学品", "GEM-2026-003", D(2026, 9, 18),
         "配电室无防小动物措施，电缆沟未封堵", "电气设备", "较大", "小动物进入引起短路", "封堵电缆沟，加装挡鼠板",
         D(2026, 9, 20), None, "张伟", 0.8, "", "未整改", None, "否", "期限待定"],
    ]


def save(path: Path, header: list, data: list[list], *, before: list[list] | None = None, after: list[list] | None = None,
         sheet: str = "隐患台账", extra_first_sheet: str | None = None, number_formats: dict | None = None) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    if extra_first_sheet:
        ws.title = extra_first_sheet
        ws["A1"] = "填写说明：每月报送完整台账。"
        ws = wb.create_sheet(sheet)
    else:
        ws.title = sheet
    for r in before or []:
        ws.append(r)
    ws.append(header)
    for r in data:
        ws.append(r)
    for r in after or []:
        ws.append(r)
    for (cell, fmt) in (number_formats or {}).items():
        ws[cell].number_format = fmt
    wb.save(path)


def good() -> None:
    GOOD.mkdir(exist_ok=True)
    save(GOOD / "canonical.xlsx", HEADERS, rows())
    title = [["格尔木市供电公司2026年10月客户安全隐患台账"], ["填报单位：国网格尔木供电公司", None, None, "填报日期：2026-11-10"]]
    save(GOOD / "title_rows_and_serial.xlsx", ["序号", *HEADERS], [[i + 1, *r] for i, r in enumerate(rows())], before=title)
    wb = openpyxl.load_workbook(GOOD / "title_rows_and_serial.xlsx")
    wb.active.merge_cells("A1:V1")
    wb.save(GOOD / "title_rows_and_serial.xlsx")
    trad = ["縣(市)公司", "戶號", "客戶名稱", "重要用戶等級", "行業類別", "隱患編號", "發現日期", "隱患描述", "隱患類別", "隱患等級",
            "可能後果", "整改建議", "告知日期", "整改期限", "整改責任人", "整改資金(萬元)", "防控措施", "整改狀態", "完成日期",
            "政府督辦", "備註"]
    save(GOOD / "traditional_headers.xlsx", trad, rows())
    english = ["County", "Customer ID", "Customer Name", "Customer Grade", "Industry", "Hazard ID", "Found Date",
               "Description", "Category", "Severity", "Consequence", "Suggestion", "Notice Date", "Deadline", "Owner",
               "Funds", "Contingency", "Status", "Completed Date", "Government Supervised", "Remarks"]
    save(GOOD / "english_headers.xlsx", english, rows())
    odd = [h for h in HEADERS]
    odd[15] = "整改资金（万元）"
    odd[7] = "隐患\n描述"
    odd[1] = " 户　号 "
    odd[0] = "所属县市"
    odd[13] = "计划完成\n时间"
    save(GOOD / "fullwidth_and_linebreak_headers.xlsx", odd, rows())
    save(GOOD / "instructions_sheet_first.xlsx", HEADERS, rows(), extra_first_sheet="填写说明")
    save(GOOD / "footer_rows.xlsx", ["序号", *HEADERS], [[i + 1, *r] for i, r in enumerate(rows())],
         after=[["合计", None, None, None, None, None, None, "共3项"], [None], ["填报人：李明", None, None, None, "审核人：赵强"]])
    data = rows()
    data.insert(1, ["格尔木市", "0630100001", None, "一级", "危险化学品", "GEM-2026-004", D(2026, 3, 5),
                    "主变压器油位偏低", "电气设备", "一般", "", "", None, D(2026, 4, 30), "李建国", None, "", "已整改",
                    D(2026, 4, 20), "否", ""])
    save(GOOD / "merged_data_cells.xlsx", HEADERS, data)
    wb = openpyxl.load_workbook(GOOD / "merged_data_cells.xlsx")
    wb.active.merge_cells("C2:C3")  # the customer name spans both of its hazards
    wb.save(GOOD / "merged_data_cells.xlsx")
    data = rows()
    data[0][6] = 46086  # Excel serial number of 2026-03-05
    data[1][6] = "2026/4/2"
    data[2][6] = "2026年9月18日"
    data[1][18] = "2026.5.20"
    data[0][13] = "2026-06-30"
    save(GOOD / "date_formats.xlsx", HEADERS, data)
    data = rows()
    data[0][1] = 630100001  # typed as a number (no leading zero to lose)
    data[1][1] = "0630100002"  # text with a leading zero: must stay text
    save(GOOD / "numeric_customer_id.xlsx", HEADERS, data)
    data = rows()
    data[0][17] = "正在整改"
    data[1][17] = "已完成"
    data[2][17] = "待整改"
    data[2][13] = D(2027, 3, 31)  # a deadline is a plan: it may lie after the report date
    save(GOOD / "status_synonyms.xlsx", HEADERS, data)
    data = rows()
    data[0][2] = "\u3000青海盐湖钾肥股份有限公司\u3000"
    data[1][17] = "已整改\u3000"
    data[2][9] = " 较大 "
    save(GOOD / "fullwidth_spaces.xlsx", HEADERS, data)
    save(GOOD / "trailing_blank_rows_cols.xlsx", HEADERS + [None, None], [r + [None, None] for r in rows()],
         after=[[None] * 23 for _ in range(5)] + [[None] * 22 + [" "]])
    # formulas with cached values, as Excel saves them
    wb = xlsxwriter.Workbook(GOOD / "formulas.xlsx")
    ws = wb.add_worksheet("隐患台账")
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    for c, h in enumerate(HEADERS):
        ws.write_string(0, c, h)
    for r, row in enumerate(rows(), start=1):
        for c, v in enumerate(row):
            if isinstance(v, D):
                ws.write_datetime(r, c, dt.datetime(v.year, v.month, v.day), date_fmt)
            elif isinstance(v, (int, float)):
                ws.write_number(r, c, v)
            elif v:
                ws.write_string(r, c, v)
    ws.write_formula(1, 15, "=100+20.5", None, 120.5)
    ws.write_formula(3, 5, '="GEM-2026-"&"003"', None, "GEM-2026-003")
    wb.close()
    header = [h for h in HEADERS if h != "隐患编号"]
    save(GOOD / "no_hazard_id.xlsx", header, [r[:5] + r[6:] for r in rows()])
    legacy_xls(GOOD / "legacy_register.xls")


def legacy_xls(path: Path) -> None:
    """The register saved as Excel 97-2003 (.xls), as older county PCs still do."""
    import xlwt

    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("隐患台账")
    date_style = xlwt.easyxf(num_format_str="yyyy-mm-dd")
    for c, h in enumerate(HEADERS):
        ws.write(0, c, h)
    for r, row in enumerate(rows(), start=1):
        for c, v in enumerate(row):
            if isinstance(v, D):
                ws.write(r, c, dt.datetime(v.year, v.month, v.day), date_style)
            elif v is not None:
                ws.write(r, c, v)
    wb.save(str(path))


def bad() -> None:
    BAD.mkdir(exist_ok=True)

    def variant(name: str, change) -> None:
        data = rows()
        change(data)
        save(BAD / f"{name}.xlsx", HEADERS, data)

    variant("missing_required_value", lambda d: d[1].__setitem__(2, None))            # C3
    variant("unknown_vocab", lambda d: d[0].__setitem__(9, "严重"))                  # J2
    variant("unparseable_date", lambda d: d[2].__setitem__(6, "九月中旬"))             # G4
    variant("future_date", lambda d: d[2].__setitem__(6, D(2026, 12, 1)))            # G4
    variant("deadline_before_found", lambda d: d[0].__setitem__(13, D(2026, 3, 1)))  # N2
    variant("completed_before_found", lambda d: d[1].__setitem__(18, D(2026, 4, 1)))  # S3
    variant("done_without_completed_date", lambda d: d[1].__setitem__(18, None))      # S3
    variant("duplicate_hazard_id", lambda d: d[2].__setitem__(5, "GEM-2026-001"))     # F2, F4
    variant("other_county_row", lambda d: d[1].__setitem__(0, "德令哈市"))             # A3
    variant("negative_funds", lambda d: d[0].__setitem__(15, -5))                    # P2
    variant("several_problems", lambda d: (d[0].__setitem__(9, "严重"), d[2].__setitem__(6, "九月中旬"),
                                           d[1].__setitem__(2, None)))
    save(BAD / "missing_required_column.xlsx", [h for h in HEADERS if h != "隐患描述"],
         [r[:7] + r[8:] for r in rows()])
    wb = openpyxl.Workbook()
    wb.active.title = "Sheet1"
    wb.active["A1"] = "本月无隐患"
    wb.active["B3"] = "随便写的内容"
    wb.save(BAD / "no_register_sheet.xlsx")


if __name__ == "__main__":
    good()
    bad()
    print("written:", sorted(p.name for p in GOOD.iterdir()), sorted(p.name for p in BAD.iterdir()))
