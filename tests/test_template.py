"""Blank register and directory templates: headers, dropdowns, validation, formats, instructions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils import column_index_from_string, get_column_letter
from openpyxl.worksheet.cell_range import CellRange

from hazardnet.publish.template import TEMPLATE_ROWS, write_directory_template, write_register_template
from hazardnet.settings import load_settings
from schemas.directory_headers import DIRECTORY_HEADERS
from schemas.headers import FIELDS, match_header
from schemas.vocab import (
    CATEGORIES,
    CUSTOMER_GRADES,
    INDUSTRIES,
    PARTY_TYPES,
    STATUSES,
    WHOLE_PREFECTURE,
    YES_NO,
)

SEVERITIES = ["一般", "较大", "重大", "特别重大"]
COUNTY = "格尔木市"


@pytest.fixture
def settings(tmp_path: Path):
    return load_settings(tmp_path, severities=SEVERITIES)


@pytest.fixture
def register_wb(tmp_path: Path, settings):
    path = write_register_template(tmp_path / "模板.xlsx", COUNTY, settings)
    assert path.is_file()
    return openpyxl.load_workbook(path)


def _col(field: str) -> int:
    """1-based column of a field in the template (序号 is column 1)."""
    return 2 + [f.name for f in FIELDS].index(field)


def _column_format(ws, col: int) -> str:
    """Number format of a column (xlsxwriter groups equal adjacent columns into one <col min max>)."""
    for dim in ws.column_dimensions.values():
        if dim.min is not None and dim.min <= col <= (dim.max or dim.min):
            return dim.number_format
    return "General"


def _validations_for(ws, col: int):
    """The data validations whose range covers the first data cell of a column (row 3 in registers)."""
    out = []
    for dv in ws.data_validations.dataValidation:
        for rng in dv.sqref.ranges:
            if rng.min_col <= col <= rng.max_col:
                out.append((dv, rng))
    return out


def _single(ws, col: int):
    found = _validations_for(ws, col)
    assert len(found) == 1, f"column {get_column_letter(col)}: {len(found)} validations"
    return found[0]


def test_register_title_and_headers(register_wb):
    ws = register_wb["隐患台账"]
    assert register_wb.sheetnames[0] == "隐患台账"
    assert ws["A1"].value == "格尔木市供电公司 ____年__月客户安全隐患台账"
    headers = [c.value for c in ws[2]]
    assert headers[0] == "序号"
    assert len(headers) == 2 + len(FIELDS) and headers[-1] == "隐患照片"  # the photos' column comes last
    assert match_header(headers[-1]) is None
    for f, h in zip(FIELDS, headers[1:]):
        assert match_header(h) == f.name  # the parser reads the template's headers
        if f.required:
            assert h == "*" + f.header
            assert ws.cell(2, _col(f.name)).font.color.rgb == "FFC00000"
        else:
            assert h == f.header
    assert ws.freeze_panes == "A3"
    assert ws.print_title_rows == "$2:$2"
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.paperSize == 9
    assert ws.column_dimensions[get_column_letter(_col("description"))].width >= 30
    # nothing typed into the data area: a blank template yields no data rows
    assert all(ws.cell(r, c).value is None for r in range(3, 10) for c in range(1, len(headers) + 1))


@pytest.mark.parametrize("field,values", [
    ("customer_grade", CUSTOMER_GRADES),
    ("industry", INDUSTRIES),
    ("category", CATEGORIES),
    ("severity", SEVERITIES),
    ("status", STATUSES),
    ("gov_supervised", YES_NO),
    ("county", (COUNTY,)),
])
def test_register_dropdowns(register_wb, field, values):
    ws = register_wb["隐患台账"]
    dv, rng = _single(ws, _col(field))
    assert dv.type == "list"
    assert (rng.min_row, rng.max_row) == (3, 2 + TEMPLATE_ROWS)
    items = dv.formula1.strip('"').split(",")
    assert items == list(values)
    assert dv.showErrorMessage and dv.errorStyle in (None, "stop")
    assert dv.promptTitle and dv.prompt


def test_register_date_validation(register_wb):
    ws = register_wb["隐患台账"]
    serial = lambda d: (d - dt.date(1899, 12, 30)).days  # noqa: E731
    for f in FIELDS:
        if f.kind != "date":
            continue
        dv, rng = _single(ws, _col(f.name))
        assert dv.type == "date"
        assert dv.operator in (None, "between")
        assert float(dv.formula1) == serial(dt.date(2000, 1, 1))
        assert float(dv.formula2) == serial(dt.date(2099, 12, 31))
        assert (rng.min_row, rng.max_row) == (3, 2 + TEMPLATE_ROWS)
        assert dv.showInputMessage and dv.promptTitle.startswith(f.header)
        assert "2026-03-05" in dv.prompt
        assert _column_format(ws, _col(f.name)) == "yyyy-mm-dd"


def test_register_funds_and_text_id(register_wb):
    ws = register_wb["隐患台账"]
    dv, _ = _single(ws, _col("funds"))
    assert dv.type == "decimal" and dv.operator == "greaterThanOrEqual" and float(dv.formula1) == 0
    assert "万元" in dv.prompt
    assert _column_format(ws, _col("customer_id")) == "@"
    dv, _ = _single(ws, _col("customer_id"))
    assert "0" in dv.prompt


def test_register_fills_and_reads_back(tmp_path: Path, settings):
    """A row typed into the template (openpyxl standing in for the clerk) keeps its 户号 as text."""
    path = write_register_template(tmp_path / "t.xlsx", COUNTY, settings)
    wb = openpyxl.load_workbook(path)
    ws = wb["隐患台账"]
    ws.cell(3, _col("customer_id"), "0912345678")
    ws.cell(3, _col("found_date"), dt.date(2026, 3, 5))
    wb.save(tmp_path / "filled.xlsx")
    ws2 = openpyxl.load_workbook(tmp_path / "filled.xlsx")["隐患台账"]
    assert ws2.cell(3, _col("customer_id")).value == "0912345678"
    assert len(ws2.data_validations.dataValidation) == len(ws.data_validations.dataValidation)


def test_register_instructions(register_wb):
    assert "填写说明" in register_wb.sheetnames
    ws = register_wb["填写说明"]
    text = "\n".join(str(v) for row in ws.iter_rows(values_only=True) for v in row if v is not None)
    assert "每月报送完整台账（含已整改隐患），隐患编号保持不变" in text
    for synonym in ("待整改", "正在整改", "已完成", "整改完成", "已销号"):
        assert synonym in text
    assert "2026-03-05" in text
    for f in FIELDS:
        assert f.header in text
    assert "特别重大" in text  # severities come from the settings
    # one row per field with required / optional spelled out
    rows = {r[0]: r for r in ws.iter_rows(values_only=True) if r[0] in {f.header for f in FIELDS}}
    assert rows["户号"][1] == "必填" and rows["备注"][1] == "选填"
    assert rows["完成日期"][1] == "已整改时必填"


def test_long_vocabulary_uses_hidden_list_sheet(tmp_path: Path):
    many = [f"等级{i:02d}号很长的隐患等级名称" for i in range(30)]
    settings = load_settings(tmp_path, severities=many)
    wb = openpyxl.load_workbook(write_register_template(tmp_path / "long.xlsx", COUNTY, settings))
    ws = wb["隐患台账"]
    dv, _ = _single(ws, _col("severity"))
    assert dv.type == "list" and dv.formula1.startswith("'下拉选项'!")
    lists = wb["下拉选项"]
    assert lists.sheet_state == "hidden"
    ref = CellRange(dv.formula1.split("!")[1].replace("$", ""))
    assert [lists.cell(r, ref.min_col).value for r in range(ref.min_row, ref.max_row + 1)] == many


def test_directory_template(tmp_path: Path, settings):
    path = write_directory_template(tmp_path / "通讯录模板.xlsx", settings)
    wb = openpyxl.load_workbook(path)
    ws = wb["通讯录"]
    assert wb.sheetnames[0] == "通讯录" and "填写说明" in wb.sheetnames
    assert tuple(c.value for c in ws[1]) == DIRECTORY_HEADERS
    col = {h: i + 1 for i, h in enumerate(DIRECTORY_HEADERS)}
    dv, rng = _single(ws, col["单位类型"])
    assert dv.type == "list" and dv.formula1.strip('"').split(",") == list(PARTY_TYPES)
    assert rng.min_row == 2
    dv, _ = _single(ws, col["县(市)"])
    assert dv.formula1.strip('"').split(",") == [*settings.counties, WHOLE_PREFECTURE]
    assert _column_format(ws, col["户号"]) == "@"
    assert _column_format(ws, col["手机号码"]) == "@"
    dv, _ = _single(ws, col["电子邮箱"])
    assert dv.type == "custom" and "@" in dv.formula1 and "；" in dv.prompt
    assert ws.freeze_panes == "A2"
    notes = "\n".join(str(v) for r in wb["填写说明"].iter_rows(values_only=True) for v in r if v)
    assert WHOLE_PREFECTURE in notes and "；" in notes and "保留开头的0" in notes
    assert column_index_from_string("G") == len(DIRECTORY_HEADERS)
