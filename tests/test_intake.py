"""Intake end to end on real workbooks: every variant accepted, every rule failure pointed at its cell."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import time
from pathlib import Path

import openpyxl
import pytest

from hazardnet.jobs.ingest import ingest
from hazardnet.store import Store
from tests.conftest import DATA, drop

GOOD = sorted((DATA / "good").glob("*.xls*"))
BAD = DATA / "bad"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def consolidated_rows(path: str) -> tuple[list[str], list[dict]]:
    ws = openpyxl.load_workbook(path)["隐患台账"]
    values = list(ws.iter_rows(values_only=True))
    header = list(values[0])
    return header, [dict(zip(header, r)) for r in values[1:]]


@pytest.mark.parametrize("fixture", [p for p in GOOD if p.stem != "legacy"], ids=lambda p: p.stem)
def test_every_real_world_variant_is_accepted(settings, as_of, fixture):
    original = drop(settings, fixture)
    digest = sha(fixture)
    result = ingest(settings, as_of)
    [f] = result.files
    assert f.outcome == "accepted", [x.message for x in f.findings]
    assert f.rows == (4 if fixture.stem == "merged_data_cells" else 3)
    assert not original.exists()
    assert sha(Path(f.kept_at)) == digest  # archived byte for byte
    assert f"_{digest[:12]}_" in Path(f.kept_at).name and Path(f.kept_at).name.startswith("20261115_")
    assert Path(f.kept_at).suffix == fixture.suffix

    header, rows = consolidated_rows(result.consolidated)
    assert header[:3] == ["县(市)", "户号", "客户名称"]
    assert header[-5:] == ["是否逾期", "逾期天数", "存续天数", "未在最新台账中", "照片"]
    by_name: dict = {}
    for r in rows:  # sorted by 户号 and 隐患编号: the first row of a customer is its first hazard
        by_name.setdefault(r["客户名称"], r)
    potash = by_name["青海盐湖钾肥股份有限公司"]
    assert potash["县(市)"] == "格尔木市"
    assert potash["户号"] in ("0630100001", "630100001")
    assert potash["发现日期"] == dt.datetime(2026, 3, 5)  # a real Excel date, whatever was typed
    assert potash["整改状态"] == "整改中"
    assert potash["是否逾期"] == "是" and potash["逾期天数"] == (as_of - dt.date(2026, 6, 30)).days
    assert potash["隐患等级"] == "重大"
    hospital = by_name["格尔木市人民医院"]
    assert hospital["整改状态"] == "已整改" and hospital["完成日期"] == dt.datetime(2026, 5, 20)
    assert hospital["户号"] == "0630100002"  # a text 户号 keeps its leading zero
    lithium = by_name["格尔木察尔汗锂业有限公司"]
    assert lithium["发现日期"] == dt.datetime(2026, 9, 18) and lithium["整改状态"] == "未整改"
    assert lithium["隐患等级"] == "较大" and lithium["是否逾期"] == "否"
    assert lithium["整改期限"] == (dt.datetime(2027, 3, 31) if fixture.stem == "status_synonyms" else None)
    if fixture.stem != "no_hazard_id":
        assert sorted(r["隐患编号"] for r in rows if r["客户名称"] != "青海盐湖钾肥股份有限公司") == [
            "GEM-2026-002", "GEM-2026-003"]


def test_text_customer_id_typed_as_number_stays_text(settings, as_of):
    drop(settings, DATA / "good" / "numeric_customer_id.xlsx")
    result = ingest(settings, as_of)
    _, rows = consolidated_rows(result.consolidated)
    assert {r["户号"] for r in rows} == {"630100001", "0630100002", "0630100003"}
    ws = openpyxl.load_workbook(result.consolidated)["隐患台账"]
    assert all(ws.cell(r, 2).data_type == "s" for r in range(2, 5))


def test_merged_customer_name_fills_every_row_it_spans(settings, as_of):
    drop(settings, DATA / "good" / "merged_data_cells.xlsx")
    result = ingest(settings, as_of)
    _, rows = consolidated_rows(result.consolidated)
    names = {r["隐患编号"]: r["客户名称"] for r in rows}
    assert names["GEM-2026-004"] == "青海盐湖钾肥股份有限公司"


def test_formula_cells_use_their_cached_values(settings, as_of):
    drop(settings, DATA / "good" / "formulas.xlsx")
    result = ingest(settings, as_of)
    _, rows = consolidated_rows(result.consolidated)
    potash = next(r for r in rows if r["隐患编号"] == "GEM-2026-001")
    assert potash["整改资金(万元)"] == 120.5
    assert any(r["隐患编号"] == "GEM-2026-003" for r in rows)


def test_missing_hazard_id_column_derives_stable_ids_and_warns(settings, as_of):
    drop(settings, DATA / "good" / "no_hazard_id.xlsx")
    first = ingest(settings, as_of)
    [f] = first.files
    assert f.outcome == "accepted"
    assert [x.level for x in f.findings] == ["warning"] and "自动生成编号" in f.findings[0].message
    _, rows1 = consolidated_rows(first.consolidated)
    # next month the same register comes again, slightly edited: the ids must not change
    wb = openpyxl.load_workbook(DATA / "good" / "no_hazard_id.xlsx")
    path = settings.inbox / "格尔木市" / "resubmitted.xlsx"
    wb.active.cell(4, 20).value = "已督促"
    wb.save(path)
    second = ingest(settings, as_of)
    assert second.files[0].outcome == "accepted"
    _, rows2 = consolidated_rows(second.consolidated)
    assert sorted(r["隐患编号"] for r in rows1) == sorted(r["隐患编号"] for r in rows2)
    assert len(rows2) == 3 and all(r["未在最新台账中"] == "否" for r in rows2)


# fixture -> every (cell, message fragment) it must produce, and nothing else
EXPECTED = {
    "missing_required_value": [("C3", "必填项为空")],
    "unknown_vocab": [("J2", "隐患等级“严重”不在可选范围内")],
    "unparseable_date": [("G4", "无法识别的日期“九月中旬”")],
    "future_date": [("G4", "晚于报送基准日")],
    "deadline_before_found": [("N2", "整改期限“2026-03-01”早于发现日期")],
    "completed_before_found": [("S3", "完成日期“2026-04-01”早于发现日期")],
    "done_without_completed_date": [("S3", "未填写完成日期")],
    "duplicate_hazard_id": [("F2", "隐患编号“GEM-2026-001”在本表中重复出现"), ("F4", "在本表中重复出现")],
    "other_county_row": [("A3", "本行所属县市“德令哈市”与报送目录的县市“格尔木市”不一致")],
    "negative_funds": [("P2", "整改资金不能为负数")],
    "several_problems": [("J2", "隐患等级“严重”"), ("C3", "必填项为空"), ("G4", "无法识别的日期")],
    "missing_required_column": [("A1", "缺少必填列“隐患描述”")],
    "no_register_sheet": [("", "未找到隐患台账表")],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_rule_failure_is_reported_at_its_cell(settings, as_of, name):
    src = BAD / f"{name}.xlsx"
    original = drop(settings, src)
    result = ingest(settings, as_of)
    [f] = result.files
    assert f.outcome == "rejected"
    errors = [x for x in f.findings if x.level == "error"]
    assert sorted(x.cell for x in errors) == sorted(cell for cell, _ in EXPECTED[name])
    for cell, fragment in EXPECTED[name]:
        assert any(x.cell == cell and fragment in x.message for x in errors), (cell, fragment, errors)
    # the original is kept byte for byte beside its report, and nothing reached the store
    assert not original.exists()
    kept = settings.inbox / "格尔木市" / "rejected" / src.name
    assert sha(kept) == sha(src)
    report = openpyxl.load_workbook(f.report)
    issues = report["问题清单"]
    listed = [(r[2], r[5]) for r in issues.iter_rows(min_row=4, values_only=True)]
    assert sorted(c or "" for c, _ in listed) == sorted(cell for cell, _ in EXPECTED[name])
    copy = report.worksheets[1] if len(report.worksheets) > 1 else None
    for cell, fragment in EXPECTED[name]:
        if cell and copy is not None and name != "missing_required_column":
            assert copy[cell].fill.fgColor.rgb.endswith("FF0000"), cell
            assert fragment in copy[cell].comment.text
    store = Store(settings.database_url)
    assert store.register_as_of(as_of).empty
    subs = store.submissions_frame()
    assert list(subs.outcome) == ["rejected"] and subs.finalized.all()
    store.dispose()


def test_a_missing_required_column_names_its_variants_and_points_at_the_headers_not_understood(settings, as_of,
                                                                                                tmp_path):
    """户号 written 用户号码, 隐患等级 written 严重程度: besides 缺少必填列 (at the header row), each header the
    intake did not understand is pointed at and painted in the report's copy, so the clerk sees which to rename
    (was: 缺少必填列“户号” at A1 alone, the clerk left to guess)."""
    wb = openpyxl.load_workbook(DATA / "good" / "canonical.xlsx")
    ws = wb["隐患台账"]
    ws["B1"], ws["J1"] = "用户号码", "严重程度"
    src = tmp_path / "表头写错.xlsx"
    wb.save(src)
    drop(settings, src)
    [f] = ingest(settings, as_of).files
    assert f.outcome == "rejected"
    errors = {x.field: x for x in f.findings if x.level == "error"}
    assert set(errors) == {"户号", "隐患等级"} and {x.cell for x in errors.values()} == {"A1"}
    assert "列名写作“户号”“客户编号”“用户编号”" in errors["户号"].message
    assert "“隐患级别”" in errors["隐患等级"].message and "severity" not in errors["隐患等级"].message
    hints = {x.cell: x for x in f.findings if x.field == "表头"}
    assert set(hints) == {"B1", "J1"} and all(x.level == "warning" for x in hints.values())
    assert hints["B1"].message.startswith("列名“用户号码”无法识别；如果这一列就是所缺的必填列（户号、隐患等级）")
    copy = openpyxl.load_workbook(f.report).worksheets[1]
    for cell in ("B1", "J1"):
        assert copy[cell].fill.fgColor.rgb.endswith("FF0000") and "无法识别" in copy[cell].comment.text


def test_a_second_register_sheet_is_not_read_silently(settings, as_of, tmp_path):
    """A register split over two visible sheets (一般隐患 / 重大隐患): the file is refused with an error at the second
    sheet (was: accepted, its hazards dropped without a word); the original is kept. A hidden copy, or an empty
    one, is no news: without the second sheet the same file is accepted."""
    wb = openpyxl.load_workbook(DATA / "good" / "canonical.xlsx")
    second = wb.copy_worksheet(wb["隐患台账"])
    second.title = "重大隐患"
    hidden = wb.copy_worksheet(wb["隐患台账"])
    hidden.title, hidden.sheet_state = "上月", "hidden"
    blank = wb.copy_worksheet(wb["隐患台账"])
    blank.title = "空表"
    blank.delete_rows(2, blank.max_row)
    src = tmp_path / "两张表.xlsx"
    wb.save(src)
    original = src.read_bytes()
    drop(settings, src)
    [f] = ingest(settings, as_of).files
    assert f.outcome == "rejected"
    said = [x for x in f.findings if x.field == "工作表"]
    assert [(x.sheet, x.cell, x.level) for x in said] == [("重大隐患", "A1", "error")]
    assert said[0].message.startswith("工作表“重大隐患”也是一张隐患台账：每个文件只导入一张台账工作表，“重大隐患”中的隐患不会导入")
    assert "工作表“隐患台账”中" in said[0].message
    assert any(p.read_bytes() == original for p in settings.home.rglob("*两张表*.xlsx"))  # the original, kept
    del wb["重大隐患"]
    wb.save(src)
    drop(settings, src)
    [f] = ingest(settings, as_of).files
    assert f.outcome == "accepted" and not [x for x in f.findings if x.field == "工作表"]


def test_a_customer_id_that_lost_its_leading_zero_is_pointed_at(settings, as_of, tmp_path):
    """0630100002 typed into a number cell (Excel shows 630100002): the county's next register is accepted with a
    warning at that 户号 cell naming the customer it probably is (was: silently a new customer, whom no bulletin or
    warning of 0630100002 reaches); the self-check on the home says the same. A 户号 without a zero is no news."""
    from hazardnet.intake.self_check import check_register

    drop(settings, DATA / "good" / "canonical.xlsx")
    assert ingest(settings, as_of).files[0].outcome == "accepted"
    wb = openpyxl.load_workbook(DATA / "good" / "canonical.xlsx")
    ws = wb["隐患台账"]
    ws["B3"] = 630100002  # a number: Excel dropped the zero
    ws["B4"] = "630100009"  # no known 户号 with zeros in front of it
    src = tmp_path / "格尔木市下月台账.xlsx"
    wb.save(src)
    checked = check_register(settings, src, "格尔木市", as_of, tmp_path / "预检")
    drop(settings, src)
    [f] = ingest(settings, as_of).files
    assert f.outcome == "accepted"
    for findings in (f.findings, checked.findings):
        said = [x for x in findings if x.field == "户号"]
        assert [(x.cell, x.level, x.value) for x in said] == [("B3", "warning", "630100002")]
        assert said[0].message.startswith("户号“630100002”在此前的台账中没有，但有户号“0630100002”（格尔木市人民医院），"
                                          "可能是开头的 0 被 Excel 去掉了")


def test_one_customer_id_with_another_name_is_pointed_at(settings, as_of, tmp_path):
    """客户名称 merged over two rows of different customers (the merge carries the first name into the second row):
    the row whose 户号 elsewhere reads another name gets a warning at its 客户名称 cell (was: accepted silently, the
    hospital's hazard printed under the potash company's name in the hospital's own bulletin)."""
    wb = openpyxl.load_workbook(DATA / "good" / "canonical.xlsx")
    ws = wb["隐患台账"]
    for n in (9, 10):
        ws.append(["格尔木市", "0630100002", "格尔木市人民医院", "二级", "医疗", f"GEM-2026-0{n:02d}",
                   dt.datetime(2026, 5, n), "配电室漏雨", "电气设备", "一般", *[None] * 7, "未整改"])
    ws.merge_cells("C2:C3")  # 青海盐湖钾肥股份有限公司 now also in row 3, the hospital's (0630100002)
    src = tmp_path / "合并单元格.xlsx"
    wb.save(src)
    drop(settings, src)
    [f] = ingest(settings, as_of).files
    assert f.outcome == "accepted"
    said = [x for x in f.findings if x.field == "客户名称"]
    assert [(x.cell, x.level, x.value) for x in said] == [("C3", "warning", "青海盐湖钾肥股份有限公司")]
    assert said[0].message.startswith("户号“0630100002”在第 5、6 行的客户名称是“格尔木市人民医院”，本行却是“青海盐湖钾肥股份有限公司”")


# built here from the fixtures' rows: name -> (change to rows(), every error as (cell, message fragment, value shown))
BUILT = {
    "notice_before_found": (lambda d: d[0].__setitem__(12, dt.date(2026, 3, 1)),
                            [("M2", "告知日期“2026-03-01”早于发现日期", "2026-03-01")]),
    # text Python reads as a non-finite float is no amount (整改资金 was stored as inf)
    "funds_not_finite": (lambda d: (d[0].__setitem__(15, "inf"), d[1].__setitem__(15, "1e999"),
                                    d[2].__setitem__(15, "nan")),
                         [("P2", "不是数字：“inf”", "inf"), ("P3", "不是数字：“1e999”", "1e999"),
                          ("P4", "不是数字：“nan”", "nan")]),
    "funds_minus_inf": (lambda d: d[0].__setitem__(15, "-inf"), [("P2", "不是数字：“-inf”", "-inf")]),
}


@pytest.mark.parametrize("name", sorted(BUILT))
def test_every_rule_failure_of_a_built_register_is_reported_at_its_cell(settings, as_of, tmp_path, name):
    from tests.data.make_registers import HEADERS, rows, save

    change, expected = BUILT[name]
    data = rows()
    change(data)
    save(tmp_path / f"{name}.xlsx", HEADERS, data)
    drop(settings, tmp_path / f"{name}.xlsx")
    [f] = ingest(settings, as_of).files
    assert f.outcome == "rejected"
    errors = [x for x in f.findings if x.level == "error"]
    assert sorted((x.cell, x.value) for x in errors) == sorted((cell, value) for cell, _, value in expected)
    for cell, fragment, _ in expected:
        assert any(x.cell == cell and fragment in x.message for x in errors), (cell, fragment, errors)


def test_identical_file_is_recorded_as_duplicate_not_ingested_twice(settings, as_of):
    drop(settings, DATA / "good" / "canonical.xlsx")
    ingest(settings, as_of)
    drop(settings, DATA / "good" / "canonical.xlsx", name="再次报送.xlsx")
    result = ingest(settings, as_of)
    [f] = result.files
    assert f.outcome == "duplicate" and Path(f.kept_at).exists()
    store = Store(settings.database_url)
    subs = store.submissions_frame()
    assert list(subs.outcome) == ["accepted", "duplicate"]
    assert len(store.register_as_of(as_of)) == 3
    store.dispose()


def test_folder_that_is_not_a_configured_county_is_rejected_whole(settings, as_of):
    original = drop(settings, DATA / "good" / "canonical.xlsx", county="大柴旦行政区")
    result = ingest(settings, as_of)
    [f] = result.files
    assert f.outcome == "rejected" and "不是已配置的县(市)" in f.findings[0].message
    assert not original.exists()
    assert sha(settings.inbox / "大柴旦行政区" / "rejected" / "canonical.xlsx") == sha(DATA / "good" / "canonical.xlsx")


def test_hazard_missing_from_latest_submission_stays_flagged_with_history(settings, as_of):
    drop(settings, DATA / "good" / "canonical.xlsx")
    ingest(settings, dt.date(2026, 10, 15))
    wb = openpyxl.load_workbook(DATA / "good" / "canonical.xlsx")
    ws = wb.active
    ws["R2"] = "已整改"
    ws["S2"] = dt.datetime(2026, 11, 1)
    ws.delete_rows(4)  # GEM-2026-003 disappears from the November register
    wb.save(settings.inbox / "格尔木市" / "11月.xlsx")
    result = ingest(settings, as_of)
    assert result.files[0].outcome == "accepted" and result.files[0].rows == 2
    _, rows = consolidated_rows(result.consolidated)
    flags = {r["隐患编号"]: r["未在最新台账中"] for r in rows}
    assert flags == {"GEM-2026-001": "否", "GEM-2026-002": "否", "GEM-2026-003": "是"}
    assert next(r for r in rows if r["隐患编号"] == "GEM-2026-001")["整改状态"] == "已整改"
    store = Store(settings.database_url)
    history = store.hazard_history("格尔木市", "GEM-2026-001")
    assert list(history.status) == ["整改中", "已整改"]
    # the register as it stood in October is still there
    october = store.register_as_of(dt.date(2026, 10, 31))
    assert october.set_index("hazard_id").loc["GEM-2026-001", "status"] == "整改中"
    store.dispose()


def test_lock_hidden_and_unsettled_files_are_left_alone(settings, as_of):
    folder = settings.inbox / "格尔木市"
    folder.mkdir(parents=True)
    for name in ("~$台账.xlsx", ".~lock.台账.xlsx#", ".hidden.xlsx"):
        (folder / name).write_bytes(b"lock")
    fresh = drop(settings, DATA / "good" / "canonical.xlsx", name="正在复制.xlsx")
    settings.settle_seconds, settings.settle_wait_seconds = 30, 0
    result = ingest(settings, as_of)
    assert result.files == [] and [w["file"] for w in result.waiting] == ["正在复制.xlsx"]
    assert fresh.exists() and (folder / "~$台账.xlsx").exists()
    old = time.time() - 60
    os.utime(fresh, (old, old))
    result = ingest(settings, as_of)
    assert [f.outcome for f in result.files] == ["accepted"]
    assert (folder / "~$台账.xlsx").exists() and (folder / ".hidden.xlsx").exists()


def test_unchanged_consolidated_register_is_not_rewritten(settings, as_of):
    drop(settings, DATA / "good" / "canonical.xlsx")
    first = ingest(settings, as_of)
    assert first.consolidated_rewritten
    mtime = os.stat(first.consolidated).st_mtime_ns
    second = ingest(settings, as_of)
    assert second.files == [] and not second.consolidated_rewritten
    assert os.stat(second.consolidated).st_mtime_ns == mtime


def test_consolidated_register_is_print_ready(settings, as_of):
    drop(settings, DATA / "good" / "canonical.xlsx")
    result = ingest(settings, as_of)
    ws = openpyxl.load_workbook(result.consolidated)["隐患台账"]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref.startswith("A1:")
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.paperSize == 9
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToHeight == 0  # 1 page wide (the default), any length
    assert ws.print_title_rows == "$1:$1"
    assert ws["H1"].value == "隐患描述" and ws.column_dimensions["H"].width >= 30  # wide and wrapped
    assert ws["H2"].alignment.wrap_text
    assert ws["G1"].value == "发现日期" and ws["G2"].number_format == "yyyy-mm-dd"
