"""write_table_fast writes exactly the workbook write_table writes (it exists only to be faster)."""

from __future__ import annotations

import datetime as dt
import random
import zipfile

import numpy as np
import pandas as pd
import pytest
import xlsxwriter

from hazardnet.xlsx.fast_table import write_table_fast
from hazardnet.xlsx.style import WORKBOOK_OPTIONS, Formats, write_table

AWKWARD = [
    None, "", " ", "普通文本", "  前后空格  ", "行尾换行\n", "\t制表", "a & b < c > d \"引号\" 'x'", "第一行\n第二行",
    "控制\x00字符\x07与\x1f", "回车\r换行", "_x0041_ 像转义", "U+FFFE \ufffe", "emoji 😀 字", "<r><t>像富文本</t></r>",
    "x" * 40000, "😀" * 20000, 0, 1, -7, 10**17, 3.25, -0.0, 1e-9, 1.23456789012345678e20, float("nan"), float("inf"),
    float("-inf"), True, False, dt.date(2026, 3, 5), dt.date(1900, 2, 28), dt.datetime(2026, 3, 5, 14, 30),
    pd.Timestamp("2026-11-15"), np.int64(42), np.float64(2.5), np.nan, pd.NA, [1, 2], {"k": "v"},
]


def _book(path, fn, rows, **kw):
    wb = xlsxwriter.Workbook(str(path), {**WORKBOOK_OPTIONS, "constant_memory": True})
    fmts = Formats(wb)
    ws = wb.add_worksheet("隐患台账")
    n = fn(wb, ws, fmts, [f"列{i}" for i in range(len(rows[0]) if rows else 3)], rows, **kw)
    wb.close()
    with zipfile.ZipFile(path) as z:
        parts = {name: z.read(name) for name in z.namelist() if not name.startswith("docProps/")}
    return n, parts


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("options", [{}, {"wrap_cols": [1, 3], "page_header": "标题 & 页眉"},
                                     {"highlight": "random", "first_row": 2, "widths": [8, 30, 12]}])
def test_same_sheet_xml_and_styles_as_write_table(tmp_path, seed, options):
    rng = random.Random(seed)
    width = rng.randint(3, 12)
    rows = [[rng.choice(AWKWARD) for _ in range(rng.randint(0, width))] for _ in range(300)]
    rows += [[v] * 3 for v in AWKWARD]  # every value in every position at least once
    kw = dict(options)
    if kw.get("highlight") == "random":
        flags = [rng.random() < 0.3 for _ in rows]
        kw["highlight"] = flags
    slow = _book(tmp_path / "slow.xlsx", write_table, rows, **{**kw, "highlight": iter(kw["highlight"])} if "highlight" in kw else kw)
    fast = _book(tmp_path / "fast.xlsx", write_table_fast, rows, **{**kw, "highlight": iter(kw["highlight"])} if "highlight" in kw else kw)
    assert slow[0] == fast[0]
    assert slow[1].keys() == fast[1].keys()
    for name in slow[1]:
        assert slow[1][name] == fast[1][name], name


def test_empty_table_and_fallback_without_constant_memory(tmp_path):
    assert _book(tmp_path / "a.xlsx", write_table, [])[1] == _book(tmp_path / "b.xlsx", write_table_fast, [])[1]
    wb = xlsxwriter.Workbook(str(tmp_path / "c.xlsx"), WORKBOOK_OPTIONS)  # not constant_memory: write_table itself
    ws = wb.add_worksheet()
    assert write_table_fast(wb, ws, Formats(wb), ["a", "b"], [[1, "x"], [None, dt.date(2026, 1, 1)]]) == 2
    wb.close()


def _texts(path) -> dict[str, str]:
    """The text of every string cell as stored (shared or inline, "_xHHHH_" escapes kept: openpyxl decodes
    them in shared strings only, Excel in both)."""
    import xml.etree.ElementTree as ET

    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    with zipfile.ZipFile(path) as z:
        shared = [] if "xl/sharedStrings.xml" not in z.namelist() else [
            "".join(t.text or "" for t in si.iter(f"{{{ns['m']}}}t"))
            for si in ET.fromstring(z.read("xl/sharedStrings.xml")).findall("m:si", ns)]
        sheet = ET.fromstring(z.read("xl/worksheets/sheet1.xml"))
    texts = {}
    for c in sheet.iter(f"{{{ns['m']}}}c"):
        if c.get("t") == "s":
            texts[c.get("r")] = shared[int(c.find("m:v", ns).text)]
        elif c.get("t") == "inlineStr":
            texts[c.get("r")] = "".join(t.text or "" for t in c.iter(f"{{{ns['m']}}}t"))
    return texts


def _cells(path) -> list[list[tuple]]:
    """Every cell as Excel shows it: value (text as stored), type and the whole style."""
    import openpyxl

    ws = openpyxl.load_workbook(path).active
    texts = _texts(path)
    return [[(c.coordinate, texts.get(c.coordinate, c.value), c.data_type, c.number_format, c.font.b,
              c.font.color and c.font.color.rgb, c.fill.fgColor.rgb, c.alignment.wrap_text, c.alignment.horizontal,
              c.border.left.style) for c in row] for row in ws.iter_rows()]


@pytest.mark.parametrize("seed", [1, 2])
def test_shared_strings_give_the_same_cells_as_write_table(tmp_path, seed):
    """With shared_strings each distinct text is stored once (smaller sheet, less to compress); the cells
    are those write_table writes inline — values, types, styles — and the other parts are unchanged."""
    rng = random.Random(seed)
    rows = [[rng.choice(AWKWARD) for _ in range(6)] for _ in range(300)] + [[v] * 3 for v in AWKWARD]
    flags = [rng.random() < 0.3 for _ in rows]
    kw = dict(wrap_cols=[1, 3], page_header="标题", widths=[8, 30, 12])
    _book(tmp_path / "slow.xlsx", write_table, rows, highlight=iter(flags), **kw)
    n, parts = _book(tmp_path / "sst.xlsx", write_table_fast, rows, highlight=iter(flags), shared_strings=True, **kw)
    assert n == len(rows)
    assert "xl/sharedStrings.xml" in parts and b't="s"' in parts["xl/worksheets/sheet1.xml"]
    assert _cells(tmp_path / "sst.xlsx") == _cells(tmp_path / "slow.xlsx")
    assert sum(1 for v in _texts(tmp_path / "slow.xlsx").values() if v) > 1000  # the comparison saw the text



# values equal as Python keys but written differently, repeated in one column: write_table_fast remembers a cell's
# XML per column and value, and must keep them apart
EQUAL_KEYS = [1, 1.0, True, 0, 0.0, -0.0, False, 2.5, float("nan"), dt.date(2026, 3, 5), dt.datetime(2026, 3, 5),
              pd.Timestamp("2026-03-05"), np.int64(1), "1", None, "", "长文本" * 30, "第一行\n第二行\n第三行"]


@pytest.mark.parametrize("shared_strings", [False, True])
def test_repeated_values_equal_as_keys_keep_their_own_cells(tmp_path, shared_strings):
    rng = random.Random(7)
    rows = [[rng.choice(EQUAL_KEYS) for _ in range(5)] for _ in range(400)]
    flags = [rng.random() < 0.3 for _ in rows]
    kw = {"wrap_cols": [1, 3], "widths": [8, 12, 30]}
    slow = _book(tmp_path / "slow.xlsx", write_table, rows, highlight=iter(flags), **kw)
    fast = _book(tmp_path / "fast.xlsx", write_table_fast, rows, highlight=iter(flags), shared_strings=shared_strings,
                 **kw)
    if shared_strings:
        assert _cells(tmp_path / "fast.xlsx") == _cells(tmp_path / "slow.xlsx")
    else:
        assert fast[1] == slow[1]
    sheet = fast[1]["xl/worksheets/sheet1.xml"].decode()
    assert "<v>-0</v>" in sheet and "<v>1</v>" in sheet and 'customHeight="1"' in sheet
