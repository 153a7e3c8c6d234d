"""Injection: register text that looks like a formula, a link, markup or an escape comes out as TEXT.

Registers are written cell by cell as Excel stores text (tests/data/make_hostile_more.py), go through
the real intake, and are read back from the consolidated register, the store and the rejection report:
every such value is a string cell (openpyxl data_type "s"), no sheet holds a formula or a hyperlink.
Values are read back with python-calamine, which undoes OOXML's "_xHHHH_" escapes as Excel does
(openpyxl leaves some of them, e.g. "_x000D_" and, in inline strings, "_x005F_", escaped).

What may change, by design (documented here and in README "Guarantees"):
- intake trims whitespace at both ends and folds runs of whitespace to one space (register_sheet.clean_str);
- workbooks drop the characters XML 1.0 cannot carry (C0 controls but tab/newline/return, U+FFFE,
  U+FFFF; workbook_style.clean_text) — the store keeps them;
- text longer than 2,000 characters is not truncated on intake: the register is REJECTED with a finding
  at the cell ("内容过长（超过 2000 个字符）", schemas/register.py MAX_TEXT), so accepted data always fits a
  cell; only the rejection report, which quotes the offending value, cuts it to Excel's limit of 32,767
  UTF-16 code units (an emoji counts two), never in the middle of a character.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from hazardnet.jobs.ingest import ingest
from hazardnet.store import Store
from hazardnet.xlsx.style import clean_text
from tests.conftest import DATA

_spec = importlib.util.spec_from_file_location("make_hostile_more", DATA / "make_hostile_more.py")
make_hostile_more = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_hostile_more)
HEADERS = make_hostile_more.HEADERS

FIELDS = ["county", "customer_id", "customer_name", "customer_grade", "industry", "hazard_id", "found_date",
          "description", "category", "severity", "consequence", "suggestion", "notice_date", "deadline", "owner",
          "funds", "contingency", "status", "completed_date", "gov_supervised", "remarks"]
COL = {f: i for i, f in enumerate(FIELDS)}
HEADER_OF = dict(zip(FIELDS, HEADERS))
CONSOLIDATED_HEADER = {**HEADER_OF, "county": "县(市)"}


def canonical_rows() -> list[list]:
    """The canonical register's rows, dates as text (as many counties type them)."""
    ws = openpyxl.load_workbook(DATA / "good" / "canonical.xlsx").active
    rows = []
    for r in ws.iter_rows(min_row=2, values_only=True):
        rows.append([v.strftime("%Y-%m-%d") if isinstance(v, dt.datetime) else v for v in r])
    return rows


# (row index, field) -> (text typed into the register, what the store keeps, what a workbook shows)
INJECTED = {
    (0, "customer_name"): ('=HYPERLINK("http://x","y")',) * 3,
    (0, "description"): ("=cmd|'/c calc'!A1",) * 3,
    (0, "consequence"): ("+1",) * 3,
    (0, "suggestion"): ("-1",) * 3,
    (0, "remarks"): ("@SUM(A1)",) * 3,
    (0, "owner"): ("张伟👷‍♂️🔥",) * 3,
    (0, "contingency"): ("=1+1\n=2+2",  "=1+1 =2+2", "=1+1 =2+2"),  # whitespace folded on intake
    (1, "hazard_id"): ("=A1",) * 3,
    (1, "description"): ("<script>alert(1)</script> &amp; &lt; ]]>",) * 3,
    (1, "remarks"): ("_x0041_ 不是 A",) * 3,  # an OOXML escape typed as text stays text
    (1, "contingency"): ("值守\x01\x1b[31m红\x07色\x7f结束", "值守\x01\x1b[31m红\x07色\x7f结束", "值守[31m红色\x7f结束"),
    (2, "customer_name"): ("\t=1+1 ", "=1+1", "=1+1"),
    (2, "suggestion"): ("=DDE(\"cmd\";\"/C calc\";\"!A0\")",) * 3,
    (2, "remarks"): ("🔥" * 50 + "\u202e反向文字",) * 3,
}


def register_with(tmp_path: Path, name: str, changes: dict[tuple[int, str], object]) -> Path:
    rows = canonical_rows()
    for (r, field), value in changes.items():
        rows[r][COL[field]] = value
    return make_hostile_more.write_sheet_xlsx(tmp_path / name, [HEADERS, *rows])


def sheet_xml(path: Path) -> str:
    with zipfile.ZipFile(path) as zf:
        return "".join(zf.read(n).decode() for n in zf.namelist() if n.startswith("xl/worksheets/sheet"))


def values(path: Path, sheet: str | int = 0) -> list[list]:
    """Cell values as Excel shows them (calamine undoes the _xHHHH_ escapes); "" for an empty cell."""
    book = CalamineWorkbook.from_path(str(path))
    ws = book.get_sheet_by_name(sheet) if isinstance(sheet, str) else book.get_sheet_by_index(sheet)
    return ws.to_python(skip_empty_area=False)


def assert_no_formula_or_link(path: Path) -> None:
    xml = sheet_xml(path)
    assert not re.search(r"<f[ >]", xml), f"{path.name} holds a formula"
    assert "<hyperlink" not in xml, f"{path.name} holds a hyperlink"
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        assert not ws._hyperlinks
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (path.name, ws.title, cell.coordinate, cell.value)


def test_formula_like_text_round_trips_as_text_into_store_and_consolidated_register(settings, as_of, tmp_path):
    src = register_with(tmp_path, "注入.xlsx", {k: v[0] for k, v in INJECTED.items()})
    dst = settings.inbox / "格尔木市" / src.name
    dst.parent.mkdir(parents=True)
    dst.write_bytes(src.read_bytes())
    result = ingest(settings, as_of)
    [f] = result.files
    assert f.outcome == "accepted", [x.message for x in f.findings]

    hazard_ids = [r[COL["hazard_id"]] for r in canonical_rows()]
    hazard_ids[1] = INJECTED[(1, "hazard_id")][1]
    store = Store(settings.database_url)
    try:
        stored = store.register_as_of(as_of).set_index("hazard_id")
    finally:
        store.dispose()
    for (r, field), (_, kept, _) in INJECTED.items():
        value = hazard_ids[r] if field == "hazard_id" else stored.at[hazard_ids[r], field]
        assert value == kept, (field, value, kept)

    path = Path(result.consolidated)
    assert_no_formula_or_link(path)
    ws = openpyxl.load_workbook(path)["隐患台账"]
    grid = values(path, "隐患台账")
    header = grid[0]
    row_of = {row[header.index("隐患编号")]: i for i, row in enumerate(grid)}
    for (r, field), (_, _, shown) in INJECTED.items():
        i, c = row_of[hazard_ids[r]], header.index(CONSOLIDATED_HEADER[field])
        assert ws.cell(i + 1, c + 1).data_type == "s" and grid[i][c] == shown, (field, grid[i][c], shown)


def test_formula_like_text_round_trips_as_text_into_the_rejection_report(settings, as_of, tmp_path):
    changes = {k: v[0] for k, v in INJECTED.items()}
    changes[(0, "severity")] = "=cmd|'/c calc'!A1"  # not a severity: the register is rejected here
    src = register_with(tmp_path, "注入_退回.xlsx", changes)
    dst = settings.inbox / "格尔木市" / src.name
    dst.parent.mkdir(parents=True)
    dst.write_bytes(src.read_bytes())
    result = ingest(settings, as_of)
    [f] = result.files
    assert f.outcome == "rejected" and [x.cell for x in f.findings] == ["J2"]
    report = Path(f.report)
    assert_no_formula_or_link(report)
    wb = openpyxl.load_workbook(report)
    [listed] = list(wb["问题清单"].iter_rows(min_row=4))
    assert listed[2].value == "J2" and listed[4].data_type == "s"
    assert values(report, "问题清单")[3][4] == "=cmd|'/c calc'!A1"
    copy, grid = wb.worksheets[1], values(report, 1)  # the sheet as it came, failing cells red
    for (r, field), (typed, _, _) in {**INJECTED, (0, "severity"): (changes[(0, "severity")],) * 3}.items():
        shown = typed.replace("\x01", "").replace("\x1b", "").replace("\x07", "")  # raw text, controls dropped
        assert copy.cell(r + 2, COL[field] + 1).data_type == "s" and grid[r + 1][COL[field]] == shown, field


LONG_CJK_EMOJI = "隐患" * 10_000 + "🔥" * 10_000  # 30,000 characters, 40,000 UTF-16 code units
LONG_CJK = "长" * 40_000


def utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def test_40000_character_text_is_rejected_with_a_finding_and_quoted_within_excels_limit(settings, as_of, tmp_path):
    src = register_with(tmp_path, "超长.xlsx", {(0, "description"): LONG_CJK_EMOJI, (1, "customer_name"): LONG_CJK})
    dst = settings.inbox / "格尔木市" / src.name
    dst.parent.mkdir(parents=True)
    dst.write_bytes(src.read_bytes())
    result = ingest(settings, as_of)
    [f] = result.files
    assert f.outcome == "rejected"
    assert sorted((x.cell, x.message) for x in f.findings) == [
        ("C3", "内容过长（超过 2000 个字符）"), ("H2", "内容过长（超过 2000 个字符）")]
    wb = openpyxl.load_workbook(f.report)  # opens: no cell beyond Excel's limit
    quoted = {r[2].value: r[4] for r in wb["问题清单"].iter_rows(min_row=4)}
    copy = wb.worksheets[1]
    for cell_ref, original in (("H2", LONG_CJK_EMOJI), ("C3", LONG_CJK)):
        for cell in (quoted[cell_ref], copy[cell_ref]):
            assert cell.data_type == "s"
            assert utf16_len(cell.value) <= 32_767 and original.startswith(cell.value)
            assert utf16_len(cell.value) >= 32_766  # cut at the limit, at most one half emoji short
    store = Store(settings.database_url)
    try:
        assert store.register_as_of(as_of).empty
    finally:
        store.dispose()


def test_2000_characters_are_accepted_whole(settings, as_of, tmp_path):
    text = ("隐患🔥" * 1000)[:2000]
    src = register_with(tmp_path, "两千字.xlsx", {(0, "description"): text})
    dst = settings.inbox / "格尔木市" / src.name
    dst.parent.mkdir(parents=True)
    dst.write_bytes(src.read_bytes())
    result = ingest(settings, as_of)
    assert result.files[0].outcome == "accepted"
    ws = openpyxl.load_workbook(result.consolidated)["隐患台账"]
    header = [c.value for c in ws[1]]
    assert text in [row[header.index("隐患描述")] for row in ws.iter_rows(min_row=2, values_only=True)]


@pytest.mark.parametrize("value,expected", [
    ("a\x00b\x01c\x08d\x0be\x0cf\x1fg", "abcdefg"),
    ("tab\tnew\nline\rkept", "tab\tnew\nline\rkept"),
    ("x\ufffey\uffffz", "xyz"),
    ("\x7f\u0085\u2028", "\x7f\u0085\u2028"),  # legal in XML 1.0: kept
    ("🔥" * 20_000, "🔥" * 16_383),  # 32,766 code units: the 16,384th emoji would not fit whole
    ("a" + "🔥" * 16_383, "a" + "🔥" * 16_383),  # exactly 32,767 code units
    ("长" * 40_000, "长" * 32_767),
])
def test_clean_text_keeps_every_cell_loadable(tmp_path, value, expected):
    assert clean_text(value) == expected
    from hazardnet.xlsx.style import atomic_workbook, write_cell

    path = tmp_path / "t.xlsx"
    with atomic_workbook(path) as wb:
        write_cell(wb.add_worksheet("s"), 0, 0, value)
    assert openpyxl.load_workbook(path).active["A1"].data_type == "s"
    assert values(path)[0][0] == expected


RICH_XML_TRAP = '<r><t>x</t></r></is></c><c r="B2"><f>1+1</f></c><c><is><r><t>y</t></r>'


@pytest.mark.parametrize("constant_memory", [True, False], ids=["constant-memory", "in-memory"])
@pytest.mark.parametrize("writer", ["write_table", "write_table_fast", "write_table_fast+shared_strings"])
@pytest.mark.parametrize("prefix", ["", "\x01"], ids=["raw", "behind-a-control-character"])
def test_text_shaped_like_rich_string_xml_cannot_inject_cells(tmp_path, writer, constant_memory, prefix):
    # xlsxwriter copies text of the form "<r>…</r>" into the sheet (or the shared-string table) as raw
    # rich-string XML; a control character in front is removed by clean_text, which must not open the door
    import functools

    import openpyxl

    from hazardnet.xlsx import fast_table
    from hazardnet.xlsx import style as workbook_style

    name, _, shared = writer.partition("+")
    write = getattr(fast_table if name == "write_table_fast" else workbook_style, name)
    if shared:
        write = functools.partial(write, shared_strings=True)
    path = tmp_path / "t.xlsx"
    with workbook_style.atomic_workbook(path, constant_memory=constant_memory) as wb:
        ws = wb.add_worksheet("t")
        write(wb, ws, workbook_style.Formats(wb), ["描述", "数"],
              [["前", 1], [prefix + RICH_XML_TRAP, "后"], ["末", 2], [RICH_XML_TRAP[:3] + "正常</r>", "尾"]])
    ws = openpyxl.load_workbook(path)["t"]
    assert ws["A3"].value == RICH_XML_TRAP and ws["A3"].data_type == "s"
    assert [ws["B2"].value, ws["B3"].value, ws["A4"].value, ws["B5"].value] == [1, "后", "末", "尾"]
    assert ws["A5"].value == "<r>正常</r>"
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)
